/**
 * The plain-TypeScript backend: the reference twin of every native kernel, and the fallback on machines where
 * the addon cannot be built. Written for clarity first; the GEMM is register-blocked so the fallback stays usable.
 */
import type { AttentionArgs, Backend, GeluKind, RopeLayout } from './backend.js';
import { checkCount, checkF32, checkGemm, checkU16 } from './validate.js';

export class JsBackend implements Backend {
  readonly name = 'js' as const;
  readonly simd = 'js';
  /** The TypeScript backend always runs on the calling thread; the value is kept for interface symmetry. */
  threads = 1;

  matmulABt(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    checkGemm(a, b, c, M, K, N);
    for (let i = 0; i < M; i++) {
      const ao = i * K;
      for (let j = 0; j < N; j++) {
        const bo = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + k]! * b[bo + k]!;
        c[i * N + j] = accumulate ? c[i * N + j]! + s : s;
      }
    }
  }

  matmulAB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    checkGemm(a, b, c, M, K, N);
    if (!accumulate) c.fill(0, 0, M * N);
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const av = a[i * K + k]!;
        const bo = k * N, co = i * N;
        for (let j = 0; j < N; j++) c[co + j] = c[co + j]! + av * b[bo + j]!;
      }
    }
  }

  matmulAtB(a: Float32Array, b: Float32Array, c: Float32Array, M: number, K: number, N: number, accumulate = false): void {
    checkGemm(a, b, c, M, K, N);
    if (!accumulate) c.fill(0, 0, M * N);
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < M; i++) {
        const av = a[k * M + i]!;
        const bo = k * N, co = i * N;
        for (let j = 0; j < N; j++) c[co + j] = c[co + j]! + av * b[bo + j]!;
      }
    }
  }

  rmsNorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
    checkCount('rows', rows); checkCount('dim', dim);
    checkF32('x', x, rows * dim); checkF32('out', out, rows * dim); checkF32('weight', weight, dim);
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = x[o + i]! * inv * weight[i]!;
    }
  }

  layerNorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number): void {
    checkCount('rows', rows); checkCount('dim', dim);
    checkF32('x', x, rows * dim); checkF32('out', out, rows * dim);
    checkF32('weight', weight, dim); checkF32('bias', bias, dim);
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let mean = 0;
      for (let i = 0; i < dim; i++) mean += x[o + i]!;
      mean /= dim;
      let v = 0;
      for (let i = 0; i < dim; i++) { const d = x[o + i]! - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / dim + eps);
      for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * inv * weight[i]! + bias[i]!;
    }
  }

  rope(x: Float32Array, rows: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, layout: RopeLayout): void {
    checkCount('rows', rows); checkCount('nHeads', nHeads); checkCount('headDim', headDim);
    checkF32('x', x, rows * nHeads * headDim);
    if (!(positions instanceof Int32Array) || positions.length < rows) throw new RangeError('positions must be an Int32Array with one entry per row');
    const half = invFreq.length;
    if (2 * half > headDim) throw new RangeError(`invFreq has ${half} entries, more than headDim/2 = ${headDim / 2}`);
    if (layout !== 'half' && layout !== 'interleaved') throw new TypeError(`unknown RoPE layout ${String(layout)}`);
    const cos = new Float32Array(half), sin = new Float32Array(half);
    for (let r = 0; r < rows; r++) {
      const p = positions[r]!;
      for (let i = 0; i < half; i++) {
        const ang = Math.fround(p * invFreq[i]!);
        cos[i] = Math.cos(ang); sin[i] = Math.sin(ang);
      }
      for (let h = 0; h < nHeads; h++) {
        const o = (r * nHeads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const i0 = layout === 'half' ? o + i : o + 2 * i;
          const i1 = layout === 'half' ? o + i + half : o + 2 * i + 1;
          const a = x[i0]!, b = x[i1]!;
          x[i0] = a * cos[i]! - b * sin[i]!;
          x[i1] = b * cos[i]! + a * sin[i]!;
        }
      }
    }
  }

  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('gate', gate, n); checkF32('up', up, n);
    for (let i = 0; i < n; i++) { const g = gate[i]!; out[i] = (g / (1 + Math.exp(-g))) * up[i]!; }
  }

  gelu(out: Float32Array, x: Float32Array, n: number, kind: GeluKind): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('x', x, n);
    if (kind === 'tanh') {
      const c = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))); }
    } else if (kind === 'erf') {
      for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v / Math.SQRT2)); }
    } else throw new TypeError(`unknown GELU kind ${String(kind)}`);
  }

  softmax(x: Float32Array, rows: number, cols: number): void {
    checkCount('rows', rows); checkCount('cols', cols); checkF32('x', x, rows * cols);
    for (let r = 0; r < rows; r++) softmaxRow(x, r * cols, cols);
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    checkCount('n', n); checkF32('out', out, n); checkF32('a', a, n); checkF32('b', b, n);
    for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
  }

  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    checkCount('rows', rows); checkCount('cols', cols); checkF32('x', x, rows * cols); checkF32('bias', bias, cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[r * cols + c] = x[r * cols + c]! + bias[c]!;
  }

  attention(args: AttentionArgs): void {
    const { q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, scale, out, probs } = args;
    checkAttention(args);
    const group = nHeads / nKvHeads;
    let maxLen = 0;
    for (let h = 0; h < nKvHeads; h++) maxLen = Math.max(maxLen, lens[h]!);
    const w = new Float32Array(maxLen);
    if (probs) for (let h = 0; h < nKvHeads; h++) probs[h]!.fill(0, 0, nQ * lens[h]!);
    for (let kvh = 0; kvh < nKvHeads; kvh++) {
      const K = keys[kvh]!, V = values[kvh]!, len = lens[kvh]!, P = probs?.[kvh];
      for (let g = 0; g < group; g++) {
        const h = kvh * group + g;
        for (let i = 0; i < nQ; i++) {
          const visible = len - nQ + i + 1;
          const qo = (i * nHeads + h) * headDim;
          for (let j = 0; j < visible; j++) {
            let s = 0;
            const ko = j * headDim;
            for (let d = 0; d < headDim; d++) s += q[qo + d]! * K[ko + d]!;
            w[j] = s * scale;
          }
          softmaxRow(w, 0, visible);
          for (let d = 0; d < headDim; d++) out[qo + d] = 0;
          for (let j = 0; j < visible; j++) {
            const pj = w[j]!, vo = j * headDim;
            for (let d = 0; d < headDim; d++) out[qo + d] = out[qo + d]! + pj * V[vo + d]!;
          }
          if (P) {
            const po = i * len;
            for (let j = 0; j < visible; j++) P[po + j] = P[po + j]! + w[j]! / group;
          }
        }
      }
    }
  }

  f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    checkCount('n', n); checkU16('src', src, n); checkF32('dst', dst, n);
    for (let i = 0; i < n; i++) dst[i] = halfToFloat(src[i]!);
  }

  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
    checkCount('n', n); checkU16('src', src, n); checkF32('dst', dst, n);
    const u = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) u[i] = src[i]! << 16;
  }

  q8_0ToF32(src: Uint8Array, dst: Float32Array, n: number): void {
    checkCount('n', n);
    if (n % 32 !== 0) throw new RangeError(`Q8_0 holds blocks of 32 values; n = ${n} is not a multiple of 32`);
    if (!(src instanceof Uint8Array) || src.length < (n / 32) * 34) throw new RangeError(`src must be a Uint8Array of at least ${(n / 32) * 34} bytes`);
    checkF32('dst', dst, n);
    for (let b = 0; b < n / 32; b++) {
      const o = b * 34;
      const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
      for (let i = 0; i < 32; i++) {
        const q = src[o + 2 + i]!;
        dst[b * 32 + i] = d * (q > 127 ? q - 256 : q);
      }
    }
  }
}

