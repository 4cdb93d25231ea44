/**
 * NAMM, the Neural Attention Memory Model (Cetin et al., "An Evolved Universal Transformer Memory", arXiv
 * 2410.13166), as a MemoryPolicy. Defaults reproduce the reference (SakanaAI/evo-memory run configs): BAM scorer,
 * an update every 512 absolute tokens, threshold-0 selection with the minimum over heads.
 *
 * Per layer and head, at each update: the spectrogram EMA of the attention every cached token received (buffer.ts,
 * stft.ts, ema.ts), its recency (recency.ts), normalised with frozen statistics (normalize.ts), scored by BAM or the
 * MLP (bam.ts, mlp.ts), turned into keep lists (selection.ts). The policy keeps its own per-sequence state and
 * returns keep lists; the session compacts the cache.
 *
 * Cost: the per-token work runs in backend kernels when the backend has them (spectrogram frames, closing a
 * window, BAM, gathering kept rows), and an update reuses its buffers (per-head windows restart in place, scratch
 * is shared by the layers), so it allocates little beyond its keep lists: large typed arrays live outside the JS
 * heap and cost more to allocate than the loops that fill them.
 */
import { checkOptionKeys, showValue } from '../../util/show.js';
import type { Backend } from '../../tensor/backend.js';
import { getBackend } from '../../tensor/index.js';
import { TAP_PRECISIONS, type CacheShape, type KeepLists, type LayerObservation, type MemoryPolicy, type PolicyPositionSpan, type TapPrecision } from '../policy.js';
import { BamScorer } from './bam.js';
import { endsWindow, HeadWindow, validateUpdateEvery, type TapRows } from './buffer.js';
import { EMA_COEFF, emaOldStateDecay } from './ema.js';
import { MlpScorer } from './mlp.js';
import { FeatureNormalizer, NormAccumulator, validateNormStats, warnUnnormalisedOnce, type NormStats } from './normalize.js';
import { FEATURE_DIM, validateNammParams, type NammScorerKind } from './params.js';
import { recencyTable, RECENCY_TABLE_MAX, type RecencyOverflow } from './recency.js';
import { gatherRowsTs, NAMM_SELECTIONS, selectTokens, type NammSelection } from './selection.js';
import { HOP, N_BINS as IMPORTED_N_BINS } from './stft.js';
import { cloneState, isBackend } from '../../util/clone.js';

// Module-local copies of constants used in per-row loops (an imported binding can cost a call per access when the
// module is transpiled on the fly).
const N_BINS = IMPORTED_N_BINS;
const FEATURE_DIMS = FEATURE_DIM;

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
  /**
   * The attention probabilities NAMM reads: 'bf16' (reference: a bf16 model's probabilities, each head rounded to
   * bfloat16 before the GQA mean and the mean rounded again) or 'fp32' (float32 throughout).
   */
  taps?: TapPrecision;
  /** Kernels for the BAM attention (GEMMs and softmax); default the process backend (getBackend()); null: plain loops. */
  backend?: Backend | null;
  /** Called after every (layer) update with what was computed; for inspection tools and tests. */
  onUpdate?: (info: NammUpdateInfo) => void;
  /** Report name; default derived from the options. */
  name?: string;
}

/** The keys of NammPolicyOptions. */
/**
 * NAMM's position span with recency=error, one object for every policy: sessions read it before each forward, where
 * building it anew formatted a number for the locale every time (30 ms of a 4K-token prefill in a CPU profile).
 */
const RECENCY_TABLE_SPAN: PolicyPositionSpan = Object.freeze({
  tokens: RECENCY_TABLE_MAX,
  what: `the NAMM's recency table (0..${RECENCY_TABLE_MAX.toLocaleString('en-US')}, the reference's; the namm option recency=extend continues its formula past it)`,
});

export const NAMM_POLICY_OPTION_KEYS = ['params', 'normStats', 'updateEvery', 'selection', 'cacheSize', 'scorer', 'calibrate', 'recency', 'taps', 'backend', 'onUpdate', 'name'];

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
  /** One window per head, restarted in place at every update. */
  windows: HeadWindow[];
  /** Raw EMA per head `[nOld, 17]` of the rows scored at earlier updates (a buffer with spare capacity). */
  ema: Float32Array[];
}

/**
 * Buffers an update fills per head and uses up before the next update starts (features, scores, the new raw EMA
 * before the kept rows are gathered), shared by all layers and grown as needed: an update then allocates nothing
 * but its keep lists.
 */
class UpdateScratch {
  positions: Int32Array[] = [];
  raw: Float32Array[] = [];
  scores: Float32Array[] = [];
  features = new Float32Array(0);

