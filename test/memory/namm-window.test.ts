/**
 * The allocation-free update path of the NAMM policy: a HeadWindow restarted in place gives exactly what a fresh
 * window built from carryFor gives (over many windows, odd chunk sizes, column maps, native and TypeScript
 * kernels); closeFeatures gives foldedEma's raw EMA; the policy returns the same keep lists with and without an
 * onUpdate callback (scratch buffers reused vs copies handed out); selection with Hoare's select agrees with a
 * stable sort.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeadWindow } from '../../src/memory/namm/buffer.js';
import { createNammPolicy, NAMM_PARAM_COUNT } from '../../src/memory/namm/index.js';
import { recencyTable } from '../../src/memory/namm/recency.js';
import { FLT_MAX, selectTokens, type NammSelection } from '../../src/memory/namm/selection.js';
import type { KeepLists } from '../../src/memory/policy.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { Rng } from '../../src/util/rng.js';
import { skipNative } from '../tensor/native-fixtures.js';

const U = 64;

/** Causal attention of `nQ` queries over `len` columns (the last nQ are the chunk's own tokens). */
function chunkAttention(rng: Rng, nQ: number, len: number): Float32Array {
  const a = new Float32Array(nQ * len);
  for (let i = 0; i < nQ; i++) {
    const vis = len - nQ + i + 1;
    let z = 0;
    for (let c = 0; c < vis; c++) { a[i * len + c] = Math.exp(2 * rng.normal()); z += a[i * len + c]!; }
    for (let c = 0; c < vis; c++) a[i * len + c] = a[i * len + c]! / z;
  }
  return a;
}

function runWindows(backend: NativeBackend | null, seed: number): void {
  const rng = new Rng(seed);
  let inPlace = new HeadWindow(U, 0, null, 0.99, backend);
  let fresh = new HeadWindow(U, 0, null, 0.99, backend);
  let rows = 0; // cache rows of the head
  let oldEma = new Float32Array(0);
  const decay = Math.fround(0.99 ** U);
  for (let w = 0; w < 7; w++) {
    while (!inPlace.complete) {
      const nQ = Math.min([1, 5, 16, 23, 40, 64, 100][Math.floor(rng.float() * 7)]!, U - inPlace.queries);
      rows += nQ;
      const att = chunkAttention(rng, nQ, rows);
      // Sometimes a column map (identity here), which forces the query-by-query path on both.
      const colMap = rng.float() < 0.2 ? Int32Array.from({ length: rows }, (_, r) => r) : null;
      inPlace.addQueries(att, 0, nQ, rows, colMap);
      fresh.addQueries(att, 0, nQ, rows, colMap);
    }
    assert.deepEqual(inPlace.accumulated(), fresh.accumulated(), `window ${w}: accumulators`);
    const n = inPlace.scoredRows;
    // Keep most rows at first (so the buffers must grow), then about half.
    const keep = Int32Array.from({ length: n }, (_, i) => i).filter((i) => i === n - 1 || rng.float() < (w < 3 ? 0.9 : 0.5));
    if (w % 2 === 0) {
      // Close the window through the features kernel (which clears the accumulator) before restarting.
      const positions = Int32Array.from({ length: n }, (_, i) => 3 * i);
      const raw = new Float32Array(n * 17), feat = new Float32Array(n * 25);
      inPlace.closeFeatures(oldEma, decay, positions, recencyTable(), null, raw, feat, 'error');
      assert.deepEqual(raw, fresh.foldedEma(oldEma, decay), `window ${w}: raw EMA`);
      oldEma = new Float32Array(keep.length * 17);
      keep.forEach((r, j) => oldEma.set(raw.subarray(r * 17, (r + 1) * 17), j * 17));
    } else {
      const raw = fresh.foldedEma(oldEma, decay);
      oldEma = new Float32Array(keep.length * 17);
      keep.forEach((r, j) => oldEma.set(raw.subarray(r * 17, (r + 1) * 17), j * 17));
    }
    inPlace.restart(keep);
    fresh = new HeadWindow(U, keep.length, fresh.carryFor(keep), 0.99, backend);
    rows = keep.length;
    assert.equal(inPlace.nOld, fresh.nOld);
    assert.equal(inPlace.rows, fresh.rows);
  }
}

test('HeadWindow.restart gives exactly what a fresh window from carryFor gives (TypeScript kernels)', () => {
  runWindows(null, 1);
  runWindows(null, 2);
});

test('HeadWindow.restart gives exactly what a fresh window from carryFor gives (native kernels)', { skip: skipNative }, () => {
  runWindows(new NativeBackend({ threads: 2 }), 3);
  runWindows(new NativeBackend({ threads: 1 }), 4);
});

test('HeadWindow.restart checks its keep list', () => {
  const win = new HeadWindow(16, 0, null, 0.99, null);
  assert.throws(() => win.restart(Int32Array.from([0])), /not complete/);
  for (let i = 0; i < 16; i++) win.addQuery(new Float32Array(i + 1).fill(1 / (i + 1)), 0, i + 1, null);
  assert.throws(() => win.restart(Int32Array.from([3, 3])), /strictly ascending/);
  assert.throws(() => win.restart(Int32Array.from([16])), /strictly ascending/);
  win.restart(Int32Array.from([2, 15]));
  assert.equal(win.nOld, 2);
  assert.equal(win.queries, 0);
});

