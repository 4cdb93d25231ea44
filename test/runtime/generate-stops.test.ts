import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFiles } from '../../src/models/load.js';
import { loadModel, Model } from '../../src/models/model.js';
import { getBackend } from '../../src/tensor/index.js';
import { decodeAfter } from '../../src/runtime/detokenize.js';

const MODEL = '../shared/models/tinystories-656k';
const files = await loadModelFiles(MODEL);
const model = new Model(files.config, files.weights, files.tokenizer, getBackend(), MODEL);
const PROMPT = [1, 147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145];

test('decode() after a length stop feeds the waiting token and its own as two decoding steps, as generation would', async () => {
  // Before, the waiting token and the decoded one went in as one two-token prefill chunk marked as the end of a
  // context: a policy acting at every token evicted once for both, and the statistics had one snapshot for them.
  for (const spec of [null, 'h2o:tokens=8', 'tova:tokens=8', 'streaming:tokens=8']) {
    const a = await model.createSession(spec ? { memory: spec } : {});
    const r = await a.generate(PROMPT, { maxNewTokens: 3, stopTokens: [] });
    assert.equal(r.stoppedBy, 'length');
    const got = a.decode(5);
    const b = await model.createSession(spec ? { memory: spec } : {});
    b.prefill(PROMPT);
    for (const t of r.outputTokens) b.decode(t);
    assert.deepEqual(Array.from(got), Array.from(b.decode(5)), `${spec}: the logits of decode-by-decode`);
    assert.equal(a.totalTokens, b.totalTokens);
    assert.deepEqual(a.memoryStats(), b.memoryStats(), `${spec}: the same caches and statistics`);
    assert.equal(a.stats.snapshots.length, b.stats.snapshots.length);
  }
});

test('decode() after a stop-string stop feeds the token that completed it first, then its own', async () => {
  const a = await model.createSession({ memory: 'h2o:tokens=8' });
  const r = await a.generate(PROMPT, { maxNewTokens: 20, stopTokens: [], stopStrings: [' a '] });
  assert.equal(r.stoppedBy, 'stop-string');
  const got = a.decode(7);
  const b = await model.createSession({ memory: 'h2o:tokens=8' });
  b.prefill(PROMPT);
  for (const t of r.outputTokens) b.decode(t);
  assert.deepEqual(Array.from(got), Array.from(b.decode(7)));
  // A refused decode leaves the waiting token waiting.
  const c = await model.createSession();
  await c.generate(PROMPT, { maxNewTokens: 2, stopTokens: [] });
  const before = c.totalTokens;
  assert.throws(() => c.decode(-1), /token id at index 0/);
  assert.equal(c.totalTokens, before);
  c.decode(7);
  assert.equal(c.totalTokens, before + 2);
});

test('without a tokenizer, a held-back tail that might begin a stop string is in the result when none follows', async () => {
  const bare = new Model(files.config, files.weights, null, getBackend(), MODEL);
  const plain = await bare.createSessionWith(null).generate([1], { maxNewTokens: 3, stopTokens: [] });
  assert.equal(plain.text, plain.outputTokens.join(' '));
  // The last token's text begins the stop string, which never completes: before, the result lost it.
  const stop = `${plain.outputTokens[2]} 99999`;
  const pieces: string[] = [];
  const r = await bare.createSessionWith(null).generate([1], { maxNewTokens: 3, stopTokens: [], stopStrings: [stop], onToken: (t) => pieces.push(t) });
  assert.equal(r.stoppedBy, 'length');
  assert.equal(r.text, plain.text);
  assert.equal(pieces.join(''), r.text, 'the streamed pieces join to the result');
});

test('streaming with a tokenizer that cleans up spaces (" ." → "."): the pieces join to exactly the result', async () => {
  const { HfTokenizer } = await import('../../src/models/tokenizers/hf.js');
  const { tinyByteLevelTokenizerJson, tinyGpt2 } = await import('../fixtures/tiny-models.js');
  const { json, vocabSize } = tinyByteLevelTokenizerJson();
  // No clean_up_tokenization_spaces in the config: HF's default (true) applies, so decode([" ", "."]) is "." where
  // decode([" "]) was " ".
  const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>' }, origin: 'tiny' });
  assert.equal(tok.decode(tok.encode('a .', { addBos: false })), 'a.');
  const { config, weights } = tinyGpt2(vocabSize);
  // ln_f with weight 0 and bias 1 makes every position's logits the row sums of the (tied) embedding: the space
  // (32) and the full stop (46) get 8, every other token about 0, so samples mix the two.
  const d = config.hiddenSize;
  weights.set('transformer.ln_f.weight', { shape: [d], data: new Float32Array(d) });
  weights.set('transformer.ln_f.bias', { shape: [d], data: new Float32Array(d).fill(1) });
  const wte = weights.get('transformer.wte.weight')!.data as Float32Array;
  for (const t of [32, 46]) wte.fill(8 / d, t * d, (t + 1) * d);
  const m = new Model(config, weights, tok, getBackend());
  let cleaned = 0;
  for (const seed of [1, 2, 3]) {
    const pieces: string[] = [];
    const r = await m.createSessionWith(null).generate('a', { maxNewTokens: 12, stopTokens: [], temperature: 1, seed, onToken: (t) => pieces.push(t) });
    if (r.text.length < r.outputTokens.length) cleaned++;
    // Before, a space streamed when it came was dropped from the result once a "." followed it.
    assert.equal(pieces.join(''), r.text, `seed ${seed}`);
  }
  assert.ok(cleaned > 0, 'some output had a space the clean-up removed');
});

