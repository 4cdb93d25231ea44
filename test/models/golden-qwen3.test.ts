/**
 * Every logit of a tiny random Qwen3 (test/fixtures/tiny-qwen3: head_dim 32 ≠ hidden / heads, GQA, per-head q/k
 * norms, tied embeddings) against an independent float64 forward (numpy, written from transformers' formulas:
 * scripts/golden-qwen3-fixture.py), on both backends and through every path a Llama-family layer runs in: one chunk
 * at a time, several chunks through each layer at once (forwardTokens), and token-by-token decoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Model } from '../../src/models/model.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { prefillThenDecode, worstAtPositions } from '../helpers/golden.js';

const MODEL = fileURLToPath(new URL('../fixtures/tiny-qwen3', import.meta.url));
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/golden-qwen3.json', import.meta.url), 'utf8')) as {
  prompt: number[]; positions: number[]; vocab: number; moved_without_qk_norm: number; moved_with_unit_qk_norm_weights: number; logits_f32: string;
};
/** As test/models/golden-logits.test.ts: float64 against float32 arithmetic (measured here: see the assertion's message). */
const TOLERANCE = 5e-5;

test('a tiny Qwen3 matches an independent float64 forward at every logit: both backends, chunked, grouped and decoded', async () => {
  // Without the q/k norms, or with their weights taken as ones, the logits move far past the tolerance.
  assert.ok(FIXTURE.moved_without_qk_norm > 100 * TOLERANCE && FIXTURE.moved_with_unit_qk_norm_weights > 100 * TOLERANCE);
  const want = new Float32Array(Uint8Array.from(Buffer.from(FIXTURE.logits_f32, 'base64')).buffer);
  const V = FIXTURE.vocab, ids = FIXTURE.prompt;
  assert.equal(want.length, FIXTURE.positions.length * V);
  for (const backend of [getBackend(), new JsBackend()]) {
    const model = await Model.fromPretrained(MODEL, { backend });
    assert.equal(model.config.modelType, 'qwen3');
    assert.equal(model.config.qkNorm, true);
    assert.equal(model.config.headDim, 32);
    const paths: [string, () => Float32Array][] = [
      ['one chunk at a time', () => model.createSessionWith(null, { chunkSize: 8, forwardTokens: 1 }).prefill(ids, { logits: 'all' })],
      ['chunks grouped through each layer', () => model.createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' })],
      ['prefill, then token by token', () => prefillThenDecode(model, ids, 6)],
    ];
    for (const [path, run] of paths) {
      const [worst, at] = worstAtPositions(run(), want, FIXTURE.positions, V);
      assert.ok(worst <= TOLERANCE, `${backend.name}, ${path}: ${worst} at ${at}`);
    }
  }
});
