/**
 * The invariant matrix: every baseline (and AdaKV over several of them) runs on the same synthetic sequences
 * through the simulated cache, and every action is checked against scores recomputed here, independently, from
 * the raw history by absolute position (so a policy whose per-row state drifted from the cache fails).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KeepLists, MemoryPolicy } from '../../src/memory/policy.js';
import { type Budget, type Cadence, everyTokens, ratioBudget, tokenBudget } from '../../src/memory/budget.js';
import { ScoredPolicy } from '../../src/memory/scored.js';
import { randomPolicy } from '../../src/memory/random.js';
import { streamingPolicy } from '../../src/memory/streaming.js';
import { h2oPolicy } from '../../src/memory/h2o.js';
import { tovaPolicy } from '../../src/memory/tova.js';
import { l2Policy } from '../../src/memory/l2.js';
import { snapkvPolicy, type SnapKVPool } from '../../src/memory/snapkv.js';
import { adakvPolicy } from '../../src/memory/adakv.js';
import { fullPolicy } from '../../src/memory/full.js';
import { MemoryTraceRecorder, matchedPolicy, recordingPolicy } from '../../src/memory/matched.js';
import { SimCache, type SimShape, type StepRecord, schedule, topKRows } from '../helpers/cache-sim.js';
import { Rng } from '../../src/util/rng.js';

const SHAPE: SimShape = { nLayers: 3, nKvHeads: 2, headDim: 8 };
// 300 prompt tokens in chunks of 48 (the last chunk has 12 < 64 queries: SnapKV must span two chunks), 24 decode steps.
const RUN = schedule(300, 48, 24);

type RefScores = (hist: StepRecord[], targets: number[]) => number[][];

interface MethodCase {
  name: string;
  make(budget: Budget | null): ScoredPolicy;
  needsAttention: boolean;
  /** Per-head reference scores from this layer's history (last record = the acting step); null: no score check. */
  ref: RefScores | null;
  adakv?: boolean;
  /** Whether it acts once, at the end of the prefill. */
  once?: boolean;
  /** The token budget of the matrix (40 unless the rule keeps more whatever the scores: SnapKV's window of 64). */
  tokens?: number;
  /** Whether it acts at the end of the prefill and at every decode step only (every=decode). */
  decodeCadence?: boolean;
}

// ---- independent reference scores, computed by absolute position from the raw history ----

function l2Ref(hist: StepRecord[]): number[][] {
  const r = hist[hist.length - 1]!;
  return r.positions.map((p, h) => p.map((_, j) => {
    let s = 0;
    for (let d = 0; d < SHAPE.headDim; d++) s += r.keys[h]![j * SHAPE.headDim + d]! ** 2;
    return -Math.sqrt(s);
  }));
}

function h2oRef(recent: number | undefined): RefScores {
  return (hist, targets) => {
    const r = hist[hist.length - 1]!;
    return r.positions.map((pos, h) => {
      const acc = new Map<number, number>();
      for (const rec of hist) {
        const p = rec.positions[h]!, n = p.length;
        for (let q = 0; q < rec.nQ; q++) for (let j = 0; j < n; j++) acc.set(p[j]!, (acc.get(p[j]!) ?? 0) + rec.attention[h]![q * n + j]!);
      }
      const win = Math.min(pos.length, recent ?? Math.floor(targets[h]! / 2));
      return pos.map((p, j) => (j >= pos.length - win ? Infinity : acc.get(p)!));
    });
  };
}

function tovaRef(hist: StepRecord[]): number[][] {
  const r = hist[hist.length - 1]!, H = r.positions.length;
  const mean = new Map<number, number>();
  for (let h = 0; h < H; h++) {
    const p = r.positions[h]!, n = p.length;
    for (let j = 0; j < n; j++) mean.set(p[j]!, (mean.get(p[j]!) ?? 0) + r.attention[h]![(r.nQ - 1) * n + j]! / H);
  }
  return r.positions.map((p) => p.map((x) => mean.get(x)!));
}

function snapkvRef(window: number, kernel: number, pool: SnapKVPool): RefScores {
  return (hist) => {
    const r = hist[hist.length - 1]!;
    return r.positions.map((pos, h) => {
      // The last `window` query rows, newest first, across as many records as needed.
      const vote = new Map<number, number>();
      let count = 0;
      for (let i = hist.length - 1; i >= 0 && count < window; i--) {
        const rec = hist[i]!, p = rec.positions[h]!, n = p.length;
        for (let q = rec.nQ - 1; q >= 0 && count < window; q--, count++) {
          for (let j = 0; j < n; j++) vote.set(p[j]!, (vote.get(p[j]!) ?? 0) + rec.attention[h]![q * n + j]!);
        }
      }
      const n = pos.length, win = Math.min(count, n), prefix = n - win;
      const v = pos.slice(0, prefix).map((p) => (vote.get(p) ?? 0) / count);
      const half = kernel >> 1;
      return pos.map((_, j) => {
        if (j >= prefix) return Infinity;
        const around: number[] = [];
        for (let i = j - half; i <= j + half; i++) around.push(i >= 0 && i < prefix ? v[i]! : pool === 'max' ? -Infinity : 0);
        return pool === 'max' ? Math.max(...around) : around.reduce((a, b) => a + b, 0) / kernel;
      });
    });
  };
}

