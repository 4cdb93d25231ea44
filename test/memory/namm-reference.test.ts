/**
 * The NAMM policy against an independent float64 reading of spec/namm.md §1–§4, written from the formulas only
 * (no code shared with src/memory/namm): attention buffered per absolute window of U queries, the 16-sample
 * carry-over, a direct 32-point DFT with the periodic Hann window, the EMA frame weights and masks, recency
 * sin/cos, frozen normalisation, BAM exactly as the §3 pseudo-code, and the threshold selection with −/+FLT_MAX,
 * ties at 0 kept and the minimum over heads. Prefill in 128-token chunks, then 1-token decode steps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNammPolicy, type NammUpdateInfo, type NormStats } from '../../src/memory/namm/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import type { Backend } from '../../src/tensor/backend.js';
import { Rng } from '../../src/util/rng.js';
import { skipNative } from '../tensor/native-fixtures.js';

const FLT_MAX = 3.4028234663852886e38;

// ---- the reference ---------------------------------------------------------------------------------------------

interface RefHead {
  /** Retained tokens' state by absolute position. */
  ema: Map<number, Float64Array>;
  carry: Map<number, Float64Array>;
}

/** |STFT| frame t of x̃ (length 16·(F+1)): 17 magnitudes. */
function refFrame(xt: Float64Array, t: number): Float64Array {
  const out = new Float64Array(17);
  for (let f = 0; f <= 16; f++) {
    let re = 0, im = 0;
    for (let m = 0; m < 32; m++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * m) / 32);
      const v = w * xt[16 * t + m]!;
      re += v * Math.cos((2 * Math.PI * f * m) / 32);
      im -= v * Math.sin((2 * Math.PI * f * m) / 32);
    }
    out[f] = Math.hypot(re, im);
  }
  return out;
}

function refRecency(r: number): number[] {
  const e: number[] = [];
  for (let i = 0; i < 4; i++) e.push(Math.sin(r * 50000 ** (-i / 4)));
  for (let i = 0; i < 4; i++) e.push(Math.cos(r * 50000 ** (-i / 4)));
  return e;
}

/** BAM as the §3 pseudo-code, float64, flat layout [in][out]. */
function refBam(P: Float32Array, X: number[][]): number[] {
  const n = X.length;
  const W = (off: number, nIn: number, nOut: number, i: number, o: number) => P[off + i * nOut + o]!;
  const Q: number[][] = [], K: number[][] = [], V: number[][] = [];
  for (const x of X) {
    const qkv = new Array<number>(96).fill(0);
    for (let o = 0; o < 96; o++) {
      let s = P[2400 + o]!;
      for (let i = 0; i < 25; i++) s += x[i]! * W(0, 25, 96, i, o);
      qkv[o] = s;
    }
    Q.push(qkv.slice(0, 32)); K.push(qkv.slice(32, 64)); V.push(qkv.slice(64, 96));
  }
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const S: number[] = [];
    for (let j = 0; j < n; j++) {
      if (j < i) { S.push(-Infinity); continue; }
      let s = 0;
      for (let c = 0; c < 32; c++) s += Q[i]![c]! * K[j]![c]!;
      S.push(s / Math.sqrt(32));
    }
    const mx = Math.max(...S.slice(i));
    let z = 0;
    const p = S.map((s) => (s === -Infinity ? 0 : Math.exp(s - mx)));
    for (const v of p) z += v;
    const O = new Array<number>(32).fill(0);
    for (let j = i; j < n; j++) for (let c = 0; c < 32; c++) O[c] += (p[j]! / z) * V[j]![c]!;
    const Y: number[] = [];
    for (let o = 0; o < 50; o++) {
      let s = P[4096 + o]!;
      for (let c = 0; c < 32; c++) s += O[c]! * W(2496, 32, 50, c, o);
      Y.push(s);
    }
    let s = P[4171]!;
    for (let d = 0; d < 25; d++) s += (X[i]![d]! * (1 + Y[25 + d]!) + Y[d]!) * P[4146 + d]!;
    scores.push(s);
  }
  return scores;
}

/** §4 with no cache cap: newest +FLT_MAX, c_h = #(s < 0), d = min_h c_h (or c_h per head), drop the d smallest. */
function refSelect(scores: number[][], perHead: boolean): number[][] {
  const cs = scores.map((s) => {
    const t = s.slice();
    t[t.length - 1] = FLT_MAX;
    return t;
  });
  const counts = cs.map((s) => s.filter((v) => v < 0).length);
  const d = Math.min(...counts);
  return cs.map((s, h) => {
    const drop = perHead ? counts[h]! : d;
    const order = s.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const gone = new Set(order.slice(0, drop).map((e) => e[1]));
    return s.map((_, i) => i).filter((i) => !gone.has(i));
  });
}

