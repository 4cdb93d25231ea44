/**
 * Float64 reference implementations of every Backend kernel, written plainly from the formulas (one loop nest
 * each, no blocking, no shared code with the backends), returning fresh Float64Arrays. Tests compare both
 * backends against these.
 */

/** General C = A·B with element accessors, so each GEMM layout states its indexing explicitly. */
function gemm(M: number, K: number, N: number, A: (i: number, k: number) => number, B: (k: number, j: number) => number, c0?: Float32Array): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = c0 ? c0[i * N + j]! : 0;
    for (let k = 0; k < K; k++) s += A(i, k) * B(k, j);
    c[i * N + j] = s;
  }
  return c;
}

/** C[i,j] = Σ_k a[i,k]·b[j,k] (+ c0). */
export function refMatmulABt(a: Float32Array, b: Float32Array, M: number, K: number, N: number, c0?: Float32Array): Float64Array {
  return gemm(M, K, N, (i, k) => a[i * K + k]!, (k, j) => b[j * K + k]!, c0);
}
/** C[i,j] = Σ_k a[i,k]·b[k,j] (+ c0). */
export function refMatmulAB(a: Float32Array, b: Float32Array, M: number, K: number, N: number, c0?: Float32Array): Float64Array {
  return gemm(M, K, N, (i, k) => a[i * K + k]!, (k, j) => b[k * N + j]!, c0);
}
/** C[i,j] = Σ_k a[k,i]·b[k,j] (+ c0). */
export function refMatmulAtB(a: Float32Array, b: Float32Array, M: number, K: number, N: number, c0?: Float32Array): Float64Array {
  return gemm(M, K, N, (i, k) => a[k * M + i]!, (k, j) => b[k * N + j]!, c0);
}

export function refRmsNorm(x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
    const rms = Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i]! / rms) * w[i]!;
  }
  return y;
}

export function refLayerNorm(x: Float32Array, w: Float32Array, b: Float32Array, rows: number, dim: number, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i]! / dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i]! - mean) ** 2 / dim;
    for (let i = 0; i < dim; i++) y[r * dim + i] = ((x[r * dim + i]! - mean) / Math.sqrt(variance + eps)) * w[i]! + b[i]!;
  }
  return y;
}

/**
 * RoPE by the definition: each pair (u, v) becomes (u cos θ − v sin θ, v cos θ + u sin θ) with θ = pos · invFreq[i]
 * formed in float32 (HF computes the angle table in float32); cos and sin themselves in float64.
 */
export function refRope(x: Float32Array, rows: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, layout: 'half' | 'interleaved'): Float64Array {
  const y = Float64Array.from(x.subarray(0, rows * nHeads * headDim));
  const half = invFreq.length;
  for (let r = 0; r < rows; r++) for (let h = 0; h < nHeads; h++) {
    const base = (r * nHeads + h) * headDim;
    for (let i = 0; i < half; i++) {
      const theta = Math.fround(Math.fround(positions[r]!) * invFreq[i]!);
      const [p0, p1] = layout === 'half' ? [base + i, base + i + half] : [base + 2 * i, base + 2 * i + 1];
      const u = x[p0]!, v = x[p1]!;
      y[p0] = u * Math.cos(theta) - v * Math.sin(theta);
      y[p1] = v * Math.cos(theta) + u * Math.sin(theta);
    }
  }
  return y;
}

export function refSiluMul(gate: Float32Array, up: Float32Array, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) { const g = gate[i]!; y[i] = g * (1 / (1 + Math.exp(-g))) * up[i]!; }
  return y;
}

/** erf by the integral 2/√π ∫₀ˣ e^(−t²) dt (composite Simpson, 4000 panels: error far below 1e-10). */
export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.min(Math.abs(x), 7); // erf(7) = 1 − 4e-23: indistinguishable from 1 in float64
  const n = 4000, h = ax / n;
  let s = 1 + Math.exp(-ax * ax);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  const r = (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
  return x < 0 ? -r : r;
}

export function refGelu(x: Float32Array, n: number, kind: 'tanh' | 'erf'): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    y[i] = kind === 'tanh'
      ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))
      : 0.5 * v * (1 + refErf(v / Math.SQRT2));
  }
  return y;
}

