// Each NAMM stage against values worked out independently (float64 formulas written out here, or by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { JsBackend } from '../../src/tensor/js.js';
import { HANN_WINDOW, N_BINS, stftMagnitudes, frameMagnitudes } from '../../src/memory/namm/stft.js';
import { emaFrameWeights, emaOldStateDecay, firstFrameOfNewToken, foldEma } from '../../src/memory/namm/ema.js';
import { recencyEmbedding, RECENCY_TABLE_MAX } from '../../src/memory/namm/recency.js';
import { FeatureNormalizer, NormAccumulator } from '../../src/memory/namm/normalize.js';
import { BamScorer } from '../../src/memory/namm/bam.js';
import { MlpScorer } from '../../src/memory/namm/mlp.js';
import { NAMM_PARAM_COUNT, zeroNammParams } from '../../src/memory/namm/params.js';
import { FLT_MAX, selectTokens } from '../../src/memory/namm/selection.js';

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

/** |Σ_m w[m] x[16t+m] e^{−2πifm/32}| in float64, with the periodic Hann window from its formula. */
function dftFrame(x: ArrayLike<number>, start: number, f: number): number {
  let re = 0, im = 0;
  for (let m = 0; m < 32; m++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * m) / 32);
    re += w * x[start + m]! * Math.cos((2 * Math.PI * f * m) / 32);
    im -= w * x[start + m]! * Math.sin((2 * Math.PI * f * m) / 32);
  }
  return Math.hypot(re, im);
}

test('periodic Hann window: w[0] = 0, w[8] = 0.5, w[16] = 1, w[24] = 0.5', () => {
  assert.equal(HANN_WINDOW.length, 32);
  assert.equal(HANN_WINDOW[0], 0);
  close(HANN_WINDOW[8]!, 0.5, 1e-7, 'w8');
  assert.equal(HANN_WINDOW[16], 1);
  close(HANN_WINDOW[24]!, 0.5, 1e-7, 'w24');
  close(HANN_WINDOW[31]!, 0.5 - 0.5 * Math.cos((2 * Math.PI * 31) / 32), 1e-7, 'w31');
});

test('STFT of a constant: bin 0 = Σw = 16, bin 1 = 8 (Hann leaks into the neighbour), others 0', () => {
  const s = stftMagnitudes(new Float32Array(48).fill(1));
  assert.equal(s.length, 2 * N_BINS);
  for (let t = 0; t < 2; t++) {
    close(s[t * N_BINS]!, 16, 1e-6, 'dc');
    close(s[t * N_BINS + 1]!, 8, 1e-6, 'bin1');
    for (let f = 2; f < N_BINS; f++) assert.ok(Math.abs(s[t * N_BINS + f]!) < 1e-5, `bin ${f}`);
  }
});

test('STFT frames of a cosine at bin 5 and of random signals match a float64 DFT', () => {
  const cosine = Float32Array.from({ length: 528 }, (_, n) => Math.cos((2 * Math.PI * 5 * n) / 32));
  const s = stftMagnitudes(cosine);
  assert.equal(s.length, 32 * N_BINS);
  // Hann on an integer-bin cosine: 8 at bin 5, 4 at bins 4 and 6.
  close(s[5]!, 8, 1e-5, 'bin5'); close(s[4]!, 4, 1e-5, 'bin4'); close(s[6]!, 4, 1e-5, 'bin6');
  const rng = new Rng(7);
  const sig = Float32Array.from({ length: 528 }, () => rng.float() * 0.01);
  const r = stftMagnitudes(sig);
  for (let t = 0; t < 32; t++) for (let f = 0; f < N_BINS; f++) close(r[t * N_BINS + f]!, dftFrame(sig, 16 * t, f), 1e-6, `t${t} f${f}`);
});

test('frameMagnitudes reads the two 16-sample halves from separate buffers and accumulates with a scale', () => {
  const rng = new Rng(3);
  const a = Float32Array.from({ length: 16 }, () => rng.normal());
  const b = Float32Array.from({ length: 16 }, () => rng.normal());
  const both = [...a, ...b];
  const out = new Float64Array(N_BINS).fill(1);
  assert.equal(frameMagnitudes(a, 0, b, 0, out, 0, 0.25, true), true);
  for (let f = 0; f < N_BINS; f++) close(out[f]!, 1 + 0.25 * dftFrame(both, 0, f), 1e-6, `f${f}`);
  const zeros = new Float32Array(16);
  assert.equal(frameMagnitudes(zeros, 0, zeros, 0, out, 0, 1, true), false);
});

