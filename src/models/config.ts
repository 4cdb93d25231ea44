/**
 * Hugging Face `config.json` → ModelConfig. Each supported `model_type` maps onto one of the two architectures the
 * runtime implements (Llama family, GPT-2 family); anything else is refused by name rather than run wrongly.
 */
import type { ModelConfig, RopeScaling } from './types.js';
import { MiB, readFileLimited } from '../util/files.js';
import { shortJson, showValue } from '../util/show.js';
import { checkArg } from '../util/args.js';
import { isPhi3Checkpoint } from './phi3.js';

type Json = Record<string, unknown>;

/** Reads config keys with errors that name the key and the file. */
class ConfigReader {
  constructor(private readonly json: Json, readonly source: string) {}

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  raw(key: string): unknown {
    return this.json[key];
  }

  /** A positive integer size; `fallback` is used only when the key is absent or null. */
  size(key: string, fallback?: number): number {
    if (!this.has(key)) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${this.source}: required key "${key}" is missing`);
    }
    const v = this.json[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`${this.source}: "${key}" must be a positive integer, got ${shortJson(v)}`);
    }
    return v;
  }

  positive(key: string, fallback: number): number {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new Error(`${this.source}: "${key}" must be a positive number, got ${shortJson(v)}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    if (!this.has(key)) return fallback;
    const v = this.json[key];
    if (typeof v !== 'boolean') throw new Error(`${this.source}: "${key}" must be true or false, got ${shortJson(v)}`);
    return v;
  }

  /** A token id that may be absent (null). */
  tokenId(key: string): number | null {
    if (!this.has(key)) return null;
    const v = this.json[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new Error(`${this.source}: "${key}" must be a non-negative integer token id, got ${shortJson(v)}`);
    }
    return v;
  }

  /** A token id or a list of them (HF allows both for eos_token_id). */
  tokenIds(key: string): number[] {
    if (!this.has(key)) return [];
    const v = this.json[key];
    const list = Array.isArray(v) ? v : [v];
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
        throw new Error(`${this.source}: "${key}" must be a token id or a list of token ids, got ${shortJson(v)}`);
      }
    }
    return list as number[];
  }
}

const LLAMA_FAMILY = new Set(['llama', 'mistral', 'qwen2', 'qwen3', 'phi3']);

