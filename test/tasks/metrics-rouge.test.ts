import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUGE_MAX_BACKTRACK_CALLS, rougeScore, rougeSentences } from '../../src/tasks/metrics/rouge.js';
import { rougeZhScore } from '../../src/tasks/metrics/rouge-zh.js';

// Expected values were checked against LongBench's rouge_score (rouge 1.0.1, CPython 3.11).
const IDENTICAL = 0.999999995; // 2·(1·1)/(1 + 1 + 1e-8)

test('rougeSentences splits on every ASCII period and keeps pieces that are non-empty before collapsing', () => {
  assert.deepEqual(rougeSentences('U.S. economy grew 3.5 percent'), ['U', 'S', 'economy grew 3', '5 percent']);
  assert.deepEqual(rougeSentences('a? b! c．d'), ['a? b! c．d']);
  assert.deepEqual(rougeSentences(' '), ['']);
  assert.deepEqual(rougeSentences('...'), []);
});

test('identical texts score 0.999999995, not 1', () => {
  assert.equal(rougeScore('the cat sat', 'the cat sat'), IDENTICAL);
  assert.equal(rougeScore('U.S. economy grew 3.5 percent', 'U.S. economy grew 3.5 percent'), IDENTICAL);
});

test('counts are over distinct words', () => {
  // hyp [the, the, cat] has n = 2 distinct words; the LCS word set {the, cat} covers both sides.
  assert.equal(rougeScore('the the cat', 'the cat'), IDENTICAL);
  // "?" and "!" do not split: words a? b! c vs a? b! c d → LCS 3, P = 1, R = 3/4 → 2·0.75/(1.75 + 1e-8)
  assert.equal(rougeScore('a? b! c', 'a? b! c d'), 2.0 * ((1 * 0.75) / (1 + 0.75 + 1e-8)));
});

test('union LCS across sentences', () => {
  // ref sentences "w1 w3 w5" and "w2"; hyp sentences "w1 w2 w3" and "w4 w5".
  // LCS words: (w1 w3 w5, w1 w2 w3) = {w1, w3}; (w1 w3 w5, w4 w5) = {w5}; (w2, w1 w2 w3) = {w2}; union = 4.
  // m = 4, n = 5 → R = 1, P = 0.8 → F = 2·0.8/(1.8 + 1e-8) = 0.8888888839506174
  assert.equal(rougeScore('w1 w2 w3. w4 w5', 'w1 w3 w5. w2'), 0.8888888839506174);
});

test('the backtrack tie-break (left unless up is strictly larger) changes the score', () => {
  // ref "a b", hyp sentences "b a" and "b". For (a b, b a) both moves tie at 1, the walk goes left and takes {b};
  // (a b, b) gives {b}: union {b}, P = R = 1/2 → 0.499999995. Going up would take {a} and give 0.999999995.
  assert.equal(rougeScore('b a. b', 'a b'), 0.4999999950000001);
  assert.equal(rougeScore('police killed the gunman', 'the gunman police killed'), 0.4999999950000001);
});

test('failures score 0: empty hypothesis or reference, only periods', () => {
  assert.equal(rougeScore('', 'x'), 0);
  assert.equal(rougeScore('...', 'a'), 0);
  assert.equal(rougeScore('a', ''), 0);
  // " " is a sentence with the single word "": no match with "x", but a match with " ".
  assert.equal(rougeScore(' ', 'x'), 0);
  assert.equal(rougeScore(' ', ' '), IDENTICAL);
});

const words = (n: number, prefix = 'w') => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(' ');

test('the recursion-limit zero of the official setup, and the corrected value', () => {
  // LongBench eval.py run as a script (`python eval.py --model M` on a one-record gov_report.jsonl; CPython 3.11,
  // limit 1000): hyp = ref = 990 distinct words backtracks in 991 calls and scores 100; 991 words need 992 calls
  // and score 0 (measured on these inputs; a scorer called from inside a function is one frame deeper and cuts
  // one word earlier).
  assert.equal(ROUGE_MAX_BACKTRACK_CALLS, 991);
  assert.equal(rougeScore(words(990), words(990)), IDENTICAL);
  assert.equal(rougeScore(words(991), words(991)), 0);
  assert.equal(rougeScore(words(991), words(991), { maxBacktrackCalls: Infinity }), IDENTICAL);
  // One deep pair anywhere zeroes the whole score: ref "w0"; hyp 995 non-matching words, then the sentence "w0".
  const hypothesis = `${words(995, 'x')}. w0`;
  assert.equal(rougeScore(hypothesis, 'w0'), 0);
  const precision = 1 / 996, recall = 1;
  assert.equal(rougeScore(hypothesis, 'w0', { maxBacktrackCalls: Infinity }), 2.0 * ((precision * recall) / (precision + recall + 1e-8)));
});

test('rouge_zh: jieba words joined by spaces, one frame deeper for the recursion limit', () => {
  // "我 来到 北京 清华大学 。" vs "他 来到 了 网易 杭研 大厦 。": "。" is a word but not a split (only ASCII "." splits).
  // LCS {来到, 。}: P = 2/5, R = 2/7 → 0.33333332847222225
  assert.equal(rougeZhScore('我来到北京清华大学。', '他来到了网易杭研大厦。'), 0.33333332847222225);
  // eval.py on vcsum: 989 words score 100, 990 words 0.
  assert.equal(rougeZhScore(words(989), words(989)), IDENTICAL);
  assert.equal(rougeZhScore(words(990), words(990)), 0);
  assert.equal(rougeZhScore(words(990), words(990), { maxBacktrackCalls: Infinity }), IDENTICAL);
});
