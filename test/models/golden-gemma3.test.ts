/**
 * Every logit of a tiny random Gemma 3 text model (test/fixtures/tiny-gemma3: embeddings scaled by √hidden, norms by
 * 1 + weight, the attention and MLP outputs normalised before their residual adds, q/k norms, GeGLU, a
 * query_pre_attn_scalar apart from head_dim, two sliding layers with their own RoPE base and a 5-token window, one full
 * layer with linear RoPE scaling, tied embeddings) against an independent float64 forward (numpy, written from
 * transformers' formulas: scripts/golden-gemma3-fixture.py), on both backends: chunked prefills and a decoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Model } from '../../src/models/model.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { prefillThenDecode, worstAtPositions } from '../helpers/golden.js';

const MODEL = fileURLToPath(new URL('../fixtures/tiny-gemma3', import.meta.url));
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/golden-gemma3.json', import.meta.url), 'utf8')) as {
  prompt: number[]; vocab: number; window: number; moved: Record<string, number>; positions: number[]; logits_f32: string;
};
/** As test/models/golden-logits.test.ts: float64 against float32 arithmetic (measured: 9.5e-6 native, 1.9e-6 TypeScript). */
const TOLERANCE = 5e-5;

test('a tiny Gemma 3 matches an independent float64 forward: chunked prefills and a decoding, on both backends', async () => {
  // Each of Gemma's departures from the Llama layer moves the logits far past the tolerance.
  for (const [what, moved] of Object.entries(FIXTURE.moved)) assert.ok(moved > 100 * TOLERANCE, `${what}: moved by ${moved}`);
  const V = FIXTURE.vocab, ids = FIXTURE.prompt;
  const want = new Float32Array(Uint8Array.from(Buffer.from(FIXTURE.logits_f32, 'base64')).buffer);
  for (const backend of [getBackend(), new JsBackend()]) {
    for (const weights of ['f32', 'auto'] as const) {
      const model = await Model.fromPretrained(MODEL, { backend, weights });
      const c = model.config;
      assert.deepEqual([c.modelType, c.slidingWindow, c.slidingLayers, c.qkNorm, c.activation, c.tieEmbeddings], ['gemma3_text', 5, [0, 1], true, 'gelu_tanh', true]);
      assert.deepEqual(c.gemma, { embedScale: 8, queryPreAttnScalar: 32, localRopeTheta: 100 });
      const runs: [string, () => Float32Array][] = [
        ['all 24 tokens in chunks of 8', () => model.createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' })],
        ['in chunks of 3, one at a time', () => model.createSessionWith(null, { chunkSize: 3, forwardTokens: 1 }).prefill(ids, { logits: 'all' })],
        ['a prefill, then token by token', () => prefillThenDecode(model, ids, 6)],
      ];
      for (const [what, run] of runs) {
        const [worst, at] = worstAtPositions(run(), want, FIXTURE.positions, V);
        assert.ok(worst <= TOLERANCE, `${backend.name}, weights ${weights}, ${what}: ${worst} at ${at}`);
      }
    }
  }
});
