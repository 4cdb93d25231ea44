/**
 * The generic, resumable evolution loop: ask → evaluate (the caller's fitness) → tell → checkpoint, in stages that
 * carry one CMA-ES state along (spec/namm.md §5: incremental training, generation counting continues).
 *
 * Files in `dir`:
 * - `checkpoint.bin`: everything needed to resume (CMA-ES state with its Rng, stage bookkeeping, the per-generation
 *   history, the caller's `extra` blob), written atomically after every generation. It is the single source of
 *   truth: a SIGKILL at any moment loses at most the generation in flight, and a resumed run ends bit-identical
 *   to an uninterrupted one with the same seed (given a deterministic `evaluate`).
 * - `log.jsonl`: one JSON line per generation (rebuilt from the checkpoint on resume, so it never holds a
 *   half-written or orphaned line).
 * - `mean.f32`, `best.f32`: the deployed policy (the CMA-ES mean) and the best sample so far, raw little-endian
 *   float32, for tools that just want the parameters.
 * - `run.lock` while the run goes: a second run on `dir` meanwhile is refused (src/util/run-lock.ts), before it
 *   removes this one's temporary files or writes anything.
 */
import { promises as fs } from 'node:fs';
import { appendLineSync, makeFolders } from '../util/files.js';
import { argError, checkArg, checkProgressOption } from '../util/args.js';
import { checkOptionKeys } from '../util/show.js';
import { join, resolve } from 'node:path';
import { acquireRunLock, type RunLock } from '../util/run-lock.js';
import { CmaEs, type CmaOptions } from './cmaes.js';
import { EVOLUTION_CHECKPOINT_FORMAT, MAX_CHECKPOINT_BYTES, TEMP_MARKER, readCheckpointFile, removeStaleTempFiles, writeCheckpointFile, writeFileAtomic } from './checkpoint.js';
import { ProgressLine, type ProgressStats } from './progress.js';

export interface EvolutionStage {
  name: string;
  generations: number;
  /** Anything the caller's evaluate needs for this stage (task list, …); passed back in the context. */
  [key: string]: unknown;
}

export interface EvaluationContext {
  stage: EvolutionStage;
  stageIndex: number;
  /** Generations of this stage already completed. */
  stageGeneration: number;
  /** The `extra` blob of the checkpoint this run resumed from (undefined on a fresh start). */
  restoredExtra: unknown;
}

export interface EvaluationResult {
  /** One fitness per member, higher is better. */
  fitness: number[];
  /** Numbers to log with the generation (e.g. mean cache fraction). */
  info?: Record<string, number>;
}

export interface GenerationRecord {
  /** Index of the generation (0-based over the whole run, all stages). */
  generation: number;
  stage: string;
  stageGeneration: number;
  best: number;
  mean: number;
  median: number;
  /** σ after this generation's update. */
  sigma: number;
  /**
   * Seconds this generation took (its evaluation and update), and since the run started (summed over resumed
   * processes, validations of the mean included).
   */
  timeS: number;
  elapsedS: number;
  /**
   * Estimated seconds to the end of the run (every stage, the caller's `laterStages` included): the generations left
   * at the mean of the latest generation times, plus the validations left at the mean of the latest validation times.
   */
  etaS: number | null;
  info?: Record<string, number>;
}

