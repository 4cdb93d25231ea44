/**
 * `namm eval` and results without a score: a run refuses a NaN likelihood by record, and a resumed folder holding a
 * null score (what an earlier version wrote for one) runs that pair again instead of counting it as 0. Also a
 * GPT-2-style model (no BOS) on a record whose context is empty.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeSafetensors } from '../../src/models/safetensors.js';
import { tinyByteLevelTokenizerJson, tinyGpt2 } from '../fixtures/tiny-models.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';

function namm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The tiny GPT-2 fixture as a Hugging Face folder (byte-level tokenizer, no BOS); with `nan`, every logit is NaN. */
function gpt2Folder(dir: string, nan: boolean): string {
  mkdirSync(dir, { recursive: true });
  const { json, vocabSize } = tinyByteLevelTokenizerJson();
  const tensors = new Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>();
  for (const [name, w] of tinyGpt2(vocabSize).weights) {
    if (name !== 'lm_head.weight') tensors.set(name, { dtype: 'F32', shape: w.shape, data: Float32Array.from(w.data) }); // tied
  }
  if (nan) tensors.get('transformer.ln_f.weight')!.data[0] = NaN;
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: vocabSize, n_embd: 32, n_head: 4, n_layer: 2, n_positions: 64 }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|endoftext|>' }));
  return dir;
}

function writeRecords(file: string, records: object[]): string {
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

const toy = (fields: object = {}) => ({
  input: 'the answer', context: 'in the air', answers: ['an'], length: 0, dataset: 'toy', language: 'en', all_classes: null,
  _id: 'toy-0', metric: 'string_match_part', prompt_template: '{context}\n\n{input}', max_new_tokens: 2, ...fields,
});

const readLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; spec: string; score: number | null });

test('namm eval --score likelihood: a null score in results.jsonl is run again on resume, not counted as 0', () => {
  const dir = tempDir('namm-eval-null-');
  const data = writeRecords(join(dir, 'tasks.jsonl'), [{
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(2),
    answers: ['Lily'], length: 40, dataset: 'toy_names', language: 'en', all_classes: null, _id: 'toy-0',
    metric: 'string_match_part', prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 4,
  }]);
  const out = join(dir, 'out');
  const args = ['eval', '--model', MODEL, '--data', data, '--score', 'likelihood', '--out', out, '--json'];
  const first = namm(...args);
  assert.equal(first.status, 0, first.stderr);
  const rows = JSON.parse(first.stdout) as { score: number; unscored: number }[];
  const results = join(out, 'results.jsonl');
  const [line] = readLines(results);
  assert.ok(line!.score! > 0 && Math.abs(rows[0]!.score - 100 * line!.score!) < 1e-9);
  // What an earlier version wrote for a NaN likelihood: the summary of the resumed folder read it as a score of 0.
  writeFileSync(results, JSON.stringify({ ...line, score: null }) + '\n');
  const resumed = namm(...args);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout), rows);
  const lines = readLines(results);
  assert.equal(lines.length, 2, 'the pair ran again');
  assert.equal(lines[1]!.score, line!.score);
  // Once it holds a score, the pair is done.
  const again = namm(...args);
  assert.deepEqual(JSON.parse(again.stdout), rows);
  assert.equal(readLines(results).length, 2);
  // A line of an older version has no `spec` (its policy is the spec): the pair is done, not run again and counted twice.
  const { spec: _spec, ...legacy } = line!;
  writeFileSync(results, JSON.stringify(legacy) + '\n');
  const old = namm(...args);
  assert.equal(old.status, 0, old.stderr);
  assert.deepEqual(JSON.parse(old.stdout), rows, 'one sample, as before');
  assert.equal(readLines(results).length, 1, 'nothing ran again');
});

