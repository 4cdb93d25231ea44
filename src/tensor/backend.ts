/**
 * The compute backend contract. Every kernel exists twice: in C++ (src/tensor/native.ts over the N-API addon)
 * and in plain TypeScript (src/tensor/js.ts). Tests run both on the same inputs and compare.
 *
 * Conventions (all float32, row-major, no hidden allocation of outputs):
 * - Matrices are flat Float32Arrays with explicit sizes; `out` buffers are given by the caller.
 * - Weights use the Hugging Face / PyTorch layout `[out, in]`, so a linear layer is `y = x · Wᵀ` (matmulABt).
 * - A kernel may be called with zero rows; it then does nothing.
 * - Every entry point validates sizes against buffer lengths and throws a RangeError/TypeError on misuse.
 * - An output must not share memory with an input or another output (a RangeError naming both), except where a
 *   kernel says "out may be x itself": then exactly x (the same first element and length) is allowed, in place, and
 *   any partial overlap is still refused (the native threads would read values another thread had written).
 */

export type RopeLayout = 'half' | 'interleaved';
export type GeluKind = 'tanh' | 'erf';

/** Attention of a chunk of queries over a ragged per-KV-head cache. */
export interface AttentionArgs {
  /** Chunk queries after RoPE, `[nQ, nHeads, headDim]`. */
  q: Float32Array;
  nQ: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /**
   * Per KV head: cached keys `[len_h, headDim]` (post-RoPE); only the first `lens[h]` rows are read. The chunk's
   * own keys must already be appended, so they are the last `nQ` rows of every head: query i sees rows
   * `0 .. lens[h] - nQ + i` (causal within the chunk; everything older is visible).
   */
  keys: Float32Array[];
  /** Per KV head: cached values `[len_h, headDim]`. */
  values: Float32Array[];
  /** Per KV head: number of valid rows (each ≥ nQ). */
  lens: Int32Array;
  /**
   * Optional, `[nKvHeads, nQ]`: the first cached row each query sees (a sliding window), so that query i of KV
   * head h reads rows `firstRow[h·nQ + i] .. lens[h] − nQ + i`; each entry within 0 .. lens[h] − nQ + i. Absent:
   * row 0 for every query. Rows before it get probability 0 in probs.
   */
  firstRow?: Int32Array;
  /** Softmax scale, usually 1/√headDim. */
  scale: number;
  /** Output `[nQ, nHeads, headDim]`. */
  out: Float32Array;
  /**
   * Optional per KV head: post-softmax probabilities `[nQ, lens[h]]`, averaged over the query heads that share
   * that KV head (GQA); masked (future) positions are written as 0. Uint16Arrays (with probsBf16) receive the
   * bf16 probabilities as their bit patterns (the upper half of the float32): the same values in half the bytes.
   */
  probs?: Float32Array[] | Uint16Array[];
  /**
   * With probs: compute them as a bfloat16 model does (the NAMM reference's eager attention in bf16): each query
   * head's probabilities rounded to bf16 (nearest, ties to even), their mean over the group taken in float32 and
   * rounded to bf16 again. Default false: float32 throughout.
   */
  probsBf16?: boolean;
}

export interface Backend {
  readonly name: 'native' | 'js';
  /** SIMD path in use ('avx512' | 'avx2' | 'scalar' for native, 'js' for TypeScript). */
  readonly simd: string;
  /** Threads used by multi-threaded kernels (1 = run on the calling thread). */
  threads: number;

