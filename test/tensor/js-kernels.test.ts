/**
 * The TypeScript backend against float64 references written from the formulas (test/helpers/kernel-reference.ts)
 * and against values worked out by hand. The TS backend accumulates in float64 and rounds once on store, so its
 * outputs sit within a few float32 ulps of the reference: the tolerance here is 2e-6 (scale-relative, see
 * test/helpers/compare.ts), far tighter than the 1e-4 native-vs-TS contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsBackend, erf, halfToFloat } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { skipNative } from './native-fixtures.js';
import type { AttentionArgs } from '../../src/tensor/backend.js';
import { Rng } from '../../src/util/rng.js';
import { randomF32, randomQ8_0, randomU16, uniformF32 } from '../helpers/random-arrays.js';
import { assertClose, assertSameBits } from '../helpers/compare.js';
import {
  refAdd, refAddBias, refAttention, refBf16, refErf, refRoundBf16, refF16, refGelu, refLayerNorm, refMatmulAB, refMatmulABt,
  refMatmulAtB, refQ8_0, refRmsNorm, refRope, refSiluMul, refSoftmax,
} from '../helpers/kernel-reference.js';

const js = new JsBackend();
const TOL = 2e-6;
const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);

// ---------------------------------------------------------------- GEMM

type Layout = 'matmulABt' | 'matmulAB' | 'matmulAtB';
const refs = { matmulABt: refMatmulABt, matmulAB: refMatmulAB, matmulAtB: refMatmulAtB };
const layouts: Layout[] = ['matmulABt', 'matmulAB', 'matmulAtB'];

test('GEMM: a 2×3 by 3×2 product worked by hand, in all three layouts', () => {
  // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]] (K×N): A·B = [[58,64],[139,154]].
  const A = f32([1, 2, 3, 4, 5, 6]), B = f32([7, 8, 9, 10, 11, 12]);
  const At = f32([1, 4, 2, 5, 3, 6]), Bt = f32([7, 9, 11, 8, 10, 12]);
  const want = [58, 64, 139, 154];
  const c = new Float32Array(4);
  js.matmulAB(A, B, c, 2, 3, 2); assert.deepEqual(Array.from(c), want);
  js.matmulABt(A, Bt, c, 2, 3, 2); assert.deepEqual(Array.from(c), want);
  js.matmulAtB(At, B, c, 2, 3, 2); assert.deepEqual(Array.from(c), want);
  js.matmulAtB(At, B, c, 2, 3, 2, true); assert.deepEqual(Array.from(c), want.map((v) => 2 * v));
});

test('GEMM: every layout matches the float64 reference on odd, tile-edge and decode shapes, with and without accumulate', () => {
  const rng = new Rng('gemm-shapes');
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 7, 5], [1, 64, 130], [2, 9, 3], [3, 5, 7], [4, 4, 4], [5, 3, 9], [7, 13, 11], [8, 1, 8],
    [17, 33, 65], [4, 70, 67], [33, 16, 129], [65, 31, 4], [6, 2, 200],
  ];
  for (const layout of layouts) {
    for (const [M, K, N] of shapes) {
      const a = randomF32(rng, M * K), b = randomF32(rng, K * N), c0 = randomF32(rng, M * N);
      const c = new Float32Array(M * N).fill(Number.NaN); // garbage that a plain (non-accumulating) call must ignore
      js[layout](a, b, c, M, K, N);
      assertClose(c, refs[layout](a, b, M, K, N), TOL, `${layout} ${M}×${K}×${N}`);
      const acc = new Float32Array(c0);
      js[layout](a, b, acc, M, K, N, true);
      assertClose(acc, refs[layout](a, b, M, K, N, c0), TOL, `${layout} accumulate ${M}×${K}×${N}`);
    }
  }
});

test('GEMM: zero sizes do nothing, K = 0 gives zeros (or leaves C when accumulating), extra buffer space is untouched', () => {
  for (const layout of layouts) {
    const c = f32([1, 2, 3, 4, 5, 6, 99]);
    js[layout](new Float32Array(0), new Float32Array(0), c, 0, 0, 0);
    js[layout](new Float32Array(0), new Float32Array(12), c, 0, 4, 3);
    js[layout](new Float32Array(12), new Float32Array(0), c, 3, 4, 0);
    assert.deepEqual(Array.from(c), [1, 2, 3, 4, 5, 6, 99], `${layout}: empty products write nothing`);
    js[layout](new Float32Array(0), new Float32Array(0), c, 2, 0, 3, true);
    assert.deepEqual(Array.from(c), [1, 2, 3, 4, 5, 6, 99], `${layout}: K = 0 accumulates nothing`);
    js[layout](new Float32Array(0), new Float32Array(0), c, 2, 0, 3);
    assert.deepEqual(Array.from(c), [0, 0, 0, 0, 0, 0, 99], `${layout}: K = 0 is an all-zero product`);
  }
});

test('GEMM: one large prefill-like case per layout matches the reference', () => {
  const rng = new Rng('gemm-large');
  const [M, K, N] = [37, 300, 131];
  for (const layout of layouts) {
    const a = randomF32(rng, M * K), b = randomF32(rng, K * N), c = new Float32Array(M * N);
    js[layout](a, b, c, M, K, N);
    assertClose(c, refs[layout](a, b, M, K, N), TOL, layout);
  }
});

test('GEMM: shapes that cross the packed cache blocks and tile edges match the reference and write nothing past C', () => {
  // The packed path blocks A by ⌊65536 / K⌋ rows and B by ⌊32768 / K⌋ columns (rounded to 4): K = 1024 gives
  // blocks of 64 rows × 32 columns, K = 3000 blocks of 20 × 8, so these shapes have several blocks per operand,
  // a ragged last block, and tiles that overhang the edge of C. M ≥ 4 keeps them on the packed path.
  const rng = new Rng('gemm-blocks');
  const shapes: [number, number, number][] = [
    [130, 1024, 70], [45, 3000, 19], [4, 1, 1], [9, 1, 1], [6, 5, 1], [4, 1, 9], [5, 2, 5], [69, 257, 35],
  ];
  for (const layout of layouts) {
    for (const [M, K, N] of shapes) {
      const a = randomF32(rng, M * K), b = randomF32(rng, K * N), c0 = randomF32(rng, M * N);
      const c = new Float32Array(M * N + 5).fill(Number.NaN);
      c.fill(7, M * N);
      js[layout](a, b, c, M, K, N);
      assertClose(c, refs[layout](a, b, M, K, N), TOL, `${layout} ${M}×${K}×${N}`);
      assert.deepEqual(Array.from(c.subarray(M * N)), [7, 7, 7, 7, 7], `${layout} ${M}×${K}×${N}: past the end of C`);
      const acc = new Float32Array(M * N + 5);
      acc.set(c0); acc.fill(7, M * N);
      js[layout](a, b, acc, M, K, N, true);
      assertClose(acc, refs[layout](a, b, M, K, N, c0), TOL, `${layout} accumulate ${M}×${K}×${N}`);
      assert.deepEqual(Array.from(acc.subarray(M * N)), [7, 7, 7, 7, 7], `${layout} accumulate ${M}×${K}×${N}: past the end of C`);
    }
  }
});

test('GEMM: the reused packing workspace carries nothing from one call to the next', () => {
  const rng = new Rng('gemm-reuse');
  const big = { M: 64, K: 700, N: 48 }, small = { M: 5, K: 3, N: 6 };
  for (const layout of layouts) {
    const runs = [big, small, big, small].map(({ M, K, N }) => ({ M, K, N, a: randomF32(rng, M * K), b: randomF32(rng, K * N) }));
    for (const { M, K, N, a, b } of runs) {
      const c = new Float32Array(M * N);
      js[layout](a, b, c, M, K, N);
      assertClose(c, refs[layout](a, b, M, K, N), TOL, `${layout} ${M}×${K}×${N} after another shape`);
    }
  }
});

test('GEMM: an infinite row of A in an overhanging edge tile gives an infinite row of C and nothing else', () => {
  // M = N = 5: one full 4×4 tile plus tiles that overhang C (computed on padding, stored only in part). Row 4 of A
  // is +∞ in every k, so C row 4 is +∞ (B > 0) and every other row is finite.
  const [M, K, N] = [5, 3, 5];
  for (const layout of layouts) {
    const A = new Float32Array(M * K), B = new Float32Array(K * N).fill(0.5);
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
      const v = i === 4 ? Infinity : i + 1;
      A[layout === 'matmulAtB' ? k * M + i : i * K + k] = v;
    }
    const c = new Float32Array(M * N);
    js[layout](A, B, c, M, K, N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      assert.equal(c[i * N + j], i === 4 ? Infinity : 1.5 * (i + 1), `${layout} C[${i},${j}]`);
    }
  }
});

test('GEMM: NaN and infinity propagate as in the plain sum', () => {
  for (const layout of layouts) {
    // 1×2 · 2×1 with B holding ∞: 0·∞ is NaN, 1·∞ is ∞.
    const c = new Float32Array(1);
    js[layout](f32([0, 1]), f32([Infinity, 1]), c, 1, 2, 1); assert.ok(Number.isNaN(c[0]), `${layout}: 0·∞ is NaN`);
    js[layout](f32([1, 1]), f32([Infinity, 1]), c, 1, 2, 1); assert.equal(c[0], Infinity, `${layout}: 1·∞ is ∞`);
    // The same on the packed path (M = 4): rows [0,1], [1,1], [0,1], [1,1] of A against B = [∞, 1]ᵀ.
    const A = layout === 'matmulAtB' ? f32([0, 1, 0, 1, 1, 1, 1, 1]) : f32([0, 1, 1, 1, 0, 1, 1, 1]);
    const c4 = new Float32Array(4);
    js[layout](A, f32([Infinity, 1]), c4, 4, 2, 1);
    assert.ok(Number.isNaN(c4[0]) && Number.isNaN(c4[2]), `${layout}: 0·∞ is NaN on the packed path`);
    assert.ok(c4[1] === Infinity && c4[3] === Infinity, `${layout}: 1·∞ is ∞ on the packed path`);
  }
});

test('GEMM: misuse throws TypeError or RangeError naming the problem', () => {
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  for (const layout of layouts) {
    assert.throws(() => js[layout](new Float64Array(6) as unknown as Float32Array, b, c, 2, 3, 2), TypeError);
    assert.throws(() => js[layout](a, [1, 2] as unknown as Float32Array, c, 2, 3, 2), TypeError);
    assert.throws(() => js[layout](a, b, c, 2, 3, 3), /b holds 6 values but 9 are needed/);
    assert.throws(() => js[layout](a, b, new Float32Array(3), 2, 3, 2), RangeError);
    assert.throws(() => js[layout](a, b, c, -1, 3, 2), /M must be a non-negative integer/);
    assert.throws(() => js[layout](a, b, c, 2, 1.5, 2), RangeError);
    assert.throws(() => js[layout](a, b, c, 2, Number.NaN, 2), RangeError);
    assert.throws(() => js[layout](a, b, c, 2, 3, Infinity), RangeError);
    assert.throws(() => js[layout](a, b, c, '2' as unknown as number, 3, 2), RangeError);
  }
});

// ---------------------------------------------------------------- norms

test('rmsNorm and layerNorm: hand-computed rows', () => {
  const out = new Float32Array(2);
  // x = [3, 4]: mean square 12.5, so each value is divided by √12.5.
  js.rmsNorm(out, f32([3, 4]), f32([1, 2]), 1, 2, 0);
  assertClose(out, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)], TOL);
  // x = [1, 2, 3]: mean 2, biased variance 2/3 → ∓√1.5, 0; then ·w + b.
  const ln = new Float32Array(3);
  js.layerNorm(ln, f32([1, 2, 3]), f32([1, 1, 2]), f32([0, 5, 1]), 1, 3, 0);
  assertClose(ln, [-Math.sqrt(1.5), 5, 2 * Math.sqrt(1.5) + 1], TOL);
});

test('rmsNorm and layerNorm: random rows against the reference, odd dims, one row, in place, empty', () => {
  const rng = new Rng('norms');
  for (const [rows, dim] of [[1, 1], [1, 7], [3, 5], [9, 64], [2, 1001], [0, 8], [4, 0]] as const) {
    const x = randomF32(rng, rows * dim, 3), w = randomF32(rng, dim), b = randomF32(rng, dim);
    const eps = 1e-5;
    const out = new Float32Array(rows * dim);
    js.rmsNorm(out, x, w, rows, dim, eps);
    assertClose(out, refRmsNorm(x, w, rows, dim, eps), TOL, `rmsNorm ${rows}×${dim}`);
    const inPlace = new Float32Array(x);
    js.rmsNorm(inPlace, inPlace, w, rows, dim, eps);
    assertSameBits(inPlace, out, 'rmsNorm aliasing out = x');

    js.layerNorm(out, x, w, b, rows, dim, eps);
    assertClose(out, refLayerNorm(x, w, b, rows, dim, eps), TOL, `layerNorm ${rows}×${dim}`);
    const inPlace2 = new Float32Array(x);
    js.layerNorm(inPlace2, inPlace2, w, b, rows, dim, eps);
    assertSameBits(inPlace2, out, 'layerNorm aliasing out = x');
  }
});

test('layerNorm: a large common offset does not cancel the variance away', () => {
  // Values 1e4 + {−1, 0, 1}: the two-pass variance is exactly 2/3; a one-pass E[x²] − E[x]² would lose it.
  const out = new Float32Array(3);
  js.layerNorm(out, f32([9999, 10000, 10001]), f32([1, 1, 1]), f32([0, 0, 0]), 1, 3, 0);
  assertClose(out, [-Math.sqrt(1.5), 0, Math.sqrt(1.5)], TOL);
});

test('norms: misuse throws', () => {
  const x = new Float32Array(6), w = new Float32Array(3);
  assert.throws(() => js.rmsNorm(new Float32Array(5), x, w, 2, 3, 1e-5), /out holds 5 values but 6/);
  assert.throws(() => js.rmsNorm(x, x, new Float32Array(2), 2, 3, 1e-5), /weight/);
  assert.throws(() => js.rmsNorm(x, x, w, 2, 3, Number.NaN), /eps must be finite/);
  assert.throws(() => js.layerNorm(x, x, w, undefined as unknown as Float32Array, 2, 3, 1e-5), TypeError);
  assert.throws(() => js.layerNorm(x, x, w, w, 2, -3, 1e-5), RangeError);
});

// ---------------------------------------------------------------- RoPE

test('RoPE: a known vector at position 1, both layouts, worked by hand', () => {
  // headDim 4, invFreq [1, 0.5] → angles 1 and 0.5 at position 1.
  const c1 = Math.cos(1), s1 = Math.sin(1), c5 = Math.cos(0.5), s5 = Math.sin(0.5);
  const pos = Int32Array.of(1), inv = f32([1, 0.5]);
  // 'half' pairs (0,2) at angle 1 and (1,3) at angle 0.5.
  const h = f32([1, 2, 3, 4]);
  js.rope(h, 1, 1, 4, pos, inv, 'half');
  assertClose(h, [1 * c1 - 3 * s1, 2 * c5 - 4 * s5, 3 * c1 + 1 * s1, 4 * c5 + 2 * s5], TOL, 'half');
  // Numerically: cos 1 = 0.5403023058681398, sin 1 = 0.8414709848078965.
  assertClose(h.subarray(0, 1), [-1.9841106485555497], TOL, 'half, element 0 as a literal');
  // 'interleaved' pairs (0,1) at angle 1 and (2,3) at angle 0.5.
  const il = f32([1, 2, 3, 4]);
  js.rope(il, 1, 1, 4, pos, inv, 'interleaved');
  assertClose(il, [1 * c1 - 2 * s1, 2 * c1 + 1 * s1, 3 * c5 - 4 * s5, 4 * c5 + 3 * s5], TOL, 'interleaved');
  assertClose(il.subarray(0, 1), [-1.1426396637476532], TOL, 'interleaved, element 0 as a literal');
});

test('RoPE: position 0 is the identity; rotation preserves each pair’s length', () => {
  const rng = new Rng('rope-id');
  const x = randomF32(rng, 2 * 3 * 8), y = new Float32Array(x);
  js.rope(y, 2, 3, 8, Int32Array.of(0, 0), uniformF32(rng, 4, 0, 1), 'half');
  assertSameBits(y, x, 'position 0');
  const z = new Float32Array(x);
  js.rope(z, 2, 3, 8, Int32Array.of(5, 1000), uniformF32(rng, 4, 0, 1), 'interleaved');
  for (let p = 0; p < x.length; p += 2) {
    assert.ok(Math.abs(Math.hypot(z[p]!, z[p + 1]!) - Math.hypot(x[p]!, x[p + 1]!)) < 1e-5 * (1 + Math.hypot(x[p]!, x[p + 1]!)), `pair ${p} changed length`);
  }
});

test('RoPE: partial rotary (rotaryDim < headDim via a shorter invFreq) leaves the tail dims alone', () => {
  // headDim 6, invFreq [1]: rotaryDim 2. 'half' pairs (0, 1); 'interleaved' pairs (0, 1) too; dims 2..5 untouched.
  for (const layout of ['half', 'interleaved'] as const) {
    const x = f32([1, 2, 3, 4, 5, 6]);
    js.rope(x, 1, 1, 6, Int32Array.of(1), f32([1]), layout);
    assertClose(x, [Math.cos(1) - 2 * Math.sin(1), 2 * Math.cos(1) + Math.sin(1), 3, 4, 5, 6], TOL, layout);
  }
  // headDim 8, invFreq of 2 (rotaryDim 4), 'half': pairs (0,2) and (1,3), dims 4..7 untouched.
  const x = f32([1, 2, 3, 4, 5, 6, 7, 8]);
  js.rope(x, 1, 1, 8, Int32Array.of(2), f32([1, 0.25]), 'half');
  const c2 = Math.cos(2), s2 = Math.sin(2), cq = Math.cos(0.5), sq = Math.sin(0.5);
  assertClose(x, [c2 - 3 * s2, 2 * cq - 4 * sq, 3 * c2 + s2, 4 * cq + 2 * sq, 5, 6, 7, 8], TOL);
});

test('RoPE: random rows, heads and positions against the reference (float32 angles, large positions)', () => {
  const rng = new Rng('rope');
  for (const [rows, nHeads, headDim, half] of [[1, 1, 2, 1], [3, 2, 8, 4], [5, 3, 10, 3], [4, 4, 64, 32], [0, 2, 8, 4]] as const) {
    const invFreq = Float32Array.from({ length: half }, (_, i) => Math.pow(10000, (-2 * i) / (2 * half)));
    const positions = Int32Array.from({ length: rows }, () => rng.int(40000));
    for (const layout of ['half', 'interleaved'] as const) {
      const x = randomF32(rng, rows * nHeads * headDim), y = new Float32Array(x);
      js.rope(y, rows, nHeads, headDim, positions, invFreq, layout);
      assertClose(y, refRope(x, rows, nHeads, headDim, positions, invFreq, layout), TOL, `${layout} ${rows}×${nHeads}×${headDim}`);
    }
  }
});

test('RoPE: positions beyond 2^24 are rounded to float32 first, as HF’s float32 angle table does', () => {
  const a = f32([1, 2]), b = f32([1, 2]);
  // invFreq 3: (2^24 + 1)·3 would round to 50331652 in float32, but 2^24·3 = 50331648.
  js.rope(a, 1, 1, 2, Int32Array.of(2 ** 24 + 1), f32([3]), 'half');
  js.rope(b, 1, 1, 2, Int32Array.of(2 ** 24), f32([3]), 'half');
  assertSameBits(a, b, 'position 2^24 + 1 rotates like 2^24');
});

test('RoPE: misuse throws', () => {
  const x = new Float32Array(8);
  assert.throws(() => js.rope(x, 1, 1, 8, [1] as unknown as Int32Array, new Float32Array(4), 'half'), TypeError);
  assert.throws(() => js.rope(x, 2, 1, 8, Int32Array.of(1), new Float32Array(4), 'half'), RangeError);
  assert.throws(() => js.rope(x, 1, 1, 8, Int32Array.of(1), new Float32Array(5), 'half'), /more than headDim\/2/);
  assert.throws(() => js.rope(x, 1, 1, 8, Int32Array.of(1), new Float64Array(4) as unknown as Float32Array, 'half'), TypeError);
  assert.throws(() => js.rope(x, 1, 1, 8, Int32Array.of(1), new Float32Array(4), 'neox' as never), TypeError);
});

// ---------------------------------------------------------------- activations, softmax, elementwise

test('GELU at known points: erf form is x·Φ(x); tanh form is GPT-2’s approximation', () => {
  const x = f32([0, 1, -1, 2, -3, 0.5]);
  const out = new Float32Array(6);
  js.gelu(out, x, 6, 'erf');
  // Φ(1) = 0.8413447460685429, Φ(−1) = 0.15865525393145707, Φ(2) = 0.9772498680518208, Φ(−3) = 0.0013498980316301,
  // Φ(0.5) = 0.6914624612740131 (standard normal table values).
  assertClose(out, [0, 0.8413447460685429, -0.15865525393145707, 2 * 0.9772498680518208, -3 * 0.0013498980316301, 0.5 * 0.6914624612740131], TOL, 'erf');
  js.gelu(out, x, 6, 'tanh');
  // gelu_tanh(1) = 0.5·(1 + tanh(0.7978845608·1.044715)) = 0.8411919906082768.
  assertClose(out.subarray(1, 2), [0.8411919906082768], TOL, 'tanh at 1');
  assertClose(out, refGelu(x, 6, 'tanh'), TOL, 'tanh');
  // Far below 0, ½x(1 + tanh u) cancels to 0 in float64 (1 + tanh u below 2^−53); the value is x·e^(2u)/(1 + e^(2u)):
  // at −7, u = 0.7978845608·(−7 − 0.044715·343) = −17.822739…, so −7·e^(−35.645478…) = −2.31544e-15; at −8 it is
  // about −3.1078e-21, where the cancelling form read 0.
  const far = new Float32Array(2);
  js.gelu(far, f32([-7, -8]), 2, 'tanh');
  const u7 = Math.sqrt(2 / Math.PI) * (-7 - 0.044715 * 343);
  assert.ok(Math.abs(far[0]! / (-7 * Math.exp(2 * u7)) - 1) < 1e-6, `gelu_tanh(−7) = ${far[0]}`);
  assert.ok(far[1]! < -3.1e-21 && far[1]! > -3.11e-21, `gelu_tanh(−8) = ${far[1]}`);
});

test('erf: float64-accurate at tabulated points and symmetric', () => {
  const table: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [2, 0.9953222650189527], [2.5, 0.999593047982555], [3, 0.9999779095030014], [4, 0.9999999845827421]];
  for (const [x, want] of table) {
    assert.ok(Math.abs(erf(x) - want) < 1e-14, `erf(${x}) = ${erf(x)}, want ${want}`);
    assert.equal(erf(-x), -erf(x));
    assert.ok(Math.abs(refErf(x) - want) < 1e-10, `reference erf(${x})`);
  }
  assert.equal(erf(Infinity), 1); assert.equal(erf(-Infinity), -1); assert.ok(Number.isNaN(erf(Number.NaN)), 'erf(NaN) is NaN');
});

test('GELU, siluMul, add, addBias: random inputs against the reference, in place, empty', () => {
  const rng = new Rng('elementwise');
  for (const n of [0, 1, 7, 1000]) {
    const x = randomF32(rng, n, 3), y = randomF32(rng, n, 3);
    for (const kind of ['tanh', 'erf'] as const) {
      const out = new Float32Array(n);
      js.gelu(out, x, n, kind);
      assertClose(out, refGelu(x, n, kind), TOL, `gelu ${kind} n=${n}`);
      const inPlace = new Float32Array(x);
      js.gelu(inPlace, inPlace, n, kind);
      assertSameBits(inPlace, out, `gelu ${kind} in place`);
    }
    const s = new Float32Array(n);
    js.siluMul(s, x, y, n);
    assertClose(s, refSiluMul(x, y, n), TOL, `siluMul n=${n}`);
    const g = new Float32Array(x); js.siluMul(g, g, y, n); assertSameBits(g, s, 'siluMul out = gate');
    const u = new Float32Array(y); js.siluMul(u, x, u, n); assertSameBits(u, s, 'siluMul out = up');

    // A float32 sum is the exactly rounded sum: bit-equal to the float64 reference rounded once.
    const sum = new Float32Array(n);
    js.add(sum, x, y, n);
    assertSameBits(sum, Float32Array.from(refAdd(x, y, n)), `add n=${n}`);
    const a2 = new Float32Array(x); js.add(a2, a2, y, n); assertSameBits(a2, sum, 'add out = a');
  }
  for (const [rows, cols] of [[0, 3], [1, 1], [3, 5], [4, 0]] as const) {
    const x = randomF32(rng, rows * cols), bias = randomF32(rng, cols), y = new Float32Array(x);
    js.addBias(y, bias, rows, cols);
    assertSameBits(y, Float32Array.from(refAddBias(x, bias, rows, cols)), `addBias ${rows}×${cols}`);
  }
});

test('siluMul and GELU saturate cleanly at extreme inputs', () => {
  const out = new Float32Array(4);
  // silu(−∞) = −∞·sigmoid(−∞) = −∞·0 is NaN, as in PyTorch; finite extremes saturate to −0 and x.
  js.siluMul(out, f32([-1000, 1000, -Infinity, 0]), f32([1, 1, 1, 5]), 4);
  assert.deepEqual(Array.from(out), [-0, 1000, NaN, 0]);
  js.gelu(out, f32([-1000, 1000, 0, -0]), 4, 'erf');
  assert.deepEqual(Array.from(out), [-0, 1000, 0, -0]);
  js.gelu(out, f32([-100, 100, 0, 0]), 4, 'tanh');
  assert.deepEqual(Array.from(out), [-0, 100, 0, 0]);
});

test('softmax: hand values, stability at large logits, random rows, empty, all −∞ is NaN', () => {
  const x = f32([1, 2, 3, 1000, 1000, -1000]);
  js.softmax(x, 2, 3);
  // e^(−2), e^(−1), 1 over their sum; then two equal maxima share the mass.
  assertClose(x.subarray(0, 3), [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], TOL);
  assert.deepEqual(Array.from(x.subarray(3)), [0.5, 0.5, 0]);
  const rng = new Rng('softmax');
  for (const [rows, cols] of [[1, 1], [3, 17], [2, 1000], [0, 4], [3, 0]] as const) {
    const y = randomF32(rng, rows * cols, 5), z = new Float32Array(y);
    js.softmax(z, rows, cols);
    assertClose(z, refSoftmax(y, rows, cols), TOL, `softmax ${rows}×${cols}`);
  }
  const ninf = f32([-Infinity, -Infinity]);
  js.softmax(ninf, 1, 2);
  assert.ok(Number.isNaN(ninf[0]) && Number.isNaN(ninf[1]), `all −∞ row gave ${ninf}`);
});

test('elementwise kernels: misuse throws', () => {
  const x = new Float32Array(4);
  assert.throws(() => js.gelu(x, x, 4, 'relu' as never), TypeError);
  assert.throws(() => js.gelu(x, x, 5, 'tanh'), RangeError);
  assert.throws(() => js.siluMul(x, x, new Float32Array(3), 4), /up holds 3/);
  assert.throws(() => js.add(x, x, x, -1), RangeError);
  assert.throws(() => js.addBias(x, new Float32Array(1), 2, 2), /bias/);
  assert.throws(() => js.softmax(new Int32Array(4) as unknown as Float32Array, 2, 2), TypeError);
  assert.throws(() => js.softmax(x, 2, 2.5), RangeError);
});

// ---------------------------------------------------------------- attention

function attentionCase(rng: Rng, nQ: number, nHeads: number, nKvHeads: number, headDim: number, lens: number[], withProbs: boolean): AttentionArgs {
  return {
    q: randomF32(rng, nQ * nHeads * headDim), nQ, nHeads, nKvHeads, headDim,
    keys: lens.map((l) => randomF32(rng, l * headDim)), values: lens.map((l) => randomF32(rng, l * headDim)),
    lens: Int32Array.from(lens), scale: 1 / Math.sqrt(Math.max(1, headDim)),
    out: new Float32Array(nQ * nHeads * headDim).fill(Number.NaN),
    probs: withProbs ? lens.map((l) => new Float32Array(nQ * l).fill(7)) : undefined,
  };
}

test('attention: hand-computed two-key cache, causal within the chunk', () => {
  // headDim 1, keys [1, 2], values [10, 20], q = [1, 1], scale 1, both keys are the chunk's own (nQ = 2).
  const args: AttentionArgs = {
    q: f32([1, 1]), nQ: 2, nHeads: 1, nKvHeads: 1, headDim: 1, keys: [f32([1, 2])], values: [f32([10, 20])],
    lens: Int32Array.of(2), scale: 1, out: new Float32Array(2), probs: [new Float32Array(4).fill(9)],
  };
  js.attention(args);
  // Query 0 sees key 0 only; query 1 sees both with weights softmax([1, 2]) = [0.2689414213699951, 0.7310585786300049].
  assertClose(args.out, [10, 10 * 0.2689414213699951 + 20 * 0.7310585786300049], TOL);
  assertClose(args.probs![0]!, [1, 0, 0.2689414213699951, 0.7310585786300049], TOL);
});

test('attention: random GQA caches against the reference (ragged lens, odd headDim, probs averaged and zeroed)', () => {
  const rng = new Rng('attention');
  const cases: [number, number, number, number, number[]][] = [
    [1, 1, 1, 1, [1]], [1, 4, 2, 8, [9, 1]], [3, 6, 3, 5, [3, 10, 7]], [4, 8, 2, 16, [40, 4]],
    [5, 4, 4, 7, [5, 6, 50, 9]], [2, 3, 1, 3, [2]], [16, 4, 1, 64, [300]], [0, 2, 1, 4, [5]],
  ];
  for (const [nQ, nHeads, nKv, headDim, lens] of cases) {
    const args = attentionCase(rng, nQ, nHeads, nKv, headDim, lens, true);
    js.attention(args);
    const ref = refAttention(args.q, nQ, nHeads, nKv, headDim, args.keys, args.values, args.lens, args.scale);
    const tag = `nQ=${nQ} heads=${nHeads}/${nKv} d=${headDim} lens=${lens}`;
    assertClose(args.out, ref.out, TOL, `out ${tag}`);
    for (let h = 0; h < nKv; h++) assertClose(args.probs![h]!, ref.probs[h]!, TOL, `probs[${h}] ${tag}`);
    // Without probs the output is the same.
    const noProbs = { ...args, out: new Float32Array(args.out.length), probs: undefined };
    js.attention(noProbs);
    assertSameBits(noProbs.out, args.out, `out without probs ${tag}`);
  }
});

/**
 * First rows as a sliding window of `window` positions gives them (query i at position past + i, one row per
 * position), or, with window 0, drawn at random within each query's horizon (not monotone).
 */
