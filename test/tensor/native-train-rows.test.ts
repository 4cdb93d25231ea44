/**
 * The native row kernels of a training step (crossEntropy, siluMul + siluMulBackward, gelu + geluTanhBackward,
 * rmsNormTrain + rmsNormBackward) against their TypeScript twins in src/train/ops: every SIMD path, 1–3 threads
 * (bit-identical), odd sizes with vector tails, ignored rows, guard tails, misuse, and the routing of
 * `backendGemm(native).rows` through the ops.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { geluBackward, geluForward, swigluBackward, swigluForward } from '../../src/train/ops/activation.js';
import { crossEntropyForwardBackward, IGNORE } from '../../src/train/ops/cross-entropy.js';
import { backendGemm } from '../../src/train/ops/gemm.js';
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from '../../src/train/ops/norm.js';
import { Rng } from '../../src/util/rng.js';
import { assertClose, assertGuardIntact, randomF32, simdPaths, skipNative, zerosF32 } from './native-fixtures.js';

const THREADS = [1, 2, 3];

/** Runs `body` with a backend per thread count; every run's outputs must be bit-identical to the first. */
function sameForAnyThreads(simd: ReturnType<typeof simdPaths>[number], body: (be: NativeBackend) => Float32Array[]): Float32Array[] {
  let first: Float32Array[] | null = null;
  for (const threads of THREADS) {
    const outs = body(new NativeBackend({ simd, threads }));
    if (!first) first = outs;
    else outs.forEach((a, i) => assert.deepEqual(a, first![i], `threads=${threads} differs from threads=1 (output ${i})`));
  }
  return first!;
}

