/** Runtime helpers check their arguments: a string is not logits, a null tokenizer or context is named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argmax } from '../../src/runtime/sampling.js';
import { decodeAfter } from '../../src/runtime/detokenize.js';
import { CacheStats } from '../../src/runtime/stats.js';
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
