/**
 * Evolution's shared prompt beginnings (PromptPrefixes): every member of a population continues a fork of its
 * record's prefix, fed up to the chunk of NAMM's first update, with its own parameters. Each job's result must be
 * exactly that of a run from the start: the project's model, its shipped NAMM and perturbed copies of it, prompts
 * from shorter than one window to several windows long, both scores, and the full-cache jobs of a batch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSharedModel, PromptPrefixes, runEvaluationJob, tokensBeforeFirstUpdate, type NammRunSettings } from '../../src/evolve/workers.js';
import { readNammCheckpoint } from '../../src/memory/namm/checkpoint.js';
import { generateRecord } from '../../src/tasks/registry.js';
import { Rng } from '../../src/util/rng.js';

const shared = await loadSharedModel('models/namm-tiny-llama');
const model = shared.model;
const ckpt = readNammCheckpoint('models/namm-tiny-llama.namm');
const rng = new Rng(5);
const members = [ckpt.params, ...[0.02, 0.06].map((s) => ckpt.params.map((p) => p + s * rng.normal()))];
const records = [
  generateRecord({ task: 'passkey', length: 300, tokenizer: model.tokenizer!, seed: 101 }),
  generateRecord({ task: 'niah_single_1', length: 1100, tokenizer: model.tokenizer!, seed: 102 }),
  generateRecord({ task: 'passkey', length: 1600, tokenizer: model.tokenizer!, seed: 103 }),
];

test('tokensBeforeFirstUpdate: whole chunks, up to the one holding the window\'s last query, leaving a prompt token', () => {
  assert.equal(tokensBeforeFirstUpdate(512, 128, 2000), 384);
  assert.equal(tokensBeforeFirstUpdate(512, 100, 2000), 500);
  assert.equal(tokensBeforeFirstUpdate(512, 512, 2000), 0);
  assert.equal(tokensBeforeFirstUpdate(256, 128, 2000), 128);
  assert.equal(tokensBeforeFirstUpdate(512, 128, 200), 128);
  assert.equal(tokensBeforeFirstUpdate(512, 128, 129), 128);
  assert.equal(tokensBeforeFirstUpdate(512, 128, 128), 0);
  assert.equal(tokensBeforeFirstUpdate(512, 128, 1), 0);
});

for (const score of ['task', 'likelihood'] as const) {
  test(`every member continuing a shared prefix scores exactly as a run from the start (${score})`, async () => {
    const settings: NammRunSettings = {
      scorer: 'bam', updateEvery: 512, selection: 'min-over-heads', cacheSize: null, taps: 'bf16', run: { score, chunkSize: 128 },
    };
    const prefixes = new PromptPrefixes();
    let evicted = 0;
    for (const record of records) {
      for (const params of [...members, null]) {
        const alone = await runEvaluationJob(model, record, params, ckpt.normStats, settings);
        const shared = await runEvaluationJob(model, record, params, ckpt.normStats, settings, prefixes);
        assert.deepEqual({ ...shared, seconds: 0 }, { ...alone, seconds: 0 }, `${record._id} ${params ? 'namm' : 'full'}`);
        if (alone.meanFraction < 1) evicted++;
      }
    }
    assert.ok(evicted >= 4, `the NAMMs evicted in ${evicted} runs`);
  });
}
