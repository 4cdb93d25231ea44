/**
 * Symmetric eigendecomposition in float64 for CMA-ES covariance matrices: Householder reduction to tridiagonal
 * form, explicit accumulation of the orthogonal factor, then implicit QL with Wilkinson shifts (the classic
 * tred2 + tql2 pair of EISPACK, restructured here so every inner loop runs over one contiguous row).
 *
 * Layout choices (all for cache-friendliness at n ≈ 4000, where the matrix is 139 MB):
 * - the reduction reads and updates only the lower triangle, so each step streams half the trailing matrix once
 *   for the symmetric mat-vec and once for the rank-2 update, both row by row;
 * - each Householder vector is parked in the (unused) upper part of its own row;
 * - the accumulated factor is transposed once, so the QL plane rotations combine two adjacent *rows* instead of
 *   two strided columns. The result therefore comes out with one eigenvector per row.
 *
 * Native route: `symmetricEigenInPlace` runs the native backend's float64 port of the same algorithm
 * (native/src/kernels_eigen.inc: multi-threaded, QL rotations applied in cache-sized column chunks) when the
 * default backend has it; the functions here are then its TypeScript twin (`symmetricEigenInPlaceJs`). The two
 * agree to rounding, not bit for bit; each is deterministic (the native one for any thread count).
 * `NAMM_BACKEND=js` keeps CMA-ES on this file.
 */
import { getBackend } from '../tensor/index.js';
import { refuseOverlap } from '../tensor/validate.js';

/** Largest number of QL iterations spent on one eigenvalue before giving up. */
const MAX_QL_ITERATIONS = 60;

/**
 * The input must be symmetric within this tolerance relative to its largest entry: |a_ij − a_ji| ≤ 1e-6 · max|a|.
 * Only the lower triangle is read, so a non-symmetric matrix would otherwise give the eigenpairs of another matrix.
 * (CMA-ES passes exactly symmetric matrices; products such as Q·Λ·Qᵀ carry rounding far below this.)
 */
export const SYMMETRY_TOLERANCE = 1e-6;

/** Result of `symmetricEigen`: ascending eigenvalues, and eigenvector i in row i of `vectors` (row-major n×n). */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * Eigendecomposition of the symmetric matrix `a` (row-major n×n, exactly n² finite entries, both triangles given
 * and symmetric within SYMMETRY_TOLERANCE; the lower one is read). Bad input throws a RangeError or TypeError.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  checkMatrix(a, n);
  const vectors = Float64Array.from(a);
  const values = new Float64Array(n);
  decomposeRouted(vectors, n, values);
  return { values, vectors };
}

/**
 * In-place form: `a` (row-major n×n, checked as in `symmetricEigen`; lower triangle read) is overwritten with the
 * eigenvectors, one per row, and `values` (at least n entries) receives the eigenvalues in ascending order, so that
 * A = Σ_i values[i] · a[i,:]ᵀ a[i,:]. Bad input throws before `a` or `values` is touched.
 */
export function symmetricEigenInPlace(a: Float64Array, n: number, values: Float64Array): void {
  checkInPlace(a, n, values);
  decomposeRouted(a, n, values);
}

/** The native kernel when the default backend has one, else `decompose`; the input is checked already. */
function decomposeRouted(a: Float64Array, n: number, values: Float64Array): void {
  const native = getBackend().symmetricEigen;
  if (native) native.call(getBackend(), a, n, values);
  else decompose(a, n, values);
}

/** The TypeScript implementation of `symmetricEigenInPlace`, whatever the backend (the native kernel's twin). */
export function symmetricEigenInPlaceJs(a: Float64Array, n: number, values: Float64Array): void {
  checkInPlace(a, n, values);
  decompose(a, n, values);
}

function checkInPlace(a: Float64Array, n: number, values: Float64Array): void {
  checkMatrix(a, n);
  if (!(values instanceof Float64Array)) throw new TypeError(`symmetricEigen: values must be a Float64Array, got ${kind(values)}`);
  if (values.length < n) throw new RangeError(`symmetricEigen: values has ${values.length} entries, need ${n}`);
  // As the native entry: the eigenvalues are written while the matrix (the eigenvectors) is still being transformed.
  refuseOverlap([['values', values, n]], [['a', a, n * n]], false, 'symmetricEigen: ');
}

/**
 * `a` must be a Float64Array of exactly n² finite entries, symmetric within SYMMETRY_TOLERANCE · max|a|. O(n²): one
 * row-major pass for finiteness and the largest entry, one pass in 64×64 tiles (cache-friendly at large n) comparing
 * each entry with its mirror; the first offending pair in row-major order is looked up only when one exists.
 */
