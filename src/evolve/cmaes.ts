/**
 * CMA-ES with active (negative) weights, as in the NAMM reference (evo-memory `memory_evolution/cma_es.py`,
 * spec/namm.md §5), maximising fitness. Full covariance (the reference) or diagonal (sep-CMA-ES, Ros & Hansen
 * 2008); eigendecomposition at every generation (mode 'reference') or lazily every k generations (mode 'fast',
 * k from Hansen's rule). The **mean** is the policy to deploy; the best sample ever seen is kept as well.
 *
 * Everything is float64; all randomness comes from one seeded Rng whose state is part of `serialize()`, so a
 * restored strategy continues bit-identically.
 */
import { Rng } from '../util/rng.js';
import { argError } from '../util/args.js';
import { checkOptionKeys } from '../util/show.js';
import { symmetricEigenInPlace } from './eigen.js';
import { CMA_RATE_NAMES, checkStrategyConstants, cmaParameters, hansenEigenGap, type CmaParameters, type CmaVariant } from './cma-parameters.js';
import { decodeCmaState, encodeCmaState, type CmaSnapshot } from './cma-state.js';
import { showValue } from '../util/show.js';

export type { CmaVariant, CmaParameters } from './cma-parameters.js';
export { cmaParameters, hansenEigenGap } from './cma-parameters.js';

export type CmaMode = 'reference' | 'fast';

export interface CmaOptions {
  /** Number of parameters n. */
  dim: number;
  /** λ, default 32 (NAMM runs i1–i3). */
  popSize?: number;
  /** μ = floor(λ · eliteRatio), default 0.5. */
  eliteRatio?: number;
  /** Initial step size σ, default 0.065. */
  initSigma?: number;
  /** Mean learning rate c_m, default 1. */
  cm?: number;
  /** Initial mean, default all zeros. */
  initMean?: ArrayLike<number>;
  /** 'full' (default) or 'separable' (diagonal covariance). */
  variant?: CmaVariant;
  /** 'reference' (default): eigendecomposition at every ask; 'fast': every `eigenEvery` generations. */
  mode?: CmaMode;
  /** Generations between eigendecompositions; default 1 in 'reference' mode, Hansen's gap in 'fast' mode. */
  eigenEvery?: number;
  /** Add 1e-6 to every entry of C before the generation-0 decomposition, as the reference does (default true). */
  shiftFirstGeneration?: boolean;
  /** Seed of the strategy's Rng (default 0). */
  seed?: number | string;
  c1?: number;
  cmu?: number;
  csigma?: number;
  dsigma?: number;
  cc?: number;
}

/** The options after defaults, as stored in a serialized state (initMean is not needed after construction). */
export type ResolvedCmaOptions = Required<Omit<CmaOptions, 'initMean' | 'c1' | 'cmu' | 'csigma' | 'dsigma' | 'cc'>>
  & Pick<CmaOptions, 'c1' | 'cmu' | 'csigma' | 'dsigma' | 'cc'>;

/** Fitness ties and the descending sort: stable, so equal fitness keeps population order. */
function sortDescending(fitness: ArrayLike<number>): number[] {
  const idx = Array.from({ length: fitness.length }, (_, i) => i);
  return idx.sort((a, b) => fitness[b]! - fitness[a]! || a - b);
}

export class CmaEs {
  readonly options: ResolvedCmaOptions;
  readonly params: CmaParameters;
  readonly n: number;
  readonly popSize: number;
  readonly eigenEvery: number;
  readonly rng: Rng;

