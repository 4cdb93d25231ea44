import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, watch } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CmaEs } from '../../src/evolve/cmaes.js';
import { loadEvolutionCheckpoint, runEvolution, type GenerationRecord } from '../../src/evolve/loop.js';
import { formatProgress, ProgressLine } from '../../src/evolve/progress.js';
import { Rng } from '../../src/util/rng.js';
import { CHILD_SETUP, bigExtra, objective } from '../fixtures/evolve/evolution-child.js';

const CHILD = fileURLToPath(new URL('../fixtures/evolve/evolution-child.ts', import.meta.url));
const bytes = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sphere = async (pop: Float32Array[]) => ({ fitness: pop.map((x) => -x.reduce((s, v) => s + (v - 1) ** 2, 0)), info: { cache: 0.5 } });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'namm-evolve-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('runEvolution writes checkpoint, log.jsonl, mean/best files and the extra blob every generation', () => withDir(async (dir) => {
  const seen: number[] = [];
  const result = await runEvolution({
    dir, dim: 5, generations: 6, seed: 3, cmaOptions: { popSize: 8, initSigma: 0.5 }, progress: false,
    evaluate: async (pop, g) => { seen.push(g); assert.equal(pop.length, 8); assert.ok(pop[0] instanceof Float32Array); return sphere(pop); },
    extra: () => ({ norm: [1, 2, 3], generationsSeen: seen.length }),
  });
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
  const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as GenerationRecord);
  assert.deepEqual(lines.map((l) => l.generation), [0, 1, 2, 3, 4, 5]);
  for (const l of lines) {
    assert.ok(l.best >= l.median && l.best >= l.mean && l.sigma > 0 && l.timeS >= 0 && l.elapsedS >= l.timeS);
    assert.equal(l.info?.cache, 0.5);
  }
  assert.equal(lines[5]!.etaS, 0);
  const { cma, meta } = await loadEvolutionCheckpoint(dir);
  assert.equal(cma.generation, 6);
  assert.deepEqual(meta.extra, { norm: [1, 2, 3], generationsSeen: 6 });
  assert.deepEqual(bytes(cma.mean), bytes(result.cma.mean));
  const meanFile = new Float32Array((await readFile(join(dir, 'mean.f32'))).buffer.slice(0));
  assert.deepEqual(meanFile, result.mean);
  assert.deepEqual(new Float32Array((await readFile(join(dir, 'best.f32'))).buffer.slice(0)), result.best);
  // Without resume an existing checkpoint is an error, not silently overwritten.
  await assert.rejects(runEvolution({ dir, dim: 5, generations: 6, evaluate: sphere, progress: false }), /exists; pass resume: true/);
}));