  /**
   * C[M,N] (+)= A[M,K] · B[N,K]ᵀ — activations times HF `[out,in]` weights. M = 1 takes the streaming GEMV path.
   * B may be a PackedMatrix (`rows` N, `cols` K; src/tensor/packed.ts): its rows are widened as they are read, to
   * the same values and results as the float32 widening of the matrix.
   */
  matmulABt(a: Float32Array, b: Weight, c: Float32Array, M: number, K: number, N: number, accumulate?: boolean): void;
  /** C[M,N] (+)= A[M,K] · B[K,N] — used by backward passes (dX = dY · W). */
  matmulAB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate?: boolean): void;
  /** C[M,N] (+)= A[K,M]ᵀ · B[K,N] — weight gradients (dW = dYᵀ · X). */
  matmulAtB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate?: boolean): void;

  /** out[r,:] = x[r,:] / sqrt(mean(x[r,:]²) + eps) * weight. out may be x itself. */
  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  /** out[r,:] = (x[r,:] − mean) / sqrt(var + eps) * weight + bias (biased variance). out may be x itself. */
  layerNorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void;
  /**
   * Rotates x `[rows, nHeads, headDim]` in place. Row r is at absolute position `positions[r]`; pair i uses
   * angle `positions[r] · invFreq[i]` (computed in float32, as HF does), for i < rotaryDim/2.
   * 'half': pairs (i, i + rotaryDim/2) (HF Llama rotate_half); 'interleaved': pairs (2i, 2i+1) (llama2.c / GGUF).
   */
  rope(x: Float32Array, rows: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, layout: RopeLayout): void;
  /** out[i] = silu(gate[i]) * up[i]. out may be gate or up itself. */
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /** out[i] = gelu(x[i]) ('tanh' approximation of GPT-2, or exact 'erf'). out may be x itself. */
  gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void;
  /** Row-wise softmax over the last dimension, in place, numerically stable. */
  softmax(x: Float32Array, rows: number, cols: number): void;
  /** out[i] = a[i] + b[i]. out may be a or b itself. */
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  /** x[r,c] += bias[c] for rows × cols. */
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void;

  /** See AttentionArgs. */
  attention(args: AttentionArgs): void;

  /** IEEE half → float32 for n values. */
  f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
  /** bfloat16 → float32 for n values. */
  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
  /** GGML Q8_0 blocks (34 bytes: f16 scale + 32 int8) → float32; n must be a multiple of 32. */
  q8_0ToF32(src: Uint8Array, dst: Float32Array, n: number): void;

  // Optional kernels: present on the native backend; their TypeScript twins live beside their callers
  // (src/train/ops/attention-gemm.ts, src/evolve/eigen.ts), which fall back to them when a backend lacks these.

  /**
   * Causal grouped-query self-attention over a whole sequence, for training (the contract of
   * src/train/ops/attention.ts): q, out `[T, nHeads, headDim]`; k, v `[T, nKvHeads, headDim]`; lse `[T, nHeads]`
   * receives log Σ_{s≤t} exp(scale · q·k) per row, for the backward.
   */
  trainAttentionForward?(
    out: Float32Array, lse: Float64Array, q: Float32Array, k: Float32Array, v: Float32Array,
    T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void;
  /** Backward of trainAttentionForward: dq, dk, dv are overwritten (probabilities recomputed from lse). */
  trainAttentionBackward?(
    dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array,
    v: Float32Array, out: Float32Array, lse: Float64Array, T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  ): void;
  /**
   * The row parts of a training step (twins in src/train/ops/cross-entropy.ts, activation.ts, norm.ts).
   * crossEntropy: softmax cross-entropy fused with its backward, in place: each row with target y ≠ −1 becomes
   * gradScale·(softmax − onehot(y)) and its loss (logZ − x[y]) goes to rowLoss; rows with y = −1 become 0 (loss 0).
   */
  crossEntropy?(logits: Float32Array, targets: Int32Array, T: number, V: number, gradScale: number, rowLoss: Float64Array): void;
  /** Backward of siluMul: dgate = dout·up·silu'(gate), dup = dout·silu(gate) (both overwritten; each may be an input itself). */
  siluMulBackward?(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /** dx = dout·gelu'(x) for GELU's tanh form (overwritten; dx may be dout or x itself). */
  geluTanhBackward?(dx: Float32Array, dout: Float32Array, x: Float32Array, n: number): void;
  /** RMSNorm that also saves each row's 1/rms in rstd. out may be x itself. */
  rmsNormTrain?(out: Float32Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  /** RMSNorm backward: dx is added into, dw accumulated. */
  rmsNormBackward?(
    dx: Float32Array, dw: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array, rstd: Float64Array, rows: number, dim: number,
  ): void;
  /** LayerNorm that also saves each row's mean and 1/σ. out may be x itself. */
  layerNormTrain?(
    out: Float32Array, mean: Float64Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number,
  ): void;
  /** LayerNorm backward: dx is added into, dw and db accumulated. */
  layerNormBackward?(
    dx: Float32Array, dw: Float32Array, db: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array,
    mean: Float64Array, rstd: Float64Array, rows: number, dim: number,
  ): void;
  /**
   * Float64 symmetric eigendecomposition in place, as `symmetricEigenInPlace` (src/evolve/eigen.ts): `a`
   * (row-major n×n, lower triangle read) becomes the eigenvectors, one per row; `values` the ascending eigenvalues.
   */
  symmetricEigen?(a: Float64Array, n: number, values: Float64Array): void;
  /**
   * One NAMM spectrogram frame for `rows` cache rows (spec/namm.md §2; twin: `stftAccumulateTs` in
   * src/memory/namm/stft.ts): acc[r, f] += weight · |DFT_f(hann · [prev | cur] of row r)|, f = 0..16, where
   * prev and cur are query-major 16-query blocks (sample m of row r at m·ld + r, each ≥ 16·ld values) and acc is
   * float64 in tiles of 16 rows, row r bin f at ((r >> 4)·17 + f)·16 + (r & 15) (stftAccIndex / stftAccSize in
   * stft.ts: 272·⌈ld/16⌉ values). rows ≤ ld.
   */
  stftAccumulate?(prev: Float32Array, cur: Float32Array, ld: number, rows: number, weight: number, acc: Float32Array): void;
  /**
   * NAMM BAM scores of n tokens (spec/namm.md §3; twin: BamScorer without a backend, src/memory/namm/bam.ts):
   * x `[n, 25]` features, params the flat 4,172-value BAM vector, out `[n]`.
   */
  bamScores?(x: Float32Array, n: number, params: Float32Array, out: Float32Array): void;
  /**
   * `frames` consecutive NAMM spectrogram frames in one call (twin: `stftAccumulateFramesTs` in
   * src/memory/namm/stft.ts), the same as stftAccumulate once per frame in order: frame t = [block t−1 | block t]
   * where block −1 is `prev` (stride prevLd, ≥ 16·prevLd values) and block t ≥ 0 is the 16 query rows of `next`
   * from 16·t·nextLd on (stride nextLd, ≥ 16·frames·nextLd values); frame t adds weights[t]·|X| to the rows
   * r < rows[t] (rows[t] ≤ nextLd, rows[0] ≤ prevLd; acc ≥ stftAccSize(max rows[t]) values, not overlapping
   * prev, next or weights). `next` may hold packed bf16 taps (a Uint16Array of bit patterns), read as the float32
   * values they stand for. With `last` (≥ 16·lastLd values, lastLd ≥ max rows[t]; it may be `prev` itself, but
   * must not overlap `next` or `weights`), the last block's rows r < max rows[t] are also written there as
   * float32, sample m of row r at m·lastLd + r.
   */
  stftAccumulateFrames?(
    prev: Float32Array, prevLd: number, next: Float32Array | Uint16Array, nextLd: number, frames: number,
    rows: Int32Array, weights: Float32Array, acc: Float32Array, last?: Float32Array, lastLd?: number,
  ): void;
  /**
   * Closes a NAMM window for one head (spec/namm.md §2; twin: `nammFeaturesTs` in src/memory/namm/features.ts):
   * raw `[n, 17]` = float32(decay·oldEma + acc) for the first nOld rows and float32(acc) for the rest (float64
   * arithmetic; acc is tiled as for stftAccumulate and every value read is reset to 0), and the scorer input
   * features `[n, 25]`: row k is table row (positions[n−1] − positions[k]) (8 values; out of the table is a
   * RangeError) followed by float32((raw − norm[f])·norm[17 + f]) when `norm` (mean then 1/σ, 34 values) is given,
   * else raw.
   */
  nammFeatures?(
    acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
    table: Float32Array, norm: Float64Array | null, raw: Float32Array, features: Float32Array,
  ): void;
  /**
   * dst[p·dstPlane + i·width + c] = src[p·srcPlane + keep[i]·width + c] for p < planes, i < k, c < width (twin:
   * `gatherRowsTs` in src/memory/namm/selection.ts): the rows a NAMM selection keeps, of one matrix (planes = 1)
   * or of every query row of a block (width = 1). src and dst must not overlap.
   */
  gatherRows?(
    src: Float32Array, srcPlane: number, dst: Float32Array, dstPlane: number, planes: number, width: number,
    keep: Int32Array, k: number,
  ): void;
  /**
   * In place: row i ← row keep[i] for i < k (rows of `width` floats; keep strictly ascending, so rows only move
   * towards the front), as KV-cache compaction needs (twin: the run-by-run copyWithin of HeadStore.compact in
   * src/runtime/kvcache.ts). `also`, a second array that must not overlap `data` (a store's values beside its keys),
   * is compacted the same way, in parallel with `data` where the arrays are large.
   */
  compactRows?(data: Float32Array, width: number, keep: Int32Array, k: number, also?: Float32Array): void;
}import type { Weight } from './packed.js';