/** Parses a HF config.json object. `source` names the file in error messages. */
export function parseHfConfig(json: unknown, source = 'config.json'): ModelConfig {
  if (typeof source !== 'string' || source === '') source = 'config.json';
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object at the top level`);
  }
  const r = new ConfigReader(json as Json, source);
  const modelType = r.raw('model_type');
  if (typeof modelType !== 'string') throw new Error(`${source}: required key "model_type" is missing or not a string`);
  if (modelType === 'gpt2') return parseGpt2(r, source);
  if (LLAMA_FAMILY.has(modelType)) return parseLlamaFamily(r, modelType, source);
  if (modelType === 'gemma3_text') return parseGemma3Text(r, source);
  if (modelType === 'gemma3') return parseGemma3Text(gemma3TextConfig(r, source), source);
  throw new Error(
    `${source}: model_type "${modelType}" is not supported (supported: llama, mistral, qwen2, qwen3, phi3, gemma3_text, gpt2; SmolLM and TinyLlama use "llama", Phi-3, Phi-3.5 and Phi-4-mini "phi3", Gemma 3 1B "gemma3_text")`,
  );
}

function parseLlamaFamily(r: ConfigReader, modelType: string, source: string): ModelConfig {
  const hiddenSize = r.size('hidden_size');
  const nHeads = r.size('num_attention_heads');
  const nKvHeads = r.size('num_key_value_heads', nHeads);
  const isQwen3 = modelType === 'qwen3';
  // Qwen3Config's head_dim is 128 when the key is absent (the released models' value), not hidden_size / heads.
  if (!r.has('head_dim') && !isQwen3 && hiddenSize % nHeads !== 0) {
    throw new Error(`${source}: num_attention_heads (${nHeads}) does not divide hidden_size (${hiddenSize})`);
  }
  if (nHeads % nKvHeads !== 0) {
    throw new Error(`${source}: num_key_value_heads (${nKvHeads}) does not divide num_attention_heads (${nHeads})`);
  }
  const headDim = r.size('head_dim', isQwen3 ? 128 : hiddenSize / nHeads);
  const maxPositions = r.size('max_position_embeddings');

  const act = r.has('hidden_act') ? r.raw('hidden_act') : 'silu';
  if (act !== 'silu' && act !== 'swish') {
    throw new Error(`${source}: hidden_act "${String(act)}" is not supported for ${modelType} (only "silu")`);
  }
  let partial = r.positive('partial_rotary_factor', 1);

  // transformers v5 moves rope settings into `rope_parameters` (partial_rotary_factor too); older files keep
  // rope_theta + rope_scaling.
  const ropeParams = r.raw('rope_parameters');
  let ropeTheta = r.positive('rope_theta', 10000);
  let scalingJson: unknown = r.raw('rope_scaling');
  if (ropeParams && typeof ropeParams === 'object' && !Array.isArray(ropeParams)) {
    const entries = Object.entries(ropeParams as Json);
    // A model with `layer_types` gets one set per layer type ({"full_attention": {…}, "sliding_attention": {…}}):
    // read as a flat set it had no rope_type and no rope_theta, so it ran as plain RoPE with θ = 10000. (Lists are
    // values of one set: LongRoPE's factors.)
    if (entries.some(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      throw new Error(`${source}: rope_parameters holds a set per layer type (${entries.map(([k]) => JSON.stringify(k)).join(', ')}); namm reads one set for every layer`);
    }
    const p = new ConfigReader(ropeParams as Json, `${source} (rope_parameters)`);
    ropeTheta = p.positive('rope_theta', ropeTheta);
    partial = p.positive('partial_rotary_factor', partial);
    scalingJson = ropeParams;
  }
  if (partial > 1) throw new Error(`${source}: "partial_rotary_factor" must be in (0, 1], got ${partial}`);
  const isPhi3 = modelType === 'phi3';
  // Phi3Config's original_max_position_embeddings is 4,096 when the key is absent (the released models' value).
  const topLevelOriginal = r.has('original_max_position_embeddings') ? r.size('original_max_position_embeddings') : isPhi3 ? 4096 : undefined;
  let ropeScaling = parseRopeScaling(scalingJson, maxPositions, source, topLevelOriginal);
  if (ropeScaling.type === 'longrope') checkLongRopeFactors(ropeScaling, Math.floor(headDim * partial / 2), source);
  // transformers' Phi3Config takes LongRoPE or none (version 4 refuses any other type; 5 names only these two).
  if (isPhi3 && ropeScaling.type !== 'none' && ropeScaling.type !== 'longrope') {
    throw new Error(`${source}: a phi3 model's RoPE scaling must be "longrope" (or "su"), got "${ropeScaling.type}", which transformers' Phi3Config refuses too`);
  }
  // transformers' dynamic NTK takes max_position_embeddings as the original context (its rotary embedding's
  // original_max_seq_len) and never reads an original_max_position_embeddings beside the factor.
  if (ropeScaling.type === 'dynamic') ropeScaling = { ...ropeScaling, originalMaxPositions: maxPositions };

  // Llama/Mistral/Qwen3: `attention_bias` covers q, k, v and o together; Qwen2 always has q/k/v biases and no o bias.
  const attentionBias = r.bool('attention_bias', false);
  const isQwen2 = modelType === 'qwen2';
  const nLayers = r.size('num_hidden_layers');
  // Mistral applies `sliding_window` whenever it is set, on every layer; Qwen2 and Qwen3 only with
  // `use_sliding_window`, and on the layers their layer_types (or max_window_layers) say; Llama has none.
  const window = r.raw('sliding_window');
  let slidingWindow: number | undefined, slidingLayers: number[] | undefined;
  if (isQwen2 || isQwen3) {
    ({ window: slidingWindow, layers: slidingLayers } = qwenWindow(r, modelType, nLayers, source) ?? {});
  } else if (modelType === 'mistral' && window !== null) {
    // MistralConfig's default when the key is absent (only an explicit null turns it off)
    slidingWindow = window === undefined ? 4096 : r.size('sliding_window');
  } else if (isPhi3 && r.has('sliding_window')) {
    // Phi-3 applies sliding_window whenever it is set (Phi-3-mini-4k's 2,047), on every layer; absent means none.
    slidingWindow = r.size('sliding_window');
  }
  return {
    arch: 'llama',
    modelType,
    vocabSize: r.size('vocab_size'),
    hiddenSize,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    intermediateSize: r.size('intermediate_size'),
    maxPositions,
    normEps: r.positive('rms_norm_eps', isPhi3 ? 1e-5 : 1e-6),
    ropeTheta,
    ropeScaling,
    ropeLayout: 'half',
    partialRotaryFactor: partial,
    // Phi-3's projections have no biases, whatever the config says (Phi3Attention and Phi3MLP make none).
    attnQkvBias: isQwen2 ? true : isPhi3 ? false : attentionBias,
    attnOutBias: isQwen2 || isPhi3 ? false : attentionBias,
    // Qwen3's MLP has no biases and its config no mlp_bias (transformers ignores one).
    mlpBias: isQwen3 || isPhi3 ? false : r.bool('mlp_bias', false),
    ...(isQwen3 ? { qkNorm: true } : {}),
    activation: 'silu',
    tieEmbeddings: r.bool('tie_word_embeddings', false),
    bosTokenId: r.tokenId('bos_token_id'),
    eosTokenIds: r.tokenIds('eos_token_id'),
    // Kept even when it is not shorter than max_position_embeddings: a Llama-family model runs past that (RoPE has no
    // table to run out of), and transformers' mask applies the window at every length.
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(slidingLayers !== undefined && slidingLayers.length < nLayers ? { slidingLayers } : {}),
  };
}

/**
 * The text model's config of a Gemma 3 image-and-text file (`gemma3`, Gemma3ForConditionalGeneration: the 4B, 12B and
 * 27B releases): its `text_config`, with the file's top-level token ids where the text config names none. The loader
 * reads its language model's weights under the text model's names and leaves the image tower unread.
 */
function gemma3TextConfig(r: ConfigReader, source: string): ConfigReader {
  const text = r.raw('text_config');
  if (text === null || typeof text !== 'object' || Array.isArray(text)) throw new Error(`${source}: a "gemma3" config needs a "text_config" object (its language model's)`);
  const t = text as Json;
  // Gemma3ForConditionalGeneration never applies final_logit_softcapping (transformers 5.18; the releases set null).
  const merged: Json = { ...t, model_type: 'gemma3_text', final_logit_softcapping: null };
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id', 'tie_word_embeddings']) {
    if (merged[key] === undefined && r.raw(key) !== undefined) merged[key] = r.raw(key);
  }
  return new ConfigReader(merged, `${source} (text_config)`);
}

/**
 * Gemma 3's text model (HF Gemma3TextConfig, `gemma3_text`; Gemma 3 1B), read as transformers reads it: head_dim 256,
 * query_pre_attn_scalar 256, rms_norm_eps 1e-6, rope_theta 1e6 with rope_scaling on the full-attention layers and
 * rope_local_base_freq 10,000 unscaled on the sliding ones, a window of sliding_window (4,096 when absent) on the layers
 * layer_types makes "sliding_attention" (without layer_types, every layer but each sliding_window_pattern-th (6)),
 * tied embeddings, BOS 2 and EOS 1 when absent, attention_bias on q, k, v and o together; transformers 5's
 * rope_parameters with a set per layer type too; final_logit_softcapping when set (attn_logit_softcapping, which
 * transformers never applies, is ignored). Bidirectional attention (EmbeddingGemma's) is refused by name.
 */
