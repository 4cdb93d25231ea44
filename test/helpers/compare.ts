/**
 * Comparison of a kernel's float32 output against a reference.
 *
 * Criterion (scale-relative, per element): with rms = √(mean eᵢ²) of the expected values,
 *   errᵢ = |aᵢ − eᵢ| / (|eᵢ| + rms + 1e-30), and the check passes when maxᵢ errᵢ ≤ tol.
 * Large elements are held to a relative bound; elements near zero (a dot product that cancels, a softmax tail)
 * are held to the same bound relative to the vector's typical magnitude, which is the scale their rounding
 * error actually has. Non-finite expected values must be matched exactly (NaN by NaN, ±∞ by the same ∞).
 */
import assert from 'node:assert/strict';

export interface Mismatch { index: number; actual: number; expected: number; err: number }

/** The worst scale-relative error and where it occurs (index −1 when the arrays agree everywhere). */
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, n = expected.length): Mismatch {
  let ss = 0, finite = 0;
  for (let i = 0; i < n; i++) { const e = expected[i]!; if (Number.isFinite(e)) { ss += e * e; finite++; } }
  const rms = finite ? Math.sqrt(ss / finite) : 0;
  let worst: Mismatch = { index: -1, actual: 0, expected: 0, err: 0 };
  for (let i = 0; i < n; i++) {
    const a = actual[i]!, e = expected[i]!;
    let err: number;
    if (Number.isNaN(e)) err = Number.isNaN(a) ? 0 : Infinity;
    else if (!Number.isFinite(e)) err = a === e ? 0 : Infinity;
    else if (!Number.isFinite(a)) err = Infinity;
    else err = Math.abs(a - e) / (Math.abs(e) + rms + 1e-30);
    if (err > worst.err || (worst.index < 0 && err > 0)) worst = { index: i, actual: a, expected: e, err };
  }
  return worst;
}

/** Asserts agreement within `tol` by the criterion above, naming the first-worst element on failure. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values', n = expected.length): void {
  assert.ok(actual.length >= n, `${what}: output holds ${actual.length} values, ${n} expected`);
  const w = worstError(actual, expected, n);
  assert.ok(w.err <= tol, `${what}: element ${w.index} is ${w.actual}, expected ${w.expected} (scale-relative error ${w.err.toExponential(2)} > ${tol})`);
}

/**
 * Bitwise equality of two float32 arrays (−0 included). NaN payloads are compared too unless `anyNaN` is set:
 * a JavaScript number cannot carry a payload into a Float32Array, so kernels that produce NaN arithmetically
 * (rather than by moving bits) only promise some NaN.
 */
export function assertSameBits(actual: Float32Array, expected: Float32Array, what = 'values', anyNaN = false): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === e[i] || (anyNaN && Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) continue;
    assert.fail(`${what}: element ${i} has bits 0x${a[i]!.toString(16)}, expected 0x${e[i]!.toString(16)} (${actual[i]} vs ${expected[i]})`);
  }
}
