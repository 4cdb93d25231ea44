/**
 * Short-time Fourier transform of attention time series (spec/namm.md §2): n_fft 32, hop 16, periodic Hann
 * window, center=False, one-sided magnitudes (17 bins), no normalisation, no power, no log.
 *
 * A frame is 32 consecutive samples: the previous 16-query block of a token's attention followed by the current
 * one. The DFT is computed directly (float64 arithmetic, float32 in and out); the symmetries of a real input
 * (pairs m ↔ 32−m) and of the bins (f ↔ 16−f) cut the work to about a quarter of a plain 32×17 DFT.
 */

import { refuseOverlap } from '../../tensor/validate.js';
import { checkArg } from '../../util/args.js';

export const N_FFT = 32;
export const HOP = 16;
/** One-sided bins of a 32-point DFT. */
export const N_BINS = N_FFT / 2 + 1;

/**
 * Periodic Hann window w[m] = 0.5 − 0.5·cos(2πm/32), computed in float64 and rounded once to float32. torch.hann_window
 * computes it in float32 arithmetic: 21 of the 32 values differ from these by up to 1.5e-6 (relative), which moves the
 * magnitudes by at most 1.3e-7 of a row's bin-0 value, float32 rounding level.
 */
export const HANN_WINDOW: Float32Array = (() => {
  const w = new Float32Array(N_FFT);
  for (let m = 0; m < N_FFT; m++) w[m] = 0.5 - 0.5 * Math.cos((2 * Math.PI * m) / N_FFT);
  return w;
})();

// COS[f·16 + m] = cos(2πfm/32), SIN likewise, for f = 0..8 and m = 1..15 (index m, slot 0 unused).
const HALF = N_FFT / 2;
const COS = new Float64Array(9 * HALF);
const SIN = new Float64Array(9 * HALF);
for (let f = 0; f <= 8; f++) {
  for (let m = 1; m < HALF; m++) {
    COS[f * HALF + m] = Math.cos((2 * Math.PI * f * m) / N_FFT);
    SIN[f * HALF + m] = Math.sin((2 * Math.PI * f * m) / N_FFT);
  }
}

const y = new Float64Array(N_FFT);
const even = new Float64Array(HALF);
const odd = new Float64Array(HALF);

/**
 * Magnitudes of one frame. The 32 samples are `first[firstOff .. +16)` then `second[secondOff .. +16)`;
 * `out[outOff + f]` receives |X_f| for f = 0..16 (multiplied by `scale` and added when `accumulate`).
 * Returns false (and writes nothing) when all 32 samples are zero, which is common for tokens absent from a block.
 */
export function frameMagnitudes(
  first: Float32Array, firstOff: number, second: Float32Array, secondOff: number,
  out: Float32Array | Float64Array, outOff: number, scale = 1, accumulate = false,
): boolean {
  let any = 0;
  for (let m = 0; m < HALF; m++) {
    const a = first[firstOff + m]!, b = second[secondOff + m]!;
    any += Math.abs(a) + Math.abs(b);
    y[m] = HANN_WINDOW[m]! * a;
    y[m + HALF] = HANN_WINDOW[m + HALF]! * b;
  }
  if (any === 0) {
    if (!accumulate) out.fill(0, outOff, outOff + N_BINS);
    return false;
  }
  // Real input: Re X_f = y0 + (−1)^f y16 + Σ_{m=1}^{15} (y_m + y_{32−m}) cos, Im X_f = −Σ (y_m − y_{32−m}) sin.
  for (let m = 1; m < HALF; m++) { even[m] = y[m]! + y[N_FFT - m]!; odd[m] = y[m]! - y[N_FFT - m]!; }
  const y0 = y[0]!, y16 = y[HALF]!;
  for (let f = 0; f <= 8; f++) {
    // Bin 16−f shares the tables: cos flips sign on odd m, sin keeps its sign on odd m and flips on even m.
    let reEven = 0, reOdd = 0, imEven = 0, imOdd = 0;
    const t = f * HALF;
    for (let m = 1; m < HALF; m += 2) { reOdd += even[m]! * COS[t + m]!; imOdd += odd[m]! * SIN[t + m]!; }
    for (let m = 2; m < HALF; m += 2) { reEven += even[m]! * COS[t + m]!; imEven += odd[m]! * SIN[t + m]!; }
    const sign = f % 2 === 0 ? 1 : -1;
    const reLow = y0 + sign * y16 + reEven + reOdd, imLow = imEven + imOdd;
    const magLow = Math.sqrt(reLow * reLow + imLow * imLow);
    if (accumulate) out[outOff + f] = out[outOff + f]! + scale * magLow;
    else out[outOff + f] = scale * magLow;
    if (f === 8) continue;
    const reHigh = y0 + sign * y16 + reEven - reOdd, imHigh = imOdd - imEven;
    const magHigh = Math.sqrt(reHigh * reHigh + imHigh * imHigh);
    if (accumulate) out[outOff + 16 - f] = out[outOff + 16 - f]! + scale * magHigh;
    else out[outOff + 16 - f] = scale * magHigh;
  }
  return true;
}