function firstRows(rng: Rng, nQ: number, lens: readonly number[], window: number): Int32Array {
  const f = new Int32Array(lens.length * nQ);
  lens.forEach((len, h) => {
    for (let i = 0; i < nQ; i++) {
      const last = len - nQ + i;
      f[h * nQ + i] = window > 0 ? Math.max(0, last - window + 1) : rng.int(last + 1);
    }
  });
  return f;
}

test('attention: firstRow (a sliding window) against the reference, probs zero before it, misuse refused', () => {
  const rng = new Rng('attention-window');
  const cases: [number, number, number, number, number[], number][] = [
    [1, 1, 1, 4, [9], 3], [3, 6, 3, 5, [3, 10, 7], 2], [4, 8, 2, 16, [40, 4], 1], [16, 4, 1, 8, [300], 5],
    [5, 4, 4, 7, [5, 6, 50, 9], 0], [40, 4, 2, 8, [100, 60], 0], [40, 4, 2, 8, [100, 60], 7],
  ];
  for (const [nQ, nHeads, nKv, headDim, lens, window] of cases) {
    const firstRow = firstRows(rng, nQ, lens, window);
    const args = { ...attentionCase(rng, nQ, nHeads, nKv, headDim, lens, true), firstRow };
    js.attention(args);
    const ref = refAttention(args.q, nQ, nHeads, nKv, headDim, args.keys, args.values, args.lens, args.scale, firstRow);
    const tag = `nQ=${nQ} heads=${nHeads}/${nKv} d=${headDim} lens=${lens} window=${window || 'random'}`;
    assertClose(args.out, ref.out, TOL, `out ${tag}`);
    for (let h = 0; h < nKv; h++) {
      assertClose(args.probs![h]!, ref.probs[h]!, TOL, `probs[${h}] ${tag}`);
      for (let i = 0; i < nQ; i++) {
        for (let j = 0; j < firstRow[h * nQ + i]!; j++) assert.equal(args.probs![h]![i * lens[h]! + j], 0, `probs[${h}][${i}, ${j}] before the first row ${tag}`);
      }
    }
  }
  // Every first row 0 is the plain causal attention, bit for bit.
  const plain = attentionCase(rng, 5, 4, 2, 8, [9, 30], true), zero = { ...plain, out: new Float32Array(plain.out.length), probs: [new Float32Array(45), new Float32Array(150)], firstRow: new Int32Array(10) };
  js.attention(plain); js.attention(zero);
  assertSameBits(zero.out, plain.out, 'out with firstRow all 0');
  // A non-finite value before a query's first row does not reach its output (as past its horizon).
  const inf = { ...attentionCase(rng, 4, 2, 1, 4, [12], false), firstRow: Int32Array.of(2, 3, 3, 4) };
  inf.values[0]!.fill(Number.POSITIVE_INFINITY, 0, 8);
  js.attention(inf);
  assert.ok(inf.out.every(Number.isFinite), `out ${inf.out}`);
  const bad = (firstRow: unknown) => () => js.attention({ ...attentionCase(rng, 2, 2, 1, 4, [5], false), firstRow: firstRow as Int32Array });
  assert.throws(bad(Int32Array.of(0, 5)), { name: 'RangeError', message: /firstRow\[1\] = 5 \(KV head 0, query 1\) must be within 0\.\.4/ });
  assert.throws(bad(Int32Array.of(-1, 0)), { name: 'RangeError', message: /firstRow\[0\] = -1/ });
  assert.throws(bad(Int32Array.of(0)), RangeError);
  assert.throws(bad([0, 0]), { name: 'TypeError', message: /firstRow must be an Int32Array/ });
});

