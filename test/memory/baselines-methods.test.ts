/** Method-specific checks on small hand-computed cases. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LayerObservation } from '../../src/memory/policy.js';
import { AT_PREFILL_END, everyTokens, ratioBudget, tokenBudget } from '../../src/memory/budget.js';
import { RandomScorer, randomPolicy } from '../../src/memory/random.js';
import { streamingPolicy, streamingWindowBudget } from '../../src/memory/streaming.js';
import { snapkvPolicy } from '../../src/memory/snapkv.js';
import { adaKvSelect, adakvPolicy } from '../../src/memory/adakv.js';
import { tovaPolicy } from '../../src/memory/tova.js';
import { addColumns, h2oPolicy } from '../../src/memory/h2o.js';
import { Rng } from '../../src/util/rng.js';
import { l2Policy } from '../../src/memory/l2.js';
import { withSinks } from '../../src/memory/scored.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { SimCache, schedule } from '../helpers/cache-sim.js';

/** One layer's observation from plain arrays (per head: positions, attention rows `[nQ][rows]`, keys `[rows][d]`). */
function obsOf(o: {
  layer?: number; nQ: number; totalTokens: number; phase?: 'prefill' | 'decode'; endOfPrefill?: boolean;
  positions: number[][]; attention?: number[][][]; keys?: number[][][];
}): LayerObservation {
  return {
    layer: o.layer ?? 0, nQ: o.nQ, totalTokens: o.totalTokens, phase: o.phase ?? 'prefill', endOfPrefill: o.endOfPrefill ?? true,
    lens: Int32Array.from(o.positions, (p) => p.length),
    positions: o.positions.map((p) => Int32Array.from(p)),
    keys: o.positions.map((p, h) => Float32Array.from(o.keys?.[h]?.flat() ?? new Array(p.length).fill(0))),
    values: o.positions.map((p) => new Float32Array(p.length)),
    ...(o.attention ? { attention: o.attention.map((rows) => Float32Array.from(rows.flat())) } : {}),
  };
}

const keepOf = (k: Int32Array[] | null): number[][] | null => k && k.map((x) => Array.from(x));

