/** Record options that are not what they say are refused before any work (generateRecord, checkRecordOptions, iterateRecords). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRecordOptions, generateRecord, generateRecords, iterateRecords } from '../../src/tasks/registry.js';
import { codePointTokenizer } from './generate-helpers.js';

const tokenizer = codePointTokenizer;
const base = { task: 'passkey', length: 1024 };

test('depthPercent must be undefined (random) or a number within 0..100: null is not "random at depth 0"', () => {
  for (const depthPercent of [null, '50', Number.NaN, -1, 100.5, Infinity, -Infinity, [50], true]) {
    const o = { ...base, depthPercent: depthPercent as never };
    assert.throws(() => checkRecordOptions(o), (e: Error) => e instanceof RangeError
      && e.message === `depthPercent: the needle depth must be within 0..100 percent (undefined: a random depth), got ${typeof depthPercent === 'string' ? JSON.stringify(depthPercent) : Array.isArray(depthPercent) ? 'an array' : String(depthPercent)}`, String(depthPercent));
    assert.throws(() => generateRecord({ ...o, tokenizer }), /depthPercent: the needle depth must be within 0\.\.100 percent/);
  }
  assert.throws(() => generateRecord({ ...base, tokenizer, depthPercent: null as never }), /got null$/);
  // The edges and an absent depth stay valid.
  for (const depthPercent of [0, 100, 37.5, undefined]) assert.equal(checkRecordOptions({ ...base, depthPercent }).name, 'passkey');
});

test('a null depth no longer gives a record whose id says "random" with the needle at depth 0', () => {
  const random = generateRecord({ ...base, length: 512, tokenizer, seed: 4 });
  assert.equal(generateRecord({ ...base, length: 512, tokenizer, seed: 4, depthPercent: undefined })._id, random._id);
  assert.throws(() => generateRecord({ ...base, length: 512, tokenizer, seed: 4, depthPercent: null as never }), RangeError);
});

test('seed and index must be undefined (0) or safe integers ≥ 0; null, strings and fractions are refused', () => {
  for (const [key, value, shown] of [
    ['seed', null, 'null'], ['seed', '7', '"7"'], ['seed', 1.5, '1.5'], ['seed', -1, '-1'], ['seed', Number.NaN, 'NaN'], ['seed', 2 ** 53, String(2 ** 53)],
    ['index', null, 'null'], ['index', '0', '"0"'], ['index', -3, '-3'], ['index', Infinity, 'Infinity'],
  ] as const) {
    assert.throws(() => checkRecordOptions({ ...base, [key]: value as never }),
      (e: Error) => e instanceof RangeError && e.message === `${key} must be an integer ≥ 0, got ${shown}`, `${key}: ${shown}`);
  }
  assert.equal(checkRecordOptions({ ...base, seed: undefined, index: undefined }).name, 'passkey');
  assert.equal(checkRecordOptions({ ...base, seed: 0, index: 2 ** 53 - 1 }).name, 'passkey');
  assert.throws(() => checkRecordOptions({ ...base, length: '1024' as never }), /^RangeError: length must be an integer ≥ 1, got "1024"$/);
});

test('haystack must be a string and memo a Map', () => {
  assert.throws(() => checkRecordOptions({ ...base, haystack: 5 as never }), (e: Error) => e instanceof TypeError
    && e.message === 'haystack must be noise, essay, brown or a directory of .txt files (a string), got 5');
  assert.throws(() => generateRecord({ ...base, tokenizer, memo: {} as never }), (e: Error) => e instanceof TypeError
    && e.message === "generateRecord: memo must be a Map shared across a run's records, got object");
});

test('iterateRecords refuses lengths and depths that are not non-empty arrays (an empty depth list gave no records)', () => {
  const o = { task: 'passkey', n: 1, tokenizer };
  assert.throws(() => generateRecords({ ...o, lengths: 1024 as never }), /^TypeError: lengths must be an array of lengths in tokens, got 1024$/);
  assert.throws(() => generateRecords({ ...o, lengths: [] }), /^RangeError: lengths: at least one length is needed, got \[\]$/);
  assert.throws(() => generateRecords({ ...o, lengths: [1024], depths: [] }),
    /^RangeError: depths: at least one depth is needed \(undefined: a random depth per record\), got \[\]$/);
  assert.throws(() => generateRecords({ ...o, lengths: [1024], depths: 50 as never }),
    /^TypeError: depths must be an array of depths in percent \(undefined: a random depth per record\), got 50$/);
  assert.throws(() => generateRecords({ ...o, lengths: [1024], depths: [50, null as never] }), /depthPercent: the needle depth must be within 0\.\.100 percent .*got null/);
  assert.throws(() => iterateRecords(null as never).next(), /^TypeError: records options must be an object \{task, n, lengths, tokenizer, …\}, got null$/);
  assert.throws(() => generateRecords({ ...o, n: 0, lengths: [1024] }), /^RangeError: n must be an integer ≥ 1, got 0$/);
});

test('a misspelt record option is refused, not ignored (depth for depthPercent placed the needle at random)', () => {
  const o = { task: 'passkey', length: 512, tokenizer };
  assert.throws(() => generateRecord({ ...o, depth: 50 } as never), /generateRecord: unknown option "depth" \(did you mean "depthPercent"\?\)/);
  assert.throws(() => checkRecordOptions({ task: 'passkey', lenght: 512 } as never), /checkRecordOptions: unknown option "lenght"/);
  assert.throws(() => generateRecords({ task: 'passkey', n: 1, lengths: [512], tokenizer, count: 3 } as never), /generateRecords: unknown option "count"/);
  assert.throws(() => iterateRecords({ task: 'passkey', n: 1, lengths: [512], tokenizer, bogus: 1 } as never), /iterateRecords: unknown option "bogus"/);
});