function parseGemma3Text(r: ConfigReader, source: string): ModelConfig {
  // Gemma3TextConfig's defaults where a key is absent: a multimodal file's text_config often names only what differs.
  const hiddenSize = r.size('hidden_size', 2304);
  const nHeads = r.size('num_attention_heads', 8);
  const nKvHeads = r.size('num_key_value_heads', 4);
  if (nHeads % nKvHeads !== 0) throw new Error(`${source}: num_key_value_heads (${nKvHeads}) does not divide num_attention_heads (${nHeads})`);
  const nLayers = r.size('num_hidden_layers', 26);
  const act = r.has('hidden_activation') ? r.raw('hidden_activation') : 'gelu_pytorch_tanh';
  if (act !== 'gelu_pytorch_tanh') {
    throw new Error(`${source}: hidden_activation ${shortJson(act)} is not supported for gemma3_text (only "gelu_pytorch_tanh", the tanh GELU)`);
  }
  // attn_logit_softcapping is read by Gemma3TextConfig but never used by its attention (transformers 4.57 and 5.18):
  // ignored here too. final_logit_softcapping caps the logits (cap · tanh(logit / cap)).
  const finalCap = r.has('final_logit_softcapping') ? r.positive('final_logit_softcapping', 1) : undefined;
  if (r.bool('use_bidirectional_attention', false)) throw new Error(`${source}: "use_bidirectional_attention" is true (an embedding model's attention), which namm does not run`);
  const maxPositions = r.size('max_position_embeddings', 131072);
  // Rope: one set for the full-attention layers (rope_theta, rope_scaling) and the sliding layers' own base; in
  // transformers 5, rope_parameters with a set per layer type.
  let ropeTheta = r.positive('rope_theta', 1e6), localRopeTheta = r.positive('rope_local_base_freq', 10000);
  let scalingJson: unknown = r.raw('rope_scaling');
  const ropeParams = r.raw('rope_parameters');
  if (ropeParams !== undefined && ropeParams !== null) {
    if (typeof ropeParams !== 'object' || Array.isArray(ropeParams)) throw new Error(`${source}: "rope_parameters" must be an object, got ${shortJson(ropeParams)}`);
    const sets = ropeParams as Json;
    const perType = Object.values(sets).some((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
    const full = perType ? sets.full_attention : sets;
    if (full !== undefined && (full === null || typeof full !== 'object' || Array.isArray(full))) throw new Error(`${source}: rope_parameters.full_attention must be an object`);
    if (full) {
      ropeTheta = new ConfigReader(full as Json, `${source} (rope_parameters)`).positive('rope_theta', ropeTheta);
      scalingJson = full;
    }
    const local = perType ? sets.sliding_attention : undefined;
    if (local !== undefined) {
      if (local === null || typeof local !== 'object' || Array.isArray(local)) throw new Error(`${source}: rope_parameters.sliding_attention must be an object`);
      const lr = new ConfigReader(local as Json, `${source} (rope_parameters.sliding_attention)`);
      const type = lr.raw('rope_type') ?? lr.raw('type') ?? 'default';
      if (type !== 'default') throw new Error(`${source}: the sliding layers' RoPE must be "default" (unscaled, as Gemma 3's), got ${shortJson(type)}`);
      localRopeTheta = lr.positive('rope_theta', localRopeTheta);
    }
  }
  const headDim = r.size('head_dim', 256);
  const ropeScaling = parseRopeScaling(scalingJson, maxPositions, source, r.has('original_max_position_embeddings') ? r.size('original_max_position_embeddings') : undefined);
  if (ropeScaling.type === 'longrope' || ropeScaling.type === 'dynamic') {
    throw new Error(`${source}: a gemma3_text model's RoPE scaling "${ropeScaling.type}" is not supported (Gemma 3 uses none or "linear")`);
  }
  // Sliding layers: layer_types, else all but every sliding_window_pattern-th.
  let layers: number[];
  if (r.has('layer_types')) {
    const types = r.raw('layer_types');
    if (!Array.isArray(types) || types.length !== nLayers) throw new Error(`${source}: "layer_types" must list ${nLayers} layer types (num_hidden_layers), got ${shortJson(types)}`);
    const other = types.findIndex((t) => t !== 'full_attention' && t !== 'sliding_attention');
    if (other >= 0) throw new Error(`${source}: "layer_types" entry ${other} is ${shortJson(types[other])}, which namm does not run (it runs "full_attention" and "sliding_attention" layers)`);
    layers = types.flatMap((t, i) => (t === 'sliding_attention' ? [i] : []));
  } else {
    const pattern = r.size('sliding_window_pattern', 6);
    layers = Array.from({ length: nLayers }, (_, i) => i).filter((i) => (i + 1) % pattern !== 0);
  }
  if (layers.length > 0 && r.raw('sliding_window') === null) throw new Error(`${source}: layer ${layers[0]} is a sliding layer but "sliding_window" is null`);
  const slidingWindow = layers.length > 0 ? r.size('sliding_window', 4096) : undefined;
  const attentionBias = r.bool('attention_bias', false);
  const bos = r.tokenId('bos_token_id'), eos = r.tokenIds('eos_token_id');
  return {
    arch: 'llama',
    modelType: 'gemma3_text',
    vocabSize: r.size('vocab_size', 262208),
    hiddenSize,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    intermediateSize: r.size('intermediate_size', 9216),
    maxPositions,
    normEps: r.positive('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    ropeLayout: 'half',
    partialRotaryFactor: 1,
    attnQkvBias: attentionBias,
    attnOutBias: attentionBias,
    mlpBias: false,
    qkNorm: true,
    activation: 'gelu_tanh',
    gemma: {
      embedScale: Math.fround(Math.sqrt(hiddenSize)), queryPreAttnScalar: r.positive('query_pre_attn_scalar', 256), localRopeTheta,
      ...(finalCap !== undefined ? { finalLogitSoftcap: finalCap } : {}),
    },
    tieEmbeddings: r.bool('tie_word_embeddings', true),
    // An explicit null is none, as in transformers; an absent key is Gemma3TextConfig's default.
    bosTokenId: r.raw('bos_token_id') === undefined ? 2 : bos,
    eosTokenIds: r.raw('eos_token_id') === undefined ? [1] : eos,
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(slidingWindow !== undefined && layers.length < nLayers ? { slidingLayers: layers } : {}),
  };
}

/**
 * Qwen2's and Qwen3's sliding window, as their configs and attention layers apply it: a window of `sliding_window`
 * tokens (4,096 when the key is absent) on the layers whose `layer_types` entry is "sliding_attention", and only with
 * `use_sliding_window`; without `layer_types` (configs written before transformers wrote it), on layers
 * max_window_layers (28 when absent) and up. No window when no layer slides. namm windows those layers and runs the
 * others with full attention (rope.ts layerWindows), and writes the same layers back. A layer type other than full
 * and sliding attention is refused by name, and so is a Qwen3 sliding layer without a window (Qwen3's attention fails on it; Qwen2's
 * runs it with full attention).
 */
function qwenWindow(r: ConfigReader, modelType: string, nLayers: number, source: string): { window: number; layers: number[] } | undefined {
  const use = r.bool('use_sliding_window', false);
  const window = use && r.raw('sliding_window') !== null ? r.size('sliding_window', 4096) : undefined;
  const types = r.raw('layer_types');
  let layers: number[];
  if (types === undefined || types === null) {
    if (window === undefined) return undefined;
    const firstSliding = r.has('max_window_layers') ? r.raw('max_window_layers') : 28;
    if (typeof firstSliding !== 'number' || !Number.isSafeInteger(firstSliding) || firstSliding < 0) {
      throw new Error(`${source}: "max_window_layers" must be an integer ≥ 0, got ${shortJson(firstSliding)}`);
    }
    layers = Array.from({ length: Math.max(0, nLayers - firstSliding) }, (_, i) => firstSliding + i);
  } else {
    if (!Array.isArray(types) || types.length !== nLayers) {
      throw new Error(`${source}: "layer_types" must be a list of one entry per layer (num_hidden_layers ${nLayers}), got ${shortJson(types)}`);
    }
    const other = types.findIndex((t) => t !== 'full_attention' && t !== 'sliding_attention');
    if (other >= 0) {
      throw new Error(`${source}: "layer_types" entry ${other} is ${shortJson(types[other])}, which namm does not run (it runs "full_attention" and "sliding_attention" layers)`);
    }
    layers = types.flatMap((t, i) => (t === 'sliding_attention' ? [i] : []));
    if (layers.length > 0 && window === undefined && modelType === 'qwen3') {
      throw new Error(`${source}: "layer_types" makes layer ${layers[0]} "sliding_attention" but the config sets no window (${use ? '"sliding_window": null' : '"use_sliding_window" is not true'}), which transformers cannot run either`);
    }
  }
  return window !== undefined && layers.length > 0 ? { window, layers } : undefined;
}

function parseGpt2(r: ConfigReader, source: string): ModelConfig {
  const hiddenSize = r.size('n_embd');
  const nHeads = r.size('n_head');
  if (hiddenSize % nHeads !== 0) throw new Error(`${source}: n_head (${nHeads}) does not divide n_embd (${hiddenSize})`);
  const act = r.has('activation_function') ? r.raw('activation_function') : 'gelu_new';
  let activation: ModelConfig['activation'];
  if (act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast') activation = 'gelu_tanh';
  else if (act === 'gelu') activation = 'gelu_erf';
  else throw new Error(`${source}: activation_function "${String(act)}" is not supported for gpt2 (gelu_new, gelu)`);
  // HF's GPT2Attention honours these two; namm scales every layer's scores by 1/√head_dim only.
  if (r.has('scale_attn_weights') && r.raw('scale_attn_weights') !== true) {
    throw new Error(`${source}: "scale_attn_weights": ${shortJson(r.raw('scale_attn_weights'))} is not supported (namm scales attention scores by 1/√head_dim, as the default true does)`);
  }
  if (r.has('scale_attn_by_inverse_layer_idx') && r.raw('scale_attn_by_inverse_layer_idx') !== false) {
    throw new Error(`${source}: "scale_attn_by_inverse_layer_idx": ${shortJson(r.raw('scale_attn_by_inverse_layer_idx'))} is not supported (namm does not divide the scores by the layer index)`);
  }
  const eos = r.tokenIds('eos_token_id');
  const vocabSize = r.size('vocab_size');
  return {
    arch: 'gpt2',
    modelType: 'gpt2',
    vocabSize,
    hiddenSize,
    nLayers: r.size('n_layer'),
    nHeads,
    nKvHeads: nHeads,
    headDim: hiddenSize / nHeads,
    intermediateSize: r.size('n_inner', 4 * hiddenSize),
    maxPositions: r.size('n_positions'),
    normEps: r.positive('layer_norm_epsilon', 1e-5),
    ropeTheta: 10000,
    ropeScaling: { type: 'none' },
    ropeLayout: 'half',
    partialRotaryFactor: 1,
    attnQkvBias: true,
    attnOutBias: true,
    mlpBias: true,
    activation,
    tieEmbeddings: r.bool('tie_word_embeddings', true),
    // transformers' GPT2Config defaults, 50256, exist only in a vocabulary that holds them; a smaller model's config
    // without the fields names no token (the tokenizer's then serve, see loadModelFiles).
    bosTokenId: r.has('bos_token_id') ? r.tokenId('bos_token_id') : vocabSize > 50256 ? 50256 : null,
    eosTokenIds: r.has('eos_token_id') ? eos : vocabSize > 50256 ? [50256] : [],
  };
}

/**
 * HF `rope_scaling` (or v5 `rope_parameters`) → RopeScaling. `topLevelOriginal` is the config's own
 * `original_max_position_embeddings` (Phi-3 style), which HF puts before the one inside a llama3 or YaRN rope_scaling.
 */
export function parseRopeScaling(json: unknown, maxPositions: number, source: string, topLevelOriginal?: number): RopeScaling {
  if (json === undefined || json === null) return { type: 'none' };
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${source}: "rope_scaling" must be an object or null, got ${shortJson(json)}`);
  }
  const r = new ConfigReader(json as Json, `${source} (rope_scaling)`);
  const type = r.raw('rope_type') ?? r.raw('type');
  if (type === undefined || type === null || type === 'default') return { type: 'none' };
  const factor = (): number => {
    if (!r.has('factor')) throw new Error(`${source}: rope_scaling of type "${String(type)}" needs "factor"`);
    return r.positive('factor', 1);
  };
  switch (type) {
    case 'linear':
      return { type: 'linear', factor: factor() };
    case 'dynamic':
      // The key is read for namm's own GGUF key; a config.json's is not (parseLlamaFamily: transformers ignores it).
      return { type: 'dynamic', factor: factor(), originalMaxPositions: r.size('original_max_position_embeddings', maxPositions) };
    case 'ntk':
      return { type: 'ntk', factor: factor(), alpha: r.positive('alpha', 1) };
    case 'llama3':
      return {
        type: 'llama3',
        factor: factor(),
        lowFreqFactor: r.positive('low_freq_factor', 1),
        highFreqFactor: r.positive('high_freq_factor', 4),
        // transformers 5 (`standardize_rope_params`): the config's top-level value first, then rope_scaling's, then
        // max_position_embeddings.
        originalMaxPositions: topLevelOriginal ?? r.size('original_max_position_embeddings', maxPositions),
      };
    case 'yarn':
      return parseYarn(r, maxPositions, topLevelOriginal);
    case 'longrope':
    case 'su': // LongRoPE's name in the first Phi-3 configs (transformers 4 and llama.cpp read it as longrope)
      return parseLongRope(r, maxPositions, topLevelOriginal);
    default:
      throw new Error(
        `${source}: rope_scaling type "${String(type)}" is not supported (supported: linear, dynamic, ntk, llama3, yarn, longrope)`,
      );
  }
}

/**
 * A LongRoPE rope_scaling, as transformers 5 resolves it (`standardize_rope_params`, `_compute_longrope_parameters`):
 * the original context is the config's top-level original_max_position_embeddings (Phi-3's), else rope_scaling's,
 * else max_position_embeddings; the scale is rope_scaling's `factor`, else max_position_embeddings over the original
 * context (transformers 4 took that ratio even beside a factor; Phi-3's configs have no factor, so both agree on
 * them). `attention_factor` absent → √(1 + ln scale / ln original) for a scale above 1, else 1. The factor lists are
 * checked against the rotary pairs by the caller (checkLongRopeFactors).
 */
function parseLongRope(r: ConfigReader, maxPositions: number, topLevelOriginal: number | undefined): RopeScaling {
  const originalMaxPositions = topLevelOriginal ?? r.size('original_max_position_embeddings', maxPositions);
  const scale = r.has('factor') ? r.positive('factor', 1) : maxPositions / originalMaxPositions;
  const inferred = longRopeAttentionFactor(scale, originalMaxPositions);
  const list = (key: string): number[] => {
    const v = r.raw(key);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
      throw new Error(`${r.source}: "${key}" must be a list of positive numbers (one per rotary pair), got ${shortJson(v)}`);
    }
    return v as number[];
  };
  return {
    type: 'longrope', shortFactors: list('short_factor'), longFactors: list('long_factor'), originalMaxPositions,
    attentionFactor: r.positive('attention_factor', inferred),
  };
}

/** LongRoPE's attention factor for a scale of the context, as transformers infers it: √(1 + ln scale / ln original), 1 up to a scale of 1. */
export function longRopeAttentionFactor(scale: number, originalMaxPositions: number): number {
  return scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(originalMaxPositions));
}

/** LongRoPE's two factor lists must hold one value per rotary pair (transformers refuses other lengths too). */
function checkLongRopeFactors(s: Extract<RopeScaling, { type: 'longrope' }>, pairs: number, source: string): void {
  for (const [key, list] of [['short_factor', s.shortFactors], ['long_factor', s.longFactors]] as const) {
    if (list.length !== pairs) {
      throw new Error(`${source}: rope_scaling "${key}" holds ${list.length} values; this model's heads rotate ${pairs} pairs (head_dim × partial_rotary_factor / 2), one factor each`);
    }
  }
}

/** YaRN's attention factor from its scale, as HF infers it (`get_mscale`): 1 up to a scale of 1, then 0.1·m·ln(scale) + 1. */
export function yarnMscale(scale: number, m = 1): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

/**
 * A YaRN rope_scaling, with HF's defaults (transformers 5, `_compute_yarn_parameters`): `original_max_position_embeddings`
 * from the config's top level, else rope_scaling's, else max_position_embeddings; `factor` absent → max_position_embeddings
 * over that; `attention_factor` absent → mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are set
 * (non-zero), else mscale(factor); `beta_fast` / `beta_slow` absent or 0 → 32 / 1; `truncate` → true.
 */
function parseYarn(r: ConfigReader, maxPositions: number, topLevelOriginal: number | undefined): RopeScaling {
  const originalMaxPositions = topLevelOriginal ?? r.size('original_max_position_embeddings', maxPositions);
  const factor = r.has('factor') ? r.positive('factor', 1) : maxPositions / originalMaxPositions;
  // Python's `x or default`: 0 (or null) takes the default.
  const orDefault = (key: string, fallback: number) => (r.raw(key) === 0 ? fallback : r.positive(key, fallback));
  const mscale = orDefault('mscale', 0), mscaleAllDim = orDefault('mscale_all_dim', 0);
  const inferred = mscale && mscaleAllDim ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim) : yarnMscale(factor);
  return {
    type: 'yarn', factor, originalMaxPositions, attentionFactor: r.positive('attention_factor', inferred),
    betaFast: orDefault('beta_fast', 32), betaSlow: orDefault('beta_slow', 1), truncate: r.bool('truncate', true),
  };
}

/**
 * Checks a ModelConfig built by hand (the loaders' configs pass by construction): every size a positive safe
 * integer, the head counts consistent, every number finite and in range, every enum one the runtime implements.
 * Throws a RangeError (TypeError for a wrong type) that names the field; `Model` calls it before building anything.
 */
export function validateModelConfig(config: ModelConfig): void {
  if (config === null || typeof config !== 'object') throw new TypeError(`model config must be an object, got ${config === null ? 'null' : typeof config}`);
  const c = config as unknown as Record<string, unknown>;
  const bad = (field: string, want: string): never => {
    throw new RangeError(`model config: ${field} must be ${want}, got ${showValue(c[field])}`);
  };
  if (c.arch !== 'llama' && c.arch !== 'gpt2') bad('arch', '"llama" or "gpt2"');
  if (typeof c.modelType !== 'string') bad('modelType', 'a string');
  for (const k of ['vocabSize', 'hiddenSize', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'intermediateSize', 'maxPositions'] as const) {
    if (!Number.isSafeInteger(c[k]) || (c[k] as number) < 1) bad(k, 'a positive integer');
  }
  if ((config.nHeads % config.nKvHeads) !== 0) {
    throw new RangeError(`model config: nKvHeads (${config.nKvHeads}) must divide nHeads (${config.nHeads})`);
  }
  if (typeof c.normEps !== 'number' || !Number.isFinite(c.normEps) || c.normEps <= 0) bad('normEps', 'a positive finite number');
  if (typeof c.ropeTheta !== 'number' || !Number.isFinite(c.ropeTheta) || c.ropeTheta <= 0) bad('ropeTheta', 'a positive finite number');
  if (c.ropeLayout !== 'half' && c.ropeLayout !== 'interleaved') bad('ropeLayout', '"half" or "interleaved"');
  if (typeof c.partialRotaryFactor !== 'number' || !(c.partialRotaryFactor > 0 && c.partialRotaryFactor <= 1)) {
    bad('partialRotaryFactor', 'a number in (0, 1]');
  }
  for (const k of ['attnQkvBias', 'attnOutBias', 'mlpBias', 'tieEmbeddings'] as const) if (typeof c[k] !== 'boolean') bad(k, 'true or false');
  if (c.qkNorm !== undefined && typeof c.qkNorm !== 'boolean') bad('qkNorm', 'true, false or absent');
  if (c.qkNorm === true && c.arch !== 'llama') throw new RangeError(`model config: qkNorm (per-head q/k RMSNorm, Qwen3's) applies to the llama family, not ${String(c.arch)}`);
  if (c.gemma !== undefined) {
    const g = c.gemma as Record<string, unknown> | null;
    if (g === null || typeof g !== 'object') bad('gemma', 'absent, or { embedScale, queryPreAttnScalar, localRopeTheta }');
    const unknown = Object.keys(g!).find((k) => !['embedScale', 'queryPreAttnScalar', 'localRopeTheta', 'finalLogitSoftcap'].includes(k));
    if (unknown !== undefined) throw new RangeError(`model config: gemma has no field "${unknown}" (it takes embedScale, queryPreAttnScalar, localRopeTheta and finalLogitSoftcap)`);
    for (const k of ['embedScale', 'queryPreAttnScalar', 'localRopeTheta', 'finalLogitSoftcap']) {
      const v = g![k];
      if (k === 'finalLogitSoftcap' && v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`model config: gemma.${k} must be a positive finite number, got ${showValue(v)}`);
    }
    if (c.arch !== 'llama' || c.qkNorm !== true || c.activation !== 'gelu_tanh') {
      throw new RangeError('model config: gemma (Gemma 3\'s layer) goes with arch "llama", qkNorm true and activation "gelu_tanh"');
    }
  }
  const acts = config.arch === 'llama' ? (c.gemma !== undefined ? ['gelu_tanh'] : ['silu']) : ['gelu_tanh', 'gelu_erf'];
  if (!acts.includes(c.activation as string)) bad('activation', `one of ${acts.map((a) => `"${a}"`).join(', ')} for ${config.arch}${config.arch === 'llama' && c.gemma === undefined ? ' (gelu_tanh with gemma)' : ''}`);
  if (c.bosTokenId !== null && (!Number.isSafeInteger(c.bosTokenId) || (c.bosTokenId as number) < 0)) bad('bosTokenId', 'null or a token id (an integer ≥ 0)');
  if (!Array.isArray(c.eosTokenIds) || !c.eosTokenIds.every((id) => Number.isSafeInteger(id) && id >= 0)) bad('eosTokenIds', 'an array of token ids');
  // An id past the vocabulary was taken as the end of sequence, which no logit can be: generation ran past the real
  // end token to its length limit (generation_config.json's eos_token_id 99999 for a 2,048-token model).
  const vocab = c.vocabSize as number;
  if (c.bosTokenId !== null && (c.bosTokenId as number) >= vocab) bad('bosTokenId', `null or a token id of the vocabulary (0..${vocab - 1})`);
  const eosOutside = (c.eosTokenIds as number[]).find((id) => id >= vocab);
  if (eosOutside !== undefined) throw new RangeError(`model config: eosTokenIds must be token ids of the vocabulary (0..${vocab - 1}), got ${eosOutside} among them`);
  if (c.slidingWindow !== undefined && (!Number.isSafeInteger(c.slidingWindow) || (c.slidingWindow as number) < 1)) bad('slidingWindow', 'a positive integer or absent');
  if (c.slidingLayers !== undefined) {
    const l = c.slidingLayers as unknown[], n = c.nLayers as number;
    if (c.slidingWindow === undefined) bad('slidingLayers', 'absent when there is no slidingWindow');
    if (!Array.isArray(l) || l.length === 0 || !l.every((x, i) => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < n && (i === 0 || (x as number) > (l[i - 1] as number)))) {
      bad('slidingLayers', `absent, or layer indices (0..${n - 1}) in strictly ascending order`);
    }
  }
  validateRopeScaling(config.ropeScaling, Math.floor(config.headDim * config.partialRotaryFactor / 2));
}

function validateRopeScaling(s: RopeScaling, pairs: number): void {
  const r = s as unknown as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object') throw new TypeError(`model config: ropeScaling must be an object such as { type: 'none' }, got ${showValue(r)}`);
  const fields: Record<string, string[]> = {
    none: [], linear: ['factor'], ntk: ['factor', 'alpha'], dynamic: ['factor', 'originalMaxPositions'],
    llama3: ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalMaxPositions'], factors: [],
    yarn: ['factor', 'originalMaxPositions', 'attentionFactor', 'betaFast', 'betaSlow'],
    longrope: ['originalMaxPositions', 'attentionFactor'],
  };
  const want = typeof r.type === 'string' ? fields[r.type] : undefined;
  if (!want) throw new RangeError(`model config: ropeScaling.type must be one of ${Object.keys(fields).join(', ')}, got ${showValue(r.type)}`);
  if (r.type === 'factors') {
    const f = r.factors;
    if (!Array.isArray(f) || f.length !== pairs || !f.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
      throw new RangeError(`model config: ropeScaling.factors must be ${pairs} positive finite numbers (one per rotary pair), got ${Array.isArray(f) ? `${f.length} values` : showValue(f)}`);
    }
  }
  if (r.type === 'longrope') {
    for (const k of ['shortFactors', 'longFactors']) {
      const f = r[k];
      if (!Array.isArray(f) || f.length !== pairs || !f.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
        throw new RangeError(`model config: ropeScaling.${k} must be ${pairs} positive finite numbers (one per rotary pair), got ${Array.isArray(f) ? `${f.length} values` : showValue(f)}`);
      }
    }
  }
  if (r.type === 'yarn' && typeof r.truncate !== 'boolean') throw new RangeError(`model config: ropeScaling.truncate (type "yarn") must be true or false, got ${showValue(r.truncate)}`);
  for (const k of want) {
    const v = r[k];
    const ok = k === 'originalMaxPositions' ? Number.isSafeInteger(v) && (v as number) >= 1 : typeof v === 'number' && Number.isFinite(v) && v > 0;
    if (!ok) throw new RangeError(`model config: ropeScaling.${k} (type "${r.type}") must be a positive ${k === 'originalMaxPositions' ? 'integer' : 'finite number'}, got ${showValue(v)}`);
  }
}


/** ModelConfig → HF config.json object (the inverse of parseHfConfig, for `namm convert` and the trainer). */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  checkArg('toHfConfig', 'config', config, 'object', 'a model config');
  validateModelConfig(config);
  const rs = config.ropeScaling;
  if (rs.type === 'dynamic' && rs.originalMaxPositions !== config.maxPositions) {
    throw new Error(`a config.json cannot hold dynamic NTK scaling from an original context of ${rs.originalMaxPositions} tokens: ` +
      `transformers takes max_position_embeddings (${config.maxPositions}) as the original context`);
  }
  const eos = config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds.length ? config.eosTokenIds : null;
  if (config.arch === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'],
      model_type: 'gpt2',
      vocab_size: config.vocabSize,
      n_embd: config.hiddenSize,
      n_head: config.nHeads,
      n_layer: config.nLayers,
      n_positions: config.maxPositions,
      n_inner: config.intermediateSize,
      layer_norm_epsilon: config.normEps,
      activation_function: config.activation === 'gelu_erf' ? 'gelu' : 'gelu_new',
      tie_word_embeddings: config.tieEmbeddings,
      bos_token_id: config.bosTokenId,
      eos_token_id: eos,
      torch_dtype: 'float32',
    };
  }
  if (config.gemma) return gemma3ToHf(config, eos);
  // Only Mistral's, Qwen2's and Qwen3's config.json say a sliding window: a Llama-family model with one (a Mistral read
  // from GGUF, whose architecture name is "llama") is written as a Mistral, so that neither namm nor transformers runs
  // it without its window as a plain Llama. Per-head q/k norms are Qwen3's alone, whatever the model type says.
  const modelType = config.qkNorm ? 'qwen3' : isPhi3Checkpoint(config) ? 'phi3' : config.modelType === 'qwen2' || config.modelType === 'mistral' ? config.modelType
    : config.slidingWindow !== undefined ? 'mistral' : 'llama';
  if (modelType === 'phi3' && (config.attnQkvBias || config.attnOutBias || config.mlpBias)) {
    throw new Error('a Phi-3 config.json cannot hold biases: Phi-3\'s projections have none');
  }
  if (modelType === 'qwen3' && (config.attnQkvBias !== config.attnOutBias || config.mlpBias)) {
    throw new Error(`a config.json cannot hold per-head q/k norms with ${config.mlpBias ? 'MLP biases' : `${config.attnQkvBias ? '' : 'no '}q/k/v biases and ${config.attnOutBias ? 'an' : 'no'} o_proj bias`}: ` +
      'Qwen3\'s attention_bias covers q, k, v and o together, and its MLP has no biases');
  }
  const archName = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', phi3: 'Phi3ForCausalLM' }[modelType];
  const out: Record<string, unknown> = {
    architectures: [archName],
    model_type: modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: config.headDim,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositions,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingToHf(config.ropeScaling),
    hidden_act: 'silu',
    tie_word_embeddings: config.tieEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: eos,
    torch_dtype: 'float32',
  };
  if (modelType !== 'qwen2' && modelType !== 'phi3') out.attention_bias = config.attnQkvBias;
  if (modelType !== 'qwen2' && modelType !== 'qwen3' && modelType !== 'phi3') out.mlp_bias = config.mlpBias;
  // transformers reads a top-level original context first (and Phi3Config assumes 4,096 without one).
  if (rs.type === 'longrope') out.original_max_position_embeddings = rs.originalMaxPositions;
  if (modelType === 'phi3') {
    // Phi-3 applies a window whenever one is set, and none when it is null.
    out.sliding_window = config.slidingWindow ?? null;
    // transformers 4's Phi3Config takes a rope_scaling of exactly "type", "short_factor" and "long_factor" (and
    // infers the attention factor from the two context lengths): that form, with the attention factor added only
    // where it is not the inferred one (which transformers 5 reads).
    if (rs.type === 'longrope') {
      const scaling: Record<string, unknown> = { type: 'longrope', short_factor: [...rs.shortFactors], long_factor: [...rs.longFactors] };
      // Compared in float32: a GGUF file's attn_factor is the inferred one rounded.
      if (Math.fround(rs.attentionFactor) !== Math.fround(longRopeAttentionFactor(config.maxPositions / rs.originalMaxPositions, rs.originalMaxPositions))) {
        scaling.attention_factor = rs.attentionFactor;
      }
      out.rope_scaling = scaling;
    }
  }
  if (config.partialRotaryFactor !== 1) out.partial_rotary_factor = config.partialRotaryFactor;
  // Written out for Mistral either way: transformers' MistralConfig assumes a 4,096-token window when the key is absent.
  if (modelType === 'mistral') out.sliding_window = config.slidingWindow ?? null;
  else if (modelType === 'qwen2' || modelType === 'qwen3') {
    // On the layers it was read from (every layer when none are named: a GGUF file's window), as layer_types, which
    // transformers reads first, and as max_window_layers for readers before it, when the layers are the last ones
    // (Qwen2Config and Qwen3Config would otherwise put a window of 4,096 on layers 28 and up, or none).
    out.use_sliding_window = config.slidingWindow !== undefined;
    out.sliding_window = config.slidingWindow ?? null;
    if (config.slidingWindow !== undefined) {
      const layers = new Set(config.slidingLayers ?? Array.from({ length: config.nLayers }, (_, i) => i));
      out.layer_types = Array.from({ length: config.nLayers }, (_, i) => (layers.has(i) ? 'sliding_attention' : 'full_attention'));
      const first = config.nLayers - layers.size;
      if ([...layers].every((l) => l >= first)) out.max_window_layers = first;
    }
  }
  return out;
}