describe('StreamingLLM', () => {
  it('keeps exactly the sinks and the window, through prefill and decode', () => {
    const shape = { nLayers: 2, nKvHeads: 3, headDim: 4 };
    const sim = new SimCache(shape, streamingPolicy({ budget: streamingWindowBudget(4, 10) }), { noAttention: true });
    sim.run(schedule(50, 8, 7));
    const want = [0, 1, 2, 3, ...Array.from({ length: 10 }, (_, i) => 47 + i)];
    for (let l = 0; l < 2; l++) for (let h = 0; h < 3; h++) assert.deepEqual(sim.positions(l, h), want);
    // Before the cache first overflows nothing happens.
    assert.equal(sim.records[0]!.keep, null);
  });

  it('honours sinks=0 and a ratio budget', () => {
    const sim = new SimCache({ nLayers: 1, nKvHeads: 1, headDim: 2 }, streamingPolicy({ budget: ratioBudget(0.75), sinks: 0, every: AT_PREFILL_END }));
    sim.run(schedule(40, 16));
    assert.deepEqual(sim.positions(0, 0), [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
  });
});

describe('StreamingLLM sinks are positions, not rows', () => {
  it('a budget at or below the sinks never turns later tokens into sinks', () => {
    // 20 tokens at ratio 0.875 keep 2; decoding then keeps ⌊T/8⌋. Told by row, rows 0–3 became "sinks" once the
    // first ones were gone: positions 23 and 31 stayed for good and every new token was evicted on arrival.
    const sim = new SimCache({ nLayers: 1, nKvHeads: 2, headDim: 2 }, streamingPolicy({ budget: ratioBudget(0.875) }), { noAttention: true });
    for (const chunk of schedule(20, 8, 20)) {
      sim.run([chunk]);
      const T = sim.totalTokens, k = Math.max(1, Math.floor(T / 8));
      for (let h = 0; h < 2; h++) {
        const held = sim.positions(0, h), rest = held.filter((p) => p >= 4);
        if (T > 20) assert.equal(held.length, Math.min(k, T), `T = ${T}`);
        // Whatever sinks are still held, every other token kept is one of the newest, and the newest always is
        // (ranked after the sinks, it was evicted as soon as it had attended while the budget was ≤ 4).
        assert.deepEqual(rest, Array.from({ length: rest.length }, (_, i) => T - rest.length + i), `T = ${T}: ${held}`);
        assert.equal(held[held.length - 1], T - 1, `T = ${T}: ${held}`);
      }
    }
  });

  it('a ratio budget at or below the sinks keeps the newest token and the first sinks', () => {
    // 6 tokens at ratio 0.5 keep 3: the newest and sinks 0, 1 (it kept sinks 0, 1, 2 and then decoded without the
    // token just generated); a token later, 7 keep 3 again, then 8 keep 4.
    const sim = new SimCache({ nLayers: 1, nKvHeads: 1, headDim: 2 }, streamingPolicy({ budget: ratioBudget(0.5) }), { noAttention: true });
    const seen: number[][] = [];
    for (const chunk of schedule(6, 6, 2)) {
      sim.run([chunk]);
      seen.push(sim.positions(0, 0));
    }
    assert.deepEqual(seen, [[0, 1, 5], [0, 1, 6], [0, 1, 6, 7]]);
  });
});

describe('Random', () => {
  it('keeps a uniform subset: old and new tokens survive alike', () => {
    // A 1,024-token prompt in 128-token chunks at ratio 0.5, acting at every chunk. Fresh scores at each action
    // kept ~28% of the survivors from the first half (old tokens face more draws); fixed scores keep ~50%.
    let early = 0, total = 0;
    for (let seed = 0; seed < 10; seed++) {
      const sim = new SimCache({ nLayers: 2, nKvHeads: 4, headDim: 2 }, randomPolicy({ budget: ratioBudget(0.5), seed }), { noAttention: true });
      sim.run(schedule(1024, 128));
      for (let l = 0; l < 2; l++) for (let h = 0; h < 4; h++) {
        const p = sim.positions(l, h);
        assert.equal(p.length, 512);
        early += p.filter((x) => x < 512).length;
        total += p.length;
      }
    }
    const share = early / total;
    assert.ok(share > 0.47 && share < 0.53, `share of kept tokens from the first half: ${share.toFixed(3)}`);
  });

  it('scores a token by (seed, layer, head, position) alone: chunking does not change them; seeds and heads do', () => {
    const scorer = (seed: number) => { const s = new RandomScorer(seed); s.reset({ nLayers: 2, nKvHeads: 2, headDim: 2 }); return s; };
    const a = scorer(3), b = scorer(3), c = scorer(4);
    const whole = a.score(obsOf({ nQ: 6, totalTokens: 6, positions: [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]] }));
    const part = b.score(obsOf({ nQ: 1, totalTokens: 6, positions: [[1, 3, 5], [0, 2, 4]] }));
    assert.deepEqual(Array.from(part[0]!), [1, 3, 5].map((p) => whole[0]![p]!));
    assert.deepEqual(Array.from(part[1]!), [0, 2, 4].map((p) => whole[1]![p]!));
    assert.notDeepEqual(Array.from(whole[0]!), Array.from(whole[1]!), 'heads draw independently');
    const other = c.score(obsOf({ nQ: 6, totalTokens: 6, positions: [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]] }));
    assert.notDeepEqual(Array.from(other[0]!), Array.from(whole[0]!), 'another seed, other scores');
    for (const s of whole.flatMap((x) => Array.from(x))) assert.ok(s >= 0 && s < 1);
  });
});

describe('TOVA cadence', () => {
  it('by default compresses the prompt once, at its end, then acts at every decode step', () => {
    const sim = new SimCache({ nLayers: 1, nKvHeads: 2, headDim: 2 }, tovaPolicy({ budget: tokenBudget(16) }));
    sim.run(schedule(100, 32, 5));
    const acted = sim.records.map((r) => r.keep !== null);
    assert.deepEqual(acted, [false, false, false, true, true, true, true, true, true]);
    assert.equal(sim.rows(0, 0), 16);
    assert.equal(tovaPolicy({ budget: tokenBudget(16) }).name, 'tova:tokens=16');
    assert.equal(tovaPolicy({ budget: tokenBudget(16), every: everyTokens(1) }).name, 'tova:tokens=16,every=1');
  });

  it('every=1 also acts inside the prefill, at the end of each chunk', () => {
    const sim = new SimCache({ nLayers: 1, nKvHeads: 2, headDim: 2 }, tovaPolicy({ budget: tokenBudget(16), every: everyTokens(1) }));
    sim.run(schedule(100, 32, 2));
    assert.deepEqual(sim.records.map((r) => r.keep !== null), [true, true, true, true, true, true]);
  });
});