test('stages carry the CMA-ES state and keep counting generations; resume extends a run bit-identically', () => withDir(async (dir) => {
  const stages = [{ name: 'a', generations: 3, tasks: ['x'] }, { name: 'b', generations: 4, tasks: ['x', 'y'] }];
  const calls: string[] = [];
  const straight = await runEvolution({
    dir: join(dir, 'straight'), dim: 4, stages, seed: 9, cmaOptions: { popSize: 6 }, progress: false,
    evaluate: async (pop, g, ctx) => { calls.push(`${ctx.stage.name}:${ctx.stageGeneration}:${g}:${(ctx.stage.tasks as string[]).length}`); return sphere(pop); },
  });
  assert.deepEqual(calls, ['a:0:0:1', 'a:1:1:1', 'a:2:2:1', 'b:0:3:2', 'b:1:4:2', 'b:2:5:2', 'b:3:6:2']);
  assert.equal(straight.generation, 7);

  // Same run in pieces: stage a only, then stage b resumed (extending the stage list), then nothing left to do.
  const split = join(dir, 'split');
  await runEvolution({ dir: split, dim: 4, stages: stages.slice(0, 1), seed: 9, cmaOptions: { popSize: 6 }, progress: false, evaluate: sphere, extra: () => ({ n: 1 }) });
  let restored: unknown;
  const resumed = await runEvolution({
    dir: split, dim: 4, stages, seed: 9, cmaOptions: { popSize: 6 }, progress: false, resume: true,
    evaluate: async (pop, _g, ctx) => { restored = ctx.restoredExtra; return sphere(pop); },
  });
  assert.deepEqual(restored, { n: 1 });
  assert.deepEqual(bytes(resumed.cma.mean), bytes(straight.cma.mean));
  assert.deepEqual(bytes(resumed.cma.cov), bytes(straight.cma.cov));
  assert.ok(Object.is(resumed.cma.sigma, straight.cma.sigma));
  assert.equal((await readFile(join(split, 'log.jsonl'), 'utf8')).trim().split('\n').length, 7);
  await assert.rejects(runEvolution({ dir: split, dim: 5, stages, resume: true, evaluate: sphere, progress: false }), /has 4 parameters, this run 5: resume with the settings/);
  await assert.rejects(runEvolution({ dir: split, dim: 4, stages: [{ name: 'z', generations: 1 }], resume: true, evaluate: sphere, progress: false }), /stage 0 is "a"/);
  await assert.rejects(runEvolution({ dir: split, dim: 4, stages, seed: 10, cmaOptions: { popSize: 6 }, resume: true, evaluate: sphere, progress: false }), /has seed 9, this run asks for 10: resume with the settings/);
  for (const [k, v, was] of [['popSize', 8, 6], ['eliteRatio', 0.25, 0.5], ['initSigma', 2, 0.065], ['mode', 'fast', 'reference'], ['cc', 0.5, undefined]] as const) {
    await assert.rejects(runEvolution({ dir: split, dim: 4, stages, seed: 9, cmaOptions: { popSize: 6, [k]: v }, resume: true, evaluate: sphere, progress: false }),
      new RegExp(`has CMA-ES ${k} ${String(was)}, this run asks for ${v}: resume with the settings`));
  }
}));

test('validation: each stage ends in its best-scoring state, the next starts there, and a resume across a stage end is exact', () => withDir(async (dir) => {
  const stages = [{ name: 'a', generations: 5 }, { name: 'b', generations: 3 }];
  const cmaOptions = { popSize: 6, initSigma: 0.3 };
  /** Scores a state by its generation (stage a peaks at generation 2, stage b at its last), remembering the means. */
  const runWith = (seen: string[], means: Map<string, Float32Array>) => ({
    every: 2,
    run: async (mean: Float32Array, c: { stage: { name: string }; stageGeneration: number; generation: number }) => {
      seen.push(`${c.stage.name}:${c.stageGeneration}:${c.generation}`);
      means.set(`${c.stage.name}:${c.generation}`, mean);
      return c.stage.name === 'a' ? (c.generation === 2 ? 5 : c.generation === 4 ? 5 : 1) : c.generation;
    },
  });
  const seen: string[] = [], means = new Map<string, Float32Array>();
  const straight = await runEvolution({ dir: join(dir, 'straight'), dim: 4, stages, seed: 5, cmaOptions, progress: false, evaluate: sphere, validation: runWith(seen, means) });
  // Stage generations 0, 2, 4 and the end (5); then stage b from its start (the state of generation 2), 2 and its end.
  assert.deepEqual(seen, ['a:0:0', 'a:2:2', 'a:4:4', 'a:5:5', 'b:0:5', 'b:2:7', 'b:3:8']);
  assert.deepEqual(straight.stageBest.map((v) => v && [v.stage, v.generation, v.score]), [['a', 2, 5], ['b', 8, 8]], 'the first of equal scores wins');
  assert.deepEqual(means.get('b:5'), means.get('a:2'), 'stage b starts from the mean of stage a\'s best state');
  assert.notDeepEqual(means.get('a:5'), means.get('a:2'));
  assert.deepEqual(straight.mean, means.get('b:8'));
  assert.equal(straight.generation, 8, 'the generation counter runs on');
  const files = await readdir(join(dir, 'straight'));
  assert.deepEqual(files.filter((f) => f.startsWith('best-state')), ['best-state-2-8.bin'], 'only the last stage\'s recorded best is kept');

  // Stage a alone ends in its best state; resumed with both stages, the run is the same as the straight one.
  const split = join(dir, 'split');
  const first = await runEvolution({ dir: split, dim: 4, stages: stages.slice(0, 1), seed: 5, cmaOptions, progress: false, evaluate: sphere, validation: runWith([], new Map()) });
  assert.deepEqual(first.mean, means.get('a:2'));
  assert.deepEqual(new Float32Array((await readFile(join(split, 'mean.f32'))).buffer.slice(0)), first.mean, 'mean.f32 holds the deployed state');
  const seen2: string[] = [];
  const resumed = await runEvolution({ dir: split, dim: 4, stages, seed: 5, cmaOptions, progress: false, resume: true, evaluate: sphere, validation: runWith(seen2, new Map()) });
  assert.deepEqual(seen2, ['b:0:5', 'b:2:7', 'b:3:8'], 'validations recorded before the resume are not run again');
  assert.deepEqual(resumed.validations, straight.validations);
  assert.deepEqual(bytes(resumed.cma.mean), bytes(straight.cma.mean));
  assert.deepEqual(bytes(resumed.cma.cov), bytes(straight.cma.cov));
  assert.deepEqual(resumed.history.map((r) => [r.best, r.sigma]), straight.history.map((r) => [r.best, r.sigma]));
  await assert.rejects(runEvolution({ dir: split, dim: 4, stages, seed: 5, cmaOptions, progress: false, resume: true, evaluate: sphere }), /validates the mean every 2 generations, this run asks for 0/);
  await assert.rejects(runEvolution({ dir: split, dim: 4, stages: [{ name: 'a', generations: 7 }, stages[1]!], seed: 5, cmaOptions, progress: false, resume: true, evaluate: sphere, validation: runWith([], new Map()) }),
    /stage 1 \("a"\) of the run in .* ended after 5 generations and a later stage has begun: its length can no longer change \(asked for 7\)/);

  // Without validation every stage ends in its last state.
  const plain = await runEvolution({ dir: join(dir, 'plain'), dim: 4, stages, seed: 5, cmaOptions, progress: false, evaluate: sphere });
  assert.deepEqual(plain.stageBest, [null, null]);
  assert.deepEqual(plain.validations, []);
}));

