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
  // Per head, in the stable ascending order of (score, index): the top cacheSize are those past the first `cut`;
  // negatives sort first, so the negatives among them number max(0, negatives − cut).
  const keyedAll: Float64Array[] = [];
  const cuts: number[] = [];
  const negatives: number[] = [];
  const allNegatives: number[] = [];
  for (let h = 0; h < nHeads; h++) {
    const n = counts[h]!;
    const s = scores[h]!;
    if (s.length < n) throw new RangeError(`selectTokens: head ${h} has ${s.length} scores for ${n} tokens`);
    const keyed = new Float64Array(n);
    let neg = 0;
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      if (v < 0) neg++;
      keyed[i] = v !== v ? Infinity : v;
    }
    if (n > 0) { if (keyed[n - 1]! < 0) neg--; keyed[n - 1] = FLT_MAX; }
    const cut = opts.cacheSize !== undefined && n > opts.cacheSize ? n - opts.cacheSize : 0;
    keyedAll.push(keyed);
    cuts.push(cut);
    negatives.push(Math.max(0, neg - cut));
    allNegatives.push(neg);
  }
  let dropMin = Infinity;
  for (let h = 0; h < nHeads; h++) if (negatives[h]! < dropMin) dropMin = negatives[h]!;
  const keep: Int32Array[] = [];
  for (let h = 0; h < nHeads; h++) {
    const drop = opts.mode === 'per-head' ? negatives[h]! : dropMin;
    keep.push(keepAllButSmallest(keyedAll[h]!, cuts[h]! + drop, allNegatives[h]!));
  }
  return keep;
}

/**
 * Ascending indices of `keyed` without its `d` first entries in the stable ascending order of (value, index).
 * `negatives` is the number of values < 0 (when d ≤ negatives, only those need ordering).
 */
function keepAllButSmallest(keyed: Float64Array, d: number, negatives: number): Int32Array {
  const n = keyed.length;
  if (d <= 0) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return out;
  }
  // The d-th smallest value v: everything below v goes, and of the entries equal to v the oldest (d − #below).
  let cand: Float64Array;
  if (d <= negatives) {
    cand = new Float64Array(negatives);
    let j = 0;
    for (let i = 0; i < n; i++) if (keyed[i]! < 0) cand[j++] = keyed[i]!;
  } else cand = keyed.slice();
  cand.sort();
  const v = cand[d - 1]!;
  let below = 0;
  while (cand[below]! < v) below++;
  let ties = d - below;
  const out = new Int32Array(n - d);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const x = keyed[i]!;
    if (x < v) continue;
    if (x === v && ties > 0) { ties--; continue; }
    out[j++] = i;
  }
  return out;
}
