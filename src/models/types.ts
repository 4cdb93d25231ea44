/** What every loader produces and every architecture consumes. */
import type { PackedMatrix } from '../tensor/packed.js';

export type Architecture = 'llama' | 'gpt2';

/** RoPE frequency scaling, normalised from HF `rope_scaling` (or GGUF metadata). */
export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  /** Static NTK-aware: base θ' = θ·(α·f − (α−1))^(d/(d−2)) (α = 1 for plain NTK). */
  | { type: 'ntk'; factor: number; alpha: number }
  /** HF "dynamic": NTK base recomputed from the current sequence length once it exceeds the original context. */
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /**
   * YaRN (Peng et al., arXiv 2309.00071; HF "yarn"): each pair's frequency blends the interpolated f/factor and
   * the original f by a linear ramp over the pairs between the correction dimensions of betaFast and betaSlow
   * rotations within originalMaxPositions (floored/ceiled when `truncate`), and the rotated dims of queries and
   * keys are multiplied by attentionFactor (HF scales cos and sin by it). attentionFactor is stored resolved:
   * HF's `attention_factor`, or the one it infers from factor (0.1·ln factor + 1) and mscale / mscale_all_dim.
   */
  | { type: 'yarn'; factor: number; originalMaxPositions: number; attentionFactor: number; betaFast: number; betaSlow: number; truncate: boolean }
  /**
   * One divisor per rotary pair (llama.cpp's `rope_freqs.weight`, which its converter writes for Llama 3.1 and
   * later): pair i turns at base^(−2i/d) / factors[i].
   */
  | { type: 'factors'; factors: number[] }
  /**
   * LongRoPE (Phi-3 and Phi-4-mini; HF "longrope", formerly "su"): pair i turns at base^(−2i/d) / factor_i, with the
   * long factors in a forward whose sequence is longer than originalMaxPositions and the short ones otherwise (HF
   * chooses per forward, from its last position; keys already cached are not re-rotated), and the rotated dims of
   * queries and keys multiplied by attentionFactor at every length. attentionFactor is stored resolved: HF's
   * `attention_factor`, or √(1 + ln s / ln originalMaxPositions) for s = maxPositions / originalMaxPositions (1 when
   * s ≤ 1).
   */
  | { type: 'longrope'; shortFactors: number[]; longFactors: number[]; originalMaxPositions: number; attentionFactor: number };

/** See ModelConfig.gemma. */
export interface GemmaOptions {
  /** The token embeddings are multiplied by it (√hiddenSize, rounded to float32, as Gemma3TextScaledWordEmbedding). */
  embedScale: number;
  /** The attention logits are scaled by queryPreAttnScalar^−½ (HF `query_pre_attn_scalar`), not headDim^−½. */
  queryPreAttnScalar: number;
  /** RoPE base of the sliding layers (HF `rope_local_base_freq`), unscaled; the full layers take ropeTheta and ropeScaling. */
  localRopeTheta: number;
  /** When set, the logits are capped: cap · tanh(logit / cap) (HF `final_logit_softcapping`; null in Gemma 3's). */
  finalLogitSoftcap?: number;
}

export interface ModelConfig {
  arch: Architecture;
  /** HF `model_type` (or GGUF `general.architecture`) it came from, for messages. */
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  normEps: number;
  /** llama: rotary base and scaling; gpt2: unused. */
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /** 'half' = HF rotate_half (safetensors), 'interleaved' = llama2.c / GGUF pair layout. */
  ropeLayout: 'half' | 'interleaved';
  /** Fraction of head dims that rotate, the first ones of each head (Phi-4-mini's 0.75; 1 for most models). */
  partialRotaryFactor: number;
  /** Biases on q/k/v projections (Qwen2, GPT-2) and on o/MLP projections (GPT-2). */
  attnQkvBias: boolean;
  attnOutBias: boolean;
  mlpBias: boolean;
  /**
   * Per-head RMSNorm on the queries and keys (Qwen3's `q_norm` / `k_norm`: a weight of headDim values each, epsilon
   * normEps), applied to the projections' output, head by head, before RoPE. Absent (or false) when the model has
   * none, which every family but Qwen3 is.
   */
  qkNorm?: boolean;
  /** llama: 'silu' (SwiGLU), or with `gemma` 'gelu_tanh' (GeGLU); gpt2: 'gelu_new' (tanh) or 'gelu' (erf). */
  activation: 'silu' | 'gelu_tanh' | 'gelu_erf';
  /**
   * Gemma 3's departures from the Llama layer (HF `gemma3_text`), with qkNorm, activation 'gelu_tanh' and windows on
   * its sliding layers: every RMSNorm (the input, post-attention, pre- and post-feed-forward norms of each layer, the
   * q/k norms, the final norm) multiplies by 1 + weight; the attention output and the MLP output are each normalised
   * before their residual add; the MLP is gelu_tanh(gate)·up. Absent for every other family.
   */
  gemma?: GemmaOptions;
  tieEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Sliding-window attention span in positions (HF `sliding_window` of Mistral and Phi-3, or of Qwen2 and Qwen3 with
   * `use_sliding_window`; GGUF's `attention.sliding_window`): a query at position p attends only to the keys at
   * positions p − slidingWindow + 1 .. p, as transformers' masks and llama.cpp's say. A session applies it on every
   * sliding layer (AttentionArgs.firstRow), and a full cache gives back the rows behind it. Absent when the model has
   * none.
   */
  slidingWindow?: number;
  /**
   * The layers the sliding window is on (strictly ascending), when it is not on every layer: Qwen2's and Qwen3's
   * `layer_types` or `max_window_layers`; the other layers attend to everything. Written back as such (convert,
   * train's output). Absent when the window is on every layer (Mistral, Phi-3, a GGUF file) or there is none.
   */
  slidingLayers?: number[];
}

/** A named float32 tensor with its shape (PyTorch/HF layout: linear weights are [out, in]). */
export interface Tensor {
  shape: number[];
  /** The values. For a packed tensor, reading it throws (see src/models/pack.ts: tensorValues widens one). */
  data: Float32Array;
  /** Set when the values are held packed (a 2-D `[out, in]` matrix loaded with `weights` other than 'f32'). */
  packed?: PackedMatrix;
}

/**
 * Weights keyed by Hugging Face parameter names (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`,
 * `transformer.h.0.attn.c_attn.weight`, ...). GGUF and llama2.c loaders translate their names into these.
 */
export type WeightMap = Map<string, Tensor>;

/** A text ↔ token-id codec. Implemented over tokenizer.json, llama2.c tokenizer.bin and GGUF vocabularies. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** Encodes text; `addBos` (default: the tokenizer's own post-processor rule) prepends BOS when there is one. */
  encode(text: string, options?: { addBos?: boolean }): number[];
  /** Decodes ids; `skipSpecial` (default true) drops special tokens such as BOS/EOS. */
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string;
  /**
   * Whether decode cleans up spaces (" ." → ".", " 's" → "'s"), so that a later token can change text before it:
   * generate then holds such a tail back from streaming. Absent is taken as true (the careful reading).
   */
  readonly cleansUpSpaces?: boolean;
  /**
   * Renders a chat with the model's template, when the model has one: the text of the conversation, ending with the
   * assistant's header unless `addGenerationPrompt: false` (transformers' apply_chat_template defaults to false).
   * The text begins with BOS's own text when the template writes it; generate() then adds no second one.
   */
  applyChatTemplate?(messages: { role: string; content: string }[], options?: {
    addGenerationPrompt?: boolean; tools?: unknown[] | null; documents?: unknown[] | null; variables?: Record<string, unknown>;
  }): string;
}