export interface RunEvolutionOptions {
  dir: string;
  dim: number;
  cmaOptions?: Omit<CmaOptions, 'dim' | 'seed'>;
  /** Generations of a single stage named 'main' (when `stages` is not given). */
  generations?: number;
  stages?: EvolutionStage[];
  /**
   * Stages the caller runs after these, in later calls (evolveNamm runs its curriculum one stage prefix at a time):
   * they count in the ETA and the progress line's total only.
   */
  laterStages?: { generations: number }[];
  seed?: number | string;
  evaluate: (population: Float32Array[], generation: number, context: EvaluationContext) => Promise<EvaluationResult>;
  /** JSON blob stored with every checkpoint (e.g. normalisation statistics); called before each checkpoint is written. */
  extra?: () => unknown;
  onProgress?: (record: GenerationRecord) => void;
  /**
   * Validation of the mean (spec/namm.md §5): `run` scores the CMA-ES mean (higher is better) at stage generations
   * 0, every, 2·every, … and at the stage's end; each stage ends in its best-scoring state, from which the next
   * stage starts and which the run returns (the first of equal scores wins). `every` 0 turns it off (each stage
   * ends in its last state).
   */
  validation?: { every: number; run: (mean: Float32Array, context: ValidationContext) => Promise<number> };
  /** Continue from `dir/checkpoint.bin` if present. Without it an existing checkpoint is an error. */
  resume?: boolean;
  /** Progress line on stderr (default), another stream, or false for none. */
  progress?: boolean | (NodeJS.WritableStream & { isTTY?: boolean });
  /**
   * The run lock of `dir` that the caller holds for a longer run (evolveNamm, across its stages); without it
   * runEvolution takes the lock itself for its duration.
   */
  lock?: RunLock;
}

export interface ValidationContext {
  stage: EvolutionStage;
  stageIndex: number;
  /** Generations of this stage completed before this state (0: its starting state). */
  stageGeneration: number;
  /** The CMA-ES generation counter of this state. */
  generation: number;
}

/** One validation of the mean. */
export interface ValidationRecord {
  stage: string;
  stageIndex: number;
  stageGeneration: number;
  generation: number;
  score: number;
}

export interface EvolutionResult {
  cma: CmaEs;
  /** The deployed policy: the CMA-ES mean, as float32. */
  mean: Float32Array;
  best: Float32Array | null;
  bestFitness: number;
  generation: number;
  history: GenerationRecord[];
  /** Every validation of the mean so far (empty without validation). */
  validations: ValidationRecord[];
  /** Per stage that has ended: the validation whose state it ended in (null without validation). */
  stageBest: (ValidationRecord | null)[];
  extra: unknown;
}

/** A history record as stored in the checkpoint: the log line plus every member's fitness. */
export interface StoredRecord extends GenerationRecord { fitness: number[] }

/** The loop's part of `checkpoint.bin` (the CMA-ES state follows it). */
export interface LoopMeta {
  format: typeof EVOLUTION_CHECKPOINT_FORMAT;
  version: 1;
  dim: number;
  seed: number | string;
  stages: { name: string; generations: number }[];
  stageIndex: number;
  stageGeneration: number;
  elapsedS: number;
  history: StoredRecord[];
  /** Generations between validations of the mean (absent: none). */
  validationEvery?: number;
  /** Validations of the mean (absent in checkpoints written without validation). */
  validations?: ValidationRecord[];
  /**
   * Seconds the latest validations took (up to RECENT_TIMES), so that the ETA after a resume counts the validations
   * left before this process has run one (absent in checkpoints written before it existed).
   */
  validationTimesS?: number[];
  extra: unknown;
}

export const CHECKPOINT_FILE = 'checkpoint.bin';
/**
 * A validated state that was its stage's best when it was scored (`best-state-K-G.bin`: stage K from 1, generation
 * G). The checkpoint's recorded best keeps its file until the next stage has run a generation; a newer best gets a
 * file of its own, so the recorded one survives a kill before the checkpoint records the newer.
 */
export const bestStateFile = (stageIndex: number, generation: number): string => `best-state-${stageIndex + 1}-${generation}.bin`;
const BEST_STATE_NAME = /^best-state-(\d+)-(\d+)\.bin$/;
export const LOG_FILE = 'log.jsonl';
/** The latest generation and validation times the ETA averages. */
const RECENT_TIMES = 10;

const RUN_EVOLUTION_OPTION_KEYS = ['dir', 'dim', 'cmaOptions', 'generations', 'stages', 'laterStages', 'seed', 'evaluate', 'extra', 'onProgress', 'validation', 'resume', 'progress', 'lock'];

/** Room kept in a checkpoint for the loop's JSON (history, validations, the caller's blob) beside the CMA-ES state. */
const LOOP_META_ROOM = 64 * 1024 * 1024;

