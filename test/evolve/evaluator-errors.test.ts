/** How an evaluator fails: a job's error names its record and member with one worker (the main thread) as with several. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEvaluator, loadSharedModel, type EvaluationBatch, type NammRunSettings } from '../../src/evolve/workers.js';
import { zeroNammParams } from '../../src/memory/namm/index.js';
import type { TaskRecord } from '../../src/tasks/record.js';
import { MODEL, storyRecords } from './namm-helpers.js';

const shared = await loadSharedModel(MODEL);
const settings: NammRunSettings = { scorer: 'bam', updateEvery: 512, selection: 'min-over-heads', cacheSize: null, taps: 'bf16', run: { maxPromptTokens: 1000 } };
const params = [zeroNammParams('bam'), zeroNammParams('bam')];
/** A short record that runs in a moment. */
const short: TaskRecord = { ...storyRecords(1)[0]!, _id: 'story-short', context: 'Lily went to the park with a ball. Lily was very happy.' };
/** A record whose question alone is longer than the 1000-token prompt budget: every job on it fails. */
const longQuestion: TaskRecord = { ...short, _id: 'story-long-question', input: 'Where did the little dog go? '.repeat(200) };
const goodBatch: EvaluationBatch = { records: [short], params, normStats: null, jobs: [{ record: 0, member: null }, { record: 0, member: 1 }] };

test('a failing job names its record and member with one worker as with two', { timeout: 60000 }, async () => {
  const batch: EvaluationBatch = { records: [short, longQuestion], params, normStats: null, jobs: [{ record: 1, member: 1 }] };
  const because = 'record story-long-question: the question alone \\(\\d+ tokens\\) does not fit a 1000-token prompt budget \\(maxPromptTokens\\)';
  for (const [workers, who] of [[1, 'evaluation'], [2, 'evaluation worker \\d']] as const) {
    const evaluator = await createEvaluator(shared, settings, workers);
    try {
      await assert.rejects(evaluator.run(batch), new RegExp(`^Error: ${who} failed \\(record story-long-question, member 1\\): ${because}$`));
    } finally {
      await evaluator.close();
    }
  }
  const inline = await createEvaluator(shared, settings, 1);
  await assert.rejects(inline.run({ ...batch, jobs: [{ record: 1, member: null }] }), /^Error: evaluation failed \(record story-long-question, full cache\): /);
  // The main thread's evaluator goes on after a failed job (nothing of it is left over).
  assert.equal((await inline.run(goodBatch)).length, 2);
});
