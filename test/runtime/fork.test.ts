/**
 * Session.fork: a copy of a session (tokens, KV cache, memory-policy state) that then runs on its own. For every
 * built-in policy, prefilling a document, forking, and continuing the original and the fork with different
 * questions (in either order) gives exactly the logits, cache sizes and greedy continuations of fresh
 * sessions that were fed the same tokens in the same calls; the project's own model and its shipped NAMM run on an
 * essay long enough for NAMM to evict during the document.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import type { Session } from '../../src/runtime/session.js';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { cloneState } from '../../src/util/clone.js';
import { MemoryTraceRecorder, matchedPolicy, recordingPolicy } from '../../src/memory/matched.js';
import { l2Policy } from '../../src/memory/l2.js';
import { parsePolicySpec } from '../../src/memory/spec.js';

const MODEL = 'models/namm-tiny-llama';
const NAMM = 'models/namm-tiny-llama.namm';
const ESSAYS = '../shared/data/pg-essays';

const files = await loadModelFiles(MODEL);
const model = new Model(files.config, files.weights, files.tokenizer);
const tok = files.tokenizer!;
const essay = readFileSync(join(ESSAYS, readdirSync(ESSAYS).filter((f) => f.endsWith('.txt')).sort()[0]!), 'utf8');
const doc = tok.encode(essay).slice(0, 900);
const q1 = tok.encode(' What is the main point of the essay? Answer:');
const q2 = tok.encode(' Who wrote this, and when? The author is');

const SPECS = [
  'full', `namm:${NAMM}`, `namm:${NAMM},selection=per-head`, 'h2o:ratio=0.5', 'tova:tokens=300', 'l2:ratio=0.5',
  'random:ratio=0.5,seed=3', 'streaming:sinks=4,window=256', 'snapkv:ratio=0.5,window=16', 'adakv(snapkv):ratio=0.5',
];

/**
 * Feeds `calls` one by one (all but the last token of the last call by prefill, that token as the prompt of a
 * 6-token greedy generation): the last prefill's logits, the per-head cache sizes then, and the tokens generated.
 */
async function finish(s: Session, calls: number[][]): Promise<{ logits: number[]; lens: number[]; next: number[] }> {
  let logits: Float32Array = new Float32Array(0);
  const lastCall = calls.at(-1)!;
  for (const c of [...calls.slice(0, -1), lastCall.slice(0, -1)]) logits = s.prefill(c);
  const lens = s.cache.stores.flatMap((layer) => layer.map((st) => st.len));
  const g = await s.generate(lastCall.slice(-1), { maxNewTokens: 6, stopTokens: [], temperature: 0 });
  return { logits: Array.from(logits), lens, next: g.outputTokens };
}

for (const spec of SPECS) {
  test(`fork (${spec}): the original and the fork each continue exactly as fresh sessions would`, async () => {
    const fresh1 = await finish(await model.createSession({ memory: spec }), [doc, q1]);
    const fresh2 = await finish(await model.createSession({ memory: spec }), [doc, q2]);
    const a = await model.createSession({ memory: spec });
    a.prefill(doc);
    const b = a.fork();
    assert.equal(b.totalTokens, a.totalTokens);
    assert.deepEqual(b.memoryStats(), a.memoryStats());
    // The fork runs first: nothing it does may reach the original.
    const got2 = await finish(b, [q2]);
    const got1 = await finish(a, [q1]);
    assert.deepEqual(got2, fresh2, 'the fork');
    assert.deepEqual(got1, fresh1, 'the original');
  });
}

test('fork: a policy with sinks that acts once per prefill frees the clone\'s layers, not the original\'s', async () => {
  for (const spec of ['h2o:ratio=0.5,sinks=4,every=prefill', 'l2:ratio=0.5,sinks=4,every=prefill']) {
    const rows = (s: Session) => s.cache.stores.map((layer) => layer.map((st) => Array.from(st.positions.subarray(0, st.len)).join(',')).join('|')).join('/');
    const ref = await model.createSession({ memory: spec });
    ref.prefill(doc, { endOfPrefill: false });
    const refLogits = Array.from(ref.prefill(q1));
    const a = await model.createSession({ memory: spec });
    a.prefill(doc, { endOfPrefill: false });
    a.fork().prefill(q2); // the fork compresses first and frees its finished layers' statistics
    assert.deepEqual(Array.from(a.prefill(q1)), refLogits, spec);
    assert.equal(rows(a), rows(ref), `${spec}: the original keeps the rows an unforked session keeps`);
  }
});

