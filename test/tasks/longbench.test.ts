import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TaskRecord } from '../../src/tasks/record.js';
import type { Tokenizer } from '../../src/models/types.js';
import {
  buildPrompt, loadLongBenchConfig, maxNewTokensFor, metricForRecord, postprocessPrediction, readJsonl, scoreRecord,
  scoreTask, splitContextAndQuestion, extraStopTokensFor, truncateMiddle, truncatePromptMiddle, writeJsonl,
} from '../../src/tasks/longbench.js';
import { tempDir } from '../helpers/temp.js';

const CONFIG_DIR = fileURLToPath(new URL('../../../shared/data/longbench', import.meta.url));

function record(overrides: Partial<TaskRecord>): TaskRecord {
  return {
    input: 'What is it?', context: 'Some {braced} context.', answers: ['it'], length: 3, dataset: 'narrativeqa',
    language: 'en', all_classes: null, _id: 'id-1', ...overrides,
  };
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = tempDir('namm-longbench-');
  try { fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('writeJsonl / readJsonl round trip, blank lines skipped', () => {
  withTempDir((dir) => {
    const path = join(dir, 'a.jsonl');
    const records = [record({}), record({ _id: 'g', dataset: 'passkey', metric: 'passkey', prompt_template: '{context} {input}', max_new_tokens: 8 })];
    writeJsonl(path, records);
    assert.deepEqual(readJsonl(path), records);
    writeFileSync(path, `\n${JSON.stringify(records[0])}\r\n\n`);
    assert.deepEqual(readJsonl(path), [records[0]]);
  });
});

test('readJsonl names the file and line of a bad line', () => {
  withTempDir((dir) => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, `${JSON.stringify(record({}))}\n{"input": oops}\n`);
    assert.throws(() => readJsonl(path), (e: Error) => e.message.startsWith(`${path}:2: not valid JSON`));
    writeFileSync(path, `${JSON.stringify(record({}))}\n\n${JSON.stringify({ ...record({}), answers: 'it' })}\n`);
    assert.throws(() => readJsonl(path), (e: Error) => e.message === `${path}:3: not a task record: "answers" must be an array of strings`);
    writeFileSync(path, `${JSON.stringify({ ...record({}), metric: 'bleu' })}\n`);
    assert.throws(() => readJsonl(path), /:1: not a task record: "metric" "bleu"/);
    writeFileSync(path, '"a record"\n');
    assert.throws(() => readJsonl(path), /:1: not a task record: not a JSON object/);
    // A list of records (on one line, or a pretty-printed document) is named as what it is.
    writeFileSync(path, `[${JSON.stringify(record({}))}]\n`);
    assert.throws(() => readJsonl(path), (e: Error) => e.message === `${path}:1: a JSON array; a task file is JSON Lines: one record (a JSON object) on each line, not a list of them`);
    writeFileSync(path, JSON.stringify([record({})], null, 2));
    assert.throws(() => readJsonl(path), (e: Error) => e.message === `${path}: a task file is JSON Lines: one record (a JSON object) on each line, not a JSON document spread over several lines`);
    writeFileSync(path, JSON.stringify(record({}), null, 2));
    assert.throws(() => readJsonl(path), /not a JSON document spread over several lines$/);
  });
  assert.throws(() => writeJsonl('/nonexistent/x.jsonl', [{ ...record({}), all_classes: 'x' } as unknown as TaskRecord]), /record 0 .*all_classes/);
});

