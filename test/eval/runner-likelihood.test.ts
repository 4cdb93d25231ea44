/** `score: 'likelihood'`: the teacher-forced likelihood of the gold answer, on the tinystories model. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordPrompt, runRecord } from '../../src/eval/runner.js';
import { summarize } from '../../src/eval/summary.js';
import { createHash } from 'node:crypto';
import { parseCurriculum, stableJson } from '../../src/evolve/curriculum.js';
import { referenceKey, referenceSettings } from '../../src/evolve/reference-scores.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { loadModel, Model } from '../../src/models/model.js';
import { loadModelFiles } from '../../src/models/load.js';
import { getBackend } from '../../src/tensor/index.js';
import { answerText, type TaskRecord } from '../../src/tasks/record.js';
import { tinyCurriculum } from '../evolve/namm-helpers.js';

const model = await loadModel('../shared/models/tinystories-656k');
const tok = model.tokenizer!;

function story(words: number): TaskRecord {
  const names = ['Lily', 'Tom', 'Ben', 'Sue'];
  const parts: string[] = [];
  for (let i = 0; parts.join(' ').split(' ').length < words; i++) parts.push(`${names[i % 4]} played with a red ball in the park.`);
  return {
    input: 'One day, Lily went to the', context: parts.join(' '), answers: ['park'], length: 0, dataset: 'story', language: 'en',
    all_classes: null, _id: 'story', metric: 'string_match_part', prompt_template: '{context}\n\n{input}', max_new_tokens: 4,
  };
}

/** exp(−mean NLL) of the answer from one full-cache forward over context, question and answer: the hand computation. */
function handLikelihood(record: TaskRecord): { score: number; nll: number } {
  // The template is '{context}\n\n{input}', tokenised whole as pred.py does (the BOS by the tokenizer's own rule).
  const prompt = tok.encode(`${record.context}\n\n${record.input}`);
  const a = tok.encode(answerText(record.answers), { addBos: false });
  const ids = [...prompt, ...a];
  const V = model.config.vocabSize;
  const logits = model.createSessionWith(null).prefill(ids, { logits: 'all' });
  let nll = 0;
  for (let i = 0; i < a.length; i++) {
    const t = prompt.length - 1 + i;
    const row = logits.subarray(t * V, (t + 1) * V);
    const mx = Math.max(...row);
    const z = row.reduce((s, x) => s + Math.exp(x - mx), 0);
    nll += Math.log(z) + mx - row[a[i]!]!;
  }
  return { score: Math.exp(-nll / a.length), nll: nll / a.length };
}

test('with the full cache the likelihood score is exp(−mean NLL) of the gold answer from one forward pass', async () => {
  const record = story(150);
  const want = handLikelihood(record);
  const r = await runRecord(model, record, null, { score: 'likelihood' });
  assert.equal(r.metric, 'answer_likelihood');
  assert.ok(Math.abs(r.answerNll! - want.nll) < 1e-4, `NLL ${r.answerNll} vs ${want.nll}`);
  assert.ok(Math.abs(r.score - want.score) < 1e-4, `score ${r.score} vs ${want.score}`);
  assert.ok(r.score > 0 && r.score <= 1);
  assert.equal(r.newTokens, tok.encode(answerText(record.answers), { addBos: false }).length);
  assert.equal(r.memory.meanFraction, 1);
});

test('under a memory policy the likelihood moves with what the cache kept', async () => {
  const record = story(300);
  const full = await runRecord(model, record, null, { score: 'likelihood' });
  const small = await runRecord(model, record, parsePolicySpec('streaming:sinks=1,window=16'), { score: 'likelihood' });
  assert.ok(small.memory.meanFraction < 0.5, `held ${small.memory.meanFraction}`);
  assert.notEqual(small.score, full.score);
  assert.ok(small.score > 0 && small.score <= 1);
  // Summaries average likelihood scores ×100 and relate them to the full cache's.
  const rows = summarize([full, { ...small, policy: 'streaming' }]);
  const row = rows.find((x) => x.policy === 'streaming')!;
  assert.ok(Math.abs(row.score - 100 * small.score) < 1e-9);
  assert.ok(Math.abs(row.relativeToFull! - small.score / full.score) < 1e-9);
  // The task score of the same record still runs the greedy answer.
  const task = await runRecord(model, record, null, {});
  assert.equal(task.metric, 'string_match_part');
  assert.equal(task.answerNll, undefined);
});

