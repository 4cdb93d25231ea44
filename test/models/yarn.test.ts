/**
 * YaRN RoPE scaling (HF "yarn", llama.cpp's `rope.scaling.type = yarn`): the config forms and HF's defaults, the
 * inverse frequencies against the formula written out here in float64 (and the correction range worked out by hand
 * for Qwen2.5's long-context setting), the attention factor on queries and keys (a model with YaRN of factor 1 and an
 * attention factor s computes what a plain model whose q/k weights are multiplied by s computes), and GGUF files
 * (namm's key, llama.cpp's keys, refusals).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseHfConfig, toHfConfig, validateModelConfig } from '../../src/models/config.js';
import { gv, writeGguf, type GgufMetadata } from '../../src/models/gguf.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { contextLength, ropeAttentionFactor, ropeInvFreq, scaleRotaryDims, yarnRamp } from '../../src/models/rope.js';
import type { ModelConfig, RopeScaling, WeightMap } from '../../src/models/types.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { skipNative } from '../tensor/native-fixtures.js';
import { rewriteGguf } from '../helpers/gguf-rewrite.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('namm-yarn-');
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

type Yarn = Extract<RopeScaling, { type: 'yarn' }>;

// Qwen2.5-7B-Instruct's config.json, with the rope_scaling its model card gives for inputs past 32,768 tokens.
const qwen25 = {
  model_type: 'qwen2', vocab_size: 152064, hidden_size: 3584, intermediate_size: 18944, num_hidden_layers: 28,
  num_attention_heads: 28, num_key_value_heads: 4, max_position_embeddings: 32768, rms_norm_eps: 1e-6,
  rope_theta: 1000000, hidden_act: 'silu', tie_word_embeddings: false, bos_token_id: 151643, eos_token_id: 151645,
  rope_scaling: { factor: 4.0, original_max_position_embeddings: 32768, type: 'yarn' },
};

test('YaRN in config.json: HF\'s defaults, every optional key, the round trip, and bad values', () => {
  const c = parseHfConfig(qwen25, 'qwen.json');
  // Attention factor inferred as 0.1·ln 4 + 1; betas 32 and 1; truncate true.
  assert.deepEqual(c.ropeScaling, { type: 'yarn', factor: 4, originalMaxPositions: 32768, attentionFactor: 0.1 * Math.log(4) + 1, betaFast: 32, betaSlow: 1, truncate: true });
  assert.ok(Math.abs(ropeAttentionFactor(c) - 1.1386294361) < 1e-9);
  // The context evaluation prompts are cut to: YaRN's 4 × 32,768; a config that already says more keeps its own.
  assert.equal(contextLength(c), 131072);
  assert.equal(contextLength(parseHfConfig({ ...qwen25, max_position_embeddings: 163840 }, 'q.json')), 163840);
  assert.equal(contextLength(parseHfConfig({ ...qwen25, rope_scaling: null }, 'q.json')), 32768);
  assert.deepEqual(parseHfConfig(toHfConfig(c), 'back.json'), c);
  const yarn = (s: Record<string, unknown>, top: Record<string, unknown> = {}) =>
    parseHfConfig({ ...qwen25, ...top, rope_scaling: { rope_type: 'yarn', ...s } }, 'q.json').ropeScaling as Yarn;
  // No factor: max_position_embeddings over the original context (HF 5's rule).
  assert.equal(yarn({ original_max_position_embeddings: 8192 }).factor, 4);
  // No original context: max_position_embeddings; the config's own top-level key comes before rope_scaling's.
  assert.equal(yarn({ factor: 2 }).originalMaxPositions, 32768);
  assert.equal(yarn({ factor: 2, original_max_position_embeddings: 4096 }, { original_max_position_embeddings: 2048 }).originalMaxPositions, 2048);
  // mscale / mscale_all_dim (both set): the ratio of the two mscales; one alone: ignored.
  const m = yarn({ factor: 40, mscale: 0.707, mscale_all_dim: 1 });
  assert.ok(Math.abs(m.attentionFactor - (0.1 * 0.707 * Math.log(40) + 1) / (0.1 * Math.log(40) + 1)) < 1e-15);
  assert.equal(yarn({ factor: 40, mscale: 0.707 }).attentionFactor, 0.1 * Math.log(40) + 1);
  assert.equal(yarn({ factor: 40, attention_factor: 0.5, mscale: 2, mscale_all_dim: 1 }).attentionFactor, 0.5);
  // A factor ≤ 1 infers no scaling.
  assert.equal(yarn({ factor: 1 }).attentionFactor, 1);
  // Python's `or`: a beta of 0 takes the default.
  assert.deepEqual([yarn({ factor: 2, beta_fast: 0, beta_slow: 0 }).betaFast, yarn({ factor: 2, beta_slow: 2 }).betaSlow], [32, 2]);
  assert.equal(yarn({ factor: 2, truncate: false }).truncate, false);
  // v5 `rope_parameters` form.
  const v5 = parseHfConfig({ ...qwen25, rope_scaling: undefined, rope_theta: undefined, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4, original_max_position_embeddings: 32768 } }, 'v5.json');
  assert.deepEqual(v5.ropeScaling, c.ropeScaling);
  assert.throws(() => yarn({ factor: -2 }), /q\.json \(rope_scaling\): "factor" must be a positive number, got -2/);
  assert.throws(() => yarn({ factor: 2, attention_factor: 'big' }), /"attention_factor" must be a positive number, got "big"/);
  assert.throws(() => yarn({ factor: 2, beta_fast: -1 }), /"beta_fast" must be a positive number, got -1/);
  assert.throws(() => yarn({ factor: 2, truncate: 1 }), /"truncate" must be true or false, got 1/);
  assert.throws(() => yarn({ factor: 2, original_max_position_embeddings: 10.5 }), /"original_max_position_embeddings" must be a positive integer/);
  // Hand-built configs are checked field by field.
  const good = llamaConfig({ vocabSize: 8, hiddenSize: 8, nLayers: 1, nHeads: 1, nKvHeads: 1, intermediateSize: 8, maxPositions: 16, ropeScaling: c.ropeScaling });
  validateModelConfig(good);
  assert.throws(() => validateModelConfig({ ...good, ropeScaling: { ...(c.ropeScaling as Yarn), betaSlow: 0 } }), /ropeScaling\.betaSlow \(type "yarn"\) must be a positive finite number, got 0/);
  assert.throws(() => validateModelConfig({ ...good, ropeScaling: { ...(c.ropeScaling as Yarn), truncate: 'yes' } as never }), /ropeScaling\.truncate \(type "yarn"\) must be true or false, got "yes"/);
  assert.throws(() => validateModelConfig({ ...good, ropeScaling: { type: 'yarn', factor: 2 } as never }), /ropeScaling\.truncate \(type "yarn"\) must be true or false/);
});

test('YaRN inverse frequencies follow the formula; Qwen2.5\'s correction range is pairs 23 to 40', () => {
  const c = parseHfConfig(qwen25, 'qwen.json');
  const s = c.ropeScaling as Yarn;
  assert.equal(c.headDim, 128);
  // By hand: 128·ln(32768 / (32·2π)) / (2·ln 10⁶) = 23.60 → 23, and 128·ln(32768 / 2π) / (2·ln 10⁶) = 39.65 → 40.
  const ramp = yarnRamp(s, 128, 1e6);
  assert.equal(ramp[23], 0);
  assert.equal(ramp[24], 1 / 17);
  assert.equal(ramp[40], 1);
  const inv = ropeInvFreq(c, 100);
  const plain = ropeInvFreq({ ...c, ropeScaling: { type: 'none' } }, 100);
  for (let i = 0; i < 64; i++) {
    const f = 1 / 1e6 ** ((2 * i) / 128);
    const r = Math.min(1, Math.max(0, (i - 23) / (40 - 23)));
    assert.equal(inv[i], Math.fround((f / 4) * r + f * (1 - r)), `pair ${i}`);
  }
  assert.equal(inv[0], plain[0]);
  assert.equal(inv[63], Math.fround(plain[63]! / 4));
  // Without truncation the bounds stay fractional; a zero-width range is widened by 0.001.
  const loose = yarnRamp({ ...s, truncate: false }, 128, 1e6);
  const lo = (128 * Math.log(32768 / (32 * 2 * Math.PI))) / (2 * Math.log(1e6)), hi = (128 * Math.log(32768 / (2 * Math.PI))) / (2 * Math.log(1e6));
  assert.ok(Math.abs(loose[30]! - (30 - lo) / (hi - lo)) < 1e-15);
  assert.deepEqual([...yarnRamp({ ...s, betaFast: 1, betaSlow: 1 }, 128, 1e6).slice(39, 42)], [0, 1, 1]);
  // Factor 1: the plain frequencies.
  assert.deepEqual(ropeInvFreq({ ...c, ropeScaling: { ...s, factor: 1, attentionFactor: 1 } }, 10), plain);
});

test('scaleRotaryDims multiplies the rotated dims of every head only', () => {
  const x = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i + 1);
  scaleRotaryDims(x, 2, 3, 4, 2, 1.5);
  for (let i = 0; i < x.length; i++) assert.equal(x[i], Math.fround((i + 1) * (i % 4 < 2 ? 1.5 : 1)), `value ${i}`);
});

// A small Llama with a short original context, so that YaRN's ramp falls inside its 8 rotary pairs.
const YARN: Yarn = { type: 'yarn', factor: 4, originalMaxPositions: 64, attentionFactor: 1.25, betaFast: 32, betaSlow: 1, truncate: true };
const config = llamaConfig({ vocabSize: 128, hiddenSize: 32, nLayers: 2, nHeads: 2, nKvHeads: 1, intermediateSize: 64, maxPositions: 512, ropeScaling: YARN, attnQkvBias: true, modelType: 'qwen2' });
const weights = randomWeights(config, 3, 0.2);

function logits(c: ModelConfig, w: WeightMap, be: JsBackend | NativeBackend): Float32Array {
  const ids = Array.from({ length: 200 }, (_, i) => 1 + ((i * 29) % 120));
  return new Model(c, w, null, be).createSessionWith(null, { chunkSize: 64 }).prefill(ids, { logits: 'all' }).slice();
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
}

/** The same weights with the query and key projections (and their biases) multiplied by s. */
function scaledQk(w: WeightMap, s: number): WeightMap {
  const out: WeightMap = new Map(w);
  for (const [name, t] of w) {
    if (/self_attn\.(q|k)_proj\.(weight|bias)$/.test(name)) out.set(name, { ...t, data: Float32Array.from(t.data as Float32Array, (v) => v * s) });
  }
  return out;
}

