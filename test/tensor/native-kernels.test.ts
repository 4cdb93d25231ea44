/**
 * Every native kernel against its TypeScript twin (src/tensor/js.ts), on every SIMD path this CPU has and with
 * 1 and 2 threads: odd sizes, one row, empty (0) and large shapes; buffers carry guard tails that must survive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsBackend, erf } from '../../src/tensor/js.js';
import { NativeBackend, type SimdPath } from '../../src/tensor/native.js';
import type { AttentionArgs } from '../../src/tensor/backend.js';
import { f32ToBf16 } from '../../src/models/safetensors.js';
import { Rng } from '../../src/util/rng.js';
import { assertClose, assertGuardIntact, gemmAbsScale, randomF32, simdPaths, skipNative, zerosF32, GUARD } from './native-fixtures.js';

const js = new JsBackend();
const ALL_PATHS: SimdPath[] = ['scalar', 'avx2', 'avx512'];

const GEMM_SHAPES: [number, number, number][] = [
  [0, 5, 7], [5, 0, 7], [5, 7, 0], [1, 1, 1], [1, 37, 19], [1, 1024, 70], [1, 5, 1], [2, 3, 4], [7, 13, 29],
  [6, 16, 16], [12, 32, 32], [13, 17, 33], [64, 300, 100], [130, 257, 77], [3, 1, 50],
];
const GEMM_LARGE: [number, number, number][] = [[257, 520, 130], [20, 40, 3100]];

type GemmOp = 'matmulABt' | 'matmulAB' | 'matmulAtB';
/** Strides of A[i,k] and B[k,j] inside the flat buffers, per layout (see backend.ts). */
function strides(op: GemmOp, M: number, K: number, N: number): [number, number, number, number] {
  if (op === 'matmulABt') return [K, 1, 1, K];
  if (op === 'matmulAB') return [K, 1, N, 1];
  return [1, M, N, 1];
}

function checkGemm(nb: NativeBackend, op: GemmOp, rng: Rng, M: number, K: number, N: number, accumulate: boolean): void {
  const a = randomF32(rng, M * K), b = randomF32(rng, K * N);
  const c0 = randomF32(rng, M * N);
  const cNative = c0.slice(), cJs = c0.slice();
  nb[op](a, b, cNative, M, K, N, accumulate);
  js[op](a, b, cJs, M, K, N, accumulate);
  const [rsA, csA, rsB, csB] = strides(op, M, K, N);
  const scale = gemmAbsScale(a, b, M, K, N, rsA, csA, rsB, csB);
  if (accumulate) for (let i = 0; i < M * N; i++) scale[i] = scale[i]! + Math.abs(c0[i]!);
  assertClose(`${op} ${M}x${K}x${N} acc=${accumulate}`, cNative, cJs, M * N, 1e-5, 1e-30, scale);
  assertGuardIntact(`${op} c`, cNative, M * N);
}

function attentionCase(rng: Rng, nQ: number, nHeads: number, nKvHeads: number, headDim: number, extra: number[], withProbs: boolean) {
  const lens = new Int32Array(nKvHeads).map((_, h) => nQ + extra[h % extra.length]!);
  const keys = Array.from({ length: nKvHeads }, (_, h) => randomF32(rng, lens[h]! * headDim));
  const values = Array.from({ length: nKvHeads }, (_, h) => randomF32(rng, lens[h]! * headDim));
  const q = randomF32(rng, nQ * nHeads * headDim, 2);
  const mk = (): AttentionArgs => ({
    q, nQ, nHeads, nKvHeads, headDim, keys, values, lens, scale: 1 / Math.sqrt(Math.max(headDim, 1)),
    out: randomF32(rng, nQ * nHeads * headDim),
    probs: withProbs ? Array.from({ length: nKvHeads }, (_, h) => randomF32(rng, nQ * lens[h]!)) : undefined,
  });
  return { mk, lens };
}