test('fork: NAMM evicts during the document (so the copied state matters) and each copy holds its own cache', async () => {
  const a = await model.createSession({ memory: `namm:${NAMM}` });
  a.prefill(doc);
  const held = a.cache.bytesUsed();
  assert.ok(a.memoryStats().finalFraction < 1, `NAMM kept everything (${a.memoryStats().finalFraction})`);
  const b = a.fork();
  b.prefill(q1);
  assert.equal(a.cache.bytesUsed(), held, "the fork's tokens are not in the original's cache");
  assert.notEqual(b.cache.stores[0]![0]!.keys.buffer, a.cache.stores[0]![0]!.keys.buffer);
  // A fork of a fork, and a fork with other options (a different chunk size changes nothing at these positions).
  const c = b.fork({ chunkSize: 64 });
  const d = await model.createSession({ memory: `namm:${NAMM}` });
  d.prefill(doc);
  d.prefill(q1);
  assert.deepEqual(Array.from(c.prefill(q2)), Array.from(d.prefill(q2)));
});

test('fork (matched(l2) on a recorded trace): both copies follow the trace as a fresh session does', async () => {
  const rec = new MemoryTraceRecorder('h2o');
  await finish(model.createSessionWith(recordingPolicy(parsePolicySpec('h2o:ratio=0.5'), rec)), [doc, q1]);
  const trace = rec.toTrace();
  const fresh = await finish(model.createSessionWith(matchedPolicy(l2Policy({ budget: null }), trace)), [doc, q1]);
  assert.ok(fresh.lens.every((n) => n < doc.length), 'the trace evicts');
  const a = model.createSessionWith(matchedPolicy(l2Policy({ budget: null }), trace));
  a.prefill(doc);
  const b = a.fork();
  assert.deepEqual(await finish(b, [q1]), fresh, 'the fork');
  assert.deepEqual(await finish(a, [q1]), fresh, 'the original');
});

test('fork: a token that generation sampled but did not feed yet goes with the copy', async () => {
  const a = await model.createSession({ memory: 'h2o:ratio=0.5' });
  a.prefill(doc.slice(0, 300));
  await a.generate(q2.slice(0, 3), { maxNewTokens: 3, stopTokens: [], temperature: 0 });
  const b = a.fork();
  assert.deepEqual(Array.from(b.prefill(q1)), Array.from(a.prefill(q1)));
});

test('fork: a policy without clone() is refused with a clear error', async () => {
  const bare: MemoryPolicy = { name: 'bare', needsAttention: false, reset() {}, observe: () => null };
  const s = model.createSessionWith(bare);
  s.prefill(doc.slice(0, 50));
  assert.throws(() => s.fork(), /memory policy bare cannot be forked: it has no clone\(\) method/);
});

test('one policy object given to two sessions: the one that lost it refuses with a clear error, reset() takes it back', async () => {
  const policy = parsePolicySpec(`namm:${NAMM}`);
  const a = model.createSessionWith(policy);
  a.prefill(doc.slice(0, 600));
  const b = model.createSessionWith(policy); // resets the policy: its state is b's from here on
  const fromB = Array.from(b.prefill(doc.slice(0, 600)));
  const lost = /prefill: memory policy namm:\S+ now serves another session .*give each session its own policy/;
  assert.throws(() => a.prefill(doc.slice(600, 700)), lost);
  assert.throws(() => a.decode(doc[600]!), /decode: memory policy .* now serves another session/);
  await assert.rejects(a.generate(q1, { maxNewTokens: 2 }), /generate: memory policy .* now serves another session/);
  assert.throws(() => a.fork(), /fork: memory policy .* now serves another session/);
  assert.equal(a.totalTokens, 600, 'a refused call changes nothing');
  // b was not disturbed: it matches a fresh session fed the same tokens.
  const fresh = model.createSessionWith(parsePolicySpec(`namm:${NAMM}`));
  assert.deepEqual(fromB, Array.from(fresh.prefill(doc.slice(0, 600))));
  // A fork holds a clone, so the original keeps its policy; reset() hands the object back to a.
  const c = b.fork();
  assert.doesNotThrow(() => b.prefill(doc.slice(600, 610)));
  assert.doesNotThrow(() => c.prefill(doc.slice(600, 610)));
  a.reset();
  assert.doesNotThrow(() => a.prefill(doc.slice(0, 10)));
  assert.throws(() => b.prefill(doc.slice(610, 620)), /now serves another session/);
});

test('fork: a policy whose clone() returns itself is refused (the fork would take the original\'s policy)', async () => {
  const same: MemoryPolicy = { name: 'same', needsAttention: false, reset() {}, observe: () => null, clone() { return same; } };
  const s = model.createSessionWith(same);
  s.prefill(doc.slice(0, 20));
  assert.throws(() => s.fork(), /memory policy same: clone\(\) returned the policy itself/);
  assert.doesNotThrow(() => s.prefill(doc.slice(20, 30)), 'the original keeps its policy');
});