describe('SnapKV', () => {
  // 8 cached tokens, window 2, kernel 3: the votes are the mean of the last two query rows over rows 0..5.
  const rowA = [0.30, 0.00, 0.10, 0.05, 0.20, 0.05, 0.30, 0.00];
  const rowB = [0.10, 0.02, 0.30, 0.01, 0.00, 0.07, 0.20, 0.30];
  // vote = [0.20, 0.01, 0.20, 0.03, 0.10, 0.06]
  // avg pool (zero padded, /3): [0.07, 0.1366.., 0.08, 0.11, 0.0633.., 0.0533..]
  // max pool:                   [0.20, 0.20, 0.20, 0.20, 0.10, 0.10]
  const attention = [[...Array.from({ length: 6 }, (_, q) => Array.from({ length: 8 }, (_, j) => (j <= q ? 1 / (q + 1) : 0))), rowA, rowB]];
  const obs = (): LayerObservation => obsOf({ nQ: 8, totalTokens: 8, positions: [[0, 1, 2, 3, 4, 5, 6, 7]], attention });

  it('avg pooling by hand', () => {
    const p = snapkvPolicy({ budget: tokenBudget(5), window: 2, kernel: 3, pool: 'avg' });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    // Top 3 pooled among rows 0..5: 1 (0.137), 3 (0.11), 2 (0.08); plus the window 6, 7.
    assert.deepEqual(keepOf(p.observe(obs())), [[1, 2, 3, 6, 7]]);
  });

  it('max pooling by hand (ties go to the newer row)', () => {
    const p = snapkvPolicy({ budget: tokenBudget(5), window: 2, kernel: 3, pool: 'max' });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    // Rows 0..3 all pool to 0.20: the three newest of them survive.
    assert.deepEqual(keepOf(p.observe(obs())), [[1, 2, 3, 6, 7]]);
    const p2 = snapkvPolicy({ budget: tokenBudget(4), window: 2, kernel: 1, pool: 'max' });
    p2.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    // kernel 1: raw votes; the top 2 are rows 0 and 2 (0.20 each).
    assert.deepEqual(keepOf(p2.observe(obs())), [[0, 2, 6, 7]]);
  });

  it('buffers the window across chunks: a last chunk shorter than the window still gets `window` votes', () => {
    const p = snapkvPolicy({ budget: tokenBudget(3), window: 2, kernel: 1 });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    // Chunk 1: 4 tokens, not the end of the prefill; its last query row votes.
    const c1 = [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.2, 0.3, 0.5, 0], [0.1, 0.6, 0.1, 0.2]];
    assert.equal(p.observe(obsOf({ nQ: 4, totalTokens: 4, endOfPrefill: false, positions: [[0, 1, 2, 3]], attention: [c1] })), null);
    // Chunk 2: one token. Window = rows 3, 4; votes on rows 0..2 = mean of [0.1, 0.6, 0.1] and [0.5, 0.1, 0.3].
    const c2 = [[0.5, 0.1, 0.3, 0.05, 0.05]];
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 1, totalTokens: 5, positions: [[0, 1, 2, 3, 4]], attention: [c2] }))), [[1, 3, 4]]);
    // Once per sequence: later chunks are left alone.
    assert.equal(p.observe(obsOf({ nQ: 1, totalTokens: 6, phase: 'decode', endOfPrefill: false, positions: [[1, 3, 4, 5]], attention: [[[0.25, 0.25, 0.25, 0.25]]] })), null);
  });

  it('rejects bad options', () => {
    assert.throws(() => snapkvPolicy({ budget: tokenBudget(4), kernel: 4 }), /odd/);
    assert.throws(() => snapkvPolicy({ budget: tokenBudget(4), window: 0 }), /window/);
    assert.throws(() => snapkvPolicy({ budget: tokenBudget(4), pool: 'median' as 'avg' }), /pool/);
  });
});

