import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationScore } from '../../src/tasks/metrics/classification.js';
import { countScore, retrievalScore, retrievalZhScore } from '../../src/tasks/metrics/retrieval.js';

test('classification: the official skip-after-remove quirk, and the corrected variant', () => {
  // Spec example. Collected [Other, number, Other number]; "Other" is removed, the iterator then moves to index 1,
  // which now holds "Other number", so "number" is never checked: [number, Other number] → 1/2.
  const classes = ['Other', 'number', 'Other number'];
  assert.equal(classificationScore('Other number', 'Other number', classes), 0.5);
  assert.equal(classificationScore('Other number', 'Other number', classes, 'corrected'), 1.0);
  // Without adjacent removals both variants agree.
  assert.equal(classificationScore('Entity or Description', 'Entity', ['Description', 'Entity', 'Abbreviation']), 0.5);
  assert.equal(classificationScore('Entity', 'Entity', ['Description', 'Entity']), 1.0);
  // Case-sensitive substring match.
  assert.equal(classificationScore('entity', 'Entity', ['Description', 'Entity']), 0.0);
  assert.throws(() => classificationScore('x', 'y', null), /all_classes/);
});

test('classification: list.remove deletes the first equal element, wherever it is', () => {
  // all_classes with a duplicate: collected [A, B, A, AB] (gold AB). Index 0 "A" → remove first A → [B, A, AB];
  // index 1 is "A" → remove the first A → [B, AB]; index 2 is past the end. Gold found among 2 → 0.5.
  assert.equal(classificationScore('AB', 'AB', ['A', 'B', 'A', 'AB']), 0.5);
  // Corrected: [AB] → 1.0 ("B" is also part of the gold, so it goes too).
  assert.equal(classificationScore('AB', 'AB', ['A', 'B', 'A', 'AB'], 'corrected'), 1.0);
});

test('retrieval: share of the digit runs equal to the gold paragraph id, compared as strings', () => {
  assert.equal(retrievalScore('Paragraph 3', 'Paragraph 3'), 1.0);
  assert.equal(retrievalScore('Paragraph 3 and Paragraph 13', 'Paragraph 3'), 0.5);
  assert.equal(retrievalScore('I do not know', 'Paragraph 3'), 0.0);
  // A full-width ３ is a digit run of its own but not the string "3".
  assert.equal(retrievalScore('Paragraph ３', 'Paragraph 3'), 0.0);
  assert.equal(retrievalScore('03', 'Paragraph 3'), 0.0);
  // The first match of the gold counts.
  assert.equal(retrievalScore('7', 'Paragraph 7, not Paragraph 8'), 1.0);
  assert.throws(() => retrievalScore('Paragraph 3', 'the third one'), /Paragraph/);
});

test('retrieval_zh and count', () => {
  assert.equal(retrievalZhScore('答案是段落5', '段落5'), 1.0);
  assert.equal(retrievalZhScore('段落5或段落6', '段落5'), 0.5);
  assert.throws(() => retrievalZhScore('5', 'Paragraph 5'), /段落/);
  assert.equal(countScore('There are 12 unique paragraphs', '12'), 1.0);
  assert.equal(countScore('12 or 13', '12'), 0.5);
  assert.equal(countScore('twelve', '12'), 0.0);
});
