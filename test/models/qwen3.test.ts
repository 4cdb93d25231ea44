/**
 * Qwen3 (dense, model_type "qwen3"): its config.json as transformers 5's Qwen3Config reads it (head_dim 128 when
 * absent, attention_bias on q, k, v and o, sliding windows by layer_types), what namm refuses by name, and the tiny
 * fixture model through GGUF (llama.cpp's "qwen3": attn_q_norm / attn_k_norm, key_length) and HF folders and back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertModel } from '../../src/cli/convert.js';
import { parseHfConfig, toHfConfig, validateModelConfig } from '../../src/models/config.js';
import { convertRopeLayout, readGgufHeader, type GgufMetadata } from '../../src/models/gguf.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';
import { createTrainableModel } from '../../src/train/family.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { JsBackend } from '../../src/tensor/js.js';
import { RUN_LOCK_FILE } from '../../src/util/run-lock.js';
import { rewriteGguf } from '../helpers/gguf-rewrite.js';
import { tempDir } from '../helpers/temp.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/tiny-qwen3', import.meta.url));
const PROMPT = [254, 17, 200, 3, 99, 128, 64, 0, 255, 31, 150, 77, 9, 240, 180, 45];

/** Abridged from the public config.json files of Qwen3-0.6B and Qwen3-8B. */
const qwen3small = {
  architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', attention_bias: false, bos_token_id: 151643, eos_token_id: 151645,
  head_dim: 128, hidden_act: 'silu', hidden_size: 1024, intermediate_size: 3072, max_position_embeddings: 40960,
  max_window_layers: 28, num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6,
  rope_scaling: null, rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, use_sliding_window: false,
  vocab_size: 151936,
};
const qwen3large = {
  ...qwen3small, hidden_size: 4096, intermediate_size: 12288, max_window_layers: 36, num_attention_heads: 32,
  num_hidden_layers: 36, tie_word_embeddings: false,
};

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-qwen3-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

function ggufMetadataOf(path: string): GgufMetadata {
  const fd = openSync(path, 'r');
  try { return readGgufHeader(fd, path).metadata; } finally { closeSync(fd); }
}

/** Every logit of the prompt, on the default backend. */
async function logitsOf(path: string): Promise<Float32Array> {
  const model = await Model.fromPretrained(path, { weights: 'f32' });
  return model.createSessionWith(null, { chunkSize: 8 }).prefill(PROMPT, { logits: 'all' });
}

test('qwen3 config.json: per-head q/k norms, head_dim apart from hidden_size / heads, attention_bias on q, k, v and o, no MLP bias', () => {
  const small = parseHfConfig(qwen3small, 's.json');
  assert.deepEqual(
    { arch: small.arch, type: small.modelType, qk: small.qkNorm, hd: small.headDim, heads: small.nHeads, kv: small.nKvHeads, eps: small.normEps, theta: small.ropeTheta, tie: small.tieEmbeddings, qkv: small.attnQkvBias, o: small.attnOutBias, mlp: small.mlpBias, layout: small.ropeLayout, window: small.slidingWindow },
    { arch: 'llama', type: 'qwen3', qk: true, hd: 128, heads: 16, kv: 8, eps: 1e-6, theta: 1e6, tie: true, qkv: false, o: false, mlp: false, layout: 'half', window: undefined },
  );
  const large = parseHfConfig(qwen3large, 'l.json');
  assert.equal(large.tieEmbeddings, false);
  assert.equal(large.headDim, 128);
  // Qwen3Config's head_dim is 128 when the key is absent, whatever hidden_size / heads (64 here) is.
  assert.equal(parseHfConfig({ ...qwen3small, head_dim: undefined }, 's.json').headDim, 128);
  assert.equal(parseHfConfig({ ...qwen3small, head_dim: undefined, num_attention_heads: 12, num_key_value_heads: 4 }, 's.json').headDim, 128, 'heads need not divide hidden_size');
  const biased = parseHfConfig({ ...qwen3small, attention_bias: true, mlp_bias: true }, 's.json');
  assert.deepEqual([biased.attnQkvBias, biased.attnOutBias, biased.mlpBias], [true, true, false], 'Qwen3MLP has no bias whatever mlp_bias says');
  // transformers 5's form: rope_parameters, and layer_types written out.
  const v5 = parseHfConfig({ ...qwen3small, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e6 }, layer_types: Array(28).fill('full_attention') }, 's.json');
  assert.deepEqual(v5, small);
  // Other families have none.
  for (const type of ['llama', 'qwen2', 'mistral']) assert.equal(parseHfConfig({ ...qwen3small, model_type: type }, 'x.json').qkNorm, undefined, type);
});