test('attention: probsBf16 rounds each head to bfloat16, then the group mean (as a bf16 model)', () => {
  const rng = new Rng('attention-bf16');
  for (const [nQ, nHeads, nKv, headDim, lens] of [[3, 4, 2, 8, [9, 5]], [5, 12, 4, 6, [6, 70, 9, 5]], [1, 8, 1, 16, [40]]] as const) {
    const args = { ...attentionCase(rng, nQ, nHeads, nKv, headDim, [...lens], true), probsBf16: true };
    js.attention(args);
    const ref = refAttention(args.q, nQ, nHeads, nKv, headDim, args.keys, args.values, args.lens, args.scale);
    const group = nHeads / nKv, bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
    for (let kv = 0; kv < nKv; kv++) {
      const len = lens[kv]!, P = args.probs![kv]!;
      for (let x = 0; x < nQ * len; x++) {
        let sum = 0;
        for (let g = 0; g < group; g++) sum += refRoundBf16(Math.fround(ref.headProbs[kv * group + g]![x]!));
        const want = refRoundBf16(Math.fround(sum / group)), got = P[x]!;
        f[0] = got;
        assert.equal(bits[0]! & 0xffff, 0, `probs[${kv}][${x}] = ${got} is not a bfloat16 value`);
        // float32 and float64 probabilities can straddle a rounding boundary: one bf16 step at most.
        assert.ok(Math.abs(got - want) <= want * 2 ** -7 + 1e-38, `probs[${kv}][${x}]: ${got} vs ${want}`);
      }
    }
    // The output itself does not change.
    const plain = { ...args, out: new Float32Array(args.out.length), probs: undefined, probsBf16: false };
    js.attention(plain);
    assertSameBits(plain.out, args.out, 'out with and without probsBf16');
  }
  assert.throws(() => js.attention({ ...attentionCase(rng, 1, 1, 1, 1, [1], true), probsBf16: 1 as never }), /probsBf16 must be a boolean/);
});

