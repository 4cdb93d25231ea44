/** H2O, Heavy-Hitter Oracle (Zhang et al., arXiv 2306.14048): keep a recent window plus the tokens with the most accumulated attention. */
import type { CacheShape, KeepLists, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { checkFactoryOptions, RowTracker, ScoredPolicy, compactInPlace, type TokenScorer } from './scored.js';

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
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  private acc: Float64Array[][] = [];
  private readonly rows = new RowTracker('h2o');

  constructor(readonly recent?: number) {
    if (recent !== undefined && (!Number.isInteger(recent) || recent < 0)) {
      throw new RangeError(`h2o: recent must be an integer ≥ 0, got ${recent}`);
    }
  }

  /**
   * The sinks and the recent window may fill a token budget between them: what is kept would be streaming's sinks
   * and newest tokens whatever the attention, under H2O's name. (tokens ≤ sinks alone is withSinks' own refusal.)
   */
  refusesSinks(tokens: number, sinks: number): string | null {
    const window = this.recent ?? Math.floor(tokens / 2);
    if (sinks === 0 || tokens <= sinks || window + sinks < tokens) return null;
    return `h2o: the ${sinks} sinks and the recent window of ${window} tokens${this.recent === undefined ? ' (the default, half the budget)' : ''} fill the budget of ${tokens} tokens, so no heavy hitter would be kept; give tokens > sinks + recent, or use streaming`;
  }

  /** Bytes of the accumulated scores (MemoryPolicy.stateBytes). */
  stateBytes(): number {
    let n = 0;
    for (const layer of this.acc) for (const a of layer) n += a.byteLength;
    return n;
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
      addColumns(a, att, obs.nQ, n);
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
  checkFactoryOptions('h2oPolicy', opts, ['budget', 'recent', 'every']);
  // As the spec string refuses it: a recent window as large as a token budget keeps only the newest tokens.
  if (opts.recent !== undefined && opts.budget?.kind === 'tokens' && opts.recent >= opts.budget.tokens) {
    throw new RangeError(`h2o: recent=${opts.recent} leaves no room for heavy hitters in a budget of ${opts.budget.tokens} tokens (it would keep only the newest); give recent < tokens, or use streaming`);
  }
  return new ScoredPolicy(new H2OScorer(opts.recent), {
    budget: opts.budget, every: opts.every ?? H2O_DEFAULTS.every, defaultEvery: H2O_DEFAULTS.every,
    extra: opts.recent !== undefined ? [`recent=${opts.recent}`] : [],
  });
}

/**
 * a[j] += Σ_q att[q·n + j] for j < n, each column summed in float64 with its rows in order (so the result is exactly
 * that of the plain row-by-row loop), four columns at a time in registers: ~4× faster than adding row by row, which
 * loads and stores every accumulator once per query (a prefill chunk adds nQ × n values per head and layer).
 */
export function addColumns(a: Float64Array, att: Float32Array, nQ: number, n: number): void {
  const end = nQ * n;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let s0 = a[j]!, s1 = a[j + 1]!, s2 = a[j + 2]!, s3 = a[j + 3]!;
    for (let r = j; r < end; r += n) {
      s0 += att[r]!;
      s1 += att[r + 1]!;
      s2 += att[r + 2]!;
      s3 += att[r + 3]!;
    }
    a[j] = s0;
    a[j + 1] = s1;
    a[j + 2] = s2;
    a[j + 3] = s3;
  }
  for (; j < n; j++) {
    let s = a[j]!;
    for (let r = j; r < end; r += n) s += att[r]!;
    a[j] = s;
  }
}
