/**
 * CMA-ES strategy parameters (weights and learning rates) as the NAMM reference computes them
 * (evo-memory `memory_evolution/cma_es.py::get_cma_defaults`, spec/namm.md §5), with the sep-CMA-ES learning-rate
 * scaling of Ros & Hansen (2008) for the diagonal variant. At elite ratios other than 0.5 the weights' base moves
 * with μ (see cmaParameters).
 */
import { checkArg } from '../util/args.js';

export type CmaVariant = 'full' | 'separable';

export interface CmaParameters {
  dim: number;
  popSize: number;
  /** μ: the number of members that move the mean (popSize · eliteRatio, at least 1). */
  mu: number;
  /** Recombination weights, best first: positive ones sum to 1, negative ones (active CMA) scaled by minAlpha. */
  weights: Float64Array;
  /** The same weights with every entry past μ set to 0 (used for the mean and the evolution paths). */
  meanWeights: Float64Array;
  muEff: number;
  muEffMinus: number;
  c1: number;
  cmu: number;
  csigma: number;
  dsigma: number;
  cc: number;
  cm: number;
  /** E‖N(0, I)‖. */
  chiN: number;
}

export interface CmaParameterOptions {
  popSize: number;
  eliteRatio: number;
  variant: CmaVariant;
  cm: number;
  /** Optional overrides; like the reference, the weights always use the default c1 and cμ. */
  c1?: number;
  cmu?: number;
  csigma?: number;
  dsigma?: number;
  cc?: number;
}

/** The reference clips n to this in c1, cμ and the 1/(21n²) term of E‖N‖ ("numerical stability"). */
const CLIPPED_DIM_LIMIT = 40000;

/** The user-settable strategy constants: learning rates in (0, 1], and the step-size damping dsigma. */
export const CMA_RATE_NAMES = ['c1', 'cmu', 'csigma', 'dsigma', 'cc'] as const;

/**
 * Checks the optional overrides c1, cμ, cσ, dσ and cc, and cm: the learning rates are fractions, in (0, 1] (above 1
 * the mean, paths or covariance diverge or collapse); dsigma is a damping, any positive finite number (Infinity
 * would freeze σ; a tiny one makes the step-size update overflow, which `tell` reports); cm a positive finite number.
 */
export function checkStrategyConstants(o: Partial<Record<(typeof CMA_RATE_NAMES)[number] | 'cm', unknown>>): void {
  if (o.cm !== undefined && !(typeof o.cm === 'number' && o.cm > 0 && Number.isFinite(o.cm))) {
    throw new (typeof o.cm === 'number' ? RangeError : TypeError)(`CMA-ES: cm must be a positive finite number, got ${describe(o.cm)}`);
  }
  for (const k of CMA_RATE_NAMES) {
    const v = o[k];
    if (v === undefined) continue;
    const range = k === 'dsigma' ? 'a positive finite number' : 'a number in (0, 1]';
    if (typeof v !== 'number') throw new TypeError(`CMA-ES: ${k} must be ${range}, got ${describe(v)}`);
    if (!(v > 0) || !(k === 'dsigma' ? Number.isFinite(v) : v <= 1)) {
      throw new RangeError(`CMA-ES: ${k} must be ${range}, got ${describe(v)}`);
    }
  }
  const c1 = o.c1 as number | undefined, cmu = o.cmu as number | undefined;
  if ((c1 ?? 0) + (cmu ?? 0) > 1) throw new RangeError(`CMA-ES: c1 + cmu must be at most 1, got ${c1} + ${cmu}`);
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? Object.prototype.toString.call(v) : String(v);
}

