/**
 * The native-vs-TypeScript matrix: every kernel of the C++ addon against its TypeScript twin (the reference,
 * itself checked against float64 formulas in js-kernels.test.ts) on seeded random inputs: odd sizes, one row,
 * empty, tile edges and one large case each, for every SIMD path this CPU runs × 1 and 2 threads.
 *
 * Agreement criterion (test/helpers/compare.ts): per element, |native − ts| / (|ts| + rms(ts)) ≤ 1e-4, where
 * rms(ts) is the root-mean-square of the TypeScript output. That is 1e-4 relative for every element of ordinary
 * size, and 1e-4 of the output's typical magnitude for elements that cancel to near zero (whose float32
 * rounding error is set by the magnitudes that cancelled, not by the tiny result). NaN must match NaN and ±∞ the
 * same ∞. Exact kernels (add, addBias, f16/bf16/Q8_0 conversion) must agree bit for bit (f16: any NaN for NaN).
 *
 * When the addon cannot load, these tests are skipped with the reason, except under CI (process.env.CI set),
 * where a missing addon is a failure: CI must build it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionArgs, Backend } from '../../src/tensor/backend.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend, loadNativeBackend, type SimdPath } from '../../src/tensor/native.js';
import { Rng } from '../../src/util/rng.js';
import { randomF32, randomQ8_0, randomU16 } from '../helpers/random-arrays.js';
import { assertClose, assertSameBits } from '../helpers/compare.js';

const TOL = 1e-4;
const js = new JsBackend();

let loadFailure = '';
try { loadNativeBackend(); } catch (err) { loadFailure = (err as Error).message; }
const unavailable = loadFailure ? `native addon unavailable: ${loadFailure}` : false;

test('the native addon loads (a failure under CI, where the addon must be built)', { skip: process.env.CI ? false : unavailable }, () => {
  assert.equal(loadFailure, '', `native addon failed to load: ${loadFailure}`);
  const nb = loadNativeBackend();
  assert.equal(nb.name, 'native');
  assert.ok(NativeBackend.availableSimd().includes(nb.simd as SimdPath), `default path ${nb.simd} is one the CPU runs`);
});

/** Every SIMD path the CPU runs × 1 and 2 threads; empty when the addon is missing. */
function configurations(): { label: string; backend: Backend }[] {
  if (loadFailure) return [];
  const out: { label: string; backend: Backend }[] = [];
  for (const simd of NativeBackend.availableSimd()) {
    for (const threads of [1, 2]) {
      const backend = new NativeBackend({ simd, threads });
      assert.equal(backend.simd, simd, `forcing ${simd} took effect`);
      assert.equal(backend.threads, threads);
      out.push({ label: `${simd}×${threads}`, backend });
    }
  }
  return out;
}

/** One kernel call on fixed inputs: `run` allocates fresh outputs (and copies in-place inputs) every time. */
interface Case {
  name: string;
  /** Bit-exact agreement required; 'anyNaN': bit-exact except that any NaN matches any NaN. */
  exact?: boolean | 'anyNaN';
  run(b: Backend): Float32Array[];
}

/** Runs each case on the TypeScript backend once and on every native configuration, comparing all outputs. */
function checkMatrix(cases: Case[]): void {
  const configs = configurations();
  for (const c of cases) {
    const want = c.run(js);
    for (const { label, backend } of configs) {
      const got = c.run(backend);
      for (let o = 0; o < want.length; o++) {
        const what = `${c.name} [${label}] output ${o}`;
        if (c.exact) assertSameBits(got[o]!, want[o]!, what, c.exact === 'anyNaN');
        else assertClose(got[o]!, want[o]!, TOL, what);
      }
    }
  }
}

// ---------------------------------------------------------------- GEMM

const gemmShapes: [number, number, number][] = [
  [1, 1, 1], [1, 64, 130], [1, 1000, 257], [2, 9, 3], [3, 5, 7], [4, 4, 4], [7, 13, 11], [8, 1, 8], [17, 33, 65],
  [4, 70, 67], [33, 257, 129], [65, 31, 4], [0, 5, 3], [5, 0, 3], [5, 3, 0], [0, 0, 0],
  [256, 512, 384], // the large case: several cache blocks and enough rows for both threads
];

