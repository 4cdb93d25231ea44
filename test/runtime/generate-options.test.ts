import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax, Sampler } from '../../src/runtime/sampling.js';

test('top-k keeps every token tied with the k-th largest logit, as HF does', () => {
  // Logits 5, 3, 3, 3, 1: with k = 2 the three tokens at 3 tie for second place, so four tokens stay in.
  const logits = Float32Array.of(5, 3, 3, 3, 1);
  const counts = new Array(5).fill(0);
  const s = new Sampler({ temperature: 1, topK: 2, seed: 3 });
  for (let i = 0; i < 20000; i++) counts[s.next(logits)]++;
  assert.equal(counts[4], 0, 'below the k-th: never drawn');
  // Each tied token has probability e³ / (e⁵ + 3e³) ≈ 0.0996.
  const p = Math.exp(3) / (Math.exp(5) + 3 * Math.exp(3));
  for (const t of [1, 2, 3]) assert.ok(Math.abs(counts[t] / 20000 - p) < 0.01, `token ${t}: ${counts[t] / 20000} vs ${p}`);
});

test('top-p keeps a token while the tokens above it hold less than p, and every token tied with the last one kept', () => {
  const draw = (logits: Float32Array, topP: number, n = 20000) => {
    const counts = new Array(logits.length).fill(0);
    const s = new Sampler({ temperature: 1, topP, seed: 11 });
    for (let i = 0; i < n; i++) counts[s.next(logits)]++;
    return counts.map((c) => c / n);
  };
  // Probabilities 0.5, 0.3, 0.2: with p = 0.7 the first two stay (0 and 0.5 above them), renormalised to 5/8 and 3/8.
  const f = draw(Float32Array.of(Math.log(0.5), Math.log(0.3), Math.log(0.2)), 0.7);
  assert.equal(f[2], 0);
  assert.ok(Math.abs(f[0]! - 0.625) < 0.01 && Math.abs(f[1]! - 0.375) < 0.01, `${f}`);
  // Logits 2, 1, 1, 1, 0 (probabilities 0.447, 0.164 ×3, 0.060): with p = 0.5 the cut falls on the first tied token,
  // so all three ties stay (before, only the lowest id did) and the last token never comes.
  const g = draw(Float32Array.of(2, 1, 1, 1, 0), 0.5);
  assert.equal(g[4], 0);
  const z = Math.exp(2) + 3 * Math.exp(1);
  assert.ok(Math.abs(g[0]! - Math.exp(2) / z) < 0.01, `${g}`);
  for (const t of [1, 2, 3]) assert.ok(Math.abs(g[t]! - Math.exp(1) / z) < 0.01, `token ${t}: ${g[t]} vs ${Math.exp(1) / z}`);
});

test('generate on text follows the tokenizer\'s own BOS rule unless addBos is given (GPT-2 adds none)', async () => {
  const { Model } = await import('../../src/models/model.js');
  const { HfTokenizer } = await import('../../src/models/tokenizers/hf.js');
  const { tinyByteLevelTokenizerJson, tinyGpt2 } = await import('../fixtures/tiny-models.js');
  const { getBackend } = await import('../../src/tensor/index.js');
  const { json, vocabSize } = tinyByteLevelTokenizerJson();
  const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>', bos_token: '<|endoftext|>' }, origin: 'tiny' });
  const { config, weights } = tinyGpt2(vocabSize);
  const model = new Model({ ...config, bosTokenId: tok.bosTokenId ?? 0 }, weights, tok, getBackend());
  const text = 'ab ba';
  assert.ok(tok.bosTokenId !== null);
  const plain = tok.encode(text);
  assert.notEqual(plain[0], tok.bosTokenId, 'the byte-level post-processor adds no BOS');
  const r = await (await model.createSession()).generate(text, { maxNewTokens: 1 });
  assert.deepEqual(r.promptTokens, plain, 'as tokenizer(text) in HF: no BOS (before, BOS was always prepended)');
  const withBos = await (await model.createSession()).generate(text, { maxNewTokens: 1, addBos: true });
  assert.deepEqual(withBos.promptTokens, [tok.bosTokenId, ...plain]);
});

