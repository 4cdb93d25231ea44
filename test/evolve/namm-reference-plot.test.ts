import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { modelFingerprint, ReferenceScoreCache, referenceKey, referenceSettings } from '../../src/evolve/reference-scores.js';
import { niceTicks, readEvolutionLog, renderFitnessSvg } from '../../src/evolve/plot.js';
import type { GenerationRecord } from '../../src/evolve/loop.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';
import { storyRecords, withTempDir } from './namm-helpers.js';

test('reference keys change with the model, the record content and the generation settings', () => {
  const [a, b] = storyRecords(2);
  const s = referenceSettings({ maxPromptTokens: 1000 });
  const k = referenceKey('m1', a!, s);
  assert.equal(referenceKey('m1', { ...a! }, referenceSettings({ maxPromptTokens: 1000 })), k);
  assert.notEqual(referenceKey('m2', a!, s), k);
  assert.notEqual(referenceKey('m1', b!, s), k);
  assert.notEqual(referenceKey('m1', { ...a!, context: a!.context + ' ' }, s), k);
  assert.notEqual(referenceKey('m1', a!, referenceSettings({ maxPromptTokens: 999 })), k);
  assert.notEqual(referenceKey('m1', a!, referenceSettings({ maxPromptTokens: 1000, queryAware: true })), k);
  // A context window is another budget; without one, the keys stay those of runs from before the option.
  const w = referenceKey('m1', a!, referenceSettings({ contextWindow: 32768 }));
  assert.notEqual(w, referenceKey('m1', a!, referenceSettings({ contextWindow: 16384 })));
  assert.notEqual(w, referenceKey('m1', a!, referenceSettings({})));
  assert.deepEqual(Object.keys(referenceSettings({})).sort(), ['chunkSize', 'longbenchConfig', 'maxNewTokens', 'maxPromptTokens', 'metricOptions', 'queryAware']);
});

test('model fingerprints follow config and weights, whatever the map order', () => {
  const config = llamaConfig({ vocabSize: 64, hiddenSize: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, intermediateSize: 32 });
  const weights = randomWeights(config, 3);
  const f = modelFingerprint(config, weights);
  assert.equal(modelFingerprint(config, new Map([...weights].reverse())), f);
  const changed = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: Float32Array.from(t.data) }]));
  changed.get('model.norm.weight')!.data[0]! += 1;
  assert.notEqual(modelFingerprint(config, changed), f);
  assert.notEqual(modelFingerprint({ ...config, ropeTheta: 5000 }, weights), f);
});

test('the reference-score file: written atomically on flush, reread, refused for another model or when damaged', () => withTempDir(async (dir) => {
  const path = join(dir, 'reference-scores.json');
  const cache = await ReferenceScoreCache.open(path, 'model-a');
  assert.equal(cache.size, 0);
  cache.set('k1', { id: 'r1', dataset: 'd', score: 0.5, prediction: 'x', meanFraction: 1 });
  await cache.flush();
  const again = await ReferenceScoreCache.open(path, 'model-a');
  assert.deepEqual(again.get('k1'), { id: 'r1', dataset: 'd', score: 0.5, prediction: 'x', meanFraction: 1 });
  assert.equal(again.get('k2'), undefined);
  await assert.rejects(ReferenceScoreCache.open(path, 'model-b'), /reference scores of another model \(model-a, this one is model-b\)/);
  await writeFile(path, (await readFile(path, 'utf8')).slice(0, 20));
  await assert.rejects(ReferenceScoreCache.open(path, 'model-a'), /not valid JSON.*delete it to recompute/);
}));

const record = (g: number, stage: string, best: number, kv: number): GenerationRecord => ({
  generation: g, stage, stageGeneration: 0, best, mean: best - 0.2, median: best - 0.1, sigma: 0.06, timeS: 1, elapsedS: g + 1, etaS: 0, info: { kv },
});

test('fitness.svg: one path per series, a dashed line at each stage start, and an empty state', () => withTempDir(async (dir) => {
  const history = [record(0, 'a', 0.5, 1), record(1, 'a', 0.7, 0.9), record(2, 'b', 0.9, 0.8), record(3, 'b', 1.1, 0.7)];
  const svg = renderFitnessSvg(history, 'run <1>');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'), 'the document is closed');
  assert.ok(svg.includes('run &lt;1&gt;'), 'the title is escaped');
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(paths.length, 4, 'best, mean, median and KV fraction');
  for (const d of paths) assert.equal((d.match(/[ML]/g) ?? []).length, 4, `one vertex per generation in ${d}`);
  assert.equal((svg.match(/stroke-dasharray="4 3"/g) ?? []).length, 1, 'one stage boundary');
  assert.match(svg, />b<\/text>/);
  // The best line rises: its y coordinates (SVG y grows downwards) fall.
  const ys = paths[0]!.split(' ').map((p) => Number(p.split(',')[1]));
  assert.ok(ys.every((y, i) => i === 0 || y < ys[i - 1]!), `rising fitness is drawn rising: ${ys.join(' ')}`);
  assert.match(renderFitnessSvg([]), /no generations yet/);
  await writeFile(join(dir, 'log.jsonl'), history.map((r) => JSON.stringify(r)).join('\n') + '\n\n');
  assert.deepEqual(readEvolutionLog(join(dir, 'log.jsonl')), history);
  await writeFile(join(dir, 'bad.jsonl'), '{}\n{oops\n');
  assert.throws(() => readEvolutionLog(join(dir, 'bad.jsonl')), /bad\.jsonl:2: not valid JSON/);
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(2, 2), [1.8, 1.9, 2, 2.1, 2.2], "a flat series gets a padded range");
}));
