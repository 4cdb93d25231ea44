// NammPolicy over synthetic sequences, against a float64 re-implementation of the reference pipeline
// (spec/namm.md §1–§4: buffer whole windows, STFT with carry-over, EMA with frame mask, recency, normalisation,
// BAM, minimum-over-heads selection) written out here from the formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import type { KeepLists, LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import { createNammPolicy, NAMM_PARAM_COUNT, zeroNammParams, type NammUpdateInfo, type NormStats } from '../../src/memory/namm/index.js';

const L = 2, H = 2;

/** A fake cache: per layer and head the absolute positions of its rows; random causal attention per chunk. */
class SyntheticSession {
  rows: number[][][] = Array.from({ length: L }, () => Array.from({ length: H }, () => []));
  total = 0;
  updates: { layer: number; total: number }[] = [];
  /** `hashed`: attention depends only on (layer, head, query, key position), not on the chunking (unnormalised). */
  hashed = false;
  constructor(private readonly policy: MemoryPolicy, private readonly rng: Rng, private readonly sink?: (obs: LayerObservation) => void) {
    policy.reset({ nLayers: L, nKvHeads: H, headDim: 4 });
  }

  feed(nQ: number, phase: 'prefill' | 'decode' = 'prefill'): (KeepLists | null)[] {
    const start = this.total;
    this.total += nQ;
    const results: (KeepLists | null)[] = [];
    for (let l = 0; l < L; l++) {
      const lens = new Int32Array(H);
      const positions: Int32Array[] = [], attention: Float32Array[] = [];
      for (let h = 0; h < H; h++) {
        const rows = this.rows[l]![h]!;
        for (let i = 0; i < nQ; i++) rows.push(start + i);
        const len = rows.length;
        lens[h] = len;
        positions.push(Int32Array.from(rows));
        const a = new Float32Array(nQ * len);
        for (let i = 0; i < nQ; i++) {
          const visible = len - nQ + i + 1; // causal
          if (this.hashed) {
            for (let k = 0; k < visible; k++) a[i * len + k] = hashUnit(l, h, start + i, rows[k]!) * 0.004;
            continue;
          }
          let z = 0;
          for (let k = 0; k < visible; k++) { const v = Math.exp(3 * this.rng.float()); a[i * len + k] = v; z += v; }
          for (let k = 0; k < visible; k++) a[i * len + k] = a[i * len + k]! / z;
        }
        attention.push(a);
      }
      const obs: LayerObservation = {
        layer: l, nQ, totalTokens: this.total, phase, endOfPrefill: false, lens, positions,
        keys: positions.map(() => new Float32Array(0)), values: positions.map(() => new Float32Array(0)), attention,
      };
      this.sink?.(obs);
      const keep = this.policy.observe(obs);
      if (keep) {
        this.updates.push({ layer: l, total: this.total });
        for (let h = 0; h < H; h++) {
          const k = keep[h]!;
          assert.ok(k instanceof Int32Array);
          for (let j = 0; j < k.length; j++) {
            assert.ok(k[j]! >= 0 && k[j]! < lens[h]!, 'keep index in range');
            if (j > 0) assert.ok(k[j]! > k[j - 1]!, 'keep list ascending');
          }
          this.rows[l]![h] = Array.from(k, (r) => this.rows[l]![h]![r]!);
        }
      }
      results.push(keep);
    }
    return results;
  }
}

function hashUnit(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) { h = Math.imul(h ^ x, 0x01000193); h ^= h >>> 13; h = Math.imul(h, 0x5bd1e995); h ^= h >>> 15; }
  return (h >>> 0) / 4294967296;
}

/** The reference pipeline of one layer in float64: buffers the whole window, as the official code does. */
class ReferenceLayer {
  buffered: Float64Array[][] = Array.from({ length: H }, () => []); // per head: query rows (their own length)
  carry: (Float64Array | null)[] = Array.from({ length: H }, () => null); // [nOld × 16]
  ema: Float64Array[] = Array.from({ length: H }, () => new Float64Array(0)); // [nOld × 17]
  nOld = new Array<number>(H).fill(0);
  constructor(private readonly params: Float32Array | null, private readonly stats: NormStats | null, private readonly U = 512) {}

