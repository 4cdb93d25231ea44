/**
 * Attention buffering and the update cadence (spec/namm.md §1).
 *
 * The reference buffers every chunk's attention until the sequence's absolute length T_abs reaches a multiple of
 * `updateEvery` (U = 512), then stacks the buffered chunks (right-zero-padded to the current key count) into the
 * last U queries × all current keys, and runs the STFT over each key's column. Holding U × n floats per layer and
 * head is the largest cost of that design, so we consume the same matrix incrementally: the queries of a window are
 * gathered into 16-query blocks (key-major), and as soon as a block is complete its STFT frame (the previous block
 * followed by this one) is computed for every key and added, with its EMA weight and frame mask, to a per-key
 * accumulator. At the end of the window the accumulator holds exactly Σ_t w_t·S_t[k] of the reference, and the
 * last block becomes the carry-over of the next window. Memory per head: 2 blocks (2·16·n) + the accumulator (17·n).
 *
 * Cadence: a window covers the queries with absolute index in [w·U, (w+1)·U). Chunks aligned to the window (the
 * reference's 128-token prefill chunks and 1-token decode steps) end exactly on its last query. A chunk that runs
 * past a multiple of U is handled as if the update had happened exactly at that multiple: the window is scored
 * from its own U queries and tokens, and the rest of the chunk starts the next window (see NammPolicy.observe).
 */
import { emaFrameWeights, EMA_COEFF } from './ema.js';
import { frameMagnitudes, HOP, N_BINS } from './stft.js';

/** Checks an update cadence: a positive multiple of the STFT hop. */
export function validateUpdateEvery(updateEvery: number): void {
  if (!Number.isInteger(updateEvery) || updateEvery < HOP || updateEvery % HOP !== 0) {
    throw new RangeError(`NAMM updateEvery must be a positive multiple of ${HOP}, got ${updateEvery}`);
  }
}

/** True when the query with absolute index `queryIndex` (0-based) is the last of its window. */
export function endsWindow(queryIndex: number, updateEvery: number): boolean {
  return (queryIndex + 1) % updateEvery === 0;
}

/**
 * One (layer, head)'s current window: the frame accumulator over its cache rows.
 * Rows are the cache rows of that head, oldest first; rows [0, nOld) are tokens scored at earlier updates, the
 * window's own tokens follow.
 */
export class HeadWindow {
  /** Cache rows scored at earlier updates (their EMA is carried; their frame mask is 0). */
  readonly nOld: number;
  /** Queries consumed so far in this window (0..U). */
  queries = 0;
  /** Highest row count seen in this window (rows beyond it are zero in every block). */
  rows: number;
  private cap: number;
  private prev: Float32Array;
  private cur: Float32Array;
  private acc: Float64Array;
  private readonly weights: Float32Array;

  /**
   * `carry` is the key-major `[nOld, 16]` last block of the previous window (rows already filtered to the retained
   * tokens), or null at the start of a sequence (zeros).
   */
  constructor(readonly updateEvery: number, nOld: number, carry: Float32Array | null, gamma = EMA_COEFF) {
    validateUpdateEvery(updateEvery);
    if (carry && carry.length < nOld * HOP) throw new RangeError(`HeadWindow: carry holds ${carry.length} values, ${nOld * HOP} needed`);
    this.nOld = nOld;
    this.rows = nOld;
    this.cap = Math.max(16, nOld + updateEvery);
    this.prev = new Float32Array(this.cap * HOP);
    if (carry) this.prev.set(carry.subarray(0, nOld * HOP));
    this.cur = new Float32Array(this.cap * HOP);
    this.acc = new Float64Array(this.cap * N_BINS);
    this.weights = emaFrameWeights(updateEvery / HOP, gamma);
  }

  /** Rows this window scores at its end: the old tokens plus one token per query. */
  get scoredRows(): number { return this.nOld + this.updateEvery; }

  /** True once all U queries have been consumed. */
  get complete(): boolean { return this.queries === this.updateEvery; }

  /**
   * Consumes one query row of attention. `row[rowOff + c]` is its attention to cache column c, c < nCols; when
   * `colMap` is given, compacted row r reads column colMap[r] (used after an update earlier in the same chunk).
   * Columns past this window's own tokens are ignored.
   */
  addQuery(row: Float32Array, rowOff: number, nCols: number, colMap: Int32Array | null): void {
    if (this.complete) throw new Error('HeadWindow: the window is already complete');
    const slot = this.queries % HOP;
    const n = Math.min(colMap ? colMap.length : nCols, this.scoredRows);
    if (n > this.rows) this.rows = n;
    const cur = this.cur;
    if (colMap) for (let r = 0; r < n; r++) cur[r * HOP + slot] = row[rowOff + colMap[r]!]!;
    else for (let r = 0; r < n; r++) cur[r * HOP + slot] = row[rowOff + r]!;
    this.queries++;
    if (this.queries % HOP === 0) this.closeFrame(this.queries / HOP - 1);
  }

  /** Frame t = [previous block | this block]; only rows born before the end of block t count (mask b(k) ≤ t). */
  private closeFrame(t: number): void {
    const limit = Math.min(this.rows, this.nOld + HOP * (t + 1));
    const w = this.weights[t]!;
    for (let r = 0; r < limit; r++) frameMagnitudes(this.prev, r * HOP, this.cur, r * HOP, this.acc, r * N_BINS, w, true);
    const done = this.prev;
    this.prev = this.cur;
    this.cur = done;
    this.cur.fill(0, 0, this.rows * HOP);
  }

  /** Σ_t w_t·S_t per row `[scoredRows, 17]` (float64); valid once complete. */
  accumulated(): Float64Array {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    return this.acc;
  }

  /** The carry-over for the next window: rows `keep` of this window's last block, key-major `[keep.length, 16]`. */
  carryFor(keep: Int32Array): Float32Array {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    const out = new Float32Array(keep.length * HOP);
    for (let i = 0; i < keep.length; i++) out.set(this.prev.subarray(keep[i]! * HOP, keep[i]! * HOP + HOP), i * HOP);
    return out;
  }
}
