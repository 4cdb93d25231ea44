/**
 * Softmax cross-entropy over the vocabulary, fused with its backward: the logits buffer is overwritten with
 * dLoss/dlogits, so a `[T, V]` buffer is held once. Rows whose target is `IGNORE` (−1) add no loss and get a zero
 * gradient: that is how samples train on the answer tokens only.
 */
import type { RowKernels, Vec } from './types.js';

export const IGNORE = -1;

export interface LossSum {
  /** Σ over counted rows of −log p(target). */
  sum: number;
  /** Rows counted (targets ≠ IGNORE). */
  count: number;
}

/**
 * For each row t with target y ≠ IGNORE: loss += −log softmax(logits[t])[y] and logits[t] := gradScale·(p − onehot(y));
 * ignored rows become 0. `gradScale` is usually 1 / (target tokens in the whole optimizer step). With `kernels`
 * (the native backend's) float32 logits go to its fused kernel; this loop is its twin.
 */
export function crossEntropyForwardBackward(logits: Vec, targets: Int32Array, T: number, V: number, gradScale: number, kernels?: RowKernels): LossSum {
  if (kernels && logits instanceof Float32Array) {
    const rowLoss = new Float64Array(T);
    kernels.crossEntropy(logits, targets, T, V, gradScale, rowLoss);
    let sum = 0, count = 0;
    for (let t = 0; t < T; t++) if (targets[t] !== IGNORE) { sum += rowLoss[t]!; count++; }
    return { sum, count };
  }
  let sum = 0, count = 0;
  for (let t = 0; t < T; t++) {
    const o = t * V, y = targets[t]!;
    if (y === IGNORE) { logits.fill(0, o, o + V); continue; }
    if (!(y >= 0 && y < V)) throw new RangeError(`target ${y} at row ${t} is outside the vocabulary (0..${V - 1}) and is not IGNORE (−1)`);
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j]! > max) max = logits[o + j]!;
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[o + j]! - max);
    const logZ = max + Math.log(z);
    sum += logZ - logits[o + y]!;
    count++;
    for (let j = 0; j < V; j++) logits[o + j] = gradScale * Math.exp(logits[o + j]! - logZ);
    logits[o + y] -= gradScale;
  }
  return { sum, count };
}

/** The loss only (no gradient), for evaluation and for the finite-difference checks. */
export function crossEntropyLoss(logits: Vec, targets: Int32Array, T: number, V: number): LossSum {
  let sum = 0, count = 0;
  for (let t = 0; t < T; t++) {
    const o = t * V, y = targets[t]!;
    if (y === IGNORE) continue;
    if (!(y >= 0 && y < V)) throw new RangeError(`target ${y} at row ${t} is outside the vocabulary (0..${V - 1}) and is not IGNORE (−1)`);
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j]! > max) max = logits[o + j]!;
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[o + j]! - max);
    sum += max + Math.log(z) - logits[o + y]!;
    count++;
  }
  return { sum, count };
}