for (const [name, make] of [['TypeScript', () => new JsBackend()], ['native', () => new NativeBackend()]] as const) {
  test(`YaRN in the forward (${name}): the frequencies of the ramp and the attention factor on queries and keys`, { skip: name === 'native' ? skipNative : false }, () => {
    const be = make();
    const yarnLogits = logits(config, weights, be);
    // RoPE is linear: an attention factor s on the rotated q and k is q/k weights multiplied by s (every dim rotates),
    // and YaRN's frequencies are per-pair divisors plain / yarn.
    const plain = ropeInvFreq({ ...config, ropeScaling: { type: 'none' } }, 10), inv = ropeInvFreq(config, 10);
    const factors: RopeScaling = { type: 'factors', factors: Array.from(plain, (f, i) => f / inv[i]!) };
    assert.ok(factors.factors[0] === 1 && factors.factors[7]! > 3.99, 'the ramp spans the pairs');
    const same = logits({ ...config, ropeScaling: factors }, scaledQk(weights, YARN.attentionFactor), be);
    assert.ok(relErr(yarnLogits, same) < 2e-5, `relative error ${relErr(yarnLogits, same)}`);
    // Both parts matter at these sizes.
    assert.ok(relErr(logits({ ...config, ropeScaling: factors }, weights, be), yarnLogits) > 1e-3, 'the attention factor');
    assert.ok(relErr(logits({ ...config, ropeScaling: { type: 'none' } }, scaledQk(weights, YARN.attentionFactor), be), yarnLogits) > 1e-3, 'the frequencies');
  });
}