test('validation: a kill between saving a new best state and the checkpoint loses nothing, even if the stage is then lengthened', () => withDir(async (dir) => {
  const cmaOptions = { popSize: 6, initSigma: 0.3 };
  const scores: Record<number, number> = { 0: 0, 10: 5, 15: 10, 20: 1, 25: 1 };
  let snapshot: Buffer | null = null, state10: Buffer | null = null;
  const validation = {
    every: 10,
    run: async (_mean: Float32Array, c: { stageGeneration: number }) => {
      // At the stage's end (generation 15) the checkpoint on disk still records generation 10 as the best: keep it,
      // as a kill right after this validation saved its state would leave it.
      if (c.stageGeneration === 15 && !snapshot) {
        snapshot = await readFile(join(dir, 'checkpoint.bin'));
        state10 = await readFile(join(dir, 'best-state-1-10.bin'));
      }
      return scores[c.stageGeneration]!;
    },
  };
  const stages = (generations: number) => [{ name: 'a', generations }];
  await runEvolution({ dir, dim: 3, stages: stages(15), seed: 2, cmaOptions, progress: false, evaluate: sphere, validation });
  // The files of that moment: the checkpoint, the recorded best's state (pruned once the run went on) and the new one.
  await writeFile(join(dir, 'checkpoint.bin'), snapshot!);
  await writeFile(join(dir, 'best-state-1-10.bin'), state10!);
  // Lengthened, the resumed run never validates generation 15 again: generation 10 stays the recorded best.
  const r = await runEvolution({ dir, dim: 3, stages: stages(25), seed: 2, cmaOptions, progress: false, resume: true, evaluate: sphere, validation });
  assert.deepEqual(r.stageBest.map((v) => v && [v.stageGeneration, v.score]), [[10, 5]]);
  assert.deepEqual(r.validations.map((v) => v.stageGeneration), [0, 10, 20, 25]);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('best-state')), ['best-state-1-10.bin']);
}));