test('the sampler refuses NaN and +Infinity wherever they are, and logits that are all −Infinity', () => {
  // Before, only a NaN that the (then inconsistent) sort put first was caught: elsewhere the draw fell through to
  // the last token kept, every time.
  for (const l of [[Number.NaN, 1, 2], [1, Number.NaN, 2], [1, 2, Number.NaN], [2, 1, Number.NaN, 0, 3], [1, Infinity, 2]]) {
    for (const o of [{ temperature: 1 }, { temperature: 0.7, topK: 2 }, { temperature: 1, topP: 0.5 }]) {
      assert.throws(() => new Sampler({ ...o, seed: 1 }).next(Float32Array.from(l)), /logits hold \+Infinity or NaN/, `${l}`);
    }
  }
  assert.throws(() => new Sampler({ temperature: 1 }).next(Float32Array.of(-Infinity, -Infinity)), /every logit is −Infinity/);
  // One finite logit among −∞ (stop tokens masked by minNewTokens): always that one.
  const s = new Sampler({ temperature: 1, seed: 5 });
  for (let i = 0; i < 200; i++) assert.equal(s.next(Float32Array.of(-Infinity, 0.5, -Infinity, -Infinity)), 1);
  // Greedy alike: it returned token 0 for no logits, or all −∞.
  assert.throws(() => new Sampler({}).next(Float32Array.of(-Infinity, -Infinity)), /^RangeError: greedy decoding: every logit is −∞/);
  assert.throws(() => argmax(new Float32Array(0)), /^RangeError: greedy decoding: no logits to choose from$/);
  assert.equal(argmax(Float32Array.of(-Infinity, -3, -Infinity)), 1);
});

test('sampling over a large vocabulary: plain, top-k and top-p draw from exactly the right sets and weights', async () => {
  const { Rng } = await import('../../src/util/rng.js');
  const rng = new Rng('sampler-vocab');
  const n = 3000;
  // Logits on a coarse grid, so many ties, and a few −∞ (masked tokens).
  const logits = Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? -Infinity : Math.round(rng.normal() * 8) / 4));
  const softmax = (ids: number[]) => {
    const max = Math.max(...ids.map((i) => logits[i]!)), w = ids.map((i) => Math.exp(logits[i]! - max)), z = w.reduce((a, b) => a + b, 0);
    return new Map(ids.map((id, j) => [id, w[j]! / z]));
  };
  // The sets written out from the definitions, by a full sort.
  const sorted = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  const kth = logits[sorted[49]!]!;
  const topK = sorted.filter((i) => logits[i]! >= kth);
  const all = softmax(sorted.filter((i) => logits[i]! > -Infinity));
  const nucleus: number[] = [];
  let acc = 0;
  for (const i of sorted) { if (acc >= 0.6 && logits[i]! !== logits[nucleus.at(-1)!]!) break; nucleus.push(i); acc += all.get(i)!; }
  for (const [opts, set] of [[{}, [...all.keys()]], [{ topK: 50 }, topK], [{ topP: 0.6 }, nucleus]] as const) {
    const want = softmax([...set]), s = new Sampler({ temperature: 1, seed: 9, ...opts }), draws = 40000;
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) { const t = s.next(logits); counts.set(t, (counts.get(t) ?? 0) + 1); }
    for (const t of counts.keys()) assert.ok(want.has(t), `${JSON.stringify(opts)}: drew ${t} (logit ${logits[t]}), outside the set`);
    for (const [t, p] of want) if (p > 0.02) assert.ok(Math.abs((counts.get(t) ?? 0) / draws - p) < 0.012, `${JSON.stringify(opts)} token ${t}: ${(counts.get(t) ?? 0) / draws} vs ${p}`);
  }
});