function checkMatrix(a: Float64Array, n: number): void {
  if (!(a instanceof Float64Array)) throw new TypeError(`symmetricEigen: the matrix must be a Float64Array, got ${kind(a)}`);
  checkSquare(a, n);
  let largest = 0;
  for (let i = 0; i < n * n; i++) {
    const x = a[i]!;
    if (!Number.isFinite(x)) {
      throw new RangeError(`symmetricEigen: matrix entry ${i} (row ${Math.floor(i / n)}, column ${i % n}) is ${x}`);
    }
    const ax = Math.abs(x);
    if (ax > largest) largest = ax;
  }
  const tolerance = SYMMETRY_TOLERANCE * largest;
  if (isSymmetric(a, n, tolerance)) return;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const upper = a[i * n + j]!, lower = a[j * n + i]!;
      if (!(Math.abs(upper - lower) <= tolerance)) {
        throw new RangeError(
          `symmetricEigen: the matrix is not symmetric: entry (${i}, ${j}) is ${upper} but entry (${j}, ${i}) is ${lower} ` +
          `(difference ${Math.abs(upper - lower)}, allowed ${SYMMETRY_TOLERANCE} × max|entry| = ${tolerance})`,
        );
      }
    }
  }
}

function isSymmetric(a: Float64Array, n: number, tolerance: number): boolean {
  const tile = 64;
  for (let ib = 0; ib < n; ib += tile) {
    const iEnd = Math.min(ib + tile, n);
    for (let jb = 0; jb <= ib; jb += tile) {
      const jEnd = Math.min(jb + tile, n);
      for (let i = ib; i < iEnd; i++) {
        const top = jb === ib ? i : jEnd, row = i * n;
        for (let j = jb, mirror = jb * n + i; j < top; j++, mirror += n) {
          if (!(Math.abs(a[row + j]! - a[mirror]!) <= tolerance)) return false;
        }
      }
    }
  }
  return true;
}

function kind(x: unknown): string {
  return x === null ? 'null' : typeof x === 'object' ? (x as object).constructor?.name ?? 'an object' : typeof x;
}

function decompose(a: Float64Array, n: number, values: Float64Array): void {
  const offDiagonal = new Float64Array(n);
  const taus = tridiagonalise(a, n, values, offDiagonal);
  accumulateReflectors(a, n, taus);
  transposeInPlace(a, n);
  implicitQl(values, offDiagonal, a, n);
  sortAscending(values, a, n);
}