test('bad score kinds and empty answers are clear errors', async () => {
  await assert.rejects(runRecord(model, story(50), null, { score: 'bleu' as 'task' }), /score must be task or likelihood/);
  await assert.rejects(runRecord(model, { ...story(50), answers: [''] }, null, { score: 'likelihood' }), /answer is empty/);
});

test('likelihood runs get their own reference-score keys, task runs keep theirs', () => {
  const record = story(50);
  const task = referenceKey('m', record, referenceSettings({}));
  assert.equal(task, referenceKey('m', record, referenceSettings({ score: 'task' })));
  assert.notEqual(task, referenceKey('m', record, referenceSettings({ score: 'likelihood' })));
  // A record with alternative answers, now scored by the best of them, gets a new likelihood key (its cached score
  // was that of the joined answers); a single answer's key, and every task-score key, are what they were.
  const before = (r: TaskRecord, settings: Record<string, unknown>) => createHash('sha256').update(stableJson({ model: 'm', record: r, settings })).digest('hex').slice(0, 40);
  const like = referenceSettings({ score: 'likelihood' });
  const multi = { ...record, answers: ['park', 'zoo'] };
  assert.equal(referenceKey('m', record, like), before(record, like));
  assert.notEqual(referenceKey('m', multi, like), before(multi, like));
  assert.equal(referenceKey('m', multi, referenceSettings({})), before(multi, referenceSettings({})));
});

test('a curriculum takes run.score and refuses an unknown one', () => {
  assert.equal(parseCurriculum(tinyCurriculum()).run.score, 'task');
  assert.equal(parseCurriculum(tinyCurriculum({ run: { score: 'likelihood' } })).run.score, 'likelihood');
  assert.throws(() => parseCurriculum(tinyCurriculum({ run: { score: 'bleu' } })), /run\.score/);
});

test('a too-long prompt is cut as LongBench cuts it: its first and last ⌊budget/2⌋ tokens decoded, joined and tokenised again', () => {
  const record = story(400);
  const prompt = `${record.context}\n\n${record.input}`;
  const whole = tok.encode(prompt);
  const q = tok.encode(`\n\n${record.input}`, { addBos: false });
  const uncut = recordPrompt(model, record);
  assert.deepEqual([...uncut.ctxIds, ...uncut.qIds], whole, 'tokenised whole, as pred.py does');
  // The question part is the tail its own tokens match; this SentencePiece tokenizer starts a text of its own with a
  // space token, which the whole prompt does not have at the seam.
  assert.ok(uncut.qIds.length >= q.length - 2 && uncut.qIds.length < q.length, `${uncut.qIds.length} of ${q.length}`);
  assert.deepEqual(uncut.qIds, q.slice(q.length - uncut.qIds.length));
  for (const budget of [101, 200, 257]) {
    const p = recordPrompt(model, record, { maxPromptTokens: budget });
    const half = Math.floor(budget / 2);
    assert.ok(whole.length > budget);
    assert.equal(p.truncated, true);
    const text = tok.decode(whole.slice(0, half), { skipSpecial: true }) + tok.decode(whole.slice(whole.length - half), { skipSpecial: true });
    assert.deepEqual([...p.ctxIds, ...p.qIds], tok.encode(text), `budget ${budget}`);
    assert.deepEqual(p.qIds, uncut.qIds, 'the question is whole');
  }
  // A question longer than half the budget is kept whole; the context is cut in the middle to the room left.
  const budget = 2 * uncut.qIds.length - 2;
  const p = recordPrompt(model, record, { maxPromptTokens: budget });
  assert.deepEqual(p.qIds, uncut.qIds);
  const side = Math.floor((budget - uncut.qIds.length) / 2);
  const text = tok.decode(whole.slice(0, side), { skipSpecial: true }) + tok.decode(whole.slice(whole.length - uncut.qIds.length - side), { skipSpecial: true });
  assert.deepEqual([...p.ctxIds, ...p.qIds], tok.encode(text));
  assert.ok(p.ctxIds.length + p.qIds.length <= budget + 1);
});