export async function runEvolution(o: RunEvolutionOptions): Promise<EvolutionResult> {
  checkArg('runEvolution', 'o', o, 'object', 'evolution options { dir, dim, evaluate, … }');
  checkOptionKeys(o, RUN_EVOLUTION_OPTION_KEYS, 'runEvolution');
  for (const cb of ['extra', 'onProgress'] as const) {
    if (o[cb] !== undefined && typeof o[cb] !== 'function') throw argError('runEvolution', cb, 'a function', o[cb]);
  }
  checkProgressOption('runEvolution', o.progress);
  const stages = resolveStages(o);
  if (typeof o.evaluate !== 'function') throw new TypeError('runEvolution: evaluate must be a function');
  const later = o.laterStages;
  if (later !== undefined && (!Array.isArray(later) || later.some((s) => !Number.isSafeInteger(s?.generations) || s.generations < 0))) {
    throw new RangeError('runEvolution: laterStages must be a list of { generations } with generations a non-negative integer');
  }
  if (typeof o.dir !== 'string' || o.dir === '') throw new TypeError('runEvolution: dir must be a directory path');
  if (o.lock && (!o.lock.held || resolve(o.lock.dir) !== resolve(o.dir))) throw new Error(`runEvolution: the lock given is not a held lock of ${o.dir}`);
  // Taken before the stale temporary files below are removed: those of a live run on `dir` are not stale.
  const lock = o.lock ?? acquireRunLock(o.dir, { command: 'runEvolution' });
  try {
    return await evolveInLockedDir(o, stages);
  } finally {
    if (!o.lock) lock.release();
  }
}