test('a stop string far into a long output stops there, and the streamed pieces join to the text (windowed decoding)', async () => {
  // The output is decoded in a window past its first tokens (IncrementalDecoder) and stop strings are searched from
  // where each token changed it: a string found late must be the first occurrence in the whole decoded text.
  const base = await (await model.createSession()).generate(PROMPT, { maxNewTokens: 400, minNewTokens: 400, stopTokens: [] });
  assert.equal(base.text, model.tokenizer!.decode(base.outputTokens));
  // Short strings, and long ones that begin well before where the decoder's window starts when they complete.
  for (const [at, length] of [[base.text.length >> 1, 7], [base.text.length - 40, 7], [base.text.length - 9, 7], [base.text.length >> 1, 200], [base.text.length - 300, 290]] as const) {
    const stop = base.text.slice(at, at + length);
    const first = base.text.indexOf(stop);
    const pieces: string[] = [];
    const r = await (await model.createSession()).generate(PROMPT, { maxNewTokens: 400, stopTokens: [], stopStrings: [stop], onToken: (t) => { pieces.push(t); } });
    assert.equal(r.stoppedBy, 'stop-string', JSON.stringify(stop));
    assert.equal(r.text, base.text.slice(0, first));
    assert.equal(pieces.join(''), r.text);
    assert.ok(r.outputTokens.length > 100, `${r.outputTokens.length} tokens before ${JSON.stringify(stop)}`);
  }
});

test('a clean-up tokenizer after special tokens: streamed pieces join to the text, and a stop string stops only on text the output has', async () => {
  // A byte-level vocabulary of ten special tokens (decoded to nothing), "Ġ", "'" and "s", with the clean-up of
  // spaces on (" 's" → "'s", " ' " → "'"), and a random model that samples them all. Two defects showed here: eight
  // tokens of context could decode to one quote, so a clean-up reached back past them unseen (the text, and the stop
  // strings searched in it, were not the whole decode's until the next check), and holding back the beginning of
  // " ' " rolled the streamed mark back, so a space was streamed twice.
  const { HfTokenizer } = await import('../../src/models/tokenizers/hf.js');
  const { llamaConfig, randomWeights } = await import('../../src/models/random.js');
  const specials = Array.from({ length: 10 }, (_, i) => (i === 0 ? '<eos>' : `<e${i - 1}>`));
  const vocab = Object.fromEntries([...specials, 'Ġ', "'", 's'].map((t, i) => [t, i]));
  const json = {
    version: '1.0', normalizer: null, post_processor: null,
    added_tokens: specials.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<eos>', clean_up_tokenization_spaces: true }, origin: 'tiny-clean' });
  assert.equal(tok.decode([11, 1, 2, 10, 11, 12]), "''s", 'the copy cleans up (" \'s" → "\'s")');
  const cfg = llamaConfig({ vocabSize: 13, hiddenSize: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, headDim: 8, intermediateSize: 32, maxPositions: 4096, bosTokenId: 0, eosTokenIds: [0] });
  const m = new Model(cfg, randomWeights(cfg, 1, 0.02), tok, getBackend());
  let stopped = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const opts = { maxNewTokens: 63, temperature: 1, seed, stopTokens: [] as number[] };
    const pieces: string[] = [];
    const r = await m.createSessionWith(null).generate([10], { ...opts, onToken: (t) => { pieces.push(t); } });
    // The output's text is what it adds after the prompt's (here one space, which the clean-up may take with it).
    assert.equal(r.text, decodeAfter(tok, [10], r.outputTokens));
    assert.equal(pieces.join(''), r.text, `seed ${seed}`);
    const s = await m.createSessionWith(null).generate([10], { ...opts, stopStrings: [" 's"] });
    const whole = decodeAfter(tok, [10], s.outputTokens);
    if (s.stoppedBy === 'stop-string') {
      stopped++;
      assert.ok(whole.includes(" 's"), `seed ${seed}: stopped on ${JSON.stringify(whole)}`);
      assert.equal(s.text, whole.slice(0, whole.indexOf(" 's")));
    } else assert.ok(!whole.includes(" 's"), `seed ${seed}: ran past " 's" in ${JSON.stringify(whole)}`);
  }
  assert.ok(stopped > 10, `${stopped} of 300 stopped on the string`);
  // A stop string whose beginning comes before a space the clean-up may take ("s " then "'s" reads "s's", which holds
  // "s'"): holding back only the space streamed the "s" that the stop then cut.
  let cut = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const pieces: string[] = [];
    const r = await m.createSessionWith(null).generate([10], { maxNewTokens: 63, temperature: 1, seed, stopTokens: [], stopStrings: ["s'"], onToken: (t) => { pieces.push(t); } });
    assert.equal(pieces.join(''), r.text, `seed ${seed}: streamed ${JSON.stringify(pieces.join(''))}, text ${JSON.stringify(r.text)}`);
    if (r.stoppedBy === 'stop-string') cut++;
  }
  assert.ok(cut > 10, `${cut} of 300 stopped on "s'"`);
});

