/**
 * The plain-TypeScript backend: the documented reference of every kernel's semantics, the twin that the native
 * addon is tested against, and the fallback on machines where the addon cannot be built.
 *
 * Numerics: inputs and outputs are float32; every sum (GEMM dot products, norms, softmax, attention) is
 * accumulated in JavaScript numbers, i.e. float64, and rounded to float32 once when stored (attention also
 * rounds its scores and probabilities to float32 between its two products). The native twin accumulates in
 * float32, so the two agree to about 1e-5 relative on well-conditioned inputs (the contract is 1e-4).
 *
 * Speed: the GEMMs (src/tensor/js-gemm.ts) pack both operands into float64 panels and run a register-blocked
 * 4×4 micro-kernel over them, which is what lets V8 keep the accumulators in registers; packing absorbs the
 * layout, so the three layouts share that one kernel.
 */
import type { AttentionArgs, Backend, GeluKind, RopeLayout } from './backend.js';
import { gemmAB, gemmABt, gemmAtB } from './js-gemm.js';
import { PackedMatrix, unpackRows, type Weight } from './packed.js';
import {
  checkAttention, checkCount, checkF32, checkFiniteNumber, checkGemm, checkI32, checkPackedGemm, checkThreads, checkU16, checkU8, refuseOverlap,
} from './validate.js';

export { checkAttention } from './validate.js';

/** Query rows (queries × heads of a group) per attention block: 64 rows × 4K keys is a 1 MiB score matrix. */
const ATTENTION_ROW_BLOCK = 64;
/** Widened values per panel of a packed weight (1 MiB of float32). */
const PACKED_PANEL_VALUES = 1 << 18;

