/**
 * The curriculum file of `namm evolve`: evolution settings and a list of stages, each a set of tasks with a prompt
 * pool, how many prompts per task every generation samples, and how many generations it runs. Later stages usually
 * add tasks (`addTasks`), as the reference's incremental training does (retrieval first, then harder mixes); the
 * CMA-ES state carries over from stage to stage.
 *
 * Tasks are generated (`{ "task": "passkey", "lengths": [4096], "samples": 64, "seed": 2000000 }`, sized in the
 * model's tokens) or read from a JSONL file of task records (`{ "jsonl": "data/x.jsonl", "name": "x" }`, relative
 * to the curriculum file). Generated evolution tasks must use seeds ≥ 2,000,000 (MIN_TRAINING_SEED): evaluation sets
 * use seeds below 1,000,000 (`namm tasks generate` defaults to 0) and the model trainer 1,000,000–1,999,999.
 *
 * Every key is checked; an unknown key (a typo) is an error naming its place in the file.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { CmaMode, CmaVariant } from './cmaes.js';
import { FITNESS_NORMALISATIONS, type FitnessNormalisation } from './fitness.js';
import { NAMM_SELECTIONS, type NammSelection } from '../memory/namm/selection.js';
import { MAX_UPDATE_EVERY } from '../memory/namm/buffer.js';
import { TAP_PRECISIONS, type TapPrecision } from '../memory/policy.js';
import type { Tokenizer } from '../models/types.js';
import { checkRecordOptions, generateRecords } from '../tasks/registry.js';
import { loadLongBenchConfig, readJsonl } from '../tasks/longbench.js';
import type { TaskRecord } from '../tasks/record.js';
import { RECORD_SCORES, type RecordScore } from '../eval/runner.js';
import { checkMetricOptions, type MetricOptions } from '../tasks/metrics/index.js';
import { MiB, readFileLimited } from '../util/files.js';
import { stableJson } from '../util/stable-json.js';
import { argError, checkArg } from '../util/args.js';

/** Re-exported: equal definitions hash equally wherever they are compared. */
export { stableJson };

/**
 * Generated tasks of an evolution use seeds from here up: seeds below 1,000,000 are evaluation sets', and
 * 1,000,000–1,999,999 are the model trainer's (`namm train`, src/train/data.ts), so a NAMM is never evolved on a
 * model's training samples nor scored during evolution on evaluation prompts.
 */
export const MIN_TRAINING_SEED = 2_000_000;
/** The largest CMA-ES population accepted (the paper's is 32): beyond it a mistyped size would fill memory, not fail. */
export const MAX_POP_SIZE = 4096;

export interface GeneratedTaskSpec {
  kind: 'generated';
  /** The task's name in fitness reports (default: the generator's name). */
  name: string;
  task: string;
  /** Target lengths in tokens (prompt + answer); the pool holds `samples` records per length. */
  lengths: number[];
  samples: number;
  seed: number;
  haystack?: string;
}

export interface JsonlTaskSpec {
  kind: 'jsonl';
  name: string;
  /** Absolute path of the JSONL file. */
  path: string;
  /** Use only the first `limit` records. */
  limit?: number;
}

export type TaskSpec = GeneratedTaskSpec | JsonlTaskSpec;

export interface StageSpec {
  name: string;
  generations: number;
  samplesPerTask: number;
  /** Every task of the stage (inherited ones included, for `addTasks`). */
  tasks: TaskSpec[];
}

export interface CmaSettings {
  popSize: number;
  initSigma: number;
  eliteRatio: number;
  variant: CmaVariant;
  mode: CmaMode;
}

export interface NammSettings {
  updateEvery: number;
  selection: NammSelection;
  cacheSize: number | null;
  /** The attention probabilities NAMM reads (reference: 'bf16'). */
  taps: TapPrecision;
}

