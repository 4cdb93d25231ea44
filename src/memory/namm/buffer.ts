/**
 * Attention buffering and the update cadence (spec/namm.md §1).
 *
 * The reference buffers every chunk's attention until the sequence's absolute length T_abs reaches a multiple of
 * `updateEvery` (U = 512), then stacks the buffered chunks (right-zero-padded to the current key count) into the
 * last U queries × all current keys, and runs the STFT over each key's column. Holding U × n floats per layer and
 * head is the largest cost of that design, so we consume the same matrix incrementally: the queries of a window are
 * gathered into 16-query blocks (query-major: one contiguous copy per query), and as soon as a block is complete its STFT frame (the previous block
 * followed by this one) is computed for every key and added, with its EMA weight and frame mask, to a per-key
 * accumulator. At the end of the window the accumulator holds exactly Σ_t w_t·S_t[k] of the reference, and the
 * last block becomes the carry-over of the next window. Memory per head: 2 blocks (2·16·n) + the accumulator (17·n).
 *
 * Cadence: a window covers the queries with absolute index in [w·U, (w+1)·U). Chunks aligned to the window (the
 * reference's 128-token prefill chunks and 1-token decode steps) end exactly on its last query. A chunk that runs
 * past a multiple of U is handled as if the update had happened exactly at that multiple: the window is scored
 * from its own U queries and tokens, and the rest of the chunk starts the next window (see NammPolicy.observe).
 */
import type { Backend } from '../../tensor/backend.js';
import { getBackend } from '../../tensor/index.js';
import { emaFrameWeights, EMA_COEFF } from './ema.js';
import { ACC_BLOCK, HOP, N_BINS, stftAccSize, stftAccumulateTs } from './stft.js';

// Module-local copies: under a transpiling loader (tsx), imported bindings are getters, too slow for inner loops.
const BLOCK = HOP;
const BINS = N_BINS;
const TILE = ACC_BLOCK;

/**
 * Carry arrays returned by carryFor → the window they came from. A new window built from such a carry adopts that
 * window's buffers instead of allocating ~264 bytes per row per head at every update, and the old window is
 * retired. Buffers are allocated for ld + U rows, so they always fit the next window (nOld ≤ the scored rows).
 */
const carrySource = new WeakMap<Float32Array, HeadWindow>();

/** EMA frame weights per (frames, γ), shared read-only by every window (computed once, not at every update). */
const weightCache = new Map<string, Float32Array>();
function frameWeights(frames: number, gamma: number): Float32Array {
  const key = `${frames},${gamma}`;
  let w = weightCache.get(key);
  if (!w) weightCache.set(key, (w = emaFrameWeights(frames, gamma)));
  return w;
}

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
 *
 * Layout (that of Backend.stftAccumulate): the two blocks are query-major `[16, ld]` (a query's attention row is
 * one contiguous copy; the kernel then reads 8 or 16 consecutive rows per register) and the accumulator is
 * float64 in tiles of 16 rows × 17 bins (stftAccIndex), with ld = nOld + U. One kernel call per frame covers every
 * row of the head.
 */
export class HeadWindow {
  /** Cache rows scored at earlier updates (their EMA is carried; their frame mask is 0). */
  readonly nOld: number;
  /** Queries consumed so far in this window (0..U). */
  queries = 0;
  /** Highest row count seen in this window (rows beyond it are zero in every block). */
  rows: number;
  private readonly ld: number;
  private prev: Float32Array;
  private cur: Float32Array;
  private acc: Float64Array;
  private readonly weights: Float32Array;
  private readonly backend: Backend | null;
  private retired = false;

