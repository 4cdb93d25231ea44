/**
 * `evolveNamm`: evolves a NAMM's 4,172 BAM parameters with CMA-ES on task scores (spec/namm.md §5), stage by stage
 * as a curriculum file says, resumably, with members evaluated in parallel worker threads.
 *
 * Before generation 0 the frozen normalisation statistics are collected by running the all-zero (evict-nothing)
 * policy over stage 1's prompt pool, as the reference's iteration-0 evaluation does; they are stored in the loop
 * checkpoint's `extra` blob and reused on resume. Every generation then samples prompts per task (seeded by the
 * run seed and the generation), runs the full cache on those it has no reference score for yet (cached on disk),
 * runs every member on every sampled prompt, and turns the scores into fitness (fitness.ts). With validation on
 * (the default), the mean is scored on the stage's whole pool every `validation.every` generations and at the
 * stage's end, and each stage ends in its best-scoring state (loop.ts).
 *
 * Files in the run directory, besides the loop's (checkpoint.bin, log.jsonl, mean.f32, best.f32):
 * curriculum.json (the curriculum as resolved), reference-scores.json, members.jsonl (per generation: every
 * member's fitness and mean KV fraction, skipped tasks), validation.jsonl, stage-K-NAME.namm after each stage,
 * evolved.namm (the CMA-ES mean the last stage ended in, with the statistics and provenance) and fitness.svg;
 * run.lock while the run goes.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, rmSync, statSync } from 'node:fs';
import { appendLineSync, makeFolders, MiB, readFileLimited, refuseNonRegularRunFiles } from '../util/files.js';
import { argError, checkArg, checkProgressOption } from '../util/args.js';
import { checkOptionKeys, shortJson, showValue } from '../util/show.js';
import { acquireRunLock, runFolderEntries, type RunLock } from '../util/run-lock.js';
import { join } from 'node:path';
import { calibrateNamm } from '../eval/calibrate.js';
import { checkScorable, recordPrompt, type RunRecordOptions } from '../eval/runner.js';
import { NAMM_PARAM_COUNT, saveNammCheckpoint, zeroNammParams } from '../memory/namm/index.js';
import type { NormStats } from '../memory/namm/normalize.js';
import { loadLongBenchConfig } from '../tasks/longbench.js';
import { recordContent, type TaskRecord } from '../tasks/record.js';
import { checkpointFormatOf, writeFileAtomic } from './checkpoint.js';
import { TRAIN_CHECKPOINT_FORMAT } from '../train/checkpoint.js';
import type { CmaMode } from './cmaes.js';
import { curriculumFingerprints, loadCurriculum, parseCurriculum, resolveTaskPools, stableJson, type Curriculum, type StageSpec } from './curriculum.js';
import { computeFitness, samplePromptIndices, type FitnessOptions, type TaskScores } from './fitness.js';
import {
  CHECKPOINT_FILE, checkResumable, loadEvolutionCheckpoint, runEvolution, type EvaluationResult, type GenerationRecord, type ValidationContext,
  type ValidationRecord,
} from './loop.js';
import { renderFitnessSvg } from './plot.js';
import { ProgressLine } from './progress.js';
import { REFERENCE_SCORES_FILE, ReferenceScoreCache, referenceKey, referenceSettings } from './reference-scores.js';
import { createEvaluator, loadSharedModel, type Evaluator, type NammRunSettings } from './workers.js';
import { parseWeightStorage, WEIGHT_STORAGES, type WeightStorage } from '../models/pack.js';
import { codeIdentity } from '../util/package.js';

export const EVOLVED_FILE = 'evolved.namm';
export const MEMBERS_FILE = 'members.jsonl';
export const SVG_FILE = 'fitness.svg';
export const VALIDATION_FILE = 'validation.jsonl';

export interface EvolveNammOptions {
  /** A parsed curriculum or the path of its JSON file. */
  curriculum: Curriculum | string;
  /** Model folder, .gguf or llama2.c checkpoint. */
  model: string;
  /** Run directory. */
  out: string;
  /** Continue the run in `out`; without it an existing run there is an error. */
  resume?: boolean;
  /** Evaluation threads (default 1: the main thread). The results do not depend on it. */
  workers?: number;
  /** Overrides the curriculum's seed (must match the run's on resume). */
  seed?: number;
  /** Overrides the curriculum's CMA-ES mode; the run keeps it, so a resume need not repeat it (as the seed). */
  mode?: CmaMode;
  /**
   * How the model's weight matrices are held (src/models/pack.ts; default 'auto'). 'f32' and 'packed' evolve on the same
   * model in less memory; a converting storage ('q8_0', ...) is another model (its fingerprint differs). The run
   * keeps it: a resume without `weights` uses the run's, one with other weights must load the same model.
   */
  weights?: WeightStorage;
  /** Progress line on stderr (default), another stream, or false. */
  progress?: boolean | (NodeJS.WritableStream & { isTTY?: boolean });
  /** Called after every generation (after its checkpoint is written). */
  onGeneration?: (record: GenerationRecord, members: MemberReport) => void;
}

