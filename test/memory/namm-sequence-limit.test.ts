/**
 * A NAMM with recency=error (the reference's table, the default) runs sequences of up to 32,769 tokens; a call that
 * would pass that is refused before it runs, and the session keeps what it has read. It failed inside the update past
 * the table, mid-forward, and the session was unusable until reset: a whole prefilled document lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNammPolicy, RECENCY_TABLE_MAX, zeroNammParams } from '../../src/memory/namm/index.js';
import { recordingPolicy, MemoryTraceRecorder } from '../../src/memory/matched.js';
import { loadModel } from '../../src/models/model.js';

test('NAMM (recency=error) runs 32,769 tokens and refuses the next one up front; the session stays usable', async () => {
  const model = await loadModel('../shared/models/tinystories-656k');
  // A cache of 64 rows a head keeps the long run fast; zero parameters score every row 0 (kept up to the cap).
  const namm = createNammPolicy({ params: zeroNammParams(), cacheSize: 64 });
  assert.deepEqual(namm.sequenceLimit?.tokens, RECENCY_TABLE_MAX + 1);
  assert.equal(createNammPolicy({ params: zeroNammParams(), recency: 'extend' }).sequenceLimit, undefined);
  assert.equal(recordingPolicy(namm, new MemoryTraceRecorder()).sequenceLimit?.tokens, 32_769);
  const s = model.createSessionWith(namm);
  const ids = Int32Array.from({ length: 33_000 }, (_, i) => 3 + ((i * 7919) % 2000));
  process.removeAllListeners('warning'); // the once-per-model note past the 512-token context
  s.prefill(ids.subarray(0, 32_000));
  assert.throws(() => s.prefill(ids.subarray(32_000, 32_800)),
    /^RangeError: the sequence would reach 32800 tokens, past the NAMM's recency table \(0\.\.32,768, .*recency=extend.*\) \(memory policy namm/);
  assert.equal(s.totalTokens, 32_000, 'nothing of the refused chunk was run');
  s.prefill(ids.subarray(32_000, 32_769));
  assert.equal(s.totalTokens, 32_769);
  for (let l = 0; l < model.config.nLayers; l++) assert.ok(Math.max(...s.cache.lens(l)) <= 64 + 512, 'the cap held');
  assert.throws(() => s.decode(5), /would reach 32770 tokens, past the NAMM's recency table/);
  await assert.rejects(s.generate([5], { maxNewTokens: 1 }), /would reach 32770 tokens, past the NAMM's/);
});
