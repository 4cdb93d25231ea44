/**
 * Evaluation results that are not all alike: a model whose logits hold NaN (no likelihood), a result without a
 * score as an older version wrote it, a full-cache run over other records than a policy's, and a context that
 * tokenises to nothing under a tokenizer without BOS.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordPrompt, runRecord, type RecordResult } from '../../src/eval/runner.js';
import { formatSummary, summarize } from '../../src/eval/summary.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { Model } from '../../src/models/model.js';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import { answerText, type TaskRecord } from '../../src/tasks/record.js';
import { getBackend } from '../../src/tensor/index.js';
import { tinyByteLevelTokenizerJson, tinyGpt2 } from '../fixtures/tiny-models.js';
import { perplexity } from '../../src/eval/perplexity.js';

// A GPT-2 and its byte-level tokenizer, which (without a bos_token) adds no BOS.
const { json, vocabSize } = tinyByteLevelTokenizerJson();
const tok = new HfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: '<|endoftext|>' }, origin: 'tiny' });
const { config, weights } = tinyGpt2(vocabSize);
const gpt2 = new Model({ ...config, bosTokenId: 0 }, weights, tok, getBackend());

/** The same GPT-2 with one NaN in its final LayerNorm: every logit is NaN. */
function nanGpt2(): Model {
  const w = new Map(weights);
  const lnf = w.get('transformer.ln_f.weight')!;
  const data = Float32Array.from(lnf.data);
  data[0] = NaN;
  w.set('transformer.ln_f.weight', { ...lnf, data });
  return new Model({ ...config, bosTokenId: 0 }, w, tok, getBackend());
}

function record(fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    input: 'the answer', context: 'in the air', answers: ['an'], length: 0, dataset: 'toy', language: 'en', all_classes: null,
    _id: 'r1', metric: 'string_match_part', prompt_template: '{context}\n\n{input}', max_new_tokens: 2, ...fields,
  };
}

test('a model with NaN logits gets no likelihood score: the run is refused by record and policy, as a task run is', async () => {
  assert.equal(tok.bosTokenId, null);
  const bad = nanGpt2();
  // Before, the score was NaN, which results.jsonl wrote as null.
  await assert.rejects(runRecord(bad, record(), null, { score: 'likelihood' }),
    /^Error: record r1 under full: the model produced NaN or \+Infinity logits at answer token 1 of 1 .*no likelihood/);
  await assert.rejects(runRecord(bad, record(), parsePolicySpec('h2o:tokens=4'), { score: 'likelihood' }), /record r1 under h2o:tokens=4: .*NaN/);
  await assert.rejects(runRecord(bad, record(), null, {}), /NaN or \+Infinity logits/);
  const ok = await runRecord(gpt2, record(), null, { score: 'likelihood' });
  assert.ok(Number.isFinite(ok.score) && ok.score > 0 && ok.score <= 1);
  // Perplexity too: it printed `perplexity NaN` (null in JSON) and exited 0.
  const ids = tok.encode('in the air the answer');
  assert.throws(() => perplexity(bad, ids, null), /^Error: perplexity: the model produced NaN or infinite logits predicting token 2 of \d+ .*no perplexity/);
  assert.ok(Number.isFinite(perplexity(gpt2, ids, null).perplexity));
});

/** A result as results.jsonl holds it: through JSON, where a NaN score became null. */
function result(id: string, policy: string, score: number | null, metric = 'answer_likelihood'): RecordResult {
  return JSON.parse(JSON.stringify({
    id, dataset: 'toy', metric, policy, prediction: '', score, answers: ['x'], promptTokens: 10, contextTokens: 8, newTokens: 1,
    truncated: false, seconds: 0, memory: { meanFraction: policy === 'full' ? 1 : 0.5, peakFraction: policy === 'full' ? 1 : 0.6 },
  })) as RecordResult;
}

