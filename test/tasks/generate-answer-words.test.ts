/**
 * Answers scored by substring (RULER's string_match_all: is each answer, lower-cased, inside the lower-cased
 * prediction?) must not be found in anything but the answer itself: not inside another word of the list a model
 * reads, nor in the prompt's own wording, which a model may repeat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/util/rng.js';
import { generateRecord } from '../../src/tasks/registry.js';
import { resolveHaystack } from '../../src/tasks/haystack.js';
import { stringMatchAll } from '../../src/tasks/metrics/string-match.js';
import { commonEnglishWords, substringFreeWords } from '../../src/tasks/wordlists.js';
import { CWE_QUESTION, CWE_TEMPLATE, cweWordPool, generateCommonWords } from '../../src/tasks/generate/cwe.js';
import { FWE_QUESTION, FWE_TEMPLATE, generateFrequentWords } from '../../src/tasks/generate/fwe.js';
import { generateVariableTracking, VT_TEMPLATE } from '../../src/tasks/generate/vt.js';
import { letterRuns } from '../../src/tasks/generate/values.js';
import type { SampleContext } from '../../src/tasks/generate/common.js';
import { tinyStoriesTokenizer } from './generate-helpers.js';
import { tempDir } from '../helpers/temp.js';

/** The template's text around its placeholders. */
const fixedParts = (template: string): string[] => template.split(/\{context\}|\{input\}/);

test('substringFreeWords drops every word inside another word or a fixed text, in lower case, keeping the order', () => {
  assert.deepEqual(substringFreeWords(['party', 'art', 'depart', 'cat', 'dog', 'Scatter'], ['Hot DOGS here']), ['party', 'depart', 'Scatter']);
  assert.deepEqual(substringFreeWords(['one', 'two'], []), ['one', 'two']);
  assert.throws(() => substringFreeWords(['Art', 'art']), /distinct in lower case/);
});

test('cwe\'s word pool: no word is part of another WordNet word of the pool or of the prompt\'s fixed text', () => {
  const source = commonEnglishWords(), pool = cweWordPool();
  // Every proper substring of every source word: no pool word may be one (a prediction naming the longer word
  // would be credited with it).
  const pieces = new Set<string>();
  for (const w of source) for (let i = 0; i < w.length; i++) for (let j = i + 1; j <= w.length; j++) if (j - i < w.length) pieces.add(w.slice(i, j));
  const inside = pool.filter((w) => pieces.has(w));
  assert.deepEqual(inside.slice(0, 5), [], `${inside.length} pool words are part of another word`);
  const fixed = [...fixedParts(CWE_TEMPLATE), CWE_QUESTION].join('\n').toLowerCase();
  assert.deepEqual(pool.filter((w) => fixed.includes(w)), [], 'no pool word is in the instructions or the question');
  for (const w of ['art', 'old', 'wee', 'above', 'list', 'ten']) assert.ok(source.includes(w) && !pool.includes(w), w);
  for (const w of ['party', 'manifold', 'tweeze', 'salute']) assert.ok(pool.includes(w), w);
  // Sorted and deterministic; large enough for the longest lists (the evolution configs ask for 8,192 tokens: a few
  // hundred words; a 128K-token list takes some thousands).
  assert.ok(pool.every((w, i) => i === 0 || pool[i - 1]! < w));
  assert.equal(pool.length, 9428);
  assert.equal(cweWordPool(), pool, 'filtered once');
});

test('cwe: a prediction that repeats the question and names every listed word but the answers scores 0', () => {
  // With the unfiltered pool, seed 7's records 17 and 19 at 2,048 tokens scored 0.1 on such a prediction (listing
  // "tweeze" credited the answer "wee", "holdup" the answer "old"), and record 62 had "above", a word of the question,
  // among its answers.
  const tokenizer = tinyStoriesTokenizer();
  const memo = new Map<string, number>();
  for (const index of [...Array.from({ length: 40 }, (_, i) => i), 62]) {
    const r = generateRecord({ task: 'cwe', length: 2048, tokenizer, seed: 7, index, memo });
    const listed = [...new Set(r.context.split(/\d+\. /).map((w) => w.trim()).filter(Boolean))];
    const others = listed.filter((w) => !r.answers.includes(w));
    assert.ok(others.length > 0);
    const echo = `${fixedParts(r.prompt_template!).join(' ')} ${r.input}`;
    const wrong = `${echo} ${others.map((w, i) => `${i + 1}. ${w}`).join(' ')}`;
    assert.equal(stringMatchAll(wrong, r.answers), 0, `record ${index}: answers ${r.answers.join(', ')}`);
    assert.equal(stringMatchAll(`${wrong} ${r.answers[0]}`, r.answers), 0.1, 'one answer named: one tenth');
  }
});

function context(task: string, template: string, length: number, seed: string): SampleContext {
  return {
    task, tokenizer: tinyStoriesTokenizer(), length, maxNewTokens: 50, template, rng: new Rng(seed),
    haystack: task === 'vt' ? resolveHaystack('noise', 'en') : null, memo: new Map(),
  };
}

test('an answer that a template\'s own wording holds is never drawn (cwe, fwe, vt)', () => {
  // Each generator's first draw, then the same draw under a template whose instructions spell that answer out:
  // the answer must change, and no answer may be in the wording.
  const cases = [
    { task: 'cwe', template: CWE_TEMPLATE, question: CWE_QUESTION, generate: generateCommonWords },
    { task: 'fwe', template: FWE_TEMPLATE, question: FWE_QUESTION, generate: generateFrequentWords },
    { task: 'vt', template: VT_TEMPLATE, question: '', generate: (ctx: SampleContext) => generateVariableTracking(ctx) },
  ];
  for (const { task, template, question, generate } of cases) {
    for (const seed of ['a', 'b']) {
      const plain = generate(context(task, template, 1024, seed));
      const spelt = `Note the word ${plain.answers[0]}. ${template}`;
      const s = generate(context(task, spelt, 1024, seed));
      const wording = [...fixedParts(spelt), question, task === 'vt' ? s.input : ''].join('\n').toLowerCase();
      assert.ok(!s.answers.includes(plain.answers[0]!), `${task} ${seed}: ${plain.answers[0]} is still an answer`);
      assert.deepEqual(s.answers.filter((a) => wording.includes(a.toLowerCase())), [], `${task} ${seed}`);
    }
  }
  assert.deepEqual([...letterRuns(['Ask twice; AT-HOME'], 3)].sort(), ['ask', 'hom', 'ice', 'ome', 'twi', 'wic']);
});

test('needle_in_haystack refuses a haystack that holds an answer phrase outside the needle', () => {
  const root = tempDir('namm-answer-words-');
  try {
    const sentence = 'We walked across the city all afternoon and rested for a while near the fountain in the square. ';
    const texts = { plain: sentence.repeat(200), park: `${sentence.repeat(4)}We sat in dolores park for an hour. `.repeat(40) };
    for (const [name, text] of Object.entries(texts)) { mkdirSync(join(root, name)); writeFileSync(join(root, name, 'a.txt'), text); }
    const base = { task: 'needle_in_haystack', length: 1024, tokenizer: tinyStoriesTokenizer(), seed: 0, index: 0 };
    assert.ok(generateRecord({ ...base, haystack: join(root, 'plain') }).context.includes('Dolores Park'));
    assert.throws(() => generateRecord({ ...base, haystack: join(root, 'park') }), /the answer "Dolores Park" also occurs outside the needle/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
