/**
 * Gemma 3's text model (`gemma3_text`): its config.json read as transformers' Gemma3TextConfig reads it (the sliding
 * layers from layer_types or sliding_window_pattern, the two RoPE bases, transformers 5's rope_parameters per layer
 * type), what namm refuses by name, the config written back, and `namm convert` of the tiny fixture (a folder again,
 * the same logits; GGUF refused). The forward itself: test/models/golden-gemma3.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertModel } from '../../src/cli/convert.js';
import { parseHfConfig, toHfConfig } from '../../src/models/config.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { createTrainableModel } from '../../src/train/family.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { JsBackend } from '../../src/tensor/js.js';
import { tempDir } from '../helpers/temp.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/tiny-gemma3', import.meta.url));
const fixtureJson = JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
/** google/gemma-3-1b-it's config.json, as far as namm reads it (transformers 4.50's keys). */
const gemma1b = {
  architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', vocab_size: 262144, hidden_size: 1152, intermediate_size: 6912,
  num_hidden_layers: 26, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 256, hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000, rope_scaling: null,
  sliding_window: 512, sliding_window_pattern: 6, query_pre_attn_scalar: 256, attn_logit_softcapping: null,
  final_logit_softcapping: null, attention_bias: false, bos_token_id: 2, eos_token_id: [1, 106], pad_token_id: 0,
};

test('gemma3_text config.json: the 1B model\'s shape, its sliding layers every layer but each sixth, the two RoPE bases', () => {
  const c = parseHfConfig(gemma1b, 'g.json');
  assert.deepEqual(
    { arch: c.arch, hd: c.headDim, kv: c.nKvHeads, eps: c.normEps, theta: c.ropeTheta, scaling: c.ropeScaling, window: c.slidingWindow, act: c.activation, qk: c.qkNorm, tie: c.tieEmbeddings, eos: c.eosTokenIds, gemma: c.gemma },
    { arch: 'llama', hd: 256, kv: 1, eps: 1e-6, theta: 1e6, scaling: { type: 'none' }, window: 512, act: 'gelu_tanh', qk: true, tie: true, eos: [1, 106], gemma: { embedScale: Math.fround(Math.sqrt(1152)), queryPreAttnScalar: 256, localRopeTheta: 10000 } },
  );
  const full = [5, 11, 17, 23];
  assert.deepEqual(c.slidingLayers, Array.from({ length: 26 }, (_, i) => i).filter((i) => !full.includes(i)));
  // layer_types says the same; transformers 5's rope_parameters, one set per layer type, give the same config.
  const layerTypes = Array.from({ length: 26 }, (_, i) => (full.includes(i) ? 'full_attention' : 'sliding_attention'));
  assert.deepEqual(parseHfConfig({ ...gemma1b, sliding_window_pattern: undefined, layer_types: layerTypes }, 'g.json'), c);
  const v5 = { ...gemma1b, rope_theta: undefined, rope_local_base_freq: undefined, rope_scaling: undefined, layer_types: layerTypes,
    rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1000000 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } } };
  assert.deepEqual(parseHfConfig(v5, 'g.json'), c);
  // The 4B and larger ones: linear scaling ×8 on the full layers.
  const four = parseHfConfig({ ...gemma1b, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'g.json');
  assert.deepEqual(four.ropeScaling, { type: 'linear', factor: 8 });
  const fourV5 = parseHfConfig({ ...v5, rope_parameters: { full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1000000 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } } }, 'g.json');
  assert.deepEqual(fourV5.ropeScaling, { type: 'linear', factor: 8 });
  // Defaults when keys are absent (Gemma3TextConfig's): BOS 2, EOS 1, tied embeddings, a 4,096-token window, head_dim
  // 256, 4 KV heads whatever the heads, and Gemma3TextConfig's shape for what a sparse text_config leaves out.
  const bare = parseHfConfig({ model_type: 'gemma3_text', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 8 }, 'g.json');
  assert.deepEqual([bare.bosTokenId, bare.eosTokenIds, bare.tieEmbeddings, bare.slidingWindow, bare.slidingLayers, bare.headDim, bare.vocabSize, bare.nKvHeads], [2, [1], true, 4096, undefined, 256, 262208, 4]);
  const sparse = parseHfConfig({ model_type: 'gemma3_text' }, 'g.json');
  assert.deepEqual([sparse.hiddenSize, sparse.intermediateSize, sparse.nLayers, sparse.nHeads, sparse.nKvHeads, sparse.maxPositions], [2304, 9216, 26, 8, 4, 131072]);
});