test('a sample without a score (null on disk) is counted as unscored, never as 0, and never breaks the summary', () => {
  // Likelihood: the null was added as 0 (a score of 20 here, not 40); a task metric's threw in taskScore.
  const [like] = summarize([result('a', 'full', 0.4), result('b', 'full', null)]);
  assert.equal(like!.samples, 2);
  assert.equal(like!.unscored, 1);
  assert.ok(Math.abs(like!.score - 40) < 1e-9, `score ${like!.score}`);
  const [task] = summarize([result('a', 'full', 1, 'string_match_part'), result('b', 'full', null, 'string_match_part')]);
  assert.equal(task!.score, 100);
  assert.equal(task!.unscored, 1);
  const [none] = summarize([result('a', 'full', null)]);
  assert.ok(Number.isNaN(none!.score) && none!.unscored === 1 && none!.relativeToFull === null);
  const table = formatSummary(summarize([result('a', 'full', 0.4), result('b', 'full', null)]));
  assert.match(table, /full\s+2 \(1 unscored\)\s+40\.00\s+100\.0%\s/);
  assert.doesNotMatch(table, /\(on /, 'the full cache against itself is no subset');
  assert.match(table, /unscored: samples without a score/);
  // Out-of-range scores are still corrupt data, not missing ones.
  assert.throws(() => summarize([result('a', 'full', 5, 'string_match_part')]), /per-sample scores are numbers in \[0, 1\]/);
});

test('"vs full" compares the policy and the full cache on the records both scored', () => {
  // The full cache ran records a and b, the policy only a (an interrupted run, or another record subset): the
  // ratio was 0.9 / mean(0.9, 0.1) = 180%, comparing different samples.
  const rows = summarize([result('a', 'full', 0.9), result('b', 'full', 0.1), result('a', 'p', 0.45), result('c', 'p', 0.2)]);
  const full = rows.find((r) => r.policy === 'full')!, p = rows.find((r) => r.policy === 'p')!;
  assert.ok(Math.abs(full.score - 50) < 1e-9 && Math.abs(p.score - 32.5) < 1e-9, 'each score is still over all its samples');
  assert.ok(Math.abs(p.relativeToFull! - 0.5) < 1e-12, `vs full ${p.relativeToFull}`);
  assert.equal(p.relativeSamples, 1);
  assert.equal(full.relativeToFull, 1);
  assert.equal(full.relativeSamples, 2);
  // An unscored record is not in common either.
  const q = summarize([result('a', 'full', 0.8), result('b', 'full', null), result('a', 'q', 0.4), result('b', 'q', 0.4)]).find((r) => r.policy === 'q')!;
  assert.ok(Math.abs(q.relativeToFull! - 0.5) < 1e-12);
  assert.equal(q.relativeSamples, 1);
  // No record in common: no ratio.
  const apart = summarize([result('a', 'full', 0.9), result('b', 'p', 0.5)]).find((r) => r.policy === 'p')!;
  assert.equal(apart.relativeToFull, null);
  assert.equal(apart.relativeSamples, null);
  // The table says when the ratio is over a subset, and only then.
  const table = formatSummary(rows);
  assert.match(table, /50\.0% \(on 1\)/);
  assert.match(table, /vs full \(on k\): over the k records both/);
  const same = summarize([result('a', 'full', 0.8), result('a', 'p', 0.4)]);
  assert.equal(same[1]!.relativeSamples, 1);
  assert.doesNotMatch(formatSummary(same), /\(on /);
});

test('an empty context under a tokenizer without BOS: nothing to compress, the question is fed uncompressed', async () => {
  // It failed with "a prefix of 0 tokens must leave some of the 0 tokens of the first prefill".
  const empty = record({ context: '' });
  const prompt = recordPrompt(gpt2, empty, { score: 'likelihood' });
  assert.deepEqual(prompt.ctxIds, []);
  assert.deepEqual(prompt.prefill, []);
  assert.deepEqual(prompt.qIds, tok.encode('\n\nthe answer', { addBos: false }));
  // The likelihood is that of one full-cache forward over question and answer.
  const a = tok.encode(answerText(empty.answers), { addBos: false });
  const ids = [...prompt.qIds, ...a];
  const V = gpt2.config.vocabSize;
  const logits = gpt2.createSessionWith(null).prefill(ids, { logits: 'all' });
  let nll = 0;
  for (let i = 0; i < a.length; i++) {
    const row = logits.subarray((prompt.qIds.length - 1 + i) * V, (prompt.qIds.length + i) * V);
    const mx = Math.max(...row);
    nll += Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0)) + mx - row[a[i]!]!;
  }
  const like = await runRecord(gpt2, empty, null, { score: 'likelihood' });
  assert.equal(like.contextTokens, 0);
  assert.ok(Math.abs(like.answerNll! - nll / a.length) < 1e-4, `NLL ${like.answerNll} vs ${nll / a.length}`);
  // A policy that compresses at the end of the context has nothing to compress; the task score generates.
  const snap = await runRecord(gpt2, empty, parsePolicySpec('snapkv:tokens=2,window=1'), { score: 'likelihood' });
  assert.equal(snap.memory.meanFraction, 1);
  assert.ok(Math.abs(snap.score - like.score) < 1e-6);
  const task = await runRecord(gpt2, empty, null, {});
  assert.equal(task.contextTokens, 0);
  assert.ok(task.newTokens >= 1);
  // Query-aware, the question is the first prefill.
  const qa = await runRecord(gpt2, empty, null, { score: 'likelihood', queryAware: true });
  assert.ok(Math.abs(qa.score - like.score) < 1e-6);
  // Text before {context} gives the context part tokens of its own, as before.
  assert.ok(recordPrompt(gpt2, record({ context: '', prompt_template: 'Read: {context}\n\n{input}' })).ctxIds.length > 0);
  // A prompt of no tokens at all is refused by name.
  assert.throws(() => recordPrompt(gpt2, record({ context: '', input: '', prompt_template: '{context}{input}' })),
    /record r1: its prompt tokenises to no tokens/);
});

