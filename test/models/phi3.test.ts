/**
 * Phi-3 (model_type "phi3": Phi-3, Phi-3.5-mini, Phi-4-mini): its config.json (LongRoPE, the original context at the
 * top level, partial rotary embeddings, the sliding window, no biases), its fused projections split at load and
 * fused again for a config.json, and a conversion's round trip. The logits themselves: test/models/golden-phi3.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertModel } from '../../src/cli/convert.js';
import { parseHfConfig, toHfConfig, validateModelConfig } from '../../src/models/config.js';
import { readGgufHeader, type GgufMetadata } from '../../src/models/gguf.js';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { packMatrix } from '../../src/models/pack.js';
import { fusePhi3Weights, splitPhi3Weights } from '../../src/models/phi3.js';
import { ropeAttentionFactor, ropeInvFreq } from '../../src/models/rope.js';
import { readSafetensors } from '../../src/models/safetensors.js';
import type { WeightMap } from '../../src/models/types.js';
import { rewriteGguf } from '../helpers/gguf-rewrite.js';
import { tempDir } from '../helpers/temp.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/tiny-phi3', import.meta.url));
const PROMPT = [1, 17, 200, 3, 99, 128, 64, 0, 255, 31, 150, 77, 9, 240, 180, 45, 101, 6, 222, 58];

/** Made-up factors, one per rotary pair (the released models' lists are their own). */
const factors = (n: number, top: number) => Array.from({ length: n }, (_, i) => 1 + ((top - 1) * i) / (n - 1));
/** The structure of Phi-3-mini-128k-instruct's public config.json (its factor lists replaced by made-up ones). */
const mini128k = {
  architectures: ['Phi3ForCausalLM'], model_type: 'phi3', attention_bias: false, bos_token_id: 1, eos_token_id: 32000,
  hidden_act: 'silu', hidden_size: 3072, intermediate_size: 8192, max_position_embeddings: 131072,
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 32, original_max_position_embeddings: 4096,
  pad_token_id: 32000, rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 262144, tie_word_embeddings: false,
  rope_scaling: { type: 'longrope', short_factor: factors(48, 2), long_factor: factors(48, 40) }, vocab_size: 32064,
};
/** Phi-3-mini-4k-instruct's: no scaling, a 2,047-token window. */
const mini4k = { ...mini128k, max_position_embeddings: 4096, rope_scaling: null, sliding_window: 2047 };
/** Phi-4-mini-instruct's: grouped-query attention, 3/4 of each head rotating (48 pairs of 128 dims), tied embeddings. */
const phi4mini = {
  ...mini128k, num_attention_heads: 24, num_key_value_heads: 8, partial_rotary_factor: 0.75, tie_word_embeddings: true,
  vocab_size: 200064, bos_token_id: 199999, eos_token_id: 199999,
};