/**
 * A Gemma3TextConfig config.json (transformers 4's keys, which transformers 5 reads too): the sliding layers as
 * layer_types, the full layers' RoPE as rope_theta and rope_scaling, the sliding layers' base as rope_local_base_freq.
 */
function gemma3ToHf(config: ModelConfig, eos: unknown): Record<string, unknown> {
  const g = config.gemma!;
  if (config.mlpBias || config.attnQkvBias !== config.attnOutBias) {
    throw new Error('a Gemma 3 config.json cannot hold MLP biases, nor q/k/v biases without an o_proj one: its attention_bias covers q, k, v and o together');
  }
  if (config.partialRotaryFactor !== 1) throw new Error(`a Gemma 3 config.json cannot hold partial rotary embeddings (partial_rotary_factor ${config.partialRotaryFactor})`);
  if (Math.fround(Math.sqrt(config.hiddenSize)) !== Math.fround(g.embedScale)) {
    throw new Error(`a Gemma 3 config.json cannot hold an embedding scale of ${g.embedScale}: transformers takes √hidden_size (${Math.sqrt(config.hiddenSize)})`);
  }
  const sliding = new Set(layerWindowsOf(config));
  return {
    architectures: ['Gemma3ForCausalLM'],
    model_type: 'gemma3_text',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: config.headDim,
    hidden_activation: 'gelu_pytorch_tanh',
    max_position_embeddings: config.maxPositions,
    rms_norm_eps: config.normEps,
    rope_theta: config.ropeTheta,
    rope_local_base_freq: g.localRopeTheta,
    rope_scaling: ropeScalingToHf(config.ropeScaling),
    query_pre_attn_scalar: g.queryPreAttnScalar,
    sliding_window: config.slidingWindow ?? null,
    layer_types: Array.from({ length: config.nLayers }, (_, i) => (sliding.has(i) ? 'sliding_attention' : 'full_attention')),
    attn_logit_softcapping: null,
    final_logit_softcapping: g.finalLogitSoftcap ?? null,
    attention_bias: config.attnQkvBias,
    tie_word_embeddings: config.tieEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: eos,
    torch_dtype: 'float32',
  };
}