  /** Consumes a chunk; at a multiple of U returns per head { features, scores, keep, rawEma }. */
  observe(obs: LayerObservation) {
    for (let h = 0; h < H; h++) {
      const len = obs.lens[h]!;
      for (let i = 0; i < obs.nQ; i++) this.buffered[h]!.push(Float64Array.from(obs.attention![h]!.subarray(i * len, (i + 1) * len)));
    }
    if (obs.totalTokens % this.U !== 0) return null;
    const a = 0.99 ** 16, F = this.U / 16;
    const out = [];
    for (let h = 0; h < H; h++) {
      const n = obs.lens[h]!, nOld = this.nOld[h]!, rows = this.buffered[h]!;
      assert.equal(rows.length, this.U);
      const rawEma = new Float64Array(n * 17);
      for (let k = 0; k < n; k++) {
        const x = new Float64Array(16 + this.U);
        if (k < nOld && this.carry[h]) for (let m = 0; m < 16; m++) x[m] = this.carry[h]![k * 16 + m]!;
        for (let q = 0; q < this.U; q++) x[16 + q] = k < rows[q]!.length ? rows[q]![k]! : 0;
        const b = k < nOld ? 0 : Math.floor((k - nOld) / 16);
        for (let f = 0; f < 17; f++) {
          let e = k < nOld ? 0.99 ** this.U * this.ema[h]![k * 17 + f]! : 0;
          for (let t = b; t < F; t++) {
            let re = 0, im = 0;
            for (let m = 0; m < 32; m++) {
              const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * m) / 32);
              re += w * x[16 * t + m]! * Math.cos((2 * Math.PI * f * m) / 32);
              im -= w * x[16 * t + m]! * Math.sin((2 * Math.PI * f * m) / 32);
            }
            e += (1 - a) * a ** (F - 1 - t) * Math.hypot(re, im);
          }
          rawEma[k * 17 + f] = e;
        }
      }
      const pos = obs.positions[h]!;
      const features = Array.from({ length: n }, (_, k) => {
        const r = pos[n - 1]! - pos[k]!;
        const rec = [0, 1, 2, 3].map((i) => r / 50000 ** (i / 4));
        const spec = Array.from({ length: 17 }, (_, f) => {
          const e = rawEma[k * 17 + f]!;
          return this.stats ? (e - this.stats.mean[f]!) / Math.max(Math.sqrt(this.stats.variance[f]!), 1e-7) : e;
        });
        return [...rec.map(Math.sin), ...rec.map(Math.cos), ...spec];
      });
      const scores = this.params ? bam(this.params, features) : null;
      out.push({ rawEma, features, scores, n, carrySource: rows });
    }
    return out;
  }

  /** Applies keep lists (per head, indices into the n scored rows) and starts the next window. */
  retain(keep: Int32Array[], n: number[]): void {
    for (let h = 0; h < H; h++) {
      const rows = this.buffered[h]!, k = keep[h]!;
      const carry = new Float64Array(k.length * 16), ema = new Float64Array(k.length * 17);
      k.forEach((r, j) => {
        for (let m = 0; m < 16; m++) { const row = rows[this.U - 16 + m]!; carry[j * 16 + m] = r < row.length ? row[r]! : 0; }
        for (let f = 0; f < 17; f++) ema[j * 17 + f] = this.lastEma[h]![r * 17 + f]!;
      });
      this.carry[h] = carry; this.ema[h] = ema; this.nOld[h] = k.length; this.buffered[h] = [];
      void n;
    }
  }
  lastEma: Float64Array[] = [];
}

