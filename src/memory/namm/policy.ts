/**
 * NAMM, the Neural Attention Memory Model (Cetin et al., "An Evolved Universal Transformer Memory", arXiv
 * 2410.13166), as a MemoryPolicy. Defaults reproduce the reference (SakanaAI/evo-memory run configs): BAM scorer,
 * an update every 512 absolute tokens, threshold-0 selection with the minimum over heads.
 *
 * Per layer and head, at each update: the spectrogram EMA of the attention every cached token received (buffer.ts,
 * stft.ts, ema.ts), its recency (recency.ts), normalised with frozen statistics (normalize.ts), scored by BAM or the
 * MLP (bam.ts, mlp.ts), turned into keep lists (selection.ts). The policy keeps its own per-sequence state and
 * returns keep lists; the session compacts the cache.
 */
import type { Backend } from '../../tensor/backend.js';
import { getBackend } from '../../tensor/index.js';
import type { CacheShape, KeepLists, LayerObservation, MemoryPolicy } from '../policy.js';
import { BamScorer } from './bam.js';
import { endsWindow, HeadWindow, validateUpdateEvery } from './buffer.js';
import { EMA_COEFF, emaOldStateDecay } from './ema.js';
import { MlpScorer } from './mlp.js';
import { FeatureNormalizer, NormAccumulator, validateNormStats, warnUnnormalisedOnce, type NormStats } from './normalize.js';
import { FEATURE_DIM, validateNammParams, type NammScorerKind } from './params.js';
import { recencyEmbedding, RECENCY_DIMS, RECENCY_TABLE_MAX, recencyTable, type RecencyOverflow } from './recency.js';
import { NAMM_SELECTIONS, selectTokens, type NammSelection } from './selection.js';
import { N_BINS as IMPORTED_N_BINS } from './stft.js';

// Module-local copies of constants used in per-row loops (an imported binding can cost a call per access when the
// module is transpiled on the fly).
const N_BINS = IMPORTED_N_BINS;
const FEATURE_DIMS = FEATURE_DIM;
const RECENCY_WIDTH = RECENCY_DIMS;
const RECENCY_TABLE_LIMIT = RECENCY_TABLE_MAX;

export interface NammPolicyOptions {
  /** Flat parameter vector (4,172 for 'bam', 25 for 'mlp'); see params.ts. */
  params: Float32Array;
  /** Frozen per-bin feature statistics; without them features pass un-normalised (with one warning). */
  normStats?: NormStats | null;
  /** Absolute tokens between updates (reference 512); a positive multiple of 16. */
  updateEvery?: number;
  /** 'min-over-heads' (reference) or 'per-head'. */
  selection?: NammSelection;
  /** Optional cap on tokens kept per head (reference: none). */
  cacheSize?: number;
  /** Scoring network (reference 'bam'). */
  scorer?: NammScorerKind;
  /** Calibration pass: evict nothing, pool the raw features of every cached row of every update. */
  calibrate?: boolean;
  /** What to do with a token more than 32,768 positions older than the newest: 'error' (reference) or 'extend'. */
  recency?: RecencyOverflow;
  /** Kernels for the BAM attention (GEMMs and softmax); default the process backend (getBackend()); null: plain loops. */
  backend?: Backend | null;
  /** Called after every (layer) update with what was computed; for inspection tools and tests. */
  onUpdate?: (info: NammUpdateInfo) => void;
  /** Report name; default derived from the options. */
  name?: string;
}

export interface NammHeadUpdate {
  /** Absolute positions of the scored rows (oldest first). */
  positions: Int32Array;
  /** Raw (un-normalised) spectrogram EMA `[n, 17]`. */
  rawEma: Float32Array;
  /** Scorer input `[n, 25]`: recency (8), normalised EMA (17). */
  features: Float32Array;
  /** Scores `[n]` (null in calibration mode, where nothing is scored). */
  scores: Float32Array | null;
  /** Ascending kept row indices among the n scored rows. */
  keep: Int32Array;
}