test('phi3 config.json: LongRoPE from the two context lengths, the window, no biases, rms_norm_eps 1e-5 by default', () => {
  const c = parseHfConfig(mini128k, 'p.json');
  assert.deepEqual(
    { arch: c.arch, type: c.modelType, hd: c.headDim, kv: c.nKvHeads, eps: c.normEps, window: c.slidingWindow, biases: [c.attnQkvBias, c.attnOutBias, c.mlpBias], layout: c.ropeLayout, tie: c.tieEmbeddings },
    { arch: 'llama', type: 'phi3', hd: 96, kv: 32, eps: 1e-5, window: 262144, biases: [false, false, false], layout: 'half', tie: false },
  );
  const s = c.ropeScaling;
  assert.equal(s.type, 'longrope');
  if (s.type !== 'longrope') return;
  assert.equal(s.originalMaxPositions, 4096);
  // √(1 + ln 32 / ln 4096) = √(1 + 5/12): 131,072 / 4,096 = 2^5, 4,096 = 2^12.
  assert.ok(Math.abs(s.attentionFactor - Math.sqrt(17 / 12)) < 1e-15);
  assert.equal(ropeAttentionFactor(c), s.attentionFactor);
  // Pair i turns at 10000^(−2i/96) / factor_i: short up to 4,096 tokens, long past them.
  for (const [len, list] of [[4096, s.shortFactors], [4097, s.longFactors]] as const) {
    const inv = ropeInvFreq(c, len);
    for (const i of [0, 17, 47]) assert.equal(inv[i], Math.fround(1 / Math.pow(10000, (2 * i) / 96) / list[i]!), `length ${len}, pair ${i}`);
  }
  // Phi-3's first configs call it "su"; Phi3Config's original context is 4,096 when absent; its eps 1e-5.
  assert.deepEqual(parseHfConfig({ ...mini128k, rope_scaling: { ...mini128k.rope_scaling, type: 'su' } }, 'p.json'), c);
  assert.deepEqual(parseHfConfig({ ...mini128k, original_max_position_embeddings: undefined }, 'p.json'), c);
  assert.equal(parseHfConfig({ ...mini128k, rms_norm_eps: undefined }, 'p.json').normEps, 1e-5);
  // An explicit attention_factor is taken; an explicit factor is the scale (transformers 5).
  const explicit = parseHfConfig({ ...mini128k, rope_scaling: { ...mini128k.rope_scaling, attention_factor: 1.5 } }, 'p.json').ropeScaling;
  assert.equal(explicit.type === 'longrope' && explicit.attentionFactor, 1.5);
  const byFactor = parseHfConfig({ ...mini128k, rope_scaling: { ...mini128k.rope_scaling, factor: 4 } }, 'p.json').ropeScaling;
  assert.equal(byFactor.type === 'longrope' && byFactor.attentionFactor, Math.sqrt(1 + Math.log(4) / Math.log(4096)));
  // Not longer than the original context: no attention factor.
  const same = parseHfConfig({ ...mini128k, max_position_embeddings: 4096 }, 'p.json').ropeScaling;
  assert.equal(same.type === 'longrope' && same.attentionFactor, 1);
  // Biases are never Phi-3's, whatever attention_bias says.
  assert.equal(parseHfConfig({ ...mini128k, attention_bias: true }, 'p.json').attnQkvBias, false);
  // Phi-3-mini-4k: no scaling, and a window namm applies as a limit; no window when the key is null or absent.
  const four = parseHfConfig(mini4k, 'p.json');
  assert.deepEqual([four.ropeScaling, four.slidingWindow, four.maxPositions], [{ type: 'none' }, 2047, 4096]);
  assert.equal(parseHfConfig({ ...mini4k, sliding_window: null }, 'p.json').slidingWindow, undefined);
  assert.equal(parseHfConfig({ ...mini4k, sliding_window: undefined }, 'p.json').slidingWindow, undefined);
  // Phi-4-mini: 3/4 of each head rotates, so 48 factors for 128 dims.
  const four4 = parseHfConfig(phi4mini, 'p.json');
  // transformers 5 saves the scaling in rope_parameters, the factor lists inside it.
  const { rope_scaling: scaling, rope_theta: theta, partial_rotary_factor: partial, ...rest } = phi4mini;
  const v5 = { ...rest, rope_parameters: { rope_type: 'longrope', short_factor: scaling.short_factor, long_factor: scaling.long_factor, rope_theta: theta, partial_rotary_factor: partial, original_max_position_embeddings: 4096 } };
  assert.deepEqual(parseHfConfig(v5, 'p.json'), four4);
  assert.deepEqual([four4.headDim, four4.partialRotaryFactor, four4.nKvHeads, four4.tieEmbeddings], [128, 0.75, 8, true]);
  assert.equal(ropeInvFreq(four4, 10).length, 48);
  validateModelConfig(four4);
});

