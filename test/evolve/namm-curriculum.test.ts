import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { curriculumFingerprints, loadCurriculum, parseCurriculum, resolveTaskPools, stableJson, MIN_TRAINING_SEED } from '../../src/evolve/curriculum.js';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { loadModel } from '../../src/models/model.js';
import { recordPrompt } from '../../src/eval/runner.js';
import type { TaskRecord } from '../../src/tasks/record.js';
import { MODEL, storyRecords, tinyCurriculum, withTempDir, writeTinyCurriculum } from './namm-helpers.js';

const passkey = { task: 'passkey', lengths: [700], samples: 4, seed: MIN_TRAINING_SEED };
const oneStage = (tasks: unknown[], extra: Record<string, unknown> = {}) => ({ stages: [{ name: 's', generations: 2, samplesPerTask: 2, tasks, ...extra }] });

test('a minimal curriculum gets the reference defaults; addTasks inherits the previous stage\'s tasks', () => {
  const c = parseCurriculum({
    stages: [
      { generations: 3, samplesPerTask: 2, tasks: [passkey] },
      { name: 'mix', generations: 2, samplesPerTask: 2, addTasks: [{ task: 'vt', lengths: [800, 900], samples: 1, seed: 2_000_000 }] },
      { name: 'only-vt', generations: 1, samplesPerTask: 1, tasks: [{ task: 'vt', lengths: [800, 900], samples: 1, seed: 2_000_000 }] },
    ],
  }, 'c.json', '/base');
  assert.deepEqual(c.cma, { popSize: 32, initSigma: 0.065, eliteRatio: 0.5, variant: 'full', mode: 'fast' });
  assert.deepEqual(c.namm, { updateEvery: 512, selection: 'min-over-heads', cacheSize: null, taps: 'bf16' });
  assert.deepEqual(c.fitness, { normalisation: 'guarded', cachePenalty: 0 });
  assert.equal(c.seed, 0);
  assert.deepEqual(c.stages.map((s) => s.name), ['stage1', 'mix', 'only-vt']);
  assert.deepEqual(c.stages.map((s) => s.tasks.map((t) => t.name)), [['passkey'], ['passkey', 'vt'], ['vt']]);
  assert.deepEqual(c.stages[1]!.tasks[1], { kind: 'generated', name: 'vt', task: 'vt', lengths: [800, 900], samples: 1, seed: 2_000_000 });
  const jsonl = parseCurriculum(oneStage([{ jsonl: 'data/x.jsonl', limit: 5 }]), 'c.json', '/base').stages[0]!.tasks[0];
  assert.deepEqual(jsonl, { kind: 'jsonl', name: 'x', path: '/base/data/x.jsonl', limit: 5 });
});

test('generated tasks that share a task and seed are fine at other lengths, or with another seed or haystack', () => {
  for (const other of [{ lengths: [900] }, { seed: MIN_TRAINING_SEED + 1 }, { haystack: 'essay' }]) {
    const c = parseCurriculum(oneStage([passkey, { ...passkey, name: 'other', ...other }]), 'c.json');
    assert.deepEqual(c.stages[0]!.tasks.map((t) => t.name), ['passkey', 'other']);
  }
});

