/** SnapKV (Li et al., arXiv 2404.14469): keep the tokens the last `window` prompt queries attend to (pooled), plus the window itself. */
import type { CacheShape, KeepLists, LayerObservation } from './policy.js';
import { AT_PREFILL_END, type Budget, type Cadence } from './budget.js';
import { checkFactoryOptions, RowTracker, ScoredPolicy, type TokenScorer } from './scored.js';

export type SnapKVPool = 'avg' | 'max';

export interface SnapKVOptions {
  budget: Budget | null;
  /** Observation window: the last `window` queries vote, and their own tokens are always kept. Default 64. */
  window?: number;
  /** 1-D pooling kernel over the votes (odd). Default 5. */
  kernel?: number;
  /** Pooling: 'avg' (official code and kvpress default; zero padding counted) or 'max'. Default 'avg'. */
  pool?: SnapKVPool;
  /** Default: once, at the end of the first prefill (the context). */
  every?: Cadence;
}

export const SNAPKV_DEFAULTS = { window: 64, kernel: 5, pool: 'avg' as SnapKVPool, every: AT_PREFILL_END } as const;

let warnedWindowFillsBudget = false;

/**
 * Once per process: an action whose budget the observation window fills (a ratio of a short sequence, a matched
 * trace's small size) keeps the window's newest rows and chooses nothing by the votes; nothing said so before.
 */
function warnWindowFillsBudget(what: string): void {
  if (warnedWindowFillsBudget) return;
  warnedWindowFillsBudget = true;
  process.emitWarning(`snapkv: ${what}, which are always kept: there (and wherever else this happens) the policy keeps the window's newest rows and chooses no token by the votes; a smaller window= or a larger budget leaves it a choice`, { code: 'NAMM_SNAPKV_WINDOW_FILLS_BUDGET' });
}

/**
 * Per KV head: the mean attention of the last `window` queries (buffered across chunks, since a prefill's last
 * chunk may hold fewer than `window` queries) on the rows before the window, smoothed by a 1-D pool with
 * padding ⌊kernel/2⌋; the window's own rows score +∞. The tap is averaged over the query heads of each KV head
 * before pooling (the spec and kvpress average after; identical for avg pooling, the only one kvpress has, while max
 * pooling, the original SnapKV code's option, which has no GQA averaging, can keep other tokens).
 * Memory: up to `window` attention rows per layer and KV head are held until the layer acts.
 */
export class SnapKVScorer implements TokenScorer {
  readonly method = 'snapkv';
  readonly needsAttention = true;
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  /** Per layer, per head: the last ≤ window attention rows, oldest first; row r covers the rows cached at its time. */
  private buf: Float32Array[][][] = [];
  /**
   * Per layer, per head: `window` row buffers reused in turn (the rows above are views of them), and the one the next
   * row goes to. A copy of every chunk's last rows, most of them never to vote, made ~512 MB of short-lived garbage
   * over a 4K prompt; the buffers are now written again, growing only as the cache does.
   */
  private slots: Float32Array[][][] = [];
  private next: Int32Array[] = [];
  private readonly rows = new RowTracker('snapkv');