  /** Makes every buffer hold n rows for heads 0..nH−1. */
  reserve(nH: number, n: number): void {
    const grow = (have: number) => have >= n ? have : Math.max(n, Math.ceil(have * 1.5));
    for (let h = 0; h < nH; h++) {
      if (!this.positions[h] || this.positions[h]!.length < n) {
        const cap = grow(this.positions[h]?.length ?? 0);
        this.positions[h] = new Int32Array(cap);
        this.raw[h] = new Float32Array(cap * N_BINS);
        this.scores[h] = new Float32Array(cap);
      }
    }
    if (this.features.length < n * FEATURE_DIMS) this.features = new Float32Array(grow(this.features.length / FEATURE_DIMS) * FEATURE_DIMS);
  }
}

interface Scorer { score(x: Float32Array, n: number, out: Float32Array): void }

export class NammPolicy implements MemoryPolicy {
  readonly name: string;
  readonly needsAttention = true;
  /**
   * Each layer keeps its own windows and state, and updates (the only evictions) happen at the same points whichever
   * way the layers' chunks interleave: chunks may go through the layers together (the order in which different
   * layers' updates reach onUpdate may then change). Not while calibrating: the pooled statistics are sums in
   * update order.
   */
  get layerwise(): boolean { return !this.calibrate; }
  readonly tapPrecision: TapPrecision;
  /** bf16 taps arrive packed (16-bit patterns): half the bytes for the attention to write and the spectrogram to read. */
  readonly packedTaps: boolean;
  readonly updateEvery: number;
  /** Sessions end their chunks at every update point, so that no later query attends before the update. */
  get chunkBoundary(): number { return this.updateEvery; }
  /**
   * With recency=error: an update reads each held row's recency (newest position − its position), and the
   * reference's table ends at 32,768.
   */
  get positionSpan(): PolicyPositionSpan | undefined {
    return this.recency === 'error' ? RECENCY_TABLE_SPAN : undefined;
  }
  readonly selection: NammSelection;
  readonly cacheSize: number | undefined;
  readonly scorerKind: NammScorerKind;
  readonly calibrate: boolean;
  /** Pooled statistics of a calibration pass (filled only when `calibrate`). */
  readonly calibration = new NormAccumulator();
  private readonly normalizer: FeatureNormalizer | null;
  private readonly recency: RecencyOverflow;
  private scorer: Scorer;
  private readonly decay: number;
  private readonly onUpdate: ((info: NammUpdateInfo) => void) | undefined;
  private shape: CacheShape | null = null;
  private layers: LayerState[] = [];
  /** Kernels for the spectrogram and BAM (null: the plain TypeScript loops). */
  private readonly backend: Backend | null;
  /** FeatureNormalizer.packed of the statistics (null: none). */
  private readonly norm: Float64Array | null;
  private readonly scratch = new UpdateScratch();
  /** The recency table (built once per process, here rather than inside the first update). */
  private readonly table = recencyTable();
  /** Backend.gatherRows bound once, or its twin. */
  private readonly gather: NonNullable<Backend['gatherRows']>;

