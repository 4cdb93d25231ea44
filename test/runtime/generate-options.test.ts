import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler } from '../../src/runtime/sampling.js';

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
});
