/**
 * Frozen online normalisation of the spectrogram features (spec/namm.md §2, `norm_base.yaml`): one per-bin mean μ
 * and population variance σ² (17 values each) shared by every layer, head and token, applied as
 * Ê = (E − μ) / max(√σ², 1e-7). In the reference they are accumulated only during the iteration-0 evaluation of
 * the all-zero policy (which evicts nothing) over every cached row of every update, then frozen; here a
 * calibration pass fills a NormAccumulator and the result ships inside the `.namm` file.
 */
import { N_BINS } from './stft.js';
import { checkArg } from '../../util/args.js';

export interface NormStats {
  /** Per-bin mean (17). */
  mean: Float32Array;
  /** Per-bin population variance (17). */
  variance: Float32Array;
  /** Rows pooled into the statistics. */
  count: number;
}

/** Lower bound on the standard deviation used as the divisor (the reference's `max(σ, 1e-7)`). */
export const NORM_MIN_STD = 1e-7;

let warnedUnnormalised = false;

/** The reference prints once that it cannot normalise without statistics; so do we (once per process). */
export function warnUnnormalisedOnce(): void {
  if (warnedUnnormalised) return;
  warnedUnnormalised = true;
  process.emitWarning('namm: no normalisation statistics (never calibrated, none loaded): NAMM features are used un-normalised, as the reference does', { code: 'NAMM_UNNORMALISED' });
}

/** Checks shape and values of statistics; throws a clear Error. */
export function validateNormStats(stats: NormStats, where = 'normalisation statistics'): void {
  if (!(stats.mean instanceof Float32Array) || stats.mean.length !== N_BINS) throw new TypeError(`${where}: mean must be a Float32Array of ${N_BINS}`);
  if (!(stats.variance instanceof Float32Array) || stats.variance.length !== N_BINS) throw new TypeError(`${where}: variance must be a Float32Array of ${N_BINS}`);
  if (!Number.isSafeInteger(stats.count) || stats.count <= 0) throw new RangeError(`${where}: count must be a positive integer, got ${stats.count}`);
  for (let f = 0; f < N_BINS; f++) {
    if (!Number.isFinite(stats.mean[f]!)) throw new RangeError(`${where}: mean[${f}] is not finite`);
    if (!Number.isFinite(stats.variance[f]!) || stats.variance[f]! < 0) throw new RangeError(`${where}: variance[${f}] must be finite and ≥ 0`);
  }
}

/** Precomputed (μ, 1/max(σ, 1e-7)) per bin, so the per-row work is a subtract and a multiply. */
export class FeatureNormalizer {
  private readonly mean: Float64Array;
  private readonly invStd: Float64Array;

  constructor(stats: NormStats) {
    checkArg('FeatureNormalizer', 'stats', stats, 'object', 'normalisation statistics {mean, variance, count}');
    validateNormStats(stats);
    this.mean = Float64Array.from(stats.mean);
    this.invStd = new Float64Array(N_BINS);
    // The divisor is formed in float32 as the reference (sqrt of a float32 variance, clamped).
    for (let f = 0; f < N_BINS; f++) this.invStd[f] = 1 / Math.max(Math.fround(Math.sqrt(stats.variance[f]!)), NORM_MIN_STD);
  }

  /** μ then 1/max(σ, 1e-7), 34 float64 values: the `norm` argument of Backend.nammFeatures. */
  get packed(): Float64Array {
    const out = new Float64Array(2 * N_BINS);
    out.set(this.mean, 0);
    out.set(this.invStd, N_BINS);
    return out;
  }

  /** out[outOff + f] = (raw[rawOff + f] − μ_f) / max(σ_f, 1e-7) for the 17 bins. */
  apply(raw: Float32Array, rawOff: number, out: Float32Array, outOff: number): void {
    for (let f = 0; f < N_BINS; f++) out[outOff + f] = (raw[rawOff + f]! - this.mean[f]!) * this.invStd[f]!;
  }
}

/**
 * Pooled per-bin mean and population variance of every row it is given, merged batch by batch with Chan's
 * parallel formula (float64 here; the reference keeps float32 mean/var, equal up to rounding). Accumulators from
 * parallel workers merge with `merge`.
 */
export class NormAccumulator {
  count = 0;
  // Typed as plain Float64Array: inferred, they declared Float64Array<ArrayBuffer>, which TypeScript before 5.7 does
  // not read (a consumer's type check failed on namm's own declarations).
  readonly mean: Float64Array = new Float64Array(N_BINS);
  /** Sum of squared deviations from the mean (M2). */
  readonly m2: Float64Array = new Float64Array(N_BINS);

  /** Adds `rows` rows of 17 values from `data` (row r at r·17). */
  addRows(data: Float32Array, rows: number): void {
    if (rows <= 0) return;
    if (data.length < rows * N_BINS) throw new RangeError(`NormAccumulator.addRows: ${rows} rows need ${rows * N_BINS} values, got ${data.length}`);
    const bMean = new Float64Array(N_BINS), bM2 = new Float64Array(N_BINS);
    for (let r = 0; r < rows; r++) for (let f = 0; f < N_BINS; f++) bMean[f] = bMean[f]! + data[r * N_BINS + f]!;
    for (let f = 0; f < N_BINS; f++) bMean[f] = bMean[f]! / rows;
    for (let r = 0; r < rows; r++) {
      for (let f = 0; f < N_BINS; f++) { const d = data[r * N_BINS + f]! - bMean[f]!; bM2[f] = bM2[f]! + d * d; }
    }
    this.mergeMoments(rows, bMean, bM2);
  }

  /** Pools another accumulator into this one. */
  merge(other: NormAccumulator): void {
    if (other.count > 0) this.mergeMoments(other.count, other.mean, other.m2);
  }

  /** The pooled statistics (float32), or null while empty. */
  toStats(): NormStats | null {
    if (this.count === 0) return null;
    const mean = new Float32Array(N_BINS), variance = new Float32Array(N_BINS);
    for (let f = 0; f < N_BINS; f++) { mean[f] = this.mean[f]!; variance[f] = this.m2[f]! / this.count; }
    return { mean, variance, count: this.count };
  }

  private mergeMoments(nB: number, meanB: Float64Array, m2B: Float64Array): void {
    const nA = this.count, n = nA + nB;
    for (let f = 0; f < N_BINS; f++) {
      const delta = meanB[f]! - this.mean[f]!;
      this.mean[f] = this.mean[f]! + (delta * nB) / n;
      this.m2[f] = this.m2[f]! + m2B[f]! + (delta * delta * nA * nB) / n;
    }
    this.count = n;
  }
}