test('namm eval --score likelihood on a model with NaN logits is refused by record, in a new run and on resume alike', () => {
  const dir = tempDir('namm-eval-nan-');
  const model = gpt2Folder(join(dir, 'nan-gpt2'), true);
  const data = writeRecords(join(dir, 'tasks.jsonl'), [toy()]);
  const out = join(dir, 'out');
  const args = ['eval', '--model', model, '--data', data, '--score', 'likelihood', '--out', out, '--json'];
  const run = namm(...args);
  assert.equal(run.status, 1, 'it printed a table with a NaN score and wrote the score as null');
  assert.match(run.stderr, /^namm: .*\.jsonl:1: record toy-0 under full: the model produced NaN or \+Infinity logits at answer token 1 of \d+ .*no likelihood/m);
  assert.equal(readFileSync(join(out, 'results.jsonl'), { encoding: 'utf8', flag: 'a+' }), '', 'no result without a score');
  // A folder where an earlier version wrote that score as null: the resume meets the same error, not a summary.
  writeFileSync(join(out, 'results.jsonl'), JSON.stringify({ id: 'toy-0', dataset: 'toy', metric: 'answer_likelihood', policy: 'full', spec: 'full',
    prediction: '', score: null, answerNll: null, answers: ['an'], promptTokens: 8, contextTokens: 3, newTokens: 1, truncated: false,
    memory: { meanFraction: 1, peakFraction: 1 }, seconds: 0 }) + '\n');
  const resumed = namm(...args);
  assert.equal(resumed.status, 1);
  assert.match(resumed.stderr, /record toy-0 under full: the model produced NaN or \+Infinity logits/);
});

test('namm eval on a GPT-2-style model (no BOS) runs a record whose context is empty', () => {
  const dir = tempDir('namm-eval-empty-');
  const model = gpt2Folder(join(dir, 'gpt2'), false);
  const data = writeRecords(join(dir, 'tasks.jsonl'), [toy({ context: '' }), toy({ _id: 'toy-1' })]);
  for (const score of ['task', 'likelihood']) {
    const r = namm('eval', '--model', model, '--data', data, '--memory', 'snapkv:tokens=2,window=1', '--score', score, '--json');
    assert.equal(r.status, 0, r.stderr); // "a prefix of 0 tokens must leave some of the 0 tokens of the first prefill"
    const rows = JSON.parse(r.stdout) as { policy: string; samples: number }[];
    assert.deepEqual(rows.map((x) => [x.policy, x.samples]), [['full', 2], ['snapkv:tokens=2,window=1', 2]]);
  }
});

