/**
 * RMSNorm (Llama) and LayerNorm (GPT-2) with the statistics the backward needs. Sums run in float64 (JS numbers),
 * as in the TypeScript backend, so the training forward matches the inference forward.
 */
import { allF32, type RowKernels, type Vec } from './types.js';

/**
 * out = x / √(mean(x²) + eps) · w, row-wise; saves rstd[r] = 1/√(mean(x²)+eps). Float32 calls with `kernels` (the
 * native backend's) run there, as do the backward's; these loops are their twins.
 */
export function rmsNormForward(out: Vec, rstd: Float64Array, x: Vec, w: Vec, rows: number, D: number, eps: number, kernels?: RowKernels): void {
  if (kernels && allF32(out, x, w)) return kernels.rmsNormTrain(out as Float32Array, rstd, x as Float32Array, w as Float32Array, rows, D, eps);
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let ss = 0;
    for (let i = 0; i < D; i++) { const v = x[o + i]!; ss += v * v; }
    const s = 1 / Math.sqrt(ss / D + eps);
    rstd[r] = s;
    for (let i = 0; i < D; i++) out[o + i] = x[o + i]! * s * w[i]!;
  }
}

/**
 * Backward of RMSNorm. With g = dy·w and s = rstd: dx = s·g − s³/D · x · Σ(g·x) (added into dx: the residual
 * stream already holds the gradient of the skip path), dw += Σ_rows dy · x · s.
 */
export function rmsNormBackward(dx: Vec, dw: Vec, dy: Vec, x: Vec, w: Vec, rstd: Float64Array, rows: number, D: number, kernels?: RowKernels): void {
  if (kernels && allF32(dx, dw, dy, x, w)) {
    const f = (v: Vec): Float32Array => v as Float32Array;
    return kernels.rmsNormBackward(f(dx), f(dw), f(dy), f(x), f(w), rstd, rows, D);
  }
  for (let r = 0; r < rows; r++) {
    const o = r * D, s = rstd[r]!;
    let dot = 0;
    for (let i = 0; i < D; i++) dot += dy[o + i]! * w[i]! * x[o + i]!;
    const c = (s * s * s * dot) / D;
    for (let i = 0; i < D; i++) {
      const xi = x[o + i]!, di = dy[o + i]!;
      dx[o + i] += s * di * w[i]! - c * xi;
      dw[i] += di * xi * s;
    }
  }
}

/** out = (x − μ)/√(var + eps) · w + b (biased variance); saves mean[r] and rstd[r]. */
export function layerNormForward(
  out: Vec, mean: Float64Array, rstd: Float64Array, x: Vec, w: Vec, b: Vec, rows: number, D: number, eps: number, kernels?: RowKernels,
): void {
  if (kernels && allF32(out, x, w, b)) {
    return kernels.layerNormTrain(out as Float32Array, mean, rstd, x as Float32Array, w as Float32Array, b as Float32Array, rows, D, eps);
  }
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let sum = 0;
    for (let i = 0; i < D; i++) sum += x[o + i]!;
    const mu = sum / D;
    let ss = 0;
    for (let i = 0; i < D; i++) { const d = x[o + i]! - mu; ss += d * d; }
    const s = 1 / Math.sqrt(ss / D + eps);
    mean[r] = mu; rstd[r] = s;
    for (let i = 0; i < D; i++) out[o + i] = (x[o + i]! - mu) * s * w[i]! + b[i]!;
  }
}

/**
 * Backward of LayerNorm. With x̂ = (x − μ)·s and g = dy·w: dx = s·(g − mean(g) − x̂·mean(g·x̂)) (added into dx),
 * dw += Σ dy·x̂, db += Σ dy.
 */
export function layerNormBackward(
  dx: Vec, dw: Vec, db: Vec, dy: Vec, x: Vec, w: Vec, mean: Float64Array, rstd: Float64Array, rows: number, D: number, kernels?: RowKernels,
): void {
  if (kernels && allF32(dx, dw, db, dy, x, w)) {
    const f = (v: Vec): Float32Array => v as Float32Array;
    return kernels.layerNormBackward(f(dx), f(dw), f(db), f(dy), f(x), f(w), mean, rstd, rows, D);
  }
  for (let r = 0; r < rows; r++) {
    const o = r * D, mu = mean[r]!, s = rstd[r]!;
    let gSum = 0, gxSum = 0;
    for (let i = 0; i < D; i++) {
      const g = dy[o + i]! * w[i]!, xh = (x[o + i]! - mu) * s;
      gSum += g; gxSum += g * xh;
    }
    const gMean = gSum / D, gxMean = gxSum / D;
    for (let i = 0; i < D; i++) {
      const di = dy[o + i]!, xh = (x[o + i]! - mu) * s;
      dx[o + i] += s * (di * w[i]! - gMean - xh * gxMean);
      dw[i] += di * xh;
      db[i] += di;
    }
  }
}