/** The layers a config's sliding window is on (none without one). */
function layerWindowsOf(config: ModelConfig): number[] {
  if (config.slidingWindow === undefined) return [];
  return config.slidingLayers ?? Array.from({ length: config.nLayers }, (_, i) => i);
}

/** HF's form of a scaling; per-pair factors (a GGUF file's `rope_freqs.weight`) have none and are refused. */
export function ropeScalingToHf(s: RopeScaling): Record<string, unknown> | null {
  switch (s.type) {
    case 'factors':
      throw new Error('per-pair RoPE factors (a GGUF file\'s rope_freqs.weight) have no config.json form: keep this model as GGUF');
    case 'none': return null;
    case 'linear': return { rope_type: 'linear', factor: s.factor };
    case 'ntk': return { rope_type: 'ntk', factor: s.factor, alpha: s.alpha };
    case 'dynamic': return { rope_type: 'dynamic', factor: s.factor, original_max_position_embeddings: s.originalMaxPositions };
    case 'llama3':
      return {
        rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalMaxPositions,
      };
    case 'yarn':
      // Every value explicit (the attention factor as resolved), so the file means the same to any reader.
      return {
        rope_type: 'yarn', factor: s.factor, original_max_position_embeddings: s.originalMaxPositions,
        attention_factor: s.attentionFactor, beta_fast: s.betaFast, beta_slow: s.betaSlow, truncate: s.truncate,
      };
    case 'longrope':
      // The attention factor as resolved; toHfConfig also writes the original context at the top level, where
      // transformers reads it first.
      return {
        rope_type: 'longrope', short_factor: [...s.shortFactors], long_factor: [...s.longFactors],
        original_max_position_embeddings: s.originalMaxPositions, attention_factor: s.attentionFactor,
      };
  }
}