test('a policy shared through a wrapper (recording, matched, adakv) is caught like a shared policy', async () => {
  // The NAMM inside a recorder serves session a; the same NAMM object given to b takes it over.
  const namm = parsePolicySpec(`namm:${NAMM}`);
  const a = model.createSessionWith(recordingPolicy(namm, new MemoryTraceRecorder()));
  a.prefill(doc.slice(0, 600));
  const b = model.createSessionWith(namm);
  b.prefill(doc.slice(0, 20));
  assert.throws(() => a.prefill(doc.slice(600, 610)), /prefill: memory policy namm:\S+'s inner policy namm:\S+ now serves another session/);
  assert.equal(a.totalTokens, 600);
  a.reset(); // takes the recorder and the NAMM back
  assert.doesNotThrow(() => a.prefill(doc.slice(0, 10)));
  assert.throws(() => b.prefill(doc.slice(20, 30)), /prefill: memory policy namm:\S+ now serves another session/);

  // AdaKV wraps a baseline by sharing its scorer, whose statistics are per sequence.
  const h2o = parsePolicySpec('snapkv:ratio=0.5,window=16') as import('../../src/memory/scored.js').ScoredPolicy;
  const { adakvPolicy } = await import('../../src/memory/adakv.js');
  const c = model.createSessionWith(h2o);
  c.prefill(doc.slice(0, 40));
  const d = model.createSessionWith(adakvPolicy(h2o));
  d.prefill(doc.slice(0, 40));
  assert.throws(() => c.prefill(doc.slice(40, 50)), /memory policy snapkv:\S+'s snapkv scorer now serves another session/);

  // matched(...) follows a trace with an inner baseline; that baseline used directly elsewhere is caught too.
  const rec = new MemoryTraceRecorder();
  model.createSessionWith(recordingPolicy(parsePolicySpec(`namm:${NAMM}`), rec)).prefill(doc.slice(0, 600));
  const inner = parsePolicySpec('l2:ratio=0.5') as import('../../src/memory/scored.js').ScoredPolicy;
  const e = model.createSessionWith(matchedPolicy(inner, rec.toTrace()));
  e.prefill(doc.slice(0, 300));
  model.createSessionWith(inner).prefill(doc.slice(0, 5));
  assert.throws(() => e.prefill(doc.slice(300, 600)), /inner policy l2\S* now serves another session/);
});

test('fork: a clone that shares an inner policy or scorer with the original is refused', async () => {
  const inner = parsePolicySpec('h2o:ratio=0.5');
  const wrapper: MemoryPolicy = {
    name: 'wrapper', needsAttention: inner.needsAttention, reset: (s) => inner.reset(s), observe: (o) => inner.observe(o),
    stateObjects: () => [inner], clone: () => ({ ...wrapper }),
  };
  const s = model.createSessionWith(wrapper);
  s.prefill(doc.slice(0, 20));
  assert.throws(() => s.fork(), /memory policy wrapper: clone\(\) returned a copy that shares state \(an inner policy or scorer\) with the original/);
  assert.doesNotThrow(() => s.prefill(doc.slice(20, 30)), 'the original keeps its policy');
  const broken: MemoryPolicy = { ...wrapper, stateObjects: () => [null as unknown as object] };
  assert.throws(() => model.createSessionWith(broken), /stateObjects\(\) must return objects, got null/);
});

test('cloneState: copies typed arrays, arrays, maps and instances, keeps sharing and prototypes, shares functions and backends', () => {
  class Box { constructor(public v: Float32Array, public tag: string) {} get first() { return this.v[0]; } }
  const shared = new Float32Array([1, 2]);
  const backend = { attention() {}, matmulABt() {}, softmax() {} };
  const fn = () => 1;
  const src = { a: new Box(shared, 'x'), b: new Box(shared, 'y'), list: [shared, 3], map: new Map([['k', shared]]), backend, fn };
  const c = cloneState(src);
  assert.ok(c.a instanceof Box);
  assert.equal(c.a.first, 1);
  assert.notEqual(c.a.v, shared);
  assert.equal(c.a.v, c.b.v, 'an array reached twice is copied once');
  assert.equal(c.list[0], c.a.v);
  assert.equal(c.map.get('k'), c.a.v);
  assert.equal(c.backend, backend);
  assert.equal(c.fn, fn);
  c.a.v[0] = 9;
  assert.equal(shared[0], 1, 'the copy is independent');
  const frozen = Object.defineProperty({}, 'x', { value: [1], writable: false, enumerable: true });
  assert.equal(Object.getOwnPropertyDescriptor(cloneState(frozen), 'x')!.writable, false);
});