async function evolveInLockedDir(o: RunEvolutionOptions, stages: EvolutionStage[]): Promise<EvolutionResult> {
  makeFolders(o.dir, 'output folder');
  const ckptPath = join(o.dir, CHECKPOINT_FILE);
  for (const f of [CHECKPOINT_FILE, LOG_FILE, 'mean.f32', 'best.f32']) await removeStaleTempFiles(join(o.dir, f));
  await removeStaleBestStateTemps(o.dir);

  const every = o.validation ? o.validation.every : 0;
  if (o.validation && (typeof o.validation.run !== 'function' || !Number.isSafeInteger(every) || every < 0)) {
    throw new RangeError(`runEvolution: validation needs a run function and an integer every ≥ 0, got every ${String(every)}`);
  }
  let cma: CmaEs;
  let meta: LoopMeta;
  let restoredExtra: unknown;
  if (await exists(ckptPath)) {
    if (!o.resume) throw new Error(`runEvolution: ${ckptPath} exists; pass resume: true to continue it, or use a new dir`);
    ({ cma, meta } = await loadEvolutionCheckpoint(o.dir));
    checkResumable(meta, cma, { ...o, validationEvery: every }, stages);
    meta.stages = stages.map((s) => ({ name: s.name, generations: s.generations }));
    restoredExtra = meta.extra;
    // The log and parameter files may be one generation behind (or half-written): rebuild them.
    await writeFileAtomic(join(o.dir, LOG_FILE), meta.history.map((r) => JSON.stringify(logLine(r)) + '\n').join(''));
    await writeParameterFiles(o.dir, cma);
  } else {
    const cmaOptions = { ...(o.cmaOptions ?? {}), dim: o.dim, seed: o.seed ?? 0 };
    // Each generation's checkpoint holds the CMA-ES state: one past what a checkpoint may hold would be written every
    // generation and refused at the first resume, after hours of work. Checked before the state is allocated.
    const stateBytes = CmaEs.serializedBytesBound(cmaOptions, false);
    if (stateBytes + LOOP_META_ROOM > MAX_CHECKPOINT_BYTES) {
      const gib = (b: number) => (b / 2 ** 30).toFixed(2);
      const lazy = CmaEs.serializedBytesBound({ ...cmaOptions, mode: 'reference', eigenEvery: 1 }, false) < stateBytes ? ' (its eigenvectors too, which mode \'fast\' keeps between decompositions)' : '';
      throw new RangeError(`runEvolution: the CMA-ES state of dim ${o.dim}${cmaOptions.variant === 'separable' ? '' : ' with a full covariance'}${lazy} takes up to ${gib(stateBytes)} GiB, and a checkpoint that can be resumed holds at most ${gib(MAX_CHECKPOINT_BYTES - LOOP_META_ROOM)} GiB of it; use variant: 'separable'${lazy ? ' or mode \'reference\'' : ''}`);
    }
    cma = new CmaEs(cmaOptions);
    meta = {
      format: EVOLUTION_CHECKPOINT_FORMAT, version: 1, dim: o.dim, seed: o.seed ?? 0,
      stages: stages.map((s) => ({ name: s.name, generations: s.generations })),
      stageIndex: 0, stageGeneration: 0, elapsedS: 0, history: [], extra: null,
      ...(every > 0 ? { validationEvery: every, validations: [] } : {}),
    };
    await writeFileAtomic(join(o.dir, LOG_FILE), '');
  }

  const progress = o.progress === false ? null : new ProgressLine(o.progress === true || o.progress === undefined ? process.stderr : o.progress);
  const plannedStages = [...stages, ...(o.laterStages ?? [])];
  const totalGenerations = cma.generation - completedInStages(meta) + plannedStages.reduce((s, st) => s + st.generations, 0);
  const recentTimes: number[] = [];
  if (every > 0) meta.validations ??= [];
  const validations = meta.validations ?? [];
  const validationTimes = every > 0 ? (meta.validationTimesS ??= []) : [];
  /** Scores the current mean unless this state of this stage was scored already (before a resume). */
  const validate = async (): Promise<boolean> => {
    const stageIndex = meta.stageIndex, generation = cma.generation;
    if (validations.some((v) => v.stageIndex === stageIndex && v.generation === generation)) return false;
    const stage = stages[stageIndex]!;
    const context: ValidationContext = { stage, stageIndex, stageGeneration: meta.stageGeneration, generation };
    const started = performance.now();
    const score = await o.validation!.run(Float32Array.from(cma.mean), context);
    if (typeof score !== 'number' || !Number.isFinite(score)) throw new RangeError(`runEvolution: the validation score at generation ${generation} is ${String(score)}`);
    // The run's time includes its validations (the whole pool of a stage, often longer than a generation): the
    // elapsed time and the ETA would otherwise leave them out.
    const seconds = (performance.now() - started) / 1000;
    meta.elapsedS += seconds;
    pushRecent(validationTimes, seconds);
    const record: ValidationRecord = { stage: stage.name, stageIndex, stageGeneration: meta.stageGeneration, generation, score };
    const best = bestValidation(validations, stageIndex);
    // The state is saved before the record joins the checkpoint: a kill in between repeats the validation.
    if (!best || score > best.score) await writeCheckpointFile(join(o.dir, bestStateFile(stageIndex, generation)), encodeFramed(record, cma));
    validations.push(record);
    return true;
  };
  try {
    while (meta.stageIndex < stages.length) {
      const stage = stages[meta.stageIndex]!;
      if (meta.stageGeneration >= stage.generations) {
        if (every > 0) {
          // The stage's last state is a candidate too; the checkpoint records its score, so a finished run keeps
          // it. Then the stage ends in its best state (the next one starts there).
          if (await validate()) {
            // A stage of 0 generations reaches this checkpoint without any generation's: take the caller's blob
            // now too, or the first checkpoint of a run starting with one would hold none (its resume then fails).
            if (o.extra) meta.extra = o.extra();
            await writeCheckpointFile(ckptPath, encodeLoopCheckpoint(meta, cma));
            await pruneBestStates(o.dir, meta.stageIndex, validations);
          }
          const best = bestValidation(validations, meta.stageIndex)!;
          if (best.generation !== cma.generation) cma.adoptSearchState(await loadBestState(o.dir, best));
          await writeParameterFiles(o.dir, cma);
        } else if (stage.generations === 0) {
          // Without validation only generations write checkpoints, and this stage has none: a run that starts with
          // it had no checkpoint at all once it ended (neither a new run nor a resume would take its folder, and the
          // caller's blob, e.g. NAMM's statistics, was lost). The same point as the validated path's checkpoint.
          if (o.extra) meta.extra = o.extra();
          await writeCheckpointFile(ckptPath, encodeLoopCheckpoint(meta, cma));
        }
        meta.stageIndex++;
        meta.stageGeneration = 0;
        continue;
      }
      if (every > 0 && meta.stageGeneration % every === 0) await validate();
      const started = performance.now();
      const population = cma.ask().map((x) => Float32Array.from(x));
      const generation = cma.generation;
      checkPopulationRange(population, generation, cma.sigma);
      const result = await o.evaluate(population, generation, {
        stage, stageIndex: meta.stageIndex, stageGeneration: meta.stageGeneration, restoredExtra,
      });
      const fitness = checkFitness(result, population.length, generation);
      cma.tell(fitness);
      meta.stageGeneration++;

      const timeS = (performance.now() - started) / 1000;
      meta.elapsedS += timeS;
      pushRecent(recentTimes, timeS);
      const record: StoredRecord = {
        generation, stage: stage.name, stageGeneration: meta.stageGeneration - 1, ...summarise(fitness),
        sigma: cma.sigma, timeS, elapsedS: meta.elapsedS,
        etaS: etaSeconds(plannedStages, meta.stageIndex, meta.stageGeneration, every, recentTimes, validationTimes),
        ...(result.info ? { info: { ...result.info } } : {}), fitness,
      };
      meta.history.push(record);
      if (o.extra) meta.extra = o.extra();

      await writeCheckpointFile(ckptPath, encodeLoopCheckpoint(meta, cma));
      if (every > 0) await pruneBestStates(o.dir, meta.stageIndex, validations);
      appendLineSync(join(o.dir, LOG_FILE), JSON.stringify(logLine(record)));
      await writeParameterFiles(o.dir, cma);
      progress?.update({ ...record, totalGenerations } satisfies ProgressStats);
      o.onProgress?.(logLine(record));
    }
  } finally {
    progress?.done();
  }
  return {
    cma, mean: Float32Array.from(cma.mean), best: cma.bestX ? Float32Array.from(cma.bestX) : null,
    bestFitness: cma.bestFitness, generation: cma.generation, history: meta.history.map(logLine),
    validations: validations.slice(), stageBest: stages.map((_, k) => (every > 0 ? bestValidation(validations, k) : null)),
    extra: meta.extra,
  };
}