for (const layout of ['matmulABt', 'matmulAB', 'matmulAtB'] as const) {
  test(`${layout}: native matches TypeScript on every SIMD path and thread count`, { skip: unavailable }, () => {
    const rng = new Rng(`matrix-${layout}`);
    const cases: Case[] = [];
    for (const [M, K, N] of gemmShapes) {
      const a = randomF32(rng, M * K), b = randomF32(rng, K * N), c0 = randomF32(rng, M * N);
      for (const accumulate of [false, true]) {
        cases.push({
          name: `${layout} ${M}×${K}×${N}${accumulate ? ' accumulate' : ''}`,
          run: (be) => { const c = accumulate ? new Float32Array(c0) : new Float32Array(M * N).fill(Number.NaN); be[layout](a, b, c, M, K, N, accumulate); return [c]; },
        });
      }
    }
    checkMatrix(cases);
  });
}

// ---------------------------------------------------------------- norms, RoPE, elementwise

test('rmsNorm and layerNorm: native matches TypeScript (odd dims, one row, empty, in place, large)', { skip: unavailable }, () => {
  const rng = new Rng('matrix-norms');
  const cases: Case[] = [];
  for (const [rows, dim] of [[1, 1], [1, 7], [3, 5], [9, 64], [2, 1001], [0, 8], [4, 0], [300, 576]] as const) {
    const x = randomF32(rng, rows * dim, 3), w = randomF32(rng, dim), bias = randomF32(rng, dim);
    cases.push(
      { name: `rmsNorm ${rows}×${dim}`, run: (be) => { const o = new Float32Array(rows * dim); be.rmsNorm(o, x, w, rows, dim, 1e-5); return [o]; } },
      { name: `rmsNorm in place ${rows}×${dim}`, run: (be) => { const o = new Float32Array(x); be.rmsNorm(o, o, w, rows, dim, 1e-6); return [o]; } },
      { name: `layerNorm ${rows}×${dim}`, run: (be) => { const o = new Float32Array(rows * dim); be.layerNorm(o, x, w, bias, rows, dim, 1e-5); return [o]; } },
      { name: `layerNorm in place ${rows}×${dim}`, run: (be) => { const o = new Float32Array(x); be.layerNorm(o, o, w, bias, rows, dim, 1e-5); return [o]; } },
    );
  }
  // A large common offset: a one-pass variance would cancel.
  const shifted = Float32Array.from(randomF32(rng, 3 * 256), (v) => 1000 + v);
  const ones = new Float32Array(256).fill(1), zeros = new Float32Array(256);
  cases.push({ name: 'layerNorm offset 1000', run: (be) => { const o = new Float32Array(3 * 256); be.layerNorm(o, shifted, ones, zeros, 3, 256, 1e-5); return [o]; } });
  checkMatrix(cases);
});

test('rope: native matches TypeScript (both layouts, partial rotary, large positions, large case)', { skip: unavailable }, () => {
  const rng = new Rng('matrix-rope');
  const cases: Case[] = [];
  for (const [rows, nHeads, headDim, half] of [[1, 1, 2, 1], [3, 2, 8, 4], [5, 3, 10, 3], [2, 2, 12, 2], [0, 2, 8, 4], [128, 8, 64, 32]] as const) {
    const invFreq = Float32Array.from({ length: half }, (_, i) => Math.pow(10000, -i / half));
    const positions = Int32Array.from({ length: rows }, () => rng.int(32768));
    const x = randomF32(rng, rows * nHeads * headDim);
    for (const layout of ['half', 'interleaved'] as const) {
      cases.push({ name: `rope ${layout} ${rows}×${nHeads}×${headDim} (rotary ${2 * half})`, run: (be) => { const y = new Float32Array(x); be.rope(y, rows, nHeads, headDim, positions, invFreq, layout); return [y]; } });
    }
  }
  checkMatrix(cases);
});