test('a summary by length and depth: one row per task, length, depth and policy, each compared with its own full-cache row', () => {
  const at = (id: string, policy: string, score: number, targetLength?: number, depthPercent?: number): RecordResult => ({
    ...result(id, policy, score, 'string_match_part'), dataset: 'niah', ...(targetLength !== undefined ? { targetLength } : {}), ...(depthPercent !== undefined ? { depthPercent } : {}),
  });
  const results = [
    at('a', 'full', 1, 4096, 0), at('b', 'full', 1, 4096, 100), at('c', 'full', 1, 1024, 0), at('d', 'full', 0, 1024, 100),
    at('a', 'h2o', 1, 4096, 0), at('b', 'h2o', 0, 4096, 100), at('c', 'h2o', 0, 1024, 0), at('d', 'h2o', 0, 1024, 100),
    at('e', 'full', 1), at('e', 'h2o', 1),
  ];
  // Pooled: one row per policy, the lengths averaged away (h2o: 50% of the full cache's 75).
  const pooled = summarize(results);
  assert.deepEqual(pooled.map((r) => [r.dataset, r.policy, r.samples, r.score]), [['niah', 'full', 5, 80], ['niah', 'h2o', 5, 40]]);
  assert.equal('length' in pooled[0]!, false);
  const byLength = summarize(results, 'full', ['length']);
  assert.deepEqual(byLength.map((r) => [r.length, r.policy, r.samples, r.score, r.relativeToFull]), [
    [1024, 'full', 2, 50, 1], [1024, 'h2o', 2, 0, 0], [4096, 'full', 2, 100, 1], [4096, 'h2o', 2, 50, 0.5],
    [null, 'full', 1, 100, 1], [null, 'h2o', 1, 100, 1],
  ]);
  const both = summarize(results, 'full', ['length', 'depth']);
  assert.equal(both.length, 10);
  const row = both.find((r) => r.length === 4096 && r.depth === 100 && r.policy === 'h2o')!;
  assert.equal(row.score, 0);
  assert.equal(both.find((r) => r.length === 1024 && r.depth === 100 && r.policy === 'h2o')!.relativeToFull, null, 'the full cache scored 0 there');
  const table = formatSummary(both);
  assert.match(table, /^niah @4096 d100%\s+h2o\s+1\s+0\.00\s+0\.0%/m);
  assert.match(table, /^niah @\? d\?\s+full/m);
  assert.throws(() => summarize(results, 'full', ['size' as 'length']), /summaries break down by length or depth, not "size"/);
});

test('"vs full" divides the mean scores, not the scores rounded to two decimals', () => {
  // Two of six against one of six: 33.33 / 16.67 gave 199.9%.
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const rows = summarize([...ids.map((id, i) => result(id, 'full', i === 0 ? 1 : 0, 'string_match_all')), ...ids.map((id, i) => result(id, 'p', i < 2 ? 1 : 0, 'string_match_all'))]);
  const p = rows.find((r) => r.policy === 'p')!;
  assert.equal(p.score, 33.33);
  assert.equal(p.relativeToFull, 2);
});

test('several tasks: each policy gets the plain mean of its task scores, as LongBench averages, compared with the full cache on the same tasks', async () => {
  const { withTaskAverages, AVERAGE_ROW } = await import('../../src/eval/summary.js');
  const on = (dataset: string, r: RecordResult) => ({ ...r, dataset });
  // Task x: full 80, p 40 (two records: 60 and 20 → 40); task y: full 20, p 30; task z: p alone, 90.
  const rows = withTaskAverages(summarize([
    on('x', result('a', 'full', 0.8)), on('x', result('a', 'p', 0.6)), on('x', result('b', 'full', 0.8)), on('x', result('b', 'p', 0.2)),
    on('y', result('c', 'full', 0.2)), on('y', result('c', 'p', 0.3)), on('z', result('d', 'p', 0.9)),
  ]));
  const full = rows.find((r) => r.dataset === AVERAGE_ROW && r.policy === 'full')!, p = rows.find((r) => r.dataset === AVERAGE_ROW && r.policy === 'p')!;
  assert.equal(rows.length, 5 + 2, 'one average row per policy, after the task rows');
  assert.ok(Math.abs(full.score - 50) < 1e-9, `full ${full.score}`);
  assert.ok(Math.abs(p.score - (40 + 30 + 90) / 3) < 1e-9, `p ${p.score}: every task it scored`);
  assert.deepEqual([p.tasks, p.samples, full.tasks, full.samples], [3, 4, 2, 3]);
  assert.ok(Math.abs(p.relativeToFull! - 35 / 50) < 1e-12, 'vs full over x and y, the tasks both scored');
  assert.equal(p.relativeSamples, 3);
  assert.ok(Math.abs(p.meanKvFraction - 0.5) < 1e-12 && p.peakKvFraction === 0.6);
  assert.match(formatSummary(rows), /^average \(3 tasks\)\s+p\s+4\s+53\.33\s+70\.0% \(on 3\)/m);
  // One task: nothing to average.
  assert.equal(withTaskAverages(summarize([result('a', 'full', 0.5)])).length, 1);
  assert.throws(() => withTaskAverages(summarize([result('a', 'full', 0.5)], 'full', ['length'])), /broken down by length or depth have no task average/);
});