test('attention: probs rows sum to 1 over the visible keys and beyond them are exactly 0', () => {
  const rng = new Rng('attention-probs');
  const args = attentionCase(rng, 3, 4, 2, 4, [6, 3], true);
  js.attention(args);
  for (let h = 0; h < 2; h++) {
    const len = args.lens[h]!, P = args.probs![h]!;
    for (let i = 0; i < 3; i++) {
      const visible = len - 3 + i + 1;
      let s = 0;
      for (let j = 0; j < len; j++) { if (j < visible) s += P[i * len + j]!; else assert.equal(P[i * len + j], 0, `probs[${h}][${i}, ${j}] is masked`); }
      assert.ok(Math.abs(s - 1) < 1e-6, `probs[${h}] row ${i} sums to ${s}`);
    }
  }
});

test('attention: an infinite or NaN value row reaches only the queries that see it (0·∞ is not added for a masked key), as on the native backend', () => {
  const rng = new Rng('attention-inf');
  // 70 queries × 3 heads per KV head: row blocks of 64 rows whose first queries do not see the block's last keys.
  for (const bad of [Number.POSITIVE_INFINITY, Number.NaN]) {
    const args = attentionCase(rng, 70, 6, 2, 4, [75, 70], false);
    const clean = { ...args, values: args.values.map((v) => new Float32Array(v)), out: new Float32Array(args.out.length) };
    js.attention(clean);
    const badKey = [75 - 70 + 40, 50];  // query 40 of KV head 0 and query 50 of KV head 1 are the first to see them
    args.values.forEach((v, h) => v.fill(bad, badKey[h]! * 4, badKey[h]! * 4 + 4));
    js.attention(args);
    for (let i = 0; i < 70; i++) {
      for (let h = 0; h < 6; h++) {
        const kv = Math.floor(h / 3), sees = i >= (kv === 0 ? 40 : 50);
        const o = (i * 6 + h) * 4, got = Array.from(args.out.subarray(o, o + 4));
        if (sees) assert.ok(got.every((x) => !Number.isFinite(x)), `query ${i} head ${h} sees the bad row: ${got}`);
        else assert.deepEqual(got, Array.from(clean.out.subarray(o, o + 4)), `query ${i} head ${h} does not see it`);
      }
    }
    if (!skipNative) {
      const native = { ...args, out: new Float32Array(args.out.length) };
      new NativeBackend().attention(native);
      for (let x = 0; x < args.out.length; x++) assert.equal(Number.isFinite(native.out[x]!), Number.isFinite(args.out[x]!), `out[${x}] on both backends`);
    }
  }
});

