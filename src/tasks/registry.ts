/**
 * Generated tasks by name: RULER's niah / vt / cwe / fwe, InfiniteBench's passkey / number_string / kv_retrieval,
 * the needle-in-a-haystack sweep and Japanese variants. Each name fixes the generator, metric, prompt template and
 * number of new tokens; `generateRecord` sizes one sample to a target length in the model's own tokens.
 */
import { createHash } from 'node:crypto';
import type { Tokenizer } from '../models/types.js';
import { Rng } from '../util/rng.js';
import { resolveHaystack, type Language } from './haystack.js';
import type { TaskRecord } from './record.js';
import type { SampleGenerator } from './generate/common.js';
import { CWE_TEMPLATE, generateCommonWords } from './generate/cwe.js';
import { FWE_TEMPLATE, generateFrequentWords } from './generate/fwe.js';
import { generateKvRetrieval, KV_TEMPLATE, KV_TEMPLATE_JA } from './generate/kv-retrieval.js';
import { generateNeedleSweep, NEEDLE_TEMPLATE, NEEDLE_TEMPLATE_JA, SAN_FRANCISCO_NEEDLE, SAN_FRANCISCO_NEEDLE_JA } from './generate/needle-sweep.js';
import { generateNiah, niahTemplate, type NiahConfig } from './generate/niah.js';
import { generatePasskey, NUMBER_STRING, PASSKEY, PASSKEY_TEMPLATE } from './generate/passkey.js';
import { type SizingMemo } from './generate/sizing.js';
import { generateVariableTracking, VT_TEMPLATE } from './generate/vt.js';
import { checkOptionKeys, showValue } from '../util/show.js';

export type TaskMetric = 'string_match_all' | 'string_match_part' | 'passkey' | 'kv_retrieval';

export interface TaskDefinition {
  name: string;
  family: 'ruler' | 'infinitebench' | 'needle';
  description: string;
  language: Language;
  metric: TaskMetric;
  maxNewTokens: number;
  /** Context first, question after, so the context can be compressed and the question kept. */
  promptTemplate: string;
  /** The default text haystack, or null where the haystack is the task's own structure (lists, JSON, needles). */
  haystack: 'noise' | 'essay' | null;
  /** Whether the depth of the asked needle can be chosen. */
  depth: boolean;
  generate: SampleGenerator;
}

/** RULER's generation lengths (scripts/synthetic.yaml): niah 128, vt 30, cwe 120, fwe 50. */
const NIAH_NEW = 128, VT_NEW = 30, CWE_NEW = 120, FWE_NEW = 50;
/**
 * InfiniteBench's own limits are 6 (passkey, number_string) and 50 (kv_retrieval). Ours leave room for tokenizers
 * that spend one token per digit plus a leading space and a period: 5 digits → 8, 10 digits → 12; a UUID is 36
 * characters, 20-36 tokens in digit-splitting vocabularies, so 50 stays.
 */
const PASSKEY_NEW = 8, NUMBER_STRING_NEW = 12, KV_NEW = 50;
/** The San Francisco needle answer is one sentence (~25 tokens in common vocabularies). */
const NEEDLE_NEW = 64;

function niah(name: string, description: string, config: Omit<NiahConfig, 'numValues' | 'numQueries' | 'numKeys' | 'language'> & Partial<NiahConfig>): TaskDefinition {
  const full: NiahConfig = { numKeys: 1, numValues: 1, numQueries: 1, language: 'en', ...config };
  return {
    name, family: 'ruler', description, language: full.language, metric: 'string_match_all', maxNewTokens: NIAH_NEW,
    promptTemplate: niahTemplate(full),
    haystack: full.haystack === 'needle' ? null : name === 'niah_single_1' ? 'noise' : 'essay',
    depth: true,
    generate: (ctx) => generateNiah(ctx, full),
  };
}