/**
 * |STFT| of one signal (length 16·(F+1)), frames F, center=False: `[F, 17]` row-major. A plain helper for tests,
 * tools and documentation; the policy feeds frames incrementally through frameMagnitudes.
 */
export function stftMagnitudes(signal: Float32Array): Float32Array {
  checkArg('stftMagnitudes', 'signal', signal, 'Float32Array');
  if (signal.length < N_FFT || signal.length % HOP !== 0) {
    throw new RangeError(`stftMagnitudes needs a signal of 32 + 16·k samples, got ${signal.length}`);
  }
  const frames = (signal.length - N_FFT) / HOP + 1;
  const out = new Float32Array(frames * N_BINS);
  for (let t = 0; t < frames; t++) frameMagnitudes(signal, t * HOP, signal, t * HOP + HALF, out, t * N_BINS);
  return out;
}

const frameA = new Float32Array(HALF);
const frameB = new Float32Array(HALF);
const frameMag = new Float64Array(N_BINS);

/** Rows per tile of the STFT accumulator (see stftAccIndex). */
export const ACC_BLOCK = 16;

/**
 * Where row r, bin f lives in an STFT accumulator: tiles of 16 rows, each a contiguous `[17][16]` float32 block
 * (the native kernel then reads and writes one contiguous run per register group, not 17 strided streams).
 */
export function stftAccIndex(r: number, f: number): number {
  return (Math.floor(r / ACC_BLOCK) * N_BINS + f) * ACC_BLOCK + (r % ACC_BLOCK);
}

/** Values (float32) an STFT accumulator for `ld` rows needs: whole tiles. */
export function stftAccSize(ld: number): number {
  return Math.ceil(ld / ACC_BLOCK) * N_BINS * ACC_BLOCK;
}

/**
 * One frame for many rows at once, in the layout of the native `stftAccumulate` kernel (Backend.stftAccumulate)
 * and its TypeScript twin: `prev` and `cur` are query-major 16-query blocks (sample m of row r at `m·ld + r`),
 * `acc` is the tiled float32 accumulator (stftAccIndex), and for every row r < rows, acc[r, f] += weight·|X_f|.
 * The magnitudes are frameMagnitudes' (float64); the native kernel computes them in float32.
 */
export function stftAccumulateTs(
  prev: Float32Array, cur: Float32Array, ld: number, rows: number, weight: number, acc: Float32Array,
): void {
  checkStftAccumulateArgs(prev, cur, ld, rows, weight, acc);
  accumulateFrame(prev, 0, ld, cur, 0, ld, rows, Math.fround(weight), acc);
}

/** One frame whose two blocks have their own offsets and strides (the arguments are already checked). */
function accumulateFrame(
  prev: Float32Array, prevOff: number, ldp: number, cur: Float32Array, curOff: number, ldc: number, rows: number,
  w: number, acc: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    for (let m = 0; m < HALF; m++) { frameA[m] = prev[prevOff + m * ldp + r]!; frameB[m] = cur[curOff + m * ldc + r]!; }
    if (!frameMagnitudes(frameA, 0, frameB, 0, frameMag, 0)) continue;
    const tile = Math.floor(r / ACC_BLOCK) * N_BINS * ACC_BLOCK + (r % ACC_BLOCK);
    for (let f = 0; f < N_BINS; f++) acc[tile + f * ACC_BLOCK] = acc[tile + f * ACC_BLOCK]! + w * frameMag[f]!;
  }
}

/**
 * Consecutive frames, the contract of Backend.stftAccumulateFrames: frame t = [block t−1 | block t], block −1 is
 * `prev` (stride prevLd) and block t ≥ 0 the 16 query rows of `next` from 16·t·nextLd on (stride nextLd); frame t
 * adds weights[t]·|X| to rows r < rows[t]. The same as stftAccumulateTs once per frame, in order.
 */
export function stftAccumulateFramesTs(
  prev: Float32Array, prevLd: number, nextIn: Float32Array | Uint16Array, nextLd: number, frames: number,
  rows: Int32Array, weights: Float32Array, acc: Float32Array, last?: Float32Array, lastLd = 0,
): void {
  checkStftAccumulateFramesArgs(prev, prevLd, nextIn, nextLd, frames, rows, weights, acc);
  let maxRows = 0;
  for (let t = 0; t < frames; t++) maxRows = Math.max(maxRows, rows[t]!);
  if (last !== undefined && last !== null) {
    if (!Number.isSafeInteger(lastLd) || lastLd < 0) throw new RangeError(`lastLd must be a non-negative integer, got ${String(lastLd)}`);
    if (lastLd < maxRows) throw new RangeError(`stftAccumulateFrames: lastLd (${lastLd}) is below the rows written (${maxRows})`);
    if (!(last instanceof Float32Array)) throw new TypeError('last must be a Float32Array');
    if (last.length < HOP * lastLd) throw new RangeError(`last holds ${last.length} values but ${HOP * lastLd} are needed`);
    // The native kernel writes each row block's part of `last` while other blocks still read next and weights.
    refuseOverlap([['last', last, HOP * lastLd]], [['next', nextIn, HOP * frames * nextLd], ['weights', weights, frames]], false, 'stftAccumulateFrames: ');
  }
  // Packed bf16 taps: each value is the upper half of its float32, so widening them first changes nothing.
  let next: Float32Array;
  if (nextIn instanceof Uint16Array) {
    const n = HOP * frames * nextLd, bits = new Uint32Array(n);
    for (let i = 0; i < n; i++) bits[i] = nextIn[i]! << 16;
    next = new Float32Array(bits.buffer);
  } else next = nextIn;
  for (let t = 0; t < frames; t++) {
    if (t === 0) accumulateFrame(prev, 0, prevLd, next, 0, nextLd, rows[0]!, weights[0]!, acc);
    else accumulateFrame(next, (t - 1) * HOP * nextLd, nextLd, next, t * HOP * nextLd, nextLd, rows[t]!, weights[t]!, acc);
  }
  if (last && frames > 0) {
    const src = (frames - 1) * HOP * nextLd;
    for (let m = 0; m < HOP; m++) last.set(next.subarray(src + m * nextLd, src + m * nextLd + maxRows), m * lastLd);
  }
}

