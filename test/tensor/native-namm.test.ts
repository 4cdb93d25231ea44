/**
 * The native NAMM kernels against their TypeScript twins, on every SIMD path this CPU has:
 * stftAccumulate (one spectrogram frame for many rows) vs stftAccumulateTs, and bamScores vs BamScorer's float64
 * loops; thread-count invariance (bit-identical); keep lists; argument checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeBackend } from '../../src/tensor/native.js';
import { stftAccumulateTs, stftAccIndex, stftAccSize, N_BINS, HOP } from '../../src/memory/namm/stft.js';
import { BamScorer } from '../../src/memory/namm/bam.js';
import { selectTokens } from '../../src/memory/namm/selection.js';
import { NAMM_PARAM_COUNT } from '../../src/memory/namm/index.js';
import { Rng } from '../../src/util/rng.js';
import { simdPaths, skipNative } from './native-fixtures.js';

/** Query-major blocks [16, ld] of attention-like values (non-negative, some rows all zero). */
function blocks(rng: Rng, ld: number, rows: number): { prev: Float32Array; cur: Float32Array } {
  const prev = new Float32Array(HOP * ld), cur = new Float32Array(HOP * ld);
  for (let r = 0; r < rows; r++) {
    if (r % 11 === 5) continue; // an all-zero row
    for (let m = 0; m < HOP; m++) {
      prev[m * ld + r] = rng.float() * 0.2;
      cur[m * ld + r] = rng.float() * 0.2;
    }
  }
  // Values past `rows` in each slot must be ignored.
  for (let m = 0; m < HOP; m++) for (let r = rows; r < ld; r++) { prev[m * ld + r] = 99; cur[m * ld + r] = -99; }
  return { prev, cur };
}

function bamInputs(rng: Rng, n: number): { params: Float32Array; x: Float32Array } {
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.15);
  // Features like the policy's: recency sin/cos in [−1, 1], normalised EMA of order 1.
  const x = Float32Array.from({ length: n * 25 }, (_, i) => (i % 25 < 8 ? Math.sin(i * 0.37) : rng.normal()));
  return { params, x };
}