describe('AdaKV', () => {
  const lens = Int32Array.from([10, 10]);
  const strong = Float64Array.from({ length: 10 }, (_, i) => 10 + i); // head 0: every row beats head 1
  const weak = Float64Array.from({ length: 10 }, (_, i) => i / 10);

  it('pools the layer budget across heads, each head keeping its floor', () => {
    const keep = adaKvSelect(0.2).select([strong, weak], Int32Array.from([5, 5]), lens);
    // Total 10; head 1 is guaranteed ⌊0.2·5⌋ = 1 (its best row, 9); head 0 takes the other 9 (its newest 9).
    assert.deepEqual(keepOf(keep), [[1, 2, 3, 4, 5, 6, 7, 8, 9], [9]]);
    const keepHalf = adaKvSelect(0.5).select([strong, weak], Int32Array.from([5, 5]), lens);
    assert.deepEqual(keepOf(keepHalf), [[2, 3, 4, 5, 6, 7, 8, 9], [8, 9]], 'floor 0.5: ⌊2.5⌋ = 2 rows guaranteed');
    const keep1 = adaKvSelect(1).select([strong, weak], Int32Array.from([5, 5]), lens);
    assert.deepEqual(keepOf(keep1), [[5, 6, 7, 8, 9], [5, 6, 7, 8, 9]], 'floor 1: the even split');
    const keep0 = adaKvSelect(0).select([strong, weak], Int32Array.from([5, 5]), lens);
    assert.deepEqual(keepOf(keep0), [[1, 2, 3, 4, 5, 6, 7, 8, 9], [9]], 'floor 0 still leaves every head one row');
  });

  it('takes the floor of what the rule chooses, besides the rows it always keeps (AdaKV: the budget less the window)', () => {
    // Rows 8 and 9 are each head's window (+∞). Floor 0.5 of the 3 rows left of a budget of 5 guarantees the weak head
    // its best chosen row (7) besides its window; a floor over the whole budget (⌊0.5·5⌋ = 2) would be its window alone.
    const win = (s: Float64Array) => { const w = s.slice(); w.fill(Infinity, 8); return w; };
    const keep = adaKvSelect(0.5).select([win(strong), win(weak)], Int32Array.from([5, 5]), lens);
    assert.deepEqual(keepOf(keep), [[3, 4, 5, 6, 7, 8, 9], [7, 8, 9]]);
    // Sinks rank above the window (scores near the float64 maximum) and count among the rows always kept as well.
    const sunk = win(weak);
    sunk[0] = Number.MAX_VALUE;
    const keepSinks = adaKvSelect(0.5).select([win(strong), sunk], Int32Array.from([5, 5]), lens);
    assert.deepEqual(keepOf(keepSinks)![1], [0, 7, 8, 9], 'sink, window and ⌊0.5·2⌋ = 1 chosen row');
  });

  it('wraps a scorer: same budget in total, unequal heads', () => {
    const shape = { nLayers: 1, nKvHeads: 4, headDim: 8 };
    const sim = new SimCache(shape, adakvPolicy(l2Policy({ budget: tokenBudget(20), every: AT_PREFILL_END })));
    sim.run(schedule(100, 32));
    const rows = [0, 1, 2, 3].map((h) => sim.rows(0, h));
    assert.equal(rows.reduce((a, b) => a + b, 0), 80);
    assert.ok(new Set(rows).size > 1, `heads differ: ${rows}`);
    assert.ok(rows.every((r) => r >= 4), 'floor ⌊0.2·20⌋ = 4');
    assert.throws(() => adaKvSelect(1.5), /floor/);
  });
});

