/**
 * The native kernels that close and restart a NAMM window, against their TypeScript twins, on every SIMD path
 * this CPU has and with 1 and 2 threads: stftAccumulateFrames (several spectrogram frames in one call) vs
 * stftAccumulateFramesTs and vs one stftAccumulate per frame; nammFeatures (raw EMA + scorer input) vs
 * nammFeaturesTs; gatherRows vs gatherRowsTs. Shapes are random, odd sizes included; argument checks throw
 * TypeErrors/RangeErrors naming the argument and write nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NativeBackend } from '../../src/tensor/native.js';
import { HOP, N_BINS, stftAccIndex, stftAccSize, stftAccumulateFramesTs } from '../../src/memory/namm/stft.js';
import { nammFeaturesTs } from '../../src/memory/namm/features.js';
import { gatherRowsTs } from '../../src/memory/namm/selection.js';
import { recencyTable, RECENCY_TABLE_MAX } from '../../src/memory/namm/recency.js';
import { Rng } from '../../src/util/rng.js';
import { simdPaths, skipNative } from './native-fixtures.js';

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng.float() * (hi - lo + 1));

/** Attention-like query-major blocks: `count` blocks of 16 query rows × ld columns, columns ≥ rows set to ±99. */
function blocks(rng: Rng, count: number, ld: number, rows: number): Float32Array {
  const a = new Float32Array(count * HOP * ld);
  for (let q = 0; q < count * HOP; q++) {
    for (let r = 0; r < ld; r++) a[q * ld + r] = r < rows ? (r % 13 === 6 ? 0 : rng.float() * 0.2) : (q % 2 ? 99 : -99);
  }
  return a;
}

interface FramesCase { prev: Float32Array; prevLd: number; next: Float32Array; nextLd: number; frames: number; rows: Int32Array; weights: Float32Array; init: Float32Array }

function framesCase(rng: Rng, sameLd = false): FramesCase {
  const frames = int(rng, 1, 9);
  const nextLd = int(rng, 1, 300);
  const prevLd = sameLd ? nextLd : int(rng, 1, 300);
  const rows = new Int32Array(frames);
  // Mostly growing row limits (as a window's frames), sometimes arbitrary ones, zeros and full widths included.
  for (let t = 0; t < frames; t++) {
    const cap = t === 0 ? Math.min(prevLd, nextLd) : nextLd;
    rows[t] = rng.float() < 0.15 ? 0 : rng.float() < 0.2 ? cap : int(rng, 0, cap);
  }
  const maxRows = Math.max(0, ...rows);
  const weights = Float32Array.from({ length: frames }, () => rng.float() * 0.1);
  const init = Float32Array.from({ length: stftAccSize(Math.max(maxRows, 1)) + 5 }, () => rng.float());
  return { prev: blocks(rng, 1, prevLd, prevLd), prevLd, next: blocks(rng, frames, nextLd, nextLd), nextLd, frames, rows, weights, init };
}

