/** runRecord / recordPrompt refuse run options that were ignored silently (a NaN prompt budget) or checked only after generation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkScorable, recordPrompt, runRecord } from '../../src/eval/runner.js';
import { summarize, formatSummary } from '../../src/eval/summary.js';
import { loadModel } from '../../src/models/model.js';
import type { TaskRecord } from '../../src/tasks/record.js';

const model = await loadModel('../shared/models/tinystories-656k');

const record: TaskRecord = {
  input: 'One day, Lily went to the', context: 'Lily played with a red ball in the park. '.repeat(40), answers: ['park'], length: 0,
  dataset: 'story', language: 'en', all_classes: null, _id: 'story', metric: 'string_match_part',
  prompt_template: '{context}\n\n{input}', max_new_tokens: 4,
};

test('maxPromptTokens must be a positive safe integer when given (NaN fell back to the model budget)', () => {
  for (const [bad, shown] of [[Number.NaN, 'NaN'], [0, '0'], [-5, '-5'], [1.5, '1.5'], [Infinity, 'Infinity'], ['100', '"100"'], [null, 'null'], [2 ** 53, String(2 ** 53)]] as const) {
    assert.throws(() => recordPrompt(model, record, { maxPromptTokens: bad as never }), (e: Error) => e instanceof RangeError
      && e.message === `maxPromptTokens must be a positive safe integer (a prompt budget in tokens), got ${shown}`, shown);
  }
  const whole = recordPrompt(model, record);
  assert.equal(whole.truncated, false);
  assert.deepEqual(recordPrompt(model, record, { maxPromptTokens: undefined }), whole);
  const cut = recordPrompt(model, record, { maxPromptTokens: 100 });
  assert.equal(cut.truncated, true);
  assert.ok(cut.ctxIds.length + cut.qIds.length <= 100);
});

test('new tokens that leave no room for the prompt are named as the cause', () => {
  const ctx = model.config.maxPositions;
  // It said "the question alone (16 tokens) does not fit a −88-token prompt budget".
  assert.throws(() => recordPrompt(model, { ...record, max_new_tokens: ctx + 88 }),
    new RegExp(`^Error: record story: ${ctx + 88} new tokens \\(its max_new_tokens, or the LongBench config's dataset2maxlen\\) leave no room for a prompt in the model's ${ctx}-token context$`));
  assert.throws(() => recordPrompt(model, record, { maxNewTokens: ctx }), /: \d+ new tokens \(maxNewTokens\) leave no room for a prompt/);
  // A budget that holds some tokens, but fewer than the question: the message says where the budget comes from.
  const question = recordPrompt(model, record).qIds.length;
  assert.throws(() => recordPrompt(model, record, { maxNewTokens: ctx - question }),
    new RegExp(`the question alone \\(${question} tokens\\) does not fit a ${question}-token prompt budget \\(the model's ${ctx}-token context less ${ctx - question} new tokens \\(maxNewTokens\\)\\)`));
  assert.throws(() => recordPrompt(model, record, { maxPromptTokens: question }), /does not fit a \d+-token prompt budget \(maxPromptTokens\)$/);
});

test('contextWindow: the budget is that window less each record\'s new tokens, as pred.py\'s max_length − max_gen', () => {
  const whole = recordPrompt(model, record);
  const total = whole.ctxIds.length + whole.qIds.length;
  // A window that leaves exactly the whole prompt room, then one token less.
  assert.equal(recordPrompt(model, record, { contextWindow: total + 4 }).truncated, false);
  const cut = recordPrompt(model, record, { contextWindow: total + 3 });
  assert.equal(cut.truncated, true);
  assert.equal(cut.ctxIds.length + cut.qIds.length, total - 1 - ((total - 1) % 2), 'the first and last ⌊budget/2⌋ tokens');
  // The new tokens come off the window, whatever sets them.
  assert.deepEqual(recordPrompt(model, record, { contextWindow: total + 3, maxNewTokens: 3 }).ctxIds, whole.ctxIds);
  // Larger than the model's own context: the budget follows the window (a model whose RoPE is scaled runs past it).
  const long = { ...record, context: record.context!.repeat(8) };
  const big = recordPrompt(model, long, { contextWindow: 4 * model.config.maxPositions });
  assert.ok(big.ctxIds.length + big.qIds.length > model.config.maxPositions);
  assert.throws(() => recordPrompt(model, record, { contextWindow: 4 }),
    /^Error: record story: 4 new tokens \(its max_new_tokens, or the LongBench config's dataset2maxlen\) leave no room for a prompt in the 4-token context window \(contextWindow\)$/);
  const q = whole.qIds.length;
  assert.throws(() => recordPrompt(model, record, { contextWindow: q + 5 }),
    new RegExp(`the question alone \\(${q} tokens\\) does not fit a ${q + 1}-token prompt budget \\(the ${q + 5}-token context window \\(contextWindow\\) less 4 new tokens`));
  for (const [bad, shown] of [[Number.NaN, 'NaN'], [1, '1'], [2.5, '2.5'], ['512', '"512"']] as const) {
    assert.throws(() => recordPrompt(model, record, { contextWindow: bad as never }),
      new RegExp(`^RangeError: contextWindow must be a safe integer ≥ 2 \\(a context window in tokens\\), got ${shown.replace('.', '\\.')}$`), shown);
  }
  assert.throws(() => recordPrompt(model, record, { contextWindow: 512, maxPromptTokens: 100 }),
    /^RangeError: maxPromptTokens and contextWindow both set the prompt budget; give one of them$/);
});

test('maxNewTokens must be a safe integer ≥ 0 when given', () => {
  for (const bad of [Number.NaN, -1, 2.5, '4']) {
    assert.throws(() => recordPrompt(model, record, { maxNewTokens: bad as never }), /^RangeError: maxNewTokens must be a safe integer ≥ 0, got /);
  }
  assert.equal(recordPrompt(model, record, { maxNewTokens: 0 }).maxNew, 0);
  assert.equal(recordPrompt(model, record, { maxNewTokens: 3 }).maxNew, 3);
});

test('metric options are checked before the run, not after the generation', async () => {
  assert.throws(() => recordPrompt(model, record, { metricOptions: { rougeRecusion: 'corrected' } as never }),
    /^RangeError: unknown metric option "rougeRecusion" \(expected one of: rougeRecursion, classification, codeSimMatcher, kvRetrievalMatch\)$/);
  await assert.rejects(runRecord(model, record, null, { metricOptions: { kvRetrievalMatch: 'Words' } as never }),
    /^RangeError: metric option kvRetrievalMatch must be "contains" or "words", got "Words"$/);
  await assert.rejects(runRecord(model, record, null, { maxPromptTokens: Number.NaN }), /maxPromptTokens must be a positive safe integer/);
  assert.throws(() => recordPrompt(model, record, null as never), /^TypeError: run options must be an object, got null$/);
  const r = await runRecord(model, record, null, { maxNewTokens: 2, metricOptions: { kvRetrievalMatch: 'words' } });
  assert.equal(r.newTokens <= 2, true);
});

test('checkScorable refuses, before any model runs, records the task metric cannot score', () => {
  checkScorable([record, { ...record, _id: 'b' }]);
  // A blank gold under a metric that looks for it inside the prediction scored 1 whatever the model said.
  for (const [metric, answers] of [['string_match_all', ['', 'park']], ['string_match_part', [' ']], ['passkey', ['']], ['kv_retrieval', ['\t']]] as const) {
    assert.throws(() => checkScorable([{ ...record, metric, answers: [...answers] }]),
      new RegExp(`^Error: record story: a gold answer is empty or blank, which ${metric} finds in any prediction`), metric);
  }
  // What the metric needs and the record lacks: found after generation before.
  assert.throws(() => checkScorable([{ ...record, metric: 'passkey', answers: [] }]), /^Error: record story: passkey: the record has no answer$/);
  assert.throws(() => checkScorable([{ ...record, metric: 'classification', answers: ['a'], all_classes: null }]), /^Error: record story: classification needs the record's all_classes, which is null$/);
  assert.throws(() => checkScorable([{ ...record, metric: undefined, dataset: 'my_task' }]), /^Error: record story: dataset "my_task" has no known metric; give the record a "metric"$/);
  // One task, two metrics: found once every record had run.
  assert.throws(() => checkScorable([record, { ...record, _id: 'b', metric: 'string_match_all' }]),
    /^Error: record b: dataset "story" is scored by string_match_part in record story and by string_match_all here; a task's records need one metric$/);
});

test('the summary counts the records whose prompt was cut, and the table says so', () => {
  const memory = { meanFraction: 1, peakFraction: 1 } as never;
  const base = { dataset: 'passkey', metric: 'passkey', policy: 'full', score: 0, memory } as const;
  const rows = summarize([{ ...base, id: 'a', truncated: true }, { ...base, id: 'b', truncated: false, score: 1 }, { ...base, id: 'c', truncated: true }] as never);
  assert.equal(rows[0]!.truncated, 2);
  const table = formatSummary(rows);
  assert.match(table, /passkey {2}full {4}3 \(2 cut\) {2}33\.33/);
  assert.match(table, /\ncut: records whose prompt was longer than its budget and was cut in its middle \(a needle there is gone\); they count in the score\.$/);
  // A group of 200K results (a spread of that many arguments overflowed the stack).
  const many = Array.from({ length: 200_000 }, (_, i) => ({ ...base, id: String(i), truncated: false, memory: { meanFraction: 0.5, peakFraction: i === 7 ? 0.9 : 0.5 } }));
  assert.equal(summarize(many as never)[0]!.peakKvFraction, 0.9);
});

test('the average row prints its score rounded as Python rounds (12.125 → 12.12, where toFixed gave 12.13)', () => {
  const row = { policy: 'full', samples: 2, unscored: 0, truncated: 0, relativeToFull: 1, relativeSamples: 2, meanKvFraction: 1, peakKvFraction: 1 };
  const table = formatSummary([{ ...row, dataset: 'a', score: 12.12 }, { ...row, dataset: 'b', score: 12.13 }, { ...row, dataset: 'average', tasks: 2, score: 12.125 }] as never);
  assert.match(table, /\naverage \(2 tasks\) +full +2 +12\.12 /);
});

test('a prediction is the output decoded on its own, as LongBench\'s pred.py decodes it (no leading space of a SentencePiece token)', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const { runRecord } = await import('../../src/eval/runner.js');
  const m = await loadModel('../shared/models/tinystories-656k');
  const record = {
    input: 'What was the girl called?', context: 'Once upon a time, there was a little girl named Lily. She had a toy car.'.repeat(4),
    answers: ['Lily'], length: 80, dataset: 'toy_names', language: 'en', all_classes: null, _id: 'toy-0',
    metric: 'string_match_part', prompt_template: '{context}\nQuestion: {input}\nAnswer:', max_new_tokens: 4,
  };
  // generate's text, decoded after the prompt, reads " a pretty dream "; code_sim and the other metrics that do not
  // normalise spaces would score it apart from the official predictions.
  assert.equal((await runRecord(m, record as never, null)).prediction, 'a pretty dream ');
});