  /** m: the distribution mean (the deployed policy). */
  mean: Float64Array;
  sigma: number;
  /** Full: C row-major n×n, kept exactly symmetric. Separable: the n diagonal entries. */
  cov: Float64Array;
  pathSigma: Float64Array;
  pathC: Float64Array;
  /** Full: eigenvectors of C, one per row (Bᵀ). Separable: unused (empty). */
  eigenRows: Float64Array;
  /** D: square roots of the eigenvalues (full) or of the diagonal (separable). */
  eigenD: Float64Array;
  /** Generation counter: the number of `tell` calls so far (it numbers generations; the run's samples follow it). */
  generation = 0;
  /**
   * The generation of the search state (mean, σ, C, paths): the g of hσ's correction √(1 − (1 − cσ)^{2g}). Equal to
   * `generation`, except after `adoptSearchState`, which takes the adopted state's, as the reference's restore of
   * its best checkpoint does (spec/namm.md §5); each `tell` then counts on from there.
   */
  stateGeneration = 0;
  /** Value of `generation` when B and D were last computed; −1 when they must be computed at the next ask. */
  eigenGeneration = -1;
  /** How many eigendecompositions this object has run (statistics only, not serialized). */
  eigenCount = 0;
  /** Samples of the outstanding ask (member-major λ×n): z ~ N(0, I) and y = B·D·z; null when none is pending. */
  pending: { z: Float64Array; y: Float64Array } | null = null;
  bestFitness = -Infinity;
  bestX: Float64Array | null = null;

  constructor(opts: CmaOptions) {
    const options = resolveOptions(opts);
    this.options = options;
    this.n = options.dim;
    this.popSize = options.popSize;
    this.params = cmaParameters(this.n, options);
    if (!(options.initSigma > 0) || !Number.isFinite(options.initSigma)) {
      throw new RangeError(`CMA-ES: initSigma must be a positive finite number, got ${options.initSigma}`);
    }
    this.eigenEvery = options.eigenEvery > 0 ? options.eigenEvery : hansenEigenGap(this.params);
    this.rng = new Rng(options.seed);
    const n = this.n;
    this.mean = new Float64Array(n);
    if (opts.initMean !== undefined) {
      if (opts.initMean.length !== n) throw new RangeError(`CMA-ES: initMean has ${opts.initMean.length} entries, need ${n}`);
      for (let i = 0; i < n; i++) {
        const v = Number(opts.initMean[i]);
        if (!Number.isFinite(v)) throw new RangeError(`CMA-ES: initMean[${i}] is ${v}`);
        this.mean[i] = v;
      }
    }
    this.sigma = options.initSigma;
    this.pathSigma = new Float64Array(n);
    this.pathC = new Float64Array(n);
    this.eigenD = new Float64Array(n).fill(1);
    if (options.variant === 'full') {
      this.cov = new Float64Array(n * n);
      for (let i = 0; i < n; i++) this.cov[i * n + i] = 1;
      this.eigenRows = new Float64Array(n * n);
    } else {
      this.cov = new Float64Array(n).fill(1);
      this.eigenRows = new Float64Array(0);
    }
  }

  get isSeparable(): boolean { return this.options.variant === 'separable'; }

  /** Samples λ candidates x_k = m + σ·y_k; returns them as float64 vectors (copies). */
  ask(): Float64Array[] {
    const n = this.n, lambda = this.popSize;
    if (this.eigenGeneration < 0 || this.generation - this.eigenGeneration >= this.eigenEvery) this.updateEigen();
    const z = new Float64Array(lambda * n);
    for (let i = 0; i < z.length; i++) z[i] = this.rng.normal();
    const y = new Float64Array(lambda * n);
    if (this.isSeparable) {
      for (let k = 0; k < lambda; k++) for (let i = 0; i < n; i++) y[k * n + i] = this.eigenD[i]! * z[k * n + i]!;
    } else {
      sampleFull(this.eigenRows, this.eigenD, z, y, n, lambda);
    }
    this.pending = { z, y };
    return this.candidates();
  }

  /** The candidates of the pending ask, x_k = m + σ·y_k. */
  candidates(): Float64Array[] {
    if (!this.pending) throw new Error('CMA-ES: no pending population; call ask() first');
    const n = this.n, { y } = this.pending, out: Float64Array[] = [];
    for (let k = 0; k < this.popSize; k++) {
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = this.mean[i]! + this.sigma * y[k * n + i]!;
      out.push(x);
    }
    return out;
  }