/** The argument checks of stftAccumulateFramesTs, in the words of the native kernel. */
export function checkStftAccumulateFramesArgs(
  prev: Float32Array, prevLd: number, next: Float32Array | Uint16Array, nextLd: number, frames: number,
  rows: Int32Array, weights: Float32Array, acc: Float32Array,
): void {
  for (const [name, v] of [['prevLd', prevLd], ['nextLd', nextLd], ['frames', frames]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(v)}`);
  }
  if (!(rows instanceof Int32Array)) throw new TypeError('rows must be an Int32Array');
  if (rows.length < frames) throw new RangeError(`rows holds ${rows.length} values but ${frames} are needed`);
  if (!(weights instanceof Float32Array)) throw new TypeError('weights must be a Float32Array');
  if (weights.length < frames) throw new RangeError(`weights holds ${weights.length} values but ${frames} are needed`);
  let maxRows = 0;
  for (let t = 0; t < frames; t++) {
    const limit = t === 0 ? Math.min(prevLd, nextLd) : nextLd;
    if (rows[t]! < 0 || rows[t]! > limit) throw new RangeError(`stftAccumulateFrames: rows[${t}] must be an integer in [0, ${limit}], got ${rows[t]}`);
    if (!Number.isFinite(weights[t]!)) throw new RangeError(`stftAccumulateFrames: weights[${t}] must be finite`);
    maxRows = Math.max(maxRows, rows[t]!);
  }
  const need = (name: string, a: unknown, type: typeof Float32Array | typeof Float64Array | typeof Uint16Array, typeName: string, n: number) => {
    if (!(a instanceof type)) throw new TypeError(`${name} must be ${typeName}`);
    if (a.length < n) throw new RangeError(`${name} holds ${a.length} values but ${n} are needed`);
  };
  need('prev', prev, Float32Array, 'a Float32Array', HOP * prevLd);
  need('next', next, next instanceof Uint16Array ? Uint16Array : Float32Array, 'a Float32Array or a Uint16Array', HOP * frames * nextLd);
  need('acc', acc, Float32Array, 'a Float32Array', stftAccSize(maxRows));
  // acc gains each row's frames while the native kernel's other row blocks still read prev, next and weights.
  refuseOverlap([['acc', acc, stftAccSize(maxRows)]], [['prev', prev, HOP * prevLd], ['next', next, HOP * frames * nextLd], ['weights', weights, frames]], false, 'stftAccumulateFrames: ');
}

/** The argument checks shared by the twin and (in the same words) the native kernel. */
export function checkStftAccumulateArgs(
  prev: Float32Array, cur: Float32Array, ld: number, rows: number, weight: number, acc: Float32Array,
): void {
  if (!(prev instanceof Float32Array) || !(cur instanceof Float32Array)) throw new TypeError('stftAccumulate: prev and cur must be Float32Arrays');
  if (!(acc instanceof Float32Array)) throw new TypeError('stftAccumulate: acc must be a Float32Array');
  if (!Number.isInteger(ld) || ld < 0) throw new RangeError(`stftAccumulate: ld must be a non-negative integer, got ${ld}`);
  if (!Number.isInteger(rows) || rows < 0 || rows > ld) throw new RangeError(`stftAccumulate: rows must be an integer in [0, ld = ${ld}], got ${rows}`);
  if (typeof weight !== 'number' || !Number.isFinite(weight)) throw new RangeError(`stftAccumulate: weight must be finite, got ${weight}`);
  if (prev.length < HOP * ld || cur.length < HOP * ld) throw new RangeError(`stftAccumulate: prev and cur need ${HOP * ld} values`);
  if (acc.length < stftAccSize(ld)) throw new RangeError(`stftAccumulate: acc needs ${stftAccSize(ld)} values, has ${acc.length}`);
  refuseOverlap([['acc', acc, stftAccSize(ld)]], [['prev', prev, HOP * ld], ['cur', cur, HOP * ld]], false, 'stftAccumulate: ');
}