function bam(p: Float32Array, x: number[][]): number[] {
  const n = x.length;
  const qkv = x.map((row) => Array.from({ length: 96 }, (_, o) => {
    let s = p[2400 + o]!;
    for (let i = 0; i < 25; i++) s += row[i]! * p[i * 96 + o]!;
    return s;
  }));
  return x.map((row, i) => {
    const logits: number[] = [];
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let c = 0; c < 32; c++) s += qkv[i]![c]! * qkv[j]![32 + c]!;
      logits.push(s / Math.sqrt(32));
    }
    const mx = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - mx));
    const z = e.reduce((s, v) => s + v, 0);
    const o = Array.from({ length: 32 }, (_, c) => e.reduce((s, v, jj) => s + (v / z) * qkv[i + jj]![64 + c]!, 0));
    let score = p[4171]!;
    for (let d = 0; d < 25; d++) {
      let r = p[4096 + d]!, mul = p[4096 + 25 + d]!;
      for (let hh = 0; hh < 32; hh++) { r += o[hh]! * p[2496 + hh * 50 + d]!; mul += o[hh]! * p[2496 + hh * 50 + 25 + d]!; }
      score += (row[d]! * (1 + mul) + r) * p[4146 + d]!;
    }
    return score;
  });
}

/** Reference selection: newest forced, c_h = #(s < 0), d = min_h c_h, keep the n − d best in order. */
function referenceKeep(scores: number[][]): Int32Array[] {
  const adj = scores.map((s) => s.map((v, i) => (i === s.length - 1 ? Infinity : v)));
  const d = Math.min(...adj.map((s) => s.filter((v) => v < 0).length));
  return adj.map((s) => {
    const order = s.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    return Int32Array.from(order.slice(d).map(([, i]) => i).sort((x, y) => x - y));
  });
}