/** The first of the best-scoring validations of a stage, or null when it has none. */
function bestValidation(validations: ValidationRecord[], stageIndex: number): ValidationRecord | null {
  let best: ValidationRecord | null = null;
  for (const v of validations) if (v.stageIndex === stageIndex && (!best || v.score > best.score)) best = v;
  return best;
}

/**
 * Once a checkpoint is written: removes the saved states it no longer needs, those of earlier stages (it is past
 * their ends) and those of this stage other than its recorded best.
 */
async function pruneBestStates(dir: string, stageIndex: number, validations: ValidationRecord[]): Promise<void> {
  const best = bestValidation(validations, stageIndex);
  for (const name of await fs.readdir(dir)) {
    const m = BEST_STATE_NAME.exec(name);
    if (!m) continue;
    const k = Number(m[1]) - 1, g = Number(m[2]);
    if (k < stageIndex || (k === stageIndex && best && g !== best.generation)) await fs.rm(join(dir, name), { force: true });
  }
}

/** Temporary files of best-state writes that a kill interrupted. */
async function removeStaleBestStateTemps(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith('.best-state-') && name.includes(TEMP_MARKER)) await fs.rm(join(dir, name), { force: true });
  }
}

/** Reads the best state saved for `best` (see validate in runEvolution), checking that it is that state. */
async function loadBestState(dir: string, best: ValidationRecord): Promise<CmaEs> {
  const path = join(dir, bestStateFile(best.stageIndex, best.generation));
  let payload: Uint8Array;
  try {
    payload = await readCheckpointFile(path);
  } catch (err) {
    throw new Error(`cannot end stage ${best.stageIndex + 1} in its best state (generation ${best.generation}): ${(err as Error).message}`);
  }
  const { json, rest } = decodeFramed(payload, path);
  const saved = json as ValidationRecord;
  if (saved?.stageIndex !== best.stageIndex || saved.generation !== best.generation || saved.score !== best.score) {
    throw new Error(`${path} holds the state of generation ${String(saved?.generation)}, but the checkpoint's best validation of stage ${best.stageIndex + 1} is generation ${best.generation}`);
  }
  return CmaEs.deserialize(rest);
}