/** Per generation: what the loop's log does not hold. */
export interface MemberReport {
  generation: number;
  stage: string;
  fitness: number[];
  /** Each member's mean KV-cache fraction over its prompts. */
  kv: number[];
  /** Tasks left out of this generation's fitness (guarded normalisation, zero reference mean). */
  skippedTasks: string[];
  rawFallback: boolean;
  /** Full-cache runs this generation needed (0 once every sampled prompt has a cached reference score). */
  referenceRuns: number;
}

export interface EvolveNammResult {
  /** evolved.namm: the CMA-ES mean with the statistics and provenance. */
  nammPath: string;
  stageFiles: string[];
  mean: Float32Array;
  normStats: NormStats;
  generation: number;
  history: GenerationRecord[];
  members: MemberReport[];
  /** Every validation of the mean (empty with validation off) and, per stage, the one it ended in. */
  validations: ValidationRecord[];
  stageBest: (ValidationRecord | null)[];
}

/** What the run keeps in the checkpoint's `extra` blob. */
interface EvolveExtra {
  format: 'namm-evolve';
  version: 1;
  seed: number;
  /** The CMA-ES mode the run was given instead of the curriculum's (`mode`), if any. */
  mode?: CmaMode;
  /** The weight storage the run was given (`weights`), when not f32. */
  weights?: WeightStorage;
  model: string;
  /**
   * The kernels the run's members were scored with (`native/avx2`, `js/f64`, …): another backend rounds otherwise, so
   * a run resumed on it is not bit-identical to one never stopped. Absent in checkpoints written before it existed.
   */
  backend?: string;
  /**
   * The code the run's members were scored with (codeIdentity: version and a hash of the sources): a resume under
   * changed code warns that it is not bit-identical. Absent in checkpoints written before it existed.
   */
  code?: string;
  fingerprints: { settings: string; stages: string[] };
  /**
   * Per task name: a hash of its prompt pool as resolved (a JSONL file's records, not just its path), so a resume
   * on changed prompts is refused. Absent in checkpoints written before it existed (then not checked).
   */
  pools?: Record<string, string>;
  normStats: { mean: number[]; variance: number[]; count: number };
  calibration: { records: number; seconds: number };
  members: MemberReport[];
}

/** The most evaluation workers a run may start: each is a thread with its own sessions (~12 MB and up). */
const MAX_WORKERS = 64;

const EVOLVE_OPTION_KEYS = ['curriculum', 'model', 'out', 'resume', 'workers', 'seed', 'mode', 'weights', 'progress', 'onGeneration'];

/**
 * evolveNamm's curriculum: a file path (loaded), a parsed curriculum or a copy of one (spread, structuredClone: it
 * carries parseCurriculum's `source`), used as it is, or a plain object (a file's contents), validated as the file
 * would be, its relative JSONL paths resolving against the current folder (it failed deep inside the run before).
 */
function curriculumOf(value: unknown): Curriculum {
  if (typeof value === 'string') return loadCurriculum(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw argError('evolveNamm', 'curriculum', 'a curriculum: a file path, the file\'s contents as an object, or parseCurriculum\'s result', value);
  }
  if (typeof (value as { source?: unknown }).source === 'string') return value as Curriculum;
  return parseCurriculum(value, 'evolveNamm: curriculum', process.cwd());
}