test('attention: out may share memory with q', () => {
  const rng = new Rng('attention-alias');
  const args = attentionCase(rng, 3, 4, 2, 6, [5, 8], false);
  js.attention(args);
  const q = new Float32Array(args.q);
  js.attention({ ...args, q, out: q });
  assertSameBits(q, args.out, 'out = q');
});

test('attention: misuse throws', () => {
  const rng = new Rng('attention-misuse');
  const ok = (): AttentionArgs => attentionCase(rng, 2, 4, 2, 4, [3, 5], true);
  js.attention(ok());
  assert.throws(() => js.attention({ ...ok(), lens: Int32Array.of(1, 5) }), /lens\[0\] = 1 is smaller than the chunk/);
  assert.throws(() => js.attention({ ...ok(), nKvHeads: 3 }), /multiple of nKvHeads/);
  assert.throws(() => js.attention({ ...ok(), nKvHeads: 0 }), RangeError);
  assert.throws(() => js.attention({ ...ok(), nHeads: 0 }), RangeError);
  assert.throws(() => js.attention({ ...ok(), lens: [3, 5] as unknown as Int32Array }), TypeError);
  assert.throws(() => js.attention({ ...ok(), keys: [new Float32Array(12)] }), RangeError);
  assert.throws(() => js.attention({ ...ok(), values: [new Float32Array(12), new Float32Array(19)] }), /values\[1\] holds 19/);
  assert.throws(() => js.attention({ ...ok(), probs: [new Float32Array(6), new Float32Array(9)] }), /probs\[1\]/);
  assert.throws(() => js.attention({ ...ok(), scale: Number.NaN }), /scale must be finite/);
  assert.throws(() => js.attention({ ...ok(), q: new Float32Array(31) }), /q holds 31/);
  assert.throws(() => js.attention({ ...ok(), headDim: -4 }), RangeError);
  assert.throws(() => js.attention(null as unknown as AttentionArgs), TypeError);
});

