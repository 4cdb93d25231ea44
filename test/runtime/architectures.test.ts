import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/models/model.js';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';
import { ropeInvFreq } from '../../src/models/rope.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { referenceGpt2Logits } from '../helpers/reference-gpt2.js';
import { referenceLlamaLogits } from '../helpers/reference-llama.js';

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / scale;
}

const ids = Array.from({ length: 37 }, (_, i) => (i * 37 + 11) % 97);

for (const backend of [getBackend(), new JsBackend()]) {
  test(`[${backend.name}] GPT-2 (learned positions, LayerNorm, GELU, Conv1D QKV) matches a float64 forward`, () => {
    const c = gpt2Config({ vocabSize: 97, hiddenSize: 48, nLayers: 2, nHeads: 4, intermediateSize: 96, maxPositions: 64 });
    const w = randomWeights(c, 5, 0.3);
    const model = new Model(c, w, null, backend);
    const s = model.createSessionWith(null, { chunkSize: 16 });
    const got = s.prefill(ids, { logits: 'all' });
    const ref = referenceGpt2Logits(c, w, ids);
    assert.ok(relErr(got, ref) < 1e-4, `relative error ${relErr(got, ref)}`);
    assert.throws(() => s.prefill(Array(40).fill(3)), /learned positions/);
  });

  test(`[${backend.name}] Qwen2-style Llama with q/k/v biases and GQA matches a float64 forward`, () => {
    const c = llamaConfig({ modelType: 'qwen2', vocabSize: 97, hiddenSize: 64, nLayers: 2, nHeads: 8, nKvHeads: 2, intermediateSize: 80, attnQkvBias: true, tieEmbeddings: false });
    const w = randomWeights(c, 9, 0.3);
    const model = new Model(c, w, null, backend);
    const got = model.createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' });
    const ref = referenceLlamaLogits(c, w, ids);
    assert.ok(relErr(got, ref) < 1e-4, `relative error ${relErr(got, ref)}`);
  });

  test(`[${backend.name}] a Llama with attention_bias (q, k, v and o) and mlp_bias matches a float64 forward`, () => {
    const c = llamaConfig({ vocabSize: 97, hiddenSize: 64, nLayers: 2, nHeads: 8, nKvHeads: 4, intermediateSize: 80, attnQkvBias: true, attnOutBias: true, mlpBias: true, tieEmbeddings: false });
    const w = randomWeights(c, 10, 0.3);
    const got = new Model(c, w, null, backend).createSessionWith(null, { chunkSize: 8 }).prefill(ids, { logits: 'all' });
    const ref = referenceLlamaLogits(c, w, ids);
    assert.ok(relErr(got, ref) < 1e-4, `relative error ${relErr(got, ref)}`);
    // Before the o_proj and MLP biases were applied, the same weights gave the forward without them.
    const without = new Map(w);
    for (const k of [...without.keys()]) if (/o_proj\.bias|mlp\..*\.bias/.test(k)) without.set(k, { ...without.get(k)!, data: new Float32Array(without.get(k)!.data.length) });
    assert.ok(relErr(got, referenceLlamaLogits(c, without, ids)) > 1e-2, 'the biases change the logits');
  });
}

test('dynamic NTK scaling uses the whole prefill\'s length in every chunk, as HF\'s one forward over the prompt', () => {
  const c = llamaConfig({ vocabSize: 97, hiddenSize: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 80, maxPositions: 64, ropeScaling: { type: 'dynamic', factor: 2, originalMaxPositions: 64 } });
  const w = randomWeights(c, 11, 0.3);
  const model = new Model(c, w, null, getBackend());
  const prompt = Array.from({ length: 200 }, (_, i) => 3 + ((i * 37) % 90));
  const whole = model.createSessionWith(null, { chunkSize: 256 }).prefill(prompt, { logits: 'all' });
  const chunked = model.createSessionWith(null, { chunkSize: 64 }).prefill(prompt, { logits: 'all' });
  // Before, each chunk scaled by its own last position: the first chunks ran unscaled (differences ~0.08).
  assert.ok(relErr(chunked, whole) < 1e-5, `relative error ${relErr(chunked, whole)}`);
  // A prompt fed in two calls (evolution's shared beginning, then the rest) is one forward when the first call is
  // told the whole length; the last token's logits then equal the single prefill's.
  const split = model.createSessionWith(null, { chunkSize: 64 });
  split.prefill(prompt.slice(0, 128), { sequenceLength: 200 });
  const last = split.prefill(prompt.slice(128));
  assert.ok(relErr(last, whole.subarray(199 * 97)) < 1e-5, `relative error ${relErr(last, whole.subarray(199 * 97))}`);
  assert.throws(() => split.prefill([5], { sequenceLength: 100 }), /sequenceLength must be an integer ≥ the sequence's length after this prefill \(201\)/);
});

test('RoPE frequency scaling rules match their formulas', () => {
  const base = llamaConfig({ hiddenSize: 128, nHeads: 1, nKvHeads: 1, headDim: 128, ropeTheta: 500000 });
  const plain = ropeInvFreq(base, 10);
  assert.equal(plain.length, 64);
  assert.ok(Math.abs(plain[1]! - Math.fround(500000 ** (-2 / 128))) < 1e-12);
  const lin = ropeInvFreq({ ...base, ropeScaling: { type: 'linear', factor: 4 } }, 10);
  assert.ok(Math.abs(lin[5]! - plain[5]! / 4) < 1e-9);
  // Static NTK of the NAMM reference: θ' = θ·(α·f − (α−1))^(d/(d−2)) with f = 4, α = 2 → θ·7^(128/126) ≈ 3.61e6.
  const ntk = ropeInvFreq({ ...base, ropeScaling: { type: 'ntk', factor: 4, alpha: 2 } }, 10);
  const theta = 500000 * 7 ** (128 / 126);
  assert.ok(Math.abs(theta - 3.61e6) / 3.61e6 < 0.01);
  assert.ok(Math.abs(ntk[10]! - Math.fround(theta ** (-20 / 128))) < 1e-12);
  // Dynamic NTK only changes once the sequence outgrows the original context.
  const dyn = { ...base, ropeScaling: { type: 'dynamic' as const, factor: 2, originalMaxPositions: 100 } };
  assert.deepEqual(ropeInvFreq(dyn, 100), plain);
  const d300 = ropeInvFreq(dyn, 300);
  assert.ok(Math.abs(d300[10]! - Math.fround((500000 * (2 * 300 / 100 - 1) ** (128 / 126)) ** (-20 / 128))) < 1e-12);
  // Llama 3: factor 8, low 1, high 4, original 8192: short wavelengths unchanged, long ones divided by 8.
  const l3 = ropeInvFreq({ ...base, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } }, 10);
  assert.equal(l3[0], plain[0]);
  assert.ok(Math.abs(l3[63]! - plain[63]! / 8) < 1e-12);
  const i = 30, wl = 2 * Math.PI / plain[i]!;
  assert.ok(wl > 8192 / 4 && wl < 8192, 'pair 30 lies in the blended band');
  const smooth = (8192 / wl - 1) / 3;
  assert.ok(Math.abs(l3[i]! - ((1 - smooth) * plain[i]! / 8 + smooth * plain[i]!)) < 1e-9);
});
