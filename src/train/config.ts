/**
 * The training config file (JSON): model shape, tokenizer, data mix, optimizer, schedule and run length. Every
 * field is validated with a message that names it; unknown fields are errors (a typo must not be ignored).
 */
import { getTask } from '../tasks/registry.js';
import { MiB, readFileLimited } from '../util/files.js';
import { BPE_MAX_VOCAB_SIZE } from './bpe.js';
import { checkArg } from '../util/args.js';

/** Recall samples (src/train/data.ts): the largest gap between key and value, and the gaps drawn by default. */
export const MAX_RECALL_GAP = 16;
/** The shortest samples of each kind the data mixer makes (src/train/data.ts). */
export const RECALL_MIN_LENGTH = 32;
export const COPY_MIN_LENGTH = 32;
export const TASK_MIN_LENGTH = 64;
/** Upper bounds that keep a mistyped size a config error instead of an out-of-memory death: 2^24 tokens per step, a 2^18-token vocabulary (the size of the largest released ones, e.g. Gemma's). */
export const MAX_TOKENS_PER_STEP = 1 << 24;
/** The BPE trainer's bound too: a vocabulary the config accepts is one a run can train. */
export const MAX_VOCAB_SIZE = BPE_MAX_VOCAB_SIZE;
export const DEFAULT_RECALL_GAPS: readonly number[] = [0, 1, 2, 3];

/**
 * The shortest recall sample that holds one record and its query at every draw with these gaps: a record is at most
 * 2 key + `gap` filler + 2 value + 1 separator tokens, its query that many plus the query gap, after the BOS
 * (recallSample in src/train/data.ts).
 */
export function recallLengthFor(gaps: readonly number[], queryGaps: readonly number[]): number {
  return 1 + 2 * (Math.max(...gaps) + 5) + Math.max(...queryGaps);
}

export interface TrainModelSection {
  arch: 'llama' | 'gpt2';
  hiddenSize: number;
  nLayers: number;
  nHeads: number;
  /** llama only (GQA); gpt2 always has nHeads. */
  nKvHeads: number;
  intermediateSize: number;
  /** Context length (gpt2: number of learned positions). */
  maxPositions: number;
  ropeTheta: number;
  normEps: number;
  tieEmbeddings: boolean;
  /** gpt2: 'gelu_tanh' (GPT-2) or 'gelu_erf'; llama: 'silu'. */
  activation: 'silu' | 'gelu_tanh' | 'gelu_erf';
  initStd: number;
  /** gpt2 only: the position table's init, 'normal' (GPT-2) or 'sinusoidal' (see gpt2ParamSpecs). */
  positionInit: 'normal' | 'sinusoidal';
  /** gpt2 only: the RMS of the initial position table (default initStd / 2, GPT-2's 0.01). */
  positionStd: number;
  /** gpt2 with sinusoidal positions only: heads of layer 0 wired to attend to the previous position at init. */
  previousTokenHeads: number;
}

export interface TrainConfig {
  /** Free text for model cards and logs. */
  name: string;
  /**
   * A model folder (Hugging Face layout, e.g. one this trainer saved) whose weights start the run instead of a
   * random initialisation; its architecture must be the model section's, and its tokenizer is used unless
   * tokenizer.path names one. The optimizer starts fresh. Null: a random initialisation.
   */
  init: string | null;
  model: TrainModelSection;
  /**
   * `vocabSize`: the size of the tokenizer the run trains; with a given tokenizer (`path`, or init's) it is that
   * tokenizer's, and a vocabSize the config sets (`vocabSizeGiven`) must equal it.
   */
  tokenizer: { vocabSize: number; path: string | null; vocabSizeGiven: boolean };
  data: {
    textWeight: number; taskWeight: number; copyWeight: number; textLengths: number[]; taskLengths: number[]; copyLengths: number[]; tasks: string[];
    lossOn: 'answer' | 'all'; validationSamples: number;
    /** Recall samples (DataMixer): present only when recallWeight > 0, so that older checkpoints' configs still match. */
    recallWeight?: number; recallLengths?: number[]; recallGaps?: number[]; recallQueryGaps?: number[];
  };
  /**
   * `warmupGiven`: whether the config set warmupSteps (else it is the default, or a tenth of a short run's steps,
   * and a resumed run keeps the warm-up it started with).
   */
  optimizer: { lr: number; minLr: number; warmupSteps: number; warmupGiven: boolean; weightDecay: number; beta1: number; beta2: number; eps: number; gradClip: number };
  training: { steps: number; tokensPerStep: number; seed: number; checkpointEvery: number; evalEvery: number };
}