/** Reads and validates `dir/checkpoint.bin`. */
export async function loadEvolutionCheckpoint(dir: string): Promise<{ cma: CmaEs; meta: LoopMeta }> {
  checkArg('loadEvolutionCheckpoint', 'dir', dir, 'path');
  const path = join(dir, CHECKPOINT_FILE);
  const payload = await readCheckpointFile(path);
  const { json, rest } = decodeFramed(payload, path);
  const meta = json as LoopMeta;
  if (meta?.format !== EVOLUTION_CHECKPOINT_FORMAT || meta.version !== 1) throw new Error(`checkpoint ${path}: not a namm evolution checkpoint`);
  const cma = CmaEs.deserialize(rest);
  if (cma.generation !== meta.history.length) {
    throw new Error(`checkpoint ${path}: CMA-ES generation ${cma.generation} but ${meta.history.length} history records`);
  }
  return { cma, meta };
}

/**
 * The members go to the evaluator as float32: a sample past float32's range (a huge initial σ, or a search that
 * diverged) would reach it as ±Infinity and fail there, naming a parameter but not the step size.
 */
function checkPopulationRange(population: Float32Array[], generation: number, sigma: number): void {
  for (let k = 0; k < population.length; k++) {
    const x = population[k]!;
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) {
        throw new RangeError(`runEvolution: generation ${generation}, member ${k}: parameter ${i} is past float32's range (the step size σ is ${sigma.toPrecision(3)}); start with a smaller initSigma`);
      }
    }
  }
}

/** The checkpoint payload as two chunks: u32 metadata length + metadata JSON + padding, then the CMA-ES state. */
function encodeLoopCheckpoint(meta: LoopMeta, cma: CmaEs): Uint8Array[] {
  return encodeFramed(meta, cma);
}

/** A JSON value and a CMA-ES state as checkpoint payload chunks (see encodeLoopCheckpoint). */
function encodeFramed(value: unknown, cma: CmaEs): Uint8Array[] {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new Error(`runEvolution: extra must be JSON-serialisable (${(err as Error).message})`);
  }
  const metaBytes = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(align8(4 + metaBytes.length));
  new DataView(prefix.buffer).setUint32(0, metaBytes.length, true);
  prefix.set(metaBytes, 4);
  return [prefix, cma.serialize()];
}

function decodeFramed(payload: Uint8Array, path: string): { json: unknown; rest: Uint8Array } {
  if (payload.length < 4) throw new Error(`checkpoint ${path}: payload too short`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const metaLength = view.getUint32(0, true);
  if (4 + metaLength > payload.length) throw new Error(`checkpoint ${path}: metadata runs past the end`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload.subarray(4, 4 + metaLength)).toString('utf8'));
  } catch (err) {
    throw new Error(`checkpoint ${path}: corrupt metadata (${(err as Error).message})`);
  }
  return { json, rest: payload.subarray(align8(4 + metaLength)) };
}

function align8(x: number): number { return (x + 7) & ~7; }