test('gemma3_text: what namm does not run is refused by name', () => {
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ ...gemma1b, model_type: 'gemma3' }, /a "gemma3" config needs a "text_config" object/],
    [{ ...gemma1b, hidden_activation: 'gelu' }, /hidden_activation "gelu" is not supported for gemma3_text/],
    [{ ...gemma1b, use_bidirectional_attention: true }, /"use_bidirectional_attention" is true/],
    [{ ...gemma1b, sliding_window: null }, /layer 0 is a sliding layer but "sliding_window" is null/],
    [{ ...gemma1b, layer_types: ['chunked_attention'] }, /"layer_types" must list 26 layer types/],
    [{ ...gemma1b, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 }, sliding_attention: { rope_type: 'linear', factor: 2 } } }, /the sliding layers' RoPE must be "default"/],
    [{ ...gemma1b, model_type: 'gemma2' }, /model_type "gemma2" is not supported/],
  ];
  for (const [json, message] of refused) assert.throws(() => parseHfConfig(json, 'g.json'), message);
  assert.throws(() => llamaConfig({ activation: 'gelu_tanh' }), /activation must be one of "silu" for llama \(gelu_tanh with gemma\)/);
  const c = parseHfConfig(fixtureJson, 'c.json');
  assert.throws(() => createTrainableModel(c, backendGemm(new JsBackend())), /training Gemma 3 models is not supported/);
});

test('gemma3_text config.json written back: layer_types and both RoPE bases, the same config read again', () => {
  for (const json of [gemma1b, fixtureJson, { ...gemma1b, rope_scaling: { rope_type: 'linear', factor: 8 }, attention_bias: true }]) {
    const c = parseHfConfig(json, 'c.json');
    const hf = toHfConfig(c);
    assert.equal(hf.model_type, 'gemma3_text');
    assert.deepEqual(parseHfConfig(hf, 'back.json'), c);
  }
  const c = parseHfConfig(gemma1b, 'c.json');
  assert.throws(() => toHfConfig({ ...c, gemma: { ...c.gemma!, embedScale: 2 } }), /cannot hold an embedding scale of 2/);
});

test('namm convert: the tiny Gemma 3 to safetensors and back gives the same logits; to GGUF it is refused', async () => {
  const dir = tempDir('namm-gemma3-');
  const out = join(dir, 'gemma3');
  await convertModel({ from: FIXTURE, to: 'safetensors', out });
  const prompt = [2, 17, 200, 3, 99, 128, 64, 0, 255, 31];
  const logits = async (path: string) => (await Model.fromPretrained(path, { weights: 'f32' })).createSessionWith(null, { chunkSize: 4 }).prefill(prompt, { logits: 'all' });
  assert.deepEqual(await logits(out), await logits(FIXTURE));
  await assert.rejects(convertModel({ from: FIXTURE, to: 'gguf', out: join(dir, 'g.gguf') }), /Gemma 3 \(gemma3_text\) is not supported/);
  // A random Gemma-shaped model builds and runs (its norms are offsets from 1: zeros).
  const rc = llamaConfig({ vocabSize: 64, hiddenSize: 32, nLayers: 2, nHeads: 2, nKvHeads: 1, intermediateSize: 48, qkNorm: true, activation: 'gelu_tanh', tieEmbeddings: true,
    gemma: { embedScale: Math.fround(Math.sqrt(32)), queryPreAttnScalar: 16, localRopeTheta: 10000 }, slidingWindow: 4, slidingLayers: [0] });
  const model = new Model(rc, randomWeights(rc, 1), null, new JsBackend());
  assert.equal(model.createSessionWith(null).prefill([1, 2, 3, 4, 5, 6]).length, 64);
});

const PROMPT = [2, 17, 200, 3, 99, 128, 64, 0, 255, 31];
const logitsOf = async (path: string) => (await Model.fromPretrained(path, { weights: 'f32' })).createSessionWith(null, { chunkSize: 4 }).prefill(PROMPT, { logits: 'all' });