// ---------------------------------------------------------------- conversions

test('f16: special values decode exactly (subnormals, ±0, ±∞, NaN, max, one third)', () => {
  const bits = Uint16Array.of(0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8001);
  const want = [0, -0, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, -2, 65504, Infinity, -Infinity, NaN, 0.333251953125, -(2 ** -24)];
  const out = new Float32Array(bits.length);
  js.f16ToF32(bits, out, bits.length);
  for (let i = 0; i < want.length; i++) assert.ok(Object.is(out[i], want[i]), `0x${bits[i]!.toString(16)} → ${out[i]}, want ${want[i]}`);
  for (let i = 0; i < want.length; i++) assert.ok(Object.is(halfToFloat(bits[i]!), want[i]), `halfToFloat(0x${bits[i]!.toString(16)})`);
});

test('f16 and bf16: every 16-bit pattern matches the bit-level reference', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const out = new Float32Array(65536), want = new Float32Array(65536);
  js.f16ToF32(all, out, 65536);
  for (let i = 0; i < 65536; i++) want[i] = refF16(i);
  for (let i = 0; i < 65536; i++) assert.ok(Object.is(out[i], want[i]) || (Number.isNaN(out[i]) && Number.isNaN(want[i])), `f16 0x${i.toString(16)}`);
  js.bf16ToF32(all, out, 65536);
  for (let i = 0; i < 65536; i++) want[i] = refBf16(i);
  assertSameBits(out, want, 'bf16 (bit-exact, NaN payloads included)');
});