export function checkAttention(a: AttentionArgs): void {
  const { q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, out, probs } = a;
  checkCount('nQ', nQ); checkCount('nHeads', nHeads); checkCount('nKvHeads', nKvHeads); checkCount('headDim', headDim);
  if (nKvHeads === 0 || nHeads % nKvHeads !== 0) throw new RangeError(`nHeads (${nHeads}) must be a positive multiple of nKvHeads (${nKvHeads})`);
  checkF32('q', q, nQ * nHeads * headDim); checkF32('out', out, nQ * nHeads * headDim);
  if (!(lens instanceof Int32Array) || lens.length < nKvHeads) throw new RangeError('lens must be an Int32Array with one entry per KV head');
  if (!Array.isArray(keys) || keys.length < nKvHeads || !Array.isArray(values) || values.length < nKvHeads) throw new RangeError('keys and values need one array per KV head');
  if (!Number.isFinite(a.scale)) throw new RangeError('scale must be finite');
  for (let h = 0; h < nKvHeads; h++) {
    const len = lens[h]!;
    if (len < nQ) throw new RangeError(`lens[${h}] = ${len} is smaller than the chunk (${nQ} queries)`);
    checkF32(`keys[${h}]`, keys[h], len * headDim); checkF32(`values[${h}]`, values[h], len * headDim);
    if (probs) checkF32(`probs[${h}]`, probs[h], nQ * len);
  }
}

function softmaxRow(x: Float32Array, o: number, n: number): void {
  if (n === 0) return;
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[o + i]! > m) m = x[o + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) { const e = Math.exp(x[o + i]! - m); x[o + i] = e; s += e; }
  const inv = 1 / s;
  for (let i = 0; i < n; i++) x[o + i] = x[o + i]! * inv;
}

/** IEEE 754 binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** erf with float64 accuracy (Abramowitz–Stegun 7.1.26 is too coarse for a reference; use a series/continued fraction). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges quickly for |x| < 2.5 in float64.
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
  // Continued fraction for erfc at larger |x|.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x < 0 ? erfc - 1 : 1 - erfc;
}