export interface NammUpdateInfo {
  layer: number;
  /** T_abs at which the update happened (a multiple of updateEvery). */
  totalTokens: number;
  heads: NammHeadUpdate[];
}

interface LayerState {
  /** Tokens this layer has seen (T_abs after its last chunk). */
  seen: number;
  /** Rows per head in the cache after the last keep lists we returned. */
  cacheRows: Int32Array;
  windows: HeadWindow[];
  /** Raw EMA per head for the rows scored at earlier updates (null before the first update). */
  ema: (Float32Array | null)[];
}

interface Scorer { score(x: Float32Array, n: number, out: Float32Array): void }

export class NammPolicy implements MemoryPolicy {
  readonly name: string;
  readonly needsAttention = true;
  readonly updateEvery: number;
  readonly selection: NammSelection;
  readonly cacheSize: number | undefined;
  readonly scorerKind: NammScorerKind;
  readonly calibrate: boolean;
  /** Pooled statistics of a calibration pass (filled only when `calibrate`). */
  readonly calibration = new NormAccumulator();
  private readonly normalizer: FeatureNormalizer | null;
  private readonly recency: RecencyOverflow;
  private readonly scorer: Scorer;
  private readonly decay: number;
  private readonly onUpdate: ((info: NammUpdateInfo) => void) | undefined;
  private shape: CacheShape | null = null;
  private layers: LayerState[] = [];
  /** Kernels for the spectrogram and BAM (null: the plain TypeScript loops). */
  private readonly backend: Backend | null;

  constructor(opts: NammPolicyOptions) {
    if (!opts || typeof opts !== 'object') throw new TypeError('NammPolicy needs an options object');
    this.scorerKind = opts.scorer ?? 'bam';
    validateNammParams(opts.params, this.scorerKind);
    this.updateEvery = opts.updateEvery ?? 512;
    validateUpdateEvery(this.updateEvery);
    this.selection = opts.selection ?? 'min-over-heads';
    if (!NAMM_SELECTIONS.includes(this.selection)) throw new RangeError(`NAMM selection must be one of ${NAMM_SELECTIONS.join(', ')}, got "${this.selection}"`);
    if (opts.cacheSize !== undefined && (!Number.isInteger(opts.cacheSize) || opts.cacheSize < 1)) {
      throw new RangeError(`NAMM cacheSize must be a positive integer, got ${opts.cacheSize}`);
    }
    this.cacheSize = opts.cacheSize;
    this.recency = opts.recency ?? 'error';
    if (this.recency !== 'error' && this.recency !== 'extend') throw new RangeError(`NAMM recency must be "error" or "extend", got "${this.recency}"`);
    this.calibrate = opts.calibrate ?? false;
    if (opts.normStats) validateNormStats(opts.normStats);
    this.normalizer = opts.normStats ? new FeatureNormalizer(opts.normStats) : null;
    this.backend = opts.backend === undefined ? getBackend() : opts.backend;
    this.scorer = this.scorerKind === 'bam' ? new BamScorer(opts.params, this.backend ?? undefined) : new MlpScorer(opts.params);
    this.decay = emaOldStateDecay(this.updateEvery, EMA_COEFF);
    this.onUpdate = opts.onUpdate;
    this.name = opts.name ?? [
      `namm:${this.scorerKind}`,
      `selection=${this.selection}`,
      `update=${this.updateEvery}`,
      ...(this.cacheSize !== undefined ? [`cacheSize=${this.cacheSize}`] : []),
      ...(this.calibrate ? ['calibrate=true'] : []),
    ].join(',');
  }

  /**
   * Milliseconds spent per stage since construction: features (attention buffering, STFT, EMA, recency,
   * normalisation), scoring (BAM/MLP) and selection (keep lists and the gather of per-token state).
   */
  readonly timings = { featuresMs: 0, scoringMs: 0, selectionMs: 0, updates: 0 };