  /** `windowGiven`: false when `window` is the default (error messages say so). */
  constructor(readonly window: number, readonly kernel: number, readonly pool: SnapKVPool, private readonly windowGiven = true) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`snapkv: window must be an integer ≥ 1, got ${window}`);
    if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
      throw new RangeError(`snapkv: kernel must be an odd integer ≥ 1, got ${kernel}`);
    }
    if (pool !== 'avg' && pool !== 'max') throw new RangeError(`snapkv: pool must be "avg" or "max", got "${pool}"`);
  }

  /**
   * Why a budget of `tokens` cannot hold the observation window and the votes' choice (null when it can): as h2o's
   * recent ≥ tokens, the window alone fills it, so the votes never choose a token and what is kept is the newest
   * `tokens` (the published code's top-k of capacity − window fails there).
   */
  refusesBudget(tokens: number): string | null {
    if (tokens > this.window) return null;
    return `snapkv: tokens=${tokens} holds no more than the observation window (window=${this.window}${this.windowGiven ? '' : ', the default'}, always kept), so the votes would choose no token; give tokens > window, or a smaller window=`;
  }

  /** As refusesBudget, with `sinks` sinks kept as well (tokens ≤ sinks alone is withSinks' own refusal). */
  refusesSinks(tokens: number, sinks: number): string | null {
    if (sinks === 0 || tokens <= sinks || tokens > this.window + sinks) return null;
    return `snapkv: tokens=${tokens} holds no more than the ${sinks} sinks and the observation window (window=${this.window}${this.windowGiven ? '' : ', the default'}), both always kept, so the votes would choose no token; give tokens > sinks + window`;
  }

  /** Bytes of the row buffers (MemoryPolicy.stateBytes), each counted once. */
  stateBytes(): number {
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    for (const layer of [...this.slots, ...this.buf]) for (const head of layer) for (const r of head) if (!seen.has(r.buffer)) { seen.add(r.buffer); n += r.buffer.byteLength; }
    return n;
  }

  reset(shape: CacheShape): void {
    this.buf = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => []));
    this.slots = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => []));
    this.next = Array.from({ length: shape.nLayers }, () => new Int32Array(shape.nKvHeads));
    this.rows.reset(shape.nLayers);
  }

  update(obs: LayerObservation): void {
    this.rows.advance(obs);
    const heads = this.buf[obs.layer]!, slots = this.slots[obs.layer]!, next = this.next[obs.layer]!;
    const first = Math.max(0, obs.nQ - this.window);
    for (let h = 0; h < obs.lens.length; h++) {
      const n = obs.lens[h]!, att = obs.attention![h]!, rows = heads[h]!, ring = slots[h]!;
      if (att.length < obs.nQ * n) throw new Error(`snapkv: attention of head ${h} holds ${att.length} values, need ${obs.nQ}×${n}`);
      for (let q = first; q < obs.nQ; q++) {
        // The slot taken holds the oldest row when `window` rows are held (rows fill the slots in turn): it goes.
        const at = next[h]!;
        if (rows.length === this.window) rows.shift();
        let slot = ring[at];
        if (!slot || slot.length < n) ring[at] = slot = new Float32Array(Math.max(n, Math.ceil((slot?.length ?? 0) * 1.5)));
        slot.set(att.subarray(q * n, (q + 1) * n));
        rows.push(slot.subarray(0, n));
        next[h] = (at + 1) % this.window;
      }
    }
  }

  score(obs: LayerObservation, targets?: Int32Array, pooled = false): Float64Array[] {
    const half = this.kernel >> 1;
    if (targets && pooled) {
      // AdaKV keeps Σ targets rows over the layer's heads, the windows' rows first.
      let kept = 0, windows = 0, rowsHeld = 0;
      obs.lens.forEach((n, h) => { kept += targets[h]!; windows += Math.min(this.buf[obs.layer]![h]!.length, n); rowsHeld += n; });
      if (kept <= windows && kept < rowsHeld) warnWindowFillsBudget(`layer ${obs.layer} keeps ${kept} rows over its ${obs.lens.length} KV heads (pooled by AdaKV), no more than the ${windows} rows of their observation windows`);
    }
    return Array.from(obs.lens, (n, h) => {
      const rows = this.buf[obs.layer]![h]!;
      const win = Math.min(rows.length, n);
      const prefix = n - win;
      if (targets && !pooled && targets[h]! <= win && targets[h]! < n) warnWindowFillsBudget(`layer ${obs.layer} head ${h} keeps ${targets[h]} rows, no more than the ${win} rows of the observation window`);
      const vote = new Float64Array(prefix);
      for (const r of rows) { const e = Math.min(prefix, r.length); for (let j = 0; j < e; j++) vote[j]! += r[j]!; }
      if (rows.length > 0) for (let j = 0; j < prefix; j++) vote[j]! /= rows.length;
      const s = new Float64Array(n);
      for (let j = 0; j < prefix; j++) {
        const lo = Math.max(0, j - half), hi = Math.min(prefix - 1, j + half);
        if (this.pool === 'max') {
          let m = -Infinity;
          for (let i = lo; i <= hi; i++) if (vote[i]! > m) m = vote[i]!;
          s[j] = m;
        } else {
          let acc = 0;
          for (let i = lo; i <= hi; i++) acc += vote[i]!;
          s[j] = acc / this.kernel; // zero padding counts (PyTorch avg_pool1d, count_include_pad)
        }
      }
      s.fill(Infinity, prefix, n);
      return s;
    });
  }

  retain(layer: number, keep: KeepLists): void {
    const heads = this.buf[layer]!;
    for (let h = 0; h < keep.length; h++) {
      const k = keep[h]!;
      heads[h] = heads[h]!.map((r) => {
        let w = 0;
        while (w < k.length && k[w]! < r.length) { r[w] = r[k[w]!]!; w++; }
        return r.subarray(0, w);
      });
    }
    this.rows.retain(layer, keep);
  }

  release(layer: number): void {
    this.buf[layer] = this.buf[layer]!.map(() => []);
    this.slots[layer] = this.slots[layer]!.map(() => []);
    this.rows.release(layer);
  }
}

export function snapkvPolicy(opts: SnapKVOptions): ScoredPolicy {
  checkFactoryOptions('snapkvPolicy', opts, ['budget', 'window', 'kernel', 'pool', 'every']);
  const window = opts.window ?? SNAPKV_DEFAULTS.window, kernel = opts.kernel ?? SNAPKV_DEFAULTS.kernel;
  const pool = opts.pool ?? SNAPKV_DEFAULTS.pool;
  const scorer = new SnapKVScorer(window, kernel, pool, opts.window !== undefined);
  const refused = opts.budget?.kind === 'tokens' ? scorer.refusesBudget(opts.budget.tokens) : null;
  if (refused !== null) throw new RangeError(refused);
  return new ScoredPolicy(scorer, {
    budget: opts.budget, every: opts.every ?? SNAPKV_DEFAULTS.every, defaultEvery: SNAPKV_DEFAULTS.every,
    extra: [`window=${window}`, `kernel=${kernel}`, `pool=${pool}`],
  });
}