export async function evolveNamm(o: EvolveNammOptions): Promise<EvolveNammResult> {
  checkArg('evolveNamm', 'o', o, 'object', 'evolution options { curriculum, model, out, … }');
  // A misspelt option (`wokers: 2`) ran the whole evolution on its default.
  checkOptionKeys(o, EVOLVE_OPTION_KEYS, 'evolveNamm');
  const curriculum = curriculumOf(o.curriculum);
  const workers = o.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new RangeError(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${showValue(workers)} (each holds its own sessions; more workers than cores gain nothing)`);
  }
  if (o.seed !== undefined && (!Number.isSafeInteger(o.seed) || o.seed < 0)) throw new RangeError(`seed must be an integer ≥ 0, got ${showValue(o.seed)}`);
  if (o.onGeneration !== undefined && typeof o.onGeneration !== 'function') throw argError('evolveNamm', 'onGeneration', 'a function', o.onGeneration);
  checkProgressOption('evolveNamm', o.progress);
  if (o.mode !== undefined && o.mode !== 'reference' && o.mode !== 'fast') throw new RangeError(`mode must be 'reference' or 'fast', got ${String(o.mode)}`);
  const out = o.out;
  // An empty path would name the current folder's files (checkpoint.bin) and fail only after the model has loaded.
  if (typeof out !== 'string' || out.trim() === '') throw new TypeError(`out must be the path of the run directory, got ${JSON.stringify(out)}`);
  // Checked now, though the folder is made only once the run is accepted: a file there would otherwise fail only
  // after the model has loaded and every prompt has been generated.
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`cannot create the output folder ${out}: it is a file, not a folder`);
  // The run holds the folder's lock from here to its end: a second run on it meanwhile is refused now, before it
  // loads the model, reads the checkpoint or removes this run's temporary files (src/util/run-lock.ts).
  const lock = acquireRunLock(out, { command: 'namm evolve' });
  const start: StartMarker = { early: null };
  try {
    return await evolveInLockedDir(o, curriculum, workers, out, lock, start);
  } catch (err) {
    // A run refused before it began (a bad model or task, a mismatched setting) leaves no marker, so the lock removes
    // the folder it made; a kill there leaves it, so that the same command, with --resume or not, starts over.
    if (start.early) rmSync(start.early, { force: true });
    throw err;
  } finally {
    lock.release();
  }
}

/** The marker a fresh run writes as it takes its folder (`early`), until the run has begun (model and pools ready). */
interface StartMarker { early: string | null }

/**
 * Written by a fresh run into its folder before anything else and removed once its first checkpoint is written: the
 * run files beside it (log.jsonl, members.jsonl, curriculum.json, …) are that run's own, stopped before there was
 * anything to resume, so a new run may start over there. A folder with other files and no checkpoint is refused.
 */
export const UNFINISHED_EVOLUTION_MARKER = 'evolve-unfinished.json';

/**
 * At most `limit` records of a pool, spread evenly over it (record ⌊(i + ½)·n/limit⌋), in pool order; all of it
 * without a limit. A generated pool is length after length, so its first records were all of the shortest length:
 * the calibration and validation subsets (calibration.limit, validation.limit) saw only those (the statistics
 * 2.4× the per-bin means of a spread subset on the shipped curriculum).
 */
export function spreadSubset<T>(pool: readonly T[], limit: number | null | undefined): T[] {
  const n = pool.length;
  if (limit === null || limit === undefined || limit >= n) return [...pool];
  return Array.from({ length: limit }, (_, i) => pool[Math.floor(((i + 0.5) * n) / limit)]!);
}

async function evolveInLockedDir(o: EvolveNammOptions, curriculum: Curriculum, workers: number, out: string, lock: RunLock, start: StartMarker): Promise<EvolveNammResult> {
  refuseNonRegularRunFiles(out, [CHECKPOINT_FILE, 'curriculum.json', REFERENCE_SCORES_FILE, 'log.jsonl', MEMBERS_FILE, VALIDATION_FILE, UNFINISHED_EVOLUTION_MARKER]);
  const checkpointExists = await exists(join(out, CHECKPOINT_FILE));
  if (checkpointExists && !o.resume) {
    // A training run's folder has a checkpoint.bin too, which resume would not read.
    if (checkpointFormatOf(join(out, CHECKPOINT_FILE)) === TRAIN_CHECKPOINT_FORMAT) throw new Error(`${out} holds a namm train run (its checkpoint.bin is a training checkpoint); use a new directory`);
    throw new Error(`${out} already holds an evolution run; pass resume (--resume) to continue it, or use a new directory`);
  }
  const markerPath = join(out, UNFINISHED_EVOLUTION_MARKER);
  const stream = o.progress === false ? null : o.progress === true || o.progress === undefined ? process.stderr : o.progress;
  const say = (line: string): void => { stream?.write(`${line}\n`); };
  if (!checkpointExists) {
    // A new run writes log.jsonl, members.jsonl, curriculum.json, evolved.namm… into the folder: one that holds other
    // files (a model folder, an earlier run's results without their checkpoint, notes) would lose them silently.
    const held = runFolderEntries(out);
    const unfinished = existsSync(markerPath);
    if (o.resume && !unfinished) {
      throw new Error(`resume (--resume): ${out} holds no evolution run (no ${CHECKPOINT_FILE}); a new run drops --resume${held.length > 0 ? '' : ' (is the folder mistyped?)'}`);
    }
    if (held.length > 0 && !unfinished) {
      const shown = held.slice(0, 4).join(', ') + (held.length > 4 ? `, … (${held.length} entries)` : '');
      throw new Error(`${out} already holds files (${shown}) and no evolution checkpoint; a new run needs an empty or new folder`);
    }
    if (unfinished) say(`note: ${out} holds a run that stopped before its first generation ended; starting over in it`);
    else {
      // At once, not once the model has loaded and the task pools are built (~14 s on the shipped curriculum): a run
      // killed meanwhile left an empty folder, which the lock removed, and then `--resume` found no run to start over.
      makeFolders(out, 'output folder');
      await writeFileAtomic(markerPath, JSON.stringify({ command: 'namm evolve', started: new Date().toISOString() }) + '\n');
      start.early = markerPath;
    }
  }
  const restoredCheckpoint = checkpointExists ? await loadEvolutionCheckpoint(out) : null;
  const restoredMeta = restoredCheckpoint?.meta ?? null;
  const restored = restoredMeta ? readExtra(restoredMeta.extra, out) : null;
  if (restored && o.seed !== undefined && o.seed !== restored.seed) {
    throw new Error(`the run in ${out} uses seed ${restored.seed}; cannot resume it with seed ${o.seed}`);
  }
  if (restored && o.seed === undefined) await checkCurriculumSeed(out, curriculum, restored.seed);
  const seed = restored?.seed ?? o.seed ?? curriculum.seed;
  // A mode given when the run started stays the run's: its resume need not repeat it (a different one is refused
  // with the other CMA-ES settings, by runEvolution).
  const modeOverride = o.mode ?? restored?.mode;
  const mode = modeOverride ?? curriculum.cma.mode;
  const cmaOptions = {
    popSize: curriculum.cma.popSize, initSigma: curriculum.cma.initSigma, eliteRatio: curriculum.cma.eliteRatio,
    variant: curriculum.cma.variant, mode,
  };
  const stages = curriculum.stages.map((s) => ({ name: s.name, generations: s.generations }));
  const fingerprints = curriculumFingerprints(curriculum);
  if (restored) checkFingerprints(restored, fingerprints, () => curriculumFingerprints(curriculum, 'legacy'), out);
  // Settings the run cannot resume with are refused now, before the model loads and the task pools are built (~14 s
  // on the shipped curriculum); runEvolution checks them again as it resumes.
  if (restoredCheckpoint) {
    checkResumable(restoredCheckpoint.meta, restoredCheckpoint.cma, { dir: out, dim: NAMM_PARAM_COUNT, seed, cmaOptions, validationEvery: curriculum.validation.every }, stages);
  }

  // As the mode: the weights a run started with stay its own (a resume need not repeat them).
  const weights = o.weights !== undefined ? parseWeightStorage(o.weights) : restored?.weights ?? 'auto';
  const shared = await loadSharedModel(o.model, undefined, weights);
  // A load that converted nothing holds the file's own values: nothing for the run to remember.
  const sameValues = shared.converted === 0;
  const code = codeIdentity();
  if (restored && restored.model !== shared.fingerprint) {
    const how = o.weights !== undefined ? ` loaded with weights ${weights}` : '';
    // Another version can read the same files as another config (a GGUF's float32 metadata as its shortest decimal,
    // generation_config.json's end-of-sequence ids: both have changed), and the fingerprint covers the config.
    const weightsHint = restored.weights || o.weights !== undefined ? '' : ' (if it is the model the run started on, the run may have loaded it with other --weights: give them)';
    const codeHint = restored.code !== undefined && restored.code !== code
      ? `; the run was started by namm ${restored.code} and this is ${code}, which may read the same model files as another config (then resume under the version that started the run, or start a new one)`
      : '';
    const hint = weightsHint + codeHint;
    throw new Error(`the run in ${out} was evolved on another model (fingerprint ${restored.model}${restored.weights ? `, weights ${restored.weights}` : ''}; ${o.model}${how} is ${shared.fingerprint})${hint}`);
  }
  const model = shared.model;
  const backend = `${model.backend.name}/${model.backend.simd}`;
  if (restored?.backend !== undefined && restored.backend !== backend) {
    process.emitWarning(`namm: the run in ${out} was scored with the ${restored.backend} kernels and continues with ${backend}: other roundings, so it is not bit-identical to a run never stopped`, { code: 'NAMM_RESUME_BACKEND' });
  }
  if (restored?.code !== undefined && restored.code !== code) {
    process.emitWarning(`namm: the run in ${out} was scored by namm ${restored.code} and continues under ${code}, whose code differs: its members may be scored otherwise, so it is not bit-identical to a run never stopped`, { code: 'NAMM_RESUME_CODE' });
  }
  const runOptions: RunRecordOptions = {
    ...(curriculum.run.maxPromptTokens !== null ? { maxPromptTokens: curriculum.run.maxPromptTokens } : {}),
    ...(curriculum.run.contextWindow !== null ? { contextWindow: curriculum.run.contextWindow } : {}),
    ...(curriculum.run.maxNewTokens !== null ? { maxNewTokens: curriculum.run.maxNewTokens } : {}),
    ...(curriculum.run.queryAware ? { queryAware: true } : {}),
    ...(curriculum.run.chunkSize !== null ? { chunkSize: curriculum.run.chunkSize } : {}),
    ...(curriculum.run.longbenchConfig !== null ? { longbenchConfig: loadLongBenchConfig(curriculum.run.longbenchConfig) } : {}),
    ...(curriculum.run.score !== 'task' ? { score: curriculum.run.score } : {}),
    ...(Object.keys(curriculum.run.metricOptions).length > 0 ? { metricOptions: curriculum.run.metricOptions } : {}),
  };
  // Every record of every stage is prompted as the runner will before anything runs: one that cannot run (a question
  // longer than the prompt budget, an empty answer to score by likelihood) fails the run now, not stages into it.
  // So is one the task metric cannot score (checkScorable: an empty gold answer, a record with no metric). It takes
  // a while (~14 s on the shipped curriculum) with nothing else to show.
  const taskCount = new Set(curriculum.stages.flatMap((st) => st.tasks.map((t) => t.name))).size;
  say(`preparing the prompts of ${taskCount} task${taskCount === 1 ? '' : 's'} and checking every record…`);
  const pools = resolveTaskPools(curriculum, model.tokenizer!, 8 * model.config.maxPositions, (record) => {
    recordPrompt(model, record, runOptions);
    if (curriculum.run.score === 'task') checkScorable([record], curriculum.run.metricOptions);
  });
  // And across each task's records (one dataset scored by two metrics), which one record at a time cannot see.
  if (curriculum.run.score === 'task') {
    for (const [name, records] of pools) {
      try { checkScorable(records, curriculum.run.metricOptions); } catch (err) { throw new Error(`${curriculum.source}: task "${name}": ${(err as Error).message}`); }
    }
  }
  const poolPrints = Object.fromEntries([...pools].map(([name, records]) => [name, createHash('sha256').update(stableJson(records.map(recordContent))).digest('hex').slice(0, 16)]));
  if (restored?.pools) checkPools(restored.pools, poolPrints, curriculum, out);
  const settings: NammRunSettings = { scorer: 'bam', ...curriculum.namm, run: runOptions };
  // The lock made the folder if it was missing, and removes it again, if still empty, when a run refused above (a
  // bad model or task, a mismatched resume) releases it (evolveNamm removes the early marker first): no empty folder
  // is left behind.
  makeFolders(out, 'output folder');
  if (!restored && !start.early) await writeFileAtomic(markerPath, JSON.stringify({ command: 'namm evolve', started: new Date().toISOString() }) + '\n');
  start.early = null;  // the run has begun: from here a failure leaves the marker, as a kill does
  const references = await ReferenceScoreCache.open(join(out, REFERENCE_SCORES_FILE), shared.fingerprint);
  if (!restored) await writeFileAtomic(join(out, 'curriculum.json'), JSON.stringify(curriculum, null, 2) + '\n');

  // The frozen normalisation statistics: the all-zero policy over stage 1's pool (main thread, so they never
  // depend on the worker count).
  let normStats: NormStats;
  let calibration: EvolveExtra['calibration'];
  if (restored) {
    normStats = { mean: Float32Array.from(restored.normStats.mean), variance: Float32Array.from(restored.normStats.variance), count: restored.normStats.count };
    calibration = restored.calibration;
  } else {
    const records = curriculum.stages[0]!.tasks.flatMap((t) => spreadSubset(pools.get(t.name)!, curriculum.calibration.limit));
    say(`calibrating the normalisation statistics on ${records.length} prompts of stage "${curriculum.stages[0]!.name}"…`);
    const started = performance.now();
    normStats = await calibrateNamm(model, records, zeroNammParams('bam'), { ...runOptions, updateEvery: curriculum.namm.updateEvery, scorer: 'bam', taps: curriculum.namm.taps });
    calibration = { records: records.length, seconds: (performance.now() - started) / 1000 };
  }

  const members: MemberReport[] = restored ? [...restored.members] : [];
  const evaluator = await createEvaluator(shared, settings, workers);
  const referenceKeySettings = referenceSettings(runOptions);
  const extra = (): EvolveExtra => ({
    format: 'namm-evolve', version: 1, seed, ...(modeOverride !== undefined ? { mode: modeOverride } : {}),
    ...(!sameValues ? { weights } : {}), model: shared.fingerprint, backend, code, fingerprints, pools: poolPrints,
    normStats: { mean: Array.from(normStats.mean), variance: Array.from(normStats.variance), count: normStats.count },
    calibration, members,
  });

  const scoring: ScoringInputs = {
    normStats, evaluator, references, fitness: curriculum.fitness,
    referenceKeyOf: (r) => referenceKey(shared.fingerprint, r, referenceKeySettings),
  };
  const evaluate = async (population: Float32Array[], generation: number, stageIndex: number): Promise<EvaluationResult> => {
    const { result, report } = await evaluateGeneration({ ...scoring, stage: curriculum.stages[stageIndex]!, pools, seed, generation, population });
    members.push(report);
    return result;
  };
  // The mean on every prompt of the stage's tasks (up to validation.limit per task), scored as a member is.
  const validation = curriculum.validation.every > 0 ? {
    every: curriculum.validation.every,
    run: async (mean: Float32Array, ctx: ValidationContext): Promise<number> => {
      const records: TaskRecord[] = [];
      const taskRanges: TaskRange[] = [];
      for (const t of curriculum.stages[ctx.stageIndex]!.tasks) {
        const pool = spreadSubset(pools.get(t.name)!, curriculum.validation.limit);
        taskRanges.push({ task: t.name, start: records.length, count: pool.length });
        records.push(...pool);
      }
      progress?.status(`[${ctx.stage.name}] validating the mean of generation ${ctx.generation} on ${records.length} prompt${records.length === 1 ? '' : 's'}…`);
      const { fit, kv } = await scoreRecords(scoring, records, taskRanges, [mean]);
      const score = fit.fitness[0]!;
      appendLineSync(join(out, VALIDATION_FILE), JSON.stringify({ stage: ctx.stage.name, generation: ctx.generation, stageGeneration: ctx.stageGeneration, score, kv: kv[0], prompts: records.length, skippedTasks: fit.skippedTasks }));
      return score;
    },
  } : undefined;

  const total = curriculum.stages.reduce((s, st) => s + st.generations, 0);
  const progress = stream ? new ProgressLine(stream) : null;
  const onProgress = (record: GenerationRecord): void => {
    // The record's ETA (log.jsonl's etaS) runs to the end of the curriculum, validations included.
    progress?.update({ ...record, generation: record.generation + 1, totalGenerations: total });
    const report = members.find((m) => m.generation === record.generation)!;
    appendLineSync(join(out, MEMBERS_FILE), JSON.stringify(report));
    // The generation's checkpoint is written: the run can be resumed from here on.
    rmSync(markerPath, { force: true });
    o.onGeneration?.(record, report);
  };

  const stageFiles: string[] = [];
  let last: Awaited<ReturnType<typeof runEvolution>> | null = null;
  if (curriculum.cma.variant === 'full') {
    // The first generation waits for it with nothing to show (128 CPU-seconds natively at n = 4,172).
    say(`note: CMA-ES decomposes the full ${NAMM_PARAM_COUNT}×${NAMM_PARAM_COUNT} covariance (about a minute on 2 cores) ` +
      (mode === 'fast' ? 'before the first generation and then every ~25' : 'before every generation (mode "reference")'));
  }
  try {
    await writeFileAtomic(join(out, MEMBERS_FILE), members.map((m) => JSON.stringify(m) + '\n').join(''));
    if (validation) await writeFileAtomic(join(out, VALIDATION_FILE), await recordedValidationLines(join(out, VALIDATION_FILE), restoredMeta?.validations ?? []));
    // One runEvolution per stage prefix: the CMA-ES state carries over through the checkpoint, and each stage's
    // end is a point where its mean can be saved (also after a resume that finds the stage already done). A
    // resume starts at the checkpoint's stage: the stages before it ended, and their files were written, before
    // it began (a prefix without the checkpoint's stage cannot take its state).
    const first = restoredMeta ? Math.min(restoredMeta.stageIndex, stages.length - 1) : 0;
    for (let k = 0; k < first; k++) {
      const file = stageFile(k);
      if (existsSync(file)) stageFiles.push(file);
      else say(`note: ${file} is missing (stage ${k + 1} ended before this resume; its mean is not recoverable)`);
    }
    for (let k = first; k < stages.length; k++) {
      last = await runEvolution({
        dir: out, lock, dim: NAMM_PARAM_COUNT, seed, stages: stages.slice(0, k + 1), resume: checkpointExists || k > 0, progress: false,
        // The ETA runs to the end of the curriculum, not of this prefix.
        laterStages: stages.slice(k + 1),
        cmaOptions,
        evaluate: (population, generation, ctx) => evaluate(population, generation, ctx.stageIndex),
        ...(validation ? { validation } : {}),
        extra, onProgress,
      });
      // The stage's end wrote a checkpoint, also in a stage of 0 generations (whose onProgress never ran).
      rmSync(markerPath, { force: true });
      const file = stageFile(k);
      saveNamm(file, last.mean, last.history, k, last.stageBest[k] ?? null);
      stageFiles.push(file);
      await writeReports(out, last.history, members);
    }
  } finally {
    progress?.done();
    await evaluator.close();
  }
  const nammPath = join(out, EVOLVED_FILE);
  saveNamm(nammPath, last!.mean, last!.history, curriculum.stages.length - 1, last!.stageBest.at(-1) ?? null);
  return {
    nammPath, stageFiles, mean: last!.mean, normStats, generation: last!.generation, history: last!.history,
    members: members.slice(0, last!.generation), validations: last!.validations, stageBest: last!.stageBest,
  };

  function stageFile(k: number): string {
    return join(out, `stage-${k + 1}-${curriculum.stages[k]!.name.replace(/[^A-Za-z0-9_-]+/g, '_')}.namm`);
  }

  function saveNamm(path: string, mean: Float32Array, history: GenerationRecord[], stageIndex: number, best: ValidationRecord | null): void {
    const lastRecord = history.at(-1);
    saveNammCheckpoint(path, {
      scorer: 'bam', params: mean, normStats, updateEvery: curriculum.namm.updateEvery, selection: curriculum.namm.selection, taps: curriculum.namm.taps,
      ...(curriculum.namm.cacheSize !== null ? { cacheSize: curriculum.namm.cacheSize } : {}),
      provenance: {
        by: 'namm evolve', created: new Date().toISOString(),
        parameters: best ? `CMA-ES mean at generation ${best.generation}, the stage's best validation` : 'CMA-ES mean',
        ...(best ? { validation: { generation: best.generation, stageGeneration: best.stageGeneration, score: best.score, every: curriculum.validation.every, limit: curriculum.validation.limit } } : {}),
        model: { source: model.source, fingerprint: shared.fingerprint, ...(!sameValues ? { weights } : {}) },
        curriculum: {
          source: curriculum.source, description: curriculum.description,
          stages: curriculum.stages.slice(0, stageIndex + 1).map((s) => ({ name: s.name, generations: s.generations, samplesPerTask: s.samplesPerTask, tasks: s.tasks.map((t) => t.name) })),
        },
        seed, generations: history.length, stage: curriculum.stages[stageIndex]!.name,
        cma: { ...curriculum.cma, mode },
        fitness: lastRecord ? { best: lastRecord.best, mean: lastRecord.mean, median: lastRecord.median, normalisation: curriculum.fitness.normalisation, cachePenalty: curriculum.fitness.cachePenalty } : null,
        calibration,
      },
    });
  }
}