test('validation: a first stage of 0 generations writes a checkpoint that holds the extra blob, and it resumes', () => withDir(async (dir) => {
  const cmaOptions = { popSize: 4 };
  const validation = { every: 1, run: async () => 1 };
  const extra = () => ({ stats: [1, 2] });
  // The stage's end validates the starting state and checkpoints it, before any generation ran.
  await runEvolution({ dir, dim: 3, stages: [{ name: 'a', generations: 0 }], seed: 1, cmaOptions, progress: false, evaluate: sphere, validation, extra });
  const { cma, meta } = await loadEvolutionCheckpoint(dir);
  assert.equal(cma.generation, 0);
  assert.deepEqual(meta.extra, { stats: [1, 2] }, 'the checkpoint holds the caller\'s blob');
  let restored: unknown = 'not called';
  const r = await runEvolution({
    dir, dim: 3, stages: [{ name: 'a', generations: 0 }, { name: 'b', generations: 1 }], seed: 1, cmaOptions, progress: false, resume: true,
    evaluate: async (pop, _g, ctx) => { restored = ctx.restoredExtra; return sphere(pop); }, validation, extra,
  });
  assert.deepEqual(restored, { stats: [1, 2] });
  assert.equal(r.generation, 1);
}));

test('bad evaluate results and options give clear errors; a corrupt checkpoint refuses to resume', () => withDir(async (dir) => {
  await assert.rejects(runEvolution({ dir, dim: 3, evaluate: sphere, progress: false }), /give generations or a non-empty stages list/);
  await assert.rejects(runEvolution({ dir, dim: 3, generations: 2, evaluate: sphere, progress: false, resum: true } as never), /^TypeError: runEvolution: unknown option "resum" \(did you mean "resume"\?\)/);
  await assert.rejects(runEvolution({ dir, dim: 3, generations: 2, evaluate: sphere, progress: false, onProgress: 1 as never }), /^TypeError: runEvolution: onProgress must be a function, got 1$/);
  await assert.rejects(runEvolution({ dir, dim: 3, generations: 2, evaluate: sphere, progress: null as never }), /^TypeError: runEvolution: progress must be true, false or a writable stream, got null$/);
  await assert.rejects(runEvolution({ dir: join(dir, 'a'), dim: 3, generations: 2, cmaOptions: { popSize: 4 }, progress: false,
    evaluate: async () => ({ fitness: [1, 2, 3] }) }), /returned 3 fitness values for 4 members/);
  await assert.rejects(runEvolution({ dir: join(dir, 'b'), dim: 3, generations: 2, cmaOptions: { popSize: 4 }, progress: false,
    evaluate: async () => ({ fitness: [1, 2, NaN, 4] }) }), /fitness\[2\] is NaN/);
  // A step size whose samples float32 cannot hold stops the run before they are evaluated, naming σ.
  let evaluated = false;
  await assert.rejects(runEvolution({ dir: join(dir, 'sigma'), dim: 3, generations: 2, cmaOptions: { initSigma: 1e40 }, progress: false,
    evaluate: async (pop) => { evaluated = true; return sphere(pop); } }), /^RangeError: runEvolution: generation 0, member 0: parameter 0 is past float32's range \(the step size σ is 1\.00e\+40\); start with a smaller initSigma$/);
  assert.equal(evaluated, false);
  const c = join(dir, 'c');
  await runEvolution({ dir: c, dim: 3, generations: 2, progress: false, evaluate: sphere });
  const file = await readFile(join(c, 'checkpoint.bin'));
  await writeFile(join(c, 'checkpoint.bin'), file.subarray(0, file.length - 100));
  await assert.rejects(runEvolution({ dir: c, dim: 3, generations: 4, progress: false, resume: true, evaluate: sphere }), /truncated/);
}));

test('resume refuses to shorten the stage a run is in below the generations it has run, or to drop that stage', () => withDir(async (dir) => {
  const cmaOptions = { popSize: 4 };
  /** Stops the run with an error once `generation` is asked for: its checkpoint is then mid-stage. */
  const stopAt = (generation: number) => async (pop: Float32Array[], g: number) => {
    if (g === generation) throw new Error('stopped');
    return sphere(pop);
  };
  const one = join(dir, 'one');
  await assert.rejects(runEvolution({ dir: one, dim: 3, stages: [{ name: 'a', generations: 5 }], seed: 1, cmaOptions, progress: false, evaluate: stopAt(3) }), /stopped/);
  assert.equal((await loadEvolutionCheckpoint(one)).meta.stageGeneration, 3);
  const before = await readFile(join(one, 'checkpoint.bin'));
  await assert.rejects(runEvolution({ dir: one, dim: 3, stages: [{ name: 'a', generations: 2 }, { name: 'b', generations: 2 }], cmaOptions, progress: false, resume: true, evaluate: sphere }),
    /stage 1 \("a"\) of the run in .* has run 3 generations, but this run gives it 2: a resume cannot shorten a stage below the generations it has run \(give it at least 3\)/);
  assert.deepEqual(await readFile(join(one, 'checkpoint.bin')), before, 'the refused resume changed nothing');
  // Shortened to the generations it has run, the stage ends there and the next one runs.
  const r = await runEvolution({ dir: one, dim: 3, stages: [{ name: 'a', generations: 3 }, { name: 'b', generations: 2 }], cmaOptions, progress: false, resume: true, evaluate: sphere });
  assert.deepEqual(r.history.map((h) => `${h.stage}:${h.stageGeneration}`), ['a:0', 'a:1', 'a:2', 'b:0', 'b:1']);

  const two = join(dir, 'two');
  await assert.rejects(runEvolution({ dir: two, dim: 3, stages: [{ name: 'a', generations: 1 }, { name: 'b', generations: 3 }], seed: 1, cmaOptions, progress: false, evaluate: stopAt(2) }), /stopped/);
  await assert.rejects(runEvolution({ dir: two, dim: 3, stages: [{ name: 'a', generations: 1 }], cmaOptions, progress: false, resume: true, evaluate: sphere }),
    /the run in .* has reached stage 2 \("b"\), but this run gives 1 stage: a resume may add stages, not remove one the run has reached/);
}));

test('the elapsed time and the ETA count the validations of the mean, also after a resume', () => withDir(async (dir) => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // Validations far slower than the generations (as a stage's whole pool is against a generation's samples).
  const validation = { every: 2, run: async () => { await sleep(100); return 1; } };
  const stages = [{ name: 'a', generations: 4 }, { name: 'b', generations: 2 }];
  const records: GenerationRecord[] = [];
  await runEvolution({ dir: join(dir, 'straight'), dim: 3, stages, seed: 1, cmaOptions: { popSize: 4 }, progress: false, evaluate: sphere, validation, onProgress: (r) => records.push(r) });
  // After generation 0: 5 generations left, and 4 validations (stage a's generation 2 and end, stage b's start and
  // end), at the one generation's and the one validation's (generation 0's state) times so far.
  const first = records[0]!;
  const validated = first.elapsedS - first.timeS;
  assert.ok(validated >= 0.09, `the elapsed time holds the first validation: ${first.elapsedS} s, the generation ${first.timeS} s`);
  assert.ok(Math.abs(first.etaS! - (5 * first.timeS + 4 * validated)) < 1e-9, `ETA ${first.etaS} s`);
  // The last generation leaves the validation of stage b's end; four validations went before it.
  assert.ok(records.at(-1)!.etaS! >= 0.09, `ETA ${records.at(-1)!.etaS} s before the last validation`);
  assert.ok(records.at(-1)!.elapsedS >= 0.36, `elapsed ${records.at(-1)!.elapsedS} s after four validations`);

  // Resumed after generation 2 (validated before it), the first generation of the new process, which validates
  // nothing before it, still counts the validations left at the times the checkpoint recorded.
  const split = join(dir, 'split');
  const stopAt3 = async (pop: Float32Array[], g: number) => { if (g === 3) throw new Error('stopped'); return sphere(pop); };
  await assert.rejects(runEvolution({ dir: split, dim: 3, stages, seed: 1, cmaOptions: { popSize: 4 }, progress: false, evaluate: stopAt3, validation }), /stopped/);
  const resumed: GenerationRecord[] = [];
  await runEvolution({ dir: split, dim: 3, stages, seed: 1, cmaOptions: { popSize: 4 }, progress: false, resume: true, evaluate: sphere, validation, onProgress: (r) => resumed.push(r) });
  assert.equal(resumed[0]!.generation, 3);
  assert.ok(resumed[0]!.etaS! >= 3 * 0.09, `ETA ${resumed[0]!.etaS} s with 3 validations left`);
}));

