/** Linear layer `y = x · Wᵀ + b` with W in the HF `[out, in]` layout, and its backward. */
import type { Gemm, Vec } from './types.js';

/** y[M,N] = x[M,K] · W[N,K]ᵀ (+ b[N]). */
export function linearForward(g: Gemm, y: Vec, x: Vec, w: Vec, b: Vec | null, M: number, K: number, N: number): void {
  g.matmulABt(x, w, y, M, K, N, false);
  if (b) for (let i = 0; i < M; i++) { const o = i * N; for (let j = 0; j < N; j++) y[o + j] += b[j]!; }
}

/**
 * Backward of `linearForward`: dW += dYᵀ·X and db += Σ_rows dY (weight gradients always accumulate, across the
 * micro-batches of a step); dX = dY·W, added into dx when `accumulateDx` (several branches feed one input).
 */
export function linearBackward(
  g: Gemm, dx: Vec | null, dw: Vec, db: Vec | null, dy: Vec, x: Vec, w: Vec, M: number, K: number, N: number, accumulateDx: boolean,
): void {
  g.matmulAtB(dy, x, dw, N, M, K, true);
  if (db) for (let i = 0; i < M; i++) { const o = i * N; for (let j = 0; j < N; j++) db[j] += dy[o + j]!; }
  if (dx) g.matmulAB(dy, w, dx, M, N, K, accumulateDx);
}
