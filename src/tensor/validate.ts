/**
 * Argument checks shared by the TypeScript backend (the native addon repeats them in C++). Wrong types give a
 * TypeError, wrong sizes a RangeError, each naming the argument, so misuse never turns into a crash or a hang.
 */
import type { AttentionArgs } from './backend.js';
import { packedRowBytes, type PackedMatrix } from './packed.js';

/**
 * A bad argument as the native addon's messages show it: a number as written, otherwise its kind. (String() of a
 * typed array passed by mistake joined all its values into the message, and threw on a detached one.)
 */
export function describeArg(v: unknown): string {
  if (typeof v === 'number' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'bigint') return 'a bigint';
  return 'an object';
}

export function checkCount(name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${describeArg(v)}`);
  }
}

/** Threads a backend may use: the native pool's bounds, so both backends take the same values. */
export const MAX_THREADS = 256;

export function checkThreads(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THREADS) {
    throw new RangeError(`threads must be an integer from 1 to ${MAX_THREADS}`);
  }
  return v;
}

function checkLength(name: string, a: ArrayLike<number>, need: number): void {
  if (a.length < need) throw new RangeError(`${name} holds ${a.length} values but ${need} are needed`);
}

export function checkF32(name: string, a: unknown, need: number): asserts a is Float32Array {
  if (!(a instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  checkLength(name, a, need);
}

export function checkU16(name: string, a: unknown, need: number): asserts a is Uint16Array {
  if (!(a instanceof Uint16Array)) throw new TypeError(`${name} must be a Uint16Array`);
  checkLength(name, a, need);
}

export function checkU8(name: string, a: unknown, need: number): asserts a is Uint8Array {
  if (!(a instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  checkLength(name, a, need);
}

export function checkI32(name: string, a: unknown, need: number): asserts a is Int32Array {
  if (!(a instanceof Int32Array)) throw new TypeError(`${name} must be an Int32Array`);
  checkLength(name, a, need);
}

export function checkFiniteNumber(name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new RangeError(`${name} must be finite, got ${v}`);
}

/**
 * Whether the first `aCount` elements of a and the first `bCount` of b share a byte (an empty range shares none),
 * as the native addon's `overlaps`: the check for outputs that must not overlap an input.
 *
 * Views over two different buffer objects count as disjoint. That misses one case the addon (which compares
 * addresses) catches: two SharedArrayBuffer objects over the same memory (structuredClone of one, or one posted
 * to a worker and back). JavaScript offers no way to tell whether two such objects share their memory short of
 * writing to one and reading the other, which other threads could see or race with, so that case is left to the
 * caller.
 */
export function overlaps(a: ArrayBufferView, aCount: number, b: ArrayBufferView, bCount: number): boolean {
  if (aCount <= 0 || bCount <= 0 || a.buffer !== b.buffer) return false;
  const aSize = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const bSize = (b as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const lo = a.byteOffset, hi = lo + aCount * aSize, blo = b.byteOffset, bhi = blo + bCount * bSize;
  return lo < bhi && blo < hi;
}

/** A buffer argument as the range a kernel touches: its name (for the error), the view and the element count. */
export type Span = readonly [name: string, view: ArrayBufferView, count: number];

const elementSize = (v: ArrayBufferView): number => (v as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;

/**
 * Throws a RangeError "<prefix><output> must not overlap <input>" when an output shares a byte with an input or with
 * another output, as the native addon's refuse_overlap (native/src/args.h) does: there the kernel writes its outputs
 * while other registers, rows or threads still read its inputs, so an overlap gives results that depend on the SIMD
 * width and the thread count. With `inPlace`, an output may be exactly one of the inputs (the same first byte,
 * element type and length), the in-place use the element-wise and row kernels support; any other overlap is refused
 * ("... unless it is <input> itself").
 */
export function refuseOverlap(outputs: readonly Span[], inputs: readonly Span[], inPlace = false, prefix = ''): void {
  outputs.forEach((o, i) => {
    for (const input of inputs) {
      if (!overlaps(o[1], o[2], input[1], input[2])) continue;
      // Only an output of the input's element type can be that input.
      const aliasable = inPlace && elementSize(o[1]) === elementSize(input[1]);
      if (aliasable && o[1].byteOffset === input[1].byteOffset && o[2] === input[2]) continue;
      throw new RangeError(`${prefix}${o[0]} must not overlap ${input[0]}${aliasable ? ` unless it is ${input[0]} itself` : ''}`);
    }
    // Two outputs in one place: which one is left there would depend on the order of the writes.
    for (const p of outputs.slice(0, i)) if (overlaps(o[1], o[2], p[1], p[2])) throw new RangeError(`${prefix}${o[0]} must not overlap ${p[0]}`);
  });
}

/** undefined / null → false, else it must be a boolean (as the native addon's optional_bool_arg). */
export function optionalBool(name: string, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean`);
  return v;
}

/**
 * Sizes of every GEMM layout: a holds M·K values, b K·N, c M·N (the layouts differ only in order); c must not
 * overlap a or b (it is written while they are still read); accumulate is a boolean (or undefined / null).
 */