/**
 * The most a model folder's JSON file may hold: a config (config.json, generation_config.json, tokenizer_config.json,
 * a weight index) is kilobytes, a tokenizer.json tens of MB at most (a 262K-token vocabulary's). Far past
 * either, JSON.parse could end the process (a 400 MB array of numbers is past V8's largest array) instead of failing.
 */
export const JSON_FILE_LIMITS = { config: 16 * MiB, tokenizer: 128 * MiB } as const;

/** Reads and parses a JSON file, with the file named in any error. */
export async function readJsonFile(path: string, kind: keyof typeof JSON_FILE_LIMITS = 'config'): Promise<unknown> {
  // Bounded; a folder or a device named here is a clear error.
  const text = readFileLimited(path, JSON_FILE_LIMITS[kind], kind === 'config' ? 'JSON config file' : 'tokenizer.json').toString('utf8');
  // A UTF-8 byte-order mark (some Windows editors write one) is not JSON but says nothing about the content: skipped.
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    // One line: V8's message quotes the text around the error, newlines included. A Python-written NaN or Infinity
    // is named, since JSON has no such numbers.
    const nonJson = /(?<![\w"])(-?Infinity|NaN)(?![\w"])/.exec(text);
    const hint = nonJson ? `; it holds ${nonJson[1]}, which JSON has no number for (Python's json writes it)` : '';
    throw new Error(`${path}: not valid JSON (${(err as Error).message.replace(/\s*\n\s*/g, ' ')})${hint}`);
  }
}

/** Like readJsonFile, but null when the file does not exist; must hold an object when it does. */
export async function readOptionalJsonObject(path: string): Promise<Record<string, unknown> | null> {
  const { existsSync } = await import('node:fs');
  if (!existsSync(path)) return null;
  const json = await readJsonFile(path);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}