  /**
   * Reports the fitness of the pending population (higher is better) and updates m, σ, C and the paths. An update
   * that would make any of them non-finite (σ also: 0), e.g. from a far too small dsigma, throws an Error saying
   * what and why, and stores nothing: the state stays that of the previous generation, with the ask pending.
   */
  tell(fitness: ArrayLike<number>): void {
    if (!this.pending) throw new Error('CMA-ES: tell() without a pending ask()');
    if (!Array.isArray(fitness) && !ArrayBuffer.isView(fitness)) throw argError('CmaEs.tell', 'fitness', `an array of ${this.popSize} fitness values`, fitness);
    const n = this.n, lambda = this.popSize, p = this.params;
    if (fitness.length !== lambda) throw new RangeError(`CMA-ES: got ${fitness.length} fitness values, need ${lambda}`);
    for (let k = 0; k < lambda; k++) {
      if (typeof fitness[k] !== 'number' || !Number.isFinite(fitness[k])) {
        throw new RangeError(`CMA-ES: fitness[${k}] is ${showValue(fitness[k])}; every fitness must be a finite number`);
      }
    }
    const { z, y } = this.pending;
    // The update is computed into new arrays (C: into its lower triangle, its upper one still holding the old C)
    // and checked before anything is stored: an update that would leave σ, m, a path or C non-finite throws, and
    // the strategy stays as it was after the previous generation, pending ask included (a checkpoint taken then is
    // the last good state).
    const g = this.generation + 1;
    const order = sortDescending(fitness);

    const best = order[0]!;
    let newBestX: Float64Array | null = null;
    if (fitness[best]! > this.bestFitness) {
      newBestX = new Float64Array(n);
      for (let i = 0; i < n; i++) newBestX[i] = this.mean[i]! + this.sigma * y[best * n + i]!;
      const bad = firstNonFinite(newBestX);
      if (bad >= 0) {
        throw this.nonFinite(g, `the best sample (member ${best}) has entry ${bad} = ${newBestX[bad]} (mean ${this.mean[bad]} + sigma ${this.sigma} × ${y[best * n + bad]}: sigma too large?)`);
      }
    }

    // ȳ = Σ_{i≤μ} w_i y_i:λ, and z̄ likewise, so that C^{-½}ȳ = B·z̄ (y = B·D·z, C^{-½} = B·D⁻¹·Bᵀ).
    const yMean = new Float64Array(n), zMean = new Float64Array(n);
    for (let r = 0; r < p.mu; r++) {
      const w = p.meanWeights[r]!, off = order[r]! * n;
      for (let i = 0; i < n; i++) { yMean[i] = yMean[i]! + w * y[off + i]!; zMean[i] = zMean[i]! + w * z[off + i]!; }
    }
    const step = p.cm * this.sigma;
    const newMean = new Float64Array(n);
    for (let i = 0; i < n; i++) newMean[i] = this.mean[i]! + step * yMean[i]!;
    const badMean = firstNonFinite(newMean);
    if (badMean >= 0) {
      throw this.nonFinite(g, `the mean became non-finite: mean[${badMean}] = ${newMean[badMean]} (${this.mean[badMean]} + cm × sigma = ${step} × ${yMean[badMean]}: sigma too large?)`);
    }

    const whitened = this.isSeparable ? zMean : combineRows(this.eigenRows, zMean, n);
    const psScale = Math.sqrt(p.csigma * (2 - p.csigma) * p.muEff);
    const newPathSigma = new Float64Array(n);
    let psNorm2 = 0;
    for (let i = 0; i < n; i++) {
      const v = (1 - p.csigma) * this.pathSigma[i]! + psScale * whitened[i]!;
      newPathSigma[i] = v;
      psNorm2 += v * v;
    }
    const psNorm = Math.sqrt(psNorm2);
    if (!Number.isFinite(psNorm)) {
      throw this.nonFinite(g, `the step-size path pσ became non-finite (‖pσ‖ = ${psNorm}; csigma = ${p.csigma})`);
    }
    // σ's update, checked before the O(n²) covariance update: a tiny dsigma makes the exponent huge.
    const sigmaExponent = (p.csigma / p.dsigma) * (psNorm / p.chiN - 1);
    const newSigma = this.sigma * Math.exp(sigmaExponent);
    if (!(newSigma > 0 && newSigma < Infinity)) {
      const tiny = p.csigma / p.dsigma > 1 ? `: dsigma = ${p.dsigma} is too small?` : '';
      throw this.nonFinite(g, `the step size sigma became ${newSigma} (${this.sigma} × exp(csigma / dsigma × (‖pσ‖ / E‖N(0,I)‖ − 1)) with csigma = ${p.csigma}, dsigma = ${p.dsigma}, ‖pσ‖ / E‖N(0,I)‖ = ${psNorm / p.chiN}, exponent ${sigmaExponent}${tiny})`);
    }

    const gs = this.stateGeneration + 1;
    const hsigma = psNorm / Math.sqrt(1 - Math.pow(1 - p.csigma, 2 * gs)) < (1.4 + 2 / (n + 1)) * p.chiN ? 1 : 0;
    const pcScale = hsigma * Math.sqrt(p.cc * (2 - p.cc) * p.muEff);
    const newPathC = new Float64Array(n);
    for (let i = 0; i < n; i++) newPathC[i] = (1 - p.cc) * this.pathC[i]! + pcScale * yMean[i]!;
    const badPc = firstNonFinite(newPathC);
    if (badPc >= 0) throw this.nonFinite(g, `the covariance path pc became non-finite: pc[${badPc}] = ${newPathC[badPc]} (cc = ${p.cc})`);

    // Active weights: negative ones are rescaled by n/‖C^{-½}y‖² (= n/‖z‖², since C^{-½}y = B·z with B orthogonal).
    const adjusted = new Float64Array(lambda);
    let weightSum = 0;
    for (let r = 0; r < lambda; r++) {
      const w = p.weights[r]!;
      weightSum += w;
      if (w > 0) { adjusted[r] = w; continue; }
      const off = order[r]! * n;
      let z2 = 0;
      for (let i = 0; i < n; i++) z2 += z[off + i]! * z[off + i]!;
      adjusted[r] = w * (n / (z2 + 1e-20));
    }
    const deltaH = (1 - hsigma) * p.cc * (2 - p.cc);
    const decay = 1 + p.c1 * deltaH - p.c1 - p.cmu * weightSum;

    // Rank-one and rank-μ terms as one list of scaled vectors: c1·pc pcᵀ + Σ_r cμ w°_r y_r y_rᵀ.
    const terms = lambda + 1;
    const vectors = new Float64Array(terms * n);
    const coefs = new Float64Array(terms);
    vectors.set(newPathC, 0);
    coefs[0] = p.c1;
    for (let r = 0; r < lambda; r++) {
      vectors.set(y.subarray(order[r]! * n, order[r]! * n + n), (r + 1) * n);
      coefs[r + 1] = p.cmu * adjusted[r]!;
    }
    const covDetail = `decay ${decay}, c1 = ${p.c1}, cmu = ${p.cmu}, sigma ${this.sigma}`;
    if (this.isSeparable) {
      const newCov = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let t = 0; t < terms; t++) { const v = vectors[t * n + i]!; s += coefs[t]! * v * v; }
        newCov[i] = decay * this.cov[i]! + s;
      }
      const bad = firstNonFinite(newCov);
      if (bad >= 0) throw this.nonFinite(g, `the covariance became non-finite: C[${bad}] = ${newCov[bad]} (${covDetail})`);
      this.cov.set(newCov);
    } else {
      const bad = symmetricLowRankUpdate(this.cov, n, decay, vectors, coefs, terms);
      if (bad) throw this.nonFinite(g, `the covariance became non-finite: C[${bad.i},${bad.j}] = ${bad.value} (${covDetail})`);
    }

    // Nothing can fail from here on: store the new state.
    if (newBestX) {
      this.bestFitness = fitness[best]!;
      if (this.bestX) this.bestX.set(newBestX);
      else this.bestX = newBestX;
    }
    this.mean.set(newMean);
    this.pathSigma.set(newPathSigma);
    this.pathC.set(newPathC);
    this.sigma = newSigma;
    this.generation = g;
    this.stateGeneration = gs;
    this.pending = null;
  }

  /** The error of an update that would leave the state non-finite (thrown before anything is stored). */
  private nonFinite(g: number, what: string): Error {
    return new Error(`CMA-ES: the update of generation ${g} failed: ${what}. Nothing was changed: the state is still that after generation ${g - 1}, with its ask pending`);
  }

  /** Recomputes B and D from the current C (symmetrised; +1e-6 everywhere at generation 0 if enabled). */
  updateEigen(): void {
    const n = this.n;
    const shift = this.generation === 0 && this.options.shiftFirstGeneration ? 1e-6 : 0;
    if (this.isSeparable) {
      for (let i = 0; i < n; i++) this.eigenD[i] = rootOrFloor(this.cov[i]! + shift);
    } else {
      // Both triangles: symmetricEigenInPlace checks the matrix is symmetric (it reads the lower one).
      const a = this.eigenRows, c = this.cov;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          const v = (c[i * n + j]! + c[j * n + i]!) / 2 + shift;
          a[i * n + j] = v;
          a[j * n + i] = v;
        }
      }
      const values = new Float64Array(n);
      symmetricEigenInPlace(a, n, values);
      for (let i = 0; i < n; i++) this.eigenD[i] = rootOrFloor(values[i]!);
    }
    this.eigenGeneration = this.generation;
    this.eigenCount++;
  }

  /**
   * Takes over the search distribution of `other` (an earlier state of the same run): mean, σ, C, both evolution
   * paths, the state's generation (`stateGeneration`, hσ's g) and the eigendecomposition (recomputed at the next
   * ask), keeping this object's generation numbering, random stream and best sample. Used to start a stage from
   * the best validated state of the stage before (spec/namm.md §5), while sampling continues where the run is.
   */
  adoptSearchState(other: CmaEs): void {
    if (other.n !== this.n || other.options.variant !== this.options.variant || other.popSize !== this.popSize) {
      throw new Error(`CMA-ES: cannot adopt a state of another shape (n ${other.n}, ${other.options.variant}, λ ${other.popSize})`);
    }
    if (this.pending) throw new Error('CMA-ES: cannot adopt a state while an ask is pending');
    this.mean = Float64Array.from(other.mean);
    this.sigma = other.sigma;
    this.cov = Float64Array.from(other.cov);
    this.pathSigma = Float64Array.from(other.pathSigma);
    this.pathC = Float64Array.from(other.pathC);
    this.stateGeneration = other.stateGeneration;
    this.eigenGeneration = -1;
  }

  /** Compact binary state (see cma-state.ts); `CmaEs.deserialize` restores it bit-identically. */
  serialize(): Uint8Array {
    return encodeCmaState(this.snapshot());
  }

  /**
   * An upper bound on `serialize()`'s length: the float64 sections (a full C packed; its eigenvectors when a later
   * ask may reuse them; a pending ask's samples) and a generous allowance for the JSON header. With `pending`
   * false, the bound of a state between generations (after a `tell`), which is when a run checkpoints: then the
   * eigenvectors are saved only if they are not recomputed at every ask. A run checks it against what a checkpoint
   * may hold before its first generation, not when it first tries to resume.
   */
  serializedBytesBound(pending = true): number {
    return stateBytesBound(this.n, !this.isSeparable, this.eigenEvery, this.popSize, pending);
  }

  /** `serializedBytesBound` of the state that `new CmaEs(opts)` would make, without allocating it (dim² values). */
  static serializedBytesBound(opts: CmaOptions, pending = true): number {
    const options = resolveOptions(opts);
    const eigenEvery = options.eigenEvery > 0 ? options.eigenEvery : hansenEigenGap(cmaParameters(options.dim, options));
    return stateBytesBound(options.dim, options.variant === 'full', eigenEvery, options.popSize, pending);
  }

  static deserialize(bytes: Uint8Array): CmaEs {
    const s = decodeCmaState(bytes);
    const cma = new CmaEs(s.options);
    cma.restore(s);
    return cma;
  }

  private snapshot(): CmaSnapshot {
    // B and D are saved only when the next ask would reuse them (lazy mode, or a pending ask); otherwise the
    // next ask recomputes them from C anyway, and leaving them out halves the file.
    const reuse = this.eigenGeneration >= 0 && (this.pending !== null || this.generation - this.eigenGeneration < this.eigenEvery);
    return {
      options: this.options,
      generation: this.generation,
      stateGeneration: this.stateGeneration,
      eigenGeneration: reuse ? this.eigenGeneration : -1,
      sigma: this.sigma,
      bestFitness: this.bestFitness,
      rng: this.rng.getState(),
      mean: this.mean,
      pathSigma: this.pathSigma,
      pathC: this.pathC,
      cov: this.cov,
      eigenD: reuse ? this.eigenD : null,
      eigenRows: reuse && !this.isSeparable ? this.eigenRows : null,
      bestX: this.bestX,
      pendingZ: this.pending?.z ?? null,
      pendingY: this.pending?.y ?? null,
    };
  }

  private restore(s: CmaSnapshot): void {
    const n = this.n;
    const expect = (name: string, a: Float64Array | null, len: number): void => {
      if (a && a.length !== len) throw new Error(`CMA-ES state: ${name} has ${a.length} values, need ${len}`);
    };
    expect('mean', s.mean, n); expect('pathSigma', s.pathSigma, n); expect('pathC', s.pathC, n);
    expect('cov', s.cov, this.cov.length); expect('eigenD', s.eigenD, n);
    expect('eigenRows', s.eigenRows, this.eigenRows.length); expect('bestX', s.bestX, n);
    expect('pendingZ', s.pendingZ, n * this.popSize); expect('pendingY', s.pendingY, n * this.popSize);
    // A state `tell` could not have produced (tell never stores a non-finite one) would only give garbage later.
    if (!(typeof s.sigma === 'number' && s.sigma > 0 && s.sigma < Infinity)) {
      throw new Error(`CMA-ES state: sigma is ${String(s.sigma)}, need a positive finite number`);
    }
    if (!Number.isSafeInteger(s.generation) || s.generation < 0) throw new Error(`CMA-ES state: generation is ${String(s.generation)}`);
    if (!Number.isSafeInteger(s.stateGeneration) || s.stateGeneration < 0 || s.stateGeneration > s.generation) {
      throw new Error(`CMA-ES state: stateGeneration is ${String(s.stateGeneration)} (generation ${s.generation})`);
    }
    if (!Number.isSafeInteger(s.eigenGeneration) || s.eigenGeneration < -1 || s.eigenGeneration > s.generation) {
      throw new Error(`CMA-ES state: eigenGeneration is ${String(s.eigenGeneration)} (generation ${s.generation})`);
    }
    const sections: [string, Float64Array | null][] = [['mean', s.mean], ['pathSigma', s.pathSigma], ['pathC', s.pathC], ['cov', s.cov],
      ['eigenD', s.eigenD], ['eigenRows', s.eigenRows], ['bestX', s.bestX], ['pendingZ', s.pendingZ], ['pendingY', s.pendingY]];
    for (const [name, a] of sections) {
      const bad = a ? firstNonFinite(a) : -1;
      if (bad >= 0) throw new Error(`CMA-ES state: ${name}[${bad}] is ${a![bad]}`);
    }
    this.generation = s.generation;
    this.stateGeneration = s.stateGeneration;
    this.sigma = s.sigma;
    this.bestFitness = s.bestFitness;
    this.rng.setState(s.rng);
    this.mean.set(s.mean); this.pathSigma.set(s.pathSigma); this.pathC.set(s.pathC); this.cov.set(s.cov);
    this.bestX = s.bestX ? Float64Array.from(s.bestX) : null;
    this.eigenGeneration = s.eigenGeneration;
    if (s.eigenGeneration >= 0) {
      if (!s.eigenD || (!this.isSeparable && !s.eigenRows)) throw new Error('CMA-ES state: eigen bookkeeping without B/D');
      this.eigenD.set(s.eigenD);
      if (s.eigenRows) this.eigenRows.set(s.eigenRows);
    }
    if (s.pendingZ && s.pendingY) this.pending = { z: Float64Array.from(s.pendingZ), y: Float64Array.from(s.pendingY) };
    else if (s.pendingZ || s.pendingY) throw new Error('CMA-ES state: pending samples incomplete');
  }
}

