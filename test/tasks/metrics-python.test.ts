import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonRound } from '../../src/tasks/metrics/python-round.js';
import { codePoints, collapseWhitespace, digitRuns, pyLower, pySplit, stripLeadingNewlines } from '../../src/tasks/metrics/python-string.js';

test('pythonRound rounds the exact binary value half to even (values from CPython 3.11 round())', () => {
  // 2.675 is stored as 2.67499999999999982236431605997495353221893310546875, so it rounds down.
  assert.equal(pythonRound(2.675, 2), 2.67);
  // CPython's limits (round(1.2345, 10**9) == 1.2345, round(1e300, -400) == 0.0): before, a billion-digit BigInt.
  assert.equal(pythonRound(1.2345, 1e9), 1.2345);
  assert.equal(pythonRound(1.2345, 323), 1.2345);
  assert.ok(Object.is(pythonRound(-1e300, -400), -0));
  assert.equal(pythonRound(1e300, -400), 0);
  // 0.125 and 3.125 are exact binary ties: the even digit wins (2, not 3). Math.round would give 0.13 / 3.13.
  assert.equal(pythonRound(0.125, 2), 0.12);
  assert.equal(pythonRound(3.125, 2), 3.12);
  assert.equal(pythonRound(-0.125, 2), -0.12);
  assert.equal(pythonRound(0.375, 2), 0.38);
  // round() without digits: ties to even.
  assert.equal(pythonRound(2.5), 2);
  assert.equal(pythonRound(3.5), 4);
  assert.equal(pythonRound(-2.5), -2);
  assert.equal(pythonRound(12.5), 12);
  // 1.005 is stored just below 1.005 and 0.285 just below 0.285.
  assert.equal(pythonRound(1.005, 2), 1.0);
  assert.equal(pythonRound(0.285, 2), 0.28);
  // Negative digits: tens, with 125 → 120 (tie to even).
  assert.equal(pythonRound(123.456, -1), 120);
  assert.equal(pythonRound(125, -1), 120);
  assert.equal(pythonRound(5e-324, 2), 0);
  assert.equal(pythonRound(1e300, 2), 1e300);
  assert.equal(pythonRound((100 * 1) / 32, 2), 3.12);
  assert.equal(pythonRound((100 * 2) / 3, 2), 66.67);
  assert.ok(Number.isNaN(pythonRound(NaN, 2)));
  assert.equal(pythonRound(Infinity, 2), Infinity);
  assert.throws(() => pythonRound(1.5, 0.5), /ndigits must be an integer/);
});

test('pySplit splits on exactly the characters of Python str.isspace()', () => {
  // Python: 'a\tb\u00a0c\u3000d\x1ce\x85f'.split() == ['a','b','c','d','e','f']
  assert.deepEqual(pySplit('a\tb\u00a0c\u3000d\x1ce\x85f'), ['a', 'b', 'c', 'd', 'e', 'f']);
  // BOM and zero-width space are not whitespace in Python (JavaScript's \s does include the BOM).
  assert.deepEqual(pySplit('a\ufeffb c\u200bd'), ['a\ufeffb', 'c\u200bd']);
  assert.deepEqual(pySplit('  \n '), []);
  assert.deepEqual(pySplit(' x\u2028y\u2029z\u202f'), ['x', 'y', 'z']);
  assert.equal(collapseWhitespace(' a \r\n\v\f b '), 'a b');
});

test('pyLower follows str.lower(): İ → two code points, ß unchanged, final sigma', () => {
  assert.deepEqual(codePoints(pyLower('İ')), ['i', '\u0307']);
  assert.equal(pyLower('STRASSE ß'), 'strasse ß');
  assert.equal(pyLower('ΑΣ'), 'ας');
  assert.equal(codePoints('a😀b').length, 3); // code points, not UTF-16 units (4)
});

test('digitRuns uses Unicode \\d: full-width and Arabic-Indic digits are digits', () => {
  assert.deepEqual(digitRuns('１２ and 34, ٣x5'), ['１２', '34', '٣', '5']);
  assert.deepEqual(digitRuns('no digits ½ Ⅻ'), []); // No and Nl are numbers, not decimal digits
});

test('stripLeadingNewlines strips only \\n', () => {
  assert.equal(stripLeadingNewlines('\n\n\r\nx\n'), '\r\nx\n');
  assert.equal(stripLeadingNewlines(' \nx'), ' \nx');
});