interface RefUpdate { features: number[][][]; scores: number[][]; keep: number[][]; raw: number[][][] }

/**
 * One layer's update at the end of the window [T − U, T): `cache[h]` the positions scored (oldest first),
 * `att[q]` (q = 0..U−1) per head a map position → attention of query T − U + q.
 */
function refUpdate(
  heads: RefHead[], cache: number[][], att: Map<number, number>[][], U: number, P: Float32Array, norm: NormStats | null,
  perHead: boolean, T: number,
): RefUpdate {
  const F = U / 16, a = 0.99 ** 16, decay = 0.99 ** U, start = T - U;
  const out: RefUpdate = { features: [], scores: [], keep: [], raw: [] };
  for (let h = 0; h < heads.length; h++) {
    const st = heads[h]!, pos = cache[h]!, newest = pos[pos.length - 1]!;
    const feats: number[][] = [], raws: number[][] = [];
    for (const p of pos) {
      const xt = new Float64Array(16 + U);
      const carry = st.carry.get(p);
      if (carry) xt.set(carry, 0);
      for (let q = 0; q < U; q++) xt[16 + q] = att[q]![h]!.get(p) ?? 0;
      const isNew = p >= start;
      const b = isNew ? Math.floor((p - start) / 16) : 0;
      const E = new Float64Array(17);
      const old = isNew ? null : st.ema.get(p)!;
      assert.ok(isNew || old, `old token ${p} has an EMA`);
      for (let f = 0; f < 17; f++) E[f] = old ? decay * old[f]! : 0;
      for (let t = b; t < F; t++) {
        const S = refFrame(xt, t), w = (1 - a) * a ** (F - 1 - t);
        for (let f = 0; f < 17; f++) E[f] += w * S[f]!;
      }
      raws.push(Array.from(E));
      const e = Array.from(E, (v, f) => (norm ? (v - norm.mean[f]!) / Math.max(Math.sqrt(norm.variance[f]!), 1e-7) : v));
      feats.push([...refRecency(newest - p), ...e]);
    }
    out.features.push(feats);
    out.raw.push(raws);
    out.scores.push(refBam(P, feats));
  }
  out.keep = refSelect(out.scores, perHead);
  for (let h = 0; h < heads.length; h++) {
    const st = heads[h]!, pos = cache[h]!, keep = out.keep[h]!;
    const ema = new Map<number, Float64Array>(), carry = new Map<number, Float64Array>();
    for (const k of keep) {
      const p = pos[k]!;
      ema.set(p, Float64Array.from(out.raw[h]![k]!));
      carry.set(p, Float64Array.from({ length: 16 }, (_, m) => att[U - 16 + m]![h]!.get(p) ?? 0));
    }
    st.ema = ema;
    st.carry = carry;
  }
  return out;
}

// ---- the driver ------------------------------------------------------------------------------------------------

interface RunResult { infos: NammUpdateInfo[]; refs: RefUpdate[] }

/**
 * One layer, `H` heads: a prompt of `prompt` tokens in 128-token chunks aligned to absolute multiples of 128, then
 * `decode` single-token steps. Every keep list of the policy is checked against the reference as it happens.
 */
