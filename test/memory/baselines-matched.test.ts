/** Matched memory: the trace format, the recorder, replay, and the errors that say a trace does not fit. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { tokenBudget } from '../../src/memory/budget.js';
import { h2oPolicy } from '../../src/memory/h2o.js';
import { l2Policy } from '../../src/memory/l2.js';
import { adakvPolicy } from '../../src/memory/adakv.js';
import {
  type MemoryTrace, MemoryTraceRecorder, loadMemoryTrace, matchedPolicy, parseMemoryTrace, recordingPolicy, saveMemoryTrace,
} from '../../src/memory/matched.js';
import { SimCache, schedule } from '../helpers/cache-sim.js';
import { tempDir } from '../helpers/temp.js';

const SHAPE = { nLayers: 2, nKvHeads: 2, headDim: 4 };

describe('memory traces', () => {
  it('parse: bare event lists, full objects, clear errors', () => {
    const bare = parseMemoryTrace([{ totalTokens: 64, layer: 0, kept: 10 }]);
    assert.deepEqual(bare, { version: 1, sequences: [[{ totalTokens: 64, layer: 0, kept: 10 }]] });
    const full = parseMemoryTrace({ version: 1, source: 'namm', sequences: [[{ totalTokens: 64, layer: 1, kept: [3, 4] }], []] });
    assert.equal(full.source, 'namm');
    assert.equal(full.sequences.length, 2);
    assert.throws(() => parseMemoryTrace({ version: 2, sequences: [[]] }), /version/);
    assert.throws(() => parseMemoryTrace({}), /sequences/);
    assert.throws(() => parseMemoryTrace([{ totalTokens: 0, layer: 0, kept: 1 }]), /totalTokens/);
    assert.throws(() => parseMemoryTrace([{ totalTokens: 5, layer: -1, kept: 1 }]), /layer/);
    assert.throws(() => parseMemoryTrace([{ totalTokens: 5, layer: 0, kept: [1.5] }]), /kept/);
    assert.throws(() => parseMemoryTrace([{ totalTokens: 5, layer: 0 }]), /kept/);
    assert.equal(parseMemoryTrace({ version: 1, chunkBoundary: 48, sequences: [[]] }).chunkBoundary, 48);
    assert.throws(() => parseMemoryTrace({ version: 1, chunkBoundary: 0, sequences: [[]] }), /"chunkBoundary" must be a positive integer/);
  });

  it('save and load round-trip; unreadable files name the path', () => {
    const dir = tempDir('namm-trace-');
    try {
      const t: MemoryTrace = { version: 1, source: 'x', sequences: [[{ totalTokens: 8, layer: 1, kept: [2, 3] }]] };
      const path = join(dir, 't.json');
      saveMemoryTrace(path, t);
      assert.deepEqual(loadMemoryTrace(path), t);
      writeFileSync(join(dir, 'bad.json'), '{ nope');
      assert.throws(() => loadMemoryTrace(join(dir, 'bad.json')), /bad\.json is not valid JSON/);
      assert.throws(() => loadMemoryTrace(join(dir, 'missing.json')), /cannot read memory trace .*missing\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the recorder writes per-head counts, a single number when heads agree, one sequence per run', () => {
    const rec = new MemoryTraceRecorder('test');
    const lens = Int32Array.from([5, 5]);
    rec.beginSequence();
    rec.record({ layer: 0, totalTokens: 5, lens }, [Int32Array.from([0, 1]), Int32Array.from([2, 3])]);
    rec.record({ layer: 1, totalTokens: 5, lens }, [Int32Array.from([0]), Int32Array.from([2, 3, 4])]);
    rec.record({ layer: 1, totalTokens: 6, lens }, null);
    rec.record({ layer: 1, totalTokens: 6, lens }, [Int32Array.from([0, 1, 2, 3, 4]), Int32Array.from([0, 1, 2, 3, 4])]); // keeps all
    rec.beginSequence();
    assert.deepEqual(rec.toTrace(), {
      version: 1, source: 'test',
      sequences: [[{ totalTokens: 5, layer: 0, kept: 2 }, { totalTokens: 5, layer: 1, kept: [1, 3] }], []],
    });
  });
});

describe('matched(...)', () => {
  function recorded(policy: MemoryPolicy, runs: number[]): { trace: MemoryTrace; sims: SimCache[] } {
    const recorder = new MemoryTraceRecorder(policy.name);
    const wrapped = recordingPolicy(policy, recorder);
    const sims = runs.map((T) => { const s = new SimCache(SHAPE, wrapped); s.run(schedule(T, 16, 4)); return s; });
    return { trace: recorder.toTrace(), sims };
  }

  it('replays per-head traces (from AdaKV-like unequal heads) exactly, sequence by sequence', () => {
    // Reference: AdaKV over L2 (heads keep different counts) acting every 32 tokens, on two prompts.
    const { trace, sims } = recorded(adakvPolicy(l2Policy({ budget: tokenBudget(12), every: { kind: 'tokens', every: 32 } })), [70, 100]);
    assert.equal(trace.sequences.length, 2);
    assert.ok(trace.sequences[1]!.some((e) => Array.isArray(e.kept)), 'per-head counts recorded');
    const m = matchedPolicy(h2oPolicy({ budget: null }), trace);
    [70, 100].forEach((T, i) => {
      const s = new SimCache(SHAPE, m);
      s.run(schedule(T, 16, 4));
      for (let l = 0; l < 2; l++) for (let h = 0; h < 2; h++) assert.equal(s.rows(l, h), sims[i]!.rows(l, h));
      assert.equal(m.pendingEvents(), 0);
    });
    // A third sequence is not in the trace.
    assert.throws(() => new SimCache(SHAPE, m).run(schedule(20, 16)), /holds only 2/);
  });

  it('a one-sequence trace is replayed on every sequence; resets without tokens do not consume one', () => {
    const { trace } = recorded(l2Policy({ budget: tokenBudget(10) }), [40]);
    const m = matchedPolicy(l2Policy({ budget: null }), trace);
    m.reset(SHAPE); m.reset(SHAPE); // e.g. a session constructor, then session.reset()
    for (let i = 0; i < 2; i++) {
      const s = new SimCache(SHAPE, m);
      s.run(schedule(40, 16, 4));
      assert.equal(s.rows(0, 0), 10);
    }
  });

  it('a trace from another chunking or prompt is an error, not a silent mismatch', () => {
    const skip = parseMemoryTrace([{ totalTokens: 20, layer: 0, kept: 4 }]);
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), skip)).run(schedule(40, 16)), /no chunk ended there/);
    const tooMany = parseMemoryTrace([{ totalTokens: 16, layer: 0, kept: 40 }]);
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), tooMany)).run(schedule(40, 16)), /holds only 32/);
    const badLayer = parseMemoryTrace([{ totalTokens: 16, layer: 5, kept: 4 }]);
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), badLayer)).run(schedule(40, 16)), /layer 5/);
    const badHeads = parseMemoryTrace([{ totalTokens: 16, layer: 0, kept: [1, 2, 3] }]);
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), badHeads)).run(schedule(40, 16)), /3 heads/);
    // Stopping early leaves events pending, which the caller can check.
    const later = parseMemoryTrace([{ totalTokens: 48, layer: 0, kept: 4 }]);
    const m = matchedPolicy(l2Policy({ budget: null }), later);
    new SimCache(SHAPE, m).run(schedule(40, 16));
    assert.equal(m.pendingEvents(), 1);
  });

  it('takes needsAttention and a name from the wrapped policy', () => {
    const t = parseMemoryTrace([]);
    assert.equal(matchedPolicy(h2oPolicy({ budget: null }), t, 'run.json').name, 'matched(h2o):trace=run.json');
    assert.equal(matchedPolicy(h2oPolicy({ budget: null }), t).needsAttention, true);
    assert.equal(matchedPolicy(l2Policy({ budget: null }), t).needsAttention, false);
  });

  it('a trace built in code is checked as a file is, when the policy is made', () => {
    // kept 0 (or NaN, -5) emptied a layer's heads at the event without an error; no sequences failed in the forward.
    const h2o = () => h2oPolicy({ budget: null });
    for (const kept of [0, -5, Number.NaN, [3, 0]]) {
      const trace = { version: 1, sequences: [[{ totalTokens: 128, layer: 0, kept }]] } as unknown as MemoryTrace;
      assert.throws(() => matchedPolicy(h2o(), trace), /^Error: matched\(h2o\):trace=trace: sequence 0 event 0: kept must be an integer ≥ 1 or a non-empty array of them/, String(kept));
    }
    assert.throws(() => matchedPolicy(h2o(), { version: 1, sequences: [] }, 'mine'), /^Error: matched\(h2o\):trace=mine: expected an array of events .* with at least one sequence$/);
    const good: MemoryTrace = { version: 1, sequences: [[{ totalTokens: 128, layer: 0, kept: [3, 4] }]] };
    assert.equal(matchedPolicy(h2o(), good).pendingEvents(), 0);
  });
});
