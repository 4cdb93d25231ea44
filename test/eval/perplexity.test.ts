/** perplexity(): a text fed in pieces is one forward, so the result does not depend on the chunk size. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { perplexity, tokenNll } from '../../src/eval/perplexity.js';
import { Model } from '../../src/models/model.js';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';

test('dynamic NTK: the perplexity of a text past the original context is the same at every chunk size', () => {
  // Dynamic NTK scales RoPE by the sequence's length: each piece computed it from its own end before, so chunks of
  // 8 read 7.97 nats where one forward over the 64 tokens reads 8.13 (the pieces' float32 sums differ by ~1e-7).
  const c = llamaConfig({ vocabSize: 64, hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 64, maxPositions: 16,
    ropeScaling: { type: 'dynamic', factor: 4, originalMaxPositions: 16 } });
  const model = new Model(c, randomWeights(c, 4, 0.5), null);
  const ids = Array.from({ length: 64 }, (_, i) => (i * 11 + 3) % 64);
  const logits = model.createSessionWith(null, { chunkSize: 64 }).prefill(ids, { logits: 'all' });
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll += tokenNll(logits.subarray(t * 64, (t + 1) * 64), ids[t + 1]!).nll;
  const whole = nll / (ids.length - 1);
  for (const chunkSize of [8, 32, 64, 128]) {
    const r = perplexity(model, ids, null, { chunkSize });
    assert.ok(Math.abs(r.nll - whole) <= 1e-6 * whole, `chunk ${chunkSize}: ${r.nll} against one forward's ${whole}`);
  }
});

test('a text past a GPT-2 model\'s learned positions is refused before any chunk runs, naming the limit', () => {
  const c = gpt2Config({ vocabSize: 64, hiddenSize: 32, nLayers: 1, nHeads: 4, nKvHeads: 4, intermediateSize: 64, maxPositions: 16 });
  const model = new Model(c, randomWeights(c, 4, 0.5), null);
  const ids = Array.from({ length: 20 }, (_, i) => (i * 7 + 1) % 64);
  let chunks = 0;
  assert.throws(() => perplexity(model, ids, null, { chunkSize: 4, onProgress: () => { chunks++; } }),
    /^RangeError: perplexity: the text is 20 tokens, past this GPT-2 model's 16 learned positions; score its first 16 tokens at most \(ids\.slice\(0, 16\)\)$/);
  assert.equal(chunks, 0, 'nothing ran');
  assert.equal(perplexity(model, ids.slice(0, 16), null, { chunkSize: 4 }).tokens, 16);
});

test('whether a policy evicted anything a prediction could miss: SnapKV compresses after the text, H2O every chunk', async () => {
  const { parsePolicySpec } = await import('../../src/memory/spec.js');
  const c = llamaConfig({ vocabSize: 64, hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 64, maxPositions: 256 });
  const model = new Model(c, randomWeights(c, 4, 0.5), null);
  const ids = Array.from({ length: 200 }, (_, i) => (i * 11 + 3) % 64);
  const full = perplexity(model, ids, null, { chunkSize: 32 });
  assert.equal(full.evictedWhileScoring, false);
  // SnapKV acts once the prompt has been read: after the last piece, whose queries saw the cache as it was before.
  const snap = perplexity(model, ids, parsePolicySpec('snapkv:ratio=0.9'), { chunkSize: 32 });
  assert.ok(snap.memory.evictionEvents > 0 && snap.memory.finalFraction < 0.2, 'it did compress, at the end');
  assert.equal(snap.evictedWhileScoring, false);
  assert.equal(snap.nll, full.nll, 'so the perplexity is the full cache\'s');
  const h2o = perplexity(model, ids, parsePolicySpec('h2o:ratio=0.9'), { chunkSize: 32 });
  assert.equal(h2o.evictedWhileScoring, true);
  assert.notEqual(h2o.nll, full.nll);
  // Update points inside a piece (a NAMM's update interval, at which the session ends its internal chunks): the
  // piece's later tokens attend over what an eviction at 16 or 32 left, though no piece came before.
  const dropOldestEvery16 = {
    name: 'drop-oldest-every-16', needsAttention: false, chunkBoundary: 16, layerwise: true,
    reset() {},
    observe(o: { totalTokens: number; lens: Int32Array }) {
      return o.totalTokens % 16 === 0 ? Array.from(o.lens, (len) => Int32Array.from({ length: len - 1 }, (_, i) => i + 1)) : null;
    },
  };
  // The same cadence without evictions, so that a difference is the evictions' and not the chunking's.
  const keepAllEvery16 = { ...dropOldestEvery16, name: 'keep-all-every-16', observe: () => null };
  const split = perplexity(model, ids.slice(0, 40), dropOldestEvery16, { chunkSize: 256 });
  assert.equal(split.memory.evictionEvents, 2 * c.nLayers);
  assert.equal(split.evictedWhileScoring, true);
  assert.notEqual(split.nll, perplexity(model, ids.slice(0, 40), keepAllEvery16, { chunkSize: 256 }).nll);
  // An eviction once the last token, or the one before it (its logits predict the last), has been read changes no
  // prediction.
  for (const n of [16, 17]) {
    const atEnd = perplexity(model, ids.slice(0, n), dropOldestEvery16, { chunkSize: 256 });
    assert.equal(atEnd.memory.evictionEvents, c.nLayers);
    assert.equal(atEnd.evictedWhileScoring, false, `${n} tokens`);
    assert.equal(atEnd.nll, perplexity(model, ids.slice(0, n), keepAllEvery16, { chunkSize: 256 }).nll);
  }
  assert.equal(perplexity(model, ids.slice(0, 18), dropOldestEvery16, { chunkSize: 256 }).evictedWhileScoring, true);
  // Ids are checked against the vocabulary before anything runs, named by their place in the text.
  let ran = 0;
  assert.throws(() => perplexity(model, [...ids.slice(0, 100), 64, ...ids.slice(100)], null, { chunkSize: 32, onProgress: () => { ran++; } }),
    /^RangeError: perplexity: ids\[100\] must be a token id of the model \(an integer in 0\.\.63\), got 64$/);
  assert.equal(ran, 0);
  assert.throws(() => perplexity(model, [3], null), /perplexity needs at least two tokens \(the first is only context\), got 1/);
});