test('curriculum validation names the place and the reason', () => {
  const bad = (value: unknown, pattern: RegExp): void => assert.throws(() => parseCurriculum(value, 'c.json'), pattern);
  bad([], /c\.json: \(top level\): must be a JSON object/);
  bad({ stages: [], seeds: 1 }, /\(top level\): unknown key "seeds"/);
  // A stage name names its .namm file: a long one ran the whole stage and then failed with ENAMETOOLONG, on every resume.
  bad(oneStage([passkey], { name: 'x'.repeat(101) }), /^Error: c\.json: stages\[0\]\.name: must be at most 100 characters \(it names the stage's \.namm file\), got 101$/);
  parseCurriculum(oneStage([passkey], { name: 'x'.repeat(100) }), 'c.json');
  // A pool size typo generated for hours before anything was said.
  bad(oneStage([{ ...passkey, samples: 2_000_000 }]), /stages\[0\]\.tasks\[0\]\.samples: must be at most 65536 per length/);
  // One file under two names counted its prompts twice (two generated tasks that would are refused too).
  bad(oneStage([{ jsonl: 'd.jsonl', name: 'a' }, { jsonl: './d.jsonl', name: 'b', limit: 3 }]), /^Error: c\.json: stages\[0\]: tasks "a" and "b" both read .*d\.jsonl, whose prompts would count twice; list the file once$/);
  bad({ stages: [] }, /stages: must be a non-empty list/);
  bad(oneStage([{ ...passkey, seed: 42 }]), /stages\[0\]\.tasks\[0\]\.seed: evolution seeds must be ≥ 2000000 so that its prompts never overlap evaluation prompts \(seeds below 1,000,000\) or the model trainer's samples/);
  bad(oneStage([{ task: 'passkey', lengths: [700], samples: 4 }]), /stages\[0\]\.tasks\[0\]\.seed: is required/);
  bad(oneStage([{ ...passkey, task: 'nope' }]), /stages\[0\]\.tasks\[0\]: unknown task "nope"; known tasks: niah_single_1/);
  bad(oneStage([{ ...passkey, lengths: [] }]), /lengths: must be a non-empty list/);
  bad(oneStage([{ ...passkey, lenghts: [700] }]), /tasks\[0\]: unknown key "lenghts"/);
  bad(oneStage([{ file: "x.jsonl" }]), /tasks\[0\]: unknown key "file" \(valid: task, name, lengths, samples, seed, haystack; a task read from a file: jsonl, name, limit\)/);
  bad(oneStage([{ ...passkey, samples: 1 }]), /samplesPerTask: 2 prompts per generation cannot be drawn without replacement from task "passkey"'s pool of 1/);
  bad(oneStage([passkey, passkey]), /task name "passkey" appears twice/);
  bad(oneStage([passkey, { ...passkey, name: 'again', lengths: [900, 700] }]),
    /stages\[0\]: tasks "passkey" and "again" generate the same prompts \(task passkey, seed 2000000, length 700\), which would count twice; give one of them another seed/);
  bad({ stages: [{ generations: 1, samplesPerTask: 1, addTasks: [passkey] }] }, /stages\[0\]\.addTasks: the first stage has no previous tasks/);
  bad({ stages: [{ generations: 1, samplesPerTask: 1, tasks: [passkey], addTasks: [passkey] }] }, /give exactly one of "tasks"/);
  bad({ stages: [{ name: 'a', generations: 1, samplesPerTask: 1, tasks: [passkey] }, { name: 'a', generations: 1, samplesPerTask: 1, tasks: [passkey] }] }, /duplicate stage name "a"/);
  bad({ stages: [{ generations: 1, samplesPerTask: 1, tasks: [passkey] }, { generations: 1, samplesPerTask: 1, tasks: [{ ...passkey, lengths: [900] }] }] },
    /stages\[1\]\.tasks\[0\]: task "passkey" is defined differently in stages\[0\]\.tasks; one name, one prompt pool/);
  bad(oneStage([passkey], { generations: -1 }), /generations: must be an integer ≥ 0/);
  bad(oneStage([passkey], { samplesPerTask: 0 }), /samplesPerTask: must be an integer ≥ 1/);
  bad({ ...oneStage([passkey]), cma: { popSize: 1 } }, /cma\.popSize: must be an integer ≥ 2/);
  bad({ ...oneStage([passkey]), cma: { variant: 'diagonal' } }, /cma\.variant: must be one of full, separable/);
  bad({ ...oneStage([passkey]), cma: { initSigma: 0 } }, /cma\.initSigma: must be a number > 0/);
  bad({ ...oneStage([passkey]), namm: { updateEvery: 500 } }, /namm\.updateEvery: must be a multiple of 16/);
  bad({ ...oneStage([passkey]), namm: { updateEvery: 2 ** 20 } }, /namm\.updateEvery: must be at most 65536/);
  bad({ ...oneStage([passkey]), cma: { popSize: 1e9 } }, /cma\.popSize: must be at most 4096/);
  bad({ ...oneStage([passkey]), fitness: { normalisation: 'raw' } }, /fitness\.normalisation: must be one of guarded, reference/);
  bad({ ...oneStage([passkey]), run: { maxPromptTokens: 1.5 } }, /run\.maxPromptTokens: must be an integer ≥ 2/);
});

test('loadCurriculum: unreadable and non-JSON files are clear errors', () => withTempDir(async (dir) => {
  assert.throws(() => loadCurriculum(join(dir, 'missing.json')), /cannot read curriculum .*missing\.json/);
  await writeFile(join(dir, 'broken.json'), '{ "stages": [');
  assert.throws(() => loadCurriculum(join(dir, 'broken.json')), /broken\.json: not valid JSON/);
}));

test('resolveTaskPools: generated pools sized in the model\'s tokens, JSONL pools relative to the file, pool-size checks', () => withTempDir(async (dir) => {
  const path = await writeTinyCurriculum(dir);
  const c = loadCurriculum(path);
  const tokenizer = await loadTokenizer(MODEL);
  const pools = resolveTaskPools(c, tokenizer);
  assert.deepEqual([...pools.keys()], ['passkey', 'story']);
  const pk = pools.get('passkey')!;
  assert.equal(pk.length, 3);
  assert.equal(new Set(pk.map((r) => r._id)).size, 3);
  for (const r of pk) assert.ok(r.length > 680 && r.length + 8 <= 700, `passkey prompt of ${r.length} tokens fits 700 with its answer`);
  assert.deepEqual(pools.get('story')!.map((r) => r._id), storyRecords(4).map((r) => r._id));
  // The same definition always gives the same pool (no hidden randomness).
  assert.deepEqual(resolveTaskPools(c, tokenizer).get('passkey'), pk);

  await writeFile(join(dir, 'small.json'), JSON.stringify({ ...tinyCurriculum(), stages: [{ name: 'x', generations: 1, samplesPerTask: 5, tasks: [{ jsonl: 'stories.jsonl' }] }] }));
  assert.throws(() => resolveTaskPools(loadCurriculum(join(dir, 'small.json')), tokenizer),
    /stage "x" samples 5 prompts per generation but task "stories" has only 4 records/);
}));

test('resolveTaskPools: a record of a later stage that cannot run is refused up front, naming the stage, task, record and file', () => withTempDir(async (dir) => {
  const path = await writeTinyCurriculum(dir);
  // The third story's question alone is longer than the curriculum's 1000-token prompt budget.
  const stories = storyRecords(4);
  stories[2] = { ...stories[2]!, _id: 'story-long-question', input: 'Where did the little dog go? '.repeat(200) };
  await writeFile(join(dir, 'stories.jsonl'), stories.map((r) => JSON.stringify(r) + '\n').join(''));
  const c = loadCurriculum(path);
  const model = await loadModel(MODEL);
  const check = (record: TaskRecord): void => { recordPrompt(model, record, { maxPromptTokens: c.run.maxPromptTokens! }); };
  assert.throws(() => resolveTaskPools(c, model.tokenizer!, Infinity, check), (err: Error) => {
    assert.match(err.message, /curriculum\.json: stage "stories", task "story": record 3 of .*stories\.jsonl \(_id story-long-question\) cannot run: record story-long-question: the question alone \(\d+ tokens\) does not fit a 1000-token prompt budget \(maxPromptTokens\)/);
    return true;
  });
  // Without the check the pools resolve as before (the record fails only when it is run).
  assert.equal(resolveTaskPools(c, model.tokenizer!).get('story')!.length, 4);
}));

test('fingerprints change with what a fitness means, not with generation counts', () => {
  const base = parseCurriculum(tinyCurriculum(), 'c.json');
  const more = parseCurriculum({ ...tinyCurriculum(), stages: (tinyCurriculum().stages as Record<string, unknown>[]).map((s) => ({ ...s, generations: 9 })) }, 'c.json');
  assert.deepEqual(curriculumFingerprints(more), curriculumFingerprints(base));
  const penalty = parseCurriculum({ ...tinyCurriculum(), fitness: { cachePenalty: 0.5 } }, 'c.json');
  assert.notEqual(curriculumFingerprints(penalty).settings, curriculumFingerprints(base).settings);
  const samples = parseCurriculum({ ...tinyCurriculum(), stages: (tinyCurriculum().stages as Record<string, unknown>[]).map((s, i) => (i === 1 ? { ...s, samplesPerTask: 1 } : s)) }, 'c.json');
  assert.deepEqual(curriculumFingerprints(samples).stages.map((h, i) => h === curriculumFingerprints(base).stages[i]), [true, false]);
  // The taps change what a fitness means; fp32 taps (what runs before the option read) keep the old fingerprint.
  const fp32 = parseCurriculum({ ...tinyCurriculum(), namm: { taps: 'fp32' } }, 'c.json');
  assert.notEqual(curriculumFingerprints(fp32).settings, curriculumFingerprints(base).settings);
  const { taps: _taps, ...nammBefore } = fp32.namm;
  const { score: _score, contextWindow: _cw, metricOptions: _mo, ...runBefore } = fp32.run; // the default score, window and metrics are left out as well
  assert.deepEqual(fp32.run.metricOptions, {});
  assert.equal(fp32.run.score, 'task');
  assert.equal(fp32.run.contextWindow, null);
  const settingsBefore = createHash('sha256').update(stableJson({ namm: nammBefore, run: runBefore, fitness: fp32.fitness, calibration: fp32.calibration })).digest('hex').slice(0, 16);
  assert.equal(curriculumFingerprints(fp32).settings, settingsBefore);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), namm: { taps: 'fp16' } }, 'c.json'), /namm\.taps/);
  // A context window for the prompt budget (the reference's 32,768 − max_len) changes what a fitness means.
  const windowed = parseCurriculum({ ...tinyCurriculum(), run: { contextWindow: 32768 } }, 'c.json');
  assert.equal(windowed.run.contextWindow, 32768);
  assert.notEqual(curriculumFingerprints(windowed).settings, curriculumFingerprints(base).settings);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), run: { contextWindow: 4096, maxPromptTokens: 1000 } }, 'c.json'),
    /^Error: c\.json: run: contextWindow and maxPromptTokens both set the prompt budget; give one of them$/);
  // Metric variants (as eval's --metric-option) change what a fitness means; unknown ones are refused by name.
  const corrected = parseCurriculum({ ...tinyCurriculum(), run: { metricOptions: { rougeRecursion: 'corrected' } } }, 'c.json');
  assert.deepEqual(corrected.run.metricOptions, { rougeRecursion: 'corrected' });
  assert.notEqual(curriculumFingerprints(corrected).settings, curriculumFingerprints(base).settings);
  assert.equal(curriculumFingerprints(parseCurriculum({ ...tinyCurriculum(), run: { ...(tinyCurriculum().run as object | undefined), metricOptions: {} } }, 'c.json')).settings, curriculumFingerprints(base).settings);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), run: { metricOptions: { rouge: 'x' } } }, 'c.json'), /^Error: c\.json: run\.metricOptions: unknown metric option "rouge"/);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), run: { metricOptions: { rougeRecursion: 'fixed' } } }, 'c.json'), /^Error: c\.json: run\.metricOptions: metric option rougeRecursion/);
  // Validation changes where stages end: on (the default, every 10 on all prompts) it is part of the settings.
  const { validation: _v, ...noValidation } = tinyCurriculum();
  const validated = parseCurriculum(noValidation, 'c.json');
  assert.deepEqual(validated.validation, { every: 10, limit: null });
  assert.notEqual(curriculumFingerprints(validated).settings, curriculumFingerprints(base).settings);
  assert.notEqual(curriculumFingerprints(parseCurriculum({ ...tinyCurriculum(), validation: { every: 10, limit: 5 } }, 'c.json')).settings, curriculumFingerprints(validated).settings);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), validation: { every: -1 } }, 'c.json'), /validation\.every: must be an integer ≥ 0, got -1/);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), validation: { every: 10, limit: 0 } }, 'c.json'), /validation\.limit: must be an integer ≥ 1/);
  assert.throws(() => parseCurriculum({ ...tinyCurriculum(), validation: { each: 10 } }, 'c.json'), /validation: unknown key "each"/);
});