export function refSoftmax(x: Float32Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const sum = e.reduce((s, v) => s + v, 0);
    for (let c = 0; c < cols; c++) y[r * cols + c] = e[c]! / sum;
  }
  return y;
}

export function refAdd(a: Float32Array, b: Float32Array, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => a[i]! + b[i]!);
}

export function refAddBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, (_, i) => x[i]! + bias[i % cols]!);
}

export interface RefAttention {
  out: Float64Array;
  /** Per KV head `[nQ, len]`: the mean over the group's heads. */
  probs: Float64Array[];
  /** Per query head `[nQ, len]`. */
  headProbs: Float64Array[];
}

/**
 * Causal attention of nQ chunk queries over per-KV-head caches whose last nQ rows are the chunk's own keys; with
 * firstRow (`[nKvHeads, nQ]`), query i of KV head h sees rows from firstRow[h·nQ + i] on (a sliding window).
 */
export function refAttention(q: Float32Array, nQ: number, nHeads: number, nKvHeads: number, headDim: number, keys: Float32Array[], values: Float32Array[], lens: Int32Array, scale: number, firstRow?: Int32Array): RefAttention {
  const group = nHeads / nKvHeads;
  const out = new Float64Array(nQ * nHeads * headDim);
  const probs = Array.from({ length: nKvHeads }, (_, kv) => new Float64Array(nQ * lens[kv]!));
  const headProbs = Array.from({ length: nHeads }, (_, h) => new Float64Array(nQ * lens[Math.floor(h / group)]!));
  for (let h = 0; h < nHeads; h++) {
    const kv = Math.floor(h / group), len = lens[kv]!;
    for (let i = 0; i < nQ; i++) {
      const lastVisible = len - nQ + i, first = firstRow ? firstRow[kv * nQ + i]! : 0;
      const s: number[] = [];
      for (let j = first; j <= lastVisible; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[(i * nHeads + h) * headDim + d]! * keys[kv]![j * headDim + d]!;
        s.push(dot * scale);
      }
      const m = Math.max(...s);
      const e = s.map((v) => Math.exp(v - m));
      const sum = e.reduce((acc, v) => acc + v, 0);
      for (let j = first; j <= lastVisible; j++) {
        const p = e[j - first]! / sum;
        probs[kv]![i * len + j]! += p / group;
        headProbs[h]![i * len + j] = p;
        for (let d = 0; d < headDim; d++) out[(i * nHeads + h) * headDim + d]! += p * values[kv]![j * headDim + d]!;
      }
    }
  }
  return { out, probs, headProbs };
}

/** x ≥ 0 rounded to the nearest bfloat16 (8 significant bits, ties to even), by arithmetic on its exponent. */
export function refRoundBf16(x: number): number {
  if (x === 0) return 0;
  let e = Math.max(-126, Math.floor(Math.log2(x)));
  if (e > -126 && 2 ** e > x) e--;
  if (2 ** (e + 1) <= x) e++;
  const ulp = 2 ** (e - 7), q = x / ulp, f = Math.floor(q), r = q - f;
  return (r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f) * ulp;
}

/** IEEE binary16 → float32 by re-biasing the exponent into float32 bits (subnormals scaled directly). */
export function refF16(bits: number): number {
  const sign = bits >> 15, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  if (exp === 0) return (sign ? -1 : 1) * frac * Math.pow(2, -24);
  const dv = new DataView(new ArrayBuffer(4));
  const exp32 = exp === 31 ? 0xff : exp - 15 + 127;
  dv.setUint32(0, ((sign << 31) | (exp32 << 23) | (frac << 13)) >>> 0);
  return dv.getFloat32(0);
}

/** bfloat16 → float32: the 16 bits are the high half of a float32. */
export function refBf16(bits: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, (bits << 16) >>> 0);
  return dv.getFloat32(0);
}

/** GGML Q8_0: blocks of [f16 scale (little-endian), 32 × int8]; value = scale · q. */
export function refQ8_0(src: Uint8Array, n: number): Float64Array {
  const y = new Float64Array(n);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0; b < n / 32; b++) {
    const d = refF16(dv.getUint16(b * 34, true));
    for (let i = 0; i < 32; i++) y[b * 32 + i] = d * dv.getInt8(b * 34 + 2 + i);
  }
  return y;
}