test('EMA frame weights: (1−a)·a^{31−t} with a = 0.99^16; old state decays by 0.99^512', () => {
  const w = emaFrameWeights(32);
  const a = 0.99 ** 16;
  close(a, 0.851458, 1e-6, 'a');
  for (let t = 0; t < 32; t++) assert.equal(w[t], Math.fround((1 - a) * a ** (31 - t)));
  close(w[31]!, 0.148542, 1e-5, 'newest frame');
  close(emaOldStateDecay(512), 0.005824, 1e-3, 'γ^512');
  assert.equal(emaOldStateDecay(512), Math.fround(0.99 ** 512));
  // A token present for all 32 frames with unit magnitudes gets 1 − a^32 = 1 − γ^512 in total.
  let sum = 0;
  for (let t = 0; t < 32; t++) sum += w[t]!;
  close(sum, 1 - 0.99 ** 512, 1e-6, 'Σw');
  assert.equal(firstFrameOfNewToken(0), 0); assert.equal(firstFrameOfNewToken(15), 0);
  assert.equal(firstFrameOfNewToken(16), 1); assert.equal(firstFrameOfNewToken(511), 31);
  assert.throws(() => emaFrameWeights(0), /positive frame count/);
  assert.throws(() => emaFrameWeights(4, 1), /coefficient/);
});

test('foldEma: old rows decay and add, new rows take the window sum', () => {
  const old = Float32Array.from([1, 2, 3, 4]); // 2 rows × 2 bins
  const acc = Float64Array.from([0.5, 0.5, 1, 1, 7, 8]);
  const e = foldEma(old, 2, acc, 3, 2, 0.5);
  assert.deepEqual(Array.from(e), [1, 1.5, 2.5, 3, 7, 8]);
  assert.throws(() => foldEma(null, 1, acc, 3, 2, 0.5), /fewer rows/);
});

test('recency embedding: float64 sin/cos of r·50000^{−i/4}, rounded to float32; newest r = 0', () => {
  const out = new Float32Array(8);
  recencyEmbedding(0, out);
  assert.deepEqual(Array.from(out), [0, 0, 0, 0, 1, 1, 1, 1]);
  for (const r of [1, 37, 1000, 32768]) {
    recencyEmbedding(r, out);
    const omegas = [1, 50000 ** -0.25, 50000 ** -0.5, 50000 ** -0.75];
    omegas.forEach((w, i) => {
      assert.equal(out[i], Math.fround(Math.sin(r * w)), `sin r=${r} i=${i}`);
      assert.equal(out[4 + i], Math.fround(Math.cos(r * w)), `cos r=${r} i=${i}`);
    });
  }
  close(50000 ** -0.25, 0.066874, 1e-5, 'ω1');
  assert.throws(() => recencyEmbedding(RECENCY_TABLE_MAX + 1, out), /exceeds the reference table/);
  recencyEmbedding(RECENCY_TABLE_MAX + 1, out, 0, 'extend');
  assert.equal(out[0], Math.fround(Math.sin(RECENCY_TABLE_MAX + 1)));
  assert.throws(() => recencyEmbedding(-1, out), /non-negative/);
});