function closeArrays(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

/** 1,100 tokens in chunks of 128 (aligned to absolute positions), then decode steps up to `until`. */
function drive(session: SyntheticSession, until: number, chunk = 128): void {
  while (session.total < 1100) session.feed(Math.min(chunk - (session.total % chunk), 1100 - session.total), 'prefill');
  while (session.total < until) session.feed(1, 'decode');
}

test('calibration pass evicts nothing and pools every cached row of every update like the reference', () => {
  const policy = createNammPolicy({ params: zeroNammParams(), calibrate: true });
  const refs = Array.from({ length: L }, () => new ReferenceLayer(null, null));
  const pooled: number[][] = Array.from({ length: 17 }, () => []);
  const session = new SyntheticSession(policy, new Rng(5), (obs) => {
    const r = refs[obs.layer]!.observe(obs);
    if (!r) return;
    refs[obs.layer]!.lastEma = r.map((x) => x.rawEma);
    for (const head of r) for (let k = 0; k < head.n; k++) for (let f = 0; f < 17; f++) pooled[f]!.push(head.rawEma[k * 17 + f]!);
    refs[obs.layer]!.retain(r.map((x) => Int32Array.from({ length: x.n }, (_, i) => i)), r.map((x) => x.n));
  });
  drive(session, 1100);
  assert.equal(session.updates.length, 0, 'calibration never evicts');
  const stats = policy.calibrationStats()!;
  assert.equal(stats.count, L * H * (512 + 1024), 'rows pooled: 512 per head at T=512, 1024 at T=1024');
  for (let f = 0; f < 17; f++) {
    const v = pooled[f]!, m = v.reduce((a, b) => a + b, 0) / v.length;
    const varf = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
    assert.ok(Math.abs(stats.mean[f]! - m) <= 1e-5 * Math.abs(m) + 1e-12, `mean ${f}: ${stats.mean[f]} vs ${m}`);
    assert.ok(Math.abs(stats.variance[f]! - varf) <= 1e-4 * varf + 1e-15, `var ${f}: ${stats.variance[f]} vs ${varf}`);
  }
});

function statsFromCalibration(seed: number): NormStats {
  const policy = createNammPolicy({ params: zeroNammParams(), calibrate: true });
  drive(new SyntheticSession(policy, new Rng(seed)), 1100);
  return policy.calibrationStats()!;
}

test('features, scores and keep lists match the float64 reference over three updates (prefill + decode)', () => {
  const stats = statsFromCalibration(8);
  const rng = new Rng(99);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.15);
  params[4171] = -0.3;
  const infos: NammUpdateInfo[] = [];
  const policy = createNammPolicy({ params, normStats: stats, onUpdate: (i) => infos.push(i) });
  const refs = Array.from({ length: L }, () => new ReferenceLayer(params, stats));
  let checked = 0, evicted = 0;
  let queueCheck: (() => void) | null = null;
  const session = new SyntheticSession(policy, new Rng(8), (obs) => {
    const r = refs[obs.layer]!.observe(obs);
    if (!r) return;
    queueCheck = () => {
      const info = infos.at(-1)!;
      assert.equal(info.layer, obs.layer);
      assert.equal(info.totalTokens, obs.totalTokens);
      const keepRef = referenceKeep(r.map((x) => x.scores!));
      for (let h = 0; h < H; h++) {
        closeArrays(info.heads[h]!.rawEma, r[h]!.rawEma, 2e-5, `L${obs.layer}H${h} rawEma`);
        closeArrays(info.heads[h]!.features, r[h]!.features.flat(), 5e-4, `L${obs.layer}H${h} features`);
        closeArrays(info.heads[h]!.scores!, r[h]!.scores!, 5e-4, `L${obs.layer}H${h} scores`);
        assert.deepEqual(Array.from(info.heads[h]!.keep), Array.from(keepRef[h]!), `L${obs.layer}H${h} keep`);
        evicted += r[h]!.n - keepRef[h]!.length;
      }
      refs[obs.layer]!.lastEma = r.map((x) => x.rawEma);
      refs[obs.layer]!.retain(keepRef, r.map((x) => x.n));
      checked++;
    };
  });
  // The sink sees each layer's observation just before the policy; check the policy's report right after it.
  const origObserve = policy.observe.bind(policy);
  policy.observe = (obs) => { const k = origObserve(obs); if (queueCheck) { const c = queueCheck; queueCheck = null; c(); } return k; };
  drive(session, 1536);
  assert.equal(checked, 3 * L, 'updates at 512, 1024 and 1536 on every layer');
  assert.ok(evicted > 0, 'these parameters evict something');
  assert.ok(session.updates.some((u) => u.total === 1536), 'an update while decoding');
});

test('all-zero parameters evict nothing (scores 0, ties at 0 kept)', () => {
  const infos: NammUpdateInfo[] = [];
  const session = new SyntheticSession(createNammPolicy({ params: zeroNammParams(), onUpdate: (i) => infos.push(i) }), new Rng(1));
  drive(session, 1600);
  assert.equal(session.updates.length, 0);
  assert.deepEqual(infos.map((i) => i.totalTokens), [512, 512, 1024, 1024, 1536, 1536]);
  for (const l of session.rows) for (const h of l) assert.equal(h.length, 1600);
});

test('a very negative final bias evicts everything but the newest token at each update and keeps working', () => {
  const params = zeroNammParams();
  params[4171] = -100;
  for (const selection of ['min-over-heads', 'per-head'] as const) {
    const session = new SyntheticSession(createNammPolicy({ params, selection }), new Rng(2));
    drive(session, 1600);
    assert.deepEqual(session.updates.map((u) => u.total), [512, 512, 1024, 1024, 1536, 1536]);
    for (const l of session.rows) {
      for (const h of l) {
        // At 1536 only token 1535 survived; 64 tokens arrived since.
        assert.deepEqual(h, [1535, ...Array.from({ length: 64 }, (_, i) => 1536 + i)]);
      }
    }
  }
});