type Json = Record<string, unknown>;

function section(obj: Json, key: string, where: string): Json {
  const v = obj[key];
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}.${key} must be an object`);
  return v as Json;
}

function noUnknown(obj: Json, known: string[], where: string): void {
  for (const k of Object.keys(obj)) if (!known.includes(k)) throw new Error(`${where}: unknown field "${k}" (known: ${known.join(', ')})`);
}

/**
 * The field's value, or `dflt` when the field is absent. A null is not absent: `"lr": null` trained at the default
 * rate and `"tieEmbeddings": null` tied, silently; it is refused as a value of the wrong type.
 */
function given(obj: Json, key: string, dflt: unknown): unknown {
  return obj[key] === undefined ? dflt : obj[key];
}

function num(obj: Json, key: string, where: string, dflt: number | undefined, check: (v: number) => boolean, rule: string): number {
  const v = given(obj, key, dflt);
  if (v === undefined) throw new Error(`${where}.${key} is required (${rule})`);
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new Error(`${where}.${key} must be ${rule}, got ${JSON.stringify(v)}`);
  return v;
}

const int = (min: number) => (v: number) => Number.isInteger(v) && v >= min;
/**
 * An integer within min..max. The upper bounds are far past what trains on a CPU, and keep a typo (1e9 positions,
 * 1e300 steps) from running into an out-of-memory crash or a loop that never ends instead of an error.
 */
const intIn = (min: number, max: number) => (v: number) => Number.isInteger(v) && v >= min && v <= max;
const pos = (v: number) => v > 0;

function ints(obj: Json, key: string, where: string, dflt: number[]): number[] {
  const v = given(obj, key, dflt);
  if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x) || (x as number) < 1)) throw new Error(`${where}.${key} must be an array of positive integers`);
  return v as number[];
}

function oneOf<T extends string>(obj: Json, key: string, where: string, dflt: T, allowed: readonly T[]): T {
  const v = given(obj, key, dflt);
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new Error(`${where}.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Validates a parsed config object and fills the defaults. */
export function parseTrainConfig(json: unknown, source = 'config'): TrainConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${source}: the training config must be a JSON object`);
  const root = json as Json;
  noUnknown(root, ['name', 'init', 'model', 'tokenizer', 'data', 'optimizer', 'training'], source);
  const m = section(root, 'model', source), w = `${source}: model`;
  noUnknown(m, ['arch', 'hiddenSize', 'nLayers', 'nHeads', 'nKvHeads', 'intermediateSize', 'maxPositions', 'ropeTheta', 'normEps', 'tieEmbeddings', 'activation', 'initStd', 'positionInit', 'positionStd', 'previousTokenHeads'], w);
  const arch = oneOf(m, 'arch', w, 'llama', ['llama', 'gpt2'] as const);
  const nHeads = num(m, 'nHeads', w, undefined, int(1), 'an integer ≥ 1');
  const initStd = num(m, 'initStd', w, 0.02, pos, 'a number > 0');
  const model: TrainModelSection = {
    arch,
    hiddenSize: num(m, 'hiddenSize', w, undefined, intIn(2, 65_536), 'an integer within 2..65,536'),
    nLayers: num(m, 'nLayers', w, undefined, intIn(1, 1024), 'an integer within 1..1,024'),
    nHeads,
    nKvHeads: num(m, 'nKvHeads', w, nHeads, int(1), 'an integer ≥ 1'),
    intermediateSize: num(m, 'intermediateSize', w, undefined, intIn(1, 262_144), 'an integer within 1..262,144'),
    maxPositions: num(m, 'maxPositions', w, undefined, intIn(2, 1_048_576), 'an integer within 2..1,048,576 (2^20)'),
    ropeTheta: num(m, 'ropeTheta', w, 10000, pos, 'a number > 0'),
    normEps: num(m, 'normEps', w, 1e-5, pos, 'a number > 0'),
    tieEmbeddings: given(m, 'tieEmbeddings', true) as boolean,
    activation: oneOf(m, 'activation', w, arch === 'llama' ? 'silu' : 'gelu_tanh', ['silu', 'gelu_tanh', 'gelu_erf'] as const),
    initStd,
    positionInit: oneOf(m, 'positionInit', w, 'normal', ['normal', 'sinusoidal'] as const),
    positionStd: num(m, 'positionStd', w, initStd / 2, pos, 'a number > 0'),
    previousTokenHeads: num(m, 'previousTokenHeads', w, 0, int(0), 'an integer ≥ 0'),
  };
  // A field of the other family was accepted and ignored: a gpt2 model has learned positions, no rotary base.
  if (arch === 'gpt2' && m.ropeTheta !== undefined) throw new Error(`${w}.ropeTheta applies to llama models (gpt2 models learn a position table)`);
  if (arch === 'llama' && (m.positionInit !== undefined || m.positionStd !== undefined || m.previousTokenHeads !== undefined)) {
    throw new Error(`${w}: positionInit, positionStd and previousTokenHeads apply to gpt2 models (llama has no position table)`);
  }
  if (model.previousTokenHeads > 0 && model.positionInit !== 'sinusoidal') throw new Error(`${w}.previousTokenHeads needs "positionInit": "sinusoidal"`);
  if (model.previousTokenHeads > model.nHeads) throw new Error(`${w}.previousTokenHeads must be at most nHeads (${model.nHeads})`);
  if (typeof model.tieEmbeddings !== 'boolean') throw new Error(`${w}.tieEmbeddings must be true or false`);
  if (model.hiddenSize % model.nHeads !== 0) throw new Error(`${w}: hiddenSize ${model.hiddenSize} must be a multiple of nHeads ${model.nHeads}`);
  // Checked here, not when the model is initialised: that comes after the tokenizer is trained and files are written.
  if (model.positionInit === 'sinusoidal' && model.hiddenSize % 2 !== 0) {
    throw new Error(`${w}: "positionInit": "sinusoidal" needs an even hiddenSize (sine and cosine pairs), got ${model.hiddenSize}`);
  }
  if (model.previousTokenHeads > 0 && (model.hiddenSize / model.nHeads) % 2 !== 0) {
    throw new Error(`${w}.previousTokenHeads needs an even head dimension (frequency pairs), got hiddenSize ${model.hiddenSize} / nHeads ${model.nHeads} = ${model.hiddenSize / model.nHeads}`);
  }
  if (model.nHeads % model.nKvHeads !== 0) throw new Error(`${w}: nHeads ${model.nHeads} must be a multiple of nKvHeads ${model.nKvHeads}`);
  if (arch === 'llama' && model.activation !== 'silu') throw new Error(`${w}: llama models use activation "silu"`);
  if (arch === 'llama' && (model.hiddenSize / model.nHeads) % 2 !== 0) throw new Error(`${w}: RoPE needs an even head dimension`);
  if (arch === 'gpt2' && model.activation === 'silu') throw new Error(`${w}: gpt2 models use gelu_tanh or gelu_erf`);
  if (arch === 'gpt2' && model.nKvHeads !== model.nHeads) throw new Error(`${w}: gpt2 models have nKvHeads = nHeads`);

  const t = section(root, 'tokenizer', source), wt = `${source}: tokenizer`;
  noUnknown(t, ['vocabSize', 'path'], wt);
  const init = (root.init ?? null) as string | null;
  if (init !== null && (typeof init !== 'string' || init === '')) throw new Error(`${source}: init must be a model folder's path or null`);
  const tokenizer = {
    vocabSize: num(t, 'vocabSize', wt, 4096, (v) => int(259)(v) && v <= MAX_VOCAB_SIZE, `an integer within 259..${MAX_VOCAB_SIZE} (2^18)`), path: (t.path ?? init) as string | null,
    vocabSizeGiven: t.vocabSize !== undefined,
  };
  // "" read as no path: it trained a BPE, and beside `init` replaced the tokenizer init's weights were trained with.
  if (tokenizer.path !== null && (typeof tokenizer.path !== 'string' || tokenizer.path.trim() === '')) throw new Error(`${wt}.path must be a file path or null`);


  const d = section(root, 'data', source), wd = `${source}: data`;
  noUnknown(d, ['textWeight', 'taskWeight', 'copyWeight', 'recallWeight', 'textLengths', 'taskLengths', 'copyLengths', 'recallLengths', 'recallGaps', 'recallQueryGaps', 'tasks', 'lossOn', 'validationSamples'], wd);
  const ctx = model.maxPositions;
  const data: TrainConfig['data'] = {
    textWeight: num(d, 'textWeight', wd, 0.7, (v) => v >= 0, 'a number ≥ 0'),
    taskWeight: num(d, 'taskWeight', wd, 0.3, (v) => v >= 0, 'a number ≥ 0'),
    copyWeight: num(d, 'copyWeight', wd, 0, (v) => v >= 0, 'a number ≥ 0'),
    textLengths: ints(d, 'textLengths', wd, [Math.min(512, ctx), ctx]),
    copyLengths: ints(d, 'copyLengths', wd, (d.textLengths as number[] | undefined) ?? [Math.min(512, ctx), ctx]),
    taskLengths: ints(d, 'taskLengths', wd, [Math.min(512, ctx), ctx]),
    tasks: given(d, 'tasks', ['niah_single_1', 'niah_single_2', 'niah_multikey_1', 'passkey', 'number_string', 'kv_retrieval', 'vt']) as string[],
    lossOn: oneOf(d, 'lossOn', wd, 'answer', ['answer', 'all'] as const),
    validationSamples: num(d, 'validationSamples', wd, 8, intIn(0, 100_000), 'an integer within 0..100,000'),
  };
  if (!Array.isArray(data.tasks) || data.tasks.some((x) => typeof x !== 'string')) throw new Error(`${wd}.tasks must be an array of task names`);
  const recallWeight = num(d, 'recallWeight', wd, 0, (v) => v >= 0, 'a number ≥ 0');
  if (recallWeight > 0) {
    // Gap lists: non-empty, integers within 0..MAX_RECALL_GAP.
    const gapList = (key: 'recallGaps' | 'recallQueryGaps', v: unknown): number[] => {
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => !Number.isInteger(x) || (x as number) < 0 || (x as number) > MAX_RECALL_GAP)) {
        throw new Error(`${wd}.${key} must be a non-empty array of integers within 0..${MAX_RECALL_GAP}`);
      }
      return v as number[];
    };
    Object.assign(data, {
      recallWeight, recallLengths: ints(d, 'recallLengths', wd, data.copyLengths), recallGaps: gapList('recallGaps', given(d, 'recallGaps', [...DEFAULT_RECALL_GAPS])),
    });
    if (d.recallQueryGaps !== undefined) data.recallQueryGaps = gapList('recallQueryGaps', d.recallQueryGaps);
  } else if (d.recallLengths !== undefined || d.recallGaps !== undefined || d.recallQueryGaps !== undefined) {
    throw new Error(`${wd}: recallLengths, recallGaps and recallQueryGaps need recallWeight > 0`);
  }
  if (data.textWeight + data.taskWeight + data.copyWeight + recallWeight <= 0) {
    throw new Error(`${wd}: textWeight, taskWeight, copyWeight and recallWeight are all 0; at least one kind of sample must be drawn`);
  }
  for (const L of [...data.textLengths, ...data.taskLengths, ...data.copyLengths, ...(data.recallLengths ?? [])]) if (L > ctx) throw new Error(`${wd}: length ${L} exceeds the model's context ${ctx}`);
  // A kind that is drawn draws one of its lengths (and a task): an empty list would fail at the first such draw.
  const used: [string, unknown[], number][] = [
    ['textLengths', data.textLengths, data.textWeight], ['taskLengths', data.taskLengths, data.taskWeight], ['tasks', data.tasks, data.taskWeight],
    ['copyLengths', data.copyLengths, data.copyWeight], ['recallLengths', data.recallLengths ?? [], recallWeight],
  ];
  for (const [key, list, weight] of used) if (weight > 0 && list.length === 0) throw new Error(`${wd}.${key} is empty, but its kind of sample is drawn (weight ${weight})`);
  // Validation takes held-out text windows of the longest text length unless task samples are drawn (then it
  // alternates with tasks, or takes tasks alone when no text is drawn).
  if (data.validationSamples > 0 && data.taskWeight === 0 && data.textLengths.length === 0) {
    throw new Error(`${wd}.textLengths is empty, but validation takes held-out text windows of its longest length (validationSamples ${data.validationSamples}); give a text length, or validationSamples 0`);
  }
  // What the data mixer would refuse, refused here, before a run writes anything into its folder: lengths given, or
  // inherited from given ones (copy lengths default to the text lengths, recall lengths to the copy lengths). Lengths
  // that only follow the context are the mixer's to report (a context too small for them).
  const least = (key: string, lengths: number[], min: number, from: string[]) => {
    if (!from.some((k) => d[k] !== undefined)) return;
    for (const L of lengths) if (L < min) throw new Error(`${wd}.${key}: ${L} is below the shortest sample of its kind (${min} tokens)`);
  };
  least('textLengths', data.textLengths, 2, ['textLengths']);
  // Task names are checked even when no task is drawn (taskWeight 0): a misspelt one waited there unnoticed.
  for (const name of data.tasks) {
    try { getTask(name); } catch (err) { throw new Error(`${wd}.tasks: ${(err as Error).message}`); }
  }
  // A kind drawn at the lengths that follow the context (none given) needs a context that holds its shortest sample.
  const contextHolds = (kind: string, min: number, from: string[]) => {
    if (!from.some((k) => d[k] !== undefined) && ctx < min) throw new Error(`${w}.maxPositions ${ctx} is below the shortest ${kind} sample (${min} tokens), whose lengths follow the context when data sets none`);
  };
  if (data.taskWeight > 0) {
    contextHolds('task', TASK_MIN_LENGTH, ['taskLengths']);
    least('taskLengths', data.taskLengths, TASK_MIN_LENGTH, ['taskLengths']);
  }
  if (data.copyWeight > 0) {
    contextHolds('copy', COPY_MIN_LENGTH, ['copyLengths', 'textLengths']);
    least('copyLengths', data.copyLengths, COPY_MIN_LENGTH, ['copyLengths', 'textLengths']);
  }
  if (data.recallLengths) {
    contextHolds('recall', RECALL_MIN_LENGTH, ['recallLengths', 'copyLengths', 'textLengths']);
    least('recallLengths', data.recallLengths, RECALL_MIN_LENGTH, ['recallLengths', 'copyLengths', 'textLengths']);
    // Every length is drawn with every gap: each must hold a record and its query at the largest gaps.
    const need = recallLengthFor(data.recallGaps!, data.recallQueryGaps ?? [0]);
    for (const L of data.recallLengths) {
      if (L < need) throw new Error(`${wd}.recallLengths: ${L} cannot hold a recall record and its query at gap ${Math.max(...data.recallGaps!)}${data.recallQueryGaps ? ` and query gap ${Math.max(...data.recallQueryGaps)}` : ''} (${need} tokens)`);
    }
  }

  const o = section(root, 'optimizer', source), wo = `${source}: optimizer`;
  noUnknown(o, ['lr', 'minLr', 'warmupSteps', 'weightDecay', 'beta1', 'beta2', 'eps', 'gradClip'], wo);
  const lr = num(o, 'lr', wo, 1e-3, pos, 'a number > 0');
  const optimizer = {
    lr, minLr: num(o, 'minLr', wo, lr / 10, (v) => v >= 0 && v <= lr, `a number within 0..lr`),
    warmupSteps: num(o, 'warmupSteps', wo, 100, int(0), 'an integer ≥ 0'),
    warmupGiven: o.warmupSteps !== undefined,
    weightDecay: num(o, 'weightDecay', wo, 0.1, (v) => v >= 0, 'a number ≥ 0'),
    beta1: num(o, 'beta1', wo, 0.9, (v) => v >= 0 && v < 1, 'within [0, 1)'),
    beta2: num(o, 'beta2', wo, 0.95, (v) => v >= 0 && v < 1, 'within [0, 1)'),
    eps: num(o, 'eps', wo, 1e-8, pos, 'a number > 0'),
    gradClip: num(o, 'gradClip', wo, 1, (v) => v >= 0, 'a number ≥ 0 (0 = no clipping)'),
  };

  const r = section(root, 'training', source), wr = `${source}: training`;
  noUnknown(r, ['steps', 'tokensPerStep', 'seed', 'checkpointEvery', 'evalEvery'], wr);
  const training = {
    steps: num(r, 'steps', wr, undefined, intIn(1, 2 ** 31 - 1), 'an integer within 1..2,147,483,647'),
    tokensPerStep: num(r, 'tokensPerStep', wr, 16384, (v) => int(1)(v) && v <= MAX_TOKENS_PER_STEP, `an integer within 1..${MAX_TOKENS_PER_STEP} (2^24)`),
    // Task samples use seed 1,000,000 + seed: below 2,000,000, where NAMM evolution's prompts begin.
    seed: num(r, 'seed', wr, 0, (v) => int(0)(v) && v < 1_000_000, 'an integer within 0..999,999'),
    checkpointEvery: num(r, 'checkpointEvery', wr, 100, int(1), 'an integer ≥ 1'),
    evalEvery: num(r, 'evalEvery', wr, 500, int(0), 'an integer ≥ 0 (0 = never)'),
  };
  if (o.warmupSteps !== undefined && optimizer.warmupSteps > training.steps) {
    throw new Error(`${wo}.warmupSteps (${optimizer.warmupSteps}) is more than training.steps (${training.steps}): the rate would never reach its peak`);
  }
  // The default warm-up (100 steps) would outlast a shorter run, whose rate then never reached its peak: such a run
  // warms up for a tenth of its steps instead (runs of 100 steps or more keep 100).
  if (o.warmupSteps === undefined && training.steps < optimizer.warmupSteps) optimizer.warmupSteps = Math.ceil(training.steps / 10);
  const name = given(root, 'name', 'namm-model');
  if (typeof name !== 'string') throw new Error(`${source}: name must be a string`);
  return { name, init, model, tokenizer, data, optimizer, training };
}

export function readTrainConfig(path: string): TrainConfig {
  checkArg('readTrainConfig', 'path', path, 'path');
  let json: unknown;
  try {
    json = JSON.parse(readFileLimited(path, 16 * MiB, 'training config').toString('utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the training config (${(err as Error).message})`);
  }
  return parseTrainConfig(json, path);
}
