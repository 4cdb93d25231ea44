/**
 * The flat NAMM parameter vector (spec/namm.md §3). One Float32 vector shared by every layer and head; weights are
 * row-major `[in][out]` (W[i,o] at i·out + o, used as x·W + b), as the reference's parallel (population) path.
 *
 * BAM scorer, 4,172 values:
 *   Wqkv [0, 2400)     25×96   (Q = columns 0..31, K = 32..63, V = 64..95)
 *   bqkv [2400, 2496)  96
 *   Wo   [2496, 4096)  32×50   (R = columns 0..24, Mul = 25..49)
 *   bo   [4096, 4146)  50
 *   w    [4146, 4171)  25      final linear
 *   b    [4171]        1
 * MLP scorer (the reference `mlp.yaml`: hidden_depth 1, no bias ⇒ one bias-free linear), 25 values: w [0, 25).
 */
import { RECENCY_DIMS } from './recency.js';
import { N_BINS } from './stft.js';

/** Feature width: recency (8) then normalised spectrogram EMA (17). */
export const FEATURE_DIM = RECENCY_DIMS + N_BINS;
/** Hidden width of the BAM attention (one head). */
export const BAM_HIDDEN = 32;

export const BAM_LAYOUT = {
  wqkv: { offset: 0, length: FEATURE_DIM * 3 * BAM_HIDDEN },
  bqkv: { offset: 2400, length: 3 * BAM_HIDDEN },
  wo: { offset: 2496, length: BAM_HIDDEN * 2 * FEATURE_DIM },
  bo: { offset: 4096, length: 2 * FEATURE_DIM },
  w: { offset: 4146, length: FEATURE_DIM },
  b: { offset: 4171, length: 1 },
} as const;

/** Parameters of the BAM scorer (the reference run configs). */
export const NAMM_PARAM_COUNT = 4172;
/** Parameters of the MLP scorer. */
export const MLP_PARAM_COUNT = FEATURE_DIM;

export type NammScorerKind = 'bam' | 'mlp';

export function paramCountFor(scorer: NammScorerKind): number {
  if (scorer === 'bam') return NAMM_PARAM_COUNT;
  if (scorer === 'mlp') return MLP_PARAM_COUNT;
  throw new Error(`unknown NAMM scorer "${String(scorer)}" (expected "bam" or "mlp")`);
}

/** The initial vector of the reference (`scoring_initializer: 0`): all scores 0, nothing evicted. */
export function zeroNammParams(scorer: NammScorerKind = 'bam'): Float32Array {
  return new Float32Array(paramCountFor(scorer));
}

/** Checks length and finiteness of a parameter vector; throws a clear Error. */
export function validateNammParams(params: Float32Array, scorer: NammScorerKind = 'bam'): void {
  if (!(params instanceof Float32Array)) throw new TypeError('NAMM params must be a Float32Array');
  const want = paramCountFor(scorer);
  if (params.length !== want) throw new RangeError(`NAMM ${scorer} scorer needs ${want} parameters, got ${params.length}`);
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i]!)) throw new RangeError(`NAMM params[${i}] is not finite (${params[i]})`);
  }
}

// Sanity of the layout at load time: the segments tile [0, 4172) without gaps.
{
  let at = 0;
  for (const seg of Object.values(BAM_LAYOUT)) {
    if (seg.offset !== at) throw new Error('BAM_LAYOUT is not contiguous');
    at += seg.length;
  }
  if (at !== NAMM_PARAM_COUNT) throw new Error('BAM_LAYOUT does not sum to NAMM_PARAM_COUNT');
}