test('the cadence hits exactly at multiples of updateEvery in prefill and decoding', () => {
  const params = zeroNammParams();
  params[4171] = -1;
  const session = new SyntheticSession(createNammPolicy({ params, updateEvery: 256 }), new Rng(4));
  for (let t = 0; t < 300; t++) session.feed(1, 'decode'); // decoding from the start
  assert.deepEqual(session.updates.map((u) => u.total), [256, 256]);
  while (session.total < 1024) session.feed(128 - (session.total % 128)); // aligned prefill: 84, then 128s
  assert.deepEqual(session.updates.map((u) => u.total), [256, 256, 512, 512, 768, 768, 1024, 1024]);
  assert.throws(() => createNammPolicy({ params, updateEvery: 100 }), /multiple of 16/);
  assert.throws(() => createNammPolicy({ params, updateEvery: 1e12 }), /updateEvery must be at most 65536/);
  // Wrong types fail here, not at the first update in the middle of a layer.
  assert.throws(() => createNammPolicy({ params, onUpdate: 'x' as never }), /NAMM onUpdate must be a function, got string/);
  assert.throws(() => createNammPolicy({ params, backend: 5 as never }), /NAMM backend must be a tensor backend/);
});

test('chunks that run past a multiple are scored as if the update had happened exactly at it', () => {
  const rng = new Rng(31);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => rng.normal() * 0.15);
  params[4171] = -0.3;
  const stats = statsFromCalibration(8);
  const run = (chunk: number) => {
    const infos: NammUpdateInfo[] = [];
    const session = new SyntheticSession(createNammPolicy({ params, normStats: stats, selection: 'per-head', onUpdate: (i) => infos.push(i) }), new Rng(0));
    session.hashed = true;
    drive(session, 1100, chunk);
    // One chunk spanning two windows reports a layer's two updates back to back: order by (T, layer).
    infos.sort((a, b) => a.totalTokens - b.totalTokens || a.layer - b.layer);
    return { session, infos };
  };
  const aligned = run(128), unaligned = run(100), odd = run(300), whole = run(1100);
  assert.deepEqual([...new Set(aligned.session.updates.map((u) => u.total))], [512, 1024]);
  // Keep lists come back at the first chunk end at or past each multiple.
  assert.deepEqual([...new Set(unaligned.session.updates.map((u) => u.total))], [600, 1100]);
  assert.deepEqual([...new Set(odd.session.updates.map((u) => u.total))], [600, 1100]);
  assert.deepEqual([...new Set(whole.session.updates.map((u) => u.total))], [1100], 'one chunk spanning two windows');
  for (const other of [unaligned, odd, whole]) {
    assert.equal(other.infos.length, aligned.infos.length);
    other.infos.forEach((info, i) => {
      const want = aligned.infos[i]!;
      assert.equal(info.totalTokens, want.totalTokens);
      info.heads.forEach((hd, h) => {
        closeArrays(hd.scores!, want.heads[h]!.scores!, 1e-6, `update ${i} head ${h} scores`);
        assert.deepEqual(Array.from(hd.keep), Array.from(want.heads[h]!.keep));
      });
    });
    assert.deepEqual(other.session.rows, aligned.session.rows, 'same caches at the end');
  }
  const ragged = aligned.session.rows.flat().map((r) => r.length);
  assert.ok(new Set(ragged).size > 1, 'per-head selection leaves ragged caches');
});

test('NammPolicy options: a misspelt key and a calibrate that is not a boolean are refused', () => {
  // { cachesize: 10 } held no cap, and calibrate: 'false' turned calibration on (nothing evicted).
  assert.throws(() => createNammPolicy({ params: zeroNammParams(), cachesize: 10 } as never), /NammPolicy: unknown option "cachesize".*cacheSize/);
  assert.throws(() => createNammPolicy({ params: zeroNammParams(), calibrate: 'false' } as never), /^TypeError: NAMM calibrate must be true or false, got "false"$/);
  assert.throws(() => createNammPolicy({ params: zeroNammParams(), name: 5 } as never), /NAMM name must be a string, got 5/);
  assert.equal(createNammPolicy({ params: zeroNammParams(), calibrate: false, cacheSize: 10 }).cacheSize, 10);
});
