import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tokenizer } from '../../src/models/types.js';
import { fillTemplate, fitToLength } from '../../src/tasks/generate/sizing.js';

/** One token per space-separated word, plus BOS: token counts that are easy to reason about exactly. */
const wordTokenizer: Tokenizer = {
  vocabSize: 0, bosTokenId: 0, eosTokenIds: [],
  encode: (text) => [0, ...text.split(' ').filter((w) => w.length > 0).map(() => 1)],
  decode: () => '',
};
let encodes = 0;
const countingTokenizer: Tokenizer = { ...wordTokenizer, encode: (t, o) => { encodes++; return wordTokenizer.encode(t, o); } };

const template = 'Intro words here {context} Question {input}';
const render = (n: number) => ({ context: Array.from({ length: n }, (_, i) => (i % 3 === 2 ? 'two words' : 'word')).join(' '), input: 'q?' });
const exactTokens = (n: number) => wordTokenizer.encode(fillTemplate(template, render(n))).length;

test('fillTemplate fills both placeholders in one pass and leaves braces inside the context alone', () => {
  assert.equal(fillTemplate('A {context} B {input}', { context: '{"k": "{input}"} $& $1', input: 'Q' }), 'A {"k": "{input}"} $& $1 B Q');
});

test('fitToLength finds a haystack size whose prompt + new tokens fits within 1% below the target', () => {
  for (const target of [200, 1000, 5000, 20000]) {
    const r = fitToLength({ task: 't', tokenizer: wordTokenizer, template, target, maxNewTokens: 30, render, maxUnits: 1e6 });
    assert.equal(r.promptTokens, exactTokens(r.n), 'the reported length is the measured one');
    assert.ok(r.promptTokens + 30 <= target);
    assert.ok(r.promptTokens + 30 >= target - Math.floor(target * 0.01), `target ${target}: got ${r.promptTokens + 30}`);
    assert.ok(r.withinTolerance);
  }
});

test('with coarse units fitToLength returns the largest size that fits', () => {
  // 50 tokens a unit, tolerance 10: the band is usually missed, so the bracket must close on the best fit.
  const coarse = (n: number) => ({ context: Array.from({ length: 50 * n }, () => 'w').join(' '), input: '' });
  const r = fitToLength({ task: 't', tokenizer: wordTokenizer, template: '{context}{input}', target: 1075, maxNewTokens: 0, render: coarse, maxUnits: 1000 });
  assert.equal(r.n, 21); // 21·50 + BOS = 1051 fits, 22 units = 1101 does not
  assert.equal(r.withinTolerance, false);
});

test('a learnt rate carries over: the second record needs fewer tokenisations', () => {
  const memo = new Map<string, number>();
  encodes = 0;
  fitToLength({ task: 't', tokenizer: countingTokenizer, template, target: 20000, maxNewTokens: 0, render, maxUnits: 1e6, memo });
  const first = encodes;
  encodes = 0;
  fitToLength({ task: 't', tokenizer: countingTokenizer, template, target: 20000, maxNewTokens: 0, render, maxUnits: 1e6, memo });
  assert.ok(encodes <= 2 && encodes < first, `first ${first}, second ${encodes}`);
});

test('fitToLength errors clearly when the target cannot hold the prompt or the haystack runs out', () => {
  assert.throws(() => fitToLength({ task: 'niah_x', tokenizer: wordTokenizer, template, target: 20, maxNewTokens: 16, render, maxUnits: 10 }),
    /niah_x: a length of 20 tokens is too small: .*need at least 22/);
  assert.throws(() => fitToLength({ task: 'x', tokenizer: wordTokenizer, template, target: 5000, maxNewTokens: 0, render, maxUnits: 100, exhausted: 'only 100 words' }),
    /x: cannot reach 5000 tokens: only 100 words/);
  const silent = (n: number) => ({ context: ''.padEnd(n, '字'), input: '' }); // grows without adding tokens
  assert.throws(() => fitToLength({ task: 'x', tokenizer: wordTokenizer, template, target: 500, maxNewTokens: 0, render: silent, maxUnits: 5000 }),
    /cannot reach 500 tokens/);
});