function resolveStages(o: RunEvolutionOptions): EvolutionStage[] {
  const stages = o.stages ?? (o.generations !== undefined ? [{ name: 'main', generations: o.generations }] : undefined);
  if (!stages || stages.length === 0) throw new RangeError('runEvolution: give generations or a non-empty stages list');
  const names = new Set<string>();
  for (const s of stages) {
    if (typeof s.name !== 'string' || s.name === '') throw new RangeError('runEvolution: every stage needs a name');
    if (names.has(s.name)) throw new RangeError(`runEvolution: duplicate stage name "${s.name}"`);
    names.add(s.name);
    if (!Number.isInteger(s.generations) || s.generations < 0) {
      throw new RangeError(`runEvolution: stage "${s.name}" generations must be a non-negative integer, got ${s.generations}`);
    }
  }
  return stages;
}

/**
 * Refuses to resume the checkpointed run (`meta`, `cma`) with settings other than those it was started with: the
 * parameter count, seed, CMA-ES settings, validation cadence, the stages it has reached. runEvolution checks this
 * when it resumes; a caller with costly preparations (evolveNamm builds every task pool first) can check it before.
 */
export function checkResumable(
  meta: LoopMeta, cma: CmaEs, o: Pick<RunEvolutionOptions, 'dir' | 'dim' | 'seed' | 'cmaOptions'> & { validationEvery: number }, stages: EvolutionStage[],
): void {
  checkCompatible(meta, cma, o, stages);
  const every = o.validationEvery;
  if ((meta.validationEvery ?? 0) !== every) {
    throw new Error(`the checkpoint in ${o.dir} validates the mean every ${meta.validationEvery ?? 0} generations, this run asks for ${every}: resume with the settings it was started with`);
  }
}

function checkCompatible(meta: LoopMeta, cma: CmaEs, o: Pick<RunEvolutionOptions, 'dir' | 'dim' | 'seed' | 'cmaOptions'>, stages: EvolutionStage[]): void {
  if (meta.dim !== o.dim) throw new Error(`the checkpoint in ${o.dir} has ${meta.dim} parameters, this run ${o.dim}: resume with the settings it was started with`);
  // The seed only seeded the strategy's Rng, whose state the checkpoint carries on: another one would be ignored.
  if (o.seed !== undefined && o.seed !== meta.seed) {
    throw new Error(`the checkpoint in ${o.dir} has seed ${JSON.stringify(meta.seed)}, this run asks for ${JSON.stringify(o.seed)}: resume with the settings it was started with`);
  }
  const want = o.cmaOptions ?? {};
  // Every strategy setting the checkpoint's state was built with (a changed one would be ignored silently, and the
  // reports would name it); those left unset here keep the checkpoint's.
  const keys = ['popSize', 'eliteRatio', 'initSigma', 'cm', 'variant', 'mode', 'eigenEvery', 'shiftFirstGeneration', 'c1', 'cmu', 'csigma', 'dsigma', 'cc'] as const;
  for (const k of keys) {
    if (want[k] !== undefined && want[k] !== cma.options[k]) {
      throw new Error(`the checkpoint in ${o.dir} has CMA-ES ${k} ${String(cma.options[k])}, this run asks for ${String(want[k])}: resume with the settings it was started with`);
    }
  }
  for (let i = 0; i <= Math.min(meta.stageIndex, meta.stages.length - 1, stages.length - 1); i++) {
    if (stages[i]?.name !== meta.stages[i]!.name) {
      throw new Error(`runEvolution: checkpoint stage ${i} is "${meta.stages[i]!.name}", asked for "${stages[i]?.name}"`);
    }
    if (i < meta.stageIndex && stages[i]!.generations !== meta.stages[i]!.generations) {
      throw new Error(`stage ${i + 1} ("${stages[i]!.name}") of the run in ${o.dir} ended after ${meta.stages[i]!.generations} generations and a later stage has begun: its length can no longer change (asked for ${stages[i]!.generations})`);
    }
  }
  // A resume may append stages, not drop the one the run has reached (the loop would find nothing left to run, and
  // report the run done in a stage the stages given no longer hold).
  if (meta.stageIndex >= stages.length) {
    const at = meta.stages[meta.stageIndex]?.name;
    throw new Error(`the run in ${o.dir} has reached stage ${meta.stageIndex + 1}${at !== undefined ? ` ("${at}")` : ''}, but this run gives ${stages.length} stage${stages.length === 1 ? '' : 's'}: a resume may add stages, not remove one the run has reached`);
  }
  // The stage the run is in may be lengthened or shortened, but not below the generations it has run: the loop
  // would end it at once, past its length, and validate and count a state the stages given never reach.
  const current = stages[meta.stageIndex]!;
  if (current.generations < meta.stageGeneration) {
    throw new Error(`stage ${meta.stageIndex + 1} ("${current.name}") of the run in ${o.dir} has run ${meta.stageGeneration} generations, but this run gives it ${current.generations}: a resume cannot shorten a stage below the generations it has run (give it at least ${meta.stageGeneration})`);
  }
}

