/**
 * Randomly initialised models (normal(0, std) weights, unit norms, zero biases) under Hugging Face names: for
 * benchmarks at sizes no shipped model has, and for tests of architectures without a real checkpoint here.
 */
import { Rng } from '../util/rng.js';
import { validateModelConfig } from './config.js';
import type { ModelConfig, Tensor, WeightMap } from './types.js';
import { argError, checkArg, checkArgOptions } from '../util/args.js';

/** The fields of a ModelConfig, which llamaConfig and gpt2Config take as overrides. */
const CONFIG_KEYS = ['arch', 'modelType', 'vocabSize', 'hiddenSize', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'intermediateSize',
  'maxPositions', 'normEps', 'ropeTheta', 'ropeScaling', 'ropeLayout', 'partialRotaryFactor', 'attnQkvBias', 'attnOutBias', 'mlpBias',
  'activation', 'tieEmbeddings', 'bosTokenId', 'eosTokenIds', 'slidingWindow', 'slidingLayers', 'qkNorm', 'gemma'];

/**
 * A Llama-family config (the 100M-parameter random model's shape unless overridden). The result is validated as a
 * loaded config is (validateModelConfig): an override of the wrong type or an impossible shape is refused here,
 * naming the field, instead of failing later inside a kernel.
 */
export function llamaConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  checkArgOptions('llamaConfig', over, CONFIG_KEYS, 'over');
  return checked('llamaConfig', over, llamaDefaults(over));
}

/** A GPT-2 config (GPT-2 small's shape unless overridden), validated as llamaConfig's. */
export function gpt2Config(over: Partial<ModelConfig> = {}): ModelConfig {
  checkArgOptions('gpt2Config', over, CONFIG_KEYS, 'over');
  // GPT-2's <|endoftext|> (BOS and EOS) is its vocabulary's last id: 50256, or the last of a smaller vocabulary.
  const vocab = over.vocabSize, end = Number.isSafeInteger(vocab) && vocab! >= 1 ? vocab! - 1 : 50256;
  const c = llamaDefaults({
    arch: 'gpt2', modelType: 'gpt2', vocabSize: 50257, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 12,
    intermediateSize: 3072, maxPositions: 1024, normEps: 1e-5, attnQkvBias: true, attnOutBias: true, mlpBias: true,
    activation: 'gelu_tanh', bosTokenId: end, eosTokenIds: [end], ...over,
  });
  if (over.nKvHeads === undefined) c.nKvHeads = c.nHeads;
  return checked('gpt2Config', over, c);
}

/** The defaults with `over` on top, headDim derived from the width unless given; not validated. */
function llamaDefaults(over: Partial<ModelConfig>): ModelConfig {
  const c: ModelConfig = {
    arch: 'llama', modelType: 'llama', vocabSize: 32000, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 4,
    headDim: 64, intermediateSize: 2048, maxPositions: 8192, normEps: 1e-5, ropeTheta: 10000,
    ropeScaling: { type: 'none' }, ropeLayout: 'half', partialRotaryFactor: 1, attnQkvBias: false, attnOutBias: false,
    mlpBias: false, activation: 'silu', tieEmbeddings: true, bosTokenId: 1, eosTokenIds: [2], ...over,
  };
  if (over.headDim === undefined) c.headDim = c.hiddenSize / c.nHeads;
  return c;
}

/** validateModelConfig with the caller's name, and a derived headDim that is no integer explained. */
function checked(fn: string, over: Partial<ModelConfig>, c: ModelConfig): ModelConfig {
  if (over.headDim === undefined && Number.isSafeInteger(c.hiddenSize) && Number.isSafeInteger(c.nHeads) && c.nHeads > 0 && c.hiddenSize % c.nHeads !== 0) {
    throw new RangeError(`${fn}: hiddenSize (${c.hiddenSize}) is not a multiple of nHeads (${c.nHeads}), so headDim cannot be derived from them; give headDim`);
  }
  if (over.nKvHeads === undefined && Number.isSafeInteger(c.nHeads) && c.nHeads > 0 && c.nHeads % c.nKvHeads !== 0) {
    throw new RangeError(`${fn}: nKvHeads (${c.nKvHeads}, the default) does not divide nHeads (${c.nHeads}); give nKvHeads`);
  }
  try {
    validateModelConfig(c);
  } catch (err) {
    (err as Error).message = `${fn}: ${(err as Error).message}`;
    throw err;
  }
  return c;
}