test('qwen3 sliding windows: by layer_types, else from max_window_layers on, only with use_sliding_window; other layer types refused by name', () => {
  const windowOf = (over: Record<string, unknown>) => parseHfConfig({ ...qwen3small, ...over }, 'w.json').slidingWindow;
  assert.equal(windowOf({ sliding_window: 4096 }), undefined, 'use_sliding_window false: no window');
  assert.equal(windowOf({ use_sliding_window: true, sliding_window: 4096 }), undefined, 'max_window_layers 28 of 28 layers: none slides');
  assert.equal(windowOf({ use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 }), 4096);
  assert.equal(windowOf({ use_sliding_window: true, sliding_window: undefined, max_window_layers: 20 }), 4096, 'Qwen3Config\'s default window');
  assert.equal(windowOf({ use_sliding_window: true, sliding_window: null, max_window_layers: 20 }), undefined);
  const types = (sliding: number[]) => Array.from({ length: 28 }, (_, i) => (sliding.includes(i) ? 'sliding_attention' : 'full_attention'));
  assert.equal(windowOf({ layer_types: types([]) }), undefined);
  assert.equal(windowOf({ layer_types: types([]), use_sliding_window: true, sliding_window: 512 }), undefined, 'every layer full: no window');
  assert.equal(windowOf({ layer_types: types([3]), use_sliding_window: true, sliding_window: 512 }), 512);
  const refused = (over: Record<string, unknown>, why: RegExp) => assert.throws(() => parseHfConfig({ ...qwen3small, ...over }, '/m/config.json'), why);
  refused({ layer_types: types([3]) }, /^Error: \/m\/config\.json: "layer_types" makes layer 3 "sliding_attention" but the config sets no window \("use_sliding_window" is not true\), which transformers cannot run either$/);
  refused({ layer_types: [...types([]).slice(1), 'linear_attention'] }, /\/m\/config\.json: "layer_types" entry 27 is "linear_attention", which namm does not run/);
  refused({ layer_types: types([]).slice(1) }, /\/m\/config\.json: "layer_types" must be a list of one entry per layer \(num_hidden_layers 28\)/);
  refused({ layer_types: 'full_attention' }, /"layer_types" must be a list/);
  refused({ use_sliding_window: true, sliding_window: 512, max_window_layers: -1 }, /\/m\/config\.json: "max_window_layers" must be an integer ≥ 0, got -1/);
  assert.equal(windowOf({ max_window_layers: -1 }), undefined, 'without use_sliding_window transformers never reads max_window_layers');
  refused({ hidden_act: 'gelu' }, /hidden_act "gelu" is not supported for qwen3/);
  // A window travels back into a config.json on the same layers (namm applies one limit to the whole model, but a
  // converted model must run in transformers as the original did): as layer_types, and as max_window_layers when
  // the sliding layers are the last ones.
  const windowed = parseHfConfig({ ...qwen3small, use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 }, 'w.json');
  assert.deepEqual(windowed.slidingLayers, [20, 21, 22, 23, 24, 25, 26, 27]);
  const hf = toHfConfig(windowed);
  assert.deepEqual([hf.use_sliding_window, hf.sliding_window, hf.max_window_layers, hf.layer_types], [true, 4096, 20, types([20, 21, 22, 23, 24, 25, 26, 27])]);
  assert.deepEqual(parseHfConfig(hf, 'back.json'), windowed);
  const odd = parseHfConfig({ ...qwen3small, use_sliding_window: true, sliding_window: 512, layer_types: types([1, 3]) }, 'w.json');
  const oddHf = toHfConfig(odd);
  assert.deepEqual([oddHf.layer_types, 'max_window_layers' in oddHf], [types([1, 3]), false]);
  assert.deepEqual(parseHfConfig(oddHf, 'back.json'), odd);
  const every = parseHfConfig({ ...qwen3small, use_sliding_window: true, sliding_window: 512, max_window_layers: 0 }, 'w.json');
  assert.equal(every.slidingLayers, undefined, 'on every layer: none named');
  assert.deepEqual([toHfConfig(every).max_window_layers, toHfConfig(every).layer_types], [0, types(Array.from({ length: 28 }, (_, i) => i))]);
});