test('loadLongBenchConfig reads the official files (and ChouBun beside them)', () => {
  const config = loadLongBenchConfig(CONFIG_DIR);
  assert.equal(Object.keys(config.prompts).length, 25);
  assert.equal(config.maxNewTokens.narrativeqa, 128);
  assert.equal(config.maxNewTokens.gov_report, 512);
  assert.equal(config.maxNewTokens.corp_sec_sum, 128);
  assert.equal(config.prompts.trec, 'Please determine the type of the question below. Here are some examples of questions.\n\n{context}\n{input}');
  withTempDir((dir) => {
    assert.throws(() => loadLongBenchConfig(dir), (e: Error) => e.message === `LongBench config file not found: ${join(dir, 'dataset2prompt.json')}`);
    writeFileSync(join(dir, 'dataset2prompt.json'), '{"x": "{context}"}');
    assert.throws(() => loadLongBenchConfig(dir), /dataset2maxlen\.json/);
    writeFileSync(join(dir, 'dataset2maxlen.json'), '{"x": 0}');
    assert.throws(() => loadLongBenchConfig(dir), /length of x is not a positive integer/);
    // One of the files where the folder goes, and a folder that is not there, are named as such.
    assert.throws(() => loadLongBenchConfig(join(dir, 'dataset2prompt.json')),
      (e: Error) => e.message === `LongBench config: ${join(dir, 'dataset2prompt.json')} is a file; give the folder that holds dataset2prompt.json and dataset2maxlen.json`);
    assert.throws(() => loadLongBenchConfig(join(dir, 'nope')), (e: Error) => e.message === `LongBench config folder not found: ${join(dir, 'nope')}`);
  });
});