test('after a stopped generate, the next prompt gets the waiting token first as its own decoding step, as decode() does', async () => {
  // It went in at the front of the prompt's first chunk: a policy acting at decoding steps (TOVA), AdaKV's layer-wide
  // choice and the statistics then saw another sequence of steps than decode() gives, and the next answer differed.
  const q = [201, 282, 215, 286, 598, 1662, 356, 499, 826];
  for (const spec of ['tova:tokens=16', 'adakv(h2o:tokens=16)', 'full']) {
    const g = await model.createSession({ memory: spec });
    const first = await g.generate(PROMPT, { maxNewTokens: 5, stopTokens: [] });
    assert.equal(first.stoppedBy, 'length');
    const second = await g.generate(q, { maxNewTokens: 5, stopTokens: [] });
    const h = await model.createSession({ memory: spec });
    h.prefill(PROMPT);
    for (const t of first.outputTokens) h.decode(t);
    const again = await h.generate(q, { maxNewTokens: 5, stopTokens: [] });
    assert.deepEqual(second.outputTokens, again.outputTokens, spec);
    assert.deepEqual(g.memoryStats(), h.memoryStats(), spec);
    assert.equal(g.stats.snapshots.length, h.stats.snapshots.length, spec);
    // prefill() the same, its logits: 'all' one row per token given.
    const p = await model.createSession({ memory: spec });
    await p.generate(PROMPT, { maxNewTokens: 5, stopTokens: [] });
    const rows = p.prefill(q, { logits: 'all' });
    const r = await model.createSession({ memory: spec });
    r.prefill(PROMPT);
    for (const t of first.outputTokens) r.decode(t);
    const rowsThen = r.prefill(q, { logits: 'all' });
    assert.equal(rows.length, q.length * model.config.vocabSize);
    assert.deepEqual(Array.from(rows), Array.from(rowsThen), spec);
    assert.deepEqual(p.memoryStats(), r.memoryStats(), spec);
  }
});

test('an empty prompt continues a generation that stopped by length, from the token it sampled last', async () => {
  const whole = await (await model.createSession()).generate(PROMPT, { maxNewTokens: 16, stopTokens: [] });
  const s = await model.createSession();
  const a = await s.generate(PROMPT, { maxNewTokens: 8, stopTokens: [] });
  const b = await s.generate([], { maxNewTokens: 8, stopTokens: [] });
  assert.deepEqual([...a.outputTokens, ...b.outputTokens], whole.outputTokens);
  // The texts join to the whole run's: the continuation is decoded after the tokens before it, not on its own.
  assert.equal(a.text + b.text, whole.text);
  const c = await s.generate('', { maxNewTokens: 3, stopTokens: [] });
  assert.equal(c.outputTokens.length, 3);
  assert.equal(s.totalTokens, PROMPT.length + 16 + 3 - 1);
  // Nothing waiting (a fresh session, or after an end-of-sequence stop): nothing to continue from.
  await assert.rejects((await model.createSession()).generate([], { maxNewTokens: 4 }), /^RangeError: generate needs a non-empty prompt \(an empty one continues only after a generate that stopped by length or a stop string\)$/);
  const e = await model.createSession();
  const stopped = await e.generate(PROMPT, { maxNewTokens: 4, stopTokens: [whole.outputTokens[0]!] });
  assert.equal(stopped.stoppedBy, 'eos');
  await assert.rejects(e.generate([], { maxNewTokens: 4 }), /generate needs a non-empty prompt/);
});