test('elementwise kernels and softmax: native matches TypeScript (extremes, in place, empty, large)', { skip: unavailable }, () => {
  const rng = new Rng('matrix-elementwise');
  const cases: Case[] = [];
  for (const n of [0, 1, 7, 33, 1000, 100_003]) {
    const x = randomF32(rng, n, 4), y = randomF32(rng, n, 4);
    if (n >= 7) { x[0] = 80; x[1] = -80; x[2] = 0; x[3] = -0; x[4] = 15; x[5] = -15; x[6] = 1e-20; }
    for (const kind of ['tanh', 'erf'] as const) {
      cases.push({ name: `gelu ${kind} n=${n}`, run: (be) => { const o = new Float32Array(n); be.gelu(o, x, n, kind); return [o]; } });
      cases.push({ name: `gelu ${kind} in place n=${n}`, run: (be) => { const o = new Float32Array(x); be.gelu(o, o, n, kind); return [o]; } });
    }
    cases.push(
      { name: `siluMul n=${n}`, run: (be) => { const o = new Float32Array(n); be.siluMul(o, x, y, n); return [o]; } },
      { name: `siluMul out=gate n=${n}`, run: (be) => { const o = new Float32Array(x); be.siluMul(o, o, y, n); return [o]; } },
      { name: `siluMul out=up n=${n}`, run: (be) => { const o = new Float32Array(y); be.siluMul(o, x, o, n); return [o]; } },
      { name: `add n=${n}`, exact: true, run: (be) => { const o = new Float32Array(n); be.add(o, x, y, n); return [o]; } },
      { name: `add out=b n=${n}`, exact: true, run: (be) => { const o = new Float32Array(y); be.add(o, x, o, n); return [o]; } },
    );
  }
  for (const [rows, cols] of [[1, 1], [3, 17], [2, 1000], [0, 4], [3, 0], [200, 513]] as const) {
    const x = randomF32(rng, rows * cols, 6), bias = randomF32(rng, cols);
    if (rows * cols > 0) x[0] = 500; // a dominant logit: stability
    cases.push(
      { name: `softmax ${rows}×${cols}`, run: (be) => { const o = new Float32Array(x); be.softmax(o, rows, cols); return [o]; } },
      { name: `addBias ${rows}×${cols}`, exact: true, run: (be) => { const o = new Float32Array(x); be.addBias(o, bias, rows, cols); return [o]; } },
    );
  }
  checkMatrix(cases);
});

// ---------------------------------------------------------------- attention

test('attention: native matches TypeScript (GQA, ragged lens, odd headDim, probs, one query, large)', { skip: unavailable }, () => {
  const rng = new Rng('matrix-attention');
  const cases: Case[] = [];
  const shapes: [number, number, number, number, number[]][] = [
    [1, 1, 1, 1, [1]], [1, 4, 2, 8, [9, 1]], [3, 6, 3, 5, [3, 10, 7]], [4, 8, 2, 16, [40, 4]], [5, 4, 4, 7, [5, 6, 50, 9]],
    [2, 3, 1, 3, [2]], [1, 8, 2, 64, [700, 333]], [0, 2, 1, 4, [5]], [64, 8, 2, 64, [1024, 900]],
  ];
  for (const [nQ, nHeads, nKv, headDim, lens] of shapes) {
    const q = randomF32(rng, nQ * nHeads * headDim);
    const keys = lens.map((l) => randomF32(rng, l * headDim)), values = lens.map((l) => randomF32(rng, l * headDim));
    const scale = 1 / Math.sqrt(headDim);
    for (const withProbs of [false, true]) {
      cases.push({
        name: `attention nQ=${nQ} heads=${nHeads}/${nKv} d=${headDim} lens=${lens}${withProbs ? ' +probs' : ''}`,
        run: (be) => {
          const args: AttentionArgs = {
            q, nQ, nHeads, nKvHeads: nKv, headDim, keys, values, lens: Int32Array.from(lens), scale,
            out: new Float32Array(nQ * nHeads * headDim).fill(Number.NaN),
            probs: withProbs ? lens.map((l) => new Float32Array(nQ * l).fill(Number.NaN)) : undefined,
          };
          be.attention(args);
          return [args.out, ...((args.probs as Float32Array[] | undefined) ?? [])];
        },
      });
    }
  }
  checkMatrix(cases);
});