  /**
   * `carry` is the last block of the previous window as returned by carryFor (query-major `[16, nOld]`, rows
   * already filtered to the retained tokens), or null at the start of a sequence (zeros). `backend` runs the
   * frame kernel when it has one (default: the process backend, getBackend()); null or a backend without
   * stftAccumulate uses the TypeScript twin. A window whose carryFor result is passed here hands its buffers to
   * the new window and is retired (its methods throw from then on).
   */
  constructor(readonly updateEvery: number, nOld: number, carry: Float32Array | null, gamma = EMA_COEFF, backend?: Backend | null) {
    validateUpdateEvery(updateEvery);
    if (!Number.isInteger(nOld) || nOld < 0) throw new RangeError(`HeadWindow: nOld must be a non-negative integer, got ${nOld}`);
    if (carry && carry.length < nOld * BLOCK) throw new RangeError(`HeadWindow: carry holds ${carry.length} values, ${nOld * BLOCK} needed`);
    this.nOld = nOld;
    this.rows = nOld;
    const ld = this.ld = Math.max(16, nOld + updateEvery);
    const donor = carry ? carrySource.get(carry) : undefined;
    if (donor && !donor.retired && donor.prev.length >= ld * BLOCK && donor.acc.length >= stftAccSize(ld)) {
      carrySource.delete(carry!);
      donor.retired = true;
      this.prev = donor.prev.fill(0, 0, ld * BLOCK);
      this.cur = donor.cur.fill(0, 0, ld * BLOCK);
      this.acc = donor.acc.fill(0, 0, stftAccSize(ld));
    } else {
      const cap = ld + updateEvery;
      this.prev = new Float32Array(cap * BLOCK);
      this.cur = new Float32Array(cap * BLOCK);
      this.acc = new Float64Array(stftAccSize(cap));
    }
    if (carry && nOld > 0) for (let m = 0; m < BLOCK; m++) this.prev.set(carry.subarray(m * nOld, (m + 1) * nOld), m * ld);
    this.weights = frameWeights(updateEvery / BLOCK, gamma);
    const be = backend === undefined ? getBackend() : backend;
    this.backend = be && be.stftAccumulate ? be : null;
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
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const slot = this.queries % BLOCK;
    const n = Math.min(colMap ? colMap.length : nCols, this.scoredRows);
    const cur = this.cur, off = slot * this.ld;
    if (colMap) for (let r = 0; r < n; r++) cur[off + r] = row[rowOff + colMap[r]!]!;
    else cur.set(row.subarray(rowOff, rowOff + n), off);
    // Rows this slot held from an earlier block but this query does not reach must read 0 (rare: row counts only
    // grow within a window in normal use).
    if (n < this.rows) cur.fill(0, off + n, off + this.rows);
    else this.rows = n;
    this.queries++;
    if (this.queries % BLOCK === 0) this.closeFrame(this.queries / BLOCK - 1);
  }

  /**
   * Consumes `count` consecutive query rows of a chunk's attention `att` (query-major, `len` columns per query),
   * starting with query `q0` of the chunk: the same as addQuery(att, (q0 + i)·len, len, colMap) for i < count, but
   * whole 16-query blocks lying inside the chunk are fed to the frame kernel as views of `att` (no copy) when the
   * layout allows it (no colMap, every column belongs to this window).
   */
  addQueries(att: Float32Array, q0: number, count: number, len: number, colMap: Int32Array | null): void {
    if (count > this.updateEvery - this.queries) throw new Error('HeadWindow: more queries than the window has left');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    let i = q0;
    const end = q0 + count;
    if (!colMap && len <= this.scoredRows && len >= this.rows && att.length >= end * len) {
      // Finish the current block query by query.
      for (; i < end && this.queries % BLOCK !== 0; i++) this.addQuery(att, i * len, len, null);
      const blocks = Math.floor((end - i) / BLOCK);
      if (blocks >= 2) {
        // First block: copied, it pairs with the buffered previous block.
        for (let m = 0; m < BLOCK; m++) this.addQuery(att, (i + m) * len, len, null);
        // Middle frames: both blocks are views of the chunk (ld = len). Rows < limit ≤ len are exactly the rows
        // the copies would hold.
        for (let b = 1; b < blocks; b++) {
          const t = this.queries / BLOCK;
          const limit = Math.min(this.rows, this.nOld + BLOCK * (t + 1));
          const w = this.weights[t]!;
          const p = att.subarray((i + (b - 1) * BLOCK) * len), c = att.subarray((i + b * BLOCK) * len);
          if (this.backend) this.backend.stftAccumulate!(p, c, len, limit, w, this.acc);
          else stftAccumulateTs(p, c, len, limit, w, this.acc);
          this.queries += BLOCK;
        }
        // The last block becomes the buffered previous block (layout ld); `cur` keeps stale rows < this.rows ≤
        // every later query's count, so they are overwritten before being read.
        const last = i + (blocks - 1) * BLOCK, ld = this.ld, dst = this.prev;
        for (let m = 0; m < BLOCK; m++) dst.set(att.subarray((last + m) * len, (last + m + 1) * len), m * ld);
        i += blocks * BLOCK;
      }
    }
    for (; i < end; i++) this.addQuery(att, i * len, len, colMap);
  }