describe('native NAMM kernels', { skip: skipNative }, () => {
  for (const simd of simdPaths()) {
    it(`stftAccumulate matches the TypeScript twin (${simd})`, () => {
      const be = new NativeBackend({ threads: 2, simd });
      const rng = new Rng(7);
      for (const rows of [0, 1, 7, 8, 9, 16, 17, 33, 515, 3000]) {
        const ld = rows + 13;
        const { prev, cur } = blocks(rng, ld, rows);
        const init = Float32Array.from({ length: stftAccSize(ld) }, () => rng.float());
        const got = init.slice(), want = init.slice();
        be.stftAccumulate(prev, cur, ld, rows, 0.0375, got);
        stftAccumulateTs(prev, cur, ld, rows, 0.0375, want);
        for (let f = 0; f < N_BINS; f++) {
          for (let r = 0; r < Math.ceil(ld / 16) * 16; r++) {
            const i = stftAccIndex(r, f);
            if (r >= rows) assert.equal(got[i], init[i], `rows ${rows}: acc[${f}, ${r}] past rows was written`);
            // float32 magnitudes: |X| ≤ 16·0.2, so 1e-6 absolute is ~60 ulp of the largest term; and the float32
            // accumulator: the twin rounds the exact sum once, the kernel the product then the sum (2⁻²³ of it).
            else assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-7 + 1e-6 * Math.abs(want[i]! - init[i]!) + 2 ** -23 * Math.abs(want[i]!), `rows ${rows}: acc[${f}, ${r}] ${got[i]} vs ${want[i]}`);
          }
        }
      }
    });

    it(`stftAccumulate is bit-identical for any thread count and row count (${simd})`, () => {
      const rng = new Rng(8);
      const ld = 4500, rows = 4321;
      const { prev, cur } = blocks(rng, ld, rows);
      const one = new Float32Array(stftAccSize(ld)), many = new Float32Array(stftAccSize(ld)), fewer = new Float32Array(stftAccSize(ld));
      new NativeBackend({ threads: 1, simd }).stftAccumulate(prev, cur, ld, rows, 0.5, one);
      new NativeBackend({ threads: 3, simd }).stftAccumulate(prev, cur, ld, rows, 0.5, many);
      // A row's result must not depend on where it falls in a register: rows − 3 shifts the tail group.
      new NativeBackend({ threads: 2, simd }).stftAccumulate(prev, cur, ld, rows - 3, 0.5, fewer);
      assert.deepEqual(many, one, 'threads 1 vs 3');
      for (let f = 0; f < N_BINS; f++) {
        for (let r = 0; r < rows - 3; r++) assert.equal(fewer[stftAccIndex(r, f)], one[stftAccIndex(r, f)], `row ${r} bin ${f} with ${rows - 3} rows`);
      }
    });

    it(`bamScores matches BamScorer's float64 loops on n = 1, 2, 17, 513, 3000 (${simd})`, () => {
      const be = new NativeBackend({ threads: 2, simd });
      const rng = new Rng(11);
      for (const n of [1, 2, 17, 513, 3000]) {
        const { params, x } = bamInputs(rng, n);
        const got = new Float32Array(n + 4).fill(-7), want = new Float32Array(n);
        be.bamScores(x, n, params, got);
        new BamScorer(params).score(x, n, want);
        for (let i = 0; i < n; i++) {
          assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * Math.max(1, Math.abs(want[i]!)), `n ${n}: score ${i} ${got[i]} vs ${want[i]}`);
        }
        for (let i = n; i < n + 4; i++) assert.equal(got[i], -7, `n ${n}: out[${i}] past n was written`);
      }
    });

    it(`bamScores keeps each softmax row exact where its logits span hundreds (row maxima at tile edges) (${simd})`, () => {
      // With features ×20 the logits of a row span hundreds of units, so a row maximum taken over too few keys
      // overflows 2^(s − max), and one taken over masked keys underflows every live key: either shows as a score
      // far from the float64 loops (or NaN). The sizes put the diagonal and the last key on every kind of tile edge.
      const be = new NativeBackend({ threads: 2, simd });
      const rng = new Rng(13);
      // 250, 600 and 1000 also span several key chunks (240 keys on AVX2), so a later chunk's larger maximum rescales
      // the sums taken so far.
      for (const n of [3, 23, 24, 25, 47, 49, 71, 97, 250, 600, 1000]) {
        const { params, x } = bamInputs(rng, n);
        for (let i = 0; i < x.length; i++) x[i] = x[i]! * 20;
        const got = new Float32Array(n), want = new Float32Array(n);
        be.bamScores(x, n, params, got);
        new BamScorer(params).score(x, n, want);
        for (let i = 0; i < n; i++) {
          assert.ok(Number.isFinite(got[i]!), `n ${n}: score ${i} is ${got[i]}`);
          assert.ok(Math.abs(got[i]! - want[i]!) <= 2e-3 * Math.max(1, Math.abs(want[i]!)), `n ${n}: score ${i} ${got[i]} vs ${want[i]}`);
        }
      }
    });

    it(`bamScores: a token whose features are not finite spoils the scores of the tokens that see it, and no others (${simd})`, () => {
      // The backward mask: token i sees the tokens j ≥ i. A NaN or an infinity in token 40's features reaches rows
      // 0..40 only; the newer rows score as they do with any other features there (a masked key weighed 0, and
      // 0·NaN carried NaN to the rest of its SIMD group, 8 or 16 keys).
      const be = new NativeBackend({ threads: 2, simd });
      const n = 100, bad = 40;
      const { params, x } = bamInputs(new Rng(14), n);
      // ×20: most rows' sums overflow and are done again row by row (the kernel's exact path), which masks on its own.
      for (const scale of [1, 20]) {
        const xs = x.map((v) => v * scale);
        const clean = new Float32Array(n);
        be.bamScores(xs, n, params, clean);
        for (const value of [NaN, Infinity, -Infinity]) {
          const y = xs.slice();
          y[bad * 25 + 3] = value;
          const got = new Float32Array(n);
          be.bamScores(y, n, params, got);
          for (let i = bad + 1; i < n; i++) assert.equal(got[i], clean[i], `×${scale}, ${value}: row ${i}`);
          for (let i = 0; i <= bad; i++) assert.ok(!Number.isFinite(got[i]!), `×${scale}, ${value}: row ${i} sees token ${bad}, got ${got[i]}`);
        }
      }
    });

    it(`bamScores is bit-identical for any thread count (${simd})`, () => {
      const rng = new Rng(12);
      const n = 1111;
      const { params, x } = bamInputs(rng, n);
      const a = new Float32Array(n), b = new Float32Array(n);
      new NativeBackend({ threads: 1, simd }).bamScores(x, n, params, a);
      new NativeBackend({ threads: 4, simd }).bamScores(x, n, params, b);
      assert.deepEqual(b, a, 'threads 1 vs 4');
    });
  }

  it('native and TypeScript BAM scores give the same keep lists (min over heads, no near-ties)', () => {
    const be = new NativeBackend({ threads: 2 });
    const rng = new Rng(21);
    const { params } = bamInputs(rng, 1);
    params[4171] = -0.2; // evict a good share
    const heads = 4, n = 700;
    const nat: Float32Array[] = [], ts: Float32Array[] = [];
    for (let h = 0; h < heads; h++) {
      const { x } = bamInputs(rng, n);
      const a = new Float32Array(n), b = new Float32Array(n);
      be.bamScores(x, n, params, a);
      new BamScorer(params).score(x, n, b);
      a[n - 1] = b[n - 1] = 3.4028234663852886e38; // the newest token is always kept
      nat.push(a); ts.push(b);
    }
    // No near-ties where it matters: no score near the threshold 0, and in every head the scores either side of
    // the cut (the d-th and d+1-th lowest, d = min over heads of the negatives) apart by more than 100× the kernels'
    // disagreement.
    for (const s of ts) for (const v of s) assert.ok(Math.abs(v) > 1e-4, `score ${v} too close to the threshold`);
    const d = Math.min(...ts.map((s) => s.filter((v) => v < 0).length));
    for (const s of ts) {
      const sorted = Array.from(s).sort((p, q) => p - q);
      if (d > 0) assert.ok(sorted[d]! - sorted[d - 1]! > 1e-5 * Math.max(1, Math.abs(sorted[d]!)), `near-tie at the cut: ${sorted[d - 1]} / ${sorted[d]}`);
    }
    const counts = new Int32Array(heads).fill(n);
    const keepNat = selectTokens(nat, counts, { mode: 'min-over-heads' });
    const keepTs = selectTokens(ts, counts, { mode: 'min-over-heads' });
    assert.ok(keepTs[0]!.length < n && keepTs[0]!.length > 1, 'the test evicts some but not all tokens');
    for (let h = 0; h < heads; h++) assert.deepEqual(Array.from(keepNat[h]!), Array.from(keepTs[h]!), `head ${h} keep list`);
  });

  it('argument checks: TypeErrors and RangeErrors naming the argument, nothing written', () => {
    const be = new NativeBackend({ threads: 2 });
    const f32 = (n: number) => new Float32Array(n);
    const acc = new Float32Array(stftAccSize(4)).fill(3); // one tile: 272 values
    assert.throws(() => be.stftAccumulate(new Float64Array(64) as never, f32(64), 4, 4, 1, acc), { name: 'TypeError', message: /prev must be a Float32Array/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 4, 1, new Float64Array(272) as never), { name: 'TypeError', message: /acc must be a Float32Array/ });
    assert.throws(() => be.stftAccumulate(f32(63), f32(64), 4, 4, 1, acc), { name: 'RangeError', message: /prev/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(60), 4, 4, 1, acc), { name: 'RangeError', message: /cur/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 4, 1, f32(271)), { name: 'RangeError', message: /acc/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 5, 1, acc), { name: 'RangeError', message: /rows/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), -1, 0, 1, acc), { name: 'RangeError', message: /ld/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 1.5, 1, acc), { name: 'RangeError', message: /rows/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 4, Number.NaN, acc), { name: 'RangeError', message: /weight/ });
    assert.throws(() => be.stftAccumulate(f32(64), f32(64), 4, 4, 'x' as never, acc), { name: 'TypeError', message: /weight/ });
    assert.ok(acc.every((v) => v === 3), 'a rejected call writes nothing');

    const out = f32(3).fill(5);
    const params = f32(NAMM_PARAM_COUNT);
    assert.throws(() => be.bamScores(f32(74), 3, params, out), { name: 'RangeError', message: /x/ });
    assert.throws(() => be.bamScores(f32(75), 3, f32(4171), out), { name: 'RangeError', message: /params/ });
    assert.throws(() => be.bamScores(f32(75), 3, params, f32(2)), { name: 'RangeError', message: /out/ });
    assert.throws(() => be.bamScores(f32(75), -3, params, out), { name: 'RangeError', message: /n/ });
    assert.throws(() => be.bamScores([0] as never, 0, params, out), { name: 'TypeError', message: /x must be a Float32Array/ });
    assert.throws(() => be.bamScores(f32(75), 3, new Float64Array(NAMM_PARAM_COUNT) as never, out), { name: 'TypeError', message: /params must be a Float32Array/ });
    assert.ok(out.every((v) => v === 5), 'a rejected call writes nothing');
    be.bamScores(f32(0), 0, params, f32(0)); // n = 0 is a no-op
  });
});