test('normalisation: (E − μ)/max(σ, 1e-7) per bin; the accumulator pools batches like one big batch', () => {
  const rng = new Rng(11);
  const rows = [5, 1, 12];
  const batches = rows.map((n) => Float32Array.from({ length: n * 17 }, () => rng.float() * 3 - 1));
  const acc = new NormAccumulator();
  const half = new NormAccumulator();
  batches.forEach((b, i) => (i < 2 ? acc : half).addRows(b, rows[i]!));
  acc.merge(half);
  const all = batches.flatMap((b) => Array.from(b));
  const n = all.length / 17;
  const stats = acc.toStats()!;
  assert.equal(stats.count, n);
  for (let f = 0; f < 17; f++) {
    let m = 0;
    for (let r = 0; r < n; r++) m += all[r * 17 + f]!;
    m /= n;
    let v = 0;
    for (let r = 0; r < n; r++) v += (all[r * 17 + f]! - m) ** 2;
    v /= n;
    close(stats.mean[f]!, m, 1e-6, `mean ${f}`);
    close(stats.variance[f]!, v, 1e-6, `var ${f}`);
  }
  const mean = new Float32Array(17).fill(0.5), variance = new Float32Array(17).fill(4);
  variance[3] = 0; // σ = 0 → divisor 1e-7
  const norm = new FeatureNormalizer({ mean, variance, count: 10 });
  const raw = new Float32Array(17).fill(2.5);
  const out = new Float32Array(20);
  norm.apply(raw, 0, out, 3);
  close(out[3]!, 1, 1e-7, 'bin 0');
  close(out[3 + 3]!, 2 / 1e-7, 1e-6, 'σ = 0 bin');
  assert.equal(new NormAccumulator().toStats(), null);
  assert.throws(() => new FeatureNormalizer({ mean, variance: new Float32Array(17).fill(NaN), count: 1 }), /variance\[0\]/);
});

/** BAM in float64, written from spec §3 with the flat layout indices spelled out. */
function bamReference(p: Float32Array, x: number[][]): number[] {
  const n = x.length, D = 25, Hd = 32;
  const qkv = x.map((row) => Array.from({ length: 96 }, (_, o) => {
    let s = p[2400 + o]!;
    for (let i = 0; i < D; i++) s += row[i]! * p[i * 96 + o]!;
    return s;
  }));
  return x.map((row, i) => {
    const logits: number[] = [];
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let c = 0; c < Hd; c++) s += qkv[i]![c]! * qkv[j]![32 + c]!;
      logits.push(s / Math.sqrt(32));
    }
    const mx = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - mx));
    const z = e.reduce((a, b) => a + b, 0);
    const o = Array.from({ length: Hd }, (_, c) => e.reduce((acc, ej, jj) => acc + (ej / z) * qkv[i + jj]![64 + c]!, 0));
    const y = Array.from({ length: 50 }, (_, c) => {
      let s = p[4096 + c]!;
      for (let h = 0; h < Hd; h++) s += o[h]! * p[2496 + h * 50 + c]!;
      return s;
    });
    let score = p[4171]!;
    for (let d = 0; d < D; d++) score += (row[d]! * (1 + y[25 + d]!) + y[d]!) * p[4146 + d]!;
    return score;
  });
}

test('BAM: a token whose features are not finite spoils the scores of the tokens that see it, and no others (loops and backend GEMMs)', () => {
  // The blocked path's product of a 64-row block weighed the masked key by 0, and 0·NaN spoiled every row of the block.
  const rng = new Rng(22);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.2);
  const n = 100, bad = 40;
  const x = Float32Array.from({ length: n * 25 }, () => rng.normal());
  for (const scorer of [new BamScorer(params), new BamScorer(params, new JsBackend())]) {
    const clean = new Float32Array(n);
    scorer.score(x, n, clean);
    for (const value of [NaN, Infinity]) {
      const y = x.slice();
      y[bad * 25 + 3] = value;
      const got = new Float32Array(n);
      scorer.score(y, n, got);
      for (let i = bad + 1; i < n; i++) assert.equal(got[i], clean[i], `${value}: row ${i}`);
      for (let i = 0; i <= bad; i++) assert.ok(!Number.isFinite(got[i]!), `${value}: row ${i} sees token ${bad}, got ${got[i]}`);
    }
  }
});

test('BAM forward on random parameters matches a float64 re-implementation (loops and backend GEMMs)', () => {
  const rng = new Rng(21);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.2);
  for (const n of [1, 2, 5, 70, 131]) {
    const x = Array.from({ length: n }, () => Array.from({ length: 25 }, () => Math.fround(rng.normal())));
    const flat = Float32Array.from(x.flat());
    const want = bamReference(params, x);
    for (const scorer of [new BamScorer(params), new BamScorer(params, new JsBackend())]) {
      const got = new Float32Array(n);
      scorer.score(flat, n, got);
      for (let i = 0; i < n; i++) close(got[i]!, want[i]!, 2e-5, `n=${n} token ${i}`);
    }
  }
  // The backward mask: the newest token attends only to itself, so its score ignores every older token.
  const one = Array.from({ length: 25 }, () => Math.fround(rng.normal()));
  const solo = new Float32Array(1), many = new Float32Array(4);
  const b = new BamScorer(params);
  b.score(Float32Array.from(one), 1, solo);
  b.score(Float32Array.from([...Array.from({ length: 75 }, () => rng.normal()), ...one]), 4, many);
  close(many[3]!, solo[0]!, 1e-6, 'newest token sees only itself');
});