test('the ETA runs to the end of the later stages a caller will run (laterStages)', () => withDir(async (dir) => {
  const records: GenerationRecord[] = [];
  await runEvolution({
    dir, dim: 3, stages: [{ name: 'a', generations: 2 }], laterStages: [{ generations: 3 }], seed: 1, cmaOptions: { popSize: 4 }, progress: false,
    evaluate: sphere, onProgress: (r) => records.push(r),
  });
  const [g0, g1] = records;
  assert.ok(Math.abs(g0!.etaS! - 4 * g0!.timeS) < 1e-9, `ETA ${g0!.etaS} s for 4 generations of ${g0!.timeS} s`);
  assert.ok(Math.abs(g1!.etaS! - 3 * ((g0!.timeS + g1!.timeS) / 2)) < 1e-9, `ETA ${g1!.etaS} s for the later stage's 3 generations`);
  await assert.rejects(runEvolution({ dir: join(dir, 'x'), dim: 3, generations: 1, laterStages: [{ generations: -1 }], progress: false, evaluate: sphere }),
    /laterStages must be a list of \{ generations \} with generations a non-negative integer/);
}));

test('progress line: \\r-updated on a TTY, one plain line per generation otherwise', () => {
  const stats = { stage: 's', generation: 3, totalGenerations: 10, best: 1.5, mean: 1, median: 1.2, sigma: 0.06, elapsedS: 75, etaS: 3700 };
  const make = (isTTY: boolean) => { const out: string[] = []; return { out, stream: { isTTY, write: (s: string) => { out.push(s); return true; } } as never }; };
  const tty = make(true), plain = make(false);
  const a = new ProgressLine(tty.stream), b = new ProgressLine(plain.stream);
  a.update(stats); a.update({ ...stats, generation: 4 }); a.done();
  b.update(stats); b.update({ ...stats, generation: 4 }); b.done();
  assert.ok(tty.out[0]!.startsWith('\r[s] gen 3/10 best 1.5000 mean 1.0000 median 1.2000 σ 0.0600'));
  assert.match(tty.out[0]!, /1m15s elapsed, ETA 1h01m$/);
  assert.equal(tty.out.at(-1), '\n');
  // With the generation's own time (what evolve shows), before the run's.
  assert.match(formatProgress({ ...stats, timeS: 12.4 }), /σ 0\.0600 \| 12s\/gen, 1m15s elapsed, ETA 1h01m$/);
  assert.ok(tty.out.every((s) => !s.slice(0, -1).includes('\n')));
  assert.deepEqual(plain.out.map((s) => [s.startsWith('\r'), s.endsWith('\n')]), [[false, true], [false, true]]);
  // On a terminal narrower than the line, it never wraps: a shorter line with the ETA, then a cut one.
  const narrow = (columns: number) => { const out: string[] = []; new ProgressLine({ isTTY: true, columns, write: (s: string) => { out.push(s); return true; } } as never).update({ ...stats, timeS: 12.4, info: { kv: 0.5, kvBest: 0.45 } }); return out[0]!.slice(1); };
  assert.ok(narrow(200).includes('median 1.2000'));
  assert.equal(narrow(80), '[s] gen 3/10 best 1.5000 mean 1.0000 | ETA 1h01m');
  assert.equal(narrow(20), '[s] gen 3/10 best …');
  for (const w of [10, 20, 50, 80, 120]) assert.ok(narrow(w).length < w, `fits ${w} columns`);
  // A status (a validation) shows in place; the run's last line is the latest generation's figures again; and after
  // the terminal is narrowed, the padding over the longer line before stays within it.
  const term = { isTTY: true, columns: 200, out: [] as string[], write(s: string) { this.out.push(s); return true; } };
  const line = new ProgressLine(term as never);
  line.update(stats);
  line.status('[s] validating the mean of generation 3 on 4 prompts…');
  assert.ok(term.out.at(-1)!.startsWith('\r[s] validating'));
  term.columns = 60;
  line.done();
  assert.ok(term.out.at(-2)!.startsWith('\r[s] gen 3/10 best 1.5000 mean 1.0000 | ETA 1h01m'), term.out.at(-2));
  assert.ok(term.out.at(-2)!.length - 1 < 60, 'the padding stays within the narrowed terminal');
  assert.equal(term.out.at(-1), '\n');
});