export class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly simd = 'js';
  private threadCount = 1;

  /**
   * The TypeScript backend always runs on the calling thread; the value is kept for interface symmetry, and checked
   * as the native backend checks it (1000 was taken, and a training run printed "1000 thread(s)").
   */
  get threads(): number {
    return this.threadCount;
  }

  set threads(n: number) {
    this.threadCount = checkThreads(n);
  }

  matmulABt(a: Float32Array, b: Weight, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    if (b instanceof PackedMatrix) {
      this.matmulABtPacked(a, b, c, M, K, N, accumulate);
      return;
    }
    const acc = checkGemm(a, b, c, M, K, N, accumulate);
    if (M === 0 || N === 0) return; // C is empty (whatever K is: no work, no workspace sized by the other count)
    gemmABt(a, b, c, M, K, N, acc);
  }

  /**
   * A·Wᵀ with W packed: W widened a block of rows at a time into a float32 panel, and the float32 GEMM run on it
   * into a copy of C's columns (so an accumulating product adds the old C in float64, as the float32 path does). Every
   * value of C is one dot product over the same k in the same order, so the result equals the float32 product with
   * the widened matrix exactly.
   */
  private matmulABtPacked(a: Float32Array, w: PackedMatrix, c: Float32Array, M: number, K: number, N: number, accumulate: unknown): void {
    const acc = checkPackedGemm(a, w, c, M, K, N, accumulate);
    if (M === 0 || N === 0) return;
    const rowsPer = Math.max(1, Math.min(N, Math.floor(PACKED_PANEL_VALUES / Math.max(1, K))));
    const panel = new Float32Array(rowsPer * K), block = new Float32Array(M * rowsPer);
    for (let j0 = 0; j0 < N; j0 += rowsPer) {
      const nb = Math.min(rowsPer, N - j0);
      unpackRows(w, j0, j0 + nb, panel);
      const cb = block.subarray(0, M * nb);
      if (acc) for (let i = 0; i < M; i++) cb.set(c.subarray(i * N + j0, i * N + j0 + nb), i * nb);
      gemmABt(a, panel, cb, M, K, nb, acc);
      for (let i = 0; i < M; i++) c.set(cb.subarray(i * nb, (i + 1) * nb), i * N + j0);
    }
  }

  matmulAB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    const acc = checkGemm(a, b, c, M, K, N, accumulate);
    if (M === 0 || N === 0) return; // C is empty (whatever K is: no work, no workspace sized by the other count)
    gemmAB(a, b, c, M, K, N, acc);
  }

  matmulAtB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    const acc = checkGemm(a, b, c, M, K, N, accumulate);
    if (M === 0 || N === 0) return; // C is empty (whatever K is: no work, no workspace sized by the other count)
    gemmAtB(a, b, c, M, K, N, acc);
  }

  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
    checkCount('rows', rows); checkCount('dim', dim); checkFiniteNumber('eps', eps);
    checkF32('x', x, rows * dim); checkF32('out', out, rows * dim); checkF32('weight', weight, dim);
    // out may be x itself, not a part of it (as the native addon, whose threads would read rows already written).
    refuseOverlap([['out', out, rows * dim]], [['x', x, rows * dim], ['weight', weight, dim]], true);
    if (dim === 0) return; // empty rows: nothing to write (and no 2^53 of them to walk), as the native kernel
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) { const v = x[o + i]!; ss += v * v; }
      // dim = 0: nothing to write, and the (NaN) scale is never used.
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = x[o + i]! * inv * weight[i]!;
    }
  }

  layerNorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void {
    checkCount('rows', rows); checkCount('dim', dim); checkFiniteNumber('eps', eps);
    checkF32('x', x, rows * dim); checkF32('out', out, rows * dim);
    checkF32('weight', weight, dim); checkF32('bias', bias, dim);
    refuseOverlap([['out', out, rows * dim]], [['x', x, rows * dim], ['weight', weight, dim], ['bias', bias, dim]], true);
    if (dim === 0) return; // empty rows, as in rmsNorm
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let sum = 0;
      for (let i = 0; i < dim; i++) sum += x[o + i]!;
      const mean = sum / dim;
      // Two passes (mean, then squared deviations): no cancellation when |mean| ≫ std.
      let sq = 0;
      for (let i = 0; i < dim; i++) { const d = x[o + i]! - mean; sq += d * d; }
      const inv = 1 / Math.sqrt(sq / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * inv * weight[i]! + bias[i]!;
    }
  }

  rope(x: Float32Array, rows: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, layout: RopeLayout): void {
    checkCount('rows', rows); checkCount('nHeads', nHeads); checkCount('headDim', headDim);
    checkF32('x', x, rows * nHeads * headDim);
    checkI32('positions', positions, rows);
    checkF32('invFreq', invFreq, 0);
    if (layout !== 'half' && layout !== 'interleaved') throw new TypeError(`unknown RoPE layout ${String(layout)}`);
    // rotaryDim = 2·invFreq.length; a shorter invFreq rotates only the first rotaryDim dims (partial rotary).
    const half = invFreq.length;
    if (2 * half > headDim) throw new RangeError(`invFreq has ${half} entries, more than headDim/2 = ${headDim / 2}`);
    refuseOverlap([['x', x, rows * nHeads * headDim]], [['positions', positions, rows], ['invFreq', invFreq, half]]);
    if (half === 0 || nHeads === 0 || rows === 0) return; // nothing rotates (headDim 0 leaves nHeads unbounded)
    // 'half' pairs dim i with i + rotaryDim/2 (HF rotate_half); 'interleaved' pairs 2i with 2i+1 (llama2.c, GGUF).
    const stride0 = layout === 'half' ? 1 : 2, partner = layout === 'half' ? half : 1;
    const cos = new Float64Array(half), sin = new Float64Array(half);
    for (let r = 0; r < rows; r++) {
      // As HF: position and inverse frequency are float32, so is their product; cos/sin are rounded to float32.
      const p = Math.fround(positions[r]!);
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * invFreq[i]!);
        cos[i] = Math.fround(Math.cos(angle)); sin[i] = Math.fround(Math.sin(angle));
      }
      for (let h = 0; h < nHeads; h++) {
        const o = (r * nHeads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const i0 = o + i * stride0, i1 = i0 + partner;
          const u = x[i0]!, v = x[i1]!;
          x[i0] = u * cos[i]! - v * sin[i]!;
          x[i1] = v * cos[i]! + u * sin[i]!;
        }
      }
    }
  }

  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('gate', gate, n); checkF32('up', up, n);
    refuseOverlap([['out', out, n]], [['gate', gate, n], ['up', up, n]], true);
    // g / (1 + e^-g): for g → -∞ the denominator overflows to ∞ and the result is a clean -0, never NaN.
    for (let i = 0; i < n; i++) { const g = gate[i]!; out[i] = (g / (1 + Math.exp(-g))) * up[i]!; }
  }

  gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('x', x, n);
    refuseOverlap([['out', out, n]], [['x', x, n]], true);
    if (kind === 'tanh') {
      // GPT-2's approximation: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x / (1 + e^(−2u)), the
      // same value without 1 + tanh(u) cancelling to 0 for x below −5 (it read 0 from −8 down, 0.7% off at −7).
      const c = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v / (1 + Math.exp(-2 * c * (v + 0.044715 * v * v * v))); }
    } else if (kind === 'erf') {
      // Exact: x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
      for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v / Math.SQRT2)); }
    } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
  }

  /** Row-wise softmax. A row of only −∞ has no defined distribution and comes out NaN (as in PyTorch). */
  softmax(x: Float32Array, rows: number, cols: number): void {
    checkCount('rows', rows); checkCount('cols', cols); checkF32('x', x, rows * cols);
    if (cols === 0) return; // empty rows (and no 2^53 of them to walk)
    for (let r = 0; r < rows; r++) softmaxRow(x, r * cols, cols);
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('a', a, n); checkF32('b', b, n);
    refuseOverlap([['out', out, n]], [['a', a, n], ['b', b, n]], true);
    for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
  }

  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    checkCount('rows', rows); checkCount('cols', cols); checkF32('x', x, rows * cols); checkF32('bias', bias, cols);
    if (cols === 0) return; // as the native addon: nothing to add
    refuseOverlap([['x', x, rows * cols]], [['bias', bias, cols]]);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) x[o + c] = x[o + c]! + bias[c]!;
    }
  }

  /**
   * For query head h (KV head h / group) and chunk query i: scores s_j = scale·⟨q_i, k_j⟩ over the visible rows
   * f ≤ j ≤ lens − nQ + i (f = firstRow[kv·nQ + i], else 0), p = softmax(s), out = Σ_j p_j v_j.
   * probs[kv][i, j] = mean over the group's heads of p_j, and 0 for j outside the visible rows.
   *
   * Computed per KV head as two GEMMs over a block of query rows (every query of the chunk × every head of the
   * group): S = Q·Kᵀ, a masked softmax of each row, then O = P·V. Each key and value row is then loaded once per
   * block instead of once per query, which is what makes a 4K-token cache affordable. Each query row is copied
   * into its block before that row's output is written and is never read again, so out may share memory with q.
   */
  attention(args: AttentionArgs): void {
    checkAttention(args);
    const { q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, scale, out, probs, firstRow } = args;
    const bf16 = !!args.probsBf16;
    const group = nHeads / nKvHeads, rowsPerHead = nQ * group;
    let maxLen = 0;
    for (let h = 0; h < nKvHeads; h++) maxLen = Math.max(maxLen, lens[h]!);
    // Block of query rows: bounds the score matrix at ATTENTION_ROW_BLOCK × maxLen floats.
    const blockRows = Math.min(ATTENTION_ROW_BLOCK, rowsPerHead);
    const qBlock = new Float32Array(blockRows * headDim), oBlock = new Float32Array(blockRows * headDim);
    const S = new Float32Array(blockRows * maxLen);
    for (let kvh = 0; kvh < nKvHeads; kvh++) {
      const K = keys[kvh]!, V = values[kvh]!, len = lens[kvh]!, dst = probs?.[kvh];
      // Uint16Array probabilities (bf16 bit patterns) are computed in float32 first, then their upper halves kept.
      const P = dst instanceof Uint16Array ? new Float32Array(nQ * len) : dst;
      if (P) P.fill(0, 0, nQ * len);
      const past = len - nQ, firstOf = (i: number): number => (firstRow ? firstRow[kvh * nQ + i]! : 0);
      // Row r of this KV head is query i = ⌊r / group⌋ of head kvh·group + r mod group.
      for (let r0 = 0; r0 < rowsPerHead; r0 += blockRows) {
        const rows = Math.min(blockRows, rowsPerHead - r0);
        for (let r = 0; r < rows; r++) {
          const i = Math.floor((r0 + r) / group), h = kvh * group + ((r0 + r) % group);
          qBlock.set(q.subarray((i * nHeads + h) * headDim, (i * nHeads + h + 1) * headDim), r * headDim);
        }
        // Keys visible to the block's last query, from the first row any of its queries sees (0 without firstRow);
        // earlier queries mask their tail, and queries with a later first row their head, inside the softmax. Column c
        // of S is row lo + c of the cache.
        const width = past + Math.floor((r0 + rows - 1) / group) + 1;
        let lo = firstRow ? width : 0, firstMax = 0;
        if (firstRow) {
          for (let r = 0; r < rows; r++) {
            const f = firstOf(Math.floor((r0 + r) / group));
            lo = Math.min(lo, f); firstMax = Math.max(firstMax, f);
          }
        }
        const w = width - lo;
        gemmABt(qBlock, lo ? K.subarray(lo * headDim) : K, S, rows, headDim, w, false);
        for (let r = 0; r < rows; r++) {
          const i = Math.floor((r0 + r) / group);
          const first = firstOf(i);
          maskedSoftmaxRow(S, r * w, w, first - lo, past + i + 1 - lo, scale);
          if (P) {
            const po = i * len, so = r * w - lo;
            if (bf16) for (let j = first; j <= past + i; j++) P[po + j] = P[po + j]! + roundToBf16(S[so + j]!) / group;
            else for (let j = first; j <= past + i; j++) P[po + j] = P[po + j]! + S[so + j]! / group;
          }
        }
        // Masked keys have probability 0, and 0·x is 0 for a finite value row: the block is one product. A non-finite
        // value among the keys some query of the block may not see (a model that overflowed at a later token of the
        // chunk, or before a window's first row) would make 0·∞ = NaN in that query's output, which the native kernel
        // (it reads only visible keys) does not: each row then takes only its own keys (the same float64 sums in the
        // same order).
        const common = past + Math.floor(r0 / group) + 1;
        if (allFinite(V, lo * headDim, firstMax * headDim) && allFinite(V, common * headDim, width * headDim)) {
          gemmAB(S, lo ? V.subarray(lo * headDim) : V, oBlock, rows, w, headDim, false);
        } else {
          for (let r = 0; r < rows; r++) {
            const i = Math.floor((r0 + r) / group), first = firstOf(i), visible = past + i + 1;
            gemmAB(S.subarray(r * w + first - lo, r * w + visible - lo), V.subarray(first * headDim), oBlock.subarray(r * headDim, (r + 1) * headDim), 1, visible - first, headDim, false);
          }
        }
        for (let r = 0; r < rows; r++) {
          const i = Math.floor((r0 + r) / group), h = kvh * group + ((r0 + r) % group);
          out.set(oBlock.subarray(r * headDim, (r + 1) * headDim), (i * nHeads + h) * headDim);
        }
      }
      // The group mean rounds to bf16 once every head of a query has added to it (a query's heads can straddle
      // two row blocks when the group does not divide the block).
      if (P && bf16) for (let x = 0; x < nQ * len; x++) P[x] = roundToBf16(P[x]!);
      if (dst instanceof Uint16Array) {
        const bits = new Uint32Array(P!.buffer, P!.byteOffset, nQ * len);
        for (let x = 0; x < nQ * len; x++) dst[x] = bits[x]! >>> 16;
      }
    }
  }

  f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    checkCount('n', n); checkU16('src', src, n); checkF32('dst', dst, n);
    // Never in place: a float is two halves wide (the native threads would read halves already overwritten).
    refuseOverlap([['dst', dst, n]], [['src', src, n]]);
    for (let i = 0; i < n; i++) dst[i] = halfToFloat(src[i]!);
  }

  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    checkCount('n', n); checkU16('src', src, n); checkF32('dst', dst, n);
    refuseOverlap([['dst', dst, n]], [['src', src, n]]);
    // bfloat16 is the top half of a float32: shift the bits into place (NaN payloads and −0 survive).
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
  }

  q8_0ToF32(src: Uint8Array, dst: Float32Array, n: number): void {
    checkCount('n', n);
    if (n % 32 !== 0) throw new RangeError(`Q8_0 holds blocks of 32 values; n = ${n} is not a multiple of 32`);
    checkU8('src', src, (n / 32) * 34); checkF32('dst', dst, n);
    refuseOverlap([['dst', dst, n]], [['src', src, (n / 32) * 34]]);
    // Block layout (GGML block_q8_0): little-endian f16 scale d, then 32 int8 quants; value = d · q.
    for (let blk = 0; blk < n / 32; blk++) {
      const o = blk * 34;
      const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
      for (let i = 0; i < 32; i++) {
        const u = src[o + 2 + i]!;
        dst[blk * 32 + i] = d * (u > 127 ? u - 256 : u);
      }
    }
  }
}