  constructor(opts: NammPolicyOptions) {
    if (!opts || typeof opts !== 'object') throw new TypeError('NammPolicy needs an options object');
    // A misspelt key was ignored ({ cachesize: 10 } held no cap), and calibrate: 'false' turned calibration on.
    checkOptionKeys(opts, NAMM_POLICY_OPTION_KEYS, 'NammPolicy');
    if (opts.calibrate !== undefined && typeof opts.calibrate !== 'boolean') throw new TypeError(`NAMM calibrate must be true or false, got ${showValue(opts.calibrate)}`);
    if (opts.name !== undefined && typeof opts.name !== 'string') throw new TypeError(`NAMM name must be a string, got ${showValue(opts.name)}`);
    this.scorerKind = opts.scorer ?? 'bam';
    validateNammParams(opts.params, this.scorerKind);
    this.updateEvery = opts.updateEvery ?? 512;
    validateUpdateEvery(this.updateEvery);
    this.selection = opts.selection ?? 'min-over-heads';
    if (!NAMM_SELECTIONS.includes(this.selection)) throw new RangeError(`NAMM selection must be one of ${NAMM_SELECTIONS.join(', ')}, got "${this.selection}"`);
    if (opts.cacheSize !== undefined && (!Number.isSafeInteger(opts.cacheSize) || opts.cacheSize < 1)) {
      throw new RangeError(`NAMM cacheSize must be a positive integer (at most 2^53 − 1), got ${showValue(opts.cacheSize)}`);
    }
    this.cacheSize = opts.cacheSize;
    this.recency = opts.recency ?? 'error';
    if (this.recency !== 'error' && this.recency !== 'extend') throw new RangeError(`NAMM recency must be "error" or "extend", got "${this.recency}"`);
    this.calibrate = opts.calibrate ?? false;
    this.tapPrecision = opts.taps ?? 'bf16';
    if (!TAP_PRECISIONS.includes(this.tapPrecision)) throw new RangeError(`NAMM taps must be ${TAP_PRECISIONS.join(' or ')}, got "${String(this.tapPrecision)}"`);
    this.packedTaps = this.tapPrecision === 'bf16';
    if (opts.normStats) validateNormStats(opts.normStats);
    this.normalizer = opts.normStats ? new FeatureNormalizer(opts.normStats) : null;
    this.norm = this.normalizer ? this.normalizer.packed : null;
    if (opts.backend !== undefined && opts.backend !== null && !isBackend(opts.backend)) {
      throw new TypeError('NAMM backend must be a tensor backend (getBackend()), null for the TypeScript loops, or left out');
    }
    this.backend = opts.backend === undefined ? getBackend() : opts.backend;
    const be = this.backend;
    this.gather = be?.gatherRows ? be.gatherRows.bind(be) : gatherRowsTs;
    this.scorer = this.scorerKind === 'bam' ? new BamScorer(opts.params, this.backend ?? undefined) : new MlpScorer(opts.params);
    this.decay = emaOldStateDecay(this.updateEvery, EMA_COEFF);
    if (opts.onUpdate !== undefined && typeof opts.onUpdate !== 'function') throw new TypeError(`NAMM onUpdate must be a function, got ${typeof opts.onUpdate}`);
    this.onUpdate = opts.onUpdate;
    this.name = opts.name ?? [
      `namm:${this.scorerKind}`,
      `selection=${this.selection}`,
      `update=${this.updateEvery}`,
      ...(this.cacheSize !== undefined ? [`cacheSize=${this.cacheSize}`] : []),
      ...(this.calibrate ? ['calibrate=true'] : []),
      ...(this.tapPrecision !== 'bf16' ? [`taps=${this.tapPrecision}`] : []),
    ].join(',');
  }

  /**
   * Milliseconds spent per stage since construction: features (attention buffering, STFT, EMA, recency,
   * normalisation), scoring (BAM/MLP) and selection (keep lists and the gather of per-token state).
   */
  readonly timings = { featuresMs: 0, scoringMs: 0, selectionMs: 0, updates: 0 };

  /**
   * Work done since construction, for benchmarks: rows scored, (query, key) pairs of the BAM attention
   * (Σ n(n+1)/2 over scored heads) and STFT row-frames (old rows see all U/16 frames of a window, a new row of
   * block b the last U/16 − b).
   */
  readonly work = { scoredRows: 0, bamPairs: 0, stftRowFrames: 0 };

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

  /**
   * Replaces the scorer's parameters (same scorer kind and layout), keeping the per-sequence state. Before its
   * first update a NAMM has not used its parameters, so a fork of such a session given new parameters continues
   * exactly as a session created with them would (evolution shares the prompt's first chunks between candidates).
   */
  setParams(params: Float32Array): void {
    validateNammParams(params, this.scorerKind);
    this.scorer = this.scorerKind === 'bam' ? new BamScorer(params, this.backend ?? undefined) : new MlpScorer(params);
  }

  /**
   * Bytes of its per-sequence state (MemoryPolicy.stateBytes): per layer and head the window's buffers and the stored
   * EMA, and the update's scratch (shared by the layers). On a small model these outweigh the cache it keeps.
   */
  stateBytes(): number {
    let n = 0;
    for (const st of this.layers) {
      n += st.cacheRows.byteLength;
      for (const w of st.windows) n += w.byteLength;
      for (const e of st.ema) n += e.byteLength;
    }
    const sc = this.scratch;
    for (const a of [...sc.positions, ...sc.raw, ...sc.scores, sc.features]) n += a.byteLength;
    return n;
  }

  /**
   * An independent copy with the same per-sequence state (Session.fork); the backend and the read-only recency
   * table (1 MB, one per process) stay shared.
   */
  clone(): NammPolicy {
    return cloneState(this, (v) => isBackend(v) || v === this.table);
  }

  observe(obs: LayerObservation): KeepLists | null {
    const shape = this.shape;
    if (!shape) throw new Error('NammPolicy.observe before reset(shape)');
    const { layer, nQ } = obs;
    if (!Number.isInteger(layer) || layer < 0 || layer >= shape.nLayers) throw new RangeError(`NAMM: layer ${layer} out of range (0..${shape.nLayers - 1})`);
    if (!Number.isInteger(nQ) || nQ < 1) throw new RangeError(`NAMM: a chunk needs at least one query, got ${nQ}`);
    const nH = shape.nKvHeads;
    // Packed bf16 taps when the session sends them (it does for packedTaps), else float32 ones.
    const att: TapRows[] | undefined = obs.attentionBf16 ?? obs.attention;
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
      // The recency feature reads the positions of every scored row: a short array would leave stale values there.
      const pos = obs.positions?.[h];
      if (!pos || pos.length < len) throw new RangeError(`NAMM: positions of head ${h} hold ${pos ? pos.length : 'no'} values, ${len} needed`);
    }

