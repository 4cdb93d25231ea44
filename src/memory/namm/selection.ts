/**
 * Turning scores into keep lists (spec/namm.md §4, `BinarySelection` + `threshold_score_idxs`).
 *
 * 'min-over-heads' (the reference): the newest cached token scores +FLT_MAX; with `cacheSize` each head first
 * keeps only its top `cacheSize`; c_h = number of scores < 0 (ties at 0 are kept); d = min over heads of c_h;
 * every head keeps its n_h − d highest-scoring tokens, in original order. So a head only loses tokens when every
 * head of the layer wanted to drop at least that many, and heads keep some negative-score tokens.
 *
 * 'per-head' (ours): each head drops exactly its own negative-score tokens, so caches become ragged per head and
 * the memory really is freed per head.
 *
 * Sorting is stable ascending (the older of two equal scores goes first); the reference's torch.sort is not
 * stable, so exact ties at the cut are unspecified there. A NaN score counts as +∞ (kept), as torch sorts NaN last.
 */

export type NammSelection = 'min-over-heads' | 'per-head';
export const NAMM_SELECTIONS: readonly NammSelection[] = ['min-over-heads', 'per-head'];

/** float32 max: the score forced onto the newest token. */
export const FLT_MAX = 3.4028234663852886e38;

export interface SelectionOptions {
  mode: NammSelection;
  /** Optional cap on tokens kept per head (top-k first, as the reference's `cache_size`). */
  cacheSize?: number;
}

/**
 * Per head: `scores[h]` over that head's `n_h = counts[h]` cached tokens (oldest first; the last one is the newest,
 * forced kept). Returns ascending keep indices per head. `scores` is not modified.
 */
export function selectTokens(scores: Float32Array[], counts: ArrayLike<number>, opts: SelectionOptions): Int32Array[] {
  const nHeads = scores.length;
  if (nHeads === 0) return [];
  if (counts.length < nHeads) throw new RangeError('selectTokens: one count per head is needed');
  if (opts.cacheSize !== undefined && (!Number.isInteger(opts.cacheSize) || opts.cacheSize < 1)) {
    throw new RangeError(`cacheSize must be a positive integer, got ${opts.cacheSize}`);
  }
  // Per head: indices sorted ascending by score (stable), restricted to the top cacheSize.
  const orders: Int32Array[] = [];
  const negatives: number[] = [];
  for (let h = 0; h < nHeads; h++) {
    const n = counts[h]!;
    const s = scores[h]!;
    if (s.length < n) throw new RangeError(`selectTokens: head ${h} has ${s.length} scores for ${n} tokens`);
    const keyed = new Float64Array(n);
    for (let i = 0; i < n; i++) keyed[i] = Number.isNaN(s[i]!) ? Infinity : s[i]!;
    if (n > 0) keyed[n - 1] = FLT_MAX;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => keyed[a]! - keyed[b]! || a - b);
    const top = opts.cacheSize !== undefined && n > opts.cacheSize ? idx.subarray(n - opts.cacheSize) : idx;
    let neg = 0;
    while (neg < top.length && keyed[top[neg]!]! < 0) neg++;
    orders.push(top);
    negatives.push(neg);
  }
  const dropMin = Math.min(...negatives);
  const keep: Int32Array[] = [];
  for (let h = 0; h < nHeads; h++) {
    const drop = opts.mode === 'per-head' ? negatives[h]! : dropMin;
    keep.push(orders[h]!.slice(drop).sort());
  }
  return keep;
}