/** Keeps the latest RECENT_TIMES times. */
function pushRecent(times: number[], seconds: number): void {
  times.push(seconds);
  if (times.length > RECENT_TIMES) times.splice(0, times.length - RECENT_TIMES);
}

/**
 * Seconds left to the end of `stages` from generation `stageGeneration` of stage `stageIndex` (its state not yet
 * validated): the generations left at the mean of `generationTimes`, and the validations left at the mean of
 * `validationTimes` (none known: none counted).
 */
function etaSeconds(
  stages: { generations: number }[], stageIndex: number, stageGeneration: number, every: number, generationTimes: number[], validationTimes: number[],
): number {
  const mean = (times: number[]): number => (times.length === 0 ? 0 : times.reduce((s, t) => s + t, 0) / times.length);
  let generations = 0, checks = 0;
  for (let k = stageIndex; k < stages.length; k++) {
    const from = k === stageIndex ? stageGeneration : 0, length = stages[k]!.generations;
    generations += Math.max(0, length - from);
    // A stage validates at its generations 0, every, 2·every, … before its length, and at its end.
    if (every > 0) checks += Math.max(0, Math.ceil(length / every) - Math.ceil(from / every)) + 1;
  }
  return generations * mean(generationTimes) + checks * mean(validationTimes);
}

/** Generations of the stages list that the checkpoint has already run (to size the progress line's total). */
function completedInStages(meta: LoopMeta): number {
  let done = meta.stageGeneration;
  for (let i = 0; i < meta.stageIndex; i++) done += meta.stages[i]!.generations;
  return done;
}

function checkFitness(result: EvaluationResult, popSize: number, generation: number): number[] {
  if (!result || !Array.isArray(result.fitness)) throw new TypeError(`runEvolution: evaluate must return { fitness: number[] } (generation ${generation})`);
  if (result.fitness.length !== popSize) {
    throw new RangeError(`runEvolution: evaluate returned ${result.fitness.length} fitness values for ${popSize} members (generation ${generation})`);
  }
  result.fitness.forEach((f, i) => {
    if (typeof f !== 'number' || !Number.isFinite(f)) throw new RangeError(`runEvolution: fitness[${i}] is ${f} at generation ${generation}`);
  });
  return result.fitness.slice();
}

function summarise(fitness: number[]): { best: number; mean: number; median: number } {
  const sorted = fitness.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { best: sorted[sorted.length - 1]!, mean: fitness.reduce((s, f) => s + f, 0) / fitness.length, median };
}

function logLine(r: StoredRecord): GenerationRecord {
  const { fitness: _omit, ...rest } = r;
  return rest;
}

async function writeParameterFiles(dir: string, cma: CmaEs): Promise<void> {
  await writeFileAtomic(join(dir, 'mean.f32'), float32Bytes(cma.mean));
  if (cma.bestX) await writeFileAtomic(join(dir, 'best.f32'), float32Bytes(cma.bestX));
}

function float32Bytes(a: Float64Array): Uint8Array {
  const f = Float32Array.from(a);
  return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
}

async function exists(path: string): Promise<boolean> {
  try { await fs.access(path); return true; } catch { return false; }
}