export const TASKS: readonly TaskDefinition[] = [
  niah('niah_single_1', 'one word key → 7-digit number in the noise haystack', { haystack: 'text', keys: 'words', values: 'numbers' }),
  niah('niah_single_2', 'one word key → 7-digit number in natural text', { haystack: 'text', keys: 'words', values: 'numbers' }),
  niah('niah_single_3', 'one word key → UUID in natural text', { haystack: 'text', keys: 'words', values: 'uuids' }),
  niah('niah_multikey_1', '4 word keys in natural text, one asked', { haystack: 'text', keys: 'words', values: 'numbers', numKeys: 4 }),
  niah('niah_multikey_2', 'word key → number among distractor needles with other keys', { haystack: 'needle', keys: 'words', values: 'numbers' }),
  niah('niah_multikey_3', 'UUID key → UUID among distractor needles with other keys', { haystack: 'needle', keys: 'uuids', values: 'uuids' }),
  niah('niah_multivalue', 'one word key with 4 numbers in natural text, all asked', { haystack: 'text', keys: 'words', values: 'numbers', numValues: 4 }),
  niah('niah_multiquery', '4 word keys in natural text, all asked at once', { haystack: 'text', keys: 'words', values: 'numbers', numKeys: 4, numQueries: 4 }),
  {
    name: 'vt', family: 'ruler', description: 'variable tracking: one chain of 4 hops in the noise haystack', language: 'en',
    metric: 'string_match_all', maxNewTokens: VT_NEW, promptTemplate: VT_TEMPLATE, haystack: 'noise', depth: false,
    generate: (ctx) => generateVariableTracking(ctx),
  },
  {
    name: 'cwe', family: 'ruler', description: 'common words: the 10 words repeated most in a numbered list', language: 'en',
    metric: 'string_match_all', maxNewTokens: CWE_NEW, promptTemplate: CWE_TEMPLATE, haystack: null, depth: false,
    generate: generateCommonWords,
  },
  {
    name: 'fwe', family: 'ruler', description: 'frequent words: ranks 2-4 of Zipf-distributed coded words', language: 'en',
    metric: 'string_match_all', maxNewTokens: FWE_NEW, promptTemplate: FWE_TEMPLATE, haystack: null, depth: false,
    generate: generateFrequentWords,
  },
  {
    name: 'passkey', family: 'infinitebench', description: 'a 5-digit pass key in the noise haystack', language: 'en',
    metric: 'passkey', maxNewTokens: PASSKEY_NEW, promptTemplate: PASSKEY_TEMPLATE, haystack: 'noise', depth: true,
    generate: (ctx) => generatePasskey(ctx, PASSKEY),
  },
  {
    name: 'number_string', family: 'infinitebench', description: 'a 10-digit string in the noise haystack', language: 'en',
    metric: 'passkey', maxNewTokens: NUMBER_STRING_NEW, promptTemplate: PASSKEY_TEMPLATE, haystack: 'noise', depth: true,
    generate: (ctx) => generatePasskey(ctx, NUMBER_STRING),
  },
  {
    name: 'kv_retrieval', family: 'infinitebench', description: 'the value of one UUID key in a JSON object of UUIDs', language: 'en',
    metric: 'kv_retrieval', maxNewTokens: KV_NEW, promptTemplate: KV_TEMPLATE, haystack: null, depth: true,
    generate: (ctx) => generateKvRetrieval(ctx, 'en'),
  },
  {
    name: 'needle_in_haystack', family: 'needle', description: 'the San Francisco needle in natural text (sweep lengths × depths)',
    language: 'en', metric: 'string_match_all', maxNewTokens: NEEDLE_NEW, promptTemplate: NEEDLE_TEMPLATE, haystack: 'essay', depth: true,
    generate: (ctx) => generateNeedleSweep(ctx, SAN_FRANCISCO_NEEDLE, 'en'),
  },
  niah('niah_ja', 'Japanese: one key phrase → 7-digit number in Japanese filler', { haystack: 'text', keys: 'japanese', values: 'numbers', language: 'ja' }),
  niah('niah_multikey_ja', 'Japanese: key phrase → number among distractor needles', { haystack: 'needle', keys: 'japanese', values: 'numbers', language: 'ja' }),
  {
    name: 'kv_retrieval_ja', family: 'infinitebench', description: 'Japanese: the UUID of one Japanese key phrase in a JSON object',
    language: 'ja', metric: 'kv_retrieval', maxNewTokens: KV_NEW, promptTemplate: KV_TEMPLATE_JA, haystack: null, depth: true,
    generate: (ctx) => generateKvRetrieval(ctx, 'ja'),
  },
  {
    name: 'needle_in_haystack_ja', family: 'needle', description: 'Japanese: the San Francisco needle in Japanese filler',
    language: 'ja', metric: 'string_match_all', maxNewTokens: NEEDLE_NEW, promptTemplate: NEEDLE_TEMPLATE_JA, haystack: 'essay', depth: true,
    generate: (ctx) => generateNeedleSweep(ctx, SAN_FRANCISCO_NEEDLE_JA, 'ja'),
  },
];

export function listTasks(): readonly TaskDefinition[] { return TASKS; }

export function getTask(name: string): TaskDefinition {
  if (typeof name !== 'string') throw new TypeError(`getTask: name must be a task name (a string), got ${showValue(name)}; known tasks: ${TASKS.map((t) => t.name).join(', ')}`);
  const task = TASKS.find((t) => t.name === name);
  if (!task) throw new Error(`unknown task "${name}"; known tasks: ${TASKS.map((t) => t.name).join(', ')}`);
  return task;
}