describe('TOVA', () => {
  it('averages the last query over the heads of the layer: one choice shared by all heads', () => {
    // Head 0 prefers token 0, head 1 token 2; the mean prefers token 1 — and rows 3 (the query itself).
    const last = [[0.6, 0.3, 0.0, 0.1], [0.0, 0.3, 0.6, 0.1]];
    const att = last.map((r) => [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.3, 0.3, 0.4, 0], r]);
    const p = tovaPolicy({ budget: tokenBudget(2) });
    p.reset({ nLayers: 1, nKvHeads: 2, headDim: 1 });
    // Means: [0.3, 0.3, 0.3, 0.1]: a three-way tie; the newest two (rows 1, 2) stay in both heads.
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 4, totalTokens: 4, positions: [[0, 1, 2, 3], [0, 1, 2, 3]], attention: att }))), [[1, 2], [1, 2]]);
    const q = tovaPolicy({ budget: tokenBudget(1) });
    q.reset({ nLayers: 1, nKvHeads: 2, headDim: 1 });
    const att2 = [[[0.7, 0.2, 0.1]], [[0.0, 0.5, 0.5]]]; // means [0.35, 0.35, 0.3] → row 1 (newer of the tie)
    assert.deepEqual(keepOf(q.observe(obsOf({ nQ: 1, totalTokens: 3, phase: 'decode', endOfPrefill: false, positions: [[0, 1, 2], [0, 1, 2]], attention: att2 }))), [[1], [1]]);
  });

  it('matches tokens by position when heads hold different rows', () => {
    const p = tovaPolicy({ budget: tokenBudget(1) });
    p.reset({ nLayers: 1, nKvHeads: 2, headDim: 1 });
    // Head 0 holds positions 0, 5, 9; head 1 holds 5, 9. Means over the heads holding each position:
    // 0: 0.5 (head 0 only), 5: (0.1 + 0.6) / 2 = 0.35, 9: (0.4 + 0.4) / 2 = 0.4. Per head alone, head 1 would keep 5.
    const obs = obsOf({ nQ: 1, totalTokens: 10, phase: 'decode', endOfPrefill: false, positions: [[0, 5, 9], [5, 9]], attention: [[[0.5, 0.1, 0.4]], [[0.6, 0.4]]] });
    assert.deepEqual(keepOf(p.observe(obs)), [[0], [1]]);
  });
});

describe('H2O', () => {
  it('accumulates attention over every query, keeps its accumulators aligned across evictions', () => {
    const p = h2oPolicy({ budget: tokenBudget(3), recent: 1 });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    // Chunk 1 (4 tokens): column sums = [1.6, 1.3, 0.7, 0.4]; keep recent row 3 + heavy 0, 1.
    const c1 = [[1, 0, 0, 0], [0.2, 0.8, 0, 0], [0.3, 0.2, 0.5, 0], [0.1, 0.3, 0.2, 0.4]];
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 4, totalTokens: 4, positions: [[0, 1, 2, 3]], attention: [c1] }))), [[0, 1, 3]]);
    // Chunk 2 (1 token) over rows [pos 0, 1, 3, 4]: sums become [1.6, 1.3+0.1, 0.4+0.85, 0.05] → keep 0, 1 and the recent 4.
    const c2 = [[0.0, 0.1, 0.85, 0.05]];
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 1, totalTokens: 5, phase: 'decode', endOfPrefill: false, positions: [[0, 1, 3, 4]], attention: [c2] }))), [[0, 1, 3]]);
    // Chunk 3: rows [0, 1, 4, 5]; a big vote for position 4 (row 2): sums [1.6, 1.4, 0.05+1.5, 0]: keep 0, 4 (row 2), 5.
    const c3 = [[0.0, 0.0, 1.5, 0.0]];
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 1, totalTokens: 6, phase: 'decode', endOfPrefill: false, positions: [[0, 1, 4, 5]], attention: [c3] }))), [[0, 2, 3]]);
  });

  it('adds a chunk\'s columns exactly as the row-by-row float64 loop (four columns at a time, every remainder)', () => {
    const rng = new Rng(7);
    for (const [nQ, n] of [[1, 1], [1, 7], [3, 4], [5, 9], [128, 1031], [2, 6]] as const) {
      const att = Float32Array.from({ length: nQ * n + 5 }, () => rng.float() / n);
      const start = Float64Array.from({ length: n + 2 }, () => rng.float());
      const ref = start.slice();
      for (let q = 0; q < nQ; q++) for (let j = 0; j < n; j++) ref[j]! += att[q * n + j]!;
      const got = start.slice();
      addColumns(got, att, nQ, n);
      assert.deepEqual(got, ref, `nQ=${nQ} n=${n}`);
    }
  });

  it('says so when the cache did not apply its keep lists', () => {
    const p = h2oPolicy({ budget: tokenBudget(2) });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    const a = [[1, 0, 0], [0.5, 0.5, 0], [0.3, 0.3, 0.4]];
    assert.notEqual(p.observe(obsOf({ nQ: 3, totalTokens: 3, positions: [[0, 1, 2]], attention: [a] })), null);
    // The cache still has 3 rows + 1 new = 4, but the policy kept 2: 2 + 1 expected.
    assert.throws(() => p.observe(obsOf({ nQ: 1, totalTokens: 4, phase: 'decode', endOfPrefill: false, positions: [[0, 1, 2, 3]], attention: [[[0.25, 0.25, 0.25, 0.25]]] })),
      /out of step/);
  });
});

