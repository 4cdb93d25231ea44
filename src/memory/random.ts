/** Random eviction: keeps a uniform random subset of each head's cache (the floor every method must beat; kvpress RandomPress). */
import type { CacheShape, LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens } from './budget.js';
import { checkFactoryOptions, ScoredPolicy, type TokenScorer } from './scored.js';
import { hashString } from '../util/rng.js';
import { showValue } from '../util/show.js';

export interface RandomOptions {
  budget: Budget | null;
  /** Seed of the per-token scores (the same seed gives the same evictions). Default 0. */
  seed?: number;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const RANDOM_DEFAULTS = { seed: 0, every: everyTokens(1) } as const;

/** A 32-bit integer hash with good avalanche (two multiply–xorshift rounds), as an unsigned integer. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * One uniform score in [0, 1) per token and head, drawn when the token arrives and never redrawn: a hash of (seed,
 * layer, head, absolute position). Keeping the top k of fixed scores at every action leaves a uniform random subset
 * of the tokens seen (the spec's rule) under a token budget, whereas fresh scores at every action would give an old
 * token another chance to be evicted each time and so keep mostly recent ones. A ratio budget grows with the
 * sequence, and a token evicted while it was small does not come back, so there later tokens are a little likelier
 * to be held (ratio 0.5 over 256 tokens fed one at a time: 0.44 of the first quarter, 0.56 of the last; 0.49 and
 * 0.51 in 128-token chunks). The scores depend on neither the chunking nor the
 * order in which layers are visited, so the same seed evicts the same tokens however a prompt is fed.
 */
export class RandomScorer implements TokenScorer {
  readonly method = 'random';
  readonly needsAttention = false;
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  /** Per layer, per head: two hash keys derived from (seed, layer, head). */
  private keys: Uint32Array[] = [];
  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`random: seed must be an integer, got ${showValue(seed)}`);
  }
  reset(shape: CacheShape): void {
    this.keys = Array.from({ length: shape.nLayers }, (_, l) => {
      const k = new Uint32Array(2 * shape.nKvHeads);
      for (let h = 0; h < shape.nKvHeads; h++) {
        k[2 * h] = mix32(hashString(`random:${this.seed}:${l}:${h}`));
        k[2 * h + 1] = mix32(k[2 * h]! ^ 0x9e3779b9);
      }
      return k;
    });
  }
  update(_obs: LayerObservation): void {}
  score(obs: LayerObservation): Float64Array[] {
    const keys = this.keys[obs.layer]!;
    return Array.from(obs.lens, (n, h) => {
      const pos = obs.positions[h]!, k0 = keys[2 * h]!, k1 = keys[2 * h + 1]!, s = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const a = mix32((k0 + Math.imul(pos[i]!, 0x9e3779b1)) >>> 0), b = mix32(a ^ k1);
        s[i] = (a * 2097152 + (b >>> 11)) / 9007199254740992; // 53 bits
      }
      return s;
    });
  }
  retain(): void {}
}

export function randomPolicy(opts: RandomOptions): ScoredPolicy {
  checkFactoryOptions('randomPolicy', opts, ['budget', 'seed', 'every']);
  const seed = opts.seed ?? RANDOM_DEFAULTS.seed;
  return new ScoredPolicy(new RandomScorer(seed), {
    budget: opts.budget, every: opts.every ?? RANDOM_DEFAULTS.every, defaultEvery: RANDOM_DEFAULTS.every, extra: [`seed=${seed}`],
  });
}
