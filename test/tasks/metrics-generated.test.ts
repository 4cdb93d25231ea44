import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstInteger, kvRetrievalScore, passkeyScore } from '../../src/tasks/metrics/infinitebench.js';
import { stringMatchAll, stringMatchPart } from '../../src/tasks/metrics/string-match.js';
import { taskScore } from '../../src/tasks/metrics/aggregate.js';
import { METRICS, aggregateScores, scoreByMetric } from '../../src/tasks/metrics/index.js';
import { metricForDataset, LONGBENCH_DATASET_METRICS } from '../../src/tasks/metrics/datasets.js';

test('string_match_all / string_match_part (RULER)', () => {
  assert.equal(stringMatchAll('The numbers are 123 and 456', ['123', '456', '789']), 2 / 3);
  assert.equal(stringMatchAll('the key is ABC', ['abc']), 1);
  assert.equal(stringMatchAll('İ', ['i\u0307']), 1); // Python lower(): İ → i + U+0307
  assert.equal(stringMatchPart('The numbers are 123 and 456', ['789', '456']), 1);
  assert.equal(stringMatchPart('nothing', ['789', '456']), 0);
  assert.throws(() => stringMatchAll('x', []), /no reference/);
  assert.throws(() => stringMatchPart('x', []), /no reference/);
});

test('taskScore: LongBench and RULER formulas, rounded half to even', () => {
  assert.equal(taskScore([1, 0, 0.5]), 50);
  // One sample finding 1 of 32 references: 1/32 · 100 = 3.125 exactly → 3.12.
  assert.equal(taskScore([1 / 32], 'ruler'), 3.12);
  assert.equal(aggregateScores('string_match_all', [1 / 32]), 3.12);
  // 100 · 0.02675 = 2.675 in binary is 2.67499999... → 2.67 (Python: round(100 * 0.02675, 2) == 2.67).
  assert.equal(taskScore([0.02675]), 2.67);
  assert.equal(taskScore([1 / 3, 1 / 3, 1 / 3, 0.5]), 37.5);
  assert.throws(() => taskScore([]), /no samples/);
  // Scores that are not fractions are refused: ['1', '0'] gave 500, [5, 7] 600 and [NaN] NaN.
  assert.throws(() => taskScore(['1', '0'] as never), /sample 0 scored 1; per-sample scores are numbers in \[0, 1\]/);
  assert.throws(() => taskScore([0.5, 7]), /sample 1 scored 7/);
  assert.throws(() => taskScore([Number.NaN]), /sample 0 scored NaN/);
  assert.throws(() => taskScore([1], 'mean' as never), /formula must be "longbench" or "ruler"/);
});

test('passkey: the first run of ASCII digits equals the answer', () => {
  assert.equal(firstInteger('The pass key is 12345. Remember it.'), '12345');
  assert.equal(firstInteger('no digits'), '');
  assert.equal(firstInteger('１２３ then 42'), '42'); // [^0-9] splits on full-width digits
  assert.equal(passkeyScore('The pass key is 12345.', ['12345']), 1);
  assert.equal(passkeyScore('It is 123456', ['12345']), 0);
  assert.equal(passkeyScore('7 and then 12345', ['12345']), 0);
  assert.equal(passkeyScore('0012345', ['0012345']), 1); // compared as strings
  assert.throws(() => passkeyScore('1', []), /no answer/);
});

test('kv_retrieval: containment by default, InfiniteBench word rule as an option', () => {
  const uuid = '4f9c2a1e-8d7b-4c3a-9e2f-1a2b3c4d5e6f';
  assert.equal(kvRetrievalScore(`The value is "${uuid}".`, [uuid]), 1);
  assert.equal(kvRetrievalScore(`The value is "${uuid}".`, [uuid], 'words'), 1);
  assert.equal(kvRetrievalScore(`x${uuid}`, [uuid]), 1);
  assert.equal(kvRetrievalScore(`x${uuid}`, [uuid], 'words'), 0);
  assert.equal(kvRetrievalScore('nothing', [uuid]), 0);
});

test('scoreByMetric: max over answers from 0, registry errors', () => {
  assert.equal(scoreByMetric('qa_f1', 'Paris', ['London', 'Paris']), 1);
  assert.equal(scoreByMetric('qa_f1', 'Paris', []), 0);
  assert.equal(scoreByMetric('classification', 'Other number', ['Other number'], ['Other', 'number', 'Other number']), 0.5);
  assert.equal(scoreByMetric('classification', 'Other number', ['Other number'], ['Other', 'number', 'Other number'], { classification: 'corrected' }), 1);
  assert.equal(scoreByMetric('code_sim', 'aca', ['cccbbab'], null, { codeSimMatcher: 'levenshtein' }), 0.4);
  const deep = Array.from({ length: 991 }, (_, i) => `w${i}`).join(' ');
  assert.equal(scoreByMetric('rouge', deep, [deep]), 0);
  assert.equal(scoreByMetric('rouge', deep, [deep], null, { rougeRecursion: 'corrected' }), 0.999999995);
  assert.equal(scoreByMetric('string_match_all', 'a b', ['A', 'c']), 0.5);
  assert.equal(scoreByMetric('passkey', '12345', ['12345']), 1);
  assert.throws(() => scoreByMetric('bleu', 'x', ['x']), /unknown metric "bleu"/);
  assert.throws(() => scoreByMetric('qa_f1_ja', 'x', ['x']), /MeCab/);
});

test('dataset → metric map covers the 21 LongBench tasks, ChouBun and generated tasks', () => {
  assert.equal(Object.keys(LONGBENCH_DATASET_METRICS).length, 21);
  assert.equal(metricForDataset('lsht'), 'classification');
  assert.equal(metricForDataset('vcsum'), 'rouge_zh');
  assert.equal(metricForDataset('repobench-p'), 'code_sim');
  assert.equal(metricForDataset('corp_sec_sum'), 'rouge_ja');
  assert.equal(metricForDataset('niah_multikey_3'), 'string_match_all');
  assert.equal(metricForDataset('number_string'), 'passkey');
  assert.equal(metricForDataset('nope'), undefined);
  for (const metric of Object.values(LONGBENCH_DATASET_METRICS)) assert.ok((METRICS as readonly string[]).includes(metric));
});