type Kill = { afterMs: number } | { afterCheckpoint: number; delayMs: number } | { onTempFile: number };

/**
 * Runs the child evolution and SIGKILLs it: `afterMs` after spawn, `delayMs` after it announces its k-th
 * checkpoint (mid-serialisation), or as soon as the k-th checkpoint temp file appears (mid-write, seen by inotify).
 * A timer or a file event can come too late (a fast child has finished; a loaded machine delays inotify), and a child
 * that finishes unkilled ends the series: so those two kinds also kill once the child has announced a few more
 * checkpoints than they aim at (3 after spawn; the k-th temp file's checkpoint plus 2).
 */
function runChild(dir: string, kill: Kill | null):
  Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', checkpoints = 0;
    const killNow = (): void => { child.kill('SIGKILL'); };
    const backstop = !kill ? Infinity : 'afterMs' in kill ? 3 : 'onTempFile' in kill ? kill.onTempFile + 2 : Infinity;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const before = checkpoints;
      checkpoints = (stdout.match(/^checkpoint /gm) ?? []).length;
      if (kill && 'afterCheckpoint' in kill && before < kill.afterCheckpoint && checkpoints >= kill.afterCheckpoint) setTimeout(killNow, kill.delayMs);
      if (before < backstop && checkpoints >= backstop) killNow();
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = kill && 'afterMs' in kill ? setTimeout(killNow, kill.afterMs) : null;
    let watcher: ReturnType<typeof watch> | null = null;
    if (kill && 'onTempFile' in kill) {
      mkdirSync(dir, { recursive: true });
      let temps = 0;
      watcher = watch(dir, (_event, name) => {
        if (name?.startsWith('.checkpoint.bin.tmp-') && ++temps === kill.onTempFile) killNow();
      });
    }
    child.on('exit', (code, signal) => { if (timer) clearTimeout(timer); watcher?.close(); resolve({ code, signal, stdout, stderr }); });
  });
}

