/** Rotary-embedding frequencies for every supported scaling rule (HF Llama conventions). */
import type { ModelConfig, RopeScaling } from './types.js';

/**
 * Inverse frequencies `invFreq[i]`, i < rotaryDim/2, for a forward whose largest position is `seqLen − 1`.
 * Only the 'dynamic' and 'longrope' rules depend on seqLen (HF recomputes the base, or takes the long factors, when
 * the sequence outgrows the original context; keys already cached are not re-rotated).
 */
export function ropeInvFreq(c: ModelConfig, seqLen: number): Float32Array {
  const rotaryDim = rotaryPairs(c) * 2;
  const half = rotaryDim / 2;
  const s = c.ropeScaling;
  let base = c.ropeTheta;
  if (s.type === 'ntk') base = base * Math.pow(s.alpha * s.factor - (s.alpha - 1), rotaryDim / (rotaryDim - 2));
  if (s.type === 'dynamic' && seqLen > s.originalMaxPositions) {
    base = base * Math.pow((s.factor * seqLen) / s.originalMaxPositions - (s.factor - 1), rotaryDim / (rotaryDim - 2));
  }
  const inv = new Float32Array(half);
  const yarn = s.type === 'yarn' ? s : null;
  const ramp = yarn ? yarnRamp(yarn, rotaryDim, base) : null;
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(base, (2 * i) / rotaryDim);
    if (s.type === 'linear') f /= s.factor;
    if (s.type === 'llama3') f = llama3Scale(f, s.factor, s.lowFreqFactor, s.highFreqFactor, s.originalMaxPositions);
    if (s.type === 'factors') f /= s.factors[i]!;
    if (s.type === 'longrope') f /= (seqLen > s.originalMaxPositions ? s.longFactors : s.shortFactors)[i]!;
    // YaRN: the pairs below the ramp keep f (extrapolation), those past it turn at f / factor (interpolation).
    if (yarn) f = (f / yarn.factor) * ramp![i]! + f * (1 - ramp![i]!);
    inv[i] = f;
  }
  return inv;
}

/**
 * YaRN's ramp per pair i < rotaryDim/2: 0 up to the correction dimension of betaFast rotations within the original
 * context, 1 from that of betaSlow rotations on, linear between (HF `linear_ramp_factor`, the bounds floored and
 * ceiled when `truncate`, clamped to [0, rotaryDim − 1], a zero-width range widened by 0.001). It is HF's
 * 1 − inv_freq_extrapolation_factor: the weight of the interpolated frequency.
 */