export function checkGemm(
  a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate?: unknown,
): boolean {
  checkCount('M', M); checkCount('K', K); checkCount('N', N);
  checkF32('a', a, M * K); checkF32('b', b, K * N); checkF32('c', c, M * N);
  const acc = optionalBool('accumulate', accumulate);
  refuseOverlap([['c', c, M * N]], [['a', a, M * K], ['b', b, K * N]]);
  return acc;
}

/**
 * checkGemm for A·Wᵀ with W packed: W must be N rows of K values (a RangeError naming both shapes otherwise), and
 * C must not overlap A or W's bytes.
 */
export function checkPackedGemm(a: Float32Array, w: PackedMatrix, c: Float32Array, M: number, K: number, N: number, accumulate?: unknown): boolean {
  checkCount('M', M); checkCount('K', K); checkCount('N', N);
  checkF32('a', a, M * K); checkF32('c', c, M * N);
  if (w.rows !== N || w.cols !== K) throw new RangeError(`the packed weight is ${w.rows}×${w.cols}, but N×K = ${N}×${K} was asked for`);
  // The fields are readonly to TypeScript only: an altered format or byte array is refused, as the addon does.
  checkU8('w.bytes', w.bytes, N * packedRowBytes(w.format, K));
  const acc = optionalBool('accumulate', accumulate);
  refuseOverlap([['c', c, M * N]], [['a', a, M * K], ['w', w.bytes, w.bytes.length]]);
  return acc;
}

export function checkAttention(a: AttentionArgs): void {
  if (typeof a !== 'object' || a === null) throw new TypeError('attention needs an AttentionArgs object');
  const { q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, out, probs } = a;
  checkCount('nQ', nQ); checkCount('nHeads', nHeads); checkCount('nKvHeads', nKvHeads); checkCount('headDim', headDim);
  if (nKvHeads === 0 || nHeads === 0 || nHeads % nKvHeads !== 0) {
    throw new RangeError(`nHeads (${nHeads}) must be a positive multiple of nKvHeads (${nKvHeads})`);
  }
  // As the native addon: with headDim 0 no buffer would bound the heads or the cache lengths.
  if (headDim === 0) throw new RangeError('headDim must be a positive integer, got 0');
  checkF32('q', q, nQ * nHeads * headDim); checkF32('out', out, nQ * nHeads * headDim);
  checkI32('lens', lens, nKvHeads);
  if (!Array.isArray(keys)) throw new TypeError('keys must be an array of Float32Array, one per KV head');
  if (!Array.isArray(values)) throw new TypeError('values must be an array of Float32Array, one per KV head');
  if (keys.length < nKvHeads || values.length < nKvHeads) {
    throw new RangeError(`keys and values need one array per KV head (${nKvHeads}), got ${keys.length} and ${values.length}`);
  }
  if (a.probsBf16 !== undefined && typeof a.probsBf16 !== 'boolean') throw new TypeError('probsBf16 must be a boolean');
  const packed = Array.isArray(probs) && nKvHeads > 0 && probs[0] instanceof Uint16Array;
  if (probs !== undefined) {
    if (!Array.isArray(probs)) throw new TypeError('probs must be an array of Float32Array, one per KV head');
    if (probs.length < nKvHeads) throw new RangeError(`probs needs one array per KV head (${nKvHeads}), got ${probs.length}`);
    if (packed && !a.probsBf16) throw new RangeError('probs as Uint16Array (bf16 bit patterns) need probsBf16: true');
  }
  if (a.firstRow !== undefined) checkI32('firstRow', a.firstRow, nKvHeads * nQ);
  checkFiniteNumber('scale', a.scale);
  for (let h = 0; h < nKvHeads; h++) {
    const len = lens[h]!;
    if (len < nQ) throw new RangeError(`lens[${h}] = ${len} is smaller than the chunk (${nQ} queries)`);
    if (a.firstRow !== undefined) {
      for (let i = 0; i < nQ; i++) {
        const f = a.firstRow[h * nQ + i]!, last = len - nQ + i;
        if (f < 0 || f > last) throw new RangeError(`firstRow[${h * nQ + i}] = ${f} (KV head ${h}, query ${i}) must be within 0..${last}, the rows that query can see`);
      }
    }
    checkF32(`keys[${h}]`, keys[h], len * headDim); checkF32(`values[${h}]`, values[h], len * headDim);
    if (packed) checkU16(`probs[${h}]`, probs[h], nQ * len);
    else if (probs) checkF32(`probs[${h}]`, probs[h], nQ * len);
  }
  // The outputs are written while other tasks still read keys and values (native: on other threads). out may be q
  // itself (a task reads its queries before it writes their rows), not q shifted.
  const qSpan: Span = ['q', q, nQ * nHeads * headDim], outs: Span[] = [['out', out, nQ * nHeads * headDim]], kv: Span[] = [];
  for (let h = 0; h < nKvHeads; h++) {
    kv.push([`keys[${h}]`, keys[h]!, lens[h]! * headDim], [`values[${h}]`, values[h]!, lens[h]! * headDim]);
    if (probs) outs.push([`probs[${h}]`, probs[h]!, nQ * lens[h]!]);
  }
  refuseOverlap(outs.slice(0, 1), [qSpan], true, 'attention: ');
  refuseOverlap(outs.slice(1), [qSpan], false, 'attention: ');
  refuseOverlap(outs, kv, false, 'attention: ');
}