test('forks of an unseeded sampled generation stopped by length continue with streams of their own', async () => {
  const opts = { temperature: 1.5, stopTokens: [] as number[] };
  const s = await model.createSession();
  await s.generate(PROMPT, { ...opts, maxNewTokens: 3 });
  const forks = [s.fork(), s.fork(), s.fork()];
  const outs: string[] = [];
  for (const f of [...forks, s]) outs.push((await f.generate([], { ...opts, maxNewTokens: 24 })).outputTokens.join(','));
  // The last token drawn before the forks waits in each (it was already returned); what follows is four streams.
  assert.equal(new Set(outs).size, 4, `continuations: ${outs.join(' | ')}`);
});

test('a seeded sampled generation stopped by length or an abort, taken up by generate([]) with the same options, goes on as the uninterrupted one (a fork too)', async () => {
  const opts = { temperature: 1.5, topK: 40, seed: 11, stopTokens: [] as number[] };
  const whole = await (await model.createSession()).generate(PROMPT, { ...opts, maxNewTokens: 24 });
  const s = await model.createSession();
  const a = await s.generate(PROMPT, { ...opts, maxNewTokens: 10 });
  const f = s.fork();
  const b = await s.generate([], { ...opts, maxNewTokens: 14 });
  // Before, the continuation began the seed's stream again and repeated the first call's draws.
  assert.deepEqual([...a.outputTokens, ...b.outputTokens], whole.outputTokens);
  // Defaults written out are the same options.
  const d = await model.createSession();
  await d.generate(PROMPT, { ...opts, maxNewTokens: 10 });
  assert.deepEqual((await d.generate([], { ...opts, topP: 1, greedy: false, maxNewTokens: 14 })).outputTokens, b.outputTokens);
  assert.deepEqual((await f.generate([], { ...opts, maxNewTokens: 14 })).outputTokens, b.outputTokens, 'the fork draws on from the same state');
  // Aborted from onToken after 6 pieces: the continuation goes on from the token left waiting.
  const t = await model.createSession(), ac = new AbortController();
  let pieces = 0;
  await assert.rejects(t.generate(PROMPT, { ...opts, maxNewTokens: 24, signal: ac.signal, onToken: () => { if (++pieces === 6) ac.abort(); } }), { name: 'AbortError' });
  const done = t.totalTokens + 1 - PROMPT.length;
  const rest = await t.generate([], { ...opts, maxNewTokens: 24 - done });
  assert.deepEqual(rest.outputTokens, whole.outputTokens.slice(done));
  // Other sampling options (another seed) start a stream of their own, as a new call does.
  const u = await model.createSession();
  await u.generate(PROMPT, { ...opts, maxNewTokens: 10 });
  const other = await u.generate([], { ...opts, seed: 12, maxNewTokens: 14 });
  const fresh = await (await model.createSession()).generate([...PROMPT, ...a.outputTokens], { ...opts, seed: 12, maxNewTokens: 14 });
  assert.deepEqual(other.outputTokens, fresh.outputTokens);
  assert.notDeepEqual(other.outputTokens, b.outputTokens);
  // A new prompt after a stop is a new call: the seed's stream from its start.
  const w = await model.createSession();
  await w.generate(PROMPT, { ...opts, maxNewTokens: 10 });
  const next = await w.generate([5, 6], { ...opts, maxNewTokens: 6 });
  assert.deepEqual(next.outputTokens, (await (await model.createSession()).generate([...PROMPT, ...a.outputTokens, 5, 6], { ...opts, maxNewTokens: 6 })).outputTokens);
});

test("generate's text is what the output adds after the prompt: a SentencePiece tokenizer's leading space stays", async () => {
  // Decoded on its own, the output's first token ("▁an▁") lost its space to the strip of a text's start, and the
  // prompt and the text read "Once upon a time,an ordinary".
  const ts = await loadModel('../shared/models/tinystories-656k');
  const pieces: string[] = [];
  const r = await (await ts.createSession()).generate('Once upon a time,', { maxNewTokens: 6, onToken: (t) => { pieces.push(t); } });
  assert.equal(r.text, ' an ordinary cat named ');
  assert.equal(pieces.join(''), r.text);
});

test('generate refuses a stop string that is empty, a stop token outside the vocabulary and a minimum above the maximum', async () => {
  // Each was taken without a word: the empty string dropped, the id never matched, the minimum cut to the maximum.
  const s = await model.createSession();
  await assert.rejects(s.generate(PROMPT, { maxNewTokens: 4, stopStrings: ['.', ''] }), /^RangeError: generate: a stop string must not be empty/);
  await assert.rejects(s.generate(PROMPT, { maxNewTokens: 4, stopTokens: [2, 99999] }), /^RangeError: generate: stop token 99999 is not a token id of this model \(0\.\.2047\)/);
  await assert.rejects(s.generate(PROMPT, { maxNewTokens: 12, minNewTokens: 50 }), /^RangeError: minNewTokens \(50\) is above maxNewTokens \(12\)/);
  assert.equal(s.totalTokens, 0, 'nothing ran');
});