describe('native training row kernels', { skip: skipNative }, () => {
  for (const simd of simdPaths()) {
    for (const [T, V] of [[1, 5], [7, 37], [33, 2048], [130, 300]] as const) {
      it(`${simd}: cross-entropy fused with its backward, T=${T}, V=${V}, ignored rows`, () => {
        const rng = new Rng(T * 1000 + V), n = T * V;
        const logits = randomF32(rng, n, 6);
        const targets = Int32Array.from({ length: T }, (_, t) => (t % 4 === 2 ? IGNORE : rng.int(V)));
        const want = Float32Array.from(logits.subarray(0, n));
        const wantLoss = crossEntropyForwardBackward(want, targets, T, V, 0.125);
        const [got] = sameForAnyThreads(simd, (be) => {
          const x = Float32Array.from(logits), rowLoss = new Float64Array(T);
          be.crossEntropy(x, targets, T, V, 0.125, rowLoss);
          assertGuardIntact('logits', x, n);
          let sum = 0;
          targets.forEach((y, t) => { if (y === IGNORE) assert.equal(rowLoss[t], 0); else sum += rowLoss[t]!; });
          assert.ok(Math.abs(sum - wantLoss.sum) <= 1e-5 * Math.abs(wantLoss.sum) + 1e-5, `loss ${sum} vs ${wantLoss.sum}`);
          return [x];
        });
        assertClose('dlogits', got!, want, n, 1e-5, 1e-8);
      });
    }

    for (const n of [1, 7, 8, 9, 1000, 70001]) {
      it(`${simd}: SwiGLU and GELU (tanh) forward and backward, n=${n}`, () => {
        const rng = new Rng(n);
        const gate = randomF32(rng, n, 8), up = randomF32(rng, n, 2), dout = randomF32(rng, n);
        const wantAct = new Float32Array(n), wantDg = new Float32Array(n), wantDu = new Float32Array(n);
        swigluForward(wantAct, gate, up, n);
        swigluBackward(wantDg, wantDu, dout, gate, up, n);
        const wantGelu = new Float32Array(n), wantDx = new Float32Array(n);
        geluForward(wantGelu, gate, n, 'tanh');
        geluBackward(wantDx, dout, gate, n, 'tanh');
        const outs = sameForAnyThreads(simd, (be) => {
          const act = zerosF32(n), dg = zerosF32(n), du = zerosF32(n), dx = zerosF32(n);
          be.siluMul(act, gate, up, n);
          be.siluMulBackward(dg, du, dout, gate, up, n);
          be.geluTanhBackward(dx, dout, gate, n);
          for (const [name, a] of [['act', act], ['dgate', dg], ['dup', du], ['dx', dx]] as const) assertGuardIntact(name, a, n);
          return [act, dg, du, dx];
        });
        assertClose('silu·up', outs[0]!, wantAct, n, 2e-6, 1e-6);
        assertClose('dgate', outs[1]!, wantDg, n, 2e-6, 1e-6);
        assertClose('dup', outs[2]!, wantDu, n, 2e-6, 1e-6);
        assertClose('gelu dx', outs[3]!, wantDx, n, 2e-6, 1e-6);
      });
    }

    it(`${simd}: an element's value does not depend on the call's length (SwiGLU, GELU, their backwards)`, () => {
      // The backwards ran the last n mod W elements through std::exp, the rest through the vector exp, so the same
      // element changed its last bits with n (a step with another sequence length gave other gradients).
      const rng = new Rng(41), N = 70;
      const gate = randomF32(rng, N, 6), up = randomF32(rng, N, 2), dout = randomF32(rng, N);
      const be = new NativeBackend({ simd, threads: 1 });
      const call = (n: number) => {
        const act = new Float32Array(n), gel = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n), dx = new Float32Array(n);
        be.siluMul(act, gate, up, n); be.gelu(gel, gate, n, 'tanh');
        be.siluMulBackward(dg, du, dout, gate, up, n); be.geluTanhBackward(dx, dout, gate, n);
        return { act, gel, dg, du, dx };
      };
      const full = call(N);
      for (let n = 1; n < N; n++) {
        const part = call(n);
        for (const key of ['act', 'gel', 'dg', 'du', 'dx'] as const) assert.deepEqual(part[key], full[key].subarray(0, n), `${key}, n=${n} vs ${N}`);
      }
    });

    it(`${simd}: cross-entropy of a row padded with -Infinity logits is the row's own (loss and gradient)`, () => {
      const rng = new Rng(43), V0 = 21, T = 1;
      for (const pad of [1, 3, 11, 27]) {
        const logits = randomF32(rng, V0, 5).subarray(0, V0), target = Int32Array.of(4);
        const padded = new Float32Array(V0 + pad).fill(-Infinity);
        padded.set(logits);
        const be = new NativeBackend({ simd, threads: 1 }), l1 = new Float64Array(1), l2 = new Float64Array(1);
        const a = logits.slice();
        be.crossEntropy(a, target, T, V0, 0.5, l1);
        be.crossEntropy(padded, target, T, V0 + pad, 0.5, l2);
        assert.equal(l2[0], l1[0], `loss, ${pad} −∞ logits added`);
        assert.deepEqual(padded.subarray(0, V0), a, `gradient, ${pad} −∞ logits added`);
      }
    });

    it(`${simd}: cross-entropy over a 128,256-token vocabulary agrees with the twin (a long float32 sum)`, () => {
      const rng = new Rng(47), V = 128256, logits = new Float32Array(V).map(() => rng.float() * 0.01), target = Int32Array.of(77);
      const want = logits.slice(), got = logits.slice(), loss = new Float64Array(1);
      const wantLoss = crossEntropyForwardBackward(want, target, 1, V, 1);
      new NativeBackend({ simd, threads: 2 }).crossEntropy(got, target, 1, V, 1, loss);
      assert.ok(Math.abs(loss[0]! - wantLoss.sum) <= 1e-6 * wantLoss.sum, `loss ${loss[0]} vs ${wantLoss.sum}`);
      assertClose('dlogits', got, want, V, 1e-5, 1e-12);
    });

    for (const [rows, D] of [[1, 3], [5, 192], [130, 37], [200, 64]] as const) {
      it(`${simd}: RMSNorm forward with saved statistics and backward, ${rows}×${D}`, () => {
        const rng = new Rng(rows * 7 + D), n = rows * D;
        const x = randomF32(rng, n, 3), w = randomF32(rng, D), dy = randomF32(rng, n), dx0 = randomF32(rng, n), dw0 = randomF32(rng, D);
        const wantOut = new Float32Array(n), wantRstd = new Float64Array(rows);
        rmsNormForward(wantOut, wantRstd, x, w, rows, D, 1e-5);
        const wantDx = Float32Array.from(dx0.subarray(0, n)), wantDw = Float32Array.from(dw0.subarray(0, D));
        rmsNormBackward(wantDx, wantDw, dy, x, w, wantRstd, rows, D);
        const outs = sameForAnyThreads(simd, (be) => {
          const out = zerosF32(n), rstd = new Float64Array(rows), dx = Float32Array.from(dx0), dw = Float32Array.from(dw0);
          be.rmsNormTrain(out, rstd, x, w, rows, D, 1e-5);
          rstd.forEach((s, r) => assert.ok(Math.abs(s - wantRstd[r]!) <= 1e-6 * wantRstd[r]!, `rstd[${r}] ${s} vs ${wantRstd[r]}`));
          be.rmsNormBackward(dx, dw, dy, x, w, wantRstd, rows, D);
          assertGuardIntact('out', out, n); assertGuardIntact('dx', dx, n); assertGuardIntact('dw', dw, D);
          return [out, dx, dw];
        });
        assertClose('out', outs[0]!, wantOut, n, 1e-5, 1e-6);
        assertClose('dx', outs[1]!, wantDx, n, 1e-4, 1e-5);
        assertClose('dw', outs[2]!, wantDw, D, 1e-4, 1e-4);
      });
    }

    for (const [rows, D, offset] of [[1, 3, 0], [5, 192, 0], [130, 37, 0], [70, 64, 500]] as const) {
      it(`${simd}: LayerNorm forward with saved statistics and backward, ${rows}×${D}${offset ? `, rows offset by ${offset}` : ''}`, () => {
        const rng = new Rng(rows * 11 + D), n = rows * D;
        const x = randomF32(rng, n, 3);
        for (let i = 0; i < n; i++) x[i]! += offset; // a large offset: the statistics must keep the spread
        const w = randomF32(rng, D), b = randomF32(rng, D), dy = randomF32(rng, n), dx0 = randomF32(rng, n), dw0 = randomF32(rng, D), db0 = randomF32(rng, D);
        const wantOut = new Float32Array(n), wantMean = new Float64Array(rows), wantRstd = new Float64Array(rows);
        layerNormForward(wantOut, wantMean, wantRstd, x, w, b, rows, D, 1e-5);
        const wantDx = Float32Array.from(dx0.subarray(0, n)), wantDw = Float32Array.from(dw0.subarray(0, D)), wantDb = Float32Array.from(db0.subarray(0, D));
        layerNormBackward(wantDx, wantDw, wantDb, dy, x, w, wantMean, wantRstd, rows, D);
        const outs = sameForAnyThreads(simd, (be) => {
          const out = zerosF32(n), mean = new Float64Array(rows), rstd = new Float64Array(rows);
          const dx = Float32Array.from(dx0), dw = Float32Array.from(dw0), db = Float32Array.from(db0);
          be.layerNormTrain(out, mean, rstd, x, w, b, rows, D, 1e-5);
          mean.forEach((m, r) => assert.ok(Math.abs(m - wantMean[r]!) <= 1e-6 * (Math.abs(wantMean[r]!) + 1), `mean[${r}] ${m} vs ${wantMean[r]}`));
          rstd.forEach((s, r) => assert.ok(Math.abs(s - wantRstd[r]!) <= 1e-4 * wantRstd[r]!, `rstd[${r}] ${s} vs ${wantRstd[r]}`));
          be.layerNormBackward(dx, dw, db, dy, x, w, wantMean, wantRstd, rows, D);
          for (const [name, a, len] of [['out', out, n], ['dx', dx, n], ['dw', dw, D], ['db', db, D]] as const) assertGuardIntact(name, a, len);
          return [out, dx, dw, db];
        });
        assertClose('out', outs[0]!, wantOut, n, 1e-4, 1e-4);
        assertClose('dx', outs[1]!, wantDx, n, 1e-4, 1e-4);
        assertClose('dw', outs[2]!, wantDw, D, 1e-4, 1e-3);
        assertClose('db', outs[3]!, wantDb, D, 1e-4, 1e-4);
      });
    }
  }

  it('RMSNorm and LayerNorm forwards for training: finite rows whose squares overflow float32 match the twins (every SIMD path)', () => {
    // The float32 sums overflowed above ~1.8e19 (rstd 0, outputs 0, bias or NaN); such rows now run in float64.
    const rows = 3, D = 37, n = rows * D, rng = new Rng(17);
    const x = randomF32(rng, n, 2), w = randomF32(rng, D), b = randomF32(rng, D);
    for (let i = 0; i < D; i++) { x[D + i] = (rng.float() * 2 - 1) * 5e25; x[2 * D + i] = (i % 2 ? -3e38 : 2e38) + i * 1e36; }
    const wantOut = new Float32Array(n), wantRstd = new Float64Array(rows), wantLn = new Float32Array(n), wantMean = new Float64Array(rows), wantLnRstd = new Float64Array(rows);
    rmsNormForward(wantOut, wantRstd, x, w, rows, D, 1e-5);
    layerNormForward(wantLn, wantMean, wantLnRstd, x, w, b, rows, D, 1e-5);
    for (const simd of simdPaths()) {
      const [out, ln] = sameForAnyThreads(simd, (be) => {
        const out = zerosF32(n), rstd = new Float64Array(rows), ln = zerosF32(n), mean = new Float64Array(rows), lnRstd = new Float64Array(rows);
        be.rmsNormTrain(out, rstd, x, w, rows, D, 1e-5);
        be.layerNormTrain(ln, mean, lnRstd, x, w, b, rows, D, 1e-5);
        rstd.forEach((s, r) => assert.ok(Math.abs(s - wantRstd[r]!) <= 1e-6 * wantRstd[r]!, `${simd} rstd[${r}] ${s} vs ${wantRstd[r]}`));
        mean.forEach((m, r) => assert.ok(Math.abs(m - wantMean[r]!) <= 1e-6 * (Math.abs(wantMean[r]!) + 1), `${simd} mean[${r}] ${m} vs ${wantMean[r]}`));
        lnRstd.forEach((s, r) => assert.ok(Math.abs(s - wantLnRstd[r]!) <= 1e-4 * wantLnRstd[r]!, `${simd} layerNorm rstd[${r}] ${s} vs ${wantLnRstd[r]}`));
        return [out, ln];
      });
      assertClose(`${simd} rmsNormTrain out`, out!, wantOut, n, 1e-5, 1e-6);
      assertClose(`${simd} layerNormTrain out`, ln!, wantLn, n, 1e-4, 1e-4);
    }
  });

  it('RMSNorm and LayerNorm forwards for training with eps = 0: rows of tiny values match the twins exactly (every SIMD path)', () => {
    // The float32 squares underflowed (|x| ≈ 1e-25 squares to 0), so with eps = 0 the outputs and rstd were Infinity.
    const rows = 2, D = 37, n = rows * D;
    const x = new Float32Array(n).map((_, i) => (i % 2 ? -1 : 1) * (1 + (i % D) / 8) * (i < D ? 1e-25 : 1e-21));
    const w = new Float32Array(D).map((_, i) => 0.5 + i / D), b = new Float32Array(D).map((_, i) => i / 100);
    const wantOut = new Float32Array(n), wantRstd = new Float64Array(rows), wantLn = new Float32Array(n), wantMean = new Float64Array(rows), wantLnRstd = new Float64Array(rows);
    rmsNormForward(wantOut, wantRstd, x, w, rows, D, 0);
    layerNormForward(wantLn, wantMean, wantLnRstd, x, w, b, rows, D, 0);
    assert.ok(wantOut.every(Number.isFinite) && wantRstd.every(Number.isFinite), 'the twin is finite');
    for (const simd of simdPaths()) {
      sameForAnyThreads(simd, (be) => {
        const out = new Float32Array(n), rstd = new Float64Array(rows), ln = new Float32Array(n), mean = new Float64Array(rows), lnRstd = new Float64Array(rows);
        be.rmsNormTrain(out, rstd, x, w, rows, D, 0);
        be.layerNormTrain(ln, mean, lnRstd, x, w, b, rows, D, 0);
        assert.deepEqual([out, rstd], [wantOut, wantRstd], `${simd} rmsNormTrain`);
        assert.deepEqual([ln, mean, lnRstd], [wantLn, wantMean, wantLnRstd], `${simd} layerNormTrain`);
        return [out, ln];
      });
    }
  });

  it('the ops route float32 calls through backendGemm(native).rows, float64 and the TypeScript backend stay in TypeScript', () => {
    const be = new NativeBackend();
    const rows = backendGemm(be).rows!;
    assert.ok(rows, 'the native backend lends its row kernels');
    assert.equal(backendGemm(new JsBackend()).rows, undefined, 'the TypeScript backend has none');
    let calls = 0;
    const counted = Object.fromEntries(Object.entries(rows).map(([k, f]) => [k, (...a: unknown[]) => { calls++; return (f as (...x: unknown[]) => void)(...a); }])) as unknown as typeof rows;
    const n = 12, a = new Float32Array(n).fill(0.5), b = new Float32Array(n).fill(2), c = new Float32Array(n), d = new Float32Array(n);
    swigluForward(c, a, b, n, counted); swigluBackward(c, d, a, a, b, n, counted);
    geluForward(c, a, n, 'tanh', counted); geluBackward(c, a, a, n, 'tanh', counted);
    geluBackward(c, a, a, n, 'erf', counted); // no native erf backward: TypeScript
    rmsNormForward(c, new Float64Array(3), a, b.subarray(0, 4), 3, 4, 1e-5, counted);
    rmsNormBackward(c, d.subarray(0, 4), a, a, b.subarray(0, 4), new Float64Array(3).fill(1), 3, 4, counted);
    layerNormForward(c, new Float64Array(3), new Float64Array(3), a, b.subarray(0, 4), b.subarray(4, 8), 3, 4, 1e-5, counted);
    layerNormBackward(c, d.subarray(0, 4), d.subarray(4, 8), a, a, b.subarray(0, 4), new Float64Array(3), new Float64Array(3).fill(1), 3, 4, counted);
    const loss = crossEntropyForwardBackward(c, Int32Array.of(1, IGNORE, 3), 3, 4, 1, counted);
    assert.equal(calls, 9);
    assert.equal(loss.count, 2);
    const f64 = new Float64Array(n);
    swigluForward(f64, Float64Array.from(a), Float64Array.from(b), n, counted);
    assert.equal(calls, 9, 'float64 stays in TypeScript');
  });

  it('outputs that partly overlap an input, or each other, are refused before any kernel runs; exactly an input is not', () => {
    const n = 999, rows = 9, D = 111;
    const rng = new Rng(3), gate = randomF32(rng, n, 4), up = randomF32(rng, n), dout = randomF32(rng, n), w = randomF32(rng, D), b = randomF32(rng, D);
    for (const simd of simdPaths()) {
      const be = new NativeBackend({ simd, threads: 2 });
      const buf = new Float32Array(4 * n);
      const refused = (what: string, message: RegExp, call: () => void) => {
        const before = buf.slice();
        assert.throws(call, { name: 'RangeError', message }, `${simd} ${what}`);
        assert.deepEqual(buf, before, `${simd} ${what}: nothing written`);
      };
      buf.set(gate.subarray(0, n));
      const g = buf.subarray(0, n), g1 = buf.subarray(1), f = () => new Float32Array(n);
      refused('siluMulBackward', /^dgate must not overlap gate unless it is gate itself$/, () => be.siluMulBackward(g1, f(), dout, g, up, n));
      refused('siluMulBackward', /^dup must not overlap dgate$/, () => be.siluMulBackward(buf.subarray(n), buf.subarray(2 * n - 1), dout, gate, up, n));
      refused('siluMulBackward', /^dup must not overlap dgate$/, () => be.siluMulBackward(g, g, dout, gate, up, n));
      refused('geluTanhBackward', /^dx must not overlap x unless it is x itself$/, () => be.geluTanhBackward(g1, dout, g, n));
      const x = buf.subarray(0, rows * D);
      refused('rmsNormTrain', /^out must not overlap x unless it is x itself$/, () => be.rmsNormTrain(buf.subarray(D), new Float64Array(rows), x, w, rows, D, 1e-5));
      refused('rmsNormTrain', /^rstd must not overlap x$/, () => be.rmsNormTrain(f(), new Float64Array(buf.buffer, 8, rows), x, w, rows, D, 1e-5));
      refused('rmsNormBackward', /^dx must not overlap dy$/, () => be.rmsNormBackward(x, new Float32Array(D), x, up, w, new Float64Array(rows).fill(1), rows, D));
      refused('rmsNormBackward', /^dw must not overlap dx$/, () => be.rmsNormBackward(x, buf.subarray(rows * D - 1), dout, up, w, new Float64Array(rows).fill(1), rows, D));
      refused('layerNormTrain', /^out must not overlap x unless it is x itself$/, () => be.layerNormTrain(buf.subarray(1), new Float64Array(rows), new Float64Array(rows), x, w, b, rows, D, 1e-5));
      refused('layerNormBackward', /^dx must not overlap x$/, () => be.layerNormBackward(x, new Float32Array(D), new Float32Array(D), dout, x, w, new Float64Array(rows), new Float64Array(rows).fill(1), rows, D));
      refused('crossEntropy', /^rowLoss must not overlap logits$/, () => be.crossEntropy(x, new Int32Array(rows), rows, D, 1, new Float64Array(buf.buffer, 16, rows)));

      // In place on exactly an input: the results of separate buffers, bit for bit.
      const dg = new Float32Array(n), du = new Float32Array(n), dx = new Float32Array(n);
      be.siluMulBackward(dg, du, dout, gate, up, n);
      be.geluTanhBackward(dx, dout, gate, n);
      let a = gate.slice(0, n), c = up.slice(0, n);
      be.siluMulBackward(a, c, dout, a, c, n);
      assert.deepEqual([a, c], [dg, du], `${simd}: siluMulBackward into gate and up`);
      a = gate.slice(0, n);
      be.geluTanhBackward(a, dout, a, n);
      assert.deepEqual(a, dx, `${simd}: geluTanhBackward into x`);
      const out = new Float32Array(rows * D), rstd = new Float64Array(rows);
      be.rmsNormTrain(out, rstd, gate, w, rows, D, 1e-5);
      a = gate.slice(0, rows * D);
      be.rmsNormTrain(a, new Float64Array(rows), a, w, rows, D, 1e-5);
      assert.deepEqual(a, out, `${simd}: rmsNormTrain in place`);
    }
  });

  it('misuse is a RangeError or TypeError before any kernel runs', () => {
    const be = new NativeBackend(), f = new Float32Array(12), d = new Float64Array(3);
    assert.throws(() => be.crossEntropy(f, Int32Array.of(0, 4, 1), 3, 4, 1, d), /target 4 at row 1 is outside the vocabulary/);
    assert.throws(() => be.crossEntropy(f, Int32Array.of(0, -2, 1), 3, 4, 1, d), RangeError);
    assert.throws(() => be.crossEntropy(f, Int32Array.of(0, 1), 3, 4, 1, d), RangeError, 'targets too short');
    assert.throws(() => be.crossEntropy(f, Int32Array.of(0, 1, 2), 3, 4, 1, new Float64Array(2)), RangeError, 'rowLoss too short');
    assert.throws(() => be.crossEntropy(f, Int32Array.of(0, 1, 2), 3, 4, NaN, d), RangeError, 'gradScale NaN');
    assert.throws(() => be.siluMulBackward(f, f, f, f, f, 13), RangeError);
    assert.throws(() => be.rmsNormTrain(f, new Float64Array(2), f, f, 3, 4, 1e-5), RangeError, 'rstd too short');
    assert.throws(() => be.rmsNormBackward(f, f, f, f, f, new Float32Array(3) as unknown as Float64Array, 3, 4), TypeError);
  });
});
