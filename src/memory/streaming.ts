/** StreamingLLM (Xiao et al., arXiv 2309.17453): keep the first `sinks` tokens (attention sinks) and a recent window. */
import type { LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens, tokenBudget } from './budget.js';
import { ScoredPolicy, type TokenScorer } from './scored.js';

export interface StreamingOptions {
  /** Total rows kept per head (sinks included): ratio=, tokens=, or null under matched(...). */
  budget: Budget | null;
  /** Attention-sink tokens always kept (the first rows of the cache). Default 4. */
  sinks?: number;
  /** Default: every token (prefill chunks and decode steps). */
  every?: Cadence;
}

export const STREAMING_DEFAULTS = { sinks: 4, every: everyTokens(1) } as const;

/** The paper's form: `sinks` plus a recent window of `window` tokens, i.e. a token budget of sinks + window. */
export function streamingWindowBudget(sinks: number, window: number): Budget {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`streaming: window must be an integer ≥ 1, got ${window}`);
  return tokenBudget(sinks + window);
}

/**
 * Scores that rank the sinks first (oldest first) and then every other row by recency, so keeping the top k means
 * keeping min(k, sinks) sinks plus the k − sinks newest rows. Position in the cache is all it needs.
 */
export class StreamingScorer implements TokenScorer {
  readonly method = 'streaming';
  readonly needsAttention = false;
  constructor(readonly sinks: number) {
    if (!Number.isInteger(sinks) || sinks < 0) throw new RangeError(`streaming: sinks must be an integer ≥ 0, got ${sinks}`);
  }
  reset(): void {}
  update(_obs: LayerObservation): void {}
  score(obs: LayerObservation): Float64Array[] {
    return Array.from(obs.lens, (n) => {
      const s = new Float64Array(n);
      for (let i = 0; i < n; i++) s[i] = i < this.sinks ? 2 * n - i : i;
      return s;
    });
  }
  retain(): void {}
}

export function streamingPolicy(opts: StreamingOptions): ScoredPolicy {
  const sinks = opts.sinks ?? STREAMING_DEFAULTS.sinks;
  return new ScoredPolicy(new StreamingScorer(sinks), {
    budget: opts.budget, every: opts.every ?? STREAMING_DEFAULTS.every, defaultEvery: STREAMING_DEFAULTS.every, extra: [`sinks=${sinks}`],
  });
}