export function cmaParameters(dim: number, o: CmaParameterOptions): CmaParameters {
  if (o === null || typeof o !== 'object') throw new TypeError('CMA-ES: cmaParameters needs an options object');
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`CMA-ES: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(o.popSize) || o.popSize < 2) throw new RangeError(`CMA-ES: popSize must be an integer ≥ 2, got ${o.popSize}`);
  // A generation holds popSize samples of dim values twice (z and y, float64): past 2^27 values that is 2 GiB, where
  // a mistyped size filled memory for minutes instead of failing.
  if (o.popSize * dim > 2 ** 27) throw new RangeError(`CMA-ES: popSize × dim must be at most 2^27 (a generation's samples), got ${o.popSize} × ${dim}`);
  if (!(typeof o.eliteRatio === 'number' && o.eliteRatio > 0 && o.eliteRatio <= 1)) {
    throw new RangeError(`CMA-ES: eliteRatio must be a number in (0, 1], got ${describe(o.eliteRatio)}`);
  }
  if (o.variant !== 'full' && o.variant !== 'separable') throw new RangeError(`CMA-ES: variant must be 'full' or 'separable', got ${String(o.variant)}`);
  if (o.cm === undefined) throw new TypeError('CMA-ES: cmaParameters needs cm (the mean learning rate)');
  checkStrategyConstants(o);
  const n = dim, lambda = o.popSize;
  const mu = Math.max(1, Math.floor(lambda * o.eliteRatio));
  const clippedN = Math.min(n, CLIPPED_DIM_LIMIT);

  // w'_i = ln(b) − ln i. At μ = ⌊λ/2⌋ (elite ratio 0.5, every reference run) b = (λ+1)/2, the reference's and
  // Hansen's default. The reference keeps that b for any μ, so another ratio puts the sign change in the wrong place:
  // below 0.5 the mean's weights sum to less than 1 and σ shrinks under random selection, above it some elite
  // members get negative mean weights (at ratio 1 the mean steps away from the best). b = μ + ½ puts the sign
  // change at μ, so the top μ carry the positive weights (summing to 1) and the rest the negative ones.
  const base = mu === Math.floor(lambda / 2) ? (lambda + 1) / 2 : mu + 0.5;
  const raw = new Float64Array(lambda);
  for (let i = 0; i < lambda; i++) raw[i] = Math.log(base) - Math.log(i + 1);
  const muEff = effectiveSize(raw.subarray(0, mu));
  const muEffMinus = mu < lambda ? effectiveSize(raw.subarray(mu)) : 0;

  let c1 = 2 / ((clippedN + 1.3) ** 2 + muEff);
  let cmu = Math.min(1 - c1 - 1e-8, (2 * (muEff - 2 + 1 / muEff)) / ((clippedN + 2) ** 2 + muEff));
  if (o.variant === 'separable') {
    // Ros & Hansen: a diagonal covariance has n instead of n²/2 degrees of freedom, so it learns (n+1.5)/3 faster.
    const speedup = (n + 1.5) / 3;
    c1 = Math.min(1, c1 * speedup);
    cmu = Math.min(1 - c1 - 1e-8, cmu * speedup);
    if (cmu < 0) cmu = 0;
  }

  let minAlpha = 1 + c1 / cmu;
  if (muEffMinus > 0) minAlpha = Math.min(minAlpha, 1 + (2 * muEffMinus) / (muEff + 2));
  minAlpha = Math.min(minAlpha, (1 - c1 - cmu) / (n * cmu));
  let positiveSum = 0, negativeSum = 0;
  for (const w of raw) { if (w > 0) positiveSum += w; else negativeSum -= w; }
  const weights = new Float64Array(lambda);
  for (let i = 0; i < lambda; i++) {
    const w = raw[i]!;
    weights[i] = w >= 0 ? w / positiveSum : (minAlpha / negativeSum) * w;
  }
  const meanWeights = weights.slice();
  meanWeights.fill(0, mu);

  const csigma = (muEff + 2) / (n + muEff + 5);
  const dsigma = 1 + 2 * Math.max(0, Math.sqrt((muEff - 1) / (n + 1)) - 1) + csigma;
  const cc = (4 + muEff / n) / (n + 4 + (2 * muEff) / n);
  const chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * clippedN * clippedN));

  return {
    dim: n, popSize: lambda, mu, weights, meanWeights, muEff, muEffMinus,
    c1: o.c1 ?? c1, cmu: o.cmu ?? cmu, csigma: o.csigma ?? csigma, dsigma: o.dsigma ?? dsigma, cc: o.cc ?? cc,
    cm: o.cm, chiN,
  };
}

/** (Σw)² / Σw²: the variance-effective number of the given weights. */
function effectiveSize(w: Float64Array): number {
  let s = 0, s2 = 0;
  for (const x of w) { s += x; s2 += x * x; }
  return (s * s) / s2;
}

/**
 * Hansen's lazy eigendecomposition gap: refreshing B and D only every 1/(10·n·(c1+cμ)) generations keeps the
 * O(n³) cost per generation at O(n²) amortised while C changes too little in between to matter.
 */
export function hansenEigenGap(p: CmaParameters): number {
  checkArg('hansenEigenGap', 'p', p, 'object', 'CMA-ES parameters (cmaParameters(dim, options))');
  checkArg('hansenEigenGap', 'p.dim', p.dim, 'positive');
  for (const k of ['c1', 'cmu'] as const) checkArg('hansenEigenGap', `p.${k}`, p[k], 'finite');
  return Math.max(1, Math.floor(1 / (10 * p.dim * (p.c1 + p.cmu))));
}
