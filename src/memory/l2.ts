/** L2 / KNorm (Devoto et al., arXiv 2406.11430): keep the keys with the lowest L2 norm (low norm ↔ high attention). */
import type { CacheShape, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { ScoredPolicy, type TokenScorer } from './scored.js';

export interface L2Options {
  budget: Budget | null;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const L2_DEFAULTS = { every: everyTokens(1) } as const;

/** Score = −‖k‖₂ of the post-RoPE key (RoPE is a rotation, so the norm is the pre-RoPE one too). */
export class L2Scorer implements TokenScorer {
  readonly method = 'l2';
  readonly needsAttention = false;
  private headDim = 0;
  reset(shape: CacheShape): void { this.headDim = shape.headDim; }
  update(_obs: LayerObservation): void {}
  score(obs: LayerObservation): Float64Array[] {
    const d = this.headDim;
    return Array.from(obs.lens, (n, h) => {
      const k = obs.keys[h]!;
      if (k.length < n * d) throw new Error(`l2: keys of head ${h} hold ${k.length} values, need ${n}×${d}`);
      const s = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = i * d, e = j + d; j < e; j++) acc += k[j]! * k[j]!;
        s[i] = -Math.sqrt(acc);
      }
      return s;
    });
  }
  retain(): void {}
}

export function l2Policy(opts: L2Options): ScoredPolicy {
  return new ScoredPolicy(new L2Scorer(), { budget: opts.budget, every: opts.every ?? L2_DEFAULTS.every, defaultEvery: L2_DEFAULTS.every });
}