export interface RecordOptions {
  task: string;
  /** Target length in tokens: prompt tokens + the task's max new tokens. */
  length: number;
  tokenizer: Tokenizer;
  seed?: number;
  /** Index of the sample within the run; different indices give different samples. */
  index?: number;
  /** noise | essay | brown | a directory of .txt files (default: the task's own). */
  haystack?: string;
  /** Depth in percent (0-100) of the asked needle; random from RULER's 40 depths when absent. */
  depthPercent?: number;
  /** Tokens-per-size rates learnt by earlier records; share one across a run to need fewer tokenisations. */
  memo?: SizingMemo;
}

/**
 * The longest record asked for, in tokens: 2^20, eight times RULER's longest setting. Beyond it the text to build
 * outgrows what a JavaScript array holds, and the process would die in the middle of generation instead of refusing.
 */
export const MAX_RECORD_LENGTH = 1 << 20;

function checkInteger(what: string, v: unknown, min: number): void {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new RangeError(`${what} must be an integer ≥ ${min}, got ${showValue(v)}`);
}

/** An optional integer option: absent (undefined) takes its default; anything else, null included, must be an integer. */
function checkOptionalInteger(what: string, v: unknown, min: number): void {
  if (v !== undefined) checkInteger(what, v, min);
}

/** Checks a request before any work (the CLI calls it before creating its output file); returns the task. */
export function checkRecordOptions(o: Omit<RecordOptions, 'tokenizer' | 'memo'>): TaskDefinition {
  return checkRecord('checkRecordOptions', o, true);
}

/** The keys of RecordOptions and RecordsOptions: a misspelt one (`depth` for depthPercent, `lenght`) was ignored. */
const RECORD_KEYS = ['task', 'length', 'tokenizer', 'seed', 'index', 'haystack', 'depthPercent', 'memo'];
const RECORDS_KEYS = ['task', 'n', 'lengths', 'depths', 'tokenizer', 'seed', 'haystack', 'memo'];

function checkRecord(fn: string, o: Omit<RecordOptions, 'tokenizer' | 'memo'>, keys: boolean): TaskDefinition {
  if (o === null || typeof o !== 'object') throw new TypeError(`record options must be an object {task, length, tokenizer, …}, got ${o === null ? 'null' : typeof o}`);
  if (keys) checkOptionKeys(o, RECORD_KEYS, fn);
  const task = getTask(o.task);
  checkInteger('length', o.length, 1);
  if (o.length > MAX_RECORD_LENGTH) {
    throw new RangeError(`length must be at most ${MAX_RECORD_LENGTH.toLocaleString('en-US')} tokens (2^20), got ${o.length.toLocaleString('en-US')}`);
  }
  checkOptionalInteger('seed', o.seed, 0);
  checkOptionalInteger('index', o.index, 0);
  if (o.depthPercent !== undefined) {
    if (!task.depth) throw new Error(`task ${task.name} has no needle depth to set`);
    // A number only: null compares as 0 and '50' as 50, which would place the needle at a depth the id does not name.
    if (typeof o.depthPercent !== 'number' || !(o.depthPercent >= 0 && o.depthPercent <= 100)) {
      throw new RangeError(`depthPercent: the needle depth must be within 0..100 percent (undefined: a random depth), got ${showValue(o.depthPercent)}`);
    }
  }
  if (o.haystack !== undefined && typeof o.haystack !== 'string') {
    throw new TypeError(`haystack must be noise, essay, brown or a directory of .txt files (a string), got ${showValue(o.haystack)}`);
  }
  if (o.haystack !== undefined && task.haystack === null) {
    throw new Error(`task ${task.name} has its own haystack structure; --haystack does not apply`);
  }
  const haystackChoice = o.haystack ?? task.haystack;
  if (haystackChoice !== null) resolveHaystack(haystackChoice, task.language);
  return task;
}

/**
 * One record, sized so that its prompt tokens + max new tokens is within 1% below `length` (or an Error); kv_retrieval
 * and fwe, whose units are coarse, may end further below when no layout reaches the band. `runRecord` feeds the prompt
 * tokenised as it was measured (whole, with the tokenizer's own BOS rule).
 */
