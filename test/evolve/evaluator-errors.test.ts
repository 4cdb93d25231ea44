/**
 * How an evaluator fails: a job's error names its record and member with one worker (the main thread) as with
 * several, and a worker that fails between batches (an error thrown outside a job, a message that cannot be read,
 * its exit) fails the next batch with its reason instead of crashing the process or leaving the batch waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { createEvaluator, loadSharedModel, type EvaluationBatch, type Evaluator, type NammRunSettings } from '../../src/evolve/workers.js';
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

/** The pool's threads (private): a test reaches them to make one fail as a real failure would. */
const threadsOf = (evaluator: Evaluator): Worker[] => (evaluator as unknown as { threads: Worker[] }).threads;

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

test('a worker that throws between batches fails the next batch with its error, not the process', { timeout: 60000 }, async () => {
  const evaluator = await createEvaluator(shared, settings, 2);
  try {
    assert.equal((await evaluator.run(goodBatch)).length, 2);
    // A message the worker cannot handle makes it throw outside any job: an uncaught error that ends the thread.
    const worker = threadsOf(evaluator)[1]!;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage(null);
    await exited;
    await assert.rejects(evaluator.run(goodBatch), /^Error: evaluation worker 1 crashed: .*null/);
    await assert.rejects(evaluator.run(goodBatch), /^Error: evaluation worker 1 crashed/, 'later batches too');
  } finally {
    await evaluator.close();
  }
});

test('a worker gone between batches fails the next batch instead of leaving it waiting', { timeout: 60000 }, async () => {
  const evaluator = await createEvaluator(shared, settings, 2);
  try {
    assert.equal((await evaluator.run(goodBatch)).length, 2);
    await threadsOf(evaluator)[0]!.terminate();
    await assert.rejects(evaluator.run(goodBatch), /^Error: evaluation worker 0 exited unexpectedly \(code 1\)$/);
  } finally {
    await evaluator.close();
  }
});

test('a message from a worker that cannot be read fails the next batch', { timeout: 60000 }, async () => {
  const evaluator = await createEvaluator(shared, settings, 2);
  try {
    // Node emits 'messageerror' when a message cannot be deserialised; nothing a worker sends here does that, so the
    // event is emitted as Node would.
    threadsOf(evaluator)[1]!.emit('messageerror', new Error('cannot deserialise the message'));
    await assert.rejects(evaluator.run(goodBatch), /^Error: evaluation worker 1 sent a message that could not be read: cannot deserialise the message$/);
  } finally {
    await evaluator.close();
  }
});