export interface RunSettings {
  /** Prompt budget in tokens (default: the model's context minus the answer). */
  maxPromptTokens: number | null;
  /** The context the budget is taken from, less each record's answer (RunRecordOptions.contextWindow; null: the model's). */
  contextWindow: number | null;
  /** Override of every record's answer length. */
  maxNewTokens: number | null;
  queryAware: boolean;
  chunkSize: number | null;
  /** Absolute path of a LongBench config folder (for LongBench records without their own template). */
  longbenchConfig: string | null;
  /** What a member is scored on: the task metric (the reference's) or the gold answer's likelihood (runner.ts). */
  score: RecordScore;
  /** Variants of the task metrics (MetricOptions; {} the official ones, as `namm eval --metric-option`). */
  metricOptions: MetricOptions;
}

export interface Curriculum {
  /** Where it came from, for messages. */
  source: string;
  description: string;
  seed: number;
  cma: CmaSettings;
  namm: NammSettings;
  run: RunSettings;
  fitness: { normalisation: FitnessNormalisation; cachePenalty: number };
  /** Calibration runs on stage 1's pool; `limit` caps the records used per task (null: all). */
  calibration: { limit: number | null };
  /**
   * Validation of the CMA-ES mean (spec/namm.md §5): every `every` generations of a stage (and at its end) on the
   * stage's prompts, at most `limit` per task (null: all, as the reference); each stage ends in its best-scoring
   * state and the next starts there. `every` 0: off, each stage ends in its last state.
   */
  validation: { every: number; limit: number | null };
  stages: StageSpec[];
}

/**
 * The defaults: the reference's CMA-ES settings (population 32, σ 0.065, elite ratio 0.5, full covariance), with
 * two of the project's options in place of the reference's algorithm: a lazy eigendecomposition (mode 'fast'; the
 * reference decomposes at every ask) and the 'guarded' fitness normalisation. A run as the reference's sets
 * cma.mode and fitness.normalisation to 'reference'.
 */
export const CURRICULUM_DEFAULTS = {
  seed: 0,
  cma: { popSize: 32, initSigma: 0.065, eliteRatio: 0.5, variant: 'full', mode: 'fast' } as CmaSettings,
  namm: { updateEvery: 512, selection: 'min-over-heads', cacheSize: null, taps: 'bf16' } as NammSettings,
  run: { maxPromptTokens: null, contextWindow: null, maxNewTokens: null, queryAware: false, chunkSize: null, longbenchConfig: null, score: 'task', metricOptions: {} } as RunSettings,
  fitness: { normalisation: 'guarded' as FitnessNormalisation, cachePenalty: 0 },
  calibration: { limit: null as number | null },
  validation: { every: 10, limit: null as number | null },
};

type Json = Record<string, unknown>;

/** The longest stage name (it names the stage's .namm file, under the file system's 255 bytes with its temporary). */
export const MAX_STAGE_NAME = 100;
/** The most prompts a generated task may pool per length (all are made before the run starts). */
export const MAX_POOL_SAMPLES = 65_536;

/** run.metricOptions: a MetricOptions object (checked as `namm eval --metric-option` is), or {} when absent. */
function metricOptionsIn(c: Checker, v: unknown): MetricOptions {
  if (v === undefined || v === null) return {};
  try {
    return { ...checkMetricOptions(v as MetricOptions) };
  } catch (err) {
    return c.fail('run.metricOptions', (err as Error).message);
  }
}

/** Validation with the place of every problem in the message. */
class Checker {
  constructor(private readonly source: string) {}

  fail(path: string, why: string): never {
    throw new Error(`${this.source}: ${path}: ${why}`);
  }

