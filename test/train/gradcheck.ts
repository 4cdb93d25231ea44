/**
 * Finite-difference gradient checking in float64.
 *
 * Central differences (f(x+h) − f(x−h)) / 2h with h = 1e-5: the truncation error is h²/6·|f'''| ≈ 2e-11 for the
 * O(1) third derivatives of these smooth ops (no ReLU, no max: the attention and cross-entropy maxima only shift
 * a softmax and cancel out), and the rounding error is ≈ ε·|f|/h ≈ 1e-16·|f|/1e-5 = 1e-11·|f|. A correct analytic
 * gradient therefore agrees to ~1e-9 absolute; we accept |analytic − numeric| ≤ 1e-6·max(|a|, |n|) + 1e-8, three
 * orders of magnitude of margin, while any real mistake (a missing term, a wrong index, a transposed layout)
 * produces errors of order 1e-2 or more of the gradient.
 */
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';

export const H = 1e-5, REL_TOL = 1e-6, ABS_TOL = 1e-8;

export function randomVec(rng: Rng, n: number, scale = 1): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return v;
}

/** Σ r_i·y_i: a random linear functional of an op's output, so that dL/dy = r. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Compares `analytic` with central differences of `loss()` with respect to every element of `x` (or the given
 * indices). `x` is perturbed in place and restored.
 */
export function checkGradient(name: string, loss: () => number, x: Float64Array, analytic: ArrayLike<number>, indices?: number[]): void {
  assert.equal(analytic.length, x.length, `${name}: gradient length`);
  let worst = 0, checked = 0;
  for (const i of indices ?? Array.from({ length: x.length }, (_, j) => j)) {
    const keep = x[i]!;
    x[i] = keep + H; const up = loss();
    x[i] = keep - H; const down = loss();
    x[i] = keep;
    const numeric = (up - down) / (2 * H), a = analytic[i]!;
    const err = Math.abs(a - numeric), bound = REL_TOL * Math.max(Math.abs(a), Math.abs(numeric)) + ABS_TOL;
    if (!(err <= bound)) assert.fail(`${name}[${i}]: analytic ${a} vs numeric ${numeric} (error ${err.toExponential(2)} > ${bound.toExponential(2)})`);
    worst = Math.max(worst, err / bound);
    checked++;
  }
  assert.ok(checked > 0, `${name}: nothing checked`);
}

/** Fails unless some entry of the gradient is clearly non-zero (a check of an all-zero gradient proves nothing). */
export function assertNonTrivial(name: string, g: ArrayLike<number>): void {
  let max = 0;
  for (let i = 0; i < g.length; i++) max = Math.max(max, Math.abs(g[i]!));
  assert.ok(max > 1e-4, `${name}: gradient is (nearly) all zero, max |g| = ${max}`);
}