describe('L2 / KNorm', () => {
  it('keeps the keys with the lowest norm', () => {
    const p = l2Policy({ budget: tokenBudget(2) });
    p.reset({ nLayers: 1, nKvHeads: 1, headDim: 2 });
    const keys = [[[3, 0], [0, 1], [1.2, 1.5], [5, 5]]]; // norms 3, 1, 1.92, 7.07
    assert.deepEqual(keepOf(p.observe(obsOf({ nQ: 4, totalTokens: 4, positions: [[0, 1, 2, 3]], keys }))), [[1, 2]]);
  });

  it('sinks=S keeps the first S positions whatever their norm, then the lowest norms', () => {
    // Position 0 has the largest norm (as the BOS key of namm-tiny-llama does): the plain rule drops it first.
    const keys = [[[9, 9], [3, 0], [0, 1], [1.2, 1.5], [5, 5]], [[0.1, 0], [4, 4], [0, 2], [3, 3], [0, 0.5]]];
    const obs = obsOf({ nQ: 5, totalTokens: 5, positions: [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]], keys });
    const shape = { nLayers: 1, nKvHeads: 2, headDim: 2 };
    const plain = l2Policy({ budget: tokenBudget(3) });
    plain.reset(shape);
    assert.deepEqual(keepOf(plain.observe(obs)), [[1, 2, 3], [0, 2, 4]]);
    const guarded = withSinks(l2Policy({ budget: tokenBudget(3) }), 1);
    guarded.reset(shape);
    assert.equal(guarded.name, 'l2:tokens=3,sinks=1');
    assert.deepEqual(keepOf(guarded.observe(obs)), [[0, 2, 3], [0, 2, 4]]);
    // Later, with the sink at row 0 of a compacted cache, it stays; positions ≥ S get no protection.
    const later = obsOf({ nQ: 1, totalTokens: 6, positions: [[0, 2, 3, 5], [0, 2, 4, 5]],
      keys: [[[9, 9], [0, 1], [1.2, 1.5], [0, 0.1]], [[0.1, 0], [0, 2], [0, 0.5], [7, 7]]] });
    assert.deepEqual(keepOf(guarded.observe(later)), [[0, 1, 3], [0, 1, 2]]);
    // AdaKV's layer-wide top-k keeps them too (floor 0: no per-head share).
    const ada = adakvPolicy(withSinks(l2Policy({ budget: tokenBudget(2) }), 1), { floor: 0 });
    ada.reset(shape);
    const kept = keepOf(ada.observe(obs))!;
    assert.ok(kept[0]!.includes(0) && kept[1]!.includes(0));
    assert.equal(kept[0]!.length + kept[1]!.length, 4);
    assert.throws(() => withSinks(l2Policy({ budget: tokenBudget(3) }), 0), /sinks must be an integer ≥ 1/);
  });

  it('sinks=S outrank the rows the rule always keeps (H2O recent window, SnapKV observation window)', () => {
    // Tied at +∞ with the window, the newer rows won: h2o at a budget of 6 with sinks=4 kept sinks 1–3 (not the BOS)
    // and snapkv at 66 with sinks=4 kept only sinks 2 and 3.
    // (Token budgets that small are refused, since the rule chooses no token there; a ratio budget can still be that
    // small early in a sequence: ratio 0.7 of 20 tokens is 6, ratio 0.67 of 200 is 66.)
    for (const [spec, T, window, budget] of [['h2o:ratio=0.7,sinks=4', 20, 3, 6], ['snapkv:ratio=0.67,sinks=4', 200, 64, 66]] as const) {
      const sim = new SimCache({ nLayers: 1, nKvHeads: 2, headDim: 4 }, parsePolicySpec(spec), { seed: 2 });
      sim.run(schedule(T, 128));
      for (let h = 0; h < 2; h++) {
        const held = sim.positions(0, h);
        assert.deepEqual(held.slice(0, 4), [0, 1, 2, 3], `${spec}, head ${h}: ${held}`);
        // The budget left after the sinks goes to the newest of the window rows.
        assert.deepEqual(held.slice(4), Array.from({ length: budget - 4 }, (_, i) => T - (budget - 4) + i), `${spec}: ${held}`);
        assert.ok(budget - 4 <= window);
      }
    }
  });
});

