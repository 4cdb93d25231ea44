/** Metric options: a misspelt or wrongly typed option is refused, never read as the default; valid ones score as before. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkMetricOptions, classificationScore, codeSimScore, fuzzRatio, kvRetrievalScore, rougeScore, rougeZhScore, scoreByMetric, METRIC_OPTION_VALUES,
} from '../../src/tasks/metrics/index.js';
import { scoreRecord, scoreTask } from '../../src/tasks/longbench.js';
import type { TaskRecord } from '../../src/tasks/record.js';

const KNOWN = 'rougeRecursion, classification, codeSimMatcher, kvRetrievalMatch';
const deep = Array.from({ length: 1200 }, (_, i) => `w${i}`).join(' ');

test('an unknown metric option is refused, whatever the metric', () => {
  for (const metric of ['rouge', 'qa_f1', 'kv_retrieval', 'string_match_all']) {
    assert.throws(() => scoreByMetric(metric, deep, [deep], null, { rougeRecusion: 'corrected' } as never),
      (e: Error) => e instanceof RangeError && e.message === `unknown metric option "rougeRecusion" (expected one of: ${KNOWN})`, metric);
  }
  assert.throws(() => scoreByMetric('kv_retrieval', 'x', ['x'], null, { kvRetrieval: 'words' } as never), /unknown metric option "kvRetrieval"/);
});

test('a known option with a value it does not take is refused (it was read as the default, or as the other variant)', () => {
  const cases: [Record<string, unknown>, string, 'RangeError' | 'TypeError'][] = [
    [{ rougeRecursion: 'Corrected' }, 'metric option rougeRecursion must be "official" or "corrected", got "Corrected"', 'RangeError'],
    [{ rougeRecursion: true }, 'metric option rougeRecursion must be "official" or "corrected", got true', 'TypeError'],
    [{ classification: 'fixed' }, 'metric option classification must be "official" or "corrected", got "fixed"', 'RangeError'],
    [{ codeSimMatcher: 'Levenshtein' }, 'metric option codeSimMatcher must be "difflib" or "levenshtein", got "Levenshtein"', 'RangeError'],
    [{ kvRetrievalMatch: 'Words' }, 'metric option kvRetrievalMatch must be "contains" or "words", got "Words"', 'RangeError'],
    [{ kvRetrievalMatch: null }, 'metric option kvRetrievalMatch must be "contains" or "words", got null', 'TypeError'],
    [{ kvRetrievalMatch: 1 }, 'metric option kvRetrievalMatch must be "contains" or "words", got 1', 'TypeError'],
  ];
  for (const [options, message, name] of cases) {
    assert.throws(() => scoreByMetric('kv_retrieval', 'x', ['x'], null, options as never), (e: Error) => e.name === name && e.message === message, message);
    assert.throws(() => checkMetricOptions(options as never), (e: Error) => e.name === name && e.message === message);
  }
  for (const options of [null, 'corrected', ['rougeRecursion'], 5]) {
    assert.throws(() => scoreByMetric('rouge', 'a', ['a'], null, options as never), /^TypeError: metric options must be an object, got /);
  }
});

test('valid options (and undefined values) score exactly as before', () => {
  assert.deepEqual(METRIC_OPTION_VALUES, {
    rougeRecursion: ['official', 'corrected'], classification: ['official', 'corrected'],
    codeSimMatcher: ['difflib', 'levenshtein'], kvRetrievalMatch: ['contains', 'words'],
  });
  assert.equal(scoreByMetric('rouge', deep, [deep]), 0);
  assert.equal(scoreByMetric('rouge', deep, [deep], null, { rougeRecursion: undefined }), 0);
  assert.equal(scoreByMetric('rouge', deep, [deep], null, { rougeRecursion: 'official' }), 0);
  assert.equal(scoreByMetric('rouge', deep, [deep], null, { rougeRecursion: 'corrected' }), 0.999999995);
  const classes = ['Other', 'number', 'Other number'];
  assert.equal(scoreByMetric('classification', 'Other number', ['Other number'], classes, { classification: 'official' }), 0.5);
  assert.equal(scoreByMetric('classification', 'Other number', ['Other number'], classes, { classification: 'corrected' }), 1);
  assert.equal(scoreByMetric('code_sim', 'aca', ['cccbbab'], null, { codeSimMatcher: 'difflib' }), 0.2);
  assert.equal(scoreByMetric('code_sim', 'aca', ['cccbbab'], null, { codeSimMatcher: 'levenshtein' }), 0.4);
  const uuid = '2a8d601d-1d69-4e64-9f90-8ad825a74195';
  assert.equal(scoreByMetric('kv_retrieval', `x${uuid}.`, [uuid], null, { kvRetrievalMatch: 'contains' }), 1);
  assert.equal(scoreByMetric('kv_retrieval', `x${uuid}.`, [uuid], null, { kvRetrievalMatch: 'words' }), 0);
  assert.equal(scoreByMetric('kv_retrieval', `"${uuid}".`, [uuid], null, { kvRetrievalMatch: 'words' }), 1);
  // Every option at once, even those the metric does not read.
  const all = { rougeRecursion: 'corrected', classification: 'corrected', codeSimMatcher: 'levenshtein', kvRetrievalMatch: 'words' } as const;
  assert.equal(scoreByMetric('qa_f1', 'the park', ['park'], null, all), 1);
  assert.equal(checkMetricOptions(all), all);
});

test('the variant arguments of the lower-level metric functions are checked too', () => {
  const classes = ['Other', 'number', 'Other number'];
  assert.throws(() => classificationScore('Other number', 'Other number', classes, 'Corrected' as never),
    /^RangeError: classification variant must be "official" or "corrected", got "Corrected"$/);
  assert.equal(classificationScore('Other number', 'Other number', classes, 'official'), 0.5);
  assert.throws(() => fuzzRatio('aca', 'cccbbab', 'Levenshtein' as never), /^RangeError: code_sim matcher must be "difflib" or "levenshtein", got "Levenshtein"$/);
  assert.throws(() => codeSimScore('aca', 'cccbbab', null as never), /^TypeError: code_sim matcher must be "difflib" or "levenshtein", got null$/);
  assert.equal(codeSimScore('aca', 'cccbbab'), 0.2);
  // Anything but 'contains' used to select the 'words' rule.
  assert.throws(() => kvRetrievalScore('xab.', ['ab'], 'word' as never), /^RangeError: kv_retrieval match must be "contains" or "words", got "word"$/);
  assert.equal(kvRetrievalScore('xab.', ['ab']), 1);
  assert.equal(kvRetrievalScore('xab.', ['ab'], 'words'), 0);
});

test('rouge options: only maxBacktrackCalls, an integer ≥ 0 or Infinity (NaN never failed)', () => {
  assert.throws(() => rougeScore(deep, deep, { maxBacktrackCalls: Number.NaN }),
    /^RangeError: rouge option maxBacktrackCalls must be an integer ≥ 0 or Infinity, got NaN$/);
  for (const bad of [-1, 1.5, '990', null]) assert.throws(() => rougeScore('a', 'a', { maxBacktrackCalls: bad as never }), /rouge option maxBacktrackCalls must be/);
  assert.throws(() => rougeScore('a', 'a', { maxBacktrack: 5 } as never), /^RangeError: unknown rouge option "maxBacktrack" \(expected: maxBacktrackCalls\)$/);
  assert.throws(() => rougeScore('a', 'a', null as never), /^TypeError: rouge options must be an object, got null$/);
  assert.throws(() => rougeZhScore('你好', '你好', { maxBacktrackCalls: Number.NaN }), /rouge option maxBacktrackCalls must be/);
  assert.equal(rougeScore(deep, deep), 0);
  assert.equal(rougeScore(deep, deep, { maxBacktrackCalls: Infinity }), 0.999999995);
  assert.equal(rougeScore(deep, deep, { maxBacktrackCalls: undefined }), 0);
  assert.equal(rougeScore('a b', 'a b', { maxBacktrackCalls: 0 }), 0);
  assert.equal(rougeScore('a b', 'a b', { maxBacktrackCalls: 3 }), 0.999999995);
});

test('scoreRecord and scoreTask refuse bad metric options', () => {
  const record: TaskRecord = {
    input: 'q', context: 'c', answers: ['12345'], length: 0, dataset: 'passkey', language: 'en', all_classes: null, _id: 'r',
    metric: 'passkey', prompt_template: '{context}{input}', max_new_tokens: 8,
  };
  assert.equal(scoreRecord(record, '12345', {}), 1);
  assert.throws(() => scoreRecord(record, '12345', { kvRetrievalMatch: 'exact' } as never), /kvRetrievalMatch must be "contains" or "words", got "exact"/);
  assert.throws(() => scoreTask([record], ['12345'], { rougerecursion: 'corrected' } as never), /unknown metric option "rougerecursion"/);
});