function run(backend: Backend | null, opts: { U: number; H: number; prompt: number; decode: number; perHead: boolean; seed: number; norm: NormStats | null; params: Float32Array; bf16?: boolean }): RunResult {
  const { U, H } = opts;
  const infos: NammUpdateInfo[] = [];
  const policy = createNammPolicy({
    params: opts.params, normStats: opts.norm, updateEvery: U, selection: opts.perHead ? 'per-head' : 'min-over-heads', taps: opts.bf16 ? 'bf16' : 'fp32', backend,
    onUpdate: (i) => infos.push(i),
  });
  policy.reset({ nLayers: 1, nKvHeads: H } as never);
  const rng = new Rng(opts.seed);
  const cache: number[][] = Array.from({ length: H }, () => []);
  const refHeads: RefHead[] = Array.from({ length: H }, () => ({ ema: new Map(), carry: new Map() }));
  let window: Map<number, number>[][] = [];
  const refs: RefUpdate[] = [];
  let total = 0;
  const end = opts.prompt + opts.decode;
  while (total < end) {
    const chunk = Math.min(128, U);
    const nQ = total < opts.prompt ? Math.min(chunk - (total % chunk), opts.prompt - total) : 1;
    const lens = new Int32Array(H), positions: Int32Array[] = [], attention: Float32Array[] = [];
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < nQ; i++) cache[h]!.push(total + i);
      const len = cache[h]!.length;
      lens[h] = len;
      positions.push(Int32Array.from(cache[h]!));
      const a = new Float32Array(nQ * len);
      for (let i = 0; i < nQ; i++) {
        const vis = len - nQ + i + 1;
        let s = 0;
        const row = new Float64Array(vis);
        for (let j = 0; j < vis; j++) { row[j] = Math.exp(2.5 * rng.normal()); s += row[j]!; }
        for (let j = 0; j < vis; j++) a[i * len + j] = row[j]! / s;
      }
      // bf16 taps: the probabilities rounded to bfloat16 (round to nearest even), handed over as bit patterns.
      if (opts.bf16) {
        const bits = new Uint32Array(a.buffer);
        for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) >>> 16) << 16;
      }
      attention.push(a);
    }
    for (let i = 0; i < nQ; i++) {
      window.push(Array.from({ length: H }, (_, h) => {
        const m = new Map<number, number>();
        const len = lens[h]!;
        for (let j = 0; j < len; j++) if (attention[h]![i * len + j]! !== 0) m.set(cache[h]![j]!, attention[h]![i * len + j]!);
        return m;
      }));
    }
    const before = infos.length;
    const taps = opts.bf16
      ? { attentionBf16: attention.map((a) => Uint16Array.from(new Uint32Array(a.buffer), (b) => b >>> 16)) }
      : { attention };
    const keep = policy.observe({
      layer: 0, nQ, totalTokens: total + nQ, phase: total < opts.prompt ? 'prefill' : 'decode', endOfPrefill: false,
      lens, positions, keys: [], values: [], ...taps,
    });
    total += nQ;
    if (total % U === 0) {
      assert.equal(infos.length, before + 1, `an update at T_abs = ${total}`);
      const ref = refUpdate(refHeads, cache, window, U, opts.params, opts.norm, opts.perHead, total);
      refs.push(ref);
      window = [];
      const got = infos.at(-1)!;
      assert.equal(got.totalTokens, total);
      for (let h = 0; h < H; h++) {
        assert.deepEqual(Array.from(got.heads[h]!.positions), cache[h], `update at ${total} head ${h}: scored positions`);
        assert.deepEqual(Array.from(got.heads[h]!.keep), ref.keep[h], `update at ${total} head ${h}: keep list`);
      }
      for (let h = 0; h < H; h++) {
        const k = keep ? keep[h]! : Int32Array.from(cache[h]!, (_, i) => i);
        cache[h] = Array.from(k, (i) => cache[h]![i]!);
      }
    } else {
      assert.equal(infos.length, before, `no update at T_abs = ${total}`);
      assert.equal(keep, null);
    }
  }
  return { infos, refs };
}

function compare(r: RunResult, label: string, scoreTol: number, norm: NormStats | null): void {
  r.infos.forEach((info, u) => {
    const ref = r.refs[u]!;
    info.heads.forEach((hd, h) => {
      const n = hd.positions.length;
      for (let k = 0; k < n; k++) {
        // Float32 rounding of the window and the inputs is relative to Σ w·|x| (bin 0, all inputs ≥ 0), not to a
        // bin's own (possibly cancelling) value.
        const scale = ref.raw[h]![k]![0]!;
        const rawTol = (f: number) => 1e-6 * (Math.abs(ref.raw[h]![k]![f]!) + scale) + 1e-15;
        for (let f = 0; f < 17; f++) {
          const got = hd.rawEma[k * 17 + f]!, want = ref.raw[h]![k]![f]!;
          assert.ok(Math.abs(got - want) <= rawTol(f), `${label} update ${u} head ${h} row ${k} raw EMA ${f}: ${got} vs ${want}`);
        }
        for (let d = 0; d < 25; d++) {
          const got = hd.features[k * 25 + d]!, want = ref.features[h]![k]![d]!;
          const tol = d < 8 ? 1e-6 : 1e-6 * Math.abs(want) + rawTol(d - 8) / (norm ? Math.max(Math.sqrt(norm.variance[d - 8]!), 1e-7) : 1);
          assert.ok(Math.abs(got - want) <= tol, `${label} update ${u} head ${h} row ${k} feature ${d}: ${got} vs ${want}`);
        }
        const got = hd.scores![k]!, want = ref.scores[h]![k]!;
        assert.ok(Math.abs(got - want) <= scoreTol * Math.max(1, Math.abs(want)), `${label} update ${u} head ${h} row ${k} score: ${got} vs ${want}`);
      }
    });
  });
}