interface ScoringInputs {
  normStats: NormStats;
  evaluator: Evaluator;
  references: ReferenceScoreCache;
  referenceKeyOf: (record: TaskRecord) => string;
  fitness: FitnessOptions;
}

interface GenerationInputs extends ScoringInputs {
  stage: StageSpec;
  pools: Map<string, TaskRecord[]>;
  seed: number;
  generation: number;
  population: Float32Array[];
}

interface TaskRange { task: string; start: number; count: number }

/**
 * One generation: sample the prompts of every task, run the full cache on those without a cached reference score
 * and every member on every prompt (one batch, so workers stay busy), store the new reference scores, and turn
 * the scores into fitness.
 */
async function evaluateGeneration(g: GenerationInputs): Promise<{ result: EvaluationResult; report: MemberReport }> {
  const records: TaskRecord[] = [];
  const taskRanges: TaskRange[] = [];
  for (const t of g.stage.tasks) {
    const pool = g.pools.get(t.name)!;
    const picked = samplePromptIndices(pool.length, g.stage.samplesPerTask, g.seed, g.generation, t.name);
    taskRanges.push({ task: t.name, start: records.length, count: picked.length });
    for (const i of picked) records.push(pool[i]!);
  }
  const { fit, kv, referenceRuns } = await scoreRecords(g, records, taskRanges, g.population);
  const best = fit.fitness.reduce((b, f, j) => (f > fit.fitness[b]! ? j : b), 0);
  return {
    result: { fitness: fit.fitness, info: { kv: kv.reduce((s, v) => s + v, 0) / kv.length, kvBest: kv[best]! } },
    report: {
      generation: g.generation, stage: g.stage.name, fitness: fit.fitness, kv, skippedTasks: fit.skippedTasks,
      rawFallback: fit.rawFallback, referenceRuns,
    },
  };
}