test('buildPrompt fills {context} and {input} once, verbatim; generated records bring their own template', () => {
  const config = loadLongBenchConfig(CONFIG_DIR);
  const trec = record({ dataset: 'trec', context: 'Q: a {x}?\nType: Entity', input: 'Q: why?' });
  assert.equal(buildPrompt(trec, config),
    'Please determine the type of the question below. Here are some examples of questions.\n\nQ: a {x}?\nType: Entity\nQ: why?');
  const generated = record({ dataset: 'passkey', prompt_template: 'A {{json}} {context}|{input}', max_new_tokens: 6 });
  assert.equal(buildPrompt(generated), 'A {json} Some {braced} context.|What is it?');
  assert.equal(maxNewTokensFor(generated), 6);
  assert.equal(maxNewTokensFor(trec, config), 64);
  assert.throws(() => buildPrompt(record({ dataset: 'nope' }), config), /no prompt template for dataset "nope" \(the record has none and the config does not list it\)/);
  assert.throws(() => buildPrompt(record({ dataset: 'nope' })), /no prompt template for dataset "nope": the record has none and no LongBench config was given \(LongBench's own records need --longbench-config DIR/);
  assert.throws(() => maxNewTokensFor(record({ dataset: 'nope' })), /no max_new_tokens for dataset "nope": .*--longbench-config DIR/);
  assert.throws(() => buildPrompt(record({ prompt_template: '{nope}' })), /\{nope\} is not a field/);
  assert.throws(() => buildPrompt(record({ prompt_template: 'a } b' })), /single '}'/);
  assert.throws(() => buildPrompt(record({ prompt_template: '{0}' })), /unsupported field/);
});

test('splitContextAndQuestion cuts right after the context', () => {
  const config = loadLongBenchConfig(CONFIG_DIR);
  const narrative = record({});
  const { context, question } = splitContextAndQuestion(narrative, config);
  assert.equal(context + question, buildPrompt(narrative, config));
  assert.ok(context.endsWith('Story: Some {braced} context.'));
  assert.ok(question.startsWith('\n\nNow, answer the question based on the story'));
  assert.ok(question.endsWith('Question: What is it?\n\nAnswer:'));
  const lcc = splitContextAndQuestion(record({ dataset: 'lcc', context: 'def f():\n' }), config);
  assert.deepEqual(lcc, { context: 'Please complete the code given below. \ndef f():\n', question: 'Next line of code:\n' });
  assert.throws(() => splitContextAndQuestion(record({ prompt_template: '{input}' })), /exactly once, found 0/);
  assert.throws(() => splitContextAndQuestion(record({ prompt_template: '{context}{context}' })), /exactly once, found 2/);
});

test('truncateMiddle keeps ids[:half] + ids[-half:] with half = floor(max / 2)', () => {
  const ids = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(truncateMiddle(ids, 4), [0, 1, 8, 9]);
  assert.deepEqual(truncateMiddle(ids, 5), [0, 1, 8, 9]); // odd budget: 4 tokens kept
  assert.deepEqual(truncateMiddle(ids, 10), ids);
  assert.throws(() => truncateMiddle(ids, 1), RangeError);
  // A character-level tokenizer with a BOS id that decode drops.
  const chars: Tokenizer = {
    vocabSize: 65536, bosTokenId: 0, eosTokenIds: [],
    encode: (text) => [0, ...Array.from(text, (c) => c.codePointAt(0)!)],
    decode: (ids) => String.fromCodePoint(...ids.filter((id) => id !== 0)),
  };
  // "abcdefgh" encodes to 9 ids with BOS; budget 6 → first 3 ids (BOS a b) + last 3 (f g h) → "abfgh".
  assert.equal(truncatePromptMiddle('abcdefgh', chars, 6), 'abfgh');
  assert.equal(truncatePromptMiddle('abc', chars, 6), 'abc');
});

test('samsum\'s newline stop token (pred.py: the last id of encode("\\n")) and the first-line cut', () => {
  // A tokenizer that encodes "\n" as two ids (as SentencePiece's "▁" then "<0x0A>"): the last one is the stop.
  const sp: Tokenizer = {
    vocabSize: 100, bosTokenId: 1, eosTokenIds: [2],
    encode: (text, o) => [...(o?.addBos === false ? [] : [1]), ...(text === '\n' ? [29, 13] : [50])],
    decode: () => '',
  };
  assert.deepEqual(extraStopTokensFor('samsum', sp), [13]);
  assert.deepEqual(extraStopTokensFor('narrativeqa', sp), []);
  assert.equal(postprocessPrediction('trec', '\n\nLocation\r\nmore'), 'Location\r');
  assert.equal(postprocessPrediction('samsum', 'a\u2028b\vc\fd\ne'), 'a\u2028b\vc\fd');
  assert.equal(postprocessPrediction('lsht', ' \nx'), ' ');
  assert.equal(postprocessPrediction('narrativeqa', '\nx\ny'), '\nx\ny');
});

test('scoreRecord and scoreTask', () => {
  const trec = record({ dataset: 'trec', answers: ['Entity'], all_classes: ['Entity', 'Description'] });
  // First line "Entity" only: the "Description" of the second line does not count → 1.0 (whole text: 0.5).
  assert.equal(scoreRecord(trec, '\nEntity\nDescription'), 1.0);
  assert.equal(scoreRecord(record({ dataset: 'narrativeqa', answers: ['Entity'], all_classes: ['Entity', 'Description'], metric: 'classification' }), 'Entity\nDescription'), 0.5);
  const passkey = record({ dataset: 'passkey', metric: 'passkey', answers: ['12345'] });
  assert.equal(metricForRecord(passkey), 'passkey');
  assert.equal(scoreRecord(passkey, 'It is 12345.'), 1);
  assert.throws(() => metricForRecord(record({ dataset: 'mystery' })), /no known metric/);
  const qa = [record({ answers: ['red apple'] }), record({ answers: ['blue'] }), record({ answers: ['x'] })];
  // F1: 1, then "blue sky" vs "blue" P = 1/2, R = 1 → 2/3, then 0: 100 · (5/3) / 3 = 55.555… → 55.56
  assert.equal(scoreTask(qa, ['red apple', 'blue sky', 'nothing']), 55.56);
  assert.throws(() => scoreTask(qa, ['a']), /3 records but 1 predictions/);
  assert.throws(() => scoreTask([qa[0]!, passkey], ['a', 'b']), /mix metrics/);
});