const rewrite = (src: string, dst: string, meta: (m: GgufMetadata) => void) => rewriteGguf(src, dst, { meta });

test('YaRN in GGUF files: namm\'s key, llama.cpp\'s keys (defaults, betas, attn_factor), and refusals', async () => {
  const file = join(dir, 'yarn.gguf');
  writeGguf(file, config, weights, null);
  const back = await loadModelFiles(file);
  assert.deepEqual(back.config.ropeScaling, YARN);
  const reference = logits(config, weights, new JsBackend());
  assert.ok(relErr(logits(back.config, back.weights, new JsBackend()), reference) < 1e-5);
  // llama.cpp's keys alone (namm's removed): the same scaling, the attention factor from attn_factor·mscale(factor).
  const cpp = join(dir, 'yarn-cpp.gguf');
  rewrite(file, cpp, (m) => m.delete('namm.rope_scaling'));
  const fromCpp = (await loadModelFiles(cpp)).config.ropeScaling as Yarn;
  assert.equal(fromCpp.type, 'yarn');
  assert.equal(fromCpp.originalMaxPositions, 64);
  assert.ok(Math.abs(fromCpp.attentionFactor - 1.25) < 1e-6, String(fromCpp.attentionFactor));
  assert.deepEqual([fromCpp.factor, fromCpp.betaFast, fromCpp.betaSlow, fromCpp.truncate], [4, 32, 1, true]);
  // As llama.cpp's converter writes it: type, factor and original context only.
  const bare = join(dir, 'yarn-bare.gguf');
  rewrite(cpp, bare, (m) => { for (const k of ['attn_factor', 'yarn_beta_fast', 'yarn_beta_slow']) m.delete(`qwen2.rope.scaling.${k}`); });
  assert.deepEqual((await loadModelFiles(bare)).config.ropeScaling, { ...YARN, attentionFactor: 0.1 * Math.log(4) + 1 });
  const noOrig = join(dir, 'yarn-noorig.gguf');
  rewrite(bare, noOrig, (m) => m.delete('qwen2.rope.scaling.original_context_length'));
  assert.equal(((await loadModelFiles(noOrig)).config.ropeScaling as Yarn).originalMaxPositions, 512, 'the training context');
  const refused: [string, (m: GgufMetadata) => void, RegExp][] = [
    ['log', (m) => m.set('qwen2.rope.scaling.yarn_log_multiplier', gv.f32(0.1)), /"qwen2\.rope\.scaling\.yarn_log_multiplier" \(DeepSeek's YaRN attention scaling\) is not supported/],
    ['ext', (m) => m.set('qwen2.rope.scaling.yarn_ext_factor', gv.f32(0.5)), /"qwen2\.rope\.scaling\.yarn_ext_factor" other than 1/],
    ['nofactor', (m) => m.delete('qwen2.rope.scaling.factor'), /required metadata key "qwen2\.rope\.scaling\.factor" is missing/],
    ['badbeta', (m) => m.set('qwen2.rope.scaling.yarn_beta_fast', gv.f32(-3)), /"qwen2\.rope\.scaling\.yarn_beta_fast" must be a positive number, got -3/],
  ];
  for (const [tag, edit, re] of refused) {
    const f = join(dir, `yarn-${tag}.gguf`);
    rewrite(cpp, f, edit);
    await assert.rejects(loadModelFiles(f), re, tag);
  }
});
