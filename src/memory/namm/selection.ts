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
 * stable, so exact ties at the cut are unspecified there. A NaN score sorts last (kept), as in torch's sort and top-k;
 * in 'min-over-heads' it still counts towards c_h, as the reference counts every score that is not ≥ 0, so a head
 * with a NaN drops one more of its valid tokens instead. In 'per-head' a NaN counts as +∞ (kept, not counted).
 */
import { refuseOverlap } from '../../tensor/validate.js';
import { kthSmallest } from '../../util/select.js';
import { argError, checkArg } from '../../util/args.js';

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
  if (!Array.isArray(scores) || !scores.every((s) => s instanceof Float32Array)) throw argError('selectTokens', 'scores', 'an array of Float32Array (one per head)', scores);
  if (!Array.isArray(counts) && !ArrayBuffer.isView(counts)) throw argError('selectTokens', 'counts', 'an array or typed array of counts (one per head)', counts);
  checkArg('selectTokens', 'opts', opts, 'object');
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
  /** c_h as the reference counts it: the negatives among the kept top-k and the NaNs (never dropped: sorted last). */
  const notAtLeastZero: number[] = [];
  const allNegatives: number[] = [];
  for (let h = 0; h < nHeads; h++) {
    const n = counts[h]!;
    const s = scores[h]!;
    if (s.length < n) throw new RangeError(`selectTokens: head ${h} has ${s.length} scores for ${n} tokens`);
    const keyed = keyedScratch(h, n);
    let neg = 0, nan = 0;
    // Branch-free counting: scores are in random order, so `if (v < 0)` would mispredict on many of them.
    for (let i = 0; i < n; i++) {
      const v = s[i]!;
      neg += +(v < 0);
      nan += +(v !== v);
      keyed[i] = v === v ? v : Infinity; // NaN sorts last (kept)
    }
    if (n > 0) {
      const last = s[n - 1]!;
      if (last < 0) neg--; else if (last !== last) nan--;
      keyed[n - 1] = FLT_MAX;
    }
    const cut = opts.cacheSize !== undefined && n > opts.cacheSize ? n - opts.cacheSize : 0;
    keyedAll.push(keyed);
    cuts.push(cut);
    negatives.push(Math.max(0, neg - cut));
    // The NaNs rank above every score, so the top-k holds them all (up to k, the newest taking one place). What a
    // head drops comes from its valid tokens alone: the newest and the NaNs, sorted last, are never reached (where
    // the NaNs outnumber them, the reference would go on to drop the newest).
    const nanKept = Math.min(nan, Math.max(0, n - cut - 1));
    const validKept = Math.max(0, n - cut - 1 - nanKept);
    notAtLeastZero.push(Math.min(validKept, Math.max(0, neg - cut) + nanKept));
    allNegatives.push(neg);
  }
  let dropMin = Infinity;
  for (let h = 0; h < nHeads; h++) if (notAtLeastZero[h]! < dropMin) dropMin = notAtLeastZero[h]!;
  const keep: Int32Array[] = [];
  for (let h = 0; h < nHeads; h++) {
    const drop = opts.mode === 'per-head' ? negatives[h]! : dropMin;
    keep.push(keepAllButSmallest(keyedAll[h]!, counts[h]!, cuts[h]! + drop, allNegatives[h]!));
  }
  return keep;
}

/**
 * Reused float64 working copies of the scores (per head) and of the candidates for the cut: a fresh typed array
 * of a few KB per head and update costs more than the selection itself (it lives outside the JS heap).
 */
const keyedBuffers: Float64Array[] = [];
let candBuffer = new Float64Array(0);

function keyedScratch(h: number, n: number): Float64Array {
  if (!keyedBuffers[h] || keyedBuffers[h]!.length < n) keyedBuffers[h] = new Float64Array(Math.max(n, Math.ceil((keyedBuffers[h]?.length ?? 0) * 1.5)));
  return keyedBuffers[h]!;
}

/**
 * Ascending indices of `keyed[0..n)` without its `d` first entries in the stable ascending order of (value, index).
 * `negatives` is the number of values < 0 (when d ≤ negatives, only those need ordering).
 */