describe('native NAMM window kernels', { skip: skipNative }, () => {
  for (const simd of simdPaths()) {
    for (const threads of [1, 2]) {
      it(`stftAccumulateFrames matches the TypeScript twin (${simd}, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
        const be = new NativeBackend({ threads, simd });
        const rng = new Rng(31 + threads);
        for (let trial = 0; trial < 40; trial++) {
          const c = framesCase(rng);
          const got = c.init.slice(), want = c.init.slice();
          be.stftAccumulateFrames(c.prev, c.prevLd, c.next, c.nextLd, c.frames, c.rows, c.weights, got);
          stftAccumulateFramesTs(c.prev, c.prevLd, c.next, c.nextLd, c.frames, c.rows, c.weights, want);
          const maxRows = Math.max(0, ...c.rows);
          for (let i = stftAccSize(Math.max(maxRows, 1)); i < got.length; i++) assert.equal(got[i], c.init[i], 'values past the accumulator were written');
          for (let r = 0; r < Math.ceil(Math.max(maxRows, 1) / 16) * 16; r++) {
            for (let f = 0; f < N_BINS; f++) {
              const i = stftAccIndex(r, f);
              if (r >= maxRows) assert.equal(got[i], c.init[i], `acc[${r}, ${f}] past every frame's rows was written`);
              // float32 magnitudes (native) vs float64 (TypeScript): ~60 ulp of the largest term; and each frame's
              // float32 sum, rounded once by the twin and twice by the kernel: up to 2⁻²³ of the sum per frame.
              else assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-7 + 1e-6 * Math.abs(want[i]! - c.init[i]!) + c.frames * 2 ** -23 * Math.abs(want[i]!), `trial ${trial} acc[${r}, ${f}]: ${got[i]} vs ${want[i]}`);
            }
          }
        }
      });
    }

    it(`stftAccumulateFrames reads packed bf16 taps as the float32 values they stand for (${simd})`, () => {
      const rng = new Rng(41);
      const cases = Array.from({ length: 25 }, () => framesCase(rng));
      // and one large enough for whole 64-row blocks, at a stride of 1,024
      const ld = 1024, frames = 3;
      cases.push({ prev: blocks(rng, 1, ld, ld), prevLd: ld, next: blocks(rng, frames, ld, ld), nextLd: ld, frames,
        rows: Int32Array.from([700, 900, 1024]), weights: Float32Array.from([0.1, 0.2, 0.3]), init: new Float32Array(stftAccSize(ld)) });
      for (const [trial, c] of cases.entries()) {
        // The case's next blocks as bf16 bit patterns (truncated), and the float32 values they stand for.
        const packed = Uint16Array.from(new Uint32Array(c.next.buffer, c.next.byteOffset, c.next.length), (u) => u >>> 16);
        const wide = new Float32Array(Uint32Array.from(packed, (b) => b << 16).buffer);
        for (const threads of [1, 2]) {
          const be = new NativeBackend({ threads, simd });
          const a = c.init.slice(), b = c.init.slice();
          be.stftAccumulateFrames(c.prev, c.prevLd, packed, c.nextLd, c.frames, c.rows, c.weights, a);
          be.stftAccumulateFrames(c.prev, c.prevLd, wide, c.nextLd, c.frames, c.rows, c.weights, b);
          assert.deepEqual(a, b, `trial ${trial}, ${threads} thread(s): packed vs float32`);
        }
        const t1 = c.init.slice(), t2 = c.init.slice();
        stftAccumulateFramesTs(c.prev, c.prevLd, packed, c.nextLd, c.frames, c.rows, c.weights, t1);
        stftAccumulateFramesTs(c.prev, c.prevLd, wide, c.nextLd, c.frames, c.rows, c.weights, t2);
        assert.deepEqual(t1, t2, `trial ${trial}: the TypeScript twin, packed vs float32`);
      }
      assert.throws(() => new NativeBackend({ threads: 1, simd }).stftAccumulateFrames(new Float32Array(16), 1, new Uint16Array(15), 1, 1, Int32Array.of(1), Float32Array.of(1), new Float32Array(17 * 16)), { name: 'RangeError', message: /next holds 15 values but 16/ });
    });

    it(`stftAccumulateFrames hands back the last block as the next call's previous block, in place too (${simd})`, () => {
      const rng = new Rng(43);
      const cases = Array.from({ length: 25 }, () => framesCase(rng, true)).filter((c) => c.frames > 0);
      const ld = 1024, frames = 4;
      cases.push({ prev: blocks(rng, 1, ld, ld), prevLd: ld, next: blocks(rng, frames, ld, ld), nextLd: ld, frames,
        rows: Int32Array.from([500, 700, 900, 1000]), weights: Float32Array.from([0.1, 0.2, 0.3, 0.4]), init: new Float32Array(stftAccSize(ld)) });
      for (const [trial, c] of cases.entries()) {
        const maxRows = Math.max(0, ...c.rows), lastLd = c.prevLd;
        const packed = Uint16Array.from(new Uint32Array(c.next.buffer, c.next.byteOffset, c.next.length), (u) => u >>> 16);
        const wide = new Float32Array(Uint32Array.from(packed, (b) => b << 16).buffer);
        for (const next of [c.next, packed]) {
          const values = next === packed ? wide : c.next;
          const plain = c.init.slice();
          new NativeBackend({ threads: 1, simd }).stftAccumulateFrames(c.prev, c.prevLd, next, c.nextLd, c.frames, c.rows, c.weights, plain);
          for (const threads of [1, 2]) {
            const be = new NativeBackend({ threads, simd });
            // A separate buffer: rows < maxRows of the last block, nothing else touched.
            const out = new Float32Array(HOP * lastLd).fill(-7), acc = c.init.slice();
            be.stftAccumulateFrames(c.prev, c.prevLd, next, c.nextLd, c.frames, c.rows, c.weights, acc, out, lastLd);
            assert.deepEqual(acc, plain, `trial ${trial}: the accumulator does not change`);
            const src = (c.frames - 1) * HOP * c.nextLd;
            for (let m = 0; m < HOP; m++)
              for (let r = 0; r < lastLd; r++) {
                const want = r < maxRows ? values[src + m * c.nextLd + r]! : -7;
                if (out[m * lastLd + r] !== want) assert.fail(`trial ${trial}, ${threads} thread(s): last[${m}, ${r}] = ${out[m * lastLd + r]}, want ${want}`);
              }
            // In place: prev itself receives the last block, after every row of it was read.
            const prev = c.prev.slice(), acc2 = c.init.slice();
            be.stftAccumulateFrames(prev, c.prevLd, next, c.nextLd, c.frames, c.rows, c.weights, acc2, prev, lastLd);
            assert.deepEqual(acc2, plain, `trial ${trial}: in place`);
            for (let m = 0; m < HOP; m++)
              for (let r = 0; r < lastLd; r++) {
                const want = r < maxRows ? values[src + m * c.nextLd + r]! : c.prev[m * c.prevLd + r]!;
                if (prev[m * lastLd + r] !== want) assert.fail(`trial ${trial}: in place, prev[${m}, ${r}]`);
              }
            // The TypeScript twin writes the same block.
            const outTs = new Float32Array(HOP * lastLd).fill(-7);
            stftAccumulateFramesTs(c.prev, c.prevLd, next, c.nextLd, c.frames, c.rows, c.weights, c.init.slice(), outTs, lastLd);
            assert.deepEqual(outTs, out, `trial ${trial}: the twin's last block`);
          }
        }
      }
      const be = new NativeBackend({ threads: 1, simd });
      const next = new Float32Array(16 * 8);
      assert.throws(() => be.stftAccumulateFrames(new Float32Array(16 * 8), 8, next, 8, 1, Int32Array.of(8), Float32Array.of(1), new Float32Array(17 * 16), new Float32Array(16 * 4), 4), { name: 'RangeError', message: /lastLd \(4\) is below the rows written \(8\)/ });
      assert.throws(() => be.stftAccumulateFrames(new Float32Array(16 * 8), 8, next, 8, 1, Int32Array.of(8), Float32Array.of(1), new Float32Array(17 * 16), next, 8), { name: 'RangeError', message: /last must not overlap next/ });
    });

    it(`stftAccumulateFrames is bit-identical to one stftAccumulate per frame, for any thread count (${simd})`, () => {
      const rng = new Rng(37);
      for (let trial = 0; trial < 30; trial++) {
        const c = framesCase(rng, true);
        // stftAccumulate wants an accumulator for all ld rows.
        const init = Float32Array.from({ length: stftAccSize(c.nextLd) }, (_, i) => c.init[i] ?? 0.5);
        const one = init.slice(), many = init.slice(), perFrame = init.slice();
        new NativeBackend({ threads: 1, simd }).stftAccumulateFrames(c.prev, c.prevLd, c.next, c.nextLd, c.frames, c.rows, c.weights, one);
        new NativeBackend({ threads: 3, simd }).stftAccumulateFrames(c.prev, c.prevLd, c.next, c.nextLd, c.frames, c.rows, c.weights, many);
        const be = new NativeBackend({ threads: 2, simd });
        const ld = c.nextLd, block = HOP * ld;
        for (let t = 0; t < c.frames; t++) {
          const p = t === 0 ? c.prev : c.next.subarray((t - 1) * block), cur = c.next.subarray(t * block);
          be.stftAccumulate(p, cur, ld, c.rows[t]!, c.weights[t]!, perFrame);
        }
        assert.deepEqual(many, one, `trial ${trial}: threads 1 vs 3`);
        assert.deepEqual(one, perFrame, `trial ${trial}: one call vs one call per frame`);
      }
      // Large cases, so that the work is really split between threads; 1,024 is a stride whose query rows share
      // L1 sets (the kernel copies each block before reading it), checked against one call per frame as well.
      for (const ld of [2100, 1024]) {
        const frames = 8;
        const prev = blocks(rng, 1, ld, ld), next = blocks(rng, frames, ld, ld);
        const rows = Int32Array.from({ length: frames }, (_, t) => ld - 800 + 100 * t);
        const weights = Float32Array.from({ length: frames }, (_, t) => 0.01 * (t + 1));
        const a = new Float32Array(stftAccSize(ld)), b = new Float32Array(stftAccSize(ld)), perFrame = new Float32Array(stftAccSize(ld));
        new NativeBackend({ threads: 1, simd }).stftAccumulateFrames(prev, ld, next, ld, frames, rows, weights, a);
        const two = new NativeBackend({ threads: 2, simd });
        two.stftAccumulateFrames(prev, ld, next, ld, frames, rows, weights, b);
        for (let t = 0; t < frames; t++) {
          const p = t === 0 ? prev : next.subarray((t - 1) * HOP * ld);
          two.stftAccumulate(p, next.subarray(t * HOP * ld), ld, rows[t]!, weights[t]!, perFrame);
        }
        assert.deepEqual(b, a, `large case, ld ${ld}: threads 1 vs 2`);
        assert.deepEqual(a, perFrame, `large case, ld ${ld}: one call vs one call per frame`);
      }
    });

    it(`nammFeatures is bit-identical to the TypeScript twin (${simd})`, () => {
      const be = new NativeBackend({ threads: 2, simd });
      const rng = new Rng(41);
      const table = recencyTable();
      for (let trial = 0; trial < 40; trial++) {
        const n = int(rng, 0, 300), nOld = int(rng, 0, n);
        const acc = Float32Array.from({ length: stftAccSize(Math.max(n, 1)) }, () => rng.float() * 0.3);
        const oldEma = Float32Array.from({ length: nOld * N_BINS + 3 }, () => rng.float());
        // Ascending positions with gaps, reaching far back (recency up to the table's end).
        const positions = new Int32Array(n);
        let p = int(rng, 0, 100);
        const step = rng.float() < 0.3 ? Math.floor(RECENCY_TABLE_MAX / Math.max(n, 1)) : 3;
        for (let k = 0; k < n; k++) { positions[k] = p; p += 1 + int(rng, 0, step); }
        if (n > 1 && rng.float() < 0.3) positions[0] = positions[n - 1]! - RECENCY_TABLE_MAX;
        const norm = rng.float() < 0.5 ? null : Float64Array.from({ length: 2 * N_BINS }, (_, i) => (i < N_BINS ? rng.float() * 0.1 : 1 / (0.01 + rng.float())));
        const decay = Math.fround(0.99 ** 512);
        const outs = [0, 1].map(() => ({ acc: acc.slice(), raw: new Float32Array(n * N_BINS + 2).fill(7), feat: new Float32Array(n * 25 + 2).fill(7) }));
        be.nammFeatures(outs[0]!.acc, n, nOld, oldEma, decay, positions, table, norm, outs[0]!.raw, outs[0]!.feat);
        nammFeaturesTs(outs[1]!.acc, n, nOld, oldEma, decay, positions, table, norm, outs[1]!.raw, outs[1]!.feat);
        assert.deepEqual(outs[0]!.raw, outs[1]!.raw, `trial ${trial}: raw EMA`);
        assert.deepEqual(outs[0]!.feat, outs[1]!.feat, `trial ${trial}: features`);
        assert.deepEqual(outs[0]!.acc, outs[1]!.acc, `trial ${trial}: accumulator after reading`);
        for (let r = 0; r < n; r++) for (let f = 0; f < N_BINS; f++) assert.equal(outs[0]!.acc[stftAccIndex(r, f)], 0, 'the rows read are reset to 0');
        assert.equal(outs[0]!.raw[n * N_BINS], 7, 'raw past n rows was written');
        assert.equal(outs[0]!.feat[n * 25], 7, 'features past n rows were written');
      }
    });

    it(`gatherRows is identical to the TypeScript twin (${simd})`, () => {
      const be = new NativeBackend({ threads: 2, simd });
      const rng = new Rng(43);
      for (let trial = 0; trial < 40; trial++) {
        const width = rng.float() < 0.4 ? 1 : int(rng, 1, 20), planes = rng.float() < 0.5 ? 1 : int(rng, 1, 17);
        const rows = int(rng, 0, 200);
        const keep = Int32Array.from({ length: rows }, (_, i) => i).filter(() => rng.float() < 0.6);
        const k = keep.length;
        const srcPlane = rows * width + int(rng, 0, 5), dstPlane = k * width + int(rng, 0, 5);
        const src = Float32Array.from({ length: planes * srcPlane + 2 }, () => rng.normal());
        const a = new Float32Array(planes * dstPlane + 2).fill(-3), b = a.slice();
        be.gatherRows(src, srcPlane, a, dstPlane, planes, width, keep, k);
        gatherRowsTs(src, srcPlane, b, dstPlane, planes, width, keep, k);
        assert.deepEqual(a, b, `trial ${trial}`);
        for (let p = 0; p < planes; p++) {
          for (let i = 0; i < k; i++) for (let c = 0; c < width; c++) assert.equal(a[p * dstPlane + i * width + c], src[p * srcPlane + keep[i]! * width + c]);
        }
      }
    });
  }

  it('argument checks: TypeErrors and RangeErrors naming the argument, nothing written', () => {
    const be = new NativeBackend({ threads: 2 });
    const f32 = (n: number) => new Float32Array(n);
    const i32 = (...v: number[]) => Int32Array.from(v);
    // stftAccumulateFrames: 2 frames, prevLd 4, nextLd 5.
    const acc = new Float32Array(stftAccSize(5)).fill(3);
    const prev = f32(64), next = f32(160), w = Float32Array.from([0.1, 0.2]);
    const frames = (over: Partial<Record<string, unknown>>) => () => {
      const a = { prev, prevLd: 4, next, nextLd: 5, frames: 2, rows: i32(4, 5), weights: w, acc, ...over };
      be.stftAccumulateFrames(a.prev as never, a.prevLd as never, a.next as never, a.nextLd as never, a.frames as never, a.rows as never, a.weights as never, a.acc as never);
    };
    for (const fn of [frames, (over: Partial<Record<string, unknown>>) => () => {
      const a = { prev, prevLd: 4, next, nextLd: 5, frames: 2, rows: i32(4, 5), weights: w, acc, ...over };
      stftAccumulateFramesTs(a.prev as never, a.prevLd as never, a.next as never, a.nextLd as never, a.frames as never, a.rows as never, a.weights as never, a.acc as never);
    }]) {
      assert.throws(fn({ prev: new Float64Array(64) }), { name: 'TypeError', message: /prev must be a Float32Array/ });
      assert.throws(fn({ prev: f32(63) }), { name: 'RangeError', message: /prev/ });
      assert.throws(fn({ next: f32(159) }), { name: 'RangeError', message: /next/ });
      assert.throws(fn({ acc: new Float64Array(272) as never }), { name: 'TypeError', message: /acc must be a Float32Array/ });
      assert.throws(fn({ acc: f32(271) }), { name: 'RangeError', message: /acc/ });
      assert.throws(fn({ rows: [4, 5] }), { name: 'TypeError', message: /rows must be an Int32Array/ });
      assert.throws(fn({ rows: i32(4) }), { name: 'RangeError', message: /rows/ });
      assert.throws(fn({ rows: i32(5, 5) }), { name: 'RangeError', message: /rows\[0\]/ }); // frame 0 reads prev: ≤ prevLd
      assert.throws(fn({ rows: i32(4, 6) }), { name: 'RangeError', message: /rows\[1\]/ });
      assert.throws(fn({ rows: i32(-1, 5) }), { name: 'RangeError', message: /rows\[0\]/ });
      assert.throws(fn({ weights: Float32Array.from([0.1, Number.NaN]) }), { name: 'RangeError', message: /weights\[1\]/ });
      assert.throws(fn({ weights: new Float64Array(2) }), { name: 'TypeError', message: /weights must be a Float32Array/ });
      assert.throws(fn({ next: new Float64Array(64) }), { name: 'TypeError', message: /next must be a Float32Array or a Uint16Array/ });
      assert.throws(fn({ frames: 1.5 }), { name: 'RangeError', message: /frames/ });
      assert.throws(fn({ prevLd: -4 }), { name: 'RangeError', message: /prevLd/ });
      assert.ok(acc.every((v) => v === 3), 'a rejected call writes nothing');
    }
    be.stftAccumulateFrames(f32(0), 0, f32(0), 0, 0, i32(), f32(0), f32(0)); // no frames: a no-op

    // nammFeatures: n = 3 rows, 1 old.
    const table = recencyTable();
    const feats = (over: Partial<Record<string, unknown>>, ts = false) => () => {
      const a = {
        acc: new Float32Array(stftAccSize(3)).fill(1), n: 3, nOld: 1, oldEma: f32(17), decay: 0.5, positions: i32(10, 11, 12),
        table, norm: null as Float64Array | null, raw: f32(51).fill(9), features: f32(75).fill(9), ...over,
      };
      const args = [a.acc, a.n, a.nOld, a.oldEma, a.decay, a.positions, a.table, a.norm, a.raw, a.features] as const;
      (ts ? nammFeaturesTs : be.nammFeatures.bind(be))(...(args as unknown as Parameters<typeof nammFeaturesTs>));
    };
    for (const ts of [false, true]) {
      assert.throws(feats({ nOld: 4 }, ts), { name: 'RangeError', message: /nOld/ });
      assert.throws(feats({ acc: f32(271) }, ts), { name: 'RangeError', message: /acc/ });
      assert.throws(feats({ acc: new Float64Array(272) as never }, ts), { name: 'TypeError', message: /acc must be a Float32Array/ });
      assert.throws(feats({ oldEma: f32(16) }, ts), { name: 'RangeError', message: /oldEma/ });
      assert.throws(feats({ decay: Number.POSITIVE_INFINITY }, ts), { name: 'RangeError', message: /decay/ });
      assert.throws(feats({ decay: '0.5' }, ts), { name: 'TypeError', message: /decay/ });
      assert.throws(feats({ positions: i32(10, 11) }, ts), { name: 'RangeError', message: /positions/ });
      assert.throws(feats({ positions: [10, 11, 12] }, ts), { name: 'TypeError', message: /positions must be an Int32Array/ });
      assert.throws(feats({ positions: i32(10, 13, 12) }, ts), { name: 'RangeError', message: /recency -1 of row 1/ });
      assert.throws(feats({ positions: i32(0, 11, RECENCY_TABLE_MAX + 1) }, ts), { name: 'RangeError', message: /recency 32769 of row 0/ });
      assert.throws(feats({ norm: new Float64Array(33) }, ts), { name: 'RangeError', message: /norm/ });
      assert.throws(feats({ raw: f32(50) }, ts), { name: 'RangeError', message: /raw/ });
      assert.throws(feats({ features: f32(74) }, ts), { name: 'RangeError', message: /features/ });
      assert.throws(feats({ n: -1 }, ts), { name: 'RangeError', message: /\bn\b/ });
    }
    const raw = f32(51).fill(9);
    assert.throws(feats({ raw, positions: i32(10, 13, 12) }), /recency/);
    assert.ok(raw.every((v) => v === 9), 'a rejected call writes nothing');
    be.nammFeatures(f32(0), 0, 0, f32(0), 0.5, i32(), table, null, f32(0), f32(0)); // n = 0: a no-op

    // gatherRows
    const src = Float32Array.from({ length: 12 }, (_, i) => i);
    const dst = f32(6).fill(-1);
    for (const g of [be.gatherRows.bind(be), gatherRowsTs]) {
      assert.throws(() => g(src, 0, dst, 0, 1, 4, i32(0, 3), 2), { name: 'RangeError', message: /src/ }); // row 3 needs 16 values
      assert.throws(() => g(src, 0, dst, 0, 1, 4, i32(0, 1), 2), { name: 'RangeError', message: /dst/ }); // 8 values out
      assert.throws(() => g(src, 0, dst, 0, 1, 2, i32(0, -1), 2), { name: 'RangeError', message: /keep\[1\] is negative/ });
      assert.throws(() => g(src, 0, dst, 0, 1, 2, i32(0), 2), { name: 'RangeError', message: /keep/ });
      assert.throws(() => g(src, 0, dst, 0, 1, 2, [0, 1] as never, 2), { name: 'TypeError', message: /keep must be an Int32Array/ });
      assert.throws(() => g(new Float64Array(12) as never, 0, dst, 0, 1, 2, i32(0, 1), 2), { name: 'TypeError', message: /src must be a Float32Array/ });
      assert.throws(() => g(src, 0, src.subarray(2), 0, 1, 2, i32(0, 1), 2), { name: 'RangeError', message: /overlap/ });
      assert.throws(() => g(src, 6, dst, 3, 2, 1, i32(0, 1, 2, 3), 4), { name: 'RangeError', message: /dst/ }); // 3 + 4 > 6
      assert.throws(() => g(src, 0, dst, 0, 1, 1.5, i32(0), 1), { name: 'RangeError', message: /width/ });
    }
    assert.ok(dst.every((v) => v === -1), 'a rejected call writes nothing');
    be.gatherRows(src, 0, dst, 0, 1, 2, i32(), 0); // k = 0: a no-op
    be.gatherRows(src, 6, dst, 3, 2, 1, i32(1, 4, 5), 3);
    assert.deepEqual(Array.from(dst), [1, 4, 5, 7, 10, 11], 'two planes of width 1');
  });
});