test('a Gemma 3 image-and-text folder (gemma3) runs its text model: text_config, the language model\'s weights, the image tower unread', async () => {
  const want = await logitsOf(FIXTURE);
  const stored = readSafetensors(join(FIXTURE, 'model.safetensors')).tensors;
  for (const prefix of ['language_model.model.', 'model.language_model.']) {
    const dir = join(tempDir('namm-gemma3-mm-'), 'gemma3');
    const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
    for (const [name, t] of stored) tensors.set(prefix + name.slice('model.'.length), { dtype: 'F32', shape: t.shape, data: t.data });
    tensors.set('vision_tower.vision_model.embeddings.patch_embedding.weight', { dtype: 'F32', shape: [4, 3], data: new Float32Array(12).fill(1) });
    tensors.set('multi_modal_projector.mm_input_projection_weight', { dtype: 'F32', shape: [3, 64], data: new Float32Array(192) });
    const { model_type: _t, architectures: _a, bos_token_id: _b, eos_token_id: _e, ...text } = fixtureJson;
    const config = { architectures: ['Gemma3ForConditionalGeneration'], model_type: 'gemma3', text_config: { ...text, model_type: 'gemma3_text' },
      vision_config: { model_type: 'siglip_vision_model', hidden_size: 4 }, mm_tokens_per_image: 256, bos_token_id: 2, eos_token_id: [1, 106] };
    cpSync(FIXTURE, dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const files = await loadModelFiles(dir, { weights: 'f32' });
    assert.equal(files.config.modelType, 'gemma3_text');
    assert.deepEqual(files.config.eosTokenIds, [1, 106], 'the file\'s top-level ids where text_config names none');
    assert.deepEqual([...files.weights.keys()].filter((n) => !n.startsWith('model.') && n !== 'lm_head.weight'), [], 'no image-tower tensor read');
    assert.deepEqual(await logitsOf(dir), want, prefix);
  }
});

test('gemma3_text: final_logit_softcapping caps the logits (cap · tanh(logit / cap)); attn_logit_softcapping is ignored, as in transformers', async () => {
  const plain = await logitsOf(FIXTURE);
  for (const [over, map] of [[{ final_logit_softcapping: 3 }, (x: number) => 3 * Math.tanh(x / 3)], [{ attn_logit_softcapping: 50 }, (x: number) => x]] as const) {
    const dir = join(tempDir('namm-gemma3-cap-'), 'gemma3');
    cpSync(FIXTURE, dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...fixtureJson, ...over }));
    const got = await logitsOf(dir);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - map(plain[i]!)));
    assert.ok(worst < 1e-5, `${JSON.stringify(over)}: ${worst}`);
    if ('final_logit_softcapping' in over) assert.ok(got.every((x) => Math.abs(x) <= 3), 'capped');
  }
});

test('gemma3_text: the full layers\' RoPE scaling stays off the sliding layers (YaRN\'s attention factor too); fields checked', async () => {
  const plain = await logitsOf(FIXTURE);
  const allSliding = { ...fixtureJson, sliding_window_pattern: 1000, rope_scaling: null };
  const yarn = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 };
  const run = async (over: Record<string, unknown>) => {
    const dir = join(tempDir('namm-gemma3-rope-'), 'gemma3');
    cpSync(FIXTURE, dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...fixtureJson, ...over }));
    return logitsOf(dir);
  };
  // Every layer sliding: any scaling of the full layers changes nothing.
  assert.deepEqual(await run({ ...allSliding, rope_scaling: yarn }), await run(allSliding));
  // Every layer full: YaRN moves the logits.
  const full = await run({ sliding_window_pattern: 1, rope_scaling: yarn }), fullPlain = await run({ sliding_window_pattern: 1, rope_scaling: null });
  assert.ok(full.some((x, i) => Math.abs(x - fullPlain[i]!) > 1e-3));
  assert.ok(plain.length > 0);
  const c = parseHfConfig(fixtureJson, 'c.json');
  assert.throws(() => llamaConfig({ ...c, gemma: { ...c.gemma!, finalLogitSoftCap: 30 } as never }), /gemma has no field "finalLogitSoftCap"/);
  assert.throws(() => toHfConfig({ ...c, partialRotaryFactor: 0.5 }), /cannot hold partial rotary embeddings/);
  // An explicit null is none, as in transformers; an image-and-text file's text model never caps its logits.
  assert.deepEqual([parseHfConfig({ ...fixtureJson, eos_token_id: null, bos_token_id: null }, 'c.json').eosTokenIds, parseHfConfig({ ...fixtureJson, bos_token_id: null }, 'c.json').bosTokenId], [[], null]);
  const mm = parseHfConfig({ model_type: 'gemma3', text_config: { ...fixtureJson, final_logit_softcapping: 30 } }, 'c.json');
  assert.equal(mm.gemma!.finalLogitSoftcap, undefined);
});