test('namm eval on a rerun: a record edited under the same _id runs again (its old score was reused), and a LongBench config whose content changed is another setup', () => {
  const dir = tempDir('namm-eval-edited-');
  const record = {
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(2),
    length: 40, dataset: 'toy_names', language: 'en', all_classes: null, _id: 'toy-0', metric: 'string_match_part',
    prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 4,
  };
  const data = join(dir, 'tasks.jsonl');
  const out = join(dir, 'out');
  const run = () => {
    const r = namm('eval', '--model', MODEL, '--data', data, '--no-full', '--memory', 'h2o:ratio=0.5', '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { score: number }[];
  };
  writeRecords(data, [{ ...record, answers: ['zzzz-not-said'] }]);
  assert.equal(run()[0]!.score, 0);
  // The answer the policy gives, whatever it is: the edited record now scores 100, where its old score was reused.
  const said = readLines(join(out, 'results.jsonl'))[0] as unknown as { prediction: string };
  writeRecords(data, [{ ...record, answers: [said.prediction.trim()] }]);
  assert.equal(run()[0]!.score, 100);
  assert.equal(readLines(join(out, 'results.jsonl')).length, 2, 'the stale line stays; the new one is read from then on');
  assert.equal(run()[0]!.score, 100);
  assert.equal(readLines(join(out, 'results.jsonl')).length, 2, 'an unchanged record is reused');
  // A LongBench config at the same path with other contents is another setup.
  const cfg = join(dir, 'cfg');
  mkdirSync(cfg);
  writeFileSync(join(cfg, 'dataset2prompt.json'), JSON.stringify({ toy_names: '{context}\n{input}' }));
  writeFileSync(join(cfg, 'dataset2maxlen.json'), JSON.stringify({ toy_names: 4 }));
  const withCfg = (): ReturnType<typeof namm> => namm('eval', '--model', MODEL, '--data', data, '--no-full', '--memory', 'h2o:ratio=0.5', '--longbench-config', cfg, '--out', join(dir, 'lb'), '--json');
  assert.equal(withCfg().status, 0);
  writeFileSync(join(cfg, 'dataset2maxlen.json'), JSON.stringify({ toy_names: 2 }));
  const changed = withCfg();
  assert.equal(changed.status, 1);
  assert.match(changed.stderr, /holds results of another setup \(the LongBench config's content: "[0-9a-f]{16}" there, "[0-9a-f]{16}" now\)/);
  // So is another metric variant (--metric-option), which scores the same predictions otherwise.
  const variant = namm('eval', '--model', MODEL, '--data', data, '--no-full', '--memory', 'h2o:ratio=0.5', '--out', out, '--metric-option', 'rougeRecursion=corrected', '--json');
  assert.equal(variant.status, 1);
  assert.match(variant.stderr, /holds results of another setup \(metricOptions: \{\} there, \{"rougeRecursion":"corrected"\} now\)/);
  const bad = namm('eval', '--model', MODEL, '--data', data, '--metric-option', 'rouge=corrected');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^namm: unknown metric option "rouge"/m);
});

test('namm eval --by length,depth: generated records carry their target length and depth, and the table breaks down by them', () => {
  const dir = tempDir('namm-eval-by-');
  const data = join(dir, 'nih.jsonl');
  const gen = namm('tasks', 'generate', '--task', 'niah_single_1', '--length', '300,400', '--depth', '0,100', '--n', '1', '--tokenizer', MODEL, '--out', data, '-q');
  assert.equal(gen.status, 0, gen.stderr);
  const records = readFileSync(data, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { target_length: number; depth_percent: number; length: number });
  assert.deepEqual(records.map((r) => [r.target_length, r.depth_percent]), [[300, 0], [300, 100], [400, 0], [400, 100]]);
  assert.ok(records.every((r) => r.length <= r.target_length));
  const r = namm('eval', '--model', MODEL, '--data', data, '--memory', 'h2o:ratio=0.5', '--by', 'length,depth', '--json');
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { policy: string; length: number; depth: number; samples: number }[];
  assert.deepEqual(rows.map((x) => [x.length, x.depth, x.policy, x.samples]), [
    [300, 0, 'full', 1], [300, 0, 'h2o:ratio=0.5', 1], [300, 100, 'full', 1], [300, 100, 'h2o:ratio=0.5', 1],
    [400, 0, 'full', 1], [400, 0, 'h2o:ratio=0.5', 1], [400, 100, 'full', 1], [400, 100, 'h2o:ratio=0.5', 1],
  ]);
  const table = namm('eval', '--model', MODEL, '--data', data, '--by', 'length');
  assert.match(table.stdout, /^niah_single_1 @300\s+full\s+2\s/m);
  // A chat template asked of a model without one is refused before any record runs.
  const chat = namm('eval', '--model', MODEL, '--data', data, '--chat-template');
  assert.equal(chat.status, 1);
  assert.match(chat.stderr, /^namm: --chat-template: .* has no chat template \(tokenizer_config\.json's chat_template, chat_template\.jinja, or a GGUF file's tokenizer\.chat_template\)/m);
  // A template that fails on a user message fails before the run's folder is set up, not at its first record.
  const templated = join(dir, 'templated');
  mkdirSync(templated);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    writeFileSync(join(templated, f), readFileSync(join(MODEL, f)));
  }
  writeFileSync(join(templated, 'chat_template.jinja'), "{% for m in messages %}{% if m.role == 'user' %}{{ raise_exception('Only system turns here') }}{% endif %}{% endfor %}");
  const failing = namm('eval', '--model', templated, '--data', data, '--chat-template', '--out', join(dir, 'chat-run'));
  assert.equal(failing.status, 1);
  assert.match(failing.stderr, /Only system turns here/);
  assert.equal(existsSync(join(dir, 'chat-run')), false, 'no run folder is left');
  const bad = namm('eval', '--model', MODEL, '--data', data, '--by', 'size');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^namm: --by takes length, depth \(comma-separated\), got "size"/m);
});

test('namm eval --score likelihood on resume: a multi-answer likelihood from before each answer was read alone runs again', () => {
  const dir = tempDir('namm-eval-each-');
  const base = {
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(2),
    length: 40, dataset: 'toy_names', language: 'en', all_classes: null, metric: 'string_match_part',
    prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 4,
  };
  const data = writeRecords(join(dir, 'tasks.jsonl'), [{ ...base, _id: 'many', answers: ['Lily', 'the girl'] }, { ...base, _id: 'one', answers: ['Lily'] }]);
  const out = join(dir, 'out');
  const run = () => {
    const r = namm('eval', '--model', MODEL, '--data', data, '--no-full', '--memory', 'h2o:ratio=0.5', '--score', 'likelihood', '--out', out, '--json');
    assert.equal(r.status, 0, r.stderr);
  };
  run();
  const file = join(out, 'results.jsonl');
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; score: number; likelihoodOf?: string });
  assert.ok(lines.every((l) => l.likelihoodOf === 'each answer'));
  // As an older version wrote them: no mark, another score.
  writeFileSync(file, lines.map((l) => JSON.stringify({ ...l, likelihoodOf: undefined, score: 0.123 })).join('\n') + '\n');
  run();
  const after = readLines(file);
  assert.equal(after.length, 3, 'the multi-answer record ran again; the single-answer one was reused');
  assert.equal(after[2]!.id, 'many');
  assert.notEqual(after[2]!.score, 0.123);
});