test('SIGKILL at random moments (also mid-checkpoint) + resume ends exactly like an uninterrupted run', { timeout: 180000 }, () => withDir(async (dir) => {
  const reference = await runEvolution({
    ...CHILD_SETUP, dir: join(dir, 'reference'), progress: false,
    evaluate: async (pop, _g, ctx) => ({ fitness: pop.map((x) => objective(x, ctx.stageIndex)), info: { stage: ctx.stageIndex } }),
    extra: () => bigExtra(0),
  });
  const killed = join(dir, 'killed');
  const rng = new Rng(2024);
  let kills = 0, tempFilesFound = 0;
  const plan: Kill[] = [
    { afterMs: 200 + rng.int(300) }, { onTempFile: 1 }, { afterCheckpoint: 1, delayMs: rng.int(3) },
    { afterMs: 600 + rng.int(900) }, { onTempFile: 1 + rng.int(3) }, { afterCheckpoint: 2 + rng.int(3), delayMs: 40 + rng.int(60) },
    { afterMs: 500 + rng.int(1500) }, { onTempFile: 2 },
  ];
  for (const kill of plan) {
    const r = await runChild(killed, kill);
    if (r.signal !== 'SIGKILL') { assert.equal(r.code, 0, r.stderr); break; }
    kills++;
    if ((await readdir(killed).catch(() => [] as string[])).some((f) => f.includes('.tmp-'))) tempFilesFound++;
  }
  const last = await runChild(killed, null);
  assert.equal(last.code, 0, last.stderr);
  assert.match(last.stdout, /finished/);
  assert.ok(kills >= 5, `only ${kills} kills landed before the child finished`);
  assert.ok(tempFilesFound >= 1, 'no kill landed inside a checkpoint file write');
  process.stderr.write(`# SIGKILL test: ${kills} kills, ${tempFilesFound} of them left a half-written temp file\n`);

  const a = await loadEvolutionCheckpoint(join(dir, 'reference'));
  const b = await loadEvolutionCheckpoint(killed);
  assert.equal(b.cma.generation, reference.generation);
  assert.deepEqual(bytes(b.cma.mean), bytes(a.cma.mean));
  assert.deepEqual(bytes(b.cma.cov), bytes(a.cma.cov));
  assert.deepEqual(bytes(b.cma.pathSigma), bytes(a.cma.pathSigma));
  assert.ok(Object.is(b.cma.sigma, a.cma.sigma));
  assert.deepEqual(b.meta.history.map((h) => h.fitness), a.meta.history.map((h) => h.fitness));
  const log = (await readFile(join(killed, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as GenerationRecord);
  assert.deepEqual(log.map((l) => l.generation), Array.from({ length: reference.generation }, (_, i) => i));
  assert.ok(!(await readdir(killed)).some((f) => f.includes('.tmp-')));
}));

test('a full covariance whose checkpoints could not be read back is refused before the first generation, not at the first resume', () => withDir(async (dir) => {
  // The bound holds: what serialize() writes, between generations and with an ask pending, in both modes.
  for (const mode of ['reference', 'fast'] as const) {
    for (const variant of ['full', 'separable'] as const) {
      const cma = new CmaEs({ dim: 40, popSize: 6, mode, variant, eigenEvery: mode === 'fast' ? 5 : undefined });
      for (let g = 0; g < 3; g++) {
        const pop = cma.ask();
        assert.ok(cma.serialize().length <= cma.serializedBytesBound(true), `${mode}/${variant} pending`);
        cma.tell(pop.map((x) => -x.reduce((s, v) => s + v * v, 0)));
        const between = cma.serialize().length;
        assert.ok(between <= cma.serializedBytesBound(false), `${mode}/${variant} between generations`);
        // Not loose by more than the header's allowance (the float64 sections are counted exactly).
        if (mode === 'fast' || variant === 'separable') assert.ok(cma.serializedBytesBound(false) - between <= 64 * 1024, `${mode}/${variant}`);
      }
      assert.equal(CmaEs.serializedBytesBound({ dim: 40, popSize: 6, mode, variant, eigenEvery: mode === 'fast' ? 5 : undefined }, false), cma.serializedBytesBound(false));
    }
  }
  // dim 17,000 with a full covariance: ~1.2 GB in mode 'reference' (C packed), ~3.5 GB in mode 'fast' (its eigenvectors
  // too), past the 3 GiB a checkpoint may hold. Refused before the state (two 2.3 GB matrices) is allocated.
  assert.ok(CmaEs.serializedBytesBound({ dim: 17000 }, false) < 2 ** 31);
  assert.ok(CmaEs.serializedBytesBound({ dim: 17000, mode: 'fast' }, false) > 3 * 2 ** 30);
  let evaluated = false;
  await assert.rejects(runEvolution({ dir, dim: 17000, generations: 1, cmaOptions: { mode: 'fast' }, progress: false, evaluate: async () => { evaluated = true; return { fitness: [] }; } }),
    /^RangeError: runEvolution: the CMA-ES state of dim 17000 with a full covariance \(its eigenvectors too, which mode 'fast' keeps between decompositions\) takes up to 3\.\d\d GiB, and a checkpoint that can be resumed holds at most 2\.94 GiB of it; use variant: 'separable' or mode 'reference'$/);
  assert.equal(evaluated, false);
  assert.equal(existsSync(join(dir, 'checkpoint.bin')), false);
}));
