/** StreamingLLM (Xiao et al., arXiv 2309.17453): keep the first `sinks` tokens (attention sinks) and a recent window. */
import type { LayerObservation } from './policy.js';
import { type Budget, type Cadence, everyTokens, tokenBudget, tokensWithinSinks } from './budget.js';
import { checkFactoryOptions, ScoredPolicy, type TokenScorer } from './scored.js';

export interface StreamingOptions {
  /** Total rows kept per head (sinks included): ratio=, tokens=, or null under matched(...). */
  budget: Budget | null;
  /** Attention-sink tokens always kept (the first positions of the sequence). Default 4. */
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
 * Scores that rank the newest row first, then the sinks (the tokens at absolute positions below `sinks`), oldest
 * first, then every other row by recency, so keeping the top k means keeping the newest token, the sinks still
 * held (at most k − 1) and the newest of the rest. The newest token leads because a ratio budget is at or below
 * `sinks` on a short sequence (⌊T·(1 − r)⌋ ≤ 4 for T < 40 at r = 0.875): ranked after the sinks, it was evicted as
 * soon as it had attended, and decoding went on from the sinks alone. Sinks are told by position, not by row: once
 * such a budget has evicted one of them, the first rows of the cache are later tokens, which must not become
 * permanent sinks.
 */
export class StreamingScorer implements TokenScorer {
  readonly method = 'streaming';
  readonly needsAttention = false;
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  constructor(readonly sinks: number) {
    if (!Number.isInteger(sinks) || sinks < 0) throw new RangeError(`streaming: sinks must be an integer ≥ 0, got ${sinks}`);
  }
  reset(): void {}
  update(_obs: LayerObservation): void {}
  score(obs: LayerObservation): Float64Array[] {
    return Array.from(obs.lens, (n, h) => {
      const pos = obs.positions[h]!, s = new Float64Array(n);
      for (let i = 0; i < n; i++) s[i] = pos[i]! < this.sinks ? Number.MAX_SAFE_INTEGER - pos[i]! : pos[i]!;
      // Rows are oldest first: the last is the newest (2^53, above every sink's score).
      if (n > 0) s[n - 1] = Number.MAX_SAFE_INTEGER + 1;
      return s;
    });
  }
  retain(): void {}
}

export function streamingPolicy(opts: StreamingOptions): ScoredPolicy {
  checkFactoryOptions('streamingPolicy', opts, ['budget', 'sinks', 'every']);
  const sinks = opts.sinks ?? STREAMING_DEFAULTS.sinks;
  // A token budget of at most the sinks is window=0, which streamingWindowBudget refuses: it kept only the sinks,
  // evicting every other token (the current one included) as soon as it had attended.
  const tokens = tokensWithinSinks(opts.budget, sinks);
  if (tokens !== null) {
    throw new RangeError(`streaming: tokens=${tokens} leaves no recent window beside the ${sinks} sinks (it would keep only the sinks); ` +
      `give tokens > sinks, or window=W (recent tokens besides the sinks)`);
  }
  return new ScoredPolicy(new StreamingScorer(sinks), {
    budget: opts.budget, every: opts.every ?? STREAMING_DEFAULTS.every, defaultEvery: STREAMING_DEFAULTS.every, extra: [`sinks=${sinks}`],
  });
}