test('namm eval --out: a line cut by a crash or a full disk is removed from results.jsonl on resume, and a busy folder is refused', async () => {
  const { acquireRunLock } = await import('../../src/util/run-lock.js');
  const dir = tempDir('namm-eval-cut-');
  const data = writeRecords(join(dir, 'tasks.jsonl'), [toy(), toy({ _id: 'toy-1' })]);
  const out = join(dir, 'out');
  const args = ['eval', '--model', MODEL, '--data', data, '--score', 'likelihood', '--out', out, '--json'];
  const first = namm(...args);
  assert.equal(first.status, 0, first.stderr);
  const results = join(out, 'results.jsonl');
  const [a, b] = readFileSync(results, 'utf8').trim().split('\n');
  // The second result cut in the middle, then (as a later run appended) a whole line after it.
  writeFileSync(results, `${a}\n${b!.slice(0, 40)}\n${a}\n`);
  const resumed = namm(...args);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout), JSON.parse(first.stdout));
  const lines = readFileSync(results, 'utf8').split('\n');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  assert.deepEqual(lines.slice(0, -1).map((l) => (JSON.parse(l) as { id: string }).id), ['toy-0', 'toy-0', 'toy-1'], 'the cut line is gone, its pair ran again');
  // Another eval holding the folder: refused at once, nothing written.
  const lock = acquireRunLock(out, { command: 'namm eval' });
  try {
    const busy = namm(...args);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, new RegExp(`${process.pid}.*then start again \\(the same command continues its run\\)`));
    // Taken before the model loads: a second eval is refused at once (here with a model that does not exist).
    const early = namm('eval', '--model', join(dir, 'no-model'), '--data', data, '--out', out);
    assert.match(early.stderr, /is in use by another run/);
    assert.equal(readFileSync(results, 'utf8'), lines.join('\n'));
  } finally {
    lock.release();
  }
  // A folder the lock made for a run that failed before writing anything is not left behind.
  const fresh = join(dir, 'never', 'out');
  assert.equal(namm('eval', '--model', join(dir, 'no-model'), '--data', data, '--out', fresh).status, 1);
  assert.equal(existsSync(join(dir, 'never')), false);
});

test('namm eval checks every record\'s prompt before its --out folder is set up: the corrected command then runs there', () => {
  const dir = tempDir('namm-eval-preflight-');
  const record = {
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily.'.repeat(2),
    length: 20, dataset: 'toy_names', language: 'en', all_classes: null, metric: 'string_match_part', answers: ['Lily'],
    prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 2,
  };
  // The second record has no generation length of its own (a LongBench record without --longbench-config).
  const data = writeRecords(join(dir, 'tasks.jsonl'), [{ ...record, _id: 'a' }, { ...record, _id: 'b', max_new_tokens: undefined }]);
  const out = join(dir, 'out');
  const eval_ = (...extra: string[]) => namm('eval', '--model', MODEL, '--data', data, '--no-full', '--memory', 'streaming:sinks=1,window=8', '--out', out, ...extra);
  const failed = eval_();
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /^namm: .*tasks\.jsonl:2: no max_new_tokens for dataset "toy_names"/m);
  assert.equal(existsSync(out), false, 'the folder the run made is gone: nothing ran');
  // A question longer than the prompt budget, named by file and line too.
  const tight = eval_('--max-prompt-tokens', '5', '--longbench-config', writeConfig(dir));
  assert.equal(tight.status, 1);
  assert.match(tight.stderr, /tasks\.jsonl:1: record a: the question alone \(\d+ tokens\) does not fit a 5-token prompt budget/);
  assert.equal(existsSync(out), false);
  // The command the first message asks for runs in the same folder.
  const fixed = eval_('--longbench-config', writeConfig(dir));
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.equal(readLines(join(out, 'results.jsonl')).length, 2);
});

function writeConfig(dir: string): string {
  const cfg = join(dir, 'cfg');
  mkdirSync(cfg, { recursive: true });
  writeFileSync(join(cfg, 'dataset2prompt.json'), JSON.stringify({ toy_names: '{context}\nQuestion: {input}\nAnswer:' }));
  writeFileSync(join(cfg, 'dataset2maxlen.json'), JSON.stringify({ toy_names: 2 }));
  return cfg;
}
