/**
 * Every logit of a tiny random Phi-3 (test/fixtures/tiny-phi3: fused qkv_proj and gate_up_proj, grouped-query
 * attention, LongRoPE with an original context of 16, partial rotary embeddings, an untied head) against an
 * independent float64 forward (numpy, written from transformers' formulas: scripts/golden-phi3-fixture.py), on both
 * backends: a forward longer than the original context (the long factors), a shorter one (the short factors), and a
 * decoding that crosses from one to the other (cached keys keep the rotation they were made with); and the long
 * forward and the decoding again with a sliding window (the folder's config.json given `sliding_window`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Model } from '../../src/models/model.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { tempDir } from '../helpers/temp.js';
import { prefillThenDecode, worstAtPositions } from '../helpers/golden.js';

const MODEL = fileURLToPath(new URL('../fixtures/tiny-phi3', import.meta.url));
interface Path { positions: number[]; logits_f32: string }
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/golden-phi3.json', import.meta.url), 'utf8')) as {
  prompt: number[]; vocab: number; short_length: number; decode_from: number; window: number;
  moved_with_short_factors_for_long: number; moved_with_gate_up_swapped: number; moved_with_k_v_swapped: number; moved_without_attention_factor: number;
  moved_without_window: number; moved_with_window_one_longer: number;
  paths: { long: Path; short: Path; decoded: Path; windowed: Path; windowed_decoded: Path };
};
/** As test/models/golden-logits.test.ts: float64 against float32 arithmetic. */
const TOLERANCE = 5e-5;

function worstDiff(got: Float32Array, path: Path, V: number): [number, string] {
  const want = new Float32Array(Uint8Array.from(Buffer.from(path.logits_f32, 'base64')).buffer);
  assert.equal(want.length, path.positions.length * V);
  return worstAtPositions(got, want, path.positions, V);
}

test('a tiny Phi-3 with LongRoPE matches an independent float64 forward: long and short forwards, and a decoding across', async () => {
  // The long factors, the order of gate_up_proj's and qkv_proj's parts, and the attention factor each move the logits
  // far past the tolerance.
  for (const moved of [FIXTURE.moved_with_short_factors_for_long, FIXTURE.moved_with_gate_up_swapped, FIXTURE.moved_with_k_v_swapped, FIXTURE.moved_without_attention_factor]) {
    assert.ok(moved > 100 * TOLERANCE, `moved by ${moved}`);
  }
  const V = FIXTURE.vocab, ids = FIXTURE.prompt;
  for (const backend of [getBackend(), new JsBackend()]) {
    for (const weights of ['f32', 'auto'] as const) {
      const model = await Model.fromPretrained(MODEL, { backend, weights });
      const c = model.config;
      assert.equal(c.modelType, 'phi3');
      assert.equal(c.partialRotaryFactor, 0.75);
      assert.equal(c.ropeScaling.type, 'longrope');
      if (c.ropeScaling.type === 'longrope') {
        assert.equal(c.ropeScaling.originalMaxPositions, 16);
        assert.ok(Math.abs(c.ropeScaling.attentionFactor - Math.sqrt(1.5)) < 1e-15);
      }
      const runs: [keyof typeof FIXTURE.paths, string, () => Float32Array][] = [
        ['long', 'all 24 tokens in chunks of 8', () => model.createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' })],
        ['long', 'one chunk at a time', () => model.createSessionWith(null, { chunkSize: 8, forwardTokens: 1 }).prefill(ids, { logits: 'all' })],
        ['short', `the first ${FIXTURE.short_length} tokens`, () => model.createSessionWith(null, { chunkSize: 5 }).prefill(ids.slice(0, FIXTURE.short_length), { logits: 'all' })],
        ['decoded', 'a prefill, then token by token', () => prefillThenDecode(model, ids, FIXTURE.decode_from)],
      ];
      for (const [path, what, run] of runs) {
        const [worst, at] = worstDiff(run(), FIXTURE.paths[path], V);
        assert.ok(worst <= TOLERANCE, `${backend.name}, weights ${weights}, ${what}: ${worst} at ${at}`);
      }
    }
  }
});

test('the tiny Phi-3 with a sliding window (its config\'s sliding_window) matches the float64 forward with the window\'s mask', async () => {
  // Leaving the window out, or taking it one position longer, moves the logits far past the tolerance.
  for (const moved of [FIXTURE.moved_without_window, FIXTURE.moved_with_window_one_longer]) assert.ok(moved > 100 * TOLERANCE, `moved by ${moved}`);
  const dir = join(tempDir('namm-phi3-window-'), 'tiny-phi3');
  cpSync(MODEL, dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, sliding_window: FIXTURE.window }));
  const V = FIXTURE.vocab, ids = FIXTURE.prompt;
  for (const backend of [getBackend(), new JsBackend()]) {
    const model = await Model.fromPretrained(dir, { backend });
    assert.equal(model.config.slidingWindow, FIXTURE.window);
    const runs: [keyof typeof FIXTURE.paths, string, () => Float32Array][] = [
      ['windowed', 'all 24 tokens in chunks of 8', () => model.createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' })],
      ['windowed', 'in chunks of 3, one at a time', () => model.createSessionWith(null, { chunkSize: 3, forwardTokens: 1 }).prefill(ids, { logits: 'all' })],
      ['windowed_decoded', 'a prefill, then token by token', () => prefillThenDecode(model, ids, FIXTURE.decode_from)],
    ];
    for (const [path, what, run] of runs) {
      const [worst, at] = worstDiff(run(), FIXTURE.paths[path], V);
      assert.ok(worst <= TOLERANCE, `${backend.name}, ${what}: ${worst} at ${at}`);
    }
  }
});
