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
  /** The backend's row kernels for the element-wise parts of a step, when it has them (see row-kernels.ts). */
  rows?: RowKernels;
}

/**
 * Native kernels for the element-wise and row parts of a training step (the Backend's optional methods of the
 * same names, bound). The ops in cross-entropy.ts, activation.ts and norm.ts hand float32 calls to them and are
 * their TypeScript twins otherwise (float64 gradient checks, the TypeScript backend).
 */
export interface RowKernels {
  crossEntropy(logits: Float32Array, targets: Int32Array, T: number, V: number, gradScale: number, rowLoss: Float64Array): void;
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  siluMulBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  gelu(out: Float32Array, x: Float32Array, n: number, kind: 'tanh' | 'erf'): void;
  geluTanhBackward(dx: Float32Array, dout: Float32Array, x: Float32Array, n: number): void;
  rmsNormTrain(out: Float32Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  rmsNormBackward(
    dx: Float32Array, dw: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array, rstd: Float64Array, rows: number, dim: number,
  ): void;
  layerNormTrain(
    out: Float32Array, mean: Float64Array, rstd: Float64Array, x: Float32Array, weight: Float32Array, bias: Float32Array, rows: number, dim: number, eps: number,
  ): void;
  layerNormBackward(
    dx: Float32Array, dw: Float32Array, db: Float32Array, dy: Float32Array, x: Float32Array, weight: Float32Array,
    mean: Float64Array, rstd: Float64Array, rows: number, dim: number,
  ): void;
}

/** True when every array is float32 (the row kernels' precision). */
export function allF32(...vs: Vec[]): boolean {
  return vs.every((v) => v instanceof Float32Array);
}

export type Precision = 'f32' | 'f64';

export function allocVec(precision: Precision, n: number): Vec {
  return precision === 'f32' ? new Float32Array(n) : new Float64Array(n);
}