test('bf16: hand values and a partial count', () => {
  const out = new Float32Array(7).fill(42);
  js.bf16ToF32(Uint16Array.of(0x3f80, 0xc000, 0x7f80, 0xff80, 0x8000, 0x0001, 0x3f80), out, 6);
  assert.deepEqual(Array.from(out), [1, -2, Infinity, -Infinity, -0, 2 ** -133, 42]);
  assert.ok(Object.is(out[4], -0), 'bf16 0x8000 is −0');
});

test('Q8_0: a block built by hand, then random blocks against the reference', () => {
  // Scale 0x3800 = 0.5; quants 0, 1, −1, 127, −128, then 2·k for the rest.
  const block = new Uint8Array(34);
  block[0] = 0x00; block[1] = 0x38;
  const q = [0, 1, -1, 127, -128, ...Array.from({ length: 27 }, (_, k) => 2 * k - 26)];
  q.forEach((v, i) => { block[2 + i] = v & 0xff; });
  const out = new Float32Array(32);
  js.q8_0ToF32(block, out, 32);
  assert.deepEqual(Array.from(out), q.map((v) => v * 0.5));
  const rng = new Rng('q8');
  const src = randomQ8_0(rng, 5), dst = new Float32Array(160);
  js.q8_0ToF32(src, dst, 160);
  assertClose(dst, refQ8_0(src, 160), 0, 'random Q8_0');
  js.q8_0ToF32(new Uint8Array(0), new Float32Array(0), 0);
});