/** Whether x[from .. to) holds only finite values. */
function allFinite(x: Float32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!Number.isFinite(x[i]!)) return false;
  return true;
}

/**
 * Softmax of scale·x[o+first .. o+visible) in place (float64 max, exponentials and sum), and zeros over the masked
 * rest x[o .. o+first) and x[o+visible .. o+width), so the P·V product that follows ignores those keys.
 */
function maskedSoftmaxRow(x: Float32Array, o: number, width: number, first: number, visible: number, scale: number): void {
  let m = -Infinity;
  for (let j = first; j < visible; j++) { const v = x[o + j]! * scale; if (v > m) m = v; }
  let sum = 0;
  for (let j = first; j < visible; j++) { const e = Math.exp(x[o + j]! * scale - m); x[o + j] = e; sum += e; }
  const inv = 1 / sum;
  for (let j = first; j < visible; j++) x[o + j] = x[o + j]! * inv;
  x.fill(0, o, o + first);
  x.fill(0, o + visible, o + width);
}

/** Softmax of x[o .. o+n) in place: subtract the max (no overflow), exponentiate, divide by the float64 sum. */
function softmaxRow(x: Float32Array, o: number, n: number): void {
  if (n === 0) return;
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[o + i]! > m) m = x[o + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) { const e = Math.exp(x[o + i]! - m); x[o + i] = e; s += e; }
  const inv = 1 / s;
  for (let i = 0; i < n; i++) x[o + i] = x[o + i]! * inv;
}

const bf16Value = new Float32Array(1), bf16Bits = new Uint32Array(bf16Value.buffer);

/** A finite float32 value rounded to the nearest bfloat16 (ties to even), as a number. */
export function roundToBf16(x: number): number {
  bf16Value[0] = x;
  const u = bf16Bits[0]!;
  bf16Bits[0] = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  return bf16Value[0]!;
}

/** IEEE 754 binary16 bits → number (exact, including subnormals, ±0, ±∞ and NaN). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** erf to float64 accuracy (Abramowitz–Stegun 7.1.26 is too coarse for a reference). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)): converges to float64 precision for |x| < 2.5.
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // Continued fraction for erfc, accurate for larger |x| (60 terms is ample above 2.5); erfc(∞) = 0.
  if (ax === Infinity) return x < 0 ? -1 : 1;
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x < 0 ? erfc - 1 : 1 - erfc;
}