test('phi3 config.json: bad LongRoPE settings are refused with the file and the key named', () => {
  const refused = (scaling: Record<string, unknown>, why: RegExp, over: Record<string, unknown> = {}) =>
    assert.throws(() => parseHfConfig({ ...mini128k, ...over, rope_scaling: { ...mini128k.rope_scaling, ...scaling } }, '/m/config.json'), why);
  refused({ short_factor: factors(47, 2) }, /^Error: \/m\/config\.json: rope_scaling "short_factor" holds 47 values; this model's heads rotate 48 pairs/);
  refused({}, /"short_factor" holds 48 values; this model's heads rotate 36 pairs/, { partial_rotary_factor: 0.75 });
  refused({ short_factor: factors(36, 2) }, /"long_factor" holds 48 values; this model's heads rotate 36 pairs/, { partial_rotary_factor: 0.75 });
  refused({ long_factor: undefined }, /\/m\/config\.json \(rope_scaling\): "long_factor" must be a list of positive numbers \(one per rotary pair\), got undefined/);
  refused({ short_factor: [...factors(47, 2), 0] }, /"short_factor" must be a list of positive numbers/);
  refused({ short_factor: 'ones' }, /"short_factor" must be a list of positive numbers/);
  refused({ attention_factor: -1 }, /"attention_factor" must be a positive number, got -1/);
  // Phi3Config takes LongRoPE or nothing.
  assert.throws(() => parseHfConfig({ ...mini128k, rope_scaling: { type: 'linear', factor: 2 } }, '/m/config.json'),
    /^Error: \/m\/config\.json: a phi3 model's RoPE scaling must be "longrope" \(or "su"\), got "linear", which transformers' Phi3Config refuses too$/);
  assert.throws(() => parseHfConfig({ ...mini128k, original_max_position_embeddings: 0 }, '/m/config.json'), /"original_max_position_embeddings" must be a positive integer/);
  assert.throws(() => parseHfConfig({ ...mini128k, model_type: 'phi3small' }, '/m/config.json'), /model_type "phi3small" is not supported \(supported: .*phi3.*\)/);
  // A hand-built config: validateModelConfig checks the lists too.
  const c = parseHfConfig(mini128k, 'p.json'), s = c.ropeScaling;
  if (s.type !== 'longrope') throw new Error('longrope expected');
  assert.throws(() => validateModelConfig({ ...c, ropeScaling: { ...s, longFactors: [1, 2] } }), /ropeScaling\.longFactors must be 48 positive finite numbers/);
  assert.throws(() => validateModelConfig({ ...c, ropeScaling: { ...s, attentionFactor: Number.NaN } }), /ropeScaling\.attentionFactor \(type "longrope"\) must be a positive finite number/);
});

test('phi3 config.json written back: the form transformers 4 and 5 both read, the same config read again', () => {
  for (const json of [mini128k, mini4k, phi4mini, { ...mini128k, rope_scaling: { ...mini128k.rope_scaling, attention_factor: 1.25 } }]) {
    const c = parseHfConfig(json, 'p.json');
    const hf = toHfConfig(c);
    assert.equal(hf.model_type, 'phi3');
    assert.deepEqual(hf.architectures, ['Phi3ForCausalLM']);
    assert.equal('attention_bias' in hf || 'mlp_bias' in hf, false);
    assert.equal(hf.sliding_window, c.slidingWindow ?? null);
    if (c.ropeScaling.type === 'longrope') {
      // Exactly type, short_factor and long_factor (transformers 4's Phi3Config refuses more), unless the attention
      // factor is not the one the context lengths give.
      const keys = Object.keys(hf.rope_scaling as object).sort();
      assert.deepEqual(keys, c.ropeScaling.attentionFactor === 1.25 ? ['attention_factor', 'long_factor', 'short_factor', 'type'] : ['long_factor', 'short_factor', 'type']);
      assert.equal(hf.original_max_position_embeddings, 4096);
    }
    assert.deepEqual(parseHfConfig(hf, 'back.json'), c);
  }
  // LongRoPE on a Llama config keeps every value in rope_scaling, and reads back the same.
  const llama = parseHfConfig({ ...mini128k, model_type: 'llama', sliding_window: undefined }, 'l.json');
  assert.equal(llama.ropeScaling.type, 'longrope');
  const hf = toHfConfig(llama);
  assert.equal((hf.rope_scaling as { rope_type: string }).rope_type, 'longrope');
  assert.deepEqual(parseHfConfig(hf, 'back.json'), llama);
  assert.throws(() => toHfConfig({ ...parseHfConfig(mini4k, 'p.json'), attnQkvBias: true }), /a Phi-3 config\.json cannot hold biases/);
});

test('phi3 fused projections: split at load into views of the same storage, refused when they do not stack, fused again', async () => {
  const { config, weights } = await loadModelFiles(FIXTURE, { weights: 'f32' });
  const raw = readSafetensors(join(FIXTURE, 'model.safetensors')).tensors;
  const qkv = raw.get('model.layers.1.self_attn.qkv_proj.weight')!, gateUp = raw.get('model.layers.1.mlp.gate_up_proj.weight')!;
  assert.deepEqual(qkv.shape, [128, 64]); // 4 query heads and 2 + 2 key and value heads of 16
  const q = weights.get('model.layers.1.self_attn.q_proj.weight')!, v = weights.get('model.layers.1.self_attn.v_proj.weight')!;
  assert.deepEqual([q.shape, v.shape], [[64, 64], [32, 64]]);
  assert.deepEqual([...q.data.subarray(0, 4)], [...qkv.data.subarray(0, 4)]);
  assert.deepEqual([...v.data.subarray(0, 64)], [...qkv.data.subarray(96 * 64, 97 * 64)]);
  assert.deepEqual([...weights.get('model.layers.1.mlp.up_proj.weight')!.data.subarray(0, 64)], [...gateUp.data.subarray(96 * 64, 97 * 64)]);
  assert.equal([...weights.keys()].some((n) => /qkv_proj|gate_up_proj/.test(n)), false);
  // Fused again, the file's tensors come back value for value.
  const fused = fusePhi3Weights(config, weights);
  for (const name of ['model.layers.1.self_attn.qkv_proj.weight', 'model.layers.1.mlp.gate_up_proj.weight']) {
    assert.deepEqual(fused.get(name)!.shape, raw.get(name)!.shape);
    assert.deepEqual(fused.get(name)!.data, raw.get(name)!.data, name);
  }
  assert.equal(fused.has('model.layers.0.self_attn.k_proj.weight'), false);
  // Parts that lie in order in one buffer (a float32 load's) are fused without a copy; others are copied.
  assert.equal(fused.get('model.layers.1.self_attn.qkv_proj.weight')!.data.buffer, q.data.buffer);
  const apart: WeightMap = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: t.data.slice() }]));
  const copied = fusePhi3Weights(config, apart).get('model.layers.1.self_attn.qkv_proj.weight')!;
  assert.notEqual(copied.data.buffer, apart.get('model.layers.1.self_attn.q_proj.weight')!.data.buffer);
  assert.deepEqual(copied.data, raw.get('model.layers.1.self_attn.qkv_proj.weight')!.data);
  // Rows that do not stack to this config's parts, and a part held twice, are refused with the tensor named.
  const bad: WeightMap = new Map([['model.layers.0.self_attn.qkv_proj.weight', { shape: [120, 64], data: new Float32Array(120 * 64) }]]);
  assert.throws(() => splitPhi3Weights(config, bad, '/m'), /^Error: \/m: tensor "model\.layers\.0\.self_attn\.qkv_proj\.weight" has shape \[120, 64\]; this config's queries, keys and values stack to \[128, 64\]$/);
  const twice: WeightMap = new Map([
    ['model.layers.0.mlp.gate_up_proj.weight', { shape: [192, 64], data: new Float32Array(192 * 64) }],
    ['model.layers.0.mlp.up_proj.weight', { shape: [96, 64], data: new Float32Array(96 * 64) }],
  ]);
  assert.throws(() => splitPhi3Weights(config, twice, '/m'), /\/m: layer 0 holds "model\.layers\.0\.mlp\.up_proj\.weight" both on its own and inside "model\.layers\.0\.mlp\.gate_up_proj\.weight"/);
});