test('qwen3 toHfConfig inverts parseHfConfig; a model config.json cannot say is refused', () => {
  for (const src of [qwen3small, qwen3large, { ...qwen3small, attention_bias: true }]) {
    const c = parseHfConfig(src, 'a.json');
    const hf = toHfConfig(c);
    assert.deepEqual([hf.model_type, hf.architectures, hf.head_dim, hf.mlp_bias, hf.use_sliding_window, hf.sliding_window], ['qwen3', ['Qwen3ForCausalLM'], 128, undefined, false, null]);
    assert.deepEqual(parseHfConfig(hf, 'b.json'), c);
  }
  const c = parseHfConfig(qwen3small, 'a.json');
  // q/k norms are Qwen3's, whatever the model type says (a config built by hand).
  assert.equal(toHfConfig({ ...c, modelType: 'llama' }).model_type, 'qwen3');
  assert.throws(() => toHfConfig({ ...c, attnQkvBias: true }), /a config\.json cannot hold per-head q\/k norms with q\/k\/v biases and no o_proj bias: Qwen3's attention_bias covers q, k, v and o together, and its MLP has no biases/);
  assert.throws(() => toHfConfig({ ...c, mlpBias: true }), /cannot hold per-head q\/k norms with MLP biases/);
  validateModelConfig(c);
  assert.throws(() => validateModelConfig({ ...c, qkNorm: 'yes' as never }), /model config: qkNorm must be true, false or absent, got "yes"/);
  assert.throws(() => validateModelConfig({ ...gpt2Config({ vocabSize: 64, hiddenSize: 16, nLayers: 1, nHeads: 2, intermediateSize: 32, maxPositions: 32 }), qkNorm: true }), /qkNorm \(per-head q\/k RMSNorm, Qwen3's\) applies to the llama family, not gpt2/);
});

test('a qwen3 model without its q/k norm weights, or with ones of another size, is refused naming the weight', () => {
  const c = llamaConfig({ modelType: 'qwen3', qkNorm: true, vocabSize: 64, hiddenSize: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, headDim: 16, intermediateSize: 48, maxPositions: 64 });
  const w = randomWeights(c, 1);
  assert.deepEqual(w.get('model.layers.0.self_attn.q_norm.weight')!.shape, [16]);
  const missing = new Map(w);
  missing.delete('model.layers.0.self_attn.k_norm.weight');
  assert.throws(() => new Model(c, missing, null), /missing weight "model\.layers\.0\.self_attn\.k_norm\.weight"/);
  const wrong = new Map(w);
  wrong.set('model.layers.0.self_attn.q_norm.weight', { shape: [32], data: new Float32Array(32) });
  assert.throws(() => new Model(c, wrong, null), /weight "model\.layers\.0\.self_attn\.q_norm\.weight" has shape \[32\] but \[16\] was expected/);
});

test('namm train refuses Qwen3: its forward and backward have no q/k norms (a qwen3 init folder, before anything is written)', withDir(async (dir) => {
  const c = parseHfConfig(JSON.parse(readFileSync(join(FIXTURE, 'config.json'), 'utf8')), 'config.json');
  assert.throws(() => createTrainableModel(c, backendGemm(new JsBackend())), /training models with per-head q\/k norms \(Qwen3\) is not supported/);
  const { parseTrainConfig } = await import('../../src/train/config.js');
  const { runTraining } = await import('../../src/train/trainer.js');
  const cfg = parseTrainConfig({
    init: FIXTURE,
    model: { arch: 'llama', hiddenSize: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 96, maxPositions: 256 },
    data: { textWeight: 1, taskWeight: 0, textLengths: [32] }, training: { steps: 1 },
  }, 'train.json');
  const out = join(dir, 'out');
  await assert.rejects(runTraining({ config: cfg, outDir: out, backend: new JsBackend(), corpus: { train: [], validation: [] } }),
    /init: .*tiny-qwen3 is a qwen3 model with per-head q\/k norms \(Qwen3's q_norm \/ k_norm\), which namm train does not train/);
  assert.deepEqual(existsSync(out) ? readdirSync(out).filter((f) => f !== RUN_LOCK_FILE) : [], [], 'nothing written');
}));

test('tiny Qwen3 → GGUF (F32, F16) → load: llama.cpp\'s qwen3 layout and keys, the same logits; back to a HF folder: the same config and logits', withDir(async (dir) => {
  const want = await logitsOf(FIXTURE);
  const src = await loadModelFiles(FIXTURE);
  for (const dtype of ['f32', 'f16'] as const) {
    const gguf = join(dir, `q3-${dtype}.gguf`);
    const r = await convertModel({ from: FIXTURE, to: 'gguf', out: gguf, dtype });
    assert.match(r.notes.join(), /no tokenizer/);
    const meta = ggufMetadataOf(gguf);
    const value = (k: string) => meta.get(k)?.value;
    assert.equal(value('general.architecture'), 'qwen3');
    assert.deepEqual([value('qwen3.attention.key_length'), value('qwen3.attention.value_length'), value('qwen3.attention.head_count'), value('qwen3.attention.head_count_kv'), value('qwen3.embedding_length')], [32, 32, 4, 2, 64]);
    const fd = openSync(gguf, 'r');
    const names = readGgufHeader(fd, gguf).tensors.map((t) => t.name);
    closeSync(fd);
    assert.ok(names.includes('blk.1.attn_q_norm.weight') && names.includes('blk.1.attn_k_norm.weight'));
    assert.ok(!names.includes('output.weight'), 'tied: the embedding alone');
    const g = await loadModelFiles(gguf);
    assert.deepEqual({ ...g.config, eosTokenIds: src.config.eosTokenIds }, src.config, 'the same config (the GGUF has no vocabulary to name more end ids)');
    assert.equal(g.config.ropeLayout, 'half', 'NEOX, as llama.cpp runs qwen3: q/k rows not permuted');
    // The fixture's weights are float16 values: F16 and F32 files hold them exactly.
    for (const [name, t] of src.weights) assert.deepEqual(g.weights.get(name)!.data, t.data, name);
    assert.deepEqual(await logitsOf(gguf), want, dtype);
  }
  // GGUF → HF folder: a qwen3 config.json, the same logits.
  const back = join(dir, 'back');
  await convertModel({ from: join(dir, 'q3-f32.gguf'), to: 'safetensors', out: back });
  const json = JSON.parse(readFileSync(join(back, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([json.model_type, json.architectures, json.head_dim, json.tie_word_embeddings], ['qwen3', ['Qwen3ForCausalLM'], 32, true]);
  assert.deepEqual((await loadModelFiles(back)).config, src.config);
  assert.deepEqual(await logitsOf(back), want);
  // HF → HF (bf16 is lossy for float16 values; f32 is not).
  const hf = join(dir, 'hf');
  await convertModel({ from: FIXTURE, to: 'safetensors', out: hf });
  assert.deepEqual((await loadModelFiles(hf)).config, src.config);
  assert.deepEqual(await logitsOf(hf), want);
}));

test('a GGUF file of another architecture holding q/k norms is refused by name (they would go unused)', withDir(async (dir) => {
  const gguf = join(dir, 'q3.gguf'), other = join(dir, 'q2.gguf');
  await convertModel({ from: FIXTURE, to: 'gguf', out: gguf });
  rewriteGguf(gguf, other, {
    meta: (m) => {
      m.set('general.architecture', { ...m.get('general.architecture')!, value: 'qwen2' });
      for (const [k, v] of [...m]) if (k.startsWith('qwen3.')) { m.delete(k); m.set(`qwen2.${k.slice(6)}`, v); }
    },
  });
  await assert.rejects(loadModelFiles(other), /q2\.gguf: tensor "blk\.0\.attn_[qk]_norm\.weight" \(a per-head q\/k norm\) has no counterpart in a qwen2 model \(qwen3 files have them\)/);
}));

test('the RoPE layout permutation carries the q/k norm weights with their heads\' values (interleaved gives the same logits)', () => {
  const c = llamaConfig({ modelType: 'qwen3', qkNorm: true, vocabSize: 64, hiddenSize: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, headDim: 16, intermediateSize: 48, maxPositions: 64, ropeTheta: 1e6 });
  const w = randomWeights(c, 3, 0.3);
  // Norm weights that are not all alike, so that their order matters.
  for (const [name, t] of w) if (/_norm\.weight$/.test(name)) w.set(name, { shape: t.shape, data: Float32Array.from(t.data, (_, i) => 0.5 + ((i * 7) % 16) / 16) });
  const ids = Array.from({ length: 20 }, (_, i) => (i * 11 + 3) % 64);
  const half = new Model(c, w, null).createSessionWith(null).prefill(ids, { logits: 'all' });
  const inter = { ...c, ropeLayout: 'interleaved' as const };
  const moved = convertRopeLayout(c, w, 'interleaved');
  assert.notDeepEqual(moved.get('model.layers.0.self_attn.q_norm.weight')!.data, w.get('model.layers.0.self_attn.q_norm.weight')!.data);
  const got = new Model(inter, moved, null).createSessionWith(null).prefill(ids, { logits: 'all' });
  let worst = 0;
  for (let i = 0; i < half.length; i++) worst = Math.max(worst, Math.abs(got[i]! - half[i]!));
  assert.ok(worst < 1e-5, `${worst}`);
  // And back.
  assert.deepEqual(convertRopeLayout(inter, moved, 'half').get('model.layers.0.self_attn.k_norm.weight')!.data, w.get('model.layers.0.self_attn.k_norm.weight')!.data);
});
