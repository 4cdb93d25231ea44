/**
 * The NAMM policy on the native kernels against its TypeScript twins: HeadWindow (spectrogram accumulation,
 * carry-over, buffer hand-off) with the native stftAccumulate vs the TypeScript stftAccumulateTs, and the whole
 * policy with the native kernels vs the TypeScript backend (same keep lists, close features and scores).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeadWindow } from '../../src/memory/namm/buffer.js';
import { createNammPolicy, NAMM_PARAM_COUNT, type NammUpdateInfo } from '../../src/memory/namm/index.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { JsBackend } from '../../src/tensor/js.js';
import { Rng } from '../../src/util/rng.js';
import { skipNative } from '../tensor/native-fixtures.js';

/** A causal, row-normalised attention row of `vis` visible columns out of `len`. */
function attentionRow(rng: Rng, len: number, vis: number): Float32Array {
  const a = new Float32Array(len);
  let s = 0;
  for (let j = 0; j < vis; j++) { a[j] = Math.exp(2 * rng.normal()); s += a[j]!; }
  for (let j = 0; j < vis; j++) a[j] = a[j]! / s;
  return a;
}

/** Two windows (U = 64) of one head: the second starts from a filtered carry; returns both accumulators. */
function runWindows(backend: NativeBackend | null): { acc: Float64Array[]; carry: Float32Array } {
  const rng = new Rng(5);
  const U = 64;
  const out: Float64Array[] = [];
  let win = new HeadWindow(U, 0, null, 0.99, backend);
  for (let i = 0; i < U; i++) win.addQuery(attentionRow(rng, i + 1, i + 1), 0, i + 1, null);
  out.push(win.accumulated().slice());
  const keep = Int32Array.from({ length: 40 }, (_, i) => Math.floor((i * U) / 40));
  const carry = win.carryFor(keep);
  win = new HeadWindow(U, keep.length, carry, 0.99, backend);
  // The second window reads through a column map (as after an update earlier in the same chunk).
  for (let i = 0; i < U; i++) {
    const n = keep.length + i + 1;
    const colMap = Int32Array.from({ length: n }, (_, r) => n - 1 - r);
    const row = attentionRow(rng, n, n).reverse();
    win.addQuery(row, 0, n, colMap);
  }
  out.push(win.accumulated().slice());
  return { acc: out, carry };
}

test('HeadWindow: native stftAccumulate agrees with the TypeScript twin over two windows with carry-over', { skip: skipNative }, () => {
  const nat = runWindows(new NativeBackend({ threads: 2 }));
  const ts = runWindows(null);
  assert.deepEqual(nat.carry, ts.carry, 'the carry is a copy, identical on both paths');
  for (let w = 0; w < 2; w++) {
    const a = nat.acc[w]!, b = ts.acc[w]!;
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-6 * Math.max(1e-2, Math.abs(b[i]!)), `window ${w} acc[${i}]: ${a[i]} vs ${b[i]}`);
    }
    assert.ok(b.some((v) => v > 0), 'the accumulator is not trivially zero');
  }
});

test('HeadWindow: a window whose carry was adopted is retired', () => {
  const win = new HeadWindow(16, 0, null, 0.99, null);
  for (let i = 0; i < 16; i++) win.addQuery(new Float32Array(i + 1).fill(1 / (i + 1)), 0, i + 1, null);
  const carry = win.carryFor(Int32Array.from([3, 15]));
  const next = new HeadWindow(16, 2, carry, 0.99, null);
  assert.equal(next.nOld, 2);
  assert.throws(() => win.accumulated(), /handed its buffers/);
  assert.throws(() => win.carryFor(Int32Array.from([0])), /handed its buffers/);
  // A carry that did not come from carryFor is simply copied.
  const other = new HeadWindow(16, 2, new Float32Array(32).fill(0.5), 0.99, null);
  assert.equal(other.rows, 2);
});

/** Feeds a policy synthetic causal attention: 2 layers, 2 KV heads, chunks of 100 tokens, 1100 tokens. */
function drivePolicy(backend: NativeBackend | JsBackend, params: Float32Array): { infos: NammUpdateInfo[]; rows: number[][][] } {
  const infos: NammUpdateInfo[] = [];
  const policy = createNammPolicy({ params, backend, onUpdate: (i) => infos.push(i) });
  const L = 2, H = 2, CH = 100, T = 1100;
  policy.reset({ nLayers: L, nKvHeads: H } as never);
  const rows: number[][][] = Array.from({ length: L }, () => Array.from({ length: H }, () => [] as number[]));
  const rng = new Rng(17);
  for (let total = 0; total < T; total += CH) {
    const nQ = Math.min(CH, T - total);
    for (let l = 0; l < L; l++) {
      const lens = new Int32Array(H), positions: Int32Array[] = [], attention: Float32Array[] = [];
      for (let h = 0; h < H; h++) {
        const r = rows[l]![h]!;
        for (let i = 0; i < nQ; i++) r.push(total + i);
        const len = r.length;
        lens[h] = len;
        positions.push(Int32Array.from(r));
        const a = new Float32Array(nQ * len);
        for (let i = 0; i < nQ; i++) a.set(attentionRow(rng, len, len - nQ + i + 1), i * len);
        attention.push(a);
      }
      const keep = policy.observe({
        layer: l, nQ, totalTokens: total + nQ, phase: 'prefill', endOfPrefill: false, lens, positions, keys: [], values: [], attention,
      });
      if (keep) for (let h = 0; h < H; h++) rows[l]![h] = Array.from(keep[h]!, (k) => rows[l]![h]![k]!);
    }
  }
  return { infos, rows };
}

test('the policy on the native kernels matches the TypeScript backend: keep lists, features and scores', { skip: skipNative }, () => {
  const rng = new Rng(3);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.15);
  params[4171] = -0.3;
  const nat = drivePolicy(new NativeBackend({ threads: 2 }), params);
  const ts = drivePolicy(new JsBackend(), params);
  assert.equal(nat.infos.length, 4, 'two updates on each of two layers');
  assert.deepEqual(nat.rows, ts.rows, 'same caches at the end');
  let evicted = 0;
  nat.infos.forEach((info, u) => {
    const want = ts.infos[u]!;
    info.heads.forEach((hd, h) => {
      const w = want.heads[h]!;
      assert.deepEqual(Array.from(hd.keep), Array.from(w.keep), `update ${u} head ${h} keep`);
      evicted += hd.positions.length - hd.keep.length;
      for (let i = 0; i < hd.features.length; i++) {
        assert.ok(Math.abs(hd.features[i]! - w.features[i]!) <= 1e-5 * Math.max(1, Math.abs(w.features[i]!)), `update ${u} head ${h} feature ${i}`);
      }
      for (let i = 0; i < hd.scores!.length; i++) {
        assert.ok(Math.abs(hd.scores![i]! - w.scores![i]!) <= 1e-4 * Math.max(1, Math.abs(w.scores![i]!)), `update ${u} head ${h} score ${i}`);
      }
    });
  });
  assert.ok(evicted > 0, 'these parameters evict something');
});