function stateBytesBound(n: number, full: boolean, eigenEvery: number, popSize: number, pending: boolean): number {
  const cov = full ? (n * (n + 1)) / 2 : n;
  const eigen = pending || eigenEvery !== 1 ? n + (full ? n * n : 0) : 0;
  return 8 * (cov + eigen + 4 * n + (pending ? 2 * popSize * n : 0)) + 64 * 1024;
}

/** The keys of CmaOptions: a misspelt one (`popsize`, `sigma`) was ignored and its default used. */
const CMA_OPTION_KEYS = ['dim', 'popSize', 'eliteRatio', 'initSigma', 'cm', 'initMean', 'variant', 'mode', 'eigenEvery', 'shiftFirstGeneration', 'seed', ...CMA_RATE_NAMES];

/** The largest dim of a full covariance: C and its eigenvectors are dim² float64 values each (8 GiB at this bound). */
const MAX_FULL_DIM = 2 ** 15;

function resolveOptions(o: CmaOptions): ResolvedCmaOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('CMA-ES: options object required');
  checkOptionKeys(o, CMA_OPTION_KEYS, 'CmaEs');
  if ((o.variant ?? 'full') === 'full' && typeof o.dim === 'number' && o.dim > MAX_FULL_DIM) {
    throw new RangeError(`CMA-ES: dim ${o.dim} is too large for a full covariance matrix (at most ${MAX_FULL_DIM}: dim² float64 values); use variant: 'separable'`);
  }
  const mode = o.mode ?? 'reference';
  if (mode !== 'reference' && mode !== 'fast') throw new RangeError(`CMA-ES: mode must be 'reference' or 'fast', got ${String(mode)}`);
  const variant = o.variant ?? 'full';
  if (variant !== 'full' && variant !== 'separable') throw new RangeError(`CMA-ES: variant must be 'full' or 'separable', got ${String(variant)}`);
  const eigenEvery = o.eigenEvery ?? (mode === 'reference' ? 1 : 0);
  if (!Number.isInteger(eigenEvery) || eigenEvery < 0) throw new RangeError(`CMA-ES: eigenEvery must be a positive integer, got ${eigenEvery}`);
  const r: ResolvedCmaOptions = {
    dim: o.dim, popSize: o.popSize ?? 32, eliteRatio: o.eliteRatio ?? 0.5, initSigma: o.initSigma ?? 0.065,
    cm: o.cm ?? 1, variant, mode, eigenEvery, shiftFirstGeneration: o.shiftFirstGeneration ?? true, seed: o.seed ?? 0,
  };
  checkStrategyConstants({ cm: r.cm });
  if (!Number.isSafeInteger(r.seed)) throw new RangeError(`CMA-ES: seed must be an integer, got ${String(o.seed)}`);
  if (typeof r.shiftFirstGeneration !== 'boolean') {
    throw new TypeError(`CMA-ES: shiftFirstGeneration must be true or false, got ${String(o.shiftFirstGeneration)}`);
  }
  checkStrategyConstants(o);
  for (const k of CMA_RATE_NAMES) if (o[k] !== undefined) r[k] = o[k];
  return r;
}

