/** `namm evolve` end to end on the tinystories model: files, a loadable .namm, worker-count independence, resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { collectWarnings } from '../helpers/warnings.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evolveNamm, UNFINISHED_EVOLUTION_MARKER, type EvolveNammResult, type MemberReport } from '../../src/evolve/namm-evolution.js';
import { loadEvolutionCheckpoint, type GenerationRecord } from '../../src/evolve/loop.js';
import { formatDuration } from '../../src/evolve/progress.js';
import { loadNammPolicy, readNammCheckpoint } from '../../src/memory/namm/index.js';
import { loadModel } from '../../src/models/model.js';
import { readRunLock, RUN_LOCK_FILE } from '../../src/util/run-lock.js';
import { runRecord } from '../../src/eval/runner.js';
import { MODEL, storyRecords, tinyCurriculum, withTempDir, writeTinyCurriculum } from './namm-helpers.js';

const CLI_CHILD = fileURLToPath(new URL('./namm-cli-child.ts', import.meta.url));
const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const readJsonl = async <T>(path: string): Promise<T[]> => (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
const fitnessOf = (history: GenerationRecord[]) => history.map((r) => [r.stage, r.best, r.mean, r.median, r.sigma, r.info?.kv]);

let single: EvolveNammResult | null = null;
let singleReferences: unknown = null;

test('a tiny evolution (population 4, 2 stages of 1 generation) writes a loadable .namm and its reports', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  const out = join(dir, 'run');
  // While the run goes it holds the folder's lock: a second run on the folder is refused (settled into its error now).
  const lockPids: (number | undefined)[] = [], second: Promise<unknown>[] = [];
  const r = await evolveNamm({
    curriculum: config, model: MODEL, out, workers: 1, progress: false,
    onGeneration: () => {
      lockPids.push(readRunLock(out)?.pid);
      second.push(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false }).then(() => null, (e: unknown) => e));
    },
  });
  single = r;
  assert.deepEqual(lockPids, [process.pid, process.pid]);
  for (const p of second) assert.match(String(await p), /is in use by another run: this process holds its lock/);
  assert.ok(!existsSync(join(out, RUN_LOCK_FILE)), 'the lock is gone after the run');
  assert.equal(r.generation, 2);
  assert.deepEqual(r.history.map((h) => h.stage), ['retrieval', 'stories']);
  for (const f of ['checkpoint.bin', 'log.jsonl', 'mean.f32', 'members.jsonl', 'reference-scores.json', 'curriculum.json', 'fitness.svg',
    'stage-1-retrieval.namm', 'stage-2-stories.namm', 'evolved.namm']) assert.ok(existsSync(join(out, f)), `${f} is written`);
  assert.ok(!existsSync(join(out, UNFINISHED_EVOLUTION_MARKER)), 'the marker of a run without a checkpoint went with the first one');

  // The deployed policy is the CMA-ES mean, with the calibrated statistics and provenance.
  const ckpt = readNammCheckpoint(r.nammPath);
  assert.deepEqual(bytes(ckpt.params), bytes(r.mean));
  assert.deepEqual(bytes(ckpt.params), await readFile(join(out, 'mean.f32')));
  assert.ok(ckpt.params.some((v) => v !== 0), 'the mean moved away from the all-zero start');
  assert.ok(ckpt.normStats && ckpt.normStats.count > 0, 'normalisation statistics are stored');
  assert.deepEqual(ckpt.normStats, r.normStats);
  assert.equal(ckpt.updateEvery, 512);
  assert.equal(ckpt.taps, 'bf16', "the curriculum's default: the reference's bf16 probabilities");
  const prov = ckpt.provenance as Record<string, any>;
  assert.equal(prov.by, 'namm evolve');
  assert.equal(prov.seed, 11);
  assert.equal(prov.generations, 2);
  assert.deepEqual(prov.curriculum.stages.map((s: { name: string; tasks: string[] }) => [s.name, s.tasks]), [['retrieval', ['passkey']], ['stories', ['passkey', 'story']]]);
  assert.equal(prov.fitness.best, r.history[1]!.best);
  const stage1 = readNammCheckpoint(join(out, 'stage-1-retrieval.namm'));
  assert.notDeepEqual(bytes(stage1.params), bytes(ckpt.params));
  assert.deepEqual(stage1.normStats, ckpt.normStats);

  // It loads as a policy and runs a prompt past the model's 512 positions.
  const model = await loadModel(MODEL);
  const run = await runRecord(model, storyRecords(1)[0]!, loadNammPolicy(r.nammPath), { maxPromptTokens: 1000 });
  assert.ok(run.promptTokens > 512 && run.score >= 0 && run.score <= 1, `ran ${run.promptTokens} tokens`);

  // members.jsonl: per generation every member's fitness and KV fraction, consistent with log.jsonl.
  const members = await readJsonl<MemberReport>(join(out, 'members.jsonl'));
  assert.deepEqual(members, r.members);
  members.forEach((m, g) => {
    assert.equal(m.fitness.length, 4);
    assert.ok(m.kv.every((f) => f > 0 && f <= 1), `KV fractions in (0, 1]: ${m.kv.join(', ')}`);
    assert.equal(Math.max(...m.fitness), r.history[g]!.best);
    assert.equal(r.history[g]!.info!.kv, m.kv.reduce((s, v) => s + v, 0) / 4);
  });
  // The full cache never finds this model's passkeys: guarded mode leaves passkey out, and generation 0 (passkey
  // only) falls back to raw scores minus the cache penalty.
  assert.deepEqual(members[0]!.skippedTasks, ['passkey']);
  assert.equal(members[0]!.rawFallback, true);
  members[0]!.fitness.forEach((f, j) => {
    const raw = f + 0.25 * members[0]!.kv[j]!;
    assert.ok(raw >= -1e-12 && raw <= 1 + 1e-12, `member ${j}: raw mean score ${raw} in [0, 1]`);
  });
  assert.deepEqual(members[1]!.skippedTasks, ['passkey']);
  assert.equal(members[1]!.rawFallback, false, 'the sampled stories have a non-zero full-cache mean');

  // Every sampled prompt got exactly one full-cache run, cached on disk.
  const refs = JSON.parse(await readFile(join(out, 'reference-scores.json'), 'utf8'));
  singleReferences = refs.entries;
  const entries = Object.values(refs.entries) as { dataset: string; score: number }[];
  assert.equal(entries.length, members.reduce((s, m) => s + m.referenceRuns, 0));
  assert.ok(entries.some((e) => e.dataset === 'story' && e.score > 0), 'some story prompt scores with the full cache');
  assert.ok((await readFile(join(out, 'fitness.svg'), 'utf8')).includes('<path d="M'), 'the fitness curve is drawn');

  // Reruns in the same directory need --resume; a resume must keep the fitness settings.
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, progress: false }), /already holds an evolution run; pass resume/);
  await writeFile(join(dir, 'changed.json'), JSON.stringify(tinyCurriculum({ fitness: { cachePenalty: 0.5 } })));
  await assert.rejects(evolveNamm({ curriculum: join(dir, 'changed.json'), model: MODEL, out, resume: true, progress: false }), /settings differ from those the run/);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, seed: 3, progress: false }), /uses seed 11; cannot resume it with seed 3/);
  // A seed edited in the curriculum is refused too (it used to be ignored: the run went on with its own).
  await writeFile(join(dir, 'reseeded.json'), JSON.stringify(tinyCurriculum({ seed: 12 })));
  await assert.rejects(evolveNamm({ curriculum: join(dir, 'reseeded.json'), model: MODEL, out, resume: true, progress: false }),
    /the curriculum's seed is 12, but the run in .* started from one whose seed was 11 \(it runs with seed 11\); a run keeps its seed/);
}));

test('1 and 2 workers give the same fitness values bit for bit', { timeout: 120000 }, () => withTempDir(async (dir) => {
  assert.ok(single, 'the single-worker run of the previous test exists');
  const config = await writeTinyCurriculum(dir);
  const r = await evolveNamm({ curriculum: config, model: MODEL, out: join(dir, 'run'), workers: 2, progress: false });
  assert.deepEqual(r.members.map((m) => [m.fitness, m.kv, m.skippedTasks]), single.members.map((m) => [m.fitness, m.kv, m.skippedTasks]));
  assert.deepEqual(fitnessOf(r.history), fitnessOf(single.history));
  assert.deepEqual(bytes(r.mean), bytes(single.mean));
  assert.deepEqual(r.normStats, single.normStats);
}));

function runCli(args: string[], killAfterGeneration?: { generation: number; delayMs: number }):
  Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string; pid: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '', armed = false;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // The progress line of a generation is printed after that generation's checkpoint is on disk.
      if (killAfterGeneration && !armed && stderr.includes(` gen ${killAfterGeneration.generation}/`)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), killAfterGeneration.delayMs);
      }
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, stdout, pid: child.pid! }));
  });
}

test('namm evolve --workers 2: SIGKILL mid-generation, then --resume, ends bit-identical to an uninterrupted run', { timeout: 180000 }, () => withTempDir(async (dir) => {
  assert.ok(single, 'the uninterrupted run of the first test exists');
  const config = await writeTinyCurriculum(dir);
  const out = join(dir, 'run');
  const args = ['--config', config, '--model', MODEL, '--out', out, '--workers', '2'];
  const killed = await runCli(args, { generation: 1, delayMs: 400 });
  assert.equal(killed.signal, 'SIGKILL', `the run was killed before finishing (exit ${killed.code}): ${killed.stderr}`);
  assert.match(killed.stderr, /\[retrieval\] gen 1\/2 best \S+ mean \S+ median \S+ σ \S+ kv \S+ kvBest \S+ \| .* elapsed, ETA/);
  assert.equal((await loadEvolutionCheckpoint(out)).cma.generation, 1, 'one generation was checkpointed, the second was lost');
  // A fresh run: the main thread's calibration passes the context too, and the workers' warnings add nothing to it.
  assert.equal((killed.stderr.match(/NAMM_PAST_CONTEXT/g) ?? []).length, 1, killed.stderr);
  assert.ok(!existsSync(join(out, 'evolved.namm')), 'no final .namm before the run ends');

  // The killed run's lock goes with it (its guardian removes it; were it left, the resume would take it over).
  const lock = readRunLock(out);
  assert.ok(lock === null || lock.pid === killed.pid);
  const resumed = await runCli([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(!existsSync(join(out, RUN_LOCK_FILE)), 'the resumed run removed the lock at its end');
  assert.match(resumed.stdout, /wrote .*evolved\.namm \(CMA-ES mean after 2 generations/);
  assert.doesNotMatch(resumed.stderr, /parameters are all zero/);
  // The prompts pass the model's 512-token context: the warning comes once, from the main thread, not once per worker.
  assert.equal((resumed.stderr.match(/NAMM_PAST_CONTEXT/g) ?? []).length, 1, resumed.stderr);
  assert.deepEqual(bytes(readNammCheckpoint(join(out, 'evolved.namm')).params), bytes(single.mean));
  assert.deepEqual(fitnessOf(await readJsonl<GenerationRecord>(join(out, 'log.jsonl'))), fitnessOf(single.history));
  assert.deepEqual((await readJsonl<MemberReport>(join(out, 'members.jsonl'))).map((m) => m.fitness), single.members.map((m) => m.fitness));
  // The reference scores were reused, not recomputed differently: the same entries as the uninterrupted run.
  const refs = JSON.parse(await readFile(join(out, 'reference-scores.json'), 'utf8'));
  assert.deepEqual(refs.entries, singleReferences);

  const again = await runCli(args);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /namm: .* already holds an evolution run/);
}));

test('a run resumed inside its second stage, or with that stage lengthened, continues exactly as one uninterrupted run', { timeout: 180000 }, () => withTempDir(async (dir) => {
  const longer = (generations: number) => tinyCurriculum({
    stages: [
      { name: 'retrieval', generations: 1, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] },
      { name: 'stories', generations, samplesPerTask: 2, addTasks: [{ jsonl: 'stories.jsonl', name: 'story' }] },
    ],
  });
  await writeTinyCurriculum(dir);
  const write = async (name: string, generations: number) => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(longer(generations)));
    return path;
  };
  const two = await write('two.json', 2), three = await write('three.json', 3);
  const straight = await evolveNamm({ curriculum: three, model: MODEL, out: join(dir, 'straight'), progress: false });
  // Stage 2 checkpointed one generation (stage index 1), then the run stopped; resuming it used to fail because
  // the first stage prefix alone cannot take a checkpoint from stage 2.
  const out = join(dir, 'staged');
  await evolveNamm({ curriculum: two, model: MODEL, out, progress: false });
  const stage1 = await readFile(join(out, 'stage-1-retrieval.namm'));
  const resumed = await evolveNamm({ curriculum: three, model: MODEL, out, resume: true, progress: false });
  assert.equal(resumed.generation, 4);
  assert.deepEqual(fitnessOf(resumed.history), fitnessOf(straight.history));
  assert.deepEqual(bytes(resumed.mean), bytes(straight.mean));
  assert.deepEqual(resumed.stageFiles.map((f) => f.slice(out.length + 1)), ['stage-1-retrieval.namm', 'stage-2-stories.namm']);
  assert.deepEqual(await readFile(join(out, 'stage-1-retrieval.namm')), stage1, 'the finished stage 1 file is left as it was');
  assert.deepEqual(bytes(readNammCheckpoint(join(out, 'stage-2-stories.namm')).params), bytes(straight.mean));

  // Stage 2 has run 3 generations: a curriculum giving it 2, or without it, is refused before anything runs.
  await assert.rejects(evolveNamm({ curriculum: two, model: MODEL, out, resume: true, progress: false }),
    /stage 2 \("stories"\) of the run in .* has run 3 generations, but this run gives it 2: a resume cannot shorten a stage below the generations it has run \(give it at least 3\)/);
  const onlyFirst = join(dir, 'only-first.json');
  await writeFile(onlyFirst, JSON.stringify(tinyCurriculum({ stages: (longer(1).stages as unknown[]).slice(0, 1) })));
  await assert.rejects(evolveNamm({ curriculum: onlyFirst, model: MODEL, out, resume: true, progress: false }),
    /the run in .* has reached stage 2 \("stories"\), but this run gives 1 stage: a resume may add stages, not remove one the run has reached/);
  assert.equal((await loadEvolutionCheckpoint(out)).cma.generation, 4, 'the refused resumes ran nothing');
}));

test('validation of the mean: every stage ends in its best-scoring state, recorded in validation.jsonl and the .namm provenance', { timeout: 180000 }, () => withTempDir(async (dir) => {
  const stages = (g2: number) => [
    { name: 'retrieval', generations: 2, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] },
    { name: 'stories', generations: g2, samplesPerTask: 2, addTasks: [{ jsonl: 'stories.jsonl', name: 'story' }] },
  ];
  const config = await writeTinyCurriculum(dir, { validation: { every: 2, limit: 2 }, stages: stages(1) });
  const out = join(dir, 'run');
  const r = await evolveNamm({ curriculum: config, model: MODEL, out, progress: false });
  // Stage 1: its start and its end (generation 2); stage 2: its start (the state stage 1 ended in) and its end.
  assert.deepEqual(r.validations.map((v) => [v.stage, v.generation]), [['retrieval', 0], ['retrieval', 2], ['stories', 2], ['stories', 3]]);
  const lines = await readJsonl<{ stage: string; generation: number; score: number; prompts: number }>(join(out, 'validation.jsonl'));
  assert.deepEqual(lines.map((l) => [l.stage, l.generation, l.score]), r.validations.map((v) => [v.stage, v.generation, v.score]));
  assert.deepEqual(lines.map((l) => l.prompts), [2, 2, 4, 4], 'limit 2 prompts per task');
  const best = r.stageBest[1]!;
  const prov = readNammCheckpoint(r.nammPath).provenance as Record<string, any>;
  assert.deepEqual(prov.validation, { generation: best.generation, stageGeneration: best.stageGeneration, score: best.score, every: 2, limit: 2 });
  assert.deepEqual(bytes(readNammCheckpoint(r.nammPath).params), bytes(r.mean));
  assert.equal((readNammCheckpoint(join(out, 'stage-1-retrieval.namm')).provenance as Record<string, any>).validation.generation, r.stageBest[0]!.generation);

  // Lengthened, the run goes on without validating a recorded state again or repeating its lines.
  // A line lost meanwhile (the file edited, damaged) is said to be gone: the checkpoint keeps the score, not the line.
  await writeFile(config, JSON.stringify(tinyCurriculum({ validation: { every: 2, limit: 2 }, stages: stages(2) })));
  const validationFile = join(out, 'validation.jsonl');
  await writeFile(validationFile, (await readFile(validationFile, 'utf8')).split('\n').slice(1).join('\n'));
  const lost = collectWarnings('NAMM_VALIDATION_LINES_LOST');
  const more = await evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false }).finally(() => lost.stop());
  const warnings = (await lost.seen()).map((w) => w.message);
  assert.equal(more.generation, 4);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /validation\.jsonl lacks the lines of 1 of the 4 validations the checkpoint recorded \(stage\|generation retrieval\|0\)/);
  const after = await readJsonl<{ stage: string; generation: number }>(validationFile);
  assert.deepEqual(after.map((l) => [l.stage, l.generation]), more.validations.slice(1).map((v) => [v.stage, v.generation]));
  // A resume with other validation settings is refused.
  await writeFile(config, JSON.stringify(tinyCurriculum({ validation: { every: 3, limit: 2 }, stages: stages(2) })));
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false }), /settings differ from those the run/);
}));

test('log.jsonl\'s etaS and the progress line\'s ETA run to the end of the curriculum, validations included', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir, { validation: { every: 1, limit: 1 } });
  const out = join(dir, 'run');
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WritableStream;
  await evolveNamm({ curriculum: config, model: MODEL, out, progress: stream });
  const log = await readJsonl<GenerationRecord>(join(out, 'log.jsonl'));
  assert.deepEqual(log.map((r) => r.stage), ['retrieval', 'stories']);
  // After stage 1's only generation: stage 2's generation is left, and three validations (stage 1's end, stage 2's
  // start and end), at the times of that generation and of the one validation so far (stage 1's start).
  const g0 = log[0]!;
  const validated = g0.elapsedS - g0.timeS;
  assert.ok(validated > 0, 'the elapsed time holds the validation of the starting state');
  assert.ok(Math.abs(g0.etaS! - (g0.timeS + 3 * validated)) < 1e-9, `etaS ${g0.etaS} s, generation ${g0.timeS} s, validation ${validated} s`);
  assert.ok(log[1]!.etaS! > 0, 'the last generation leaves the validation of stage 2\'s end');
  const progress = lines.filter((l) => l.startsWith('[') && !l.includes('validating'));
  assert.equal(progress.length, 2);
  // The task pools' preparation, before anything else runs, says so too.
  assert.ok(lines.some((l) => l === 'preparing the prompts of 2 tasks and checking every record…\n'), lines.join(''));
  // Each validation (stage 1's start and end, stage 2's start and end) says so while it runs.
  assert.deepEqual(lines.filter((l) => l.includes('validating')).map((l) => l.trim()), [
    '[retrieval] validating the mean of generation 0 on 1 prompt…', '[retrieval] validating the mean of generation 1 on 1 prompt…',
    '[stories] validating the mean of generation 1 on 2 prompts…', '[stories] validating the mean of generation 2 on 2 prompts…',
  ]);
  assert.ok(progress[0]!.includes(`ETA ${formatDuration(g0.etaS)}`), progress[0]);
}));

test('a JSONL record of a later stage that cannot run fails the run before its first generation', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  // The last story's question alone is longer than the curriculum's 1000-token prompt budget: it could run only when
  // stage 2 draws it (or never, undrawn), after stage 1's generations.
  const stories = storyRecords(4);
  stories[3] = { ...stories[3]!, _id: 'story-long-question', input: 'Where did the little dog go? '.repeat(200) };
  await writeFile(join(dir, 'stories.jsonl'), stories.map((r) => JSON.stringify(r) + '\n').join(''));
  const out = join(dir, 'run');
  const generations: number[] = [];
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, progress: false, onGeneration: (r) => generations.push(r.generation) }),
    /curriculum\.json: stage "stories", task "story": record 4 of .*stories\.jsonl \(_id story-long-question\) cannot run: record story-long-question: the question alone \(\d+ tokens\) does not fit a 1000-token prompt budget/);
  assert.deepEqual(generations, []);
  assert.ok(!existsSync(join(out, 'checkpoint.bin')), 'no generation ran');
  // Records of one task scored by two metrics are refused before the run too (each record alone was fine).
  const mixed = storyRecords(4);
  mixed[3] = { ...mixed[3]!, metric: 'string_match_all' };
  await writeFile(join(dir, 'stories.jsonl'), mixed.map((r) => JSON.stringify(r) + '\n').join(''));
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out: join(dir, 'mixed'), progress: false }),
    /curriculum\.json: task "story": record story-3: dataset "story" is scored by string_match_part in record story-\d and by string_match_all here; a task's records need one metric/);
  // A generated task whose length is too small names its stage and task too (it said only the task's name).
  const short = await writeTinyCurriculum(dir, { stages: [
    { name: 'retrieval', generations: 1, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] },
    { name: 'short', generations: 1, samplesPerTask: 2, tasks: [{ task: 'kv_retrieval', lengths: [60], samples: 3, seed: 2_000_000 }] },
  ] });
  await assert.rejects(evolveNamm({ curriculum: short, model: MODEL, out: join(dir, 'short'), progress: false }),
    /curriculum\.json: stage "short", task "kv_retrieval": kv_retrieval: a length of 60 tokens is too small/);
}));

test('a resume keeps the CMA-ES mode the run was started with, without repeating it', { timeout: 120000 }, () => withTempDir(async (dir) => {
  const stage = (generations: number) => [{ name: 'retrieval', generations, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] }];
  const config = await writeTinyCurriculum(dir, { stages: stage(1) });
  const out = join(dir, 'run');
  await evolveNamm({ curriculum: config, model: MODEL, out, mode: 'reference', progress: false });
  await writeFile(config, JSON.stringify(tinyCurriculum({ stages: stage(2) })));
  // As the README's resume line: no --mode. The run's mode (not the curriculum's 'fast' default) goes on.
  const resumed = await evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false });
  assert.equal(resumed.generation, 2);
  assert.equal((await loadEvolutionCheckpoint(out)).cma.options.mode, 'reference');
  assert.equal((readNammCheckpoint(resumed.nammPath).provenance as Record<string, any>).cma.mode, 'reference');
  const straight = await evolveNamm({ curriculum: config, model: MODEL, out: join(dir, 'straight'), mode: 'reference', progress: false });
  assert.deepEqual(bytes(resumed.mean), bytes(straight.mean));
  // The checkpoint names the kernels the members were scored with; a resume on others says it is not bit-identical.
  const { getBackend } = await import('../../src/tensor/index.js');
  const { readCheckpointFile, writeCheckpointFile } = await import('../../src/evolve/checkpoint.js');
  const label = `${getBackend().name}/${getBackend().simd}`;
  const path = join(out, 'checkpoint.bin');
  const payload = Buffer.from(await readCheckpointFile(path));
  const at = payload.indexOf(`"backend":"${label}"`);
  assert.ok(at > 0, 'the backend is recorded');
  payload.write(`"backend":"${'z'.repeat(label.length)}"`, at); // another backend, the same length (the layout stays)
  // And the code it was scored by (version + source hash): a resume under other code says so too.
  const { codeIdentity } = await import('../../src/util/package.js');
  const codeAt = payload.indexOf(`"code":"${codeIdentity()}"`);
  assert.ok(codeAt > 0, 'the code identity is recorded');
  const otherCode = `9.9.9+${'0'.repeat(codeIdentity().length - 6)}`;
  payload.write(`"code":"${otherCode}"`, codeAt);
  await writeCheckpointFile(path, payload);
  await writeFile(config, JSON.stringify(tinyCurriculum({ stages: stage(3) })));
  const warnings: Error[] = [];
  const listen = (w: Error) => warnings.push(w);
  process.on('warning', listen);
  try {
    await evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false });
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listen);
  }
  assert.ok(warnings.some((w) => (w as Error & { code?: string }).code === 'NAMM_RESUME_BACKEND' && w.message.includes(`scored with the ${'z'.repeat(label.length)} kernels and continues with ${label}`)), warnings.map((w) => w.message).join('; '));
  assert.ok(warnings.some((w) => (w as Error & { code?: string }).code === 'NAMM_RESUME_CODE' && w.message.includes(`was scored by namm ${otherCode} and continues under ${codeIdentity()}, whose code differs`)), warnings.map((w) => w.message).join('; '));
  // A checkpoint of another model from other code: the refusal says the other version may read the files otherwise.
  const again = Buffer.from(await readCheckpointFile(path));
  const { loadSharedModel } = await import('../../src/evolve/workers.js');
  const fp = (await loadSharedModel(MODEL)).fingerprint;
  const fpAt = again.indexOf(`"model":"${fp}"`), codeAt2 = again.indexOf(`"code":"${codeIdentity()}"`);
  assert.ok(fpAt > 0 && codeAt2 > 0);
  again.write(`"model":"${'f'.repeat(fp.length)}"`, fpAt);
  await writeCheckpointFile(path, again);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false }), /evolved on another model \(fingerprint f+; .* is \w+\) \(if it is the model the run started on, the run may have loaded it with other --weights: give them\)$/);
  again.write(`"code":"${otherCode}"`, codeAt2);
  await writeCheckpointFile(path, again);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false }),
    new RegExp(`evolved on another model \\(fingerprint f+; .* is \\w+\\) \\(if it is the model the run started on, the run may have loaded it with other --weights: give them\\); the run was started by namm ${otherCode.replace(/[.+]/g, '\\$&')} and this is ${codeIdentity().replace(/[.+]/g, '\\$&')}, which may read the same model files as another config`));
  // Another mode is still refused, and a bad one before anything loads.
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, mode: 'fast', progress: false }), /has CMA-ES mode reference, this run asks for fast/);
  // Before the model loads (a model path that does not exist is not reached) and the pools are built.
  await assert.rejects(evolveNamm({ curriculum: config, model: join(dir, 'no-such-model'), out, resume: true, mode: 'fast', progress: false }), /has CMA-ES mode reference, this run asks for fast/);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, resume: true, mode: 'lazy' as 'fast', progress: false }), /mode must be 'reference' or 'fast', got lazy/);
  await assert.rejects(evolveNamm({ curriculum: config, model: 'no-such-model', out: ' ', progress: false }), /out must be the path of the run directory, got " "/);
  // A misspelt option ran the whole evolution on its default; callbacks and streams of the wrong type failed mid-run.
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, progress: false, wokers: 2 } as never), /^TypeError: evolveNamm: unknown option "wokers" \(did you mean "workers"\?\)/);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, progress: false, onGeneration: 5 as never }), /^TypeError: evolveNamm: onGeneration must be a function, got 5$/);
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out, progress: 'yes' as never }), /^TypeError: evolveNamm: progress must be true, false or a writable stream, got "yes"$/);
  // The curriculum as a plain object (the file's contents) is validated as the file is, and then runs as the file does.
  const plain = JSON.parse(readFileSync(config, 'utf8')) as Record<string, unknown>;
  await assert.rejects(evolveNamm({ curriculum: { ...plain, stage: [] } as never, model: MODEL, out, progress: false }), /evolveNamm: curriculum: \(top level\): unknown key "stage"/);
  await assert.rejects(evolveNamm({ curriculum: plain as never, model: MODEL, out, resume: true, mode: 'fast', progress: false }), /has CMA-ES mode reference, this run asks for fast/);
  await assert.rejects(evolveNamm({ curriculum: [] as never, model: MODEL, out, progress: false }), /evolveNamm: curriculum must be a curriculum: a file path, the file's contents as an object, or parseCurriculum's result, got an array/);
}));

for (const every of [1, 0]) test(`a run whose first stage has 0 generations (validation ${every ? 'on' : 'off'}) resumes`, { timeout: 120000 }, () => withTempDir(async (dir) => {
  const validation = { every, limit: 1 };
  const stages = (g2: number) => [
    { name: 'retrieval', generations: 0, samplesPerTask: 2, tasks: [{ task: 'passkey', lengths: [700], samples: 3, seed: 2_000_000 }] },
    { name: 'stories', generations: g2, samplesPerTask: 2, addTasks: [{ jsonl: 'stories.jsonl', name: 'story' }] },
  ];
  const config = await writeTinyCurriculum(dir, { validation, stages: stages(0) });
  const out = join(dir, 'run');
  const first = await evolveNamm({ curriculum: config, model: MODEL, out, progress: false });
  assert.equal(first.generation, 0);
  assert.ok(!existsSync(join(out, UNFINISHED_EVOLUTION_MARKER)), 'a run of 0 generations ends with a checkpoint, not as unfinished');
  // Its policy is the starting one, all zeros: the command says that it evicts nothing.
  const cli = await runCli(['--config', config, '--model', MODEL, '--out', join(dir, 'cli')]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stderr, /note: its parameters are all zero, the starting policy, which evicts nothing \(KV 100%\)/);
  // Its only checkpoint was written at the first stage's end: it must hold the run's state (statistics, seed).
  await writeFile(config, JSON.stringify(tinyCurriculum({ validation, stages: stages(1) })));
  const resumed = await evolveNamm({ curriculum: config, model: MODEL, out, resume: true, progress: false });
  assert.equal(resumed.generation, 1);
  assert.deepEqual(resumed.normStats, first.normStats);
}));