    // alive[h]: when an update happened earlier in this chunk, the original cache rows still alive, in order.
    let alive: Int32Array[] | null = null;
    for (let i = 0; i < nQ;) {
      // The queries of this chunk up to the end of the current window (or of the chunk), consumed in bulk.
      const toEnd = this.updateEvery - ((st.seen + i) % this.updateEvery);
      const count = Math.min(toEnd, nQ - i);
      const t0 = performance.now();
      // Last head first: the attention kernel wrote the heads in order, so the last one is likeliest still cached.
      for (let h = nH - 1; h >= 0; h--) {
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
        if (!base && rows === n) { next.push(k); continue; } // the window ended with the chunk: keep is the list
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
      ema: Array.from({ length: nH }, () => new Float32Array(0)),
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
    const counts = new Int32Array(nH);
    if (!this.normalizer && !this.calibrate) warnUnnormalisedOnce();
    this.timings.updates++;
    const sc = this.scratch;
    let maxRows = 0;
    for (let h = 0; h < nH; h++) maxRows = Math.max(maxRows, st.windows[h]!.scoredRows);
    sc.reserve(nH, maxRows);
    const heads: NammHeadUpdate[] | null = this.onUpdate ? [] : null;
    const table = this.table;
    const frames = this.updateEvery / HOP;
    let tFeatures = 0, tScoring = 0;
    for (let h = 0; h < nH; h++) {
      const t0 = performance.now();
      const win = st.windows[h]!;
      const n = win.scoredRows;
      counts[h] = n;
      const positions = sc.positions[h]!, raw = sc.raw[h]!, features = sc.features;
      const pos = obs.positions[h]!;
      const map = alive ? alive[h]! : null;
      if (map) for (let k = 0; k < n; k++) positions[k] = pos[map[k]!]!;
      else positions.set(pos.subarray(0, n));
      win.closeFeatures(st.ema[h]!, this.decay, positions, table, this.norm, raw, features, this.recency);
      if (this.calibrate) this.calibration.addRows(raw, n);
      const t1 = performance.now();
      tFeatures += t1 - t0;
      if (!this.calibrate) this.scorer.score(features, n, sc.scores[h]!);
      tScoring += performance.now() - t1;
      this.work.scoredRows += n;
      this.work.bamPairs += this.calibrate ? 0 : (n * (n + 1)) / 2;
      this.work.stftRowFrames += frames * win.nOld + (HOP * frames * (frames + 1)) / 2;
      heads?.push({
        positions: positions.slice(0, n), rawEma: raw.slice(0, n * N_BINS), features: features.slice(0, n * FEATURE_DIMS),
        scores: this.calibrate ? null : sc.scores[h]!.slice(0, n), keep: new Int32Array(0),
      });
    }
    this.timings.featuresMs += tFeatures;
    this.timings.scoringMs += tScoring;
    const tSelect = performance.now();
    const keep = this.calibrate
      ? Array.from(counts, (n) => Int32Array.from({ length: n }, (_, i) => i))
      : selectTokens(sc.scores.slice(0, nH), counts, { mode: this.selection, cacheSize: this.cacheSize });
    // On a sliding-window layer (a model the reference never ran) the rows behind the window go as well: no query
    // after this one (the next is at position totalTokens) can see them. They are the oldest, a prefix of the
    // scored rows.
    const window = obs.window;
    if (window !== undefined && !this.calibrate) {
      const last = totalTokens - window;
      for (let h = 0; h < nH; h++) {
        const pos = sc.positions[h]!;
        let dead = 0;
        while (dead < counts[h]! && pos[dead]! <= last) dead++;
        if (dead > 0) keep[h] = keep[h]!.filter((row) => row >= dead);
      }
    }
    const gather = this.gather;
    for (let h = 0; h < nH; h++) {
      const k = keep[h]!;
      // The kept rows' raw EMA becomes the state of the next update (its buffer keeps spare capacity).
      if (st.ema[h]!.length < k.length * N_BINS) st.ema[h] = new Float32Array(Math.ceil(k.length * 1.25) * N_BINS);
      gather(sc.raw[h]!, 0, st.ema[h]!, 0, 1, N_BINS, k, k.length);
      st.windows[h]!.restart(k);
      if (heads) heads[h]!.keep = k;
    }
    this.timings.selectionMs += performance.now() - tSelect;
    if (heads) this.onUpdate!({ layer, totalTokens, heads });
    return { keep, scored: counts };
  }
}