/**
 * Runs every member of `population` on `records` (grouped per task by `taskRanges`), and the full cache first on
 * the records without a cached reference score (stored for later), in one batch so workers stay busy; returns the
 * fitness, each member's mean KV fraction and how many reference runs were needed.
 */
async function scoreRecords(
  g: ScoringInputs, records: TaskRecord[], taskRanges: TaskRange[], population: Float32Array[],
): Promise<{ fit: ReturnType<typeof computeFitness>; kv: number[]; referenceRuns: number }> {
  const keys = records.map(g.referenceKeyOf);
  // Record index of the first occurrence of every key that has no reference score yet.
  const missing = new Map<string, number>();
  keys.forEach((k, i) => { if (!g.references.get(k) && !missing.has(k)) missing.set(k, i); });
  const jobs: { record: number; member: number | null }[] = [...missing.values()].map((record) => ({ record, member: null }));
  for (let m = 0; m < population.length; m++) for (let i = 0; i < records.length; i++) jobs.push({ record: i, member: m });
  const results = await g.evaluator.run({ records, params: population, normStats: g.normStats, jobs });

  [...missing.values()].forEach((i, j) => {
    const r = results[j]!;
    g.references.set(keys[i]!, { id: records[i]!._id, dataset: records[i]!.dataset, score: r.score, prediction: r.prediction, meanFraction: r.meanFraction });
  });
  await g.references.flush();
  const memberResult = (m: number, i: number) => results[missing.size + m * records.length + i]!;
  const tasks: TaskScores[] = taskRanges.map(({ task, start, count }) => ({
    task,
    reference: keys.slice(start, start + count).map((k) => g.references.get(k)!.score),
    members: population.map((_, m) => Array.from({ length: count }, (_, i) => memberResult(m, start + i).score)),
  }));
  const kv = population.map((_, m) => records.reduce((s, _r, i) => s + memberResult(m, i).meanFraction, 0) / records.length);
  return { fit: computeFitness(tasks, kv, g.fitness), kv, referenceRuns: missing.size };
}

