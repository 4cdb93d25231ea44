import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateRecord, generateRecords, getTask, listTasks } from '../../src/tasks/registry.js';
import { writeTaskFile } from '../../src/cli/tasks.js';
import { assertSized, checkRecord } from './generate-checks.js';
import { codePointTokenizer, tinyStoriesTokenizer } from './generate-helpers.js';
import { buildPrompt, scoreRecord, splitContextAndQuestion, taskRecordProblem } from '../../src/tasks/longbench.js';
import { fillTemplate } from '../../src/tasks/generate/sizing.js';
import { loadHfTokenizer } from '../../src/models/tokenizer.js';
import { tempDir } from '../helpers/temp.js';

const tokenizer = tinyStoriesTokenizer();

test('the same seed gives byte-identical JSONL files; another seed gives another file', () => {
  const dir = tempDir('namm-tasks-');
  try {
    for (const task of ['niah_single_2', 'niah_multikey_2', 'cwe', 'fwe', 'kv_retrieval', 'vt', 'niah_ja']) {
      const write = (name: string, seed: number) => {
        const path = join(dir, name);
        assert.equal(writeTaskFile(path, { task, length: [1024], n: 2, seed, tokenizer }), 2);
        return readFileSync(path);
      };
      const a = write(`${task}-a.jsonl`, 11), b = write(`${task}-b.jsonl`, 11), c = write(`${task}-c.jsonl`, 12);
      assert.ok(a.equals(b), `${task}: same seed, same bytes`);
      assert.ok(!a.equals(c), `${task}: another seed, another file`);
      const records = a.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(new Set(records.map((r) => r._id)).size, 2, 'ids are unique');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record\'s _id covers its text: the same request sized after other records in a sweep gets another id', async () => {
  const shipped = await loadHfTokenizer('models/namm-tiny-llama/tokenizer.json');
  const alone = generateRecords({ task: 'fwe', lengths: [2048], n: 1, tokenizer: shipped, seed: 0 })[0]!;
  const inSweep = generateRecords({ task: 'fwe', lengths: [1024, 2048], n: 1, tokenizer: shipped, seed: 0 })[1]!;
  // With this tokenizer the sweep's learnt rates size record 0 at 2,048 to another text (of the same length).
  assert.notEqual(inSweep.context, alone.context);
  assert.notEqual(inSweep._id, alone._id);
  assert.equal(generateRecords({ task: 'fwe', lengths: [2048], n: 1, tokenizer: shipped, seed: 0 })[0]!._id, alone._id, 'the same run gives the same id');
});

test('different indices give different samples; a record carries the LongBench fields plus metric and template', () => {
  for (const task of listTasks().map((t) => t.name).filter((n) => !n.endsWith('_ja'))) {
    const [a, b] = generateRecords({ task, lengths: [1024], n: 2, seed: 0, tokenizer });
    assert.notEqual(a!.context, b!.context, `${task}: contexts differ`);
    // The needle sweep asks the same fixed fact every time; only its haystack moves.
    if (getTask(task).family !== 'needle') assert.notDeepEqual(a!.answers, b!.answers, `${task}: answers differ`);
    const def = getTask(task);
    // Plus the length it was made for (and a needle depth where one is asked for: none here), for summaries by length.
    assert.deepEqual(Object.keys(a!), ['input', 'context', 'answers', 'length', 'dataset', 'language', 'all_classes', '_id',
      'metric', 'prompt_template', 'max_new_tokens', 'target_length']);
    assert.equal(a!.target_length, 1024);
    assert.equal(a!.dataset, task);
    assert.equal(a!.metric, def.metric);
    assert.equal(a!.max_new_tokens, def.maxNewTokens);
    assert.match(a!._id, /^[0-9a-f]{32}$/);
  }
});

test('every template has exactly one {context} then one {input} and no other braces (safe for str.format too)', () => {
  for (const t of listTasks()) {
    const braces = t.promptTemplate.match(/[{}][^{}]*/g)!.length;
    assert.equal(braces, 4, t.name);
    assert.ok(t.promptTemplate.indexOf('{context}') < t.promptTemplate.indexOf('{input}'), t.name);
  }
  const metrics = new Map(listTasks().map((t) => [t.name, t.metric]));
  assert.equal(metrics.get('niah_single_1'), 'string_match_all');
  assert.equal(metrics.get('passkey'), 'passkey');
  assert.equal(metrics.get('kv_retrieval'), 'kv_retrieval');
  const newTokens = new Map(listTasks().map((t) => [t.name, t.maxNewTokens]));
  assert.deepEqual(['niah_multiquery', 'vt', 'cwe', 'fwe'].map((n) => newTokens.get(n)), [128, 30, 120, 50]);
});

test('a depth sweep puts the needle at the asked depth and keeps the same needle across lengths and depths', () => {
  const records = generateRecords({ task: 'passkey', lengths: [1024, 2048], depths: [0, 50, 100], n: 1, seed: 2, tokenizer });
  assert.equal(records.length, 6);
  assert.equal(new Set(records.map((r) => r.answers[0])).size, 1, 'one pass key for the whole sweep');
  for (const r of records) {
    checkRecord(r);
    const at = r.context.indexOf('The pass key is') / r.context.length;
    const depth = [0, 50, 100][records.indexOf(r) % 3]! / 100;
    assert.ok(Math.abs(at - depth) < 0.03, `needle at ${at.toFixed(3)}, asked ${depth}`);
  }
  const nih = generateRecord({ task: 'needle_in_haystack', length: 2048, tokenizer, depthPercent: 25 });
  const at = nih.context.indexOf('The best thing') / nih.context.length;
  assert.ok(at > 0.2 && at <= 0.25, `needle at ${at}`);
});

test('bad requests give clear errors', () => {
  const base = { tokenizer, seed: 0 };
  assert.throws(() => generateRecord({ ...base, task: 'niah_single_9', length: 1024 }), /unknown task "niah_single_9"; known tasks: niah_single_1, /);
  for (const length of [0, -4096, 1.5, Number.NaN]) {
    assert.throws(() => generateRecord({ ...base, task: 'passkey', length }), /length must be an integer ≥ 1/);
  }
  // Refused at once, where building the text would kill the process (V8's array size limit) after half a minute.
  for (const length of [2 ** 20 + 1, 1e12]) {
    assert.throws(() => generateRecord({ ...base, task: 'passkey', length }), /length must be at most 1,048,576 tokens \(2\^20\)/);
  }
  assert.throws(() => generateRecord({ ...base, task: 'niah_single_1', length: 150 }), /niah_single_1: a length of 150 tokens is too small/);
  assert.throws(() => generateRecord({ ...base, task: 'cwe', length: 300 }), /cwe: a length of 300 tokens is too small/);
  assert.throws(() => generateRecord({ ...base, task: 'kv_retrieval', length: 100 }), /kv_retrieval: a length of 100 tokens is too small/);
  assert.throws(() => generateRecord({ ...base, task: 'cwe', length: 1024, haystack: 'noise' }), /cwe has its own haystack structure/);
  assert.throws(() => generateRecord({ ...base, task: 'vt', length: 1024, depthPercent: 10 }), /vt has no needle depth/);
  assert.throws(() => generateRecord({ ...base, task: 'passkey', length: 1024, depthPercent: 101 }), /depth must be within 0..100/);
  assert.throws(() => generateRecord({ ...base, task: 'passkey', length: 1024, haystack: 'no-such-dir' }), /unknown haystack "no-such-dir"/);
  assert.throws(() => generateRecord({ ...base, task: 'niah_ja', length: 1024, haystack: 'brown' }), /English text; task language is ja/);
  assert.throws(() => generateRecords({ ...base, task: 'passkey', lengths: [1024], n: 0 }), /n must be an integer ≥ 1/);
  assert.throws(() => generateRecord({ task: 'passkey', length: 1024 } as never), /tokenizer must be the model's tokenizer .*got undefined/);
  assert.throws(() => generateRecord({ task: 'passkey', length: 1024, tokenizer: null } as never), /tokenizer must be .*got null/);
  assert.throws(() => generateRecord(null as never), /record options must be an object .*got null/);
});

test('the noise haystack can replace natural text, and natural text the noise', () => {
  const a = generateRecord({ task: 'niah_single_2', length: 2048, tokenizer, haystack: 'noise' });
  assert.ok(a.context.startsWith('The grass is green.'));
  checkRecord(a);
  assertSized(a, 2048, 'niah_single_2 on noise');
  const b = generateRecord({ task: 'passkey', length: 2048, tokenizer, haystack: 'essay' });
  assert.ok(!b.context.includes('The grass is green.'));
  checkRecord(b);
  assertSized(b, 2048, 'passkey on brown');
});

test('records load, prompt and score through the LongBench path: same prompt, same length, gold answers score 1', () => {
  for (const task of listTasks().map((t) => t.name)) {
    const tok = task.endsWith('_ja') ? codePointTokenizer : tokenizer;
    const r = generateRecord({ task, length: 1024, tokenizer: tok, seed: 9 });
    assert.equal(taskRecordProblem(JSON.parse(JSON.stringify(r))), null, task);
    const prompt = buildPrompt(r);
    assert.equal(prompt, fillTemplate(r.prompt_template!, r), task);
    assert.equal(tok.encode(prompt).length, r.length, `${task}: length is the prompt's token count`);
    const { context, question } = splitContextAndQuestion(r);
    assert.ok(context.endsWith(r.context) && question.includes(r.input), `${task}: the question follows the context`);
    assert.equal(scoreRecord(r, ` ${r.answers.join(', ')}.`), 1, `${task}: the gold answer scores full marks`);
    assert.ok(scoreRecord(r, 'I do not know.') < 1, `${task}: a wrong answer does not`);
  }
});

test('the grouping labels stay out of what evolution hashes (pool fingerprints, reference-score keys)', async () => {
  const { recordContent } = await import('../../src/tasks/record.js');
  const { referenceKey, referenceSettings } = await import('../../src/evolve/reference-scores.js');
  const [a] = generateRecords({ task: 'needle_in_haystack', lengths: [1024], depths: [50], n: 1, seed: 0, tokenizer });
  assert.equal(a!.target_length, 1024);
  assert.equal(a!.depth_percent, 50);
  const { target_length: _t, depth_percent: _d, ...before } = a!;
  assert.deepEqual(recordContent(a!), before);
  // A record generated before the labels existed keeps its cached full-cache score.
  assert.equal(referenceKey('m', a!, referenceSettings({})), referenceKey('m', before, referenceSettings({})));
});
