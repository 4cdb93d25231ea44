/** L2 / KNorm (Devoto et al., arXiv 2406.11430): keep the keys with the lowest L2 norm (low norm ↔ high attention). */
import type { CacheShape, KeepLists, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { checkFactoryOptions, RowTracker, ScoredPolicy, compactInPlace, type TokenScorer } from './scored.js';

export interface L2Options {
  budget: Budget | null;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const L2_DEFAULTS = { every: everyTokens(1) } as const;

/**
 * Score = −‖k‖₂ of the post-RoPE key (RoPE is a rotation, so the norm is the pre-RoPE one too). A cached key never
 * changes, so each row's norm is computed once, when its chunk arrives, and kept aligned with the cache through the
 * keep lists (as H2O's accumulators): a decoding step costs one key's norm per head instead of every cached key's
 * (the 100M test model with 1,536 cached tokens: 22.8 ms of policy in a 54.5 ms step before, 2.9 ms now).
 */
export class L2Scorer implements TokenScorer {
  readonly method = 'l2';
  readonly needsAttention = false;
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  private headDim = 0;
  /** Per layer, per head: −‖k‖₂ of each cached row, in cache order (the first `rows` entries are valid). */
  private scores: Float64Array[][] = [];

  /** Bytes of the kept key norms (MemoryPolicy.stateBytes). */
  stateBytes(): number {
    let n = 0;
    for (const layer of this.scores) for (const a of layer) n += a.byteLength;
    return n;
  }
  private readonly rows = new RowTracker('l2');

  reset(shape: CacheShape): void {
    this.headDim = shape.headDim;
    this.scores = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => new Float64Array(0)));
    this.rows.reset(shape.nLayers);
  }

  update(obs: LayerObservation): void {
    const old = this.rows.advance(obs);
    const d = this.headDim, heads = this.scores[obs.layer]!;
    for (let h = 0; h < obs.lens.length; h++) {
      const n = obs.lens[h]!, k = obs.keys[h]!;
      if (k.length < n * d) throw new Error(`l2: keys of head ${h} hold ${k.length} values, need ${n}×${d}`);
      let s = heads[h]!;
      if (s.length < n) { const grown = new Float64Array(Math.max(n, 2 * s.length)); grown.set(s.subarray(0, old[h]!)); s = heads[h] = grown; }
      for (let i = old[h]!; i < n; i++) {
        let acc = 0;
        for (let j = i * d, e = j + d; j < e; j++) acc += k[j]! * k[j]!;
        s[i] = -Math.sqrt(acc);
      }
    }
  }

  score(obs: LayerObservation): Float64Array[] {
    return Array.from(obs.lens, (n, h) => this.scores[obs.layer]![h]!.slice(0, n));
  }

  retain(layer: number, keep: KeepLists): void {
    const heads = this.scores[layer]!;
    for (let h = 0; h < keep.length; h++) compactInPlace(heads[h]!, keep[h]!);
    this.rows.retain(layer, keep);
  }

  release(layer: number): void {
    this.scores[layer] = this.scores[layer]!.map(() => new Float64Array(0));
    this.rows.release(layer);
  }
}

export function l2Policy(opts: L2Options): ScoredPolicy {
  checkFactoryOptions('l2Policy', opts, ['budget', 'every']);
  return new ScoredPolicy(new L2Scorer(), { budget: opts.budget, every: opts.every ?? L2_DEFAULTS.every, defaultEvery: L2_DEFAULTS.every });
}