  /** Frame t = [previous block | this block]; only rows born before the end of block t count (mask b(k) ≤ t). */
  private closeFrame(t: number): void {
    const limit = Math.min(this.rows, this.nOld + BLOCK * (t + 1));
    const w = this.weights[t]!;
    if (this.backend) this.backend.stftAccumulate!(this.prev, this.cur, this.ld, limit, w, this.acc);
    else stftAccumulateTs(this.prev, this.cur, this.ld, limit, w, this.acc);
    const done = this.prev;
    this.prev = this.cur;
    this.cur = done;
    // The reused block keeps its rows < this.rows: every later query overwrites them or clears what it does not
    // reach (addQuery), so rows past a query's count still read 0.
  }

  /** Σ_t w_t·S_t per row `[scoredRows, 17]` (float64, row-major); valid once complete. */
  accumulated(): Float64Array {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const n = this.scoredRows, acc = this.acc;
    const out = new Float64Array(n * BINS);
    for (let r0 = 0; r0 < n; r0 += TILE) {
      const tile = (r0 / TILE) * BINS * TILE, end = Math.min(TILE, n - r0);
      for (let f = 0; f < BINS; f++) {
        const src = tile + f * TILE;
        for (let l = 0; l < end; l++) out[(r0 + l) * BINS + f] = acc[src + l]!;
      }
    }
    return out;
  }

  /**
   * foldEma(oldEma, nOld, accumulated(), scoredRows, 17, decay) without the intermediate float64 copy: the new raw
   * EMA `[scoredRows, 17]` (float32), old rows decayed and added to, new rows the accumulator alone.
   */
  foldedEma(oldEma: Float32Array | null, decay: number): Float32Array {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const n = this.scoredRows, nOld = this.nOld, acc = this.acc;
    if (nOld > 0 && (!oldEma || oldEma.length < nOld * BINS)) throw new RangeError('foldEma: the stored EMA has fewer rows than the cache');
    const out = new Float32Array(n * BINS);
    for (let r0 = 0; r0 < n; r0 += TILE) {
      const tile = (r0 / TILE) * BINS * TILE, end = Math.min(TILE, n - r0);
      const endOld = Math.max(0, Math.min(end, nOld - r0));
      for (let f = 0; f < BINS; f++) {
        const src = tile + f * TILE;
        let l = 0;
        for (; l < endOld; l++) { const i = (r0 + l) * BINS + f; out[i] = decay * oldEma![i]! + acc[src + l]!; }
        for (; l < end; l++) out[(r0 + l) * BINS + f] = acc[src + l]!;
      }
    }
    return out;
  }

  /** The carry-over for the next window: rows `keep` of this window's last block, query-major `[16, keep.length]`. */
  carryFor(keep: Int32Array): Float32Array {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const k = keep.length, out = new Float32Array(k * BLOCK), prev = this.prev, ld = this.ld;
    for (let m = 0; m < BLOCK; m++) {
      const src = m * ld, dst = m * k;
      for (let i = 0; i < k; i++) out[dst + i] = prev[src + keep[i]!]!;
    }
    carrySource.set(out, this);
    return out;
  }
}
