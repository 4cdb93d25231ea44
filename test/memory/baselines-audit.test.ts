/**
 * Defects found by an audit of the baselines and matched-memory traces: each test failed before its fix.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tokenBudget } from '../../src/memory/budget.js';
import { l2Policy } from '../../src/memory/l2.js';
import { adakvPolicy } from '../../src/memory/adakv.js';
import { streamingPolicy } from '../../src/memory/streaming.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import {
  MemoryTraceRecorder, loadMemoryTrace, matchedPolicy, parseMemoryTrace, recordingPolicy, saveMemoryTrace,
} from '../../src/memory/matched.js';
import { saveNammCheckpoint, zeroNammParams } from '../../src/memory/namm/index.js';
import { SimCache, schedule } from '../helpers/cache-sim.js';
import { tempDir } from '../helpers/temp.js';

const SHAPE = { nLayers: 2, nKvHeads: 2, headDim: 4 };

describe('matched memory: traces that cannot be followed are refused', () => {
  it('a trace event keeping 0 rows is malformed (a target is never below 1: it emptied the head)', () => {
    assert.throws(() => parseMemoryTrace([{ totalTokens: 16, layer: 0, kept: 0 }]), /kept must be an integer ≥ 1/);
    assert.throws(() => parseMemoryTrace([{ totalTokens: 16, layer: 0, kept: [3, 0] }]), /kept must be an integer ≥ 1/);
  });

  it('two events for the same layer and point are refused (the last one used to win silently)', () => {
    const e = (layer: number, totalTokens: number, kept: number) => ({ totalTokens, layer, kept });
    assert.throws(() => parseMemoryTrace([e(0, 16, 4), e(1, 16, 4), e(0, 16, 2)]),
      /sequence 0 events 0 and 2 both evict in layer 0 at totalTokens 16; a trace holds one eviction per layer and point/);
    // The same point in two sequences, or two points of one layer, are fine.
    assert.equal(parseMemoryTrace({ version: 1, sequences: [[e(0, 16, 4)], [e(0, 16, 4), e(0, 32, 4)]] }).sequences.length, 2);
  });

  it('under per-head selection, a head asked to keep more rows than it holds is an error, not a silently smaller cache', () => {
    // Head 0 holds 16 rows and is asked for 20; head 1 keeps 2: in total 22 ≤ 32, yet the cache would hold 18.
    const t = parseMemoryTrace([{ totalTokens: 16, layer: 0, kept: [20, 2] }]);
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), t)).run(schedule(16, 16)),
      /keeps 20 rows in head 0 of layer 0 at totalTokens 16, but that head holds only 16/);
    // A fork's copy (Session.fork clones the policy, selector included) checks the same.
    assert.throws(() => new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), t).clone()).run(schedule(16, 16)),
      /that head holds only 16/);
    // AdaKV pools the layer's targets, so there only the total counts (its copy too).
    const sim = new SimCache(SHAPE, matchedPolicy(adakvPolicy(l2Policy({ budget: null })), t));
    sim.run(schedule(16, 16));
    assert.equal(sim.rows(0, 0) + sim.rows(0, 1), 22);
    const forked = new SimCache(SHAPE, matchedPolicy(adakvPolicy(l2Policy({ budget: null })), t).clone());
    forked.run(schedule(16, 16));
    assert.equal(forked.rows(0, 0) + forked.rows(0, 1), 22);
  });

  it('a trace recorded on a model of another shape is refused, not followed in some layers only', () => {
    const recorder = new MemoryTraceRecorder('l2');
    new SimCache(SHAPE, recordingPolicy(l2Policy({ budget: tokenBudget(6) }), recorder)).run(schedule(40, 16));
    const trace = recorder.toTrace();
    assert.deepEqual(trace.shape, { nLayers: 2, nKvHeads: 2 });
    // The same model follows it.
    const same = new SimCache(SHAPE, matchedPolicy(l2Policy({ budget: null }), trace));
    same.run(schedule(40, 16));
    assert.equal(same.rows(1, 1), 6);
    // A deeper model would have left layers 2 and 3 uncompressed; one with more KV heads is caught too.
    assert.throws(() => new SimCache({ ...SHAPE, nLayers: 4 }, matchedPolicy(l2Policy({ budget: null }), trace)),
      /recorded on a model with 2 layers and 2 KV heads; this one has 4 layers and 2 KV heads/);
    assert.throws(() => new SimCache({ ...SHAPE, nKvHeads: 4 }, matchedPolicy(l2Policy({ budget: null }), trace)),
      /recorded on a model with 2 layers and 2 KV heads; this one has 2 layers and 4 KV heads/);
    // The shape survives a save and a load, and is checked against the events when the file is read.
    const dir = tempDir('namm-trace-audit-');
    try {
      const path = join(dir, 't.json');
      saveMemoryTrace(path, trace);
      assert.deepEqual(loadMemoryTrace(path).shape, { nLayers: 2, nKvHeads: 2 });
      writeFileSync(path, JSON.stringify({ version: 1, shape: { nLayers: 2, nKvHeads: 2 }, sequences: [[{ totalTokens: 16, layer: 2, kept: 4 }]] }));
      assert.throws(() => loadMemoryTrace(path), /layer 2, but the trace's model has 2 layers/);
      writeFileSync(path, JSON.stringify({ version: 1, shape: { nLayers: 2, nKvHeads: 2 }, sequences: [[{ totalTokens: 16, layer: 0, kept: [4, 4, 4] }]] }));
      assert.throws(() => loadMemoryTrace(path), /3 counts, but the trace's model has 2 KV heads/);
      writeFileSync(path, JSON.stringify({ version: 1, shape: { nLayers: 0 }, sequences: [[]] }));
      assert.throws(() => loadMemoryTrace(path), /"shape" must be \{ "nLayers": L, "nKvHeads": H \}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A recorder fed by two models cannot make one trace.
    const mixed = new MemoryTraceRecorder();
    const rec = recordingPolicy(l2Policy({ budget: tokenBudget(6) }), mixed);
    rec.reset(SHAPE);
    assert.throws(() => rec.reset({ ...SHAPE, nLayers: 3 }), /one model/);
  });
});

describe('StreamingLLM: a token budget must leave room for a recent window', () => {
  it('tokens ≤ sinks is refused, as window=0 is (it kept only the sinks and evicted each token as soon as it had attended)', () => {
    assert.throws(() => parsePolicySpec('streaming:tokens=4'), /streaming: tokens=4 leaves no recent window beside the 4 sinks/);
    assert.throws(() => parsePolicySpec('streaming:sinks=8,tokens=4'), /tokens=4 leaves no recent window beside the 8 sinks/);
    assert.throws(() => parsePolicySpec('adakv(streaming):tokens=4'), /no recent window/);
    assert.throws(() => streamingPolicy({ budget: tokenBudget(2), sinks: 2 }), /no recent window/);
    assert.equal(parsePolicySpec('streaming:tokens=5').name, 'streaming:tokens=5,sinks=4');
    assert.equal(parsePolicySpec('streaming:sinks=0,tokens=1').name, 'streaming:tokens=1,sinks=0');
    // Under matched(...) the trace sets the size, so there is nothing to check.
    assert.equal(streamingPolicy({ budget: null, sinks: 8 }).name, 'streaming:sinks=8');
  });
});

describe('sinks=S on a scoring baseline: a token budget must leave the rule a token to choose', () => {
  it('tokens ≤ sinks is refused (h2o:tokens=4,sinks=10 kept the first 4 positions, whatever the rule, and evicted the rest on arrival)', () => {
    assert.throws(() => parsePolicySpec('h2o:tokens=4,sinks=10'), /^RangeError: h2o: tokens=4 holds no more than the 10 sinks \(sinks=10\), so the rule would choose no token; give tokens > sinks$/);
    // (snapkv with a window smaller than its budget: tokens=4 under the default 64-token window is refused for that.)
    for (const name of ['l2', 'tova', 'random', 'snapkv']) {
      const extra = name === 'snapkv' ? ',window=1' : '';
      assert.throws(() => parsePolicySpec(`${name}:tokens=4,sinks=4${extra}`), new RegExp(`^RangeError: ${name}: tokens=4 holds no more than the 4 sinks`));
    }
    assert.throws(() => parsePolicySpec('adakv(l2):tokens=3,sinks=4'), /l2: tokens=3 holds no more than the 4 sinks/);
    assert.equal(parsePolicySpec('l2:tokens=5,sinks=4').name, 'l2:tokens=5,sinks=4');
    // A ratio's budget grows with the sequence; matched(...) takes its sizes from the trace.
    assert.equal(parsePolicySpec('h2o:ratio=0.9,sinks=4').name, 'h2o:ratio=0.9,sinks=4');
  });
});

describe('namm:PATH options', () => {
  it('refuses Object.prototype names and an option given under two of its names', () => {
    const dir = tempDir('namm-spec-audit-');
    try {
      const path = join(dir, 'zero.namm');
      saveNammCheckpoint(path, { scorer: 'bam', params: zeroNammParams('bam'), normStats: null, updateEvery: 512, selection: 'min-over-heads', taps: 'bf16' });
      // These were accepted, ignored, and named the policy "namm:…,function toString() { [native code] }=1".
      assert.throws(() => parsePolicySpec(`namm:${path},toString=1`), /namm: unknown option "toString"/);
      assert.throws(() => parsePolicySpec(`namm:${path},constructor=1`), /namm: unknown option "constructor"/);
      // Last one silently won.
      assert.throws(() => parsePolicySpec(`namm:${path},update=512,updateEvery=256`), /namm: option update= given twice \(update= and updateEvery=\)/);
      assert.throws(() => parsePolicySpec(`namm:${path},cache=10,cacheSize=none`), /option cacheSize= given twice/);
      assert.equal(parsePolicySpec(`namm:${path},updateEvery=256`).name, `namm:${path},update=256`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('factories', () => it('the baseline factories check their options as spec strings do', async () => {
  const { h2oPolicy } = await import('../../src/memory/h2o.js');
  const { tovaPolicy } = await import('../../src/memory/tova.js');
  const { recordingPolicy, MemoryTraceRecorder } = await import('../../src/memory/matched.js');
  // h2oPolicy acted as a recent window only; the spec h2o:tokens=64,recent=1000 is refused.
  assert.throws(() => h2oPolicy({ budget: tokenBudget(64), recent: 1000 }), /h2o: recent=1000 leaves no room for heavy hitters in a budget of 64 tokens/);
  // Raw errors before: "Cannot read properties of undefined (reading 'recent')", and an unknown key ignored.
  assert.throws(() => h2oPolicy(undefined as never), /^TypeError: h2oPolicy: options must be an object \{ budget, \.\.\. \}, got undefined$/);
  assert.throws(() => h2oPolicy({ budget: tokenBudget(64), sinks: 4 } as never), /h2oPolicy: unknown option "sinks"/);
  assert.throws(() => tovaPolicy({} as never), /tovaPolicy: options need "budget"/);
  assert.throws(() => adakvPolicy({} as never), /adakvPolicy: inner must be a scoring baseline/);
  assert.throws(() => recordingPolicy({} as never, new MemoryTraceRecorder()), /recordingPolicy: policy must be a memory policy/);
  assert.throws(() => recordingPolicy(tovaPolicy({ budget: null }), 'x' as never), /recordingPolicy: recorder must be a MemoryTraceRecorder/);
  assert.equal(h2oPolicy({ budget: tokenBudget(64), recent: 16 }).name, 'h2o:tokens=64,recent=16');
  // The conflicts spec strings refuse, refused by the factories and withSinks too (all three were accepted: SnapKV
  // at a budget of its window kept the newest 64 tokens whatever the votes).
  const { snapkvPolicy } = await import('../../src/memory/snapkv.js');
  const { withSinks } = await import('../../src/memory/scored.js');
  assert.throws(() => snapkvPolicy({ budget: tokenBudget(64) }), /^RangeError: snapkv: tokens=64 holds no more than the observation window \(window=64, the default, always kept\)/);
  assert.throws(() => withSinks(h2oPolicy({ budget: tokenBudget(8), recent: 6 }), 2), /^RangeError: h2o: the 2 sinks and the recent window of 6 tokens fill the budget of 8 tokens/);
  assert.throws(() => withSinks(snapkvPolicy({ budget: tokenBudget(70) }), 8), /^RangeError: snapkv: tokens=70 holds no more than the 8 sinks and the observation window \(window=64, the default\)/);
  assert.equal(withSinks(snapkvPolicy({ budget: tokenBudget(73) }), 8).name, 'snapkv:tokens=73,window=64,kernel=5,pool=avg,sinks=8');
}));