/** √λ with non-positive eigenvalues replaced by 1e-20 first (the reference's guard). */
function rootOrFloor(lambda: number): number {
  return Math.sqrt(lambda <= 0 ? 1e-20 : lambda);
}

/** y_k = Σ_j D_j z_kj · Bᵀ[j,:], in column tiles so the λ partial outputs stay in cache. */
function sampleFull(rows: Float64Array, d: Float64Array, z: Float64Array, y: Float64Array, n: number, lambda: number): void {
  const tile = 512;
  const coef = new Float64Array(lambda);
  for (let c0 = 0; c0 < n; c0 += tile) {
    const c1 = Math.min(n, c0 + tile);
    for (let j = 0; j < n; j++) {
      const dj = d[j]!, row = j * n;
      for (let k = 0; k < lambda; k++) coef[k] = dj * z[k * n + j]!;
      for (let k = 0; k < lambda; k++) {
        const c = coef[k]!, off = k * n;
        if (c === 0) continue;
        for (let i = c0; i < c1; i++) y[off + i] = y[off + i]! + c * rows[row + i]!;
      }
    }
  }
}

/** Σ_j v_j · rows[j,:] (B·v when rows holds Bᵀ). */
function combineRows(rows: Float64Array, v: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const c = v[j]!, row = j * n;
    if (c === 0) continue;
    for (let i = 0; i < n; i++) out[i] = out[i]! + c * rows[row + i]!;
  }
  return out;
}