test('conversions: random half patterns against the reference, misuse throws', () => {
  const rng = new Rng('conv');
  const src = randomU16(rng, 33), out = new Float32Array(33);
  js.f16ToF32(src, out, 33);
  for (let i = 0; i < 33; i++) assert.ok(Object.is(out[i], Math.fround(refF16(src[i]!))) || (Number.isNaN(out[i]) && Number.isNaN(refF16(src[i]!))), `f16 0x${src[i]!.toString(16)}`);
  assert.throws(() => js.f16ToF32(new Int16Array(4) as unknown as Uint16Array, out, 4), TypeError);
  assert.throws(() => js.bf16ToF32(src, new Float32Array(3), 4), /dst holds 3/);
  assert.throws(() => js.q8_0ToF32(new Uint8Array(34), new Float32Array(32), 31), /multiple of 32/);
  assert.throws(() => js.q8_0ToF32(new Uint8Array(33), new Float32Array(32), 32), /src holds 33 values but 34/);
  assert.throws(() => js.q8_0ToF32(new Int8Array(34) as unknown as Uint8Array, new Float32Array(32), 32), TypeError);
});

test('JsBackend.threads takes what the native backend takes (1 … 256), and a bad count is shown by its kind, not joined into the message', () => {
  const b = new JsBackend();
  for (const bad of [0, -1, 257, 1000, 1.5, Number.NaN, '2' as unknown as number]) {
    assert.throws(() => { b.threads = bad; }, /^RangeError: threads must be an integer from 1 to 256$/, String(bad));
  }
  assert.equal(b.threads, 1);
  b.threads = 256;
  assert.equal(b.threads, 256);
  if (!skipNative) {
    const n = new NativeBackend();
    for (const bad of [0, 257, 1.5]) assert.throws(() => { n.threads = bad; }, /^RangeError: threads must be an integer from 1 to 256$/);
  }
  // A 4M-value array passed as a count made an 80-million-character message; a detached one threw a TypeError
  // about join() instead.
  const x = new Float32Array(8);
  assert.throws(() => b.softmax(x, new Float32Array(1 << 22) as unknown as number, 4), /^RangeError: rows must be a non-negative integer, got an object$/);
  const detached = new Float32Array(8);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  assert.throws(() => b.softmax(x, detached as unknown as number, 4), /^RangeError: rows must be a non-negative integer, got an object$/);
  assert.throws(() => b.softmax(x, 'x' as unknown as number, 4), /got a string$/);
  assert.throws(() => b.softmax(x, -2, 4), /got -2$/);
});
