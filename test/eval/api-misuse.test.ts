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
