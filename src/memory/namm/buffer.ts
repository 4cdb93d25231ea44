/**
 * Attention buffering and the update cadence (spec/namm.md §1).
 *
 * The reference buffers every chunk's attention until the sequence's absolute length T_abs reaches a multiple of
 * `updateEvery` (U = 512), then stacks the buffered chunks (right-zero-padded to the current key count) into the
 * last U queries × all current keys, and runs the STFT over each key's column. Holding U × n floats per layer and
 * head is the largest cost of that design, so we consume the same matrix incrementally: the queries of a window are
 * gathered into 16-query blocks (query-major: one contiguous copy per query), and as soon as a block is complete
 * its STFT frame (the previous block followed by this one) is computed for every key and added, with its EMA weight
 * and frame mask, to a per-key accumulator (whole blocks inside a chunk are read in place, all the chunk's frames
 * in one kernel call). At the end of the window the accumulator holds exactly Σ_t w_t·S_t[k] of the reference, and the
 * last block becomes the carry-over of the next window. Memory per head: 2 blocks (2·16·n) + the accumulator (17·n).
 *
 * Cadence: a window covers the queries with absolute index in [w·U, (w+1)·U). Chunks aligned to the window (the
 * reference's 128-token prefill chunks and 1-token decode steps) end exactly on its last query, and sessions end
 * every chunk there (NammPolicy.chunkBoundary). A chunk that runs past a multiple of U (a caller driving the policy
 * itself) is scored as if the update had happened exactly at that multiple: the window is scored from its own U
 * queries and tokens, and the rest of the chunk starts the next window (see NammPolicy.observe); only that chunk's
 * own queries past the multiple attended over rows the update then evicts.
 */
import { showValue } from '../../util/show.js';
import type { Backend } from '../../tensor/backend.js';
import { getBackend } from '../../tensor/index.js';
import { emaFrameWeights, EMA_COEFF } from './ema.js';
import { closeWindowFeatures } from './features.js';
import type { RecencyOverflow } from './recency.js';
import { gatherRowsTs } from './selection.js';
import { ACC_BLOCK, HOP, N_BINS, stftAccSize, stftAccumulateFramesTs, stftAccumulateTs } from './stft.js';

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

/**
 * Attention rows as the session hands them over: float32, or packed bf16 taps (their bit patterns in a Uint16Array,
 * widened here exactly: a bf16 value is the upper half of the float32 it stands for).
 */
export type TapRows = Float32Array | Uint16Array;

/** dst[dOff + i] = src[sOff + i], i < n, widening packed bf16 taps. */
function copyTaps(src: TapRows, sOff: number, dst: Float32Array, dOff: number, n: number): void {
  if (src instanceof Float32Array) {
    dst.set(src.subarray(sOff, sOff + n), dOff);
    return;
  }
  const bits = new Uint32Array(dst.buffer, dst.byteOffset + 4 * dOff, n);
  for (let i = 0; i < n; i++) bits[i] = src[sOff + i]! << 16;
}

/** Checks an update cadence: a positive multiple of the STFT hop. */
export function validateUpdateEvery(updateEvery: number): void {
  if (!Number.isInteger(updateEvery) || updateEvery < HOP || updateEvery % HOP !== 0) {
    throw new RangeError(`NAMM updateEvery must be a positive multiple of ${HOP}, got ${showValue(updateEvery)}`);
  }
  if (updateEvery > MAX_UPDATE_EVERY) {
    throw new RangeError(`NAMM updateEvery must be at most ${MAX_UPDATE_EVERY} (a window's buffers grow with it), got ${updateEvery}`);
  }
}

/** The longest update interval accepted: 128 times the reference's 512 (each window's buffers hold that many queries' frames). */
export const MAX_UPDATE_EVERY = 65536;

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
 * float32, as the reference's, in tiles of 16 rows × 17 bins (stftAccIndex); frames are added in order, so it does
 * not depend on how the prompt was chunked. ld is the row capacity of the buffers, at least
 * nOld + U; it stays fixed from one window to the next (restart) until a window needs more rows. One kernel call
 * covers every row of the head for a frame, or for all the whole frames of a chunk (stftAccumulateFrames).
 *
 * Invariant: in both blocks, every row at or past `rows` is 0 (a row only becomes non-zero once a query reaches
 * it), so a frame never reads attention from a token that did not exist yet.
 */