function keepAllButSmallest(keyed: Float64Array, n: number, d: number, negatives: number): Int32Array {
  if (d <= 0) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return out;
  }
  // The d-th smallest value v: everything below v goes, and of the entries equal to v the oldest (d − #below).
  // When d is exactly the number of negatives (the head that sets d, in 'min-over-heads'), that is every negative.
  let v: number, ties: number;
  if (d === negatives) {
    v = 0;
    ties = 0;
  } else {
    const m = d < negatives ? negatives : n;
    if (candBuffer.length < n + 1) candBuffer = new Float64Array(Math.max(n + 1, Math.ceil(candBuffer.length * 1.5)));
    if (d < negatives) {
      // Every value is written, the index advances past the negatives only (the buffer has room for n + 1).
      const buf = candBuffer;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const x = keyed[i]!;
        buf[j] = x;
        j += +(x < 0);
      }
    } else candBuffer.set(keyed.subarray(0, n));
    const cand = candBuffer.subarray(0, m);
    v = kthSmallest(cand, d - 1);
    let below = 0;
    for (let i = 0; i < m; i++) if (cand[i]! < v) below++;
    ties = d - below;
  }
  // Every index is written and the next slot is taken only by a kept one (one slot of room at the end), so the
  // only branch is on x === v, which is rare (values are in random order: a branch on x < v would mispredict).
  const out = new Int32Array(n - d + 1);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const x = keyed[i]!;
    out[j] = i;
    if (x === v) {
      if (ties > 0) ties--;
      else j++;
    } else j += +(x > v);
  }
  return out.subarray(0, n - d);
}

/**
 * dst[p·dstPlane + i·width + c] = src[p·srcPlane + keep[i]·width + c] for p < planes, i < k, c < width: the rows a
 * selection keeps, of a row-major matrix (planes = 1, e.g. the raw EMA `[n, 17]`) or of every query row of a
 * query-major block (width = 1, e.g. the STFT carry `[16, ld]`). The twin of Backend.gatherRows, with its checks;
 * src and dst must not overlap.
 */
export function gatherRowsTs(
  src: Float32Array, srcPlane: number, dst: Float32Array, dstPlane: number, planes: number, width: number,
  keep: Int32Array, k: number,
): void {
  for (const [name, v] of [['srcPlane', srcPlane], ['dstPlane', dstPlane], ['planes', planes], ['width', width], ['k', k]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(v)}`);
  }
  if (!(keep instanceof Int32Array)) throw new TypeError('keep must be an Int32Array');
  if (keep.length < k) throw new RangeError(`keep holds ${keep.length} values but ${k} are needed`);
  let maxKeep = -1;
  for (let i = 0; i < k; i++) {
    if (keep[i]! < 0) throw new RangeError(`gatherRows: keep[${i}] is negative`);
    if (keep[i]! > maxKeep) maxKeep = keep[i]!;
  }
  const empty = planes === 0 || k === 0 || width === 0;
  if (!empty && planes > 1 && dstPlane < k * width) {
    throw new RangeError(`gatherRows: dstPlane (${dstPlane}) must be at least k·width (${k * width}) when planes > 1`);
  }
  const srcNeed = empty ? 0 : (planes - 1) * srcPlane + (maxKeep + 1) * width;
  const dstNeed = empty ? 0 : (planes - 1) * dstPlane + k * width;
  if (!(src instanceof Float32Array)) throw new TypeError('src must be a Float32Array');
  if (src.length < srcNeed) throw new RangeError(`src holds ${src.length} values but ${srcNeed} are needed`);
  if (!(dst instanceof Float32Array)) throw new TypeError('dst must be a Float32Array');
  if (dst.length < dstNeed) throw new RangeError(`dst holds ${dst.length} values but ${dstNeed} are needed`);
  if (empty) return;
  refuseOverlap([['dst', dst, dstNeed]], [['src', src, srcNeed]], false, 'gatherRows: ');
  for (let p = 0; p < planes; p++) {
    const so = p * srcPlane, dOff = p * dstPlane;
    if (width === 1) {
      for (let i = 0; i < k; i++) dst[dOff + i] = src[so + keep[i]!]!;
    } else {
      for (let i = 0; i < k; i++) {
        const s = so + keep[i]! * width, d = dOff + i * width;
        for (let c = 0; c < width; c++) dst[d + c] = src[s + c]!;
      }
    }
  }
}