describe('sinks=S under a budget the sinks fill', () => {
  it('a ratio budget below the held sinks keeps the newest token and the oldest sinks, for every rule', () => {
    // 400 tokens in 128-token chunks at ratio 0.875 keep ⌊T/8⌋ (16 after the first chunk, fewer than 64 sinks).
    // All +∞, the sinks tied and went to the newer rows: positions 48–63 stayed and the BOS was gone for good, and
    // every decoded token was evicted as soon as it had attended.
    for (const spec of ['l2:ratio=0.875,sinks=64', 'h2o:ratio=0.875,sinks=64', 'random:ratio=0.875,sinks=64,every=1', 'tova:ratio=0.875,sinks=64,every=1']) {
      const sim = new SimCache({ nLayers: 1, nKvHeads: 2, headDim: 4 }, parsePolicySpec(spec), { seed: 3 });
      for (const chunk of schedule(400, 128, 3)) {
        sim.run([chunk]);
        const T = sim.totalTokens, k = Math.floor(T / 8);
        for (let h = 0; h < 2; h++) {
          const held = sim.positions(0, h), sinks = held.filter((p) => p < 64);
          assert.equal(held.length, Math.min(k, T), `${spec}, T = ${T}`);
          // The first action (16 of 128 kept) keeps the newest and the 15 oldest; the sinks it dropped never come
          // back, and later budgets go to the rule, but the sinks still held are always the oldest.
          if (T === 128) assert.deepEqual(held, [...Array.from({ length: 15 }, (_, i) => i), 127], `${spec}: ${held}`);
          assert.deepEqual(sinks, Array.from({ length: sinks.length }, (_, i) => i), `${spec}, T = ${T}: ${held}`);
          assert.ok(sinks.length >= 15, `${spec}, T = ${T}: ${held}`);
        }
      }
    }
  });
});

describe('scored policies: errors', () => {
  it('observe before reset, wrong head count, no budget', () => {
    const p = l2Policy({ budget: tokenBudget(2) });
    const o = obsOf({ nQ: 1, totalTokens: 1, positions: [[0]] });
    assert.throws(() => p.observe(o), /reset/);
    p.reset({ nLayers: 1, nKvHeads: 2, headDim: 1 });
    assert.throws(() => p.observe(o), /KV heads/);
    assert.throws(() => p.observe({ ...o, layer: 3 }), /layer 3/);
    const q = l2Policy({ budget: null });
    q.reset({ nLayers: 1, nKvHeads: 1, headDim: 1 });
    assert.throws(() => q.observe(o), /no budget/);
    assert.throws(() => q.reset({ nLayers: 0, nKvHeads: 1, headDim: 1 }), /nLayers/);
  });

  it('names read like spec strings', () => {
    assert.equal(h2oPolicy({ budget: ratioBudget(0.5) }).name, 'h2o:ratio=0.5');
    assert.equal(h2oPolicy({ budget: tokenBudget(1024), recent: 64 }).name, 'h2o:tokens=1024,recent=64');
    assert.equal(snapkvPolicy({ budget: ratioBudget(0.75), pool: 'max' }).name, 'snapkv:ratio=0.75,window=64,kernel=5,pool=max');
    assert.equal(adakvPolicy(snapkvPolicy({ budget: ratioBudget(0.5) })).name, 'adakv(snapkv):ratio=0.5,window=64,kernel=5,pool=avg');
    assert.equal(l2Policy({ budget: tokenBudget(8), every: AT_PREFILL_END }).name, 'l2:tokens=8,every=prefill');
  });
});