  reset(shape: CacheShape): void {
    for (const k of ['nLayers', 'nKvHeads'] as const) {
      if (!Number.isInteger(shape?.[k]) || shape[k] < 1) throw new RangeError(`NammPolicy.reset: ${k} must be a positive integer`);
    }
    this.shape = { ...shape };
    this.layers = [];
  }

  /** The statistics pooled by a calibration pass so far (null before any update). */
  calibrationStats(): NormStats | null {
    return this.calibration.toStats();
  }

  observe(obs: LayerObservation): KeepLists | null {
    const shape = this.shape;
    if (!shape) throw new Error('NammPolicy.observe before reset(shape)');
    const { layer, nQ } = obs;
    if (!Number.isInteger(layer) || layer < 0 || layer >= shape.nLayers) throw new RangeError(`NAMM: layer ${layer} out of range (0..${shape.nLayers - 1})`);
    if (!Number.isInteger(nQ) || nQ < 1) throw new RangeError(`NAMM: a chunk needs at least one query, got ${nQ}`);
    const nH = shape.nKvHeads;
    const att = obs.attention;
    if (!att || att.length < nH) throw new Error('NAMM needs the attention probabilities of every KV head (needsAttention is true)');
    let st = this.layers[layer];
    if (!st || (obs.totalTokens === nQ && st.seen !== 0)) st = this.layers[layer] = this.newLayerState(nH);
    if (obs.totalTokens !== st.seen + nQ) {
      throw new Error(`NAMM: layer ${layer} saw ${st.seen} tokens, a chunk of ${nQ} cannot bring the total to ${obs.totalTokens} (call reset() at the start of every sequence)`);
    }
    for (let h = 0; h < nH; h++) {
      const len = obs.lens[h]!;
      if (len !== st.cacheRows[h]! + nQ) {
        throw new Error(`NAMM: layer ${layer} head ${h} has ${len} cached rows, expected ${st.cacheRows[h]! + nQ} (was the cache changed behind the policy?)`);
      }
      if (att[h]!.length < nQ * len) throw new RangeError(`NAMM: attention of head ${h} holds ${att[h]!.length} values, ${nQ * len} needed`);
    }

    // alive[h]: when an update happened earlier in this chunk, the original cache rows still alive, in order.
    let alive: Int32Array[] | null = null;
    for (let i = 0; i < nQ;) {
      // The queries of this chunk up to the end of the current window (or of the chunk), consumed in bulk.
      const toEnd = this.updateEvery - ((st.seen + i) % this.updateEvery);
      const count = Math.min(toEnd, nQ - i);
      const t0 = performance.now();
      for (let h = 0; h < nH; h++) {
        st.windows[h]!.addQueries(att[h]!, i, count, obs.lens[h]!, alive ? alive[h]! : null);
      }
      this.timings.featuresMs += performance.now() - t0;
      i += count;
      const queryIndex = st.seen + i - 1;
      if (!endsWindow(queryIndex, this.updateEvery)) continue;
      const { keep, scored } = this.update(layer, st, obs, alive, queryIndex + 1);
      // Compose: kept scored rows, then every row newer than the window (the rest of this chunk), in order.
      const next: Int32Array[] = [];
      for (let h = 0; h < nH; h++) {
        const base = alive ? alive[h]! : null;
        const rows = base ? base.length : obs.lens[h]!;
        const k = keep[h]!, n = scored[h]!;
        const out = new Int32Array(k.length + rows - n);
        for (let j = 0; j < k.length; j++) out[j] = base ? base[k[j]!]! : k[j]!;
        for (let r = n; r < rows; r++) out[k.length + r - n] = base ? base[r]! : r;
        next.push(out);
      }
      alive = next;
    }
    st.seen += nQ;

    if (!alive) {
      for (let h = 0; h < nH; h++) st.cacheRows[h] = obs.lens[h]!;
      return null;
    }
    let evicted = false;
    for (let h = 0; h < nH; h++) {
      st.cacheRows[h] = alive[h]!.length;
      if (alive[h]!.length !== obs.lens[h]!) evicted = true;
    }
    return evicted ? alive : null;
  }