/** Random weights for `config` (seeded). Tied embeddings share one tensor under both names. */
export function randomWeights(config: ModelConfig, seed = 0, std = 0.02): WeightMap {
  checkArg('randomWeights', 'config', config, 'object', 'a model config');
  validateModelConfig(config);
  if (!(typeof std === 'number' && Number.isFinite(std) && std >= 0)) throw argError('randomWeights', 'std', 'a finite number ≥ 0', std);
  const rng = new Rng(seed);
  const w: WeightMap = new Map();
  const normal = (shape: number[]): Tensor => {
    const n = shape.reduce((a, b) => a * b, 1), data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    return { shape, data };
  };
  const c = config, D = c.hiddenSize, I = c.intermediateSize, hd = c.headDim;
  // Unit norms: Gemma's store the offset from 1.
  const unit = c.gemma ? 0 : 1;
  const fill = (shape: number[], v: number): Tensor => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
  if (c.arch === 'llama') {
    const emb = normal([c.vocabSize, D]);
    w.set('model.embed_tokens.weight', emb);
    w.set('lm_head.weight', c.tieEmbeddings ? emb : normal([c.vocabSize, D]));
    w.set('model.norm.weight', fill([D], unit));
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}.`;
      w.set(p + 'input_layernorm.weight', fill([D], unit));
      w.set(p + 'post_attention_layernorm.weight', fill([D], unit));
      if (c.gemma) {
        w.set(p + 'pre_feedforward_layernorm.weight', fill([D], unit));
        w.set(p + 'post_feedforward_layernorm.weight', fill([D], unit));
      }
      w.set(p + 'self_attn.q_proj.weight', normal([c.nHeads * hd, D]));
      w.set(p + 'self_attn.k_proj.weight', normal([c.nKvHeads * hd, D]));
      w.set(p + 'self_attn.v_proj.weight', normal([c.nKvHeads * hd, D]));
      w.set(p + 'self_attn.o_proj.weight', normal([D, c.nHeads * hd]));
      if (c.attnQkvBias) {
        w.set(p + 'self_attn.q_proj.bias', normal([c.nHeads * hd]));
        w.set(p + 'self_attn.k_proj.bias', normal([c.nKvHeads * hd]));
        w.set(p + 'self_attn.v_proj.bias', normal([c.nKvHeads * hd]));
      }
      if (c.attnOutBias) w.set(p + 'self_attn.o_proj.bias', normal([D]));
      if (c.qkNorm) {
        w.set(p + 'self_attn.q_norm.weight', fill([hd], unit));
        w.set(p + 'self_attn.k_norm.weight', fill([hd], unit));
      }
      w.set(p + 'mlp.gate_proj.weight', normal([I, D]));
      w.set(p + 'mlp.up_proj.weight', normal([I, D]));
      w.set(p + 'mlp.down_proj.weight', normal([D, I]));
      if (c.mlpBias) {
        w.set(p + 'mlp.gate_proj.bias', normal([I]));
        w.set(p + 'mlp.up_proj.bias', normal([I]));
        w.set(p + 'mlp.down_proj.bias', normal([D]));
      }
    }
  } else {
    const wte = normal([c.vocabSize, D]);
    w.set('transformer.wte.weight', wte);
    w.set('lm_head.weight', wte);
    w.set('transformer.wpe.weight', normal([c.maxPositions, D]));
    w.set('transformer.ln_f.weight', fill([D], 1));
    w.set('transformer.ln_f.bias', normal([D]));
    for (let l = 0; l < c.nLayers; l++) {
      const p = `transformer.h.${l}.`;
      w.set(p + 'ln_1.weight', fill([D], 1)); w.set(p + 'ln_1.bias', normal([D]));
      w.set(p + 'attn.c_attn.weight', normal([D, 3 * D])); w.set(p + 'attn.c_attn.bias', normal([3 * D]));
      w.set(p + 'attn.c_proj.weight', normal([D, D])); w.set(p + 'attn.c_proj.bias', normal([D]));
      w.set(p + 'ln_2.weight', fill([D], 1)); w.set(p + 'ln_2.bias', normal([D]));
      w.set(p + 'mlp.c_fc.weight', normal([D, I])); w.set(p + 'mlp.c_fc.bias', normal([I]));
      w.set(p + 'mlp.c_proj.weight', normal([I, D])); w.set(p + 'mlp.c_proj.bias', normal([D]));
    }
  }
  return w;
}