export class HeadWindow {
  /** Cache rows scored at earlier updates (their EMA is carried; their frame mask is 0). */
  nOld: number;
  /** Queries consumed so far in this window (0..U). */
  queries = 0;
  /** Highest row count seen in this window (rows beyond it are zero in every block). */
  rows: number;
  private ld: number;
  private prev: Float32Array;
  private cur: Float32Array;
  private acc: Float32Array;
  /** False once `closeFeatures` has read (and so cleared) the accumulator. */
  private accDirty = true;
  private readonly weights: Float32Array;
  private readonly backend: Backend | null;
  private retired = false;
  /** Row limits of the frames of one stftAccumulateFrames call (reused). */
  private frameRows = new Int32Array(0);
  /** The backend's kernels for closing and restarting a window, bound once (null: the TypeScript twins). */
  private readonly featuresKernel: Backend['nammFeatures'] | null;
  private readonly gather: NonNullable<Backend['gatherRows']>;

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
    const donor = carry ? carrySource.get(carry) : undefined;
    if (donor && !donor.retired && donor.ld >= nOld + updateEvery) {
      carrySource.delete(carry!);
      donor.retired = true;
      this.ld = donor.ld;
      this.prev = donor.prev.fill(0);
      this.cur = donor.cur.fill(0);
      this.acc = donor.acc.fill(0);
    } else {
      this.ld = HeadWindow.capacityFor(nOld, updateEvery);
      this.prev = new Float32Array(this.ld * BLOCK);
      this.cur = new Float32Array(this.ld * BLOCK);
      this.acc = new Float32Array(stftAccSize(this.ld));
    }
    const ld = this.ld;
    if (carry && nOld > 0) for (let m = 0; m < BLOCK; m++) this.prev.set(carry.subarray(m * nOld, (m + 1) * nOld), m * ld);
    this.weights = frameWeights(updateEvery / BLOCK, gamma);
    const be = backend === undefined ? getBackend() : backend;
    this.backend = be && be.stftAccumulate ? be : null;
    this.featuresKernel = be?.nammFeatures ? be.nammFeatures.bind(be) : null;
    this.gather = be?.gatherRows ? be.gatherRows.bind(be) : gatherRowsTs;
  }

  /** Row capacity for a window of nOld old rows: room for this window and the growth of the next one. */
  private static capacityFor(nOld: number, updateEvery: number): number {
    return Math.ceil(Math.max(16, nOld + 2 * updateEvery) / ACC_BLOCK) * ACC_BLOCK;
  }

  /** Rows this window scores at its end: the old tokens plus one token per query. */
  get scoredRows(): number { return this.nOld + this.updateEvery; }

  /** True once all U queries have been consumed. */
  get complete(): boolean { return this.queries === this.updateEvery; }

  /**
   * Consumes one query row of attention (float32 or packed bf16 taps). `row[rowOff + c]` is its attention to cache
   * column c, c < nCols; when `colMap` is given, compacted row r reads column colMap[r] (used after an update
   * earlier in the same chunk). Columns past this window's own tokens are ignored.
   */
  addQuery(row: TapRows, rowOff: number, nCols: number, colMap: Int32Array | null): void {
    if (this.complete) throw new Error('HeadWindow: the window is already complete');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const slot = this.queries % BLOCK;
    const n = Math.min(colMap ? colMap.length : nCols, this.scoredRows);
    const cur = this.cur, off = slot * this.ld;
    if (!colMap) copyTaps(row, rowOff, cur, off, n);
    else if (row instanceof Float32Array) for (let r = 0; r < n; r++) cur[off + r] = row[rowOff + colMap[r]!]!;
    else {
      const bits = new Uint32Array(cur.buffer, cur.byteOffset + 4 * off, n);
      for (let r = 0; r < n; r++) bits[r] = row[rowOff + colMap[r]!]! << 16;
    }
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
   * whole 16-query blocks lying inside the chunk go to the frame kernel in one call, handed over in place from
   * `att` (no JavaScript copy; the kernel also writes the last block back as the buffered one), when the layout
   * allows it (no colMap, every column belongs to this window).
   */
  addQueries(att: TapRows, q0: number, count: number, len: number, colMap: Int32Array | null): void {
    if (count > this.updateEvery - this.queries) throw new Error('HeadWindow: more queries than the window has left');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    let i = q0;
    const end = q0 + count;
    if (!colMap && len <= this.scoredRows && len >= this.rows && att.length >= end * len) {
      // Finish the current block query by query.
      for (; i < end && this.queries % BLOCK !== 0; i++) this.addQuery(att, i * len, len, null);
      const blocks = Math.floor((end - i) / BLOCK);
      if (blocks >= 1) {
        // Frame t pairs the buffered block (stride ld) with the chunk's first whole block, then each chunk block
        // with the next one (stride len). Rows < limit ≤ len are exactly the rows the copies would hold, and
        // rows ≥ this.rows of the buffered block are 0, as the first queries of these blocks would leave them.
        this.rows = len;
        const t0 = this.queries / BLOCK;
        if (this.frameRows.length < blocks) this.frameRows = new Int32Array(blocks);
        const limits = this.frameRows;
        for (let b = 0; b < blocks; b++) limits[b] = Math.min(len, this.nOld + BLOCK * (t0 + b + 1));
        const next = att.subarray(i * len), weights = this.weights.subarray(t0, t0 + blocks);
        // The last block becomes the buffered previous block (layout ld): the kernel writes its rows below the
        // last frame's limit (widened, straight from its own copy), and the rest of each query row is copied
        // here. `cur` keeps stale rows < this.rows ≤ every later query's count, so they are overwritten before
        // being read.
        const ld = this.ld, dst = this.prev, written = limits[blocks - 1]!;
        if (this.backend?.stftAccumulateFrames) this.backend.stftAccumulateFrames(dst, ld, next, len, blocks, limits, weights, this.acc, dst, ld);
        else stftAccumulateFramesTs(dst, ld, next, len, blocks, limits, weights, this.acc, dst, ld);
        this.queries += BLOCK * blocks;
        const last = i + (blocks - 1) * BLOCK;
        if (written < len) for (let m = 0; m < BLOCK; m++) copyTaps(att, (last + m) * len + written, dst, m * ld + written, len - written);
        i += blocks * BLOCK;
      }
    }
    for (; i < end; i++) this.addQuery(att, i * len, len, colMap);
  }

  /** Bytes of its own buffers (the two query blocks, the accumulator, the frame limits; the weights are shared). */
  get byteLength(): number {
    return this.prev.byteLength + this.cur.byteLength + this.acc.byteLength + this.frameRows.byteLength;
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

  /** Σ_t w_t·S_t per row `[scoredRows, 17]` (row-major, widened to float64); valid once complete, until closeFeatures. */
  accumulated(): Float64Array {
    this.checkClosable();
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
    this.checkClosable();
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

  /**
   * Closes the window (Backend.nammFeatures or its twin, see features.ts): `raw` `[scoredRows, 17]` receives the
   * new raw EMA (old rows decayed by `decay` and added to), `features` `[scoredRows, 25]` the scorer input for
   * rows at absolute `positions`; the accumulator is cleared on the way. `norm`: FeatureNormalizer.packed or null.
   */
  closeFeatures(
    oldEma: Float32Array, decay: number, positions: Int32Array, table: Float32Array, norm: Float64Array | null,
    raw: Float32Array, features: Float32Array, overflow: RecencyOverflow,
  ): void {
    this.checkClosable();
    closeWindowFeatures(this.featuresKernel ?? null, this.acc, this.scoredRows, this.nOld, oldEma, decay, positions, table, norm, raw, features, overflow);
    this.accDirty = false;
  }

  /** A complete window whose accumulator is still there to read. */
  private checkClosable(): void {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    if (!this.accDirty) throw new Error('HeadWindow: closeFeatures already read (and cleared) the accumulator');
  }

  /**
   * Turns this complete window into the next one, in place: its old rows are this window's rows `keep` (strictly
   * ascending), whose carry-over (the last block's rows `keep`) is gathered into the new previous block. No
   * allocation unless the next window needs more rows than the buffers hold.
   */
  restart(keep: Int32Array): void {
    if (!this.complete) throw new Error('HeadWindow: the window is not complete yet');
    if (this.retired) throw new Error('HeadWindow: this window handed its buffers to the next one');
    const k = keep.length, written = this.rows, U = this.updateEvery;
    for (let i = 0; i < k; i++) {
      const r = keep[i]!;
      if (!(r >= (i > 0 ? keep[i - 1]! + 1 : 0) && r < this.scoredRows)) throw new RangeError(`HeadWindow.restart: keep must be strictly ascending rows below ${this.scoredRows}; entry ${i} is ${r}`);
    }
    const gather = this.gather;
    if (k + U > this.ld) {
      const ld = HeadWindow.capacityFor(k, U);
      const prev = new Float32Array(ld * BLOCK);
      gather(this.prev, this.ld, prev, ld, BLOCK, 1, keep, k);
      this.prev = prev;
      this.cur = new Float32Array(ld * BLOCK);
      this.acc = new Float32Array(stftAccSize(ld));
      this.ld = ld;
    } else {
      const ld = this.ld, old = this.prev, next = this.cur;
      gather(old, ld, next, ld, BLOCK, 1, keep, k);
      // Rows k ≤ r < written held this window's attention: clear them in both blocks (the invariant).
      if (written > k) {
        for (let m = 0; m < BLOCK; m++) {
          next.fill(0, m * ld + k, m * ld + written);
          old.fill(0, m * ld + k, m * ld + written);
        }
      }
      this.prev = next;
      this.cur = old;
      if (this.accDirty) this.acc.fill(0, 0, stftAccSize(written));
    }
    this.accDirty = true;
    this.nOld = k;
    this.rows = k;
    this.queries = 0;
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