function streamingRef(sinks: number): RefScores {
  // Rank: the sinks (oldest first), then the rest newest first, expressed as scores.
  return (hist) => hist[hist.length - 1]!.positions.map((pos) => pos.map((p) => (p < sinks ? 1e9 - p : p)));
}

/**
 * AdaKV selection recomputed from reference scores: per head, the rows its rule always keeps (+∞) and a floor share
 * of the rest of its budget first (at least 1 row, at most its budget), then one flattened top-k.
 */
function adakvRefKeep(scores: number[][], targets: number[], floor: number): number[][] {
  const keep = scores.map((s, h) => {
    const always = s.filter((v) => v === Infinity).length, t = targets[h]!;
    return new Set(topKRows(s, Math.max(1, Math.min(t, always + Math.floor(floor * Math.max(0, t - always))))));
  });
  const total = targets.reduce((a, b) => a + b, 0);
  const rest: { s: number; h: number; j: number; f: number }[] = [];
  let f = 0, forced = 0;
  scores.forEach((s, h) => s.forEach((v, j) => { if (!keep[h]!.has(j)) rest.push({ s: v, h, j, f }); else forced++; f++; }));
  rest.sort((a, b) => (b.s - a.s) || (b.f - a.f));
  for (const e of rest.slice(0, total - forced)) keep[e.h]!.add(e.j);
  return keep.map((k) => [...k].sort((a, b) => a - b));
}

const METHODS: MethodCase[] = [
  { name: 'random', make: (b) => randomPolicy({ budget: b, seed: 7 }), needsAttention: false, ref: null },
  { name: 'streaming', make: (b) => streamingPolicy({ budget: b }), needsAttention: false, ref: streamingRef(4) },
  { name: 'h2o', make: (b) => h2oPolicy({ budget: b }), needsAttention: true, ref: h2oRef(undefined) },
  { name: 'h2o recent=8', make: (b) => h2oPolicy({ budget: b, recent: 8 }), needsAttention: true, ref: h2oRef(8) },
  { name: 'tova', make: (b) => tovaPolicy({ budget: b }), needsAttention: true, ref: tovaRef, decodeCadence: true },
  { name: 'tova every=1', make: (b) => tovaPolicy({ budget: b, every: everyTokens(1) }), needsAttention: true, ref: tovaRef },
  { name: 'l2', make: (b) => l2Policy({ budget: b }), needsAttention: false, ref: l2Ref },
  { name: 'snapkv', make: (b) => snapkvPolicy({ budget: b }), needsAttention: true, ref: snapkvRef(64, 5, 'avg'), once: true, tokens: 96 },
  { name: 'snapkv pool=max window=16', make: (b) => snapkvPolicy({ budget: b, pool: 'max', window: 16 }), needsAttention: true, ref: snapkvRef(16, 5, 'max'), once: true },
  {
    name: 'snapkv every=1 (evicts while buffering)', make: (b) => snapkvPolicy({ budget: b, window: 64, kernel: 3, every: everyTokens(1) }),
    needsAttention: true, ref: snapkvRef(64, 3, 'avg'), tokens: 96,
  },
  { name: 'adakv(snapkv)', make: (b) => adakvPolicy(snapkvPolicy({ budget: b })), needsAttention: true, ref: snapkvRef(64, 5, 'avg'), adakv: true, once: true, tokens: 96 },
  { name: 'adakv(h2o)', make: (b) => adakvPolicy(h2oPolicy({ budget: b })), needsAttention: true, ref: h2oRef(undefined), adakv: true },
  { name: 'adakv(l2)', make: (b) => adakvPolicy(l2Policy({ budget: b })), needsAttention: false, ref: l2Ref, adakv: true },
];

function expectedTarget(b: Budget, T: number, rows: number): number {
  const want = b.kind === 'ratio' ? Math.floor(T * (1 - b.ratio)) : b.tokens;
  return Math.max(1, Math.min(rows, want));
}

function runSim(policy: MemoryPolicy, seed = 1, noAttention = false): SimCache {
  const sim = new SimCache(SHAPE, policy, { seed, noAttention });
  sim.run(RUN);
  return sim;
}

const asArrays = (k: KeepLists | null): number[][] | null => k && k.map((x) => Array.from(x));

