/**
 * Shared types of the training ops. Every op is written over `Vec` so that the same code runs in float32 for
 * training and in float64 for the finite-difference gradient checks of the tests.
 */
export type Vec = Float32Array | Float64Array;

/** The three GEMM layouts of the Backend, over either precision. Accumulate = add into C instead of overwriting. */
export interface Gemm {
  /** C[M,N] (+)= A[M,K] · B[N,K]ᵀ */
  matmulABt(a: Vec, b: Vec, c: Vec, M: number, K: number, N: number, accumulate?: boolean): void;
  /** C[M,N] (+)= A[M,K] · B[K,N] */
  matmulAB(a: Vec, b: Vec, c: Vec, M: number, K: number, N: number, accumulate?: boolean): void;
  /** C[M,N] (+)= A[K,M]ᵀ · B[K,N] */
  matmulAtB(a: Vec, b: Vec, c: Vec, M: number, K: number, N: number, accumulate?: boolean): void;
}

export type Precision = 'f32' | 'f64';

export function allocVec(precision: Precision, n: number): Vec {
  return precision === 'f32' ? new Float32Array(n) : new Float64Array(n);
}
