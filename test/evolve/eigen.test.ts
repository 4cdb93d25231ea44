import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SYMMETRY_TOLERANCE, symmetricEigen, symmetricEigenInPlace, symmetricEigenInPlaceJs } from '../../src/evolve/eigen.js';
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

test('a non-symmetric matrix is refused, naming the first offending pair and both values', () => {
  const entryPoints: [string, (a: Float64Array, n: number) => unknown][] = [
    ['symmetricEigen', symmetricEigen],
    ['symmetricEigenInPlace', (a, n) => symmetricEigenInPlace(a, n, new Float64Array(n))],
    ['symmetricEigenInPlaceJs', (a, n) => symmetricEigenInPlaceJs(a, n, new Float64Array(n))],
  ];
  for (const [name, f] of entryPoints) {
    // Before, the lower triangle was decomposed and the upper one ignored: [[1, 2], [3, 4]] gave [[1, 3], [3, 4]]'s.
    assert.throws(() => f(Float64Array.from([1, 2, 3, 4]), 2),
      /^RangeError: symmetricEigen: the matrix is not symmetric: entry \(0, 1\) is 2 but entry \(1, 0\) is 3 \(difference 1, allowed 0\.000001 × max\|entry\| = 0\.000004\)$/, name);
    // The first pair in row-major order of the upper triangle, wherever it lies (here past the first 64×64 tile).
    const n = 70, a = randomSymmetric(n, new Rng(5));
    a[3 * n + 66] += 1; a[60 * n + 2] += 1; // pairs (3, 66) and (2, 60): (2, 60) comes first
    assert.throws(() => f(a.slice(), n), new RegExp(`entry \\(2, 60\\) is ${a[2 * n + 60]} but entry \\(60, 2\\) is ${a[60 * n + 2]}`), name);
    // An upper triangle of zeros (only the lower one filled) is not a symmetric matrix either.
    const lower = Float64Array.from([2, 0, 1, 3]);
    assert.throws(() => f(lower, 2), /entry \(0, 1\) is 0 but entry \(1, 0\) is 1/, name);
  }
});

test('rounding-level asymmetry (relative to the largest entry) is accepted; just above the tolerance is not', () => {
  const n = 6, rng = new Rng(11);
  const a = randomSymmetric(n, rng);
  for (let i = 0; i < n * n; i++) a[i] = a[i]! * 1e-8; // tolerance is relative: small matrices are judged at their scale
  let largest = 0;
  for (const x of a) largest = Math.max(largest, Math.abs(x));
  const b = a.slice();
  b[1 * n + 4] = b[1 * n + 4]! + 0.5 * SYMMETRY_TOLERANCE * largest;
  const exact = symmetricEigen(a, n), near = symmetricEigen(b, n);
  assert.deepEqual(near.values, exact.values); // the lower triangle is what is read
  const c = a.slice();
  c[1 * n + 4] = c[1 * n + 4]! + 2 * SYMMETRY_TOLERANCE * largest;
  assert.throws(() => symmetricEigen(c, n), /not symmetric: entry \(1, 4\)/);
  // Q·Λ·Qᵀ built without symmetrising carries asymmetry of a few ulps: accepted.
  const q = randomSymmetric(n, rng), m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += q[i * n + k]! * (k + 1) * q[j * n + k]!; m[i * n + j] = s; }
  assert.ok(symmetricEigen(m, n).values.length === n);
});

test('non-finite entries, wrong sizes and wrong types are refused before anything is written', () => {
  for (const [bad, what] of [[Infinity, 'Infinity'], [-Infinity, '-Infinity'], [Number.NaN, 'NaN']] as const) {
    const a = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    a[5] = bad; a[7] = bad;
    assert.throws(() => symmetricEigen(a, 3), new RegExp(`^RangeError: symmetricEigen: matrix entry 5 \\(row 1, column 2\\) is ${what}$`));
  }
  // Exactly n² entries: a 3×3 matrix passed with n = 2 was silently decomposed as the wrong 2×2 piece of it.
  assert.throws(() => symmetricEigen(new Float64Array(9), 2), /^RangeError: symmetricEigen: matrix has 9 entries, need 4 \(n × n with n = 2\)$/);
  assert.throws(() => symmetricEigenInPlace(new Float64Array(5), 2, new Float64Array(2)), /matrix has 5 entries, need 4/);
  assert.throws(() => symmetricEigen(new Float64Array(4), 1.5), /n must be a positive integer, got 1\.5/);
  assert.throws(() => symmetricEigen(new Float64Array(4), Number.NaN), /n must be a positive integer, got NaN/);
  assert.throws(() => symmetricEigen(new Float64Array(4), '2' as never), /n must be a positive integer, got "2"/);
  assert.throws(() => symmetricEigen([1, 0, 0, 1] as never, 2), (e: unknown) => e instanceof TypeError && /the matrix must be a Float64Array, got Array/.test((e as Error).message));
  assert.throws(() => symmetricEigen(new Float32Array(4) as never, 2), (e: unknown) => e instanceof TypeError && /got Float32Array/.test((e as Error).message));
  assert.throws(() => symmetricEigenInPlace(new Float64Array(4), 2, new Float32Array(2) as never), (e: unknown) => e instanceof TypeError && /values must be a Float64Array, got Float32Array/.test((e as Error).message));
  assert.throws(() => symmetricEigenInPlace(new Float64Array(4), 2, new Float64Array(1)), /values has 1 entries, need 2/);
  // The in-place form leaves both arrays untouched when it refuses.
  const a = Float64Array.from([1, 2, 3, 4]), values = Float64Array.from([7, 8]);
  assert.throws(() => symmetricEigenInPlace(a, 2, values), RangeError);
  assert.deepEqual(Array.from(a), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(values), [7, 8]);
});