test('the shipped example curricula are valid; the tinystories one resolves on the tinystories tokenizer', async () => {
  for (const name of ['evolve-tinystories.json', 'evolve-incremental.json', 'evolve-longbench.json', 'evolve-tiny-llama.json']) {
    const c = loadCurriculum(join('configs', name));
    assert.ok(c.stages.length >= 2, `${name} has stages`);
    assert.ok(c.stages.every((s, i) => i === 0 || s.tasks.length > c.stages[i - 1]!.tasks.length), `${name}: later stages add tasks`);
  }
  // The reference's LongBench truncation: 32,768 tokens less each task's answer (maxPromptTokens 32,000 cut 640–736
  // tokens more than it does).
  const lb = loadCurriculum('configs/evolve-longbench.json');
  assert.equal(lb.run.contextWindow, 32768);
  assert.equal(lb.run.maxPromptTokens, null);
  const c = loadCurriculum('configs/evolve-tinystories.json');
  const pools = resolveTaskPools(c, await loadTokenizer(MODEL));
  assert.deepEqual([...pools].map(([name, records]) => [name, records.length]), [['passkey', 32], ['niah_single_1', 32], ['vt', 16], ['niah_multikey_1', 16]]);
});

test('a length given twice is refused: it would put every prompt into the pool twice', () => withTempDir(async () => {
  const twice = oneStage([{ ...passkey, lengths: [700, 700], samples: 2 }], { samplesPerTask: 4 });
  assert.throws(() => parseCurriculum(twice, 'c.json'), /c\.json: stages\[0\]\.tasks\[0\]\.lengths\[1\]: length 700 appears twice/);
  // Distinct lengths are a pool of distinct prompts, every one drawn at most once per generation.
  const c = parseCurriculum(oneStage([{ ...passkey, lengths: [700, 720], samples: 2 }], { samplesPerTask: 4 }), 'c.json');
  const pool = resolveTaskPools(c, await loadTokenizer(MODEL)).get('passkey')!;
  assert.equal(new Set(pool.map((r) => r._id)).size, 4);
}));

test('calibration and validation subsets are spread over a pool (its first records were all of its shortest length)', async () => {
  const { spreadSubset } = await import('../../src/evolve/namm-evolution.js');
  const pool = Array.from({ length: 12 }, (_, i) => i); // 3 lengths × 4 records, length-major
  assert.deepEqual(spreadSubset(pool, 3), [2, 6, 10]);
  assert.deepEqual(spreadSubset(pool, 6), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(spreadSubset(pool, 12), pool);
  assert.deepEqual(spreadSubset(pool, 50), pool);
  assert.deepEqual(spreadSubset(pool, null), pool);
  assert.deepEqual(spreadSubset(pool, 1), [6]);
});