test('an unseeded sampler draws a seed of its own (every call drew the same "samples"); top-k/top-p need a temperature', () => {
  const logits = new Float32Array(1000);
  const seq = (s: Sampler) => Array.from({ length: 20 }, () => s.next(logits));
  assert.notDeepEqual(seq(new Sampler({ temperature: 1 })), seq(new Sampler({ temperature: 1 })));
  assert.deepEqual(seq(new Sampler({ temperature: 1, seed: 4 })), seq(new Sampler({ temperature: 1, seed: 4 })));
  // Greedy decoding ignored them without a word.
  assert.throws(() => new Sampler({ topK: 5 }), /^RangeError: topK=5 only shape sampling: give a temperature > 0 \(greedy decoding would ignore it\)$/);
  assert.throws(() => new Sampler({ greedy: true, topK: 5, topP: 0.5 }), /topK=5 and topP=0.5 only shape sampling: give a temperature > 0 instead of greedy \(greedy decoding would ignore them\)/);
  assert.equal(new Sampler({ topK: 0, topP: 1 }).next(Float32Array.of(0, 2, 1)), 1, 'the values that turn them off are fine');
});

test('greedy and temperature as transformers read do_sample; sampling options are numbers, and named as given', () => {
  const logits = Float32Array.of(0, 0.5, 0.2, 0.1);
  // greedy: true with a temperature decoded greedily without a word (the CLI refuses --greedy -t).
  assert.throws(() => new Sampler({ greedy: true, temperature: 0.7 }), /^RangeError: greedy: true ignores temperature=0\.7; drop one/);
  assert.throws(() => new Sampler({ greedy: false, temperature: 0 }), /greedy: false asks for sampling, and temperature 0 is greedy decoding/);
  // greedy: false alone decoded greedily; it samples at temperature 1, as do_sample=True.
  const counts = [0, 0, 0, 0];
  const s = new Sampler({ greedy: false, seed: 3 });
  for (let i = 0; i < 4000; i++) counts[s.next(logits)]!++;
  const expected = Array.from(logits, (v) => Math.exp(v)), total = expected.reduce((a, b) => a + b);
  counts.forEach((c, i) => assert.ok(Math.abs(c / 4000 - expected[i]! / total) < 0.03, `token ${i}: ${c} of 4000`));
  assert.deepEqual(Array.from({ length: 50 }, () => new Sampler({ greedy: false, seed: 9 }).next(logits)), Array.from({ length: 50 }, () => new Sampler({ temperature: 1, seed: 9 }).next(logits)));
  // '0.5', [0.5] and true passed top-p's comparisons; the messages showed a refused '0.8' as 0.8.
  for (const topP of ['0.5', [0.5], true]) assert.throws(() => new Sampler({ temperature: 1, topP: topP as never }), /^RangeError: topP must be a number in \(0, 1\], got/);
  assert.throws(() => new Sampler({ temperature: '0.8' as never }), /^RangeError: temperature must be a finite number ≥ 0, got "0\.8"$/);
  assert.throws(() => new Sampler({ temperature: 1, topK: '2' as never }), /topK must be an integer ≥ 0, got "2"$/);
  // A misspelt option sampled greedily without a word.
  assert.throws(() => new Sampler({ temprature: 1 } as never), /Sampler: unknown option "temprature".*temperature/);
});

test('generate on a rendered chat whose template writes BOS adds no second BOS (as apply_chat_template(tokenize=True))', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const model = await loadModel('models/namm-tiny-llama');
  const tok = model.tokenizer!;
  const bos = tok.bosTokenId!;
  const bosText = tok.decode([bos], { skipSpecial: false });
  const rendered = `${bosText}[user] Tell me a story. [assistant]`;
  assert.deepEqual(tok.encode(rendered).slice(0, 2), [bos, bos], 'the tokenizer itself adds its rule\'s BOS (as transformers\' tokenizer(text))');
  const r = await (await model.createSession()).generate(rendered, { maxNewTokens: 1 });
  assert.deepEqual(r.promptTokens, tok.encode(rendered, { addBos: false }));
  assert.equal(r.promptTokens.filter((t) => t === bos).length, 1);
  // addBos: true still means what it says; a text without BOS's text still gets the rule's.
  assert.deepEqual((await (await model.createSession()).generate(rendered, { maxNewTokens: 1, addBos: true })).promptTokens.slice(0, 2), [bos, bos]);
  assert.deepEqual((await (await model.createSession()).generate('[user] Hi', { maxNewTokens: 1 })).promptTokens, tok.encode('[user] Hi'));
});