function checkSquare(a: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`symmetricEigen: n must be a positive integer, got ${typeof n === 'string' ? JSON.stringify(n) : String(n)}`);
  // Exactly n²: a longer array (another size's matrix) would be decomposed as a wrong n×n piece of it.
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: matrix has ${a.length} entries, need ${n * n} (n × n with n = ${n})`);
}

/**
 * Reduces A to T = Qᵀ A Q (diagonal → d, subdiagonal e[k] = T[k+1,k]), with Q = H_0 ⋯ H_{n−3},
 * H_k = I − τ_k v_k v_kᵀ acting on indices k+1..n−1. v_k is stored in a[k, k+1..n−1]; τ_k is returned.
 */
function tridiagonalise(a: Float64Array, n: number, d: Float64Array, e: Float64Array): Float64Array {
  const taus = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const start = k + 1;
    // x = column k below the diagonal (= row k right of it, by symmetry), scaled against under/overflow.
    let scale = 0;
    for (let i = start; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + k]!));
    d[k] = a[k * n + k]!;
    if (scale === 0) { e[k] = 0; taus[k] = 0; continue; }
    let norm2 = 0;
    for (let i = start; i < n; i++) { const x = a[i * n + k]! / scale; v[i] = x; norm2 += x * x; }
    const norm = Math.sqrt(norm2);
    const alpha = v[start]! > 0 ? -norm : norm; // the sign that avoids cancellation in v0 − alpha
    v[start] = v[start]! - alpha;
    const tau = 2 / (norm2 - 2 * alpha * (v[start]! + alpha) + alpha * alpha);
    // (vᵀv = ‖x‖² − 2·alpha·x0 + alpha², with x0 = v0 + alpha.)
    e[k] = alpha * scale;
    taus[k] = tau;

    // p = τ·A22·v from the lower triangle: row i gives the dot for p_i and an axpy into p_0..p_{i−1}.
    p.fill(0, start, n);
    for (let i = start; i < n; i++) {
      const row = i * n;
      const vi = v[i]!;
      let dot = 0;
      for (let j = start; j < i; j++) {
        const aij = a[row + j]!;
        dot += aij * v[j]!;
        p[j] = p[j]! + aij * vi;
      }
      p[i] = p[i]! + dot + a[row + i]! * vi;
    }
    let pv = 0;
    for (let i = start; i < n; i++) { p[i] = p[i]! * tau; pv += p[i]! * v[i]!; }
    const half = 0.5 * tau * pv;
    for (let i = start; i < n; i++) p[i] = p[i]! - half * v[i]!; // p now holds w
    // A22 −= v wᵀ + w vᵀ on the lower triangle.
    for (let i = start; i < n; i++) {
      const row = i * n;
      const vi = v[i]!, wi = p[i]!;
      for (let j = start; j <= i; j++) a[row + j] = a[row + j]! - vi * p[j]! - wi * v[j]!;
    }
    for (let j = start; j < n; j++) a[k * n + j] = v[j]!;
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 1) * n + n - 2]!;
  }
  d[n - 1] = a[(n - 1) * n + n - 1]!;
  e[n - 1] = 0;
  return taus;
}

/** Overwrites `a` with Q = H_0 ⋯ H_{n−3}, applying the reflectors from the last to the first (row operations). */
function accumulateReflectors(a: Float64Array, n: number, taus: Float64Array): void {
  const w = new Float64Array(n);
  a[(n - 1) * n + n - 1] = 1;
  for (let k = n - 3; k >= 0; k--) {
    const start = k + 1;
    // Region rows/columns ≥ k+1 must hold diag(1, Q_previous): reset row and column k+1.
    const r1 = start * n;
    for (let j = start; j < n; j++) a[r1 + j] = 0;
    a[r1 + start] = 1;
    for (let i = start + 1; i < n; i++) a[i * n + start] = 0;
    const tau = taus[k]!;
    if (tau === 0) continue;
    const vRow = k * n;
    // wᵀ = τ vᵀ Q_region, then Q_region −= v wᵀ.
    w.fill(0, start, n);
    for (let i = start; i < n; i++) {
      const c = tau * a[vRow + i]!;
      if (c === 0) continue;
      const row = i * n;
      for (let j = start; j < n; j++) w[j] = w[j]! + c * a[row + j]!;
    }
    for (let i = start; i < n; i++) {
      const vi = a[vRow + i]!;
      if (vi === 0) continue;
      const row = i * n;
      for (let j = start; j < n; j++) a[row + j] = a[row + j]! - vi * w[j]!;
    }
  }
  // Index 0 is untouched by every reflector.
  for (let j = 1; j < n; j++) { a[j] = 0; a[j * n] = 0; }
  a[0] = 1;
}

function transposeInPlace(a: Float64Array, n: number): void {
  const tile = 64;
  for (let ib = 0; ib < n; ib += tile) {
    for (let jb = ib; jb < n; jb += tile) {
      const iEnd = Math.min(ib + tile, n), jEnd = Math.min(jb + tile, n);
      for (let i = ib; i < iEnd; i++) {
        for (let j = jb === ib ? i + 1 : jb; j < jEnd; j++) {
          const t = a[i * n + j]!; a[i * n + j] = a[j * n + i]!; a[j * n + i] = t;
        }
      }
    }
  }
}

/**
 * Implicit QL with Wilkinson shifts on the tridiagonal (d, e), rotating the rows of `z` (row i = basis vector of
 * index i) so that on return row i is the eigenvector of d[i].
 */
function implicitQl(d: Float64Array, e: Float64Array, z: Float64Array, n: number): void {
  const eps = Number.EPSILON;
  let shiftSum = 0;
  let largest = 0;
  for (let l = 0; l < n; l++) {
    largest = Math.max(largest, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > eps * largest) m++;
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > MAX_QL_ITERATIONS) {
          throw new Error(`symmetricEigen: QL iteration did not converge for eigenvalue ${l} of ${n}`);
        }
        // Wilkinson-type shift from the leading 2×2 block.
        const g0 = d[l]!;
        let p = (d[l + 1]! - g0) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        const shift = g0 - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - shift;
        shiftSum += shift;

        // One implicit QL sweep from m−1 down to l, chasing the bulge with plane rotations.
        p = d[m]!;
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1]!;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2; c2 = c; s2 = s;
          const g = c * e[i]!;
          const h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          rotateRows(z, i * n, (i + 1) * n, n, c, s);
        }
        p = -s * s2 * c3 * el1 * e[l]! / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * largest);
    }
    d[l] = d[l]! + shiftSum;
    e[l] = 0;
  }
}

/** (row_i, row_{i+1}) ← (c·row_i − s·row_{i+1}, s·row_i + c·row_{i+1}). */
function rotateRows(z: Float64Array, rowI: number, rowNext: number, n: number, c: number, s: number): void {
  for (let k = 0; k < n; k++) {
    const zi = z[rowI + k]!, zn = z[rowNext + k]!;
    z[rowNext + k] = s * zi + c * zn;
    z[rowI + k] = c * zi - s * zn;
  }
}

/** Selection sort of the eigenvalues, swapping whole rows of eigenvectors along (O(n²) in all). */
function sortAscending(d: Float64Array, z: Float64Array, n: number): void {
  for (let i = 0; i < n - 1; i++) {
    let best = i;
    for (let j = i + 1; j < n; j++) if (d[j]! < d[best]!) best = j;
    if (best === i) continue;
    const t = d[i]!; d[i] = d[best]!; d[best] = t;
    const ri = i * n, rb = best * n;
    for (let k = 0; k < n; k++) { const x = z[ri + k]!; z[ri + k] = z[rb + k]!; z[rb + k] = x; }
  }
}