export function yarnRamp(s: Extract<RopeScaling, { type: 'yarn' }>, rotaryDim: number, base: number): Float64Array {
  const correctionDim = (rotations: number) =>
    (rotaryDim * Math.log(s.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correctionDim(s.betaFast), high = correctionDim(s.betaSlow);
  if (s.truncate) { low = Math.floor(low); high = Math.ceil(high); }
  low = Math.max(low, 0);
  high = Math.min(high, rotaryDim - 1);
  if (low === high) high += 0.001;
  const out = new Float64Array(rotaryDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, (i - low) / (high - low)));
  return out;
}

/** The factor on the rotated dims of queries and keys (YaRN's and LongRoPE's attention factor; 1 for every other scaling). */
export function ropeAttentionFactor(c: ModelConfig): number {
  const s = c.ropeScaling;
  return s.type === 'yarn' || s.type === 'longrope' ? s.attentionFactor : 1;
}

/**
 * x `[rows, nHeads, headDim]`: the first `rotaryDim` dims of every head multiplied by `factor` in place (float32,
 * after the rotation; HF multiplies cos and sin instead, which rounds differently by at most an ulp or so).
 */
export function scaleRotaryDims(x: Float32Array, rows: number, nHeads: number, headDim: number, rotaryDim: number, factor: number): void {
  const f = Math.fround(factor);
  for (let o = 0; o < rows * nHeads * headDim; o += headDim) {
    for (let d = o; d < o + rotaryDim; d++) x[d] = x[d]! * f;
  }
}

/**
 * The context a model is meant to run to: max_position_embeddings, or under YaRN the original context times the
 * factor when that is longer (Qwen2.5's config keeps 32,768 and YaRN ×4 takes it to 131,072).
 */
export function contextLength(c: ModelConfig): number {
  const s = c.ropeScaling;
  return s.type === 'yarn' ? Math.max(c.maxPositions, Math.floor(s.factor * s.originalMaxPositions)) : c.maxPositions;
}

/**
 * The longest text a model reads whole, and what sets it: a GPT-2 model's learned positions; null where nothing
 * binds (a RoPE model reads on past its context, with a warning; a sliding window reads on, each query seeing its
 * window). A session refuses to grow a sequence past it (Session.checkLength); perplexity refuses a text past it
 * before any chunk runs.
 */
export function sequenceLimit(c: ModelConfig): { tokens: number; what: string } | null {
  if (c.arch === 'gpt2') return { tokens: c.maxPositions, what: `this GPT-2 model's ${c.maxPositions} learned positions` };
  return null;
}

/** The softmax scale of the attention logits: headDim^−½, or Gemma's query_pre_attn_scalar^−½. */
export function attentionScale(c: ModelConfig): number {
  return 1 / Math.sqrt(c.gemma ? c.gemma.queryPreAttnScalar : c.headDim);
}

/**
 * Per layer, its sliding window in positions (a query at position p sees the keys at positions p − window + 1 .. p),
 * or 0 where the layer attends to everything: ModelConfig.slidingWindow on the layers slidingLayers lists, or on
 * every layer when it lists none.
 */
export function layerWindows(c: ModelConfig): Int32Array {
  const w = new Int32Array(c.nLayers);
  if (c.slidingWindow === undefined) return w;
  if (c.slidingLayers === undefined) w.fill(c.slidingWindow);
  else for (const l of c.slidingLayers) w[l] = c.slidingWindow;
  return w;
}

/** Rotary pairs of a config: rotaryDim / 2. */
export function rotaryPairs(c: ModelConfig): number {
  return Math.floor(c.headDim * c.partialRotaryFactor / 2);
}

/**
 * The per-pair divisors llama.cpp reads from `rope_freqs.weight` for this config's scaling, or null where its
 * scaling is not one (none, linear, NTK and dynamic change the base or a global factor instead). For Llama 3
 * scaling they are what llama.cpp's converter computes: 1 for short wavelengths, `factor` for long ones, and
 * 1 / ((1 − s)/factor + s) in the band between, so that base^(−2i/d) / divisor is the scaled frequency.
 */
export function ropeFrequencyDivisors(c: ModelConfig): number[] | null {
  const s = c.ropeScaling;
  if (s.type === 'factors') return [...s.factors];
  if (s.type !== 'llama3') return null;
  const pairs = rotaryPairs(c), out: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const wavelen = 2 * Math.PI * Math.pow(c.ropeTheta, (2 * i) / (2 * pairs));
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor, highWavelen = s.originalMaxPositions / s.highFreqFactor;
    if (wavelen < highWavelen) out.push(1);
    else if (wavelen > lowWavelen) out.push(s.factor);
    else {
      const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return out;
}

/**
 * The Llama 3 scaling whose divisors these are (within float32 rounding), or null. llama.cpp's files carry only the
 * divisors; the parameters come back from them: `factor` is the largest, and in the band between the divisors give
 * the blend s = (1/divisor − 1/factor) / (1 − 1/factor), which is linear in originalMaxPositions / wavelength with
 * slope 1/(high − low) and zero at `low`. With fewer than two pairs in the band the line is not determined, and
 * Meta's low 1 and high 4 are tried. `originalMaxPositions` is the GGUF's `rope.scaling.original_context_length`
 * when it has one (Llama 3's 8,192 otherwise): only its ratio to low and high matters to the result.
 */
export function llama3FromDivisors(c: ModelConfig, divisors: readonly number[], originalMaxPositions = 8192): RopeScaling | null {
  const factor = Math.max(...divisors);
  if (!(factor > 1) || divisors.some((d) => d < 1 - 1e-6)) return null;
  const pairs = divisors.length, orig = originalMaxPositions;
  const x = (i: number) => orig / (2 * Math.PI * Math.pow(c.ropeTheta, i / pairs));
  const y = (i: number) => (1 / divisors[i]! - 1 / factor) / (1 - 1 / factor);
  const band: number[] = [];
  divisors.forEach((d, i) => { if (d > 1 + 1e-6 && d < factor * (1 - 1e-6)) band.push(i); });
  let low = 1, high = 4;
  if (band.length >= 2) {
    const a = band[0]!, b = band[band.length - 1]!;
    const span = (x(b) - x(a)) / (y(b) - y(a));
    low = Number((x(a) - y(a) * span).toPrecision(6));
    high = Number((low + span).toPrecision(6));
  }
  if (!(low > 0 && high > low && Number.isFinite(high))) return null;
  const s: RopeScaling = { type: 'llama3', factor: Number(factor.toPrecision(7)), lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: orig };
  const back = ropeFrequencyDivisors({ ...c, ropeScaling: s })!;
  return back.every((d, i) => Math.abs(d - divisors[i]!) <= 1e-5 * d) ? s : null;
}

/** Llama 3.1 frequency-dependent scaling: long wavelengths divided by `factor`, short kept, a smooth blend between. */
function llama3Scale(f: number, factor: number, low: number, high: number, orig: number): number {
  const wavelen = (2 * Math.PI) / f;
  const lowWavelen = orig / low, highWavelen = orig / high;
  if (wavelen < highWavelen) return f;
  if (wavelen > lowWavelen) return f / factor;
  const smooth = (orig / wavelen - low) / (high - low);
  return (1 - smooth) * (f / factor) + smooth * f;
}