/**
 * The lines of validation.jsonl that the checkpoint recorded (a validation after the last checkpoint runs again on
 * resume and writes its line again), once each.
 */
async function recordedValidationLines(path: string, recorded: ValidationRecord[]): Promise<string> {
  if (recorded.length === 0) return '';
  const want = new Set(recorded.map((v) => `${v.stage}|${v.generation}`));
  const kept: string[] = [];
  const text = existsSync(path) ? readFileLimited(path, 1024 * MiB, 'log', true).toString('utf8') : '';
  for (const line of text.split('\n')) {
    let v: { stage?: unknown; generation?: unknown };
    try { v = JSON.parse(line) as typeof v; } catch { continue; } // a line cut off by a kill
    const key = `${String(v.stage)}|${String(v.generation)}`;
    if (want.delete(key)) kept.push(line + '\n');
  }
  // The checkpoint keeps each validation's score, not its line (its KV fractions, prompts, skipped tasks): a file
  // deleted or damaged since lost them with no word.
  if (want.size > 0) {
    process.emitWarning(`namm: ${path} lacks the lines of ${want.size} of the ${recorded.length} validations the checkpoint recorded (stage|generation ${[...want].slice(0, 4).join(', ')}${want.size > 4 ? ', …' : ''}); their scores stay in the checkpoint and still choose the best state, but those lines are gone`, { code: 'NAMM_VALIDATION_LINES_LOST' });
  }
  return kept.join('');
}

