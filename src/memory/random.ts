/** Random eviction: keeps a uniform random subset of each head's cache (the floor every method must beat; kvpress RandomPress). */
import type { CacheShape, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { ScoredPolicy, type TokenScorer } from './scored.js';
import { Rng } from '../util/rng.js';

export interface RandomOptions {
  budget: Budget | null;
  /** Seed of the per-layer generators (the same seed gives the same evictions). Default 0. */
  seed?: number;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const RANDOM_DEFAULTS = { seed: 0, every: everyTokens(1) } as const;

/** Independent uniform scores per head and row, from one generator per layer seeded by (seed, layer). */
export class RandomScorer implements TokenScorer {
  readonly method = 'random';
  readonly needsAttention = false;
  private rngs: Rng[] = [];
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`random: seed must be an integer, got ${seed}`);
  }
  reset(shape: CacheShape): void {
    // One stream per layer, so results do not depend on the order in which layers are visited.
    this.rngs = Array.from({ length: shape.nLayers }, (_, l) => new Rng(`random:${this.seed}:${l}`));
  }
  update(_obs: LayerObservation): void {}
  score(obs: LayerObservation): Float64Array[] {
    const rng = this.rngs[obs.layer]!;
    return Array.from(obs.lens, (n) => { const s = new Float64Array(n); for (let i = 0; i < n; i++) s[i] = rng.float(); return s; });
  }
  retain(): void {}
}

export function randomPolicy(opts: RandomOptions): ScoredPolicy {
  const seed = opts.seed ?? RANDOM_DEFAULTS.seed;
  return new ScoredPolicy(new RandomScorer(seed), {
    budget: opts.budget, every: opts.every ?? RANDOM_DEFAULTS.every, defaultEvery: RANDOM_DEFAULTS.every, extra: [`seed=${seed}`],
  });
}
