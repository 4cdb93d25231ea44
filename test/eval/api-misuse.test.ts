/** perplexity / calibrateNamm / summaries check their arguments: a spec string, an unknown option, a missing model. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrateNamm } from '../../src/eval/calibrate.js';
import { perplexity } from '../../src/eval/perplexity.js';
import { renderScoreVsKvSvg } from '../../src/eval/plot.js';
import { formatSummary, summarize } from '../../src/eval/summary.js';
import { Model } from '../../src/models/model.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { zeroNammParams } from '../../src/memory/namm/index.js';

const c = llamaConfig({ vocabSize: 64, hiddenSize: 32, nLayers: 1, nHeads: 4, nKvHeads: 2, intermediateSize: 64, maxPositions: 64 });
const model = new Model(c, randomWeights(c, 1, 0.5), null);

test('perplexity names a missing model or ids, a spec string for the policy, an unknown option', () => {
  assert.throws(() => (perplexity as (...a: unknown[]) => unknown)(), /^TypeError: perplexity: model must be a loaded Model \(loadModel\(path\)\), got undefined$/);
  assert.throws(() => (perplexity as (...a: unknown[]) => unknown)(model), /perplexity: ids must be a list of token ids/);
  assert.throws(() => perplexity(model, [1, 2, 3], 'h2o:ratio=0.5' as never), /perplexity: policy must be a memory policy .*parsePolicySpec.*got "h2o:ratio=0\.5"/);
  assert.throws(() => perplexity(model, [1, 2, 3], null, { bogus: 1 } as never), /perplexity: unknown option "bogus"/);
  assert.ok(Number.isFinite(perplexity(model, [1, 2, 3], null).perplexity));
});

test('calibrateNamm refuses one record given where the list goes', async () => {
  await assert.rejects(calibrateNamm(model, { _id: 'r' } as never, zeroNammParams()), /^TypeError: calibrateNamm: records must be an array of task records, got object$/);
  await assert.rejects(calibrateNamm(undefined as never, [], zeroNammParams()), /calibrateNamm: model must be a loaded Model/);
});

test('summaries and plots name a wrong argument instead of failing inside', () => {
  assert.throws(() => summarize([], 'full', 'dataset' as never), /^TypeError: summarize: by must be an array of breakdown keys/);
  assert.throws(() => formatSummary([{}] as never), /formatSummary: rows\[0\] must be a summary row/);
  assert.throws(() => renderScoreVsKvSvg([{}] as never), /renderScoreVsKvSvg: points\[0\] must be a point/);
});

test('runRecord, recordPrompt and checkScorable check a record\'s fields before the model runs; runRecord checks its prefix', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const { generateRecord } = await import('../../src/tasks/registry.js');
  const { checkScorable, recordPrompt, runRecord } = await import('../../src/eval/runner.js');
  const llama = await loadModel('models/namm-tiny-llama');
  const rec = generateRecord({ task: 'passkey', length: 300, tokenizer: llama.tokenizer!, seed: 1 });
  // A null context went into the prompt as the text "null"; a bad answers list or metric failed after generating.
  await assert.rejects(runRecord(llama, { ...rec, context: null } as never, null), /^TypeError: runRecord: record ".*": "context" must be a string$/);
  await assert.rejects(runRecord(llama, { ...rec, answers: '77234' } as never, null), /runRecord: record ".*": "answers" must be an array of strings/);
  await assert.rejects(runRecord(llama, { ...rec, metric: 'f1' } as never, null), /"metric" "f1" is not a known metric/);
  assert.throws(() => recordPrompt(llama, { ...rec, input: null } as never), /^TypeError: recordPrompt: record ".*": "input" must be a string$/);
  assert.throws(() => checkScorable([rec, { ...rec, answers: null } as never]), /^TypeError: checkScorable: records\[1\] \(".*"\): "answers" must be an array of strings$/);
  // The prefix: an object with a session of this model and its token count.
  const other = model.createSessionWith(null);
  await assert.rejects(runRecord(llama, rec, null, { prefix: { session: other, tokens: 0 } }), /^Error: runRecord: prefix\.session belongs to another model than /);
  await assert.rejects(runRecord(llama, rec, null, { prefix: {} as never }), /^TypeError: runRecord: prefix\.session must be a Session, got undefined$/);
  await assert.rejects(runRecord(llama, rec, null, { prefix: { session: llama.createSessionWith(null), tokens: '0' as never } }), /runRecord: prefix\.tokens must be an integer \(the tokens the session holds\), got "0"$/);
});

test('perplexity and calibrateNamm check their callbacks and options before anything runs', async () => {
  assert.throws(() => perplexity(model, [1, 2, 3], null, { onProgress: 5 as never }), /^TypeError: perplexity: onProgress must be a function, got 5$/);
  await assert.rejects(calibrateNamm(model, [{ _id: 'r' }] as never, zeroNammParams(), { updateevery: 64 } as never), /^TypeError: calibrateNamm: unknown option "updateevery" \(did you mean "updateEvery"\?\)/);
  await assert.rejects(calibrateNamm(model, [{ _id: 'r' }] as never, zeroNammParams(), { onRecord: 'x' } as never), /^TypeError: calibrateNamm: onRecord must be a function, got "x"$/);
});

test('calibrateNamm feeds records the task metric could not score: a blank gold answer, a dataset without a metric', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const { generateRecord } = await import('../../src/tasks/registry.js');
  const { runRecord } = await import('../../src/eval/runner.js');
  const llama = await loadModel('models/namm-tiny-llama');
  const rec = generateRecord({ task: 'passkey', length: 300, tokenizer: llama.tokenizer!, seed: 1 });
  const blank = { ...rec, answers: [' '] };
  const noMetric = { ...rec, dataset: 'my_notes', metric: undefined };
  // runRecord refuses both before the model runs (it would have nothing to score them by) ...
  await assert.rejects(runRecord(llama, blank, null), /a gold answer is empty or blank/);
  await assert.rejects(runRecord(llama, noMetric, null), /my_notes/);
  // ... calibration reads only the attention, so both calibrate as the scorable record does, to the same statistics.
  const opts = { updateEvery: 64, maxNewTokens: 1 };
  const ref = await calibrateNamm(llama, [rec], zeroNammParams(), opts);
  for (const r of [blank, noMetric]) assert.deepEqual(await calibrateNamm(llama, [r], zeroNammParams(), opts), ref);
});