test('BAM with all-zero parameters scores 0; the final bias alone shifts every score', () => {
  const p = zeroNammParams();
  const x = Float32Array.from({ length: 10 * 25 }, (_, i) => Math.sin(i));
  const out = new Float32Array(10);
  new BamScorer(p).score(x, 10, out);
  assert.deepEqual(Array.from(out), new Array(10).fill(0));
  p[4171] = -3;
  new BamScorer(p).score(x, 10, out);
  assert.deepEqual(Array.from(out), new Array(10).fill(-3));
  assert.throws(() => new BamScorer(new Float32Array(10)), /4172 parameters/);
});

test('MLP scorer: a bias-free linear map of the 25 features', () => {
  const w = Float32Array.from({ length: 25 }, (_, i) => (i % 3) - 1);
  const x = Float32Array.from({ length: 50 }, (_, i) => i * 0.5);
  const out = new Float32Array(2);
  new MlpScorer(w).score(x, 2, out);
  for (let r = 0; r < 2; r++) {
    let s = 0;
    for (let d = 0; d < 25; d++) s += ((d % 3) - 1) * (r * 25 + d) * 0.5;
    assert.equal(out[r], s);
  }
});

test('selection, minimum over heads: d = min_h #(s < 0); each head keeps its n − d best, in order', () => {
  // Head 0 wants to drop 3 (indices 1, 2, 4), head 1 wants to drop 2 (indices 0, 3): d = 2.
  const h0 = Float32Array.from([0.5, -1, -3, 0.2, -2, 9]);
  const h1 = Float32Array.from([-0.5, 1, 3, -0.2, 2, -9]); // the newest (-9) is forced kept
  const keep = selectTokens([h0, h1], [6, 6], { mode: 'min-over-heads' });
  assert.deepEqual(Array.from(keep[0]!), [0, 1, 3, 5]); // drops the two lowest: -3 (2) and -2 (4); keeps -1
  assert.deepEqual(Array.from(keep[1]!), [1, 2, 4, 5]);
  // Ties at 0 are kept; equal negative scores go oldest first (stable).
  const ties = selectTokens([Float32Array.from([0, -1, -1, 0]), Float32Array.from([-1, 5, 5, -7])], [4, 4], { mode: 'min-over-heads' });
  assert.deepEqual(Array.from(ties[0]!), [0, 2, 3]);
  assert.deepEqual(Array.from(ties[1]!), [1, 2, 3]);
});

test('selection, per head: each head drops exactly its own negative scores (ragged)', () => {
  const h0 = Float32Array.from([0.5, -1, -3, 0.2, -2, 9]);
  const h1 = Float32Array.from([-0.5, 1, 3, -0.2, 2, -9]);
  const keep = selectTokens([h0, h1.subarray(0, 5), h1], [6, 5, 6], { mode: 'per-head' });
  assert.deepEqual(Array.from(keep[0]!), [0, 3, 5]);
  assert.deepEqual(Array.from(keep[1]!), [1, 2, 4]); // 5 tokens: the newest is index 4
  assert.deepEqual(Array.from(keep[2]!), [1, 2, 4, 5]);
});

test('selection with cacheSize: top-k first, then the threshold rule', () => {
  const s = Float32Array.from([5, 4, -1, 3, 2, 1]);
  assert.deepEqual(Array.from(selectTokens([s], [6], { mode: 'min-over-heads', cacheSize: 3 })[0]!), [0, 1, 5]);
  assert.deepEqual(Array.from(selectTokens([s], [6], { mode: 'min-over-heads', cacheSize: 10 })[0]!), [0, 1, 3, 4, 5]);
  assert.throws(() => selectTokens([s], [6], { mode: 'per-head', cacheSize: 0 }), /cacheSize/);
  assert.equal(FLT_MAX, 3.4028234663852886e38);
});
