/** util/show.ts: values as error messages show them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shortJson } from '../../src/util/show.js';

test('shortJson: compact JSON for small values, bounded for deep, long or wide ones', () => {
  assert.equal(shortJson([1, 2]), '[1,2]');
  assert.equal(shortJson({ a: 'x', b: [null, NaN, -Infinity] }), '{"a":"x","b":[null,NaN,-Infinity]}');
  assert.equal(shortJson('25'), '"25"', 'a string stays apart from the number it spells');
  assert.equal(shortJson(undefined), 'undefined');
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.equal(shortJson(deep), '[[[[[…]]]]]');
  assert.equal(shortJson('a'.repeat(100)), `"${'a'.repeat(40)}…"`);
  assert.equal(shortJson(Array.from({ length: 20 }, (_, i) => i)), '[0,1,2,3,4,5,6,7,…]');
  assert.equal(shortJson('\u0085\u0000'), '"\\u0085\\u0000"', 'control characters escaped');
  const long = shortJson(Array.from({ length: 8 }, () => 'b'.repeat(40)));
  assert.equal(long.length, 81);
  assert.ok(long.endsWith('…'));
});