test('attention with firstRow (sliding windows, random first rows): native matches TypeScript, taps f32 and bf16', { skip: unavailable }, () => {
  const rng = new Rng('matrix-attention-window');
  const cases: Case[] = [];
  // [nQ, nHeads, nKv, headDim, lens, window (0: first rows drawn at random)]: one query (the streaming path), small
  // chunks, blocks of 32 queries with windows shorter and longer than the block (the GEMM path, where some rows are
  // seen by every query of a block and some by only part of it), and a long cache.
  const shapes: [number, number, number, number, number[], number][] = [
    [1, 4, 2, 8, [9, 30], 4], [1, 8, 2, 64, [700, 333], 100], [3, 6, 3, 5, [3, 10, 7], 2], [5, 4, 4, 7, [5, 6, 50, 9], 0],
    [64, 8, 2, 64, [1024, 900], 5], [64, 8, 2, 64, [1024, 900], 40], [64, 8, 2, 64, [1024, 900], 500], [33, 4, 1, 16, [200], 0],
    [2, 3, 1, 3, [20], 1],
  ];
  for (const [nQ, nHeads, nKv, headDim, lens, window] of shapes) {
    const q = randomF32(rng, nQ * nHeads * headDim);
    const keys = lens.map((l) => randomF32(rng, l * headDim)), values = lens.map((l) => randomF32(rng, l * headDim));
    const firstRow = new Int32Array(nKv * nQ);
    lens.forEach((len, h) => {
      for (let i = 0; i < nQ; i++) {
        const last = len - nQ + i;
        firstRow[h * nQ + i] = window > 0 ? Math.max(0, last - window + 1) : rng.int(last + 1);
      }
    });
    const tag = `nQ=${nQ} heads=${nHeads}/${nKv} d=${headDim} lens=${lens} window=${window || 'random'}`;
    for (const taps of ['none', 'f32', 'bf16'] as const) {
      cases.push({
        name: `attention ${tag} taps ${taps}`,
        run: (be) => {
          const args: AttentionArgs = {
            q, nQ, nHeads, nKvHeads: nKv, headDim, keys, values, lens: Int32Array.from(lens), scale: 1 / Math.sqrt(headDim), firstRow,
            out: new Float32Array(nQ * nHeads * headDim).fill(Number.NaN),
            ...(taps === 'f32' ? { probs: lens.map((l) => new Float32Array(nQ * l).fill(Number.NaN)) } : {}),
            ...(taps === 'bf16' ? { probs: lens.map((l) => new Uint16Array(nQ * l).fill(0x7fc0)), probsBf16: true } : {}),
          };
          be.attention(args);
          if (taps !== 'bf16') return [args.out, ...((args.probs as Float32Array[] | undefined) ?? [])];
          // bf16 taps round float32 (native) and float64 (TypeScript) probabilities, which can straddle a rounding
          // boundary: within one backend the packed bit patterns are those of its float32 probsBf16 taps, and the
          // output is compared across backends.
          const wide = { ...args, out: new Float32Array(args.out.length), probs: lens.map((l) => new Float32Array(nQ * l).fill(Number.NaN)) };
          be.attention(wide);
          (args.probs as Uint16Array[]).forEach((p, h) => {
            const bits = new Uint32Array((wide.probs[h] as Float32Array).buffer);
            for (let x = 0; x < p.length; x++) if (p[x] !== bits[x]! >>> 16 || (bits[x]! & 0xffff) !== 0) assert.fail(`${be.name}: packed tap [${h}][${x}] differs from its float32 bf16 tap`);
          });
          assertSameBits(wide.out, args.out, `${be.name}: out with packed and float32 bf16 taps`);
          return [args.out];
        },
      });
    }
  }
  checkMatrix(cases);
});

// ---------------------------------------------------------------- conversions

test('f16, bf16 and Q8_0 conversions: native matches TypeScript bit for bit', { skip: unavailable }, () => {
  const rng = new Rng('matrix-convert');
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const cases: Case[] = [
    // f16 NaNs: the TS twin decodes arithmetically (canonical NaN), hardware F16C keeps the payload: both are NaN.
    { name: 'f16 all 65536 patterns', exact: 'anyNaN', run: (be) => { const o = new Float32Array(65536); be.f16ToF32(all, o, 65536); return [o]; } },
    { name: 'bf16 all 65536 patterns', exact: true, run: (be) => { const o = new Float32Array(65536); be.bf16ToF32(all, o, 65536); return [o]; } },
  ];
  for (const n of [0, 1, 3, 17, 100_001]) {
    const src = randomU16(rng, n);
    cases.push({ name: `f16 n=${n}`, exact: 'anyNaN', run: (be) => { const o = new Float32Array(n + 1).fill(5); be.f16ToF32(src, o, n); return [o]; } });
    cases.push({ name: `bf16 n=${n}`, exact: true, run: (be) => { const o = new Float32Array(n + 1).fill(5); be.bf16ToF32(src, o, n); return [o]; } });
  }
  for (const blocks of [0, 1, 3, 4000]) {
    const src = randomQ8_0(rng, blocks);
    cases.push({ name: `q8_0 ${blocks} blocks`, exact: true, run: (be) => { const o = new Float32Array(blocks * 32); be.q8_0ToF32(src, o, blocks * 32); return [o]; } });
  }
  checkMatrix(cases);
});

// ---------------------------------------------------------------- misuse