  private newLayerState(nH: number): LayerState {
    return {
      seen: 0,
      cacheRows: new Int32Array(nH),
      windows: Array.from({ length: nH }, () => new HeadWindow(this.updateEvery, 0, null, EMA_COEFF, this.backend)),
      ema: Array.from({ length: nH }, () => null),
    };
  }

  /**
   * Scores one layer at the end of a window and starts the next one. Returns per head the kept rows among the
   * window's scored rows (compacted numbering when `alive` is set) and how many rows were scored.
   */
  private update(
    layer: number, st: LayerState, obs: LayerObservation, alive: Int32Array[] | null, totalTokens: number,
  ): { keep: Int32Array[]; scored: Int32Array } {
    const nH = st.windows.length;
    const heads: NammHeadUpdate[] = [];
    const scores: Float32Array[] = [];
    const counts = new Int32Array(nH);
    if (!this.normalizer && !this.calibrate) warnUnnormalisedOnce();
    this.timings.updates++;
    let tFeatures = 0, tScoring = 0;
    for (let h = 0; h < nH; h++) {
      const t0 = performance.now();
      const win = st.windows[h]!;
      const n = win.scoredRows;
      counts[h] = n;
      const rawEma = win.foldedEma(st.ema[h]!, this.decay);
      if (this.calibrate) this.calibration.addRows(rawEma, n);
      const positions = new Int32Array(n);
      const pos = obs.positions[h]!;
      const map = alive ? alive[h]! : null;
      for (let k = 0; k < n; k++) positions[k] = pos[map ? map[k]! : k]!;
      const features = new Float32Array(n * FEATURE_DIMS);
      const newest = positions[n - 1]!;
      const table = recencyTable();
      for (let k = 0; k < n; k++) {
        const r = newest - positions[k]!, o = k * FEATURE_DIMS;
        if (r >= 0 && r <= RECENCY_TABLE_LIMIT) { // r: a difference of int32 positions, an integer
          const src = r * RECENCY_WIDTH;
          for (let d = 0; d < RECENCY_WIDTH; d++) features[o + d] = table[src + d]!;
        } else recencyEmbedding(r, features, o, this.recency);
        if (this.normalizer) this.normalizer.apply(rawEma, k * N_BINS, features, o + RECENCY_WIDTH);
        else {
          const src = k * N_BINS, dst = o + RECENCY_WIDTH;
          for (let f = 0; f < N_BINS; f++) features[dst + f] = rawEma[src + f]!;
        }
      }
      const t1 = performance.now();
      tFeatures += t1 - t0;
      let s: Float32Array | null = null;
      if (!this.calibrate) {
        s = new Float32Array(n);
        this.scorer.score(features, n, s);
        scores.push(s);
      }
      tScoring += performance.now() - t1;
      heads.push({ positions, rawEma, features, scores: s, keep: new Int32Array(0) });
    }
    this.timings.featuresMs += tFeatures;
    this.timings.scoringMs += tScoring;
    const tSelect = performance.now();
    const keep = this.calibrate
      ? heads.map((hd) => Int32Array.from({ length: hd.positions.length }, (_, i) => i))
      : selectTokens(scores, counts, { mode: this.selection, cacheSize: this.cacheSize });
    for (let h = 0; h < nH; h++) {
      const k = keep[h]!, hd = heads[h]!;
      hd.keep = k;
      const ema = new Float32Array(k.length * N_BINS);
      const raw = hd.rawEma;
      for (let j = 0; j < k.length; j++) {
        const src = k[j]! * N_BINS, dst = j * N_BINS;
        for (let f = 0; f < N_BINS; f++) ema[dst + f] = raw[src + f]!;
      }
      st.ema[h] = ema;
      st.windows[h] = new HeadWindow(this.updateEvery, k.length, st.windows[h]!.carryFor(k), EMA_COEFF, this.backend);
    }
    this.timings.selectionMs += performance.now() - tSelect;
    this.onUpdate?.({ layer, totalTokens, heads });
    return { keep, scored: counts };
  }
}
