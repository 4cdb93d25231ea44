/**
 * The native float64 symmetric eigendecomposition against its TypeScript twin (symmetricEigenInPlaceJs): the
 * native port performs the same operations in the same order, so eigenvalues and eigenvectors are bit-identical
 * (for every SIMD path and thread count); reconstruction B·D·Bᵀ ≈ C within 1e-9 relative on odd sizes; misuse.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { symmetricEigenInPlace, symmetricEigenInPlaceJs } from '../../src/evolve/eigen.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { Rng } from '../../src/util/rng.js';
import { simdPaths, skipNative } from './native-fixtures.js';

function randomSymmetric(n: number, seed: number): Float64Array {
  const rng = new Rng(seed), a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.float() * 2 - 1;
  return a;
}

/** max |Σ_r d_r z_ri z_rj − a_ij| / max |a_ij|. */
function reconstructionError(a: Float64Array, z: Float64Array, d: Float64Array, n: number): number {
  let err = 0, size = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += d[r]! * z[r * n + i]! * z[r * n + j]!;
      err = Math.max(err, Math.abs(s - a[i * n + j]!));
      size = Math.max(size, Math.abs(a[i * n + j]!));
    }
  }
  return err / (size || 1);
}

describe('native symmetric eigendecomposition', { skip: skipNative }, () => {
  for (const n of [1, 2, 17, 300]) {
    it(`n = ${n}: bit-identical to the TypeScript twin on every SIMD path and thread count; B·D·Bᵀ = C within 1e-9`, () => {
      const a = randomSymmetric(n, 100 + n);
      const zJs = a.slice(), dJs = new Float64Array(n);
      symmetricEigenInPlaceJs(zJs, n, dJs);
      for (const simd of simdPaths()) {
        for (const threads of [1, 3]) {
          const z = a.slice(), d = new Float64Array(n);
          new NativeBackend({ simd, threads }).symmetricEigen(z, n, d);
          assert.deepEqual(d, dJs, `${simd}, ${threads} thread(s): eigenvalues`);
          assert.deepEqual(z, zJs, `${simd}, ${threads} thread(s): eigenvectors`);
        }
      }
      for (let i = 1; i < n; i++) assert.ok(dJs[i - 1]! <= dJs[i]!, `eigenvalues ascending at ${i}`);
      if (n <= 17 || n === 300) {
        const err = reconstructionError(a, zJs, dJs, n);
        assert.ok(err < 1e-9, `reconstruction error ${err}`);
      }
    });
  }

  it('clustered spectrum (CMA-ES-like: near the identity) and a diagonal matrix', () => {
    const n = 65, rng = new Rng(9), a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) { for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = 1e-6 * (rng.float() - 0.5); a[i * n + i] = 1 + 1e-7 * i; }
    const diag = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diag[i * n + i] = (i * 37) % n - 20;
    for (const m of [a, diag]) {
      const z1 = m.slice(), d1 = new Float64Array(n), z2 = m.slice(), d2 = new Float64Array(n);
      symmetricEigenInPlaceJs(z1, n, d1);
      new NativeBackend().symmetricEigen(z2, n, d2);
      assert.deepEqual(d2, d1, 'eigenvalues identical');
      assert.deepEqual(z2, z1, 'eigenvectors identical');
      assert.ok(reconstructionError(m, z2, d2, n) < 1e-9, 'reconstruction');
    }
  });

  it('symmetricEigenInPlace (the routed entry) gives the twin’s result', () => {
    const n = 40, a = randomSymmetric(n, 7);
    const z1 = a.slice(), d1 = new Float64Array(n), z2 = a.slice(), d2 = new Float64Array(n);
    symmetricEigenInPlace(z1, n, d1);
    symmetricEigenInPlaceJs(z2, n, d2);
    assert.deepEqual(d1, d2, 'eigenvalues');
    assert.deepEqual(z1, z2, 'eigenvectors');
  });

  it('misuse throws RangeError/TypeError', () => {
    const be = new NativeBackend();
    assert.throws(() => be.symmetricEigen(new Float64Array(3), 2, new Float64Array(2)), RangeError, 'matrix too short');
    assert.throws(() => be.symmetricEigen(new Float64Array(4), 2, new Float64Array(1)), RangeError, 'values too short');
    assert.throws(() => be.symmetricEigen(new Float64Array(1), 0, new Float64Array(1)), /positive integer/, 'n = 0');
    assert.throws(() => be.symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2, new Float64Array(2)), /NaN/, 'NaN entry');
    assert.throws(() => be.symmetricEigen(new Float32Array(4) as unknown as Float64Array, 2, new Float64Array(2)), TypeError, 'float32 matrix');
  });
});