test('misuse: native throws the same error class as TypeScript for each bad call', { skip: unavailable }, () => {
  const f = (n: number): Float32Array => new Float32Array(n);
  const bad = <T>(v: unknown): T => v as T;
  const rng = new Rng('matrix-misuse');
  const attn = (): AttentionArgs => ({
    q: randomF32(rng, 2 * 4 * 4), nQ: 2, nHeads: 4, nKvHeads: 2, headDim: 4, keys: [f(12), f(20)], values: [f(12), f(20)],
    lens: Int32Array.of(3, 5), scale: 0.5, out: f(32), probs: [f(6), f(10)],
  });
  const calls: [string, (be: Backend) => void][] = [
    ['gemm short b', (be) => be.matmulABt(f(6), f(6), f(4), 2, 3, 3)],
    ['gemm short c', (be) => be.matmulAB(f(6), f(6), f(3), 2, 3, 2)],
    ['gemm negative M', (be) => be.matmulAtB(f(6), f(6), f(4), -1, 3, 2)],
    ['gemm fractional K', (be) => be.matmulABt(f(6), f(6), f(4), 2, 1.5, 2)],
    ['gemm NaN N', (be) => be.matmulAB(f(6), f(6), f(4), 2, 3, Number.NaN)],
    ['gemm wrong type', (be) => be.matmulABt(bad(new Float64Array(6)), f(6), f(4), 2, 3, 2)],
    ['rmsNorm short weight', (be) => be.rmsNorm(f(6), f(6), f(2), 2, 3, 1e-5)],
    ['layerNorm wrong bias type', (be) => be.layerNorm(f(6), f(6), f(3), bad([0, 0, 0]), 2, 3, 1e-5)],
    ['rope positions type', (be) => be.rope(f(8), 1, 1, 8, bad([1]), f(4), 'half')],
    ['rope short positions', (be) => be.rope(f(16), 2, 1, 8, Int32Array.of(1), f(4), 'half')],
    ['rope invFreq too long', (be) => be.rope(f(8), 1, 1, 8, Int32Array.of(1), f(5), 'half')],
    ['rope bad layout', (be) => be.rope(f(8), 1, 1, 8, Int32Array.of(1), f(4), bad('neox'))],
    ['gelu bad kind', (be) => be.gelu(f(4), f(4), 4, bad('relu'))],
    ['siluMul short up', (be) => be.siluMul(f(4), f(4), f(3), 4)],
    ['softmax fractional cols', (be) => be.softmax(f(4), 2, 2.5)],
    ['add negative n', (be) => be.add(f(4), f(4), f(4), -1)],
    ['addBias short bias', (be) => be.addBias(f(4), f(1), 2, 2)],
    ['attention lens < nQ', (be) => be.attention({ ...attn(), lens: Int32Array.of(1, 5) })],
    ['attention nHeads not a multiple', (be) => be.attention({ ...attn(), nKvHeads: 3 })],
    ['attention short keys', (be) => be.attention({ ...attn(), keys: [f(12), f(19)] })],
    ['attention short probs', (be) => be.attention({ ...attn(), probs: [f(6), f(9)] })],
    ['attention lens type', (be) => be.attention({ ...attn(), lens: bad([3, 5]) })],
    ['attention firstRow past a horizon', (be) => be.attention({ ...attn(), firstRow: Int32Array.of(0, 0, 4, 0) })],
    ['attention firstRow negative', (be) => be.attention({ ...attn(), firstRow: Int32Array.of(0, -1, 0, 0) })],
    ['attention firstRow short', (be) => be.attention({ ...attn(), firstRow: Int32Array.of(0, 0, 0) })],
    ['attention firstRow type', (be) => be.attention({ ...attn(), firstRow: bad([0, 0, 0, 0]) })],
    ['f16 wrong src type', (be) => be.f16ToF32(bad(new Int16Array(4)), f(4), 4)],
    ['bf16 short dst', (be) => be.bf16ToF32(new Uint16Array(4), f(3), 4)],
    ['q8_0 n not a multiple of 32', (be) => be.q8_0ToF32(new Uint8Array(34), f(32), 31)],
    ['q8_0 short src', (be) => be.q8_0ToF32(new Uint8Array(33), f(32), 32)],
  ];
  const errorClass = (be: Backend, call: (be: Backend) => void): string => {
    try { call(be); } catch (err) { return (err as Error).constructor.name; }
    return 'no error';
  };
  const configs = configurations();
  const mismatches: string[] = [];
  for (const [what, call] of calls) {
    const want = errorClass(js, call);
    assert.ok(want === 'TypeError' || want === 'RangeError', `TypeScript backend: ${what} gave ${want}`);
    for (const { label, backend } of configs) {
      const got = errorClass(backend, call);
      if (got !== want) mismatches.push(`${what} [${label}]: ${got}, TypeScript throws ${want}`);
    }
  }
  assert.deepEqual(mismatches, [], `native error classes differ:\n${mismatches.join('\n')}`);
});
