import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeSimScore, firstCodeLine, fuzzRatio } from '../../src/tasks/metrics/code-sim.js';
import { matchingCharacters, sequenceMatcherRatio } from '../../src/tasks/metrics/difflib.js';
import { indelRatio } from '../../src/tasks/metrics/indel.js';

// Expected values were checked against CPython 3.11 difflib and fuzzywuzzy 0.18.0.

test('firstCodeLine: lstrip("\\n"), split("\\n"), first line without ` # //', () => {
  assert.equal(firstCodeLine('\n\n# comment\n  x = 1\n'), '  x = 1');
  assert.equal(firstCodeLine('```python\nfoo()'), 'foo()');
  assert.equal(firstCodeLine('\n   \nfoo'), '   '); // a whitespace-only line qualifies
  assert.equal(firstCodeLine('a = b // 2\nc = 1'), 'c = 1');
  assert.equal(firstCodeLine('# a\n// b'), '');
  assert.equal(firstCodeLine('x = 1\r\ny'), 'x = 1\r');
});

test('difflib ratio: greedy longest blocks, not LCS, and asymmetric', () => {
  // a = "aca", b = "cccbbab". Every block has size 1; find_longest_match keeps the earliest i, so it takes a[0] = "a"
  // with b[5]; left of it a[0:0] is empty and right of it b[6:] = "b" has no "c" or "a": M = 1 → 2·1/10 = 0.2.
  // Swapped, "cccbbab"[0] = "c" matches "aca"[1]; right of it "ccbbab" vs "a" adds "a": M = 2 → 0.4 = 2·LCS/T.
  assert.equal(sequenceMatcherRatio('aca', 'cccbbab'), 0.2);
  assert.equal(sequenceMatcherRatio('cccbbab', 'aca'), 0.4);
  assert.equal(indelRatio('aca', 'cccbbab'), 0.4);
  assert.equal(sequenceMatcherRatio('', ''), 1.0);
  // Code points: one astral character is one element on each side.
  assert.equal(sequenceMatcherRatio('😀a', '😀b'), 0.5);
});

test('difflib autojunk: popular elements of a 200+ element b never start a match', () => {
  // b = "ab" × 100: 200 elements, limit 200 // 100 + 1 = 3, so "a" and "b" (100 each) are popular and no match can
  // start: "ba" matches nothing (Python: 0.0), while without autojunk "ba" matches b[1:3] → 4/202.
  assert.equal(sequenceMatcherRatio('ba', 'ab'.repeat(100)), 0);
  assert.equal(sequenceMatcherRatio('ba', 'ab'.repeat(100), { autojunk: false }), 4 / 202);
  // An empty best match at (0, 0) is still extended over equal elements: "ab" gets its 2 (Python: 4/202).
  assert.equal(sequenceMatcherRatio('ab', 'ab'.repeat(100)), 4 / 202);
  // 199 elements: no autojunk, "ba" is found.
  assert.equal(matchingCharacters(Array.from('ba'), Array.from('ab'.repeat(99) + 'a')), 2);
  // A match found through non-popular elements still grows over popular ones: "hello world" (11) plus two x on each
  // side → M = 15, ratio 30/226.
  const b = 'x'.repeat(150) + 'hello world' + 'x'.repeat(50);
  assert.equal(sequenceMatcherRatio('xxhello worldxx', b), 30 / 226);
  assert.equal(sequenceMatcherRatio('xxhello worldxx', b), 0.13274336283185842);
});

test('fuzzRatio: equality first, then empties, then round(100·r) half to even', () => {
  assert.equal(fuzzRatio('', ''), 100);
  assert.equal(fuzzRatio('', 'x'), 0);
  assert.equal(fuzzRatio('x', ''), 0);
  // "abcdefgh" vs "aijklmno": M = 1, r = 2/16 = 0.125 → 12.5 → 12 (Math.round would give 13).
  assert.equal(fuzzRatio('abcdefgh', 'aijklmno'), 12);
  // "abc" vs "axc": M = 2, r = 4/6 → 66.67 → 67.
  assert.equal(fuzzRatio('abc', 'axc'), 67);
  assert.equal(fuzzRatio('ba', 'ab'.repeat(100)), 0); // autojunk
  assert.equal(fuzzRatio('ba', 'ab'.repeat(100), 'levenshtein'), 2); // 2·2/202 → 1.98 → 2
  assert.equal(fuzzRatio('aca', 'cccbbab'), 20);
  assert.equal(fuzzRatio('aca', 'cccbbab', 'levenshtein'), 40);
});

test('codeSimScore', () => {
  assert.equal(codeSimScore('\n\n# comment\n  x = 1\n', '  x = 1'), 1.0);
  assert.equal(codeSimScore('# a\n// b', ''), 1.0); // "" vs "": fuzz.ratio says 100
  assert.equal(codeSimScore('', 'x'), 0.0);
  assert.equal(codeSimScore('abcdefgh', 'aijklmno'), 0.12);
  assert.equal(codeSimScore('aca', 'cccbbab', 'levenshtein'), 0.4);
});
