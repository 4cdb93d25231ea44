/**
 * A NAMM with recency=error (the reference's table, the default) reads recencies up to 32,768: a forward that could
 * take the distance from the oldest row held past that is refused before it runs, and the session keeps what it has
 * read. It failed inside the update past the table, mid-forward, and the session was unusable until reset: a whole
 * prefilled document lost. A NAMM that evicts its old rows runs on past 32,769 tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNammPolicy, RECENCY_TABLE_MAX, zeroNammParams } from '../../src/memory/namm/index.js';
import { recordingPolicy, MemoryTraceRecorder } from '../../src/memory/matched.js';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { loadModel } from '../../src/models/model.js';

const model = await loadModel('../shared/models/tinystories-656k');
const ids = Int32Array.from({ length: 40_000 }, (_, i) => 3 + ((i * 7919) % 2000));

test('NAMM (recency=error) names its span; one that evicts its old rows runs past 32,769 tokens', () => {
  const namm = createNammPolicy({ params: zeroNammParams(), cacheSize: 64 });
  assert.equal(namm.positionSpan?.tokens, RECENCY_TABLE_MAX);
  assert.equal(createNammPolicy({ params: zeroNammParams(), recency: 'extend' }).positionSpan, undefined);
  assert.equal(recordingPolicy(namm, new MemoryTraceRecorder()).positionSpan?.tokens, 32_768);
  // A cache of 64 rows a head: the oldest rows go at every update, so the recencies read stay small.
  const s = model.createSessionWith(namm);
  process.removeAllListeners('warning'); // the once-per-model note past the 512-token context
  s.prefill(ids);
  assert.equal(s.totalTokens, 40_000);
  for (let l = 0; l < model.config.nLayers; l++) assert.ok(Math.max(...s.cache.lens(l)) <= 64 + 512, 'the cap held');
});

test('a forward past a policy\'s position span is refused before it runs; the session keeps its tokens and goes on', async () => {
  // A policy that keeps every row, with a span of 100 positions.
  const policy: MemoryPolicy = {
    name: 'keep-all', needsAttention: false, positionSpan: { tokens: 100, what: 'a test bound' },
    reset() {}, observe: () => null, clone: () => policy,
  };
  const s = model.createSessionWith(policy);
  s.prefill(ids.subarray(0, 90));
  assert.throws(() => s.prefill(ids.subarray(90, 110)),
    /^RangeError: memory policy keep-all: position 109 would be 109 positions from the oldest row held \(position 0\), past a test bound; 90 tokens are in the session, which takes further calls$/);
  assert.equal(s.totalTokens, 90, 'nothing of the refused chunk ran');
  s.prefill(ids.subarray(90, 100));
  s.decode(5);
  assert.equal(s.totalTokens, 101);
  assert.throws(() => s.decode(5), /position 101 would be 101 positions from the oldest row held/);
  // generate: the token whose step was refused waits, as after a length stop (its text was streamed).
  const s2 = model.createSessionWith(policy);
  s2.prefill(ids.subarray(0, 98));
  const streamed: string[] = [];
  await assert.rejects(s2.generate([5], { maxNewTokens: 8, onToken: (t) => { streamed.push(t); } }), /position 101 would be 101 positions/);
  assert.equal(s2.totalTokens, 101);
  // The waiting token goes in first on the next call, which the span refuses again, still before anything runs.
  await assert.rejects(s2.generate([], { maxNewTokens: 1 }), /position 101 would be 101 positions/);
  assert.equal(s2.totalTokens, 101);
});