function setup(seed: number, bias: number): { params: Float32Array; norm: NormStats } {
  const rng = new Rng(seed);
  const params = Float32Array.from({ length: 4172 }, () => rng.normal() * 0.12);
  params[4171] = bias;
  const norm: NormStats = {
    mean: Float32Array.from({ length: 17 }, () => 1e-2 * rng.float()),
    variance: Float32Array.from({ length: 17 }, () => (1e-2 + 3e-2 * rng.float()) ** 2),
    count: 1000,
  };
  return { params, norm };
}

const backends: [string, () => Backend | null, boolean][] = [
  ['plain loops', () => null, false],
  ['JsBackend', () => new JsBackend(), false],
  ['native', () => new NativeBackend({ threads: 2 }), true],
];

for (const [name, make, native] of backends) {
  test(`NAMM update against the float64 spec reading (${name}): U = 64, prefill chunks then decode, min over heads`, { skip: native && skipNative }, () => {
    const { params, norm } = setup(11, 0.3);
    const r = run(make(), { U: 64, H: 3, prompt: 300, decode: 150, perHead: false, seed: 4, norm, params });
    assert.equal(r.infos.length, 7);
    // Evictions at every update, and heads that wanted to drop more than the minimum (so the minimum matters).
    assert.ok(r.infos.every((i) => i.heads.some((h) => h.keep.length < h.positions.length)), 'something is evicted');
    assert.ok(r.infos.some((i) => i.heads.some((h) => h.scores!.filter((v) => v < 0).length > h.positions.length - h.keep.length)));
    compare(r, name, native ? 2e-4 : 2e-5, norm);
  });

  test(`NAMM update against the float64 spec reading (${name}): U = 512, per-head selection, no statistics`, { skip: native && skipNative }, () => {
    const { params } = setup(12, 0.6);
    const r = run(make(), { U: 512, H: 2, prompt: 1000, decode: 40, perHead: true, seed: 9, norm: null, params });
    assert.equal(r.infos.length, 2);
    assert.ok(r.infos.every((i) => i.heads.some((h) => h.keep.length < h.positions.length && h.keep.length > h.positions.length / 2)));
    compare(r, name, native ? 2e-4 : 2e-5, null);
  });

  test(`NAMM update against the float64 spec reading (${name}): U = 128, packed bf16 taps, min over heads`, { skip: native && skipNative }, () => {
    const { params, norm } = setup(13, 0.3);
    const r = run(make(), { U: 128, H: 2, prompt: 400, decode: 140, perHead: false, seed: 21, norm, params, bf16: true });
    assert.equal(r.infos.length, 4);
    compare(r, name, native ? 2e-4 : 2e-5, norm);
  });
}

test('NAMM observe: positions missing or shorter than the cache are a clear error, before any state changes', () => {
  const policy = createNammPolicy({ params: new Float32Array(4172), updateEvery: 16, taps: 'fp32', backend: null });
  policy.reset({ nLayers: 1, nKvHeads: 1 } as never);
  const att = new Float32Array(16 * 16);
  for (let i = 0; i < 16; i++) for (let j = 0; j <= i; j++) att[i * 16 + j] = 1 / (i + 1);
  const obs = (positions: Int32Array[]) => ({
    layer: 0, nQ: 16, totalTokens: 16, phase: 'prefill' as const, endOfPrefill: false, lens: Int32Array.of(16), positions,
    keys: [], values: [], attention: [att],
  });
  // Before, a short array left stale scratch values as positions (here a negative recency, elsewhere a wrong one),
  // and a missing one was a TypeError from deep inside the update.
  assert.throws(() => policy.observe(obs([Int32Array.from({ length: 8 }, (_, i) => i)])), /NAMM: positions of head 0 hold 8 values, 16 needed/);
  assert.throws(() => policy.observe(obs([])), /NAMM: positions of head 0 hold no values, 16 needed/);
  // The policy is untouched: the same chunk with its positions goes through.
  assert.equal(policy.observe(obs([Int32Array.from({ length: 16 }, (_, i) => i)])), null, 'the all-zero policy evicts nothing');
});
