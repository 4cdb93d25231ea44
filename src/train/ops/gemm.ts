/**
 * GEMMs for training: the Backend's float32 kernels (native or TypeScript) for real runs, and a plain float64
 * reference for the gradient checks, where every product must be exact to ~1e-15 so that finite differences of
 * the whole model are meaningful.
 */
import type { Backend } from '../../tensor/backend.js';
import type { Gemm, Vec } from './types.js';
import { attentionKernelsOf } from './attention-gemm.js';
import { rowKernelsOf } from './row-kernels.js';

function f32(v: Vec, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`backend GEMM: ${what} must be a Float32Array (float32 training)`);
  return v;
}

/** The Backend's GEMMs behind the `Gemm` interface (float32 only). */
export function backendGemm(be: Backend): Gemm {
  return {
    // The fused native training-attention kernels, when the backend has them (float32 calls only).
    ...attentionKernelsOf(be),
    ...rowKernelsOf(be),
    matmulABt: (a, b, c, M, K, N, acc) => be.matmulABt(f32(a, 'A'), f32(b, 'B'), f32(c, 'C'), M, K, N, acc),
    matmulAB: (a, b, c, M, K, N, acc) => be.matmulAB(f32(a, 'A'), f32(b, 'B'), f32(c, 'C'), M, K, N, acc),
    matmulAtB: (a, b, c, M, K, N, acc) => be.matmulAtB(f32(a, 'A'), f32(b, 'B'), f32(c, 'C'), M, K, N, acc),
  };
}

/** Straightforward triple loops in float64 (reference; used for gradient checks and small shapes). */
export const referenceGemm: Gemm = {
  matmulABt(a, b, c, M, K, N, acc = false) {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k]! * b[j * K + k]!;
      c[i * N + j] = (acc ? c[i * N + j]! : 0) + s;
    }
  },
  matmulAB(a, b, c, M, K, N, acc = false) {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k]! * b[k * N + j]!;
      c[i * N + j] = (acc ? c[i * N + j]! : 0) + s;
    }
  },
  matmulAtB(a, b, c, M, K, N, acc = false) {
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[k * M + i]! * b[k * N + j]!;
      c[i * N + j] = (acc ? c[i * N + j]! : 0) + s;
    }
  },
};
