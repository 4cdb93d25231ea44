/**
 * NAMM fitness (spec/namm.md §5, §7.11): every generation samples prompts per task without replacement, shared by
 * all members; a member's task score is its mean score over those prompts divided by the full-cache model's mean
 * on the same prompts, and its fitness is the mean of these ratios over the tasks, optionally minus a cache-size
 * penalty.
 *
 * Two normalisations:
 * - 'reference': exactly the reference's `100·m / (100·r + 1e-7)`. A sample on which the full cache scores nothing
 *   divides by 1e-7, so the ratio explodes to ~1e9·m and that one task swamps every other (§7.11).
 * - 'guarded' (default): `m / r` for tasks whose sampled reference mean r is > 0; a task with r = 0 is left out of
 *   that generation's mean (the full cache failed every sampled prompt, so the sample says nothing about what
 *   forgetting costs). If every task is left out, the fitness is the mean raw score over the tasks, so a member
 *   that answers what the full cache could not still ranks first. The decision is made per generation on the
 *   shared sample, so it is the same for all members and never biases the ranking among them (CMA-ES only uses
 *   ranks within a generation).
 */
import { Rng } from '../util/rng.js';
import { argError, checkArg } from '../util/args.js';

export type FitnessNormalisation = 'guarded' | 'reference';
export const FITNESS_NORMALISATIONS: readonly FitnessNormalisation[] = ['guarded', 'reference'];

/** The reference's denominator guard (`+1e-7` on the ×100 task score). */
export const REFERENCE_EPSILON = 1e-7;

/** One task's scores on this generation's sampled prompts. */
export interface TaskScores {
  task: string;
  /** Full-cache score of each sampled prompt, in [0, 1]. */
  reference: readonly number[];
  /** `members[j][i]`: member j's score on sampled prompt i, in [0, 1]. */
  members: readonly (readonly number[])[];
}

export interface FitnessOptions {
  normalisation?: FitnessNormalisation;
  /** λ of `fitness −= λ · mean KV fraction` (default 0: off, as in the reference). */
  cachePenalty?: number;
}

export interface FitnessResult {
  fitness: number[];
  /** `ratios[j][t]`: member j's normalised score on task t, null where the task was left out. */
  ratios: (number | null)[][];
  /** Tasks left out this generation (guarded mode, zero reference mean). */
  skippedTasks: string[];
  /** True when every task was left out and the fitness is the mean raw score. */
  rawFallback: boolean;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/**
 * Fitness of every member from per-task scores; `kvFractions[j]` (member j's mean KV fraction over its prompts)
 * is needed only when a cache penalty is set.
 */
export function computeFitness(tasks: readonly TaskScores[], kvFractions: readonly number[] | null, options: FitnessOptions = {}): FitnessResult {
  checkArg('computeFitness', 'tasks', tasks, 'array', 'an array of task scores { task, scores }');
  if (kvFractions !== null) checkArg('computeFitness', 'kvFractions', kvFractions, 'numbers', 'an array of KV fractions (numbers) or null');
  if (options === null || typeof options !== 'object') throw argError('computeFitness', 'options', 'an object', options);
  const normalisation = options.normalisation ?? 'guarded';
  if (!FITNESS_NORMALISATIONS.includes(normalisation)) {
    throw new RangeError(`fitness normalisation must be ${FITNESS_NORMALISATIONS.join(' or ')}, got "${String(normalisation)}"`);
  }
  const penalty = options.cachePenalty ?? 0;
  if (!Number.isFinite(penalty) || penalty < 0) throw new RangeError(`cachePenalty must be a finite number ≥ 0, got ${penalty}`);
  if (tasks.length === 0) throw new RangeError('fitness needs at least one task');
  const popSize = tasks[0]!.members.length;
  if (popSize === 0) throw new RangeError('fitness needs at least one member');
  for (const t of tasks) checkTask(t, popSize);
  if (penalty > 0) {
    if (!kvFractions || kvFractions.length !== popSize) throw new RangeError(`a cache penalty needs one KV fraction per member (${popSize})`);
    kvFractions.forEach((f, j) => { if (!(f >= 0 && f <= 1)) throw new RangeError(`KV fraction of member ${j} must be in [0, 1], got ${f}`); });
  }

  const referenceMeans = tasks.map((t) => mean(t.reference));
  const used = tasks.map((_, i) => normalisation === 'reference' || referenceMeans[i]! > 0);
  const rawFallback = !used.some(Boolean);
  const ratios: (number | null)[][] = [];
  const fitness: number[] = [];
  for (let j = 0; j < popSize; j++) {
    const row: (number | null)[] = [];
    let sum = 0, count = 0;
    tasks.forEach((t, i) => {
      const m = mean(t.members[j]!);
      if (rawFallback) { row.push(null); sum += m; count++; return; }
      if (!used[i]) { row.push(null); return; }
      const r = referenceMeans[i]!;
      const ratio = normalisation === 'reference' ? (100 * m) / (100 * r + REFERENCE_EPSILON) : m / r;
      row.push(ratio);
      sum += ratio; count++;
    });
    ratios.push(row);
    fitness.push(sum / count - (penalty > 0 ? penalty * kvFractions![j]! : 0));
  }
  return { fitness, ratios, skippedTasks: tasks.filter((_, i) => !used[i]).map((t) => t.task), rawFallback };
}

function checkTask(t: TaskScores, popSize: number): void {
  if (t.reference.length === 0) throw new RangeError(`task ${t.task}: no sampled prompts`);
  if (t.members.length !== popSize) throw new RangeError(`task ${t.task}: ${t.members.length} members, expected ${popSize}`);
  const check = (v: number, what: string): void => {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`task ${t.task}: ${what} is ${v}, scores must be in [0, 1]`);
  };
  t.reference.forEach((v, i) => check(v, `reference score ${i}`));
  t.members.forEach((row, j) => {
    if (row.length !== t.reference.length) throw new RangeError(`task ${t.task}: member ${j} has ${row.length} scores for ${t.reference.length} prompts`);
    row.forEach((v, i) => check(v, `member ${j} score ${i}`));
  });
}

/**
 * The prompts of one task for one generation: `count` distinct indices into a pool of `poolSize`, drawn without
 * replacement from a generator seeded by (run seed, generation, task), so every member sees the same prompts and a
 * resumed run draws exactly what the interrupted one did.
 */
export function samplePromptIndices(poolSize: number, count: number, seed: number, generation: number, task: string): number[] {
  checkArg('samplePromptIndices', 'task', task, 'string', 'a task name (a string)');
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError(`task ${task}: the prompt pool is empty`);
  if (!Number.isInteger(count) || count < 1 || count > poolSize) {
    throw new RangeError(`task ${task}: cannot sample ${count} prompts without replacement from a pool of ${poolSize}`);
  }
  const rng = new Rng(`namm-evolve|${seed}|${generation}|${task}`);
  const idx = Array.from({ length: poolSize }, (_, i) => i);
  // Partial Fisher–Yates: the first `count` slots end up a uniform sample without replacement.
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(poolSize - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, count);
}