/** members.jsonl and fitness.svg, rewritten from the run's state. */
async function writeReports(out: string, history: GenerationRecord[], members: MemberReport[]): Promise<void> {
  await writeFileAtomic(join(out, MEMBERS_FILE), members.slice(0, history.length).map((m) => JSON.stringify(m) + '\n').join(''));
  await writeFileAtomic(join(out, SVG_FILE), renderFitnessSvg(history));
}

function readExtra(value: unknown, out: string): EvolveExtra {
  const e = value as EvolveExtra | null;
  if (!e || e.format !== 'namm-evolve' || e.version !== 1 || !e.normStats || !Array.isArray(e.members)) {
    throw new Error(`${join(out, CHECKPOINT_FILE)} is not a checkpoint of namm evolve (no NAMM state in it)`);
  }
  if (e.mode !== undefined && e.mode !== 'reference' && e.mode !== 'fast') throw new Error(`${join(out, CHECKPOINT_FILE)}: bad CMA-ES mode ${String(e.mode)}`);
  if (e.weights !== undefined && !(WEIGHT_STORAGES as readonly string[]).includes(e.weights)) throw new Error(`${join(out, CHECKPOINT_FILE)}: bad weight storage ${String(e.weights)}`);
  if (e.pools !== undefined && (typeof e.pools !== 'object' || e.pools === null || Object.values(e.pools).some((v) => typeof v !== 'string'))) {
    throw new Error(`${join(out, CHECKPOINT_FILE)}: bad prompt-pool fingerprints`);
  }
  if (e.backend !== undefined && (typeof e.backend !== 'string' || e.backend.length > 64)) throw new Error(`${join(out, CHECKPOINT_FILE)}: bad backend ${shortJson(e.backend)}`);
  if (e.code !== undefined && (typeof e.code !== 'string' || e.code.length > 64)) throw new Error(`${join(out, CHECKPOINT_FILE)}: bad code identity ${shortJson(e.code)}`);
  return e;
}