/** A fake prefill + decode over 2 layers × 3 heads; returns every keep list the policy gave back. */
function drive(withCallback: boolean, backend: NativeBackend | null): { keeps: (KeepLists | null)[]; updates: number } {
  const rng = new Rng(9);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.15);
  params[4171] = -0.25;
  let updates = 0;
  const policy = createNammPolicy({ params, updateEvery: U, backend, ...(withCallback ? { onUpdate: () => { updates++; } } : {}) });
  const L = 2, H = 3;
  policy.reset({ nLayers: L, nKvHeads: H, headDim: 4 });
  const rows: number[][][] = Array.from({ length: L }, () => Array.from({ length: H }, () => []));
  const keeps: (KeepLists | null)[] = [];
  let total = 0;
  const att = new Rng(21);
  for (const nQ of [40, 40, 40, 100, 30, 1, 1, 1, 57, 64, 64, 9]) {
    for (let l = 0; l < L; l++) {
      const lens = new Int32Array(H), positions: Int32Array[] = [], attention: Float32Array[] = [];
      for (let h = 0; h < H; h++) {
        const r = rows[l]![h]!;
        for (let i = 0; i < nQ; i++) r.push(total + i);
        lens[h] = r.length;
        positions.push(Int32Array.from(r));
        attention.push(chunkAttention(att, nQ, r.length));
      }
      const keep = policy.observe({ layer: l, nQ, totalTokens: total + nQ, phase: 'prefill', endOfPrefill: false, lens, positions, keys: [], values: [], attention });
      keeps.push(keep ? keep.map((k) => k.slice()) : null);
      if (keep) for (let h = 0; h < H; h++) rows[l]![h] = Array.from(keep[h]!, (k) => rows[l]![h]![k]!);
    }
    total += nQ;
  }
  assert.equal(policy.work.scoredRows > 0, true);
  return { keeps, updates };
}

test('the policy gives the same keep lists with and without an onUpdate callback', () => {
  const a = drive(false, null), b = drive(true, null);
  assert.deepEqual(a.keeps, b.keeps);
  assert.ok(b.updates >= 6, 'several updates happened');
  assert.ok(a.keeps.some((k) => k !== null), 'something was evicted');
});

test('the policy gives the same keep lists with and without an onUpdate callback (native kernels)', { skip: skipNative }, () => {
  const be = new NativeBackend({ threads: 2 });
  assert.deepEqual(drive(false, be).keeps, drive(true, be).keeps);
});

test('selection: Hoare select gives the keep lists of a stable sort (ties, NaN, cacheSize, both modes)', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 1500; trial++) {
    const H = 1 + Math.floor(rng.float() * 4);
    const counts = Array.from({ length: H }, () => Math.floor(rng.float() * 60));
    const scores = counts.map((n) => Float32Array.from({ length: n }, () => {
      const u = rng.float();
      return u < 0.3 ? Math.round(rng.normal() * 2) / 2 : u < 0.35 ? Number.NaN : rng.normal();
    }));
    const mode: NammSelection = rng.float() < 0.5 ? 'min-over-heads' : 'per-head';
    const cacheSize = rng.float() < 0.3 ? 1 + Math.floor(rng.float() * 40) : undefined;
    const got = selectTokens(scores, counts, { mode, cacheSize });
    // Reference: keyed scores (NaN → +∞, newest → FLT_MAX), stable ascending sort, drop the first cut + d. The
    // reference's c_h counts, among the kept top-k, every score not ≥ 0: NaN too (kept itself, being sorted last);
    // 'per-head' (ours) counts the negatives alone.
    const keyed = scores.map((s, h) => { const k = Array.from(s, (v) => (v !== v ? Infinity : v)); if (counts[h]) k[counts[h]! - 1] = FLT_MAX; return k; });
    const cuts = counts.map((n) => (cacheSize !== undefined && n > cacheSize ? n - cacheSize : 0));
    const orders = keyed.map((k) => k.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]));
    const kept = orders.map((o, h) => o.slice(cuts[h]!).map((x) => x[1]).filter((i) => i !== counts[h]! - 1));
    const negatives = kept.map((ix, h) => ix.filter((i) => scores[h]![i]! < 0).length);
    // (Capped at the valid tokens kept: the newest and the NaNs are never dropped.)
    const notAtLeastZero = kept.map((ix, h) => Math.min(ix.filter((i) => scores[h]![i]! === scores[h]![i]!).length, ix.filter((i) => !(scores[h]![i]! >= 0)).length));
    const dMin = Math.min(...notAtLeastZero);
    keyed.forEach((k, h) => {
      const d = cuts[h]! + (mode === 'per-head' ? negatives[h]! : dMin);
      const order = orders[h]!;
      const drop = new Set(order.slice(0, d).map((x) => x[1]));
      assert.deepEqual(Array.from(got[h]!), k.map((_, i) => i).filter((i) => !drop.has(i)), `trial ${trial} head ${h}`);
    });
  }
});

test('selection: a NaN score is kept but counts as not ≥ 0 in min-over-heads, as the reference counts c', () => {
  // threshold_score_idxs: c = #(sorted scores not ≥ 0), and torch sorts NaN last, so the NaN token stays and one
  // more valid token goes. (It counted only the negatives: [0, 1, 2, 4] was kept.)
  const scores = [Float32Array.from([Number.NaN, 0.5, 0.2, -1, 0]), Float32Array.from([Number.NaN, 0.3, 0.1, -2, 0])];
  assert.deepEqual(selectTokens(scores, [5, 5], { mode: 'min-over-heads' }).map((k) => Array.from(k)), [[0, 1, 4], [0, 1, 4]]);
  // Ours, per head: each head drops its own negatives; a NaN is kept and not counted.
  assert.deepEqual(selectTokens(scores, [5, 5], { mode: 'per-head' }).map((k) => Array.from(k)), [[0, 1, 2, 4], [0, 1, 2, 4]]);
});