for (const m of METHODS) {
  describe(`invariants: ${m.name}`, () => {
    for (const budget of [ratioBudget(0.5), ratioBudget(0.875), tokenBudget(m.tokens ?? 40)]) {
      it(`keeps the top-k by score, the budgeted count, and shrinks the cache (${budget.kind}=${budget.kind === 'ratio' ? budget.ratio : budget.tokens})`, () => {
        const sim = runSim(m.make(budget));
        let actions = 0;
        for (let l = 0; l < SHAPE.nLayers; l++) {
          const hist = sim.records.filter((r) => r.layer === l);
          for (let i = 0; i < hist.length; i++) {
            const rec = hist[i]!;
            const lens = rec.positions.map((p) => p.length);
            const targets = lens.map((n) => expectedTarget(budget, rec.totalTokens, n));
            const want = expectedTarget(budget, rec.totalTokens, Infinity); // one head's share, before clamping
            const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
            const due = m.once ? rec.endOfPrefill : m.decodeCadence ? rec.endOfPrefill || rec.phase === 'decode' : true;
            const mustShrink = due && (m.adakv ? SHAPE.nKvHeads * want < sum(lens) : targets.some((t, h) => t < lens[h]!));
            assert.equal(rec.keep !== null, mustShrink, `layer ${l} step ${i}: acts exactly when due and over budget`);
            if (!rec.keep) continue;
            actions++;
            const kept = rec.keep.map((k) => k.length);
            if (m.adakv) {
              assert.equal(sum(kept), SHAPE.nKvHeads * want, 'AdaKV keeps the layer total');
            } else {
              assert.deepEqual(kept, targets, `ratio keeps ⌊T·(1−r)⌋ / tokens keeps N (T=${rec.totalTokens})`);
            }
            assert.ok(kept.reduce((a, b) => a + b, 0) < lens.reduce((a, b) => a + b, 0), 'the cache shrinks');
            if (m.ref) {
              const shares = m.adakv ? lens.map(() => want) : targets;
              const scores = m.ref(hist.slice(0, i + 1), shares);
              const expected = m.adakv ? adakvRefKeep(scores, shares, 0.2) : scores.map((s, h) => topKRows(s, targets[h]!));
              assert.deepEqual(asArrays(rec.keep), expected, `layer ${l} step ${i}: kept set = top-k by score`);
            }
          }
        }
        assert.ok(actions >= (m.once ? SHAPE.nLayers : 10), `acted ${actions} times`);
        // After the run the cache holds the budget (per head, or per layer for AdaKV).
        for (let l = 0; l < SHAPE.nLayers; l++) {
          const rows = Array.from({ length: SHAPE.nKvHeads }, (_, h) => sim.rows(l, h));
          if (!m.once) {
            const t = expectedTarget(budget, sim.totalTokens, Infinity);
            if (m.adakv) assert.equal(rows.reduce((a, b) => a + b, 0), SHAPE.nKvHeads * t);
            else assert.deepEqual(rows, rows.map(() => t));
          }
        }
      });
    }

    it('ratio = 0 changes nothing (prefill and decode)', () => {
      const sim = runSim(m.make(ratioBudget(0)));
      assert.ok(sim.records.every((r) => r.keep === null));
      assert.equal(sim.rows(0, 0), sim.totalTokens);
    });

    it('is deterministic for a seed', () => {
      const a = runSim(m.make(ratioBudget(0.5)), 3), b = runSim(m.make(ratioBudget(0.5)), 3);
      assert.deepEqual(a.records.map((r) => asArrays(r.keep)), b.records.map((r) => asArrays(r.keep)));
      // The policy really looks at its input: another synthetic sequence gives other choices.
      const c = runSim(m.make(ratioBudget(0.5)), 4);
      if (m.name !== 'streaming' && m.name !== 'random') assert.notDeepEqual(a.records.map((r) => asArrays(r.keep)), c.records.map((r) => asArrays(r.keep)));
    });

    it(`declares needsAttention truthfully (${m.needsAttention})`, () => {
      const p = m.make(ratioBudget(0.5));
      assert.equal(p.needsAttention, m.needsAttention);
      if (m.needsAttention) assert.throws(() => runSim(m.make(ratioBudget(0.5)), 1, true), /attention/);
      else {
        const withAtt = runSim(m.make(ratioBudget(0.5)), 5), without = runSim(m.make(ratioBudget(0.5)), 5, true);
        assert.deepEqual(without.records.map((r) => asArrays(r.keep)), withAtt.records.map((r) => asArrays(r.keep)));
      }
    });

    it('reset() starts a fresh sequence with the same behaviour', () => {
      const p = m.make(ratioBudget(0.5));
      const first = runSim(p, 9).records.map((r) => asArrays(r.keep));
      const second = runSim(p, 9).records.map((r) => asArrays(r.keep)); // SimCache calls reset()
      assert.deepEqual(second, first);
    });
  });
}