export function generateRecord(o: RecordOptions): TaskRecord {
  const task = checkRecord('generateRecord', o, true);
  if (typeof o.tokenizer?.encode !== 'function') {
    throw new TypeError(`generateRecord: tokenizer must be the model's tokenizer (an object with encode and decode), got ${o.tokenizer === null ? 'null' : typeof o.tokenizer}`);
  }
  if (o.memo !== undefined && !(o.memo instanceof Map)) throw new TypeError(`generateRecord: memo must be a Map shared across a run's records, got ${showValue(o.memo)}`);
  const seed = o.seed ?? 0, index = o.index ?? 0;
  const haystackChoice = o.haystack ?? task.haystack;
  const haystack = haystackChoice === null ? null : resolveHaystack(haystackChoice, task.language);
  const haystackName = haystack?.name ?? 'own';
  // The sample's content depends on task, haystack, seed and index, not on the length: the same needles across a
  // length sweep make lengths comparable.
  const memo = o.memo ?? new Map<string, number>();
  // Sized on the filled template, tokenised whole with the tokenizer's own BOS rule, as the evaluation feeds it.
  const sample = task.generate({
    task: task.name, tokenizer: o.tokenizer, length: o.length, maxNewTokens: task.maxNewTokens,
    template: task.promptTemplate, rng: new Rng(`${task.name}|${haystackName}|${seed}|${index}`), haystack,
    depthPercent: o.depthPercent, memo,
  });
  // The text is part of the id: the size a record gets can depend on the sizing rates learnt from the records made
  // before it (`memo`), so the same request in another run may give another text, which must not share the id.
  const id = createHash('sha256')
    .update(`${task.name}|${haystackName}|${o.length}|${o.depthPercent ?? 'random'}|${seed}|${index}|${sample.context}\u0000${sample.input}`)
    .digest('hex').slice(0, 32);
  return {
    input: sample.input,
    context: sample.context,
    answers: sample.answers,
    length: sample.promptTokens,
    dataset: task.name,
    language: task.language,
    all_classes: null,
    _id: id,
    metric: task.metric,
    prompt_template: task.promptTemplate,
    max_new_tokens: task.maxNewTokens,
    target_length: o.length,
    ...(o.depthPercent !== undefined ? { depth_percent: o.depthPercent } : {}),
  };
}

export interface RecordsOptions extends Omit<RecordOptions, 'index' | 'length' | 'depthPercent'> {
  /** Records per (length, depth) cell. */
  n: number;
  lengths: number[];
  /** Depths in percent to sweep; absent: one random depth per record. */
  depths?: number[];
}

/**
 * Records for every length × depth × index, in that order. Record i of every cell shares its needle, so a sweep
 * compares the same fact across lengths and depths.
 */
export function iterateRecords(o: RecordsOptions): Generator<TaskRecord> {
  checkRecords('iterateRecords', o);
  return recordsOf(o);
}

/** Checks RecordsOptions before any record is made (iterateRecords is lazy: its checks would wait for the first next()). */
function checkRecords(fn: string, o: RecordsOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError(`records options must be an object {task, n, lengths, tokenizer, …}, got ${showValue(o)}`);
  checkOptionKeys(o, RECORDS_KEYS, fn);
  checkInteger('n', o.n, 1);
  if (!Array.isArray(o.lengths)) throw new TypeError(`lengths must be an array of lengths in tokens, got ${showValue(o.lengths)}`);
  if (o.lengths.length === 0) throw new RangeError('lengths: at least one length is needed, got []');
  if (o.depths !== undefined) {
    if (!Array.isArray(o.depths)) throw new TypeError(`depths must be an array of depths in percent (undefined: a random depth per record), got ${showValue(o.depths)}`);
    // An empty sweep would give no records at all, silently.
    if (o.depths.length === 0) throw new RangeError('depths: at least one depth is needed (undefined: a random depth per record), got []');
  }
  // As the CLI refuses them: a value listed twice gives the same records twice, with the same ids.
  for (const [key, list] of [['lengths', o.lengths], ['depths', o.depths ?? []]] as const) {
    const twice = list.find((v, i) => list.findIndex((x) => Object.is(x, v)) !== i);  // NaN is not indexOf-able
    if (twice !== undefined) throw new RangeError(`${fn}: ${key} lists ${showValue(twice)} twice, which would give the same records twice, with the same ids; give each once (n sets how many records each gets)`);
  }
  for (const length of o.lengths) for (const depthPercent of o.depths ?? [undefined]) checkRecord(fn, { ...o, length, depthPercent }, false);
}

function* recordsOf(o: RecordsOptions): Generator<TaskRecord> {
  const { n, lengths, depths, ...one } = o;
  const memo = o.memo ?? new Map();
  for (const length of lengths) {
    for (const depthPercent of depths ?? [undefined]) {
      for (let index = 0; index < n; index++) {
        yield generateRecord({ ...one, length, depthPercent, index, memo });
      }
    }
  }
}

export function generateRecords(o: RecordsOptions): TaskRecord[] {
  checkRecords('generateRecords', o);
  return [...recordsOf(o)];
}