/** Index of the first non-finite entry of `a`, or −1. */
function firstNonFinite(a: Float64Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/**
 * C ← decay·C + Σ_t coefs[t]·v_t v_tᵀ on the lower triangle, then mirrored, so C stays exactly symmetric.
 * The vectors are transposed first so the inner sum over the terms is contiguous.
 * Each new row is checked as it is written: at the first non-finite entry the update stops, the rows written so
 * far get their old values back from the upper triangle (which still holds the old C, C being exactly symmetric)
 * and the diagonal from a copy, and that entry is returned, C unchanged. Returns null when the update went through.
 */
function symmetricLowRankUpdate(
  c: Float64Array, n: number, decay: number, vectors: Float64Array, coefs: Float64Array, terms: number,
): { i: number; j: number; value: number } | null {
  const vt = new Float64Array(n * terms); // vt[i·terms + t] = v_t[i]
  for (let t = 0; t < terms; t++) for (let i = 0; i < n; i++) vt[i * terms + t] = vectors[t * n + i]!;
  const scaled = new Float64Array(terms);
  const diagonal = new Float64Array(n);
  for (let i = 0; i < n; i++) diagonal[i] = c[i * n + i]!;
  for (let i = 0; i < n; i++) {
    const row = i * n, oi = i * terms;
    for (let t = 0; t < terms; t++) scaled[t] = coefs[t]! * vt[oi + t]!;
    for (let j = 0; j <= i; j++) {
      const oj = j * terms;
      let s = 0;
      for (let t = 0; t < terms; t++) s += scaled[t]! * vt[oj + t]!;
      c[row + j] = decay * c[row + j]! + s;
    }
    for (let j = 0; j <= i; j++) {
      const value = c[row + j]!;
      if (Number.isFinite(value)) continue;
      for (let r = 0; r <= i; r++) {
        for (let k = 0; k < r; k++) c[r * n + k] = c[k * n + r]!;
        c[r * n + r] = diagonal[r]!;
      }
      return { i, j, value };
    }
  }
  const tile = 64;
  for (let ib = 0; ib < n; ib += tile) {
    for (let jb = 0; jb <= ib; jb += tile) {
      const iEnd = Math.min(ib + tile, n), jEnd = Math.min(jb + tile, n);
      for (let i = ib; i < iEnd; i++) {
        const top = jb === ib ? i : jEnd;
        for (let j = jb; j < top; j++) c[j * n + i] = c[i * n + j]!;
      }
    }
  }
  return null;
}
