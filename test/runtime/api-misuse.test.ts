/** Runtime helpers check their arguments: a string is not logits, a null tokenizer or context is named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argmax } from '../../src/runtime/sampling.js';
import { decodeAfter } from '../../src/runtime/detokenize.js';
import { CacheStats } from '../../src/runtime/stats.js';
import { KVCache } from '../../src/runtime/kvcache.js';
import { Session } from '../../src/runtime/session.js';

const tok = { decode: (ids: readonly number[]) => ids.join(' '), encode: () => [] };

test('argmax refuses a string; decodeAfter names a bad tokenizer, context or ids', () => {
  assert.throws(() => argmax('31' as never), /^TypeError: argmax: logits must be a Float32Array of logits, got "31"$/);
  assert.equal(argmax(new Float32Array([1, 3, 2])), 1);
  assert.throws(() => decodeAfter(tok as never, null as never, [5]), /^TypeError: decodeAfter: context must be a list of token ids .*got null$/);
  assert.throws(() => decodeAfter(null as never, [], [5]), /decodeAfter: tokenizer must be a tokenizer/);
  assert.throws(() => decodeAfter(tok as never, [], [1.5]), /decodeAfter: ids must be a list of token ids/);
  assert.equal(decodeAfter(tok as never, [1], [2]), ' 2');
});

test('CacheStats and Session refuse missing or impossible dimensions', () => {
  assert.throws(() => new CacheStats(-1, 2), /^TypeError: CacheStats: nLayers must be an integer from 1 to 65536, got -1$/);
  assert.throws(() => new CacheStats(1e12, 2), /CacheStats: nLayers must be an integer from 1/);
  assert.throws(() => new CacheStats('x' as never, 'x' as never), /CacheStats: nLayers must be/);
  assert.throws(() => new CacheStats(2, Infinity), /CacheStats: nKvHeads must be/);
  assert.throws(() => new (Session as unknown as new () => unknown)(), /^TypeError: Session: arch must be a model architecture/);
  assert.equal(new CacheStats(2, 2).nLayers, 2);
});

test('CacheStats.record and KVCache.shrinkToFit refuse what would poison the figures or mean nothing', () => {
  const st = new CacheStats(2, 2);
  assert.throws(() => st.record(0, 1, new Int32Array(4)), /^RangeError: CacheStats\.record: totalTokens must be an integer ≥ 1, got 0$/);
  assert.throws(() => st.record(10, 0, new Int32Array(4)), /chunkTokens must be an integer from 1 to totalTokens \(10\), got 0/);
  assert.throws(() => st.record(10, 11, new Int32Array(4)), /chunkTokens must be an integer from 1 to totalTokens \(10\), got 11/);
  assert.throws(() => st.record(10, 5, new Int32Array(3)), /held must be an Int32Array of 4 rows held \(layers × KV heads\), got a Int32Array of 3/);
  assert.throws(() => st.record(10, 5, [1, 2, 3, 4] as never), /held must be an Int32Array of 4 rows held \(layers × KV heads\), got object/);
  assert.throws(() => st.record(10, 5, Int32Array.of(1, 2, -3, 4)), /held\[2\] is -3, rows held cannot be negative/);
  // Nothing refused was recorded: the figures are those of the one good snapshot.
  st.record(10, 10, Int32Array.of(5, 5, 10, 10));
  assert.equal(st.snapshots.length, 1);
  const c = new KVCache(1, 1, 4);
  for (const bad of [NaN, 0.5, -1, Infinity, '2']) assert.throws(() => c.shrinkToFit(bad as never), /^RangeError: KVCache\.shrinkToFit: ratio must be a finite number ≥ 1, got /);
  assert.equal(c.shrinkToFit(1), 0);
});
