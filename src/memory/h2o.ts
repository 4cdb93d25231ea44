/** H2O, Heavy-Hitter Oracle (Zhang et al., arXiv 2306.14048): keep a recent window plus the tokens with the most accumulated attention. */
import type { CacheShape, KeepLists, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { RowTracker, ScoredPolicy, compactInPlace, type TokenScorer } from './scored.js';

export interface H2OOptions {
  budget: Budget | null;
  /** Most recent rows always kept. Default: half of the budget (the paper splits it evenly between heavy and recent). */
  recent?: number;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const H2O_DEFAULTS = { every: everyTokens(1) } as const;

/**
 * Accumulates, per KV head and cache row, the attention the row has received from every query seen so far (all
 * rows of every chunk, not only the chunks where the policy acts), compacted with the keep lists so that
 * accumulator i always belongs to cache row i. Score = accumulator; the recent window scores +∞.
 */
export class H2OScorer implements TokenScorer {
  readonly method = 'h2o';
  readonly needsAttention = true;
  private acc: Float64Array[][] = [];
  private readonly rows = new RowTracker('h2o');

  constructor(readonly recent?: number) {
    if (recent !== undefined && (!Number.isInteger(recent) || recent < 0)) {
      throw new RangeError(`h2o: recent must be an integer ≥ 0, got ${recent}`);
    }
  }

  reset(shape: CacheShape): void {
    this.acc = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => new Float64Array(0)));
    this.rows.reset(shape.nLayers);
  }

  update(obs: LayerObservation): void {
    this.rows.advance(obs);
    const heads = this.acc[obs.layer]!;
    for (let h = 0; h < obs.lens.length; h++) {
      const n = obs.lens[h]!;
      let a = heads[h]!;
      if (a.length < n) { const grown = new Float64Array(Math.max(n, 2 * a.length)); grown.set(a); a = heads[h] = grown; }
      a.fill(0, n - obs.nQ, n); // the chunk's own rows start from nothing
      const att = obs.attention![h]!;
      if (att.length < obs.nQ * n) throw new Error(`h2o: attention of head ${h} holds ${att.length} values, need ${obs.nQ}×${n}`);
      for (let q = 0; q < obs.nQ; q++) {
        const row = q * n;
        for (let j = 0; j < n; j++) a[j]! += att[row + j]!;
      }
    }
  }

  score(obs: LayerObservation, targets: Int32Array): Float64Array[] {
    return Array.from(obs.lens, (n, h) => {
      const s = this.acc[obs.layer]![h]!.slice(0, n);
      const recent = Math.min(n, this.recent ?? Math.floor(targets[h]! / 2));
      s.fill(Infinity, n - recent, n);
      return s;
    });
  }

  retain(layer: number, keep: KeepLists): void {
    const heads = this.acc[layer]!;
    for (let h = 0; h < keep.length; h++) compactInPlace(heads[h]!, keep[h]!);
    this.rows.retain(layer, keep);
  }

  release(layer: number): void {
    this.acc[layer] = this.acc[layer]!.map(() => new Float64Array(0));
    this.rows.release(layer);
  }

  /** The accumulated attention of one head's rows (a copy; for inspection and tests). */
  accumulated(layer: number, head: number, rows: number): Float64Array {
    return this.acc[layer]![head]!.slice(0, rows);
  }
}

export function h2oPolicy(opts: H2OOptions): ScoredPolicy {
  return new ScoredPolicy(new H2OScorer(opts.recent), {
    budget: opts.budget, every: opts.every ?? H2O_DEFAULTS.every, defaultEvery: H2O_DEFAULTS.every,
    extra: opts.recent !== undefined ? [`recent=${opts.recent}`] : [],
  });
}