test('alternative gold answers: the likelihood is that of the best one, each read as if alone (they were joined into one target)', async () => {
  const base = story(150);
  const alone = (answers: string[]) => handLikelihood({ ...base, answers });
  const park = alone(['park']), zoo = alone(['zoo']), moon = alone(['old green moon']);
  // Any one of them answers (string_match_part, as LongBench's metrics): the best, whichever comes first.
  for (const answers of [['old green moon', 'park', 'zoo'], ['zoo', 'park'], ['park', 'old green moon']]) {
    const r = await runRecord(model, { ...base, answers }, null, { score: 'likelihood' });
    const best = [park, zoo, moon].filter((_, i) => answers.includes(['park', 'zoo', 'old green moon'][i]!)).reduce((a, b) => (b.nll < a.nll ? b : a));
    assert.ok(Math.abs(r.answerNll! - best.nll) < 1e-4, `${answers}: NLL ${r.answerNll} vs ${best.nll}`);
    assert.equal(r.newTokens, tok.encode(answerText([best === park ? 'park' : best === zoo ? 'zoo' : 'old green moon']), { addBos: false }).length);
  }
  assert.ok(new Set([park.nll, zoo.nll, moon.nll]).size === 3, 'the probe needs answers of different likelihoods');
  // Every one of them is needed (string_match_all, as niah_multivalue): still one target, all joined.
  const all = await runRecord(model, { ...base, answers: ['park', 'zoo'], metric: 'string_match_all' }, null, { score: 'likelihood' });
  assert.ok(Math.abs(all.answerNll! - alone(['park', 'zoo']).nll) < 1e-4);
  // Under a policy, each alternative is read by its own copy of the compressed session, as if it were alone.
  const spec = 'h2o:tokens=24';
  const mixed = await runRecord(model, { ...base, answers: ['old green moon', 'park'] }, parsePolicySpec(spec), { score: 'likelihood' });
  const single = await runRecord(model, { ...base, answers: ['park'] }, parsePolicySpec(spec), { score: 'likelihood' });
  const other = await runRecord(model, { ...base, answers: ['old green moon'] }, parsePolicySpec(spec), { score: 'likelihood' });
  assert.equal(mixed.answerNll, Math.min(single.answerNll!, other.answerNll!));
  assert.ok(mixed.memory.meanFraction < 0.5);
});

test('a dynamic-NTK model reads the context rotated for the whole prompt, as one forward over the prompt does', async () => {
  // The context is fed before the question, but transformers' generate runs the prompt in one forward, whose base
  // (past the original context) follows the whole prompt's length; the context's keys were rotated for its own.
  const files = await loadModelFiles('../shared/models/tinystories-656k');
  const dynamic = new Model({ ...files.config, ropeScaling: { type: 'dynamic', factor: 2, originalMaxPositions: 64 } }, files.weights, files.tokenizer, getBackend(), 'dynamic');
  // The hand computation: the prompt in one forward, then the answer's tokens but the last in another.
  const record = story(150);
  const prompt = tok.encode(`${record.context}\n\n${record.input}`);
  const a = tok.encode(answerText(record.answers), { addBos: false });
  assert.ok(prompt.length > 64 && a.length > 1);
  const V = dynamic.config.vocabSize;
  const session = dynamic.createSessionWith(null);
  const rows = [session.prefill(prompt), session.prefill(a.slice(0, -1), { logits: 'all' })];
  let nll = 0;
  for (let i = 0; i < a.length; i++) {
    const row = i === 0 ? rows[0]! : rows[1]!.subarray((i - 1) * V, i * V);
    const mx = Math.max(...row);
    nll += (Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0)) + mx - row[a[i]!]!) / a.length;
  }
  const r = await runRecord(dynamic, record, null, { score: 'likelihood' });
  assert.equal(r.newTokens, a.length);
  assert.ok(Math.abs(r.answerNll! - nll) < 1e-4, `NLL ${r.answerNll} vs ${nll}`);
});