/**
 * The curriculum must be the run's (settings, and every stage the run has): in the portable form runs record now, or
 * in the legacy form (absolute paths) of runs started before it, which keep resuming as they did (from where they were).
 */
export function checkFingerprints(
  restored: EvolveExtra, portable: { settings: string; stages: string[] }, legacy: () => { settings: string; stages: string[] }, out: string,
): void {
  let old: { settings: string; stages: string[] } | null = null;
  const matches = (was: string, part: (f: { settings: string; stages: string[] }) => string | undefined) =>
    was === part(portable) || was === part((old ??= legacy()));
  if (!matches(restored.fingerprints.settings, (f) => f.settings)) {
    throw new Error(`the curriculum's namm/run/fitness/calibration/validation settings differ from those the run in ${out} started with (see ${join(out, 'curriculum.json')}; ` +
      'a run started before validation existed resumes with "validation": {"every": 0})');
  }
  const n = Math.min(restored.fingerprints.stages.length, portable.stages.length);
  for (let i = 0; i < n; i++) {
    if (!matches(restored.fingerprints.stages[i]!, (f) => f.stages[i])) {
      throw new Error(`stage ${i + 1} of the curriculum (its name, tasks or samplesPerTask) differs from the run in ${out}; only generations may change and stages be appended`);
    }
  }
}

/**
 * A resume without `--seed` keeps the run's seed; a curriculum whose own seed was edited since the run started (the
 * copy in the run folder says what it was) is refused rather than silently run with the old one. Runs whose folder
 * has no readable copy are not checked.
 */
async function checkCurriculumSeed(out: string, curriculum: Curriculum, runSeed: number): Promise<void> {
  let started: unknown;
  try {
    started = JSON.parse(await fs.readFile(join(out, 'curriculum.json'), 'utf8'));
  } catch {
    return;
  }
  const was = (started as { seed?: unknown } | null)?.seed;
  if (typeof was === 'number' && was !== curriculum.seed) {
    throw new Error(`the curriculum's seed is ${curriculum.seed}, but the run in ${out} started from one whose seed was ${was} (it runs with seed ${runSeed}); a run keeps its seed: restore it in the curriculum`);
  }
}

/** A resume must see the prompts the run started with: a JSONL file edited since is refused, not silently used. */
function checkPools(restored: Record<string, string>, now: Record<string, string>, curriculum: Curriculum, out: string): void {
  for (const [name, print] of Object.entries(restored)) {
    if (now[name] === undefined || now[name] === print) continue;
    const spec = curriculum.stages.flatMap((s) => s.tasks).find((t) => t.name === name);
    const where = spec?.kind === 'jsonl' ? ` (${spec.path} has changed)` : '';
    throw new Error(`the prompts of task "${name}"${where} differ from those the run in ${out} started with; only generations may change and stages be appended`);
  }
}

async function exists(path: string): Promise<boolean> {
  try { await fs.access(path); return true; } catch { return false; }
}