test('namm convert: a Phi-3 folder to safetensors and back stores the fused projections and gives the same logits', async () => {
  const dir = tempDir('namm-phi3-');
  try {
    const out = join(dir, 'phi3');
    await convertModel({ from: FIXTURE, to: 'safetensors', out });
    const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(hf.model_type, 'phi3');
    assert.deepEqual(hf.rope_scaling, { type: 'longrope', short_factor: [1.0, 1.05, 1.3, 1.9, 2.6, 3.4], long_factor: [1.0, 1.4, 2.5, 5.0, 9.0, 16.0] });
    const names = [...readSafetensors(join(out, 'model.safetensors')).tensors.keys()];
    assert.ok(names.includes('model.layers.0.self_attn.qkv_proj.weight') && names.includes('model.layers.1.mlp.gate_up_proj.weight'));
    assert.equal(names.some((n) => /\.(q|k|v|gate|up)_proj\./.test(n)), false);
    const logits = async (path: string) => (await Model.fromPretrained(path, { weights: 'f32' })).createSessionWith(null, { chunkSize: 8 }).prefill(PROMPT, { logits: 'all' });
    assert.deepEqual(await logits(out), await logits(FIXTURE));
    // Quantised as the (float32) file is read, the fused matrix splits into the rows that quantising each part gives
    // (blocks run along rows).
    const f32 = (await loadModelFiles(FIXTURE, { weights: 'f32' })).weights, q8 = (await loadModelFiles(out, { weights: 'q8_0' })).weights;
    for (const name of ['model.layers.0.self_attn.k_proj.weight', 'model.layers.0.mlp.up_proj.weight']) {
      const part = f32.get(name)!;
      assert.equal(q8.get(name)!.packed!.format, 'q8_0');
      assert.deepEqual(q8.get(name)!.packed!.bytes, packMatrix(part.data, part.shape[0]!, part.shape[1]!, 'q8_0')!.bytes, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function ggufMetadataOf(path: string): GgufMetadata {
  const fd = openSync(path, 'r');
  try { return readGgufHeader(fd, path).metadata; } finally { closeSync(fd); }
}

function ggufTensorsOf(path: string): Map<string, number[]> {
  const fd = openSync(path, 'r');
  try { return new Map(readGgufHeader(fd, path).tensors.map((t) => [t.name, [...t.dims]])); } finally { closeSync(fd); }
}

test('namm convert: a Phi-3 to GGUF is llama.cpp\'s phi3 (fused tensors, LongRoPE factor tensors and keys) and reads back the same', async () => {
  const dir = tempDir('namm-phi3-');
  try {
    const gguf = join(dir, 'phi3.gguf');
    await convertModel({ from: FIXTURE, to: 'gguf', out: gguf });
    const meta = ggufMetadataOf(gguf);
    const value = (k: string) => meta.get(k)?.value;
    assert.equal(value('general.architecture'), 'phi3');
    assert.deepEqual([value('phi3.rope.dimension_count'), value('phi3.rope.scaling.original_context_length'), value('phi3.context_length')], [12, 16, 64]);
    assert.ok(Math.abs((value('phi3.rope.scaling.attn_factor') as number) - Math.sqrt(1.5)) < 1e-7);
    assert.equal(meta.has('namm.rope_scaling') || meta.has('phi3.rope.scaling.type'), false);
    const tensors = ggufTensorsOf(gguf);
    // ggml's dims are innermost first: [in, out].
    assert.deepEqual([tensors.get('blk.0.attn_qkv.weight'), tensors.get('blk.1.ffn_up.weight'), tensors.get('rope_factors_long.weight'), tensors.get('rope_factors_short.weight')], [[64, 128], [64, 192], [6], [6]]);
    assert.equal(tensors.has('blk.0.attn_q.weight') || tensors.has('blk.0.ffn_gate.weight'), false);
    const back = await loadModelFiles(gguf, { weights: 'f32' });
    const from = await loadModelFiles(FIXTURE, { weights: 'f32' });
    assert.deepEqual({ ...back.config, ropeScaling: null }, { ...from.config, ropeScaling: null });
    const [a, b] = [back.config.ropeScaling, from.config.ropeScaling];
    assert.ok(a.type === 'longrope' && b.type === 'longrope');
    assert.deepEqual([a.shortFactors, a.longFactors, a.originalMaxPositions], [b.shortFactors, b.longFactors, b.originalMaxPositions]);
    const logits = async (path: string) => (await Model.fromPretrained(path, { weights: 'f32' })).createSessionWith(null, { chunkSize: 8 }).prefill(PROMPT, { logits: 'all' });
    // The file's attn_factor is the inferred one rounded to float32, read back as that exact value: the same logits.
    assert.equal(a.attentionFactor, b.attentionFactor);
    assert.deepEqual(await logits(gguf), await logits(FIXTURE));
    // And to a folder again: the original config.
    const out = join(dir, 'again');
    await convertModel({ from: gguf, to: 'safetensors', out });
    const hf = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([hf.model_type, hf.original_max_position_embeddings, hf.partial_rotary_factor], ['phi3', 16, 0.75]);
    assert.deepEqual(Object.keys(hf.rope_scaling as object).sort(), ['long_factor', 'short_factor', 'type']);

    // As llama.cpp's converter writes a Phi-3 without a window or an output head (Phi-4-mini ties it): a window of 0
    // is none, and no attn_factor key is a factor of 1.
    const edited = join(dir, 'edited.gguf');
    rewriteGguf(gguf, edited, {
      meta: (m) => { m.set('phi3.attention.sliding_window', { type: 4, value: 0 }); m.delete('phi3.rope.scaling.attn_factor'); },
      tensors: (list) => list.filter((t) => t.name !== 'output.weight'),
    });
    const e = (await loadModelFiles(edited, { weights: 'f32' })).config;
    assert.deepEqual([e.slidingWindow, e.tieEmbeddings, e.ropeScaling.type === 'longrope' && e.ropeScaling.attentionFactor], [undefined, true, 1]);
    // Another attn_factor than the inferred one is kept (as its shortest decimal).
    rewriteGguf(gguf, edited, { meta: (m) => m.set('phi3.rope.scaling.attn_factor', { type: 6, value: 1.5 }) });
    const other = (await loadModelFiles(edited, { weights: 'f32' })).config.ropeScaling;
    assert.equal(other.type === 'longrope' && other.attentionFactor, 1.5);
    const refused = async (edit: Parameters<typeof rewriteGguf>[2], why: RegExp) => {
      rewriteGguf(gguf, edited, edit);
      await assert.rejects(loadModelFiles(edited, { weights: 'f32' }), why);
    };
    await refused({ tensors: (list) => list.filter((t) => t.name !== 'rope_factors_short.weight') }, /edited\.gguf: tensor "rope_factors_short\.weight" is missing beside "rope_factors_long\.weight" \(LongRoPE needs both\)/);
    await refused({ tensors: (list) => list.map((t) => (t.name === 'rope_factors_long.weight' ? { ...t, dims: [5], bytes: t.bytes.subarray(0, 20) } : t)) },
      /tensor "rope_factors_long\.weight" must hold 6 values \(one per rotary pair\), got shape \[5\]/);
    await refused({ tensors: (list) => [...list, { ...list.find((t) => t.name === 'rope_factors_long.weight')!, name: 'rope_freqs.weight' }] },
      /edited\.gguf: tensor "rope_freqs\.weight" beside LongRoPE's "rope_factors_long\.weight": two RoPE scalings, which namm does not combine/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