  object(v: unknown, path: string, keys: readonly string[], otherwise = ''): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be a JSON object');
    for (const k of Object.keys(v as Json)) {
      if (!keys.includes(k)) this.fail(path, `unknown key "${k}" (valid: ${keys.join(', ')}${otherwise})`);
    }
    return v as Json;
  }

  int(v: unknown, path: string, min: number, fallback?: number): number {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(path, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  }

  intOrNull(v: unknown, path: string, min: number): number | null {
    return v === undefined || v === null ? null : this.int(v, path, min);
  }

  number(v: unknown, path: string, min: number, fallback: number, exclusiveMin = false): number {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (exclusiveMin && v === min)) {
      this.fail(path, `must be a number ${exclusiveMin ? '>' : '≥'} ${min}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  }

  oneOf<T extends string>(v: unknown, path: string, values: readonly T[], fallback: T): T {
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(path, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return v as string;
  }

  bool(v: unknown, path: string, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(path, `must be true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  }
}

/** Validates a parsed curriculum; relative JSONL and config paths resolve against `baseDir`. */
export function parseCurriculum(value: unknown, source = 'curriculum', baseDir = '.'): Curriculum {
  const c = new Checker(source);
  const top = c.object(value, '(top level)', ['description', 'seed', 'cma', 'namm', 'run', 'fitness', 'calibration', 'validation', 'stages']);
  const d = CURRICULUM_DEFAULTS;

  const cmaIn = top.cma === undefined ? {} : c.object(top.cma, 'cma', ['popSize', 'initSigma', 'eliteRatio', 'variant', 'mode']);
  const cma: CmaSettings = {
    popSize: c.int(cmaIn.popSize, 'cma.popSize', 2, d.cma.popSize),
    initSigma: c.number(cmaIn.initSigma, 'cma.initSigma', 0, d.cma.initSigma, true),
    eliteRatio: c.number(cmaIn.eliteRatio, 'cma.eliteRatio', 0, d.cma.eliteRatio, true),
    variant: c.oneOf(cmaIn.variant, 'cma.variant', ['full', 'separable'] as const, d.cma.variant),
    mode: c.oneOf(cmaIn.mode, 'cma.mode', ['reference', 'fast'] as const, d.cma.mode),
  };
  if (cma.eliteRatio > 1) c.fail('cma.eliteRatio', `must be at most 1, got ${cma.eliteRatio}`);
  if (cma.popSize > MAX_POP_SIZE) c.fail('cma.popSize', `must be at most ${MAX_POP_SIZE} (each member is a run of every prompt), got ${cma.popSize}`);

  const nammIn = top.namm === undefined ? {} : c.object(top.namm, 'namm', ['updateEvery', 'selection', 'cacheSize', 'taps']);
  const namm: NammSettings = {
    updateEvery: c.int(nammIn.updateEvery, 'namm.updateEvery', 16, d.namm.updateEvery),
    selection: c.oneOf(nammIn.selection, 'namm.selection', NAMM_SELECTIONS, d.namm.selection),
    cacheSize: c.intOrNull(nammIn.cacheSize, 'namm.cacheSize', 1),
    taps: c.oneOf(nammIn.taps, 'namm.taps', TAP_PRECISIONS, d.namm.taps),
  };
  if (namm.updateEvery % 16 !== 0) c.fail('namm.updateEvery', `must be a multiple of 16 (the STFT hop), got ${namm.updateEvery}`);
  if (namm.updateEvery > MAX_UPDATE_EVERY) c.fail('namm.updateEvery', `must be at most ${MAX_UPDATE_EVERY}, got ${namm.updateEvery}`);

  const runIn = top.run === undefined ? {} : c.object(top.run, 'run', ['maxPromptTokens', 'contextWindow', 'maxNewTokens', 'queryAware', 'chunkSize', 'longbenchConfig', 'score', 'metricOptions']);
  const run: RunSettings = {
    maxPromptTokens: c.intOrNull(runIn.maxPromptTokens, 'run.maxPromptTokens', 2),
    contextWindow: c.intOrNull(runIn.contextWindow, 'run.contextWindow', 2),
    maxNewTokens: c.intOrNull(runIn.maxNewTokens, 'run.maxNewTokens', 1),
    queryAware: c.bool(runIn.queryAware, 'run.queryAware', false),
    chunkSize: c.intOrNull(runIn.chunkSize, 'run.chunkSize', 1),
    longbenchConfig: runIn.longbenchConfig === undefined || runIn.longbenchConfig === null
      ? null : resolve(baseDir, c.string(runIn.longbenchConfig, 'run.longbenchConfig')),
    score: c.oneOf(runIn.score, 'run.score', RECORD_SCORES, d.run.score),
    metricOptions: metricOptionsIn(c, runIn.metricOptions),
  };
  if (run.maxPromptTokens !== null && run.contextWindow !== null) c.fail('run', 'contextWindow and maxPromptTokens both set the prompt budget; give one of them');

  const fitIn = top.fitness === undefined ? {} : c.object(top.fitness, 'fitness', ['normalisation', 'cachePenalty']);
  const fitness = {
    normalisation: c.oneOf(fitIn.normalisation, 'fitness.normalisation', FITNESS_NORMALISATIONS, d.fitness.normalisation),
    cachePenalty: c.number(fitIn.cachePenalty, 'fitness.cachePenalty', 0, d.fitness.cachePenalty),
  };
  const calIn = top.calibration === undefined ? {} : c.object(top.calibration, 'calibration', ['limit']);
  const calibration = { limit: c.intOrNull(calIn.limit, 'calibration.limit', 1) };
  const valIn = top.validation === undefined ? {} : c.object(top.validation, 'validation', ['every', 'limit']);
  const validation = { every: c.int(valIn.every, 'validation.every', 0, d.validation.every), limit: c.intOrNull(valIn.limit, 'validation.limit', 1) };

  if (!Array.isArray(top.stages) || top.stages.length === 0) c.fail('stages', 'must be a non-empty list of stages');
  const stages: StageSpec[] = [];
  const byName = new Map<string, { spec: TaskSpec; where: string }>();
  (top.stages as unknown[]).forEach((raw, s) => {
    const where = `stages[${s}]`;
    const st = c.object(raw, where, ['name', 'generations', 'samplesPerTask', 'tasks', 'addTasks']);
    const name = st.name === undefined ? `stage${s + 1}` : c.string(st.name, `${where}.name`);
    // It names the stage's .namm file (and its temporary beside it): a longer one passed here and failed with
    // ENAMETOOLONG once the whole stage had run, on every resume after.
    if (name.length > MAX_STAGE_NAME) c.fail(`${where}.name`, `must be at most ${MAX_STAGE_NAME} characters (it names the stage's .namm file), got ${name.length}`);
    if (stages.some((x) => x.name === name)) c.fail(`${where}.name`, `duplicate stage name "${name}"`);
    if ((st.tasks === undefined) === (st.addTasks === undefined)) {
      c.fail(where, 'give exactly one of "tasks" (the stage\'s full task list) and "addTasks" (tasks added to the previous stage\'s)');
    }
    if (st.addTasks !== undefined && s === 0) c.fail(`${where}.addTasks`, 'the first stage has no previous tasks; use "tasks"');
    const key = st.tasks !== undefined ? 'tasks' : 'addTasks';
    const list = st[key];
    if (!Array.isArray(list) || list.length === 0) c.fail(`${where}.${key}`, 'must be a non-empty list of tasks');
    const own = (list as unknown[]).map((t, i) => parseTask(c, t, `${where}.${key}[${i}]`, baseDir));
    const tasks = key === 'addTasks' ? [...stages[s - 1]!.tasks, ...own] : own;
    const names = new Set<string>();
    tasks.forEach((t, i) => {
      if (names.has(t.name)) c.fail(`${where}`, `task name "${t.name}" appears twice; give one of them a different "name"`);
      names.add(t.name);
      const seen = byName.get(t.name);
      if (seen && stableJson(seen.spec) !== stableJson(t)) {
        c.fail(`${where}.${key}[${i - (tasks.length - own.length)}]`, `task "${t.name}" is defined differently in ${seen.where}; one name, one prompt pool`);
      }
      if (!seen) byName.set(t.name, { spec: t, where: `${where}.${key}` });
    });
    // Two generated tasks of one stage with the same task, seed and haystack generate the same prompts at a length
    // they share (a sample depends on its seed and index): that length's prompts would count twice in the fitness.
    const gen = tasks.filter((t): t is Extract<TaskSpec, { kind: 'generated' }> => t.kind === 'generated');
    gen.forEach((a, i) => gen.slice(i + 1).forEach((b) => {
      const shared = a.lengths.find((l) => b.lengths.includes(l));
      if (a.task === b.task && a.seed === b.seed && a.haystack === b.haystack && shared !== undefined) {
        c.fail(where, `tasks "${a.name}" and "${b.name}" generate the same prompts (task ${a.task}, seed ${a.seed}, length ${shared}), which would count twice; give one of them another seed`);
      }
    }));
    // The same file under two names (and limits that share records) puts its prompts into the fitness twice.
    const files = tasks.filter((t): t is Extract<TaskSpec, { kind: 'jsonl' }> => t.kind === 'jsonl');
    files.forEach((a, i) => files.slice(i + 1).forEach((b) => {
      if (a.path === b.path) c.fail(where, `tasks "${a.name}" and "${b.name}" both read ${a.path}, whose prompts would count twice; list the file once`);
    }));
    const samplesPerTask = c.int(st.samplesPerTask, `${where}.samplesPerTask`, 1);
    for (const t of tasks) {
      if (t.kind === 'generated' && t.samples * t.lengths.length < samplesPerTask) {
        c.fail(`${where}.samplesPerTask`, `${samplesPerTask} prompts per generation cannot be drawn without replacement from task "${t.name}"'s pool of ${t.samples * t.lengths.length}`);
      }
    }
    stages.push({ name, generations: c.int(st.generations, `${where}.generations`, 0), samplesPerTask, tasks });
  });

  return {
    source, description: top.description === undefined ? '' : c.string(top.description, 'description'),
    seed: c.int(top.seed, 'seed', 0, d.seed), cma, namm, run, fitness, calibration, validation, stages,
  };
}

function parseTask(c: Checker, raw: unknown, where: string, baseDir: string): TaskSpec {
  if (typeof raw === 'object' && raw !== null && 'jsonl' in raw) {
    const t = c.object(raw, where, ['jsonl', 'name', 'limit']);
    const path = resolve(baseDir, c.string(t.jsonl, `${where}.jsonl`));
    const limit = c.intOrNull(t.limit, `${where}.limit`, 1);
    const name = t.name === undefined ? path.split(/[\\/]/).pop()!.replace(/\.jsonl?$/, '') : c.string(t.name, `${where}.name`);
    return { kind: 'jsonl', name, path, ...(limit !== null ? { limit } : {}) };
  }
  const t = c.object(raw, where, ['task', 'name', 'lengths', 'samples', 'seed', 'haystack'], '; a task read from a file: jsonl, name, limit');
  const task = c.string(t.task, `${where}.task`);
  if (!Array.isArray(t.lengths) || t.lengths.length === 0) c.fail(`${where}.lengths`, 'must be a non-empty list of token lengths');
  const lengths = (t.lengths as unknown[]).map((l, i) => c.int(l, `${where}.lengths[${i}]`, 1));
  // A sample's content depends on its seed and index, not on its length: a length given twice would put every
  // prompt of it into the pool twice, and a generation "without replacement" could draw the same prompt twice.
  lengths.forEach((l, i) => {
    if (lengths.indexOf(l) !== i) c.fail(`${where}.lengths[${i}]`, `length ${l} appears twice (it would put the same prompts into the pool twice)`);
  });
  const samples = c.int(t.samples, `${where}.samples`, 1);
  // Every prompt of a pool is made and tokenised before the run starts: a typo (an extra zero or three) ran for
  // hours and filled memory before anything was said.
  if (samples > MAX_POOL_SAMPLES) c.fail(`${where}.samples`, `must be at most ${MAX_POOL_SAMPLES} per length (every prompt of a pool is generated before the run starts), got ${samples}`);
  if (t.seed === undefined) c.fail(`${where}.seed`, `is required for a generated training task (an integer ≥ ${MIN_TRAINING_SEED})`);
  const seed = c.int(t.seed, `${where}.seed`, 0);
  if (seed < MIN_TRAINING_SEED) {
    c.fail(`${where}.seed`, `evolution seeds must be ≥ ${MIN_TRAINING_SEED} so that its prompts never overlap evaluation prompts (seeds below 1,000,000) or the model trainer's samples (1,000,000–1,999,999), got ${seed}`);
  }
  const haystack = t.haystack === undefined ? undefined : c.string(t.haystack, `${where}.haystack`);
  try {
    for (const length of lengths) checkRecordOptions({ task, length, seed, ...(haystack !== undefined ? { haystack } : {}) });
  } catch (err) {
    c.fail(where, (err as Error).message);
  }
  const name = t.name === undefined ? task : c.string(t.name, `${where}.name`);
  return { kind: 'generated', name, task, lengths, samples, seed, ...(haystack !== undefined ? { haystack } : {}) };
}

/** Reads and validates a curriculum JSON file. */
export function loadCurriculum(path: string): Curriculum {
  checkArg('loadCurriculum', 'path', path, 'path');
  let text: string;
  try {
    text = readFileLimited(path, 16 * MiB, 'curriculum').toString('utf8');
  } catch (err) {
    throw new Error(`cannot read curriculum ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseCurriculum(value, path, dirname(resolve(path)));
}

/**
 * Every task's prompt pool, keyed by task name (generated in the model's tokens, or read from JSONL).
 * `maxLength` refuses generated lengths beyond it before anything is generated (evolveNamm passes 8× the model's
 * context: a longer prompt is cut to the context in the middle anyway, and generating millions of tokens would
 * only take the time and memory of a run that never starts).
 *
 * `checkRecord` is called on every pooled record of every stage and throws for one that cannot run (evolveNamm passes
 * the runner's prompt check, recordPrompt): a record of a later stage that cannot run would otherwise fail the run
 * only when it is first drawn or validated, generations into it. The error names the stage, the task, the record
 * and its file.
 */
export function resolveTaskPools(
  curriculum: Curriculum, tokenizer: Tokenizer, maxLength = Infinity, checkRecord?: (record: TaskRecord) => void,
): Map<string, TaskRecord[]> {
  if (!Array.isArray((curriculum as Partial<Curriculum> | null)?.stages)) throw argError('resolveTaskPools', 'curriculum', 'a curriculum (parseCurriculum)', curriculum);
  checkArg('resolveTaskPools', 'tokenizer', tokenizer, 'tokenizer');
  for (const stage of curriculum.stages) {
    for (const t of stage.tasks) {
      const over = t.kind === 'generated' ? t.lengths.find((l) => l > maxLength) : undefined;
      if (over !== undefined) throw new Error(`${curriculum.source}: task "${t.name}" asks for ${over}-token prompts, more than the ${maxLength} this run allows (8× the model's context: longer prompts are cut to the context anyway)`);
    }
  }
  const pools = new Map<string, TaskRecord[]>();
  for (const stage of curriculum.stages) {
    for (const t of stage.tasks) {
      if (pools.has(t.name)) continue;
      let records: TaskRecord[];
      if (t.kind === 'generated') {
        try {
          records = generateRecords({ task: t.task, lengths: t.lengths, n: t.samples, seed: t.seed, tokenizer, ...(t.haystack !== undefined ? { haystack: t.haystack } : {}) });
        } catch (err) {
          // A length too small for the task (or a haystack too short) said only the task's name.
          throw new Error(`${curriculum.source}: stage "${stage.name}", task "${t.name}": ${(err as Error).message}`);
        }
      } else {
        records = readJsonl(t.path).slice(0, t.limit ?? Infinity);
        if (records.length === 0) throw new Error(`${curriculum.source}: task "${t.name}": ${t.path} holds no records`);
      }
      if (checkRecord) {
        records.forEach((record, i) => {
          try {
            checkRecord(record);
          } catch (err) {
            const where = t.kind === 'jsonl' ? `record ${i + 1} of ${t.path}` : `generated record ${i + 1}`;
            throw new Error(`${curriculum.source}: stage "${stage.name}", task "${t.name}": ${where} (_id ${record._id}) cannot run: ${(err as Error).message}`);
          }
        });
      }
      pools.set(t.name, records);
    }
    for (const t of stage.tasks) {
      const n = pools.get(t.name)!.length;
      if (n < stage.samplesPerTask) {
        throw new Error(`${curriculum.source}: stage "${stage.name}" samples ${stage.samplesPerTask} prompts per generation but task "${t.name}" has only ${n} records`);
      }
    }
  }
  return pools;
}


const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

/**
 * Fingerprints that a resumed run must match: the settings that change what a fitness value means, and each
 * stage's prompts (its tasks and samples per generation; not its generation count, which may be extended).
 *
 * 'portable' (what runs record): no absolute path, so that a run still resumes after its project folder moves. A
 * JSONL task is fingerprinted by its name and limit (its records are checked apart, by the prompt-pool hashes), and
 * the LongBench config folder by what it holds (its parsed templates and lengths), so that an edited config is now
 * refused too. 'legacy' is the form of runs started before this one (those paths as they were resolved), still
 * accepted from their checkpoints.
 */
export function curriculumFingerprints(c: Curriculum, form: 'portable' | 'legacy' = 'portable'): { settings: string; stages: string[] } {
  checkArg('curriculumFingerprints', 'c', c, 'object', 'a curriculum (parseCurriculum)');
  if (form !== 'portable' && form !== 'legacy') throw argError('curriculumFingerprints', 'form', '"portable" or "legacy"', form);
  const portable = form === 'portable';
  const run = runWithoutDefaults(c.run);
  if (portable && typeof run.longbenchConfig === 'string') run.longbenchConfig = `content:${sha(stableJson(loadLongBenchConfig(run.longbenchConfig)))}`;
  const task = (t: TaskSpec): unknown => {
    if (!portable || t.kind !== 'jsonl') return t;
    const { path: _path, ...rest } = t;
    return rest;
  };
  return {
    // The default score and context window and fp32 taps are left out, so runs started before those options existed
    // (on fp32 taps) keep their fingerprint.
    // Validation changes where each stage ends; off, it is left out (runs from before it existed were without it).
    settings: sha(stableJson({
      namm: nammWithoutFp32Taps(c.namm), run, fitness: c.fitness, calibration: c.calibration,
      ...(c.validation.every > 0 ? { validation: c.validation } : {}),
    })),
    stages: c.stages.map((s) => sha(stableJson({ name: s.name, samplesPerTask: s.samplesPerTask, tasks: s.tasks.map(task) }))),
  };
}

function nammWithoutFp32Taps(namm: NammSettings): Partial<NammSettings> {
  if (namm.taps !== 'fp32') return namm;
  const { taps: _taps, ...rest } = namm;
  return rest;
}

function runWithoutDefaults(run: RunSettings): Partial<RunSettings> {
  const { score, contextWindow, metricOptions, ...rest } = run;
  return {
    ...rest, ...(score !== 'task' ? { score } : {}), ...(contextWindow !== null ? { contextWindow } : {}),
    ...(Object.keys(metricOptions).length > 0 ? { metricOptions } : {}),
  };
}
