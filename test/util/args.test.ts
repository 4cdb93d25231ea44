/** checkArg / checkArgOptions: the shared "argument must be X" check of the exported API. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argError, checkArg, checkArgOptions } from '../../src/util/args.js';

test('checkArg names the function, the argument, what it must be and what was given', () => {
  assert.throws(() => checkArg('f', 'x', undefined, 'string'), /^TypeError: f: x must be a string, got undefined$/);
  assert.throws(() => checkArg('f', 'p', '  ', 'path'), /^TypeError: f: p must be a file path \(a non-empty string\), got "  "$/);
  assert.throws(() => checkArg('f', 'ids', [1, -1], 'ids'), /f: ids must be a list of token ids/);
  assert.throws(() => checkArg('f', 'n', 1.5, 'count', 'a row count'), /^TypeError: f: n must be a row count, got 1\.5$/);
  assert.throws(() => checkArg('f', 'o', [], 'object'), /f: o must be an object, got an array/);
  checkArg('f', 'ids', new Int32Array([0, 3]), 'ids');
  checkArg('f', 'm', new Map(), 'Map');
  assert.equal(argError('f', 'a', 'b', null).message, 'f: a must be b, got null');
});

test('checkArgOptions: undefined is no options; null, a string and an unknown key are refused', () => {
  assert.deepEqual(checkArgOptions('f', undefined, ['a']), {});
  assert.throws(() => checkArgOptions('f', null as never, ['a']), /^TypeError: f: options must be an object \(a\), got null$/);
  assert.throws(() => checkArgOptions('f', 'a=1' as never, ['a']), /f: options must be an object/);
  assert.throws(() => checkArgOptions('f', { aa: 1 } as never, ['a', 'b']), /f: unknown option "aa" \(did you mean "a"\?\)/);
});
