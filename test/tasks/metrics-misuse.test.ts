/** The per-metric functions check their arguments: a string where the answers list goes was indexed as the list. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aggregateScores, classificationScore, codeSimScore, fuzzRatio, indelRatio, kvRetrievalScore, passkeyScore, qaF1Score, rougeScore,
  scoreByMetric, sequenceMatcherRatio, stringMatchAll, stringMatchPart,
} from '../../src/tasks/metrics/index.js';

test('a string where the answers list goes is refused, not scored character by character', () => {
  assert.throws(() => passkeyScore('12345', '12345' as never), /^TypeError: passkeyScore: answers must be an array of strings, got "12345"$/);
  assert.throws(() => kvRetrievalScore('k', 'k' as never), /kvRetrievalScore: answers must be an array of strings/);
  assert.throws(() => stringMatchAll('hello', 'hex' as never), /stringMatchAll: references must be an array of strings, got "hex"/);
  assert.throws(() => stringMatchPart('abc', 'b' as never), /stringMatchPart: references must be an array of strings/);
  assert.equal(passkeyScore('12345', ['12345']), 1);
});

test('an answers list where one gold answer goes is refused, naming the metric function', () => {
  assert.throws(() => codeSimScore('x = 1', ['x = 1'] as never), /^TypeError: codeSimScore: gold must be one gold answer \(a string\), got an array$/);
  assert.throws(() => qaF1Score('x', ['x'] as never), /qaF1Score: gold must be one gold answer/);
  assert.throws(() => rougeScore('a b c', ['a b c'] as never), /rougeScore: gold must be one gold answer/);
  assert.throws(() => qaF1Score('the cat', 42 as never), /qaF1Score: gold must be .*got 42/);
});

test('the similarity ratios refuse non-strings instead of returning 100 or 1', () => {
  assert.throws(() => (fuzzRatio as () => number)(), /fuzzRatio: a must be a string, got undefined/);
  assert.throws(() => fuzzRatio('abc', undefined as never), /fuzzRatio: b must be a string/);
  assert.throws(() => sequenceMatcherRatio({} as never, {} as never), /sequenceMatcherRatio: a must be a string, got object/);
  assert.throws(() => sequenceMatcherRatio('a', 'b', { autojunks: false } as never), /sequenceMatcherRatio: unknown option "autojunks"/);
  assert.throws(() => indelRatio(123 as never, 123 as never), /indelRatio: a must be a string, got 123/);
});

test('classification checks all_classes; aggregateScores refuses an unknown metric name', () => {
  assert.throws(() => classificationScore('a', 'a', 'abc' as never), /classificationScore: allClasses must be an array of class names/);
  assert.throws(() => scoreByMetric('classification', 'x', ['x'], 'x' as never), /scoreByMetric: allClasses must be/);
  assert.throws(() => aggregateScores('bogus' as never, [0.5]), /^TypeError: aggregateScores: name must be a metric name \(.*\), got "bogus"$/);
  assert.equal(aggregateScores('qa_f1', [0.5]), 50);
});
