import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkPolicySpec, describePolicies, listPolicies, parsePolicySpec, specWithTrace } from '../../src/memory/spec.js';
import { ScoredPolicy, SinkGuard } from '../../src/memory/scored.js';
import { FullPolicy } from '../../src/memory/full.js';
import { MatchedPolicy, saveMemoryTrace } from '../../src/memory/matched.js';
import { H2OScorer, h2oPolicy } from '../../src/memory/h2o.js';
import { SnapKVScorer } from '../../src/memory/snapkv.js';
import { RandomScorer } from '../../src/memory/random.js';
import { ratioBudget } from '../../src/memory/budget.js';
import { saveNammCheckpoint, zeroNammParams } from '../../src/memory/namm/index.js';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { SimCache, schedule } from '../helpers/cache-sim.js';
import { tempDir } from '../helpers/temp.js';

let dir = '';
let tracePath = '';
let nammPath = '';
before(() => {
  dir = tempDir('namm-spec-');
  tracePath = join(dir, 'run.json');
  saveMemoryTrace(tracePath, { version: 1, source: 'test', sequences: [[{ totalTokens: 32, layer: 0, kept: 8 }]] });
  nammPath = join(dir, 'zero.namm');
  saveNammCheckpoint(nammPath, { scorer: 'bam', params: zeroNammParams('bam'), normStats: null, updateEvery: 512, selection: 'min-over-heads', taps: 'bf16' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function scored(spec: string): ScoredPolicy {
  const p = parsePolicySpec(spec);
  assert.ok(p instanceof ScoredPolicy, `${spec} builds a ScoredPolicy`);
  return p;
}

describe('parsePolicySpec: the examples', () => {
  it('full', () => {
    const p = parsePolicySpec('full');
    assert.ok(p instanceof FullPolicy);
    assert.equal(p.needsAttention, false);
  });

  it('budgets, options and defaults reach the policy', () => {
    const a = scored('h2o:ratio=0.5');
    assert.deepEqual(a.budget, { kind: 'ratio', ratio: 0.5 });
    assert.equal(a.name, 'h2o:ratio=0.5');
    assert.equal(a.needsAttention, true);
    assert.deepEqual(a.every, { kind: 'tokens', every: 1 });
    const b = scored('h2o:tokens=1024,recent=64');
    assert.deepEqual(b.budget, { kind: 'tokens', tokens: 1024 });
    assert.equal((b.scorer as H2OScorer).recent, 64);
    const s = scored('streaming:sinks=4,window=512');
    assert.deepEqual(s.budget, { kind: 'tokens', tokens: 516 });
    assert.equal(s.needsAttention, false);
    assert.deepEqual(scored('l2:tokens=1024').budget, { kind: 'tokens', tokens: 1024 });
    const k = scored('snapkv:ratio=0.75,window=64,kernel=5,pool=max');
    const ks = k.scorer as SnapKVScorer;
    assert.deepEqual([ks.window, ks.kernel, ks.pool], [64, 5, 'max']);
    assert.deepEqual(k.every, { kind: 'prefill' });
    const kd = scored('snapkv:ratio=0.5').scorer as SnapKVScorer;
    assert.deepEqual([kd.window, kd.kernel, kd.pool], [64, 5, 'avg']);
    assert.equal(scored('tova:ratio=0.5').scorer.method, 'tova');
    assert.equal((scored('random:ratio=0.5,seed=3').scorer as RandomScorer).seed, 3);
    assert.equal((scored('random:ratio=0.5').scorer as RandomScorer).seed, 0);
    assert.deepEqual(scored('h2o:ratio=0.5,every=128').every, { kind: 'tokens', every: 128 });
    assert.deepEqual(scored('tova:tokens=64,every=prefill').every, { kind: 'prefill' });
    assert.equal(scored('  H2O:ratio=0.5 ').name, 'h2o:ratio=0.5', 'names are case-insensitive, spaces trimmed');
  });

  it('adakv(...) forwards what it does not know to the wrapped policy', () => {
    const a = scored('adakv(snapkv):ratio=0.5');
    const b = scored('adakv(snapkv:ratio=0.5)');
    assert.equal(a.name, b.name);
    assert.equal(a.name, 'adakv(snapkv):ratio=0.5,window=64,kernel=5,pool=avg');
    assert.equal(a.needsAttention, true);
    assert.equal(scored('adakv(l2):tokens=8,floor=0.3').name, 'adakv(l2):tokens=8,floor=0.3');
    assert.equal(scored('adakv(l2):tokens=8').needsAttention, false);
  });

  it('sinks=S guards the first positions of every scoring baseline, wrapped or not', () => {
    for (const base of ['l2:ratio=0.5', 'h2o:ratio=0.5', 'tova:tokens=8', 'random:ratio=0.5', 'snapkv:ratio=0.5']) {
      const p = scored(`${base},sinks=4`);
      assert.ok(p.scorer instanceof SinkGuard && p.scorer.sinks === 4, base);
      assert.ok(p.name.endsWith(',sinks=4'), p.name);
    }
    assert.equal(scored('l2:ratio=0.5,sinks=4').needsAttention, false);
    assert.equal(scored('h2o:ratio=0.5,sinks=4').needsAttention, true);
    const a = scored('adakv(l2):ratio=0.5,sinks=2');
    assert.ok(a.scorer instanceof SinkGuard);
    assert.equal(a.name, 'adakv(l2):ratio=0.5,sinks=2');
    // streaming's own sinks option is its rule, not the guard.
    assert.ok(!(scored('streaming:window=8,sinks=2').scorer instanceof SinkGuard));
  });

  it('matched(...) reads its trace and leaves the budget to it', () => {
    const m = parsePolicySpec(`matched(h2o):trace=${tracePath}`);
    assert.ok(m instanceof MatchedPolicy);
    assert.equal(m.name, `matched(h2o):trace=${tracePath}`);
    const n = parsePolicySpec(`matched(adakv(snapkv)):trace=${tracePath},window=32`);
    assert.ok(n instanceof MatchedPolicy);
    assert.match(n.name, /window=32/);
    // It acts where the trace says: 8 rows kept in layer 0 at 32 tokens, nothing in layer 1.
    const sim = new SimCache({ nLayers: 2, nKvHeads: 1, headDim: 4 }, parsePolicySpec(`matched(l2):trace=${tracePath}`));
    sim.run(schedule(40, 16));
    assert.equal(sim.rows(0, 0), 16);
    assert.equal(sim.rows(1, 0), 40);
  });

  it('namm:PATH[,key=value] loads a checkpoint through loadNammPolicy', () => {
    const p = parsePolicySpec(`namm:${nammPath}`);
    assert.match(p.name, /^namm/);
    assert.equal(p.needsAttention, true);
    assert.match(parsePolicySpec(`namm:${nammPath},selection=per-head`).name, /selection=per-head/);
    assert.throws(() => parsePolicySpec(`namm:${nammPath},bogus=1`), /bogus/);
    assert.throws(() => parsePolicySpec('namm'), /checkpoint path/);
    assert.throws(() => parsePolicySpec(5 as never), /a memory policy spec is a string such as "h2o:ratio=0\.5", got number/);
    assert.throws(() => parsePolicySpec('namm:selection=per-head'), /checkpoint path/);
    // A path may hold '=' (a sweep's folder): it was refused as "needs a checkpoint path first".
    const sweep = join(dir, 'lr=0.1');
    mkdirSync(sweep);
    copyFileSync(nammPath, join(sweep, 'best.namm'));
    assert.match(parsePolicySpec(`namm:${join(sweep, 'best.namm')},selection=per-head`).name, /lr=0\.1\/best\.namm,.*selection=per-head/);
    // A colon before the options: the message shows the spelling meant (it said "needs a checkpoint path first").
    assert.throws(() => parsePolicySpec('namm:models/x.namm:update=1024'), /options follow the checkpoint path after a comma, not a colon: namm:models\/x\.namm,update=1024/);
    assert.throws(() => parsePolicySpec('namm:C:/models/x.namm:selection=per-head,update=1024'), /namm:C:\/models\/x\.namm,selection=per-head,update=1024$/);
  });

  it('a spec-built policy behaves like the factory-built one', () => {
    const run = (p: MemoryPolicy): number[][] => {
      const sim = new SimCache({ nLayers: 2, nKvHeads: 2, headDim: 4 }, p);
      sim.run(schedule(90, 32, 5));
      return sim.records.flatMap((r) => (r.keep ? r.keep.map((k) => Array.from(k)) : []));
    };
    assert.deepEqual(run(parsePolicySpec('h2o:ratio=0.5,recent=4')), run(h2oPolicy({ budget: ratioBudget(0.5), recent: 4 })));
  });
});

describe('parsePolicySpec: errors say what is allowed', () => {
  const cases: [string, RegExp][] = [
    ['', /empty.*known policies: full, random, streaming, h2o, tova, l2, snapkv, namm, adakv\(SPEC\), matched\(SPEC\)/],
    ['lru:ratio=0.5', /unknown memory policy "lru"; known: full, random/],
    ['h2o', /h2o needs a budget: ratio=R .* or tokens=N/],
    ['h2o:ratio=0.5,tokens=10', /either ratio= or tokens=, not both/],
    ['h2o:ratio=1', /0 ≤ ratio < 1/],
    ['h2o:ratio=-0.5', /0 ≤ ratio < 1/],
    ['h2o:ratio=half', /ratio must be a number/],
    ['h2o:tokens=0', /tokens must be an integer ≥ 1/],
    ['h2o:tokens=1.5', /tokens must be an integer/],
    ['h2o:ratio=0.5,window=3', /h2o: unknown option "window"; allowed: ratio, tokens, recent, every/],
    ['h2o:ratio=0.5,ratio=0.4', /given twice/],
    ['h2o:ratio', /must look like key=value/],
    ['h2o:ratio=', /^Error: h2o: option ratio= has no value$/],
    // Quoted as written: the decimal is below 1, its float64 is not.
    ['h2o:ratio=0.99999999999999999', /got 0\.99999999999999999, which a float64 rounds to 1$/],
    ['snapkv:ratio=0.5,kernel=0', /kernel must be an odd integer ≥ 1, got 0/],
    ['h2o:ratio=0.5,', /must look like key=value/],
    ['matched(h2o):trace=/tmp/a,b.json', /matched: option "b\.json" must look like key=value \(options are separated by commas, so a value cannot contain one: "trace=\/tmp\/a" ends at the comma\)/],
    // A comma in a namm path: the piece after it is the first item after the path, and got no hint.
    ['namm:c,d.namm', /^Error: namm: option "d\.namm" must look like key=value \(options are separated by commas, so a value cannot contain one: "c" ends at the comma\)$/],
    ['h2o:ratio=0.5,every=0', /h2o: every must be an integer ≥ 1 .*, "prefill" or "decode"/],
    ['tova:ratio=0.5,every=always', /tova: every must be a positive integer \(tokens\), "prefill" or "decode"/],
    ['full:ratio=0.5', /full takes no options/],
    ['streaming:window=10,tokens=20', /one of window=, ratio= or tokens=/],
    ['streaming:sinks=4', /streaming needs a budget: window=W/],
    ['snapkv:ratio=0.5,kernel=4', /odd/],
    ['snapkv:ratio=0.5,pool=median', /pool must be avg or max/],
    // The window alone filled the budget: a plain recency window under SnapKV's name.
    // A wrapper's options follow the same colon: a misspelt one names them too.
    ['adakv(snapkv):ratio=0.5,flor=0.1', /^Error: snapkv: unknown option "flor"; allowed: ratio, tokens, window, kernel, pool, every, sinks; and floor of adakv\(\.\.\.\)$/],
    ['matched(adakv(h2o)):trace=t.json,flor=0.1', /h2o: unknown option "flor"; allowed: ratio, tokens, recent, every, sinks; and trace of matched\(\.\.\.\), floor of adakv\(\.\.\.\)$/],
    ['snapkv:tokens=16', /snapkv: tokens=16 holds no more than the observation window \(window=64, the default, always kept\)/],
    ['snapkv:tokens=8,window=8', /snapkv: tokens=8 holds no more than the observation window \(window=8, always kept\)/],
    ['h2o:tokens=10,recent=10', /h2o: recent=10 leaves no room for heavy hitters in a budget of 10 tokens/],
    // sinks= as well: the sinks and the window filled the budget between them, and what was kept did not depend on
    // the attention at all (streaming under another name); one token of room is enough.
    ['h2o:tokens=8,recent=6,sinks=2', /^RangeError: h2o: the 2 sinks and the recent window of 6 tokens fill the budget of 8 tokens, so no heavy hitter would be kept; give tokens > sinks \+ recent, or use streaming$/],
    ['h2o:tokens=8,sinks=4', /h2o: the 4 sinks and the recent window of 4 tokens \(the default, half the budget\) fill the budget of 8 tokens/],
    ['snapkv:tokens=10,window=8,sinks=2', /^RangeError: snapkv: tokens=10 holds no more than the 2 sinks and the observation window \(window=8\), both always kept, so the votes would choose no token; give tokens > sinks \+ window$/],
    ['adakv(snapkv):tokens=66,sinks=2', /snapkv: tokens=66 holds no more than the 2 sinks and the observation window \(window=64, the default\)/],
    ['random:ratio=0.5,seed=x', /seed must be an integer/],
    // It said "seed must be an integer ≥ -2147483648" of a value too large.
    ['random:ratio=0.5,seed=9007199254740992', /^Error: random: seed must be an integer up to 9007199254740991 \(2\^53 − 1\), got 9007199254740992$/],
    ['random:ratio=0.5,seed=-2147483649', /^Error: random: seed must be an integer ≥ -2147483648, got -2147483649$/],
    ['l2:ratio=0.5,sinks=-1', /l2: sinks must be an integer ≥ 0/],
    ['h2o:ratio=0.5,sinks=two', /h2o: sinks must be an integer/],
    ['full:sinks=4', /full takes no options/],
    ['adakv(full):ratio=0.5', /adakv\(\.\.\.\) wraps a scoring baseline/],
    ['adakv(h2o):ratio=0.5,floor=2', /floor must be a number in \[0, 1\]/],
    ['adakv(h2o', /unbalanced parentheses/],
    ['adakv()', /needs a policy inside/],
    ['adakv(h2o)ratio=0.5', /options follow a colon/],
    ['lru(h2o):ratio=0.5', /unknown policy wrapper "lru\(\.\.\.\)"; known: adakv\(SPEC\), matched\(SPEC\)/],
    ['matched(h2o)', /needs trace=FILE/],
    ['matched(h2o):trace=/nonexistent/run.json', /cannot read memory trace/],
    ['matched(full):trace=x', /wraps a scoring baseline/],
  ];
  for (const [spec, re] of cases) {
    it(JSON.stringify(spec), () => assert.throws(() => parsePolicySpec(spec), re));
  }

  it('sinks=0 is the default written out: the published rule under its plain name', () => {
    assert.equal(parsePolicySpec('l2:ratio=0.5,sinks=0').name, 'l2:ratio=0.5');
    assert.equal(parsePolicySpec('adakv(h2o):ratio=0.5,sinks=0').name, parsePolicySpec('adakv(h2o):ratio=0.5').name);
    assert.equal(parsePolicySpec('tova:ratio=0.5,sinks=2').name, 'tova:ratio=0.5,sinks=2');
    assert.equal(parsePolicySpec('tova:ratio=0.5,every=decode').name, 'tova:ratio=0.5');
    assert.equal(parsePolicySpec('tova:ratio=0.5,every=1').name, 'tova:ratio=0.5,every=1');
    assert.equal(parsePolicySpec('h2o:ratio=0.5,every=decode').name, 'h2o:ratio=0.5,every=decode');
  });

  it('matched(...) rejects a budget, a cadence, and NAMM', () => {
    assert.throws(() => parsePolicySpec(`matched(h2o):trace=${tracePath},ratio=0.5`), /trace sets the cache size; remove ratio=/);
    assert.throws(() => parsePolicySpec(`matched(h2o:tokens=5):trace=${tracePath}`), /remove tokens=/);
    assert.throws(() => parsePolicySpec(`matched(streaming:window=5):trace=${tracePath}`), /remove window=/);
    assert.throws(() => parsePolicySpec(`matched(h2o):trace=${tracePath},every=64`), /remove every=/);
    assert.throws(() => parsePolicySpec(`matched(namm:${nammPath}):trace=${tracePath}`), /matched\(\.\.\.\) wraps a scoring baseline .*not namm/);
    assert.throws(() => parsePolicySpec(`matched(matched(h2o):trace=${tracePath}):trace=${tracePath}`), /cannot be nested/);
  });
});

describe('checkPolicySpec and specWithTrace: matched(...) whose trace comes later', () => {
  it('checks everything but the trace, whatever the case, spacing or empty option list', () => {
    for (const spec of ['matched(h2o)', 'Matched(h2o):', 'matched(adakv(l2)):sinks=4', ' matched(snapkv):window=32 ']) {
      assert.deepEqual(checkPolicySpec(spec), { followsTrace: true }, spec);
      const withIt = specWithTrace(spec, tracePath);
      assert.ok(parsePolicySpec(withIt) instanceof MatchedPolicy, `${spec} → ${withIt}`);
    }
    assert.equal(specWithTrace('matched(h2o):', 'F.json'), 'matched(h2o):trace=F.json');
    assert.equal(specWithTrace('matched(h2o):sinks=4', 'F.json'), 'matched(h2o):sinks=4,trace=F.json');
    for (const spec of ['full', 'h2o:ratio=0.5', `matched(h2o): trace=${tracePath}`]) assert.deepEqual(checkPolicySpec(spec), { followsTrace: false }, spec);
    // The errors of the spec itself surface at once (they did only when the trace was added, after a run).
    assert.throws(() => checkPolicySpec('matched(h2o):ratio=0.5'), /matched\(h2o\): the trace sets the cache size; remove ratio=/);
    assert.throws(() => checkPolicySpec('matched(h2o):every=1'), /remove every=/);
    assert.throws(() => checkPolicySpec('matched(namm:x.namm)'), /wraps a scoring baseline/);
    assert.throws(() => checkPolicySpec('matched(h2o):trace=/nonexistent/t.json'), /cannot read memory trace/);
    assert.throws(() => specWithTrace('h2o:ratio=0.5', 'F.json'), /not a matched\(\.\.\.\) spec/);
  });
});

describe('listPolicies', () => {
  it('lists every policy with its options and defaults', () => {
    const list = listPolicies();
    assert.deepEqual(list.map((p) => p.name), ['full', 'random', 'streaming', 'h2o', 'tova', 'l2', 'snapkv', 'namm', 'adakv(SPEC)', 'matched(SPEC)']);
    const snap = list.find((p) => p.name === 'snapkv')!;
    assert.deepEqual(snap.options.map((o) => [o.key, o.default]),
      [['ratio', 'required*'], ['tokens', 'required*'], ['window', '64'], ['kernel', '5'], ['pool', 'avg'], ['sinks', '0 (the published rule)'], ['every', 'prefill']]);
    assert.equal(list.find((p) => p.name === 'streaming')!.options.find((o) => o.key === 'sinks')!.default, '4');
    assert.equal(list.find((p) => p.name === 'adakv(SPEC)')!.options[0]!.default, '0.2');
    // A copy: callers cannot change the table.
    list[0]!.name = 'changed';
    assert.equal(listPolicies()[0]!.name, 'full');
    const text = describePolicies();
    for (const p of ['h2o:ratio=R|tokens=N', 'matched(SPEC):trace=FILE', 'arXiv 2404.14469']) assert.ok(text.includes(p), p);
  });
});
