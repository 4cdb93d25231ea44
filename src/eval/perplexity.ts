/** Perplexity of a text under a memory policy: every token is predicted from the cache as the policy left it. */
import { checkModel, type Model } from '../models/model.js';
import { sequenceLimit } from '../models/rope.js';
import { checkMemoryPolicy, type MemoryPolicy } from '../memory/policy.js';
import type { CacheStatsSummary } from '../runtime/stats.js';
import { DEFAULT_CHUNK_SIZE } from '../runtime/session.js';
import { argError, checkArg, checkArgOptions } from '../util/args.js';

export interface PerplexityResult {
  /** Tokens of the text (the first, often BOS, is only context). */
  tokens: number;
  /** Tokens predicted: every one after the first. */
  predicted: number;
  /** Mean negative log-likelihood (nats) of tokens 1..n−1 given their prefix. */
  nll: number;
  perplexity: number;
  memory: CacheStatsSummary;
  /**
   * Whether the policy evicted anything that a prediction could miss: an eviction made before the text's
   * second-to-last token had been read (a later token whose logits are scored then attended over the smaller cache).
   * When false, the perplexity is the full cache's whatever the memory figures say (a policy that compresses only once a
   * prompt has been read, or a budget the text never filled).
   */
  evictedWhileScoring: boolean;
}

/** −log softmax(row)[target] in nats, and the row's argmax (the greedy token), from one row of logits. */
export function tokenNll(row: ArrayLike<number>, target: number): { nll: number; argmax: number } {
  let max = -Infinity, argmax = 0;
  for (let v = 0; v < row.length; v++) if (row[v]! > max) { max = row[v]!; argmax = v; }
  let z = 0;
  for (let v = 0; v < row.length; v++) z += Math.exp(row[v]! - max);
  return { nll: Math.log(z) + max - row[target]!, argmax };
}

export function perplexity(model: Model, ids: readonly number[], policy: MemoryPolicy | null, options: { chunkSize?: number; onProgress?: (done: number, total: number) => void } = {}): PerplexityResult {
  checkModel('perplexity', model);
  checkArg('perplexity', 'ids', ids, 'ids');
  if (policy !== null) checkMemoryPolicy('perplexity', 'policy', policy, ' or null (the full cache)');
  checkArgOptions('perplexity', options, ['chunkSize', 'onProgress']);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw argError('perplexity', 'onProgress', 'a function', options.onProgress);
  // Every id against the vocabulary before anything runs, named by its place in the text (a piece's own check named
  // its place in the piece, after the pieces before had run).
  const V = model.config.vocabSize;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id! < 0 || id! >= V) throw new RangeError(`perplexity: ids[${i}] must be a token id of the model (an integer in 0..${V - 1}), got ${String(id)}`);
  }
  if (ids.length < 2) throw new Error(`perplexity needs at least two tokens (the first is only context), got ${ids.length}`);
  // Refused before any chunk runs, naming the limit: the session would refuse the chunk that crossed it, after
  // the ones before had run for nothing.
  const limit = sequenceLimit(model.config);
  if (limit && ids.length > limit.tokens) {
    throw new RangeError(`perplexity: the text is ${ids.length} tokens, past ${limit.what}; score its first ${limit.tokens} tokens at most (ids.slice(0, ${limit.tokens}))`);
  }
  const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  // An eviction counts when a token whose logits predict the text was still to be read after it (the last token's
  // predict nothing). Counted per event rather than per piece: a policy's update points (NAMM's update interval,
  // which the session ends chunks at) can fall inside a piece, and the piece's later tokens then attend over what
  // was left.
  let evictedWhileScoring = false;
  const session = model.createSessionWith(policy, {
    chunkSize: chunk,
    onEviction: ({ totalTokens, keep, lensBefore }) => {
      if (totalTokens < ids.length - 1 && keep.some((k, h) => k.length !== lensBefore[h])) evictedWhileScoring = true;
    },
  });
  let nll = 0, count = 0;
  for (let start = 0; start < ids.length; start += chunk) {
    const piece = ids.slice(start, start + chunk);
    // One forward over the text, fed in pieces: length-dependent RoPE scaling (dynamic NTK) takes the whole length
    // in every piece, so the result does not depend on the chunk size.
    const logits = session.prefill(piece, { logits: 'all', endOfPrefill: start + chunk >= ids.length, sequenceLength: ids.length });
    for (let t = 0; t < piece.length; t++) {
      const target = ids[start + t + 1];
      if (target === undefined) break;
      const tokenLoss = tokenNll(logits.subarray(t * V, (t + 1) * V), target).nll;
      // A NaN loss made a NaN perplexity, printed as a result (`perplexity NaN`, `null` in JSON) with status 0.
      if (!Number.isFinite(tokenLoss)) {
        throw new Error(`perplexity: the model produced NaN or infinite logits predicting token ${start + t + 2} of ${ids.length} (its weights or activations hold NaN or infinities); the text has no perplexity`);
      }
      nll += tokenLoss;
      count++;
    }
    options.onProgress?.(Math.min(ids.length, start + chunk), ids.length);
  }
  // Evictions once the whole text had been read (a policy that compresses once a prompt has been read: SnapKV,
  // TOVA's default, every=prefill) changed no prediction.
  return {
    tokens: ids.length, predicted: count, nll: nll / count, perplexity: Math.exp(nll / count), memory: session.memoryStats(),
    evictedWhileScoring,
  };
}
