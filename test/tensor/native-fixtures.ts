/**
 * Shared helpers of the native-*.test.ts files: loading the addon (a missing addon fails the tests unless
 * NAMM_SKIP_NATIVE=1 says it was deliberately not built), seeded inputs with guard tails, and the comparison
 * against the TypeScript twin.
 */
import assert from 'node:assert/strict';
import { NativeBackend, type SimdPath } from '../../src/tensor/native.js';
import { Rng } from '../../src/util/rng.js';

export const skipNative = process.env.NAMM_SKIP_NATIVE === '1' ? 'NAMM_SKIP_NATIVE=1: the addon was not built' : false;

/** SIMD paths this CPU can run (all of them are tested); empty when the addon is skipped. */
export function simdPaths(): SimdPath[] {
  return skipNative ? [] : NativeBackend.availableSimd();
}

/** Values past the logical end of every buffer: a kernel that writes out of bounds changes them. */
export const GUARD = 8;
export const GUARD_VALUE = -12345.5;

export function randomF32(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n + GUARD).fill(GUARD_VALUE);
  for (let i = 0; i < n; i++) a[i] = (rng.float() * 2 - 1) * scale;
  return a;
}

export function zerosF32(n: number): Float32Array {
  return new Float32Array(n + GUARD).fill(GUARD_VALUE).fill(0, 0, n);
}

export function assertGuardIntact(name: string, a: Float32Array, n: number): void {
  for (let i = n; i < a.length; i++) assert.equal(a[i], GUARD_VALUE, `${name}: element ${i} past the end (${n}) was written`);
}

/**
 * |got − want| ≤ rel·scale[i] + abs for every i < n, where scale[i] defaults to |want[i]|. GEMM passes Σ|a||b| as
 * the scale: float32 accumulation error is relative to the terms, not to a result that may cancel.
 */
export function assertClose(name: string, got: Float32Array, want: Float32Array, n: number, rel = 1e-5, abs = 1e-6, scale?: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(w)) {
      assert.ok(Number.isNaN(g), `${name}[${i}]: expected NaN, got ${g}`);
      continue;
    }
    if (!Number.isFinite(w)) {
      assert.equal(g, w, `${name}[${i}]`);
      continue;
    }
    const tol = rel * (scale ? scale[i]! : Math.abs(w)) + abs;
    if (!(Math.abs(g - w) <= tol)) assert.fail(`${name}[${i}]: native ${g} vs TypeScript ${w} (|diff| ${Math.abs(g - w)} > ${tol})`);
  }
}

/** Σ_k |A[i,k]|·|B[k,j]| in float64, for A[i,k] = a[i·rsA + k·csA] and B[k,j] = b[k·rsB + j·csB]. */
export function gemmAbsScale(a: Float32Array, b: Float32Array, M: number, K: number, N: number, rsA: number, csA: number, rsB: number, csB: number): Float64Array {
  const s = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let t = 0;
      for (let k = 0; k < K; k++) t += Math.abs(a[i * rsA + k * csA]! * b[k * rsB + j * csB]!);
      s[i * N + j] = t;
    }
  return s;
}
