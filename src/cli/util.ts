/** Small helpers shared by the CLI commands: option parsing with clear errors. */
import { InvalidArgumentError, type Command } from 'commander';
import { parseWeightStorage, WEIGHT_STORAGES, type WeightStorage } from '../models/pack.js';
import { checkPolicySpec } from '../memory/spec.js';
import { MatchedPolicy } from '../memory/matched.js';
import type { MemoryPolicy } from '../memory/policy.js';
import { autoWeights, loadModel, type Model } from '../models/model.js';

export function intOption(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    // Decimal digits only: Number() read 0x10 as 16, 1e1 as 10 and '' as 0. Safe integers only: 1e300 is an
    // integer to JavaScript, but every step of arithmetic on it rounds.
    const n = /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (at most 2^53 − 1), got "${v}"`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity, minExclusive = false): (v: string) => number {
  return (v: string) => {
    // Decimal numbers (an exponent allowed): Number() read 0x10 as 16 and '' as 0.
    const n = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || (minExclusive && n === min) || n > max) {
      const range = max === Infinity
        ? (min === -Infinity ? 'a finite number' : `a finite number ${minExclusive ? '>' : '≥'} ${min}`)
        : `a number in ${minExclusive ? '(' : '['}${min}, ${max}]`;
      throw new InvalidArgumentError(`${name} must be ${range}, got "${v}"`);
    }
    return n;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Refuses an option that takes one value given twice, in `cmd` and every subcommand (commander keeps the last:
 * `generate --memory h2o:ratio=0.5 --memory full` ran the full cache without a word). Repeatable options (their values
 * collected) and flags without a value are left alone.
 */
export function refuseRepeatedOptions(cmd: Command): void {
  const seen = new Set<string>();
  for (const opt of cmd.options) {
    if ((!opt.required && !opt.optional) || opt.parseArg === collect) continue;
    cmd.on(`option:${opt.name()}`, () => {
      if (seen.has(opt.name())) cmd.error(`error: option '${opt.flags}' given twice; it takes one value (the last would have replaced the first)`);
      seen.add(opt.name());
    });
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}

/** `--weights <storage>`: how the model's weight matrices are held (src/models/pack.ts). */
export const WEIGHTS_FLAGS = '--weights <storage>';
export const WEIGHTS_HELP = `how weight matrices are held: ${WEIGHT_STORAGES.join(' | ')} (auto, the default: F16, BF16 and quantised matrices (Q8_0, Q4_0, Q4_K, ...) stay as the file stores them, widened on the TypeScript backend; f32 widens all, packed keeps all, each with the same results; q8_0/q4_0/f16/bf16 also convert float32 ones, lossy)`;
export function weightsOption(v: string): WeightStorage {
  try {
    return parseWeightStorage(v, '--weights');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * The model at `path`, loaded with `--weights` as given. A GPT-2 model keeps its matrices float32 whatever the
 * storage (its Conv1D matrices are transposed at load), so a converting one (q8_0, q4_0, f16, bf16) changes nothing
 * there: said on stderr, since the results would otherwise read as the converted model's.
 */
export async function loadCliModel(path: string, weights: WeightStorage | undefined): Promise<Model> {
  const model = await loadModel(path, weights ? { weights } : {});
  if (model.config.arch === 'gpt2' && weights && ['q8_0', 'q4_0', 'f16', 'bf16'].includes(weights)) {
    process.stderr.write(`namm: note: --weights ${weights} changes nothing on this GPT-2 model: its matrices stay float32 (only Llama-family matrices are converted)\n`);
  }
  return model;
}

/**
 * The storage a model's matrices really have, for reports: float32 on a GPT-2 model whatever --weights said, and
 * 'auto' on the TypeScript backend, which widens every matrix at load; otherwise what was asked ('auto': as stored).
 */
export function weightsApplied(model: Model, weights: WeightStorage | undefined): string {
  return model.config.arch === 'gpt2' ? 'f32' : autoWeights(weights ?? 'auto', model.backend);
}

/** The refusal of --max-prompt-tokens and --context-window given together (eval, calibrate). */
export const BOTH_BUDGETS = '--max-prompt-tokens and --context-window both set the prompt budget; give one of them';

/**
 * A predicate: whether a --memory spec is a `matched(SPEC)` without trace=, which follows the trace of another run
 * (eval --match, demo). Each spec is checked in full on first sight (checkPolicySpec), so a bad one fails before any
 * work runs, and the answer is kept (a given trace= is read once here).
 */
export function traceFollower(): (spec: string) => boolean {
  const seen = new Map<string, boolean>();
  return (spec) => {
    let follows = seen.get(spec);
    if (follows === undefined) seen.set(spec, (follows = checkPolicySpec(spec).followsTrace));
    return follows;
  };
}

/**
 * A note (or null) for a `matched(…)` policy some of whose trace's eviction points this sequence never reached: the
 * trace came from a longer prompt or generation, and with none reached the run was the full cache, without a word.
 */
export function unreachedTraceNote(policy: MemoryPolicy | null, tokens: number): string | null {
  if (!(policy instanceof MatchedPolicy)) return null;
  const left = policy.pendingEvents();
  if (left === 0) return null;
  return `note: ${policy.name}: ${left} of the trace's evictions (counted per layer) lie past this sequence's ${tokens} tokens and never happened; the trace was recorded on a longer prompt or generation, and matched(…) follows the prompt it was recorded on\n`;
}
