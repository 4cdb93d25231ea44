import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symmetricEigen } from '../../src/evolve/eigen.js';
import { Rng } from '../../src/util/rng.js';

function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) { const x = rng.normal(); a[i * n + j] = x; a[j * n + i] = x; }
  return a;
}

/** max_k ‖A v_k − λ_k v_k‖∞, max |v_iᵀv_j − δ_ij|, and whether the values ascend. */
function check(a: Float64Array, n: number): { residual: number; orthogonality: number; ascending: boolean; values: Float64Array } {
  const { values, vectors } = symmetricEigen(a, n);
  let residual = 0, orthogonality = 0, ascending = true;
  for (let k = 0; k < n; k++) {
    if (k > 0 && values[k]! < values[k - 1]!) ascending = false;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * vectors[k * n + j]!;
      residual = Math.max(residual, Math.abs(s - values[k]! * vectors[k * n + i]!));
    }
    for (let l = 0; l < n; l++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += vectors[k * n + j]! * vectors[l * n + j]!;
      orthogonality = Math.max(orthogonality, Math.abs(dot - (k === l ? 1 : 0)));
    }
  }
  return { residual, orthogonality, ascending, values };
}

test('eigenpairs of random symmetric matrices (odd and small sizes) satisfy A v = λ v, VᵀV = I', () => {
  const rng = new Rng(7);
  for (const n of [1, 2, 3, 5, 17, 64, 101]) {
    const a = randomSymmetric(n, rng);
    const r = check(a, n);
    assert.ok(r.residual < 1e-12 * n, `n=${n} residual ${r.residual}`);
    assert.ok(r.orthogonality < 1e-13 * n, `n=${n} orthogonality ${r.orthogonality}`);
    assert.ok(r.ascending, `n=${n} values not ascending`);
    let trace = 0, sum = 0;
    for (let i = 0; i < n; i++) { trace += a[i * n + i]!; sum += r.values[i]!; }
    assert.ok(Math.abs(trace - sum) < 1e-11 * n, `n=${n} trace ${trace} vs Σλ ${sum}`);
  }
});

test('2×2 matrix matches the closed form', () => {
  const [p, q, r] = [2, 0.5, -1];
  const mid = (p + r) / 2, rad = Math.hypot((p - r) / 2, q);
  const { values, vectors } = symmetricEigen(Float64Array.from([p, q, q, r]), 2);
  assert.ok(Math.abs(values[0]! - (mid - rad)) < 1e-15 && Math.abs(values[1]! - (mid + rad)) < 1e-15);
  // v1 ∝ (q, λ1 − p)
  const l1 = mid + rad, norm = Math.hypot(q, l1 - p);
  assert.ok(Math.abs(Math.abs(vectors[2]! * q / norm + vectors[3]! * (l1 - p) / norm) - 1) < 1e-14);
});

test('generation-0 CMA matrix I + 1e-6·11ᵀ: eigenvalues 1 (n−1 times) and 1 + n·1e-6 along 1/√n', () => {
  const n = 40;
  const a = new Float64Array(n * n).fill(1e-6);
  for (let i = 0; i < n; i++) a[i * n + i] = 1 + 1e-6;
  const r = check(a, n);
  assert.ok(r.residual < 1e-14 && r.orthogonality < 1e-13);
  for (let i = 0; i < n - 1; i++) assert.ok(Math.abs(r.values[i]! - 1) < 1e-14, `λ${i} = ${r.values[i]}`);
  assert.ok(Math.abs(r.values[n - 1]! - (1 + n * 1e-6)) < 1e-14);
  const { vectors } = symmetricEigen(a, n);
  for (let j = 0; j < n; j++) assert.ok(Math.abs(Math.abs(vectors[(n - 1) * n + j]!) - 1 / Math.sqrt(n)) < 1e-9);
});

test('matrix with prescribed spectrum Q·diag(λ)·Qᵀ gives back λ (wide range, repeated values)', () => {
  const n = 30, rng = new Rng(3);
  // Q from Gram–Schmidt of a random matrix.
  const q = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const v = Array.from({ length: n }, () => rng.normal());
    for (let l = 0; l < k; l++) { let d = 0; for (let j = 0; j < n; j++) d += v[j]! * q[l * n + j]!; for (let j = 0; j < n; j++) v[j] = v[j]! - d * q[l * n + j]!; }
    const norm = Math.hypot(...v);
    for (let j = 0; j < n; j++) q[k * n + j] = v[j]! / norm;
  }
  const lambda = Array.from({ length: n }, (_, i) => (i < 5 ? 2 : 10 ** (-3 + (6 * i) / n)));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += q[k * n + i]! * lambda[k]! * q[k * n + j]!; a[i * n + j] = s; }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j]!;
  const sorted = lambda.slice().sort((x, y) => x - y);
  const { values } = symmetricEigen(a, n);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(values[i]! - sorted[i]!) < 1e-12 * 1000, `λ${i}: ${values[i]} vs ${sorted[i]}`);
});

test('bad input gives clear errors', () => {
  assert.throws(() => symmetricEigen(new Float64Array(3), 2), /need 4/);
  assert.throws(() => symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2), /NaN/);
  assert.throws(() => symmetricEigen(new Float64Array(1), 0), /positive integer/);
});