describe('invariants: random', () => {
  it('keeps a uniform subset: old and new tokens survive at the same rate', () => {
    let early = 0, late = 0;
    for (let seed = 0; seed < 60; seed++) {
      const sim = new SimCache({ nLayers: 1, nKvHeads: 1, headDim: 4 }, randomPolicy({ budget: ratioBudget(0.5), seed, every: { kind: 'prefill' } }));
      sim.run(schedule(200, 64));
      for (const p of sim.positions(0, 0)) { if (p < 100) early++; else late++; }
    }
    // 60 × 100 kept in all; each half expects 3000 (sd ≈ 27 under a hypergeometric draw).
    assert.equal(early + late, 6000);
    assert.ok(Math.abs(early - 3000) < 200, `early ${early} vs late ${late}`);
  });

  it('different seeds choose different tokens', () => {
    const run = (seed: number): number[] => {
      const sim = new SimCache(SHAPE, randomPolicy({ budget: ratioBudget(0.5), seed }));
      sim.run(RUN);
      return sim.positions(0, 0);
    };
    assert.deepEqual(run(1), run(1));
    assert.notDeepEqual(run(1), run(2));
  });
});

describe('invariants: full', () => {
  it('never evicts and needs no attention', () => {
    const sim = new SimCache(SHAPE, fullPolicy(), { noAttention: true });
    sim.run(RUN);
    assert.ok(sim.records.every((r) => r.keep === null));
    assert.equal(fullPolicy().needsAttention, false);
  });
});

/** A NAMM-like reference: every 96 tokens, each layer drops a random number of rows (same count for all heads). */
function emergentPolicy(seed: number): MemoryPolicy {
  let rng = new Rng(seed);
  return {
    name: 'emergent', needsAttention: false,
    reset() { rng = new Rng(seed); },
    observe(obs) {
      if (obs.totalTokens % 96 !== 0) return null;
      const n = Math.min(...obs.lens), drop = rng.int(Math.floor(n / 2)) + 1;
      return Array.from(obs.lens, (len) => Int32Array.from(rng.sample(len, len - drop).sort((a, b) => a - b)));
    },
  };
}

describe('invariants: matched memory follows its trace', () => {
  const chunks = schedule(288, 32, 100); // NAMM-like updates at 96, 192, 288 (prefill) and 384 (decode)
  const recorder = new MemoryTraceRecorder('emergent');
  const reference = new SimCache(SHAPE, recordingPolicy(emergentPolicy(11), recorder));
  reference.run(chunks);
  const trace = recorder.toTrace();

  it('the recorder captured every eviction', () => {
    assert.equal(trace.sequences.length, 1);
    assert.equal(trace.sequences[0]!.length, 4 * SHAPE.nLayers);
    assert.deepEqual(trace.sequences[0]!.map((e) => e.totalTokens), [96, 96, 96, 192, 192, 192, 288, 288, 288, 384, 384, 384]);
  });

  for (const m of METHODS) {
    it(`matched(${m.name}) holds the reference's rows at every step`, () => {
      const sim = new SimCache(SHAPE, matchedPolicy(m.make(null), trace), { seed: 5 });
      for (const c of chunks) sim.feed(c);
      for (let i = 0; i < sim.records.length; i++) {
        const got = sim.records[i]!, want = reference.records[i]!;
        assert.equal(got.keep !== null, want.keep !== null, `step ${i}: evicts exactly when the trace does`);
        if (!got.keep) continue;
        const g = got.keep.map((k) => k.length), w = want.keep!.map((k) => k.length);
        if (m.adakv) assert.equal(g.reduce((a, b) => a + b, 0), w.reduce((a, b) => a + b, 0));
        else assert.deepEqual(g, w);
      }
      for (let l = 0; l < SHAPE.nLayers; l++) {
        const rows = (s: SimCache): number => Array.from({ length: SHAPE.nKvHeads }, (_, h) => s.rows(l, h)).reduce((a, b) => a + b, 0);
        assert.equal(rows(sim), rows(reference));
      }
    });
  }
});

// Cadence: `every` in tokens acts only on chunks that cross a multiple.
describe('invariants: cadence', () => {
  it('every=96 acts only where the sequence length crosses a multiple of 96', () => {
    const every: Cadence = everyTokens(96);
    const sim = new SimCache(SHAPE, h2oPolicy({ budget: tokenBudget(30), every }));
    sim.run(schedule(300, 32, 100));
    const acted = [...new Set(sim.records.filter((r) => r.keep).map((r) => r.totalTokens))];
    assert.deepEqual(acted, [96, 192, 288, 384]);
  });
});