function kernelSuite(simd: SimdPath, threads: number): void {
  const nb = (): NativeBackend => new NativeBackend({ simd, threads });
  const seed = `${simd}/${threads}`;

  it('reports its SIMD path and thread count', () => {
    const b = nb();
    assert.equal(b.name, 'native');
    assert.equal(b.simd, simd);
    assert.equal(b.threads, threads);
  });

  for (const op of ['matmulABt', 'matmulAB', 'matmulAtB'] as const) {
    it(`${op}: odd, one-row, empty and blocked shapes, with and without accumulate`, () => {
      const b = nb(), rng = new Rng(`${seed}/${op}`);
      for (const [M, K, N] of GEMM_SHAPES) for (const acc of [false, true]) checkGemm(b, op, rng, M, K, N, acc);
    });
  }

  it('matmulABt: large shapes that cross every cache block (KC, MC, NC)', () => {
    const b = nb(), rng = new Rng(`${seed}/large`);
    for (const [M, K, N] of GEMM_LARGE) checkGemm(b, 'matmulABt', rng, M, K, N, false);
    checkGemm(b, 'matmulAtB', rng, 140, 300, 90, true);
    checkGemm(b, 'matmulAB', rng, 140, 300, 90, false);
  });

  it('matmulABt on hand-computed values', () => {
    // [[1,2],[3,4]] · [[5,6],[7,8],[9,10]]ᵀ = [[17,23,29],[39,53,67]]
    const c = new Float32Array(6);
    nb().matmulABt(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8, 9, 10]), c, 2, 2, 3);
    assert.deepEqual([...c], [17, 23, 29, 39, 53, 67]);
  });

  it('rmsNorm and layerNorm (also in place)', () => {
    const b = nb(), rng = new Rng(`${seed}/norm`);
    for (const [rows, dim] of [[0, 8], [1, 1], [1, 7], [3, 64], [17, 130], [40, 1000]] as const) {
      const x = randomF32(rng, rows * dim, 3), w = randomF32(rng, dim), bias = randomF32(rng, dim);
      const o1 = zerosF32(rows * dim), o2 = zerosF32(rows * dim);
      b.rmsNorm(o1, x, w, rows, dim, 1e-5); js.rmsNorm(o2, x, w, rows, dim, 1e-5);
      assertClose(`rmsNorm ${rows}x${dim}`, o1, o2, rows * dim);
      assertGuardIntact('rmsNorm out', o1, rows * dim);
      b.layerNorm(o1, x, w, bias, rows, dim, 1e-5); js.layerNorm(o2, x, w, bias, rows, dim, 1e-5);
      assertClose(`layerNorm ${rows}x${dim}`, o1, o2, rows * dim, 1e-5, 1e-5);
      const inPlace = x.slice();
      b.rmsNorm(inPlace, inPlace, w, rows, dim, 1e-6); js.rmsNorm(o2, x, w, rows, dim, 1e-6);
      assertClose(`rmsNorm in place ${rows}x${dim}`, inPlace, o2, rows * dim);
    }
  });

  it('rmsNorm and layerNorm: finite rows whose squares overflow float32 normalise as in the twin; other rows unchanged', () => {
    // Values above ~1.8e19 square past FLT_MAX: the float32 sums overflowed and such a row came out all 0 (rmsNorm),
    // all bias or NaN (layerNorm). Rows 0 and 3 are ordinary and must come out as they do alone, bit for bit.
    const b = nb(), rng = new Rng(`${seed}/norm-overflow`);
    for (const dim of [4, 37, 64]) {
      const rows = 4, n = rows * dim;
      const x = randomF32(rng, n, 3), w = randomF32(rng, dim), bias = randomF32(rng, dim);
      for (let i = 0; i < dim; i++) {
        x[dim + i] = (rng.float() * 2 - 1) * 3e20; // rmsNorm's squares overflow
        x[2 * dim + i] = (i % 2 ? -1 : 1) * (1e38 + rng.float() * 2e38); // near FLT_MAX: layerNorm's deviations too
      }
      for (const op of ['rmsNorm', 'layerNorm'] as const) {
        const o1 = zerosF32(n), o2 = zerosF32(n);
        const run = (be: NativeBackend | JsBackend, out: Float32Array, xs: Float32Array, r: number) =>
          op === 'rmsNorm' ? be.rmsNorm(out, xs, w, r, dim, 1e-5) : be.layerNorm(out, xs, w, bias, r, dim, 1e-5);
        run(b, o1, x, rows); run(js, o2, x, rows);
        assertClose(`${op} overflowing rows, dim ${dim}`, o1, o2, n, 1e-5, 1e-5);
        assertGuardIntact(`${op} out`, o1, n);
        for (const r of [0, 3]) {
          const alone = new Float32Array(dim);
          run(b, alone, x.slice(r * dim, (r + 1) * dim), 1);
          assert.deepEqual(o1.subarray(r * dim, (r + 1) * dim), alone, `${op}: ordinary row ${r} beside overflowing ones, dim ${dim}`);
        }
        const inPlace = x.slice();
        run(b, inPlace, inPlace, rows);
        assert.deepEqual(inPlace.subarray(0, n), o1.subarray(0, n), `${op} in place, dim ${dim}`);
      }
    }
  });

  it('rmsNorm and layerNorm with eps = 0: rows of tiny values normalise exactly as in the twin', () => {
    // Below |x| ≈ 1e-19 the float32 squares underflow (to 0 below ~1e-23): with eps = 0 such a row came out all ±Inf
    // or NaN. It now runs in float64, which is the twin's arithmetic, so the result is the twin's bit for bit.
    const b = nb();
    for (const dim of [4, 37, 64]) {
      for (const scale of [1e-20, 1e-23, 1e-30]) {
        const x = new Float32Array(dim).map((_, i) => (i % 2 ? -1 : 1) * (1 + i / 8) * scale);
        const w = new Float32Array(dim).map((_, i) => 0.5 + i / dim), bias = new Float32Array(dim).map((_, i) => i / 100);
        for (const op of ['rmsNorm', 'layerNorm'] as const) {
          const got = new Float32Array(dim), want = new Float32Array(dim);
          const run = (be: NativeBackend | JsBackend, out: Float32Array) =>
            op === 'rmsNorm' ? be.rmsNorm(out, x, w, 1, dim, 0) : be.layerNorm(out, x, w, bias, 1, dim, 0);
          run(b, got); run(js, want);
          assert.ok(want.every(Number.isFinite), `${op}: the twin's row is finite`);
          assert.deepEqual(got, want, `${op}, dim ${dim}, |x| ≈ ${scale}`);
        }
      }
    }
  });

  it('rope, both layouts, partial rotary dims and large positions', () => {
    const b = nb(), rng = new Rng(`${seed}/rope`);
    for (const layout of ['half', 'interleaved'] as const)
      for (const [rows, nHeads, headDim, half] of [[0, 2, 8, 4], [1, 1, 2, 1], [5, 3, 8, 4], [4, 2, 10, 3], [33, 4, 64, 32]] as const) {
        const x = randomF32(rng, rows * nHeads * headDim);
        const positions = new Int32Array(rows).map(() => rng.int(200000) - 1000);
        const invFreq = new Float32Array(half).map((_, i) => Math.pow(10000, (-2 * i) / (2 * half)));
        const x1 = x.slice(), x2 = x.slice();
        b.rope(x1, rows, nHeads, headDim, positions, invFreq, layout);
        js.rope(x2, rows, nHeads, headDim, positions, invFreq, layout);
        assertClose(`rope ${layout} ${rows}x${nHeads}x${headDim}`, x1, x2, rows * nHeads * headDim, 1e-6, 1e-6);
        assertGuardIntact('rope x', x1, rows * nHeads * headDim);
      }
  });

  it('siluMul, gelu (tanh, erf), add, addBias: short, odd and multi-chunk lengths, aliasing', () => {
    const b = nb(), rng = new Rng(`${seed}/act`);
    for (const n of [0, 1, 7, 8, 9, 33, 100003]) {
      const g = randomF32(rng, n, 12), u = randomF32(rng, n, 3);
      const o1 = zerosF32(n), o2 = zerosF32(n);
      b.siluMul(o1, g, u, n); js.siluMul(o2, g, u, n);
      assertClose(`siluMul n=${n}`, o1, o2, n, 1e-5, 1e-6);
      assertGuardIntact('siluMul out', o1, n);
      for (const kind of ['tanh', 'erf'] as const) {
        b.gelu(o1, g, n, kind); js.gelu(o2, g, n, kind);
        assertClose(`gelu ${kind} n=${n}`, o1, o2, n, kind === 'erf' ? 1e-6 : 1e-5, 1e-6);
      }
      b.add(o1, g, u, n); js.add(o2, g, u, n);
      assertClose(`add n=${n}`, o1, o2, n, 0, 0);
      const alias = g.slice();
      b.add(alias, alias, u, n);
      assertClose(`add aliased n=${n}`, alias, o2, n, 0, 0);
      b.siluMul(alias, g, alias, n); js.siluMul(o2, g, o2, n);
      assertClose(`siluMul aliased n=${n}`, alias, o2, n, 1e-5, 1e-6);
    }
    for (const [rows, cols] of [[0, 3], [1, 1], [3, 9], [50, 700]] as const) {
      const x = randomF32(rng, rows * cols), bias = randomF32(rng, cols);
      const x1 = x.slice(), x2 = x.slice();
      b.addBias(x1, bias, rows, cols); js.addBias(x2, bias, rows, cols);
      assertClose(`addBias ${rows}x${cols}`, x1, x2, rows * cols, 0, 0);
      assertGuardIntact('addBias x', x1, rows * cols);
    }
  });

  it('gelu and silu at the extremes (±30, ±100) against float64 formulas', () => {
    const b = nb();
    const x = new Float32Array([-100, -30, -10, -3.5, -0.5, -1e-8, 0, 1e-8, 0.5, 3.5, 10, 30, 100]);
    const n = x.length, o = new Float32Array(n);
    const c = Math.sqrt(2 / Math.PI);
    // 0.5·v·(1 + tanh u) written as v / (1 + e^(−2u)), which does not cancel for negative v.
    const tanhRef = [...x].map((v) => v / (1 + Math.exp(-2 * c * (v + 0.044715 * v * v * v))));
    const erfRef = [...x].map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
    const siluRef = [...x].map((v) => v / (1 + Math.exp(-v)));
    b.gelu(o, x, n, 'tanh');
    assertClose('gelu tanh', o, new Float32Array(tanhRef), n, 1e-5, 1e-30);
    b.gelu(o, x, n, 'erf');
    assertClose('gelu erf', o, new Float32Array(erfRef), n, 1e-6, 1e-15); // float64 1 + erf cancels below ≈ −8
    b.siluMul(o, x, new Float32Array(n).fill(1), n);
    assertClose('silu', o, new Float32Array(siluRef), n, 1e-5, 1e-30);
    const special = new Float32Array([NaN, Infinity, -Infinity]);
    b.siluMul(o, special, new Float32Array(3).fill(1), 3);
    assert.ok(Number.isNaN(o[0]!), 'silu(NaN) is NaN');
    assert.equal(o[1], Infinity);
  });

  it('e^x just below overflow (x in 88.38–88.72, where 2^n needs n = 128) through silu and gelu, against float64', () => {
    // silu(x) = x / (1 + e^−x) and gelu_tanh(v) = v / (1 + e^u) both divide by e^x for such x: a wrong e^x shows as a
    // relative error in a tiny but normal result, so the comparison is relative with no absolute slack.
    const b = nb();
    const x = new Float32Array([-88.3, -88.38, -88.45, -88.55, -88.65, -88.7, -88.7228317]);
    const n = x.length, o = new Float32Array(n);
    b.siluMul(o, x, new Float32Array(n).fill(1), n);
    assertClose('silu near overflow', o, new Float32Array([...x].map((v) => v / (1 + Math.exp(-v)))), n, 1e-5, 0);
    const v = new Float32Array([-10.045, -10.05, -10.055, -10.06]); // u = 88.35, 88.47, 88.58, 88.70
    const c = Math.sqrt(2 / Math.PI), g = new Float32Array(v.length);
    b.gelu(g, v, v.length, 'tanh');
    const want = [...v].map((t) => t / (1 + Math.exp(-2 * c * (t + 0.044715 * t * t * t))));
    assertClose('gelu tanh near overflow', g, new Float32Array(want), v.length, 2e-5, 0);
  });

  it('softmax: odd widths, one column, -Infinity entries, large logits', () => {
    const b = nb(), rng = new Rng(`${seed}/softmax`);
    for (const [rows, cols, scale] of [[0, 4, 1], [1, 1, 1], [3, 7, 5], [5, 33, 40], [9, 1000, 20], [2, 70000, 3]] as const) {
      const x = randomF32(rng, rows * cols, scale);
      if (rows > 0 && cols > 3) x[2] = -Infinity;
      const x1 = x.slice(), x2 = x.slice();
      b.softmax(x1, rows, cols); js.softmax(x2, rows, cols);
      assertClose(`softmax ${rows}x${cols}`, x1, x2, rows * cols, 1e-5, 1e-9);
      assertGuardIntact('softmax x', x1, rows * cols);
    }
  });

  it('softmax: a row padded with -Infinity gives the row\'s own probabilities, bit for bit', () => {
    // The last cols mod W values went through std::exp and a scalar sum: a row of 9 on AVX-512 differed from the
    // same row padded with −∞ to 16 (and, with them, the probabilities of every other value of the row).
    const b = nb(), rng = new Rng(`${seed}/softmax-pad`);
    for (const cols of [1, 5, 9, 16, 17, 40]) {
      const row = randomF32(rng, cols, 6).subarray(0, cols);
      const alone = row.slice();
      b.softmax(alone, 1, cols);
      for (const pad of [1, 7, 16, 23]) {
        const padded = new Float32Array(cols + pad).fill(-Infinity);
        padded.set(row);
        b.softmax(padded, 1, cols + pad);
        assert.deepEqual(padded.subarray(0, cols), alone, `${cols} values, ${pad} −∞ added`);
        assert.ok(padded.subarray(cols).every((v) => v === 0), `${cols} values, ${pad} −∞ added: they are 0`);
      }
    }
  });

  it('softmax over a 128,256-token vocabulary and norms over 2^20 values agree with the twin (long float32 sums)', () => {
    // The scalar path summed a whole row in one or two float32 accumulators: a flat 128,256-logit softmax was off by
    // 1.6e-4 and a 2^20-value RMSNorm by 9e-4. It now sums blocks of 1,024 values and adds the blocks in float64.
    const b = nb(), rng = new Rng(`${seed}/long-rows`);
    const V = 128256, logits = new Float32Array(V).map(() => rng.float() * 0.01);
    const p1 = logits.slice(), p2 = logits.slice();
    b.softmax(p1, 1, V); js.softmax(p2, 1, V);
    assertClose('softmax over 128,256 logits', p1, p2, V, 1e-5, 0);
    const n = (1 << 20) + 3, x = new Float32Array(n).map(() => 1 + rng.float() * 0.01), w = new Float32Array(n).fill(1), bias = new Float32Array(n);
    const o1 = new Float32Array(n), o2 = new Float32Array(n);
    b.rmsNorm(o1, x, w, 1, n, 0); js.rmsNorm(o2, x, w, 1, n, 0);
    assertClose(`rmsNorm over ${n} values`, o1, o2, n, 2e-5, 0);
    // LayerNorm's output is (x − μ)/σ: its error is relative to the row's largest value, not to each (it cancels).
    b.layerNorm(o1, x, w, bias, 1, n, 0); js.layerNorm(o2, x, w, bias, 1, n, 0);
    assertClose(`layerNorm over ${n} values`, o1, o2, n, 0, 5e-5 * o2.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  });

  it('attention: MHA and GQA, ragged lengths, causal chunks, decode, probabilities', () => {
    const b = nb(), rng = new Rng(`${seed}/attn`);
    const cases: [number, number, number, number, number[]][] = [
      // nQ, nHeads, nKvHeads, headDim, extra cached rows per KV head (beyond the chunk)
      [1, 1, 1, 1, [0]], [1, 8, 8, 64, [100, 3, 0, 257]], [1, 32, 8, 128, [300, 17]], [3, 4, 2, 5, [0, 9]],
      [7, 6, 3, 17, [2, 40, 11]], [16, 8, 2, 64, [33, 0]], [40, 4, 4, 32, [5, 100, 0, 64]], [0, 2, 1, 8, [4]],
      [2, 16, 1, 8, [20]], [33, 8, 2, 64, [3180, 300]], // the last one crosses every GEMM block (KC, NC)
    ];
    for (const [nQ, nHeads, nKvHeads, headDim, extra] of cases)
      for (const withProbs of [false, true]) {
        const { mk, lens } = attentionCase(rng, nQ, nHeads, nKvHeads, headDim, extra, withProbs);
        const a1 = mk(), a2 = mk();
        b.attention(a1); js.attention(a2);
        if (withProbs) {
          // bf16 taps: the same values up to one bf16 step where float32 sums straddle a rounding boundary.
          const c1 = { ...mk(), probsBf16: true }, c2 = { ...mk(), probsBf16: true };
          b.attention(c1); js.attention(c2);
          for (let h = 0; h < nKvHeads; h++)
            for (let x = 0; x < nQ * lens[h]!; x++) {
              const u = c1.probs![h]![x]!, v = c2.probs![h]![x]!;
              assert.ok(Math.abs(u - v) <= Math.max(u, v) * 2 ** -7, `bf16 probs[${h}][${x}] ${u} vs ${v}`);
              assert.equal(new Uint32Array(Float32Array.of(u).buffer)[0]! & 0xffff, 0, `bf16 probs[${h}][${x}] = ${u}`);
            }
          // Packed bf16 taps (Uint16Array): exactly the upper halves of the float32 bf16 taps, on both backends.
          for (const [be, ref] of [[b, c1], [js, c2]] as const) {
            const packed = Array.from(lens, (l) => new Uint16Array(nQ * l).fill(0xdead));
            be.attention({ ...mk(), probsBf16: true, probs: packed });
            for (let h = 0; h < nKvHeads; h++) {
              const want = new Uint32Array(Float32Array.from((ref.probs as Float32Array[])[h]!.subarray(0, nQ * lens[h]!)).buffer);
              for (let x = 0; x < nQ * lens[h]!; x++) {
                if (packed[h]![x] !== want[x]! >>> 16) assert.fail(`${be.name} packed probs[${h}][${x}]: ${packed[h]![x]} vs ${want[x]! >>> 16}`);
              }
            }
          }
          assert.throws(() => b.attention({ ...mk(), probs: Array.from(lens, (l) => new Uint16Array(nQ * l)) }), { name: 'RangeError', message: /need probsBf16/ });
          assert.throws(() => js.attention({ ...mk(), probs: Array.from(lens, (l) => new Uint16Array(nQ * l)) }), { name: 'RangeError', message: /need probsBf16/ });
        }
        const tag = `attention nQ=${nQ} h=${nHeads}/${nKvHeads} d=${headDim}`;
        assertClose(`${tag} out`, a1.out, a2.out, nQ * nHeads * headDim, 1e-5, 1e-6);
        assertGuardIntact(`${tag} out`, a1.out, nQ * nHeads * headDim);
        if (withProbs)
          for (let h = 0; h < nKvHeads; h++) {
            const p1 = a1.probs as Float32Array[], p2 = a2.probs as Float32Array[];
            assertClose(`${tag} probs[${h}]`, p1[h]!, p2[h]!, nQ * lens[h]!, 1e-5, 1e-7);
            assertGuardIntact(`${tag} probs[${h}]`, p1[h]!, nQ * lens[h]!);
          }
      }
  });

  it('attention: bf16 taps are the float32 taps rounded to bf16, exactly, at every row length', () => {
    // With one query head per KV head the GQA mean is the head's own probability (×1), so the bf16 tap must be
    // exactly the float32 tap rounded to bf16 (the project's f32ToBf16), both unpacked and packed.
    const b = nb(), rng = new Rng(`${seed}/bf16-taps`);
    for (const [nQ, extra] of [[5, [0, 3]], [19, [45, 1]], [64, [7, 130]]] as const) {
      const { mk, lens } = attentionCase(rng, nQ, 2, 2, 16, [...extra], true);
      const f = mk(), g = { ...mk(), probsBf16: true };
      const packed = Array.from(lens, (l) => new Uint16Array(nQ * l).fill(0xdead));
      b.attention(f); b.attention(g); b.attention({ ...mk(), probsBf16: true, probs: packed });
      for (let h = 0; h < 2; h++) {
        const pf = (f.probs as Float32Array[])[h]!, pg = new Uint32Array((g.probs as Float32Array[])[h]!.buffer);
        for (let x = 0; x < nQ * lens[h]!; x++) {
          const want = f32ToBf16(pf[x]!);
          if (pg[x] !== want * 65536 || packed[h]![x] !== want) {
            assert.fail(`nQ=${nQ} head ${h} tap ${x}: float ${pf[x]} → bf16 ${pg[x]!.toString(16)} / packed ${packed[h]![x]!.toString(16)}, want ${want.toString(16)}`);
          }
        }
      }
    }
  });

  it('attention: out may alias q', () => {
    const b = nb(), rng = new Rng(`${seed}/alias`);
    const { mk } = attentionCase(rng, 4, 4, 2, 16, [6, 3], false);
    const a1 = mk(), a2 = mk();
    const shared = a1.q.slice();
    b.attention({ ...a1, q: shared, out: shared });
    js.attention(a2);
    assertClose('attention q===out', shared, a2.out, 4 * 4 * 16, 1e-5, 1e-6);
  });

  it('f16 and bf16 → f32: every one of the 65536 bit patterns, exactly', () => {
    const b = nb();
    const src = new Uint16Array(65536).map((_, i) => i);
    for (const op of ['f16ToF32', 'bf16ToF32'] as const) {
      const d1 = zerosF32(65536), d2 = zerosF32(65536);
      b[op](src, d1, 65536); js[op](src, d2, 65536);
      assertClose(op, d1, d2, 65536, 0, 0);
      assertGuardIntact(op, d1, 65536);
    }
    const d = new Float32Array(6);
    b.f16ToF32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]), d, 6);
    assert.deepEqual([...d], [1, -2, 65504, 2 ** -24, Infinity, 0.333251953125]);
    b.bf16ToF32(new Uint16Array([0x3f80, 0xc0a0]), d, 2);
    assert.deepEqual([...d.subarray(0, 2)], [1, -5]);
    // A half NaN widens to the same bits in a loop's body (F16C on the SIMD paths) as in its tail (scalar code):
    // payload kept, quiet bit set (0x7c01, a signalling NaN, becomes 0x7fc02000).
    const bulk = zerosF32(65536);
    b.f16ToF32(src, bulk, 65536);
    const bulkBits = new Uint32Array(bulk.buffer, bulk.byteOffset, 65536), one = new Float32Array(1), oneBits = new Uint32Array(one.buffer);
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) continue;
      b.f16ToF32(src.subarray(h, h + 1), one, 1);
      if (oneBits[0] !== bulkBits[h]) assert.fail(`0x${h.toString(16)}: 0x${oneBits[0]!.toString(16)} alone, 0x${bulkBits[h]!.toString(16)} in a run`);
    }
    assert.equal(bulkBits[0x7c01], 0x7fc02000);
  });

  it('Q8_0 → f32 matches the twin and a hand-computed block', () => {
    const b = nb(), rng = new Rng(`${seed}/q8`);
    for (const n of [0, 32, 320]) {
      const src = new Uint8Array((n / 32) * 34).map(() => rng.int(256));
      for (let blk = 0; blk < n / 32; blk++) { src[blk * 34 + 1] = 0x2c + rng.int(8); } // finite scales
      const d1 = zerosF32(n), d2 = zerosF32(n);
      b.q8_0ToF32(src, d1, n); js.q8_0ToF32(src, d2, n);
      assertClose(`q8_0 n=${n}`, d1, d2, n, 0, 0);
      assertGuardIntact('q8_0 dst', d1, n);
    }
    // Scale 0x3800 = 0.5; quants 0..31 as int8 with the sign flipped on odd indices.
    const blk = new Uint8Array(34);
    blk[0] = 0x00; blk[1] = 0x38;
    for (let i = 0; i < 32; i++) blk[2 + i] = (i % 2 ? -i : i) & 0xff;
    const d = new Float32Array(32);
    b.q8_0ToF32(blk, d, 32);
    assert.deepEqual([...d], Array.from({ length: 32 }, (_, i) => (i % 2 ? -i : i) * 0.5));
  });

  it('leaves the guard tails of every input untouched and ignores extra length', () => {
    const b = nb(), rng = new Rng(`${seed}/guard`);
    const a = randomF32(rng, 6 * 10), w = randomF32(rng, 10 * 9), c = zerosF32(6 * 9);
    b.matmulABt(a, w, c, 6, 10, 9);
    assertGuardIntact('a', a, 60);
    assertGuardIntact('w', w, 90);
    assert.equal(c.length, 54 + GUARD);
  });
}

describe('native kernels vs the TypeScript twin', { skip: skipNative }, () => {
  const available = simdPaths();
  for (const simd of ALL_PATHS) {
    const skip = available.includes(simd) ? false : `this CPU cannot run the ${simd} path`;
    for (const threads of [1, 2]) describe(`${simd}, threads=${threads}`, { skip }, () => kernelSuite(simd, threads));
  }
});
