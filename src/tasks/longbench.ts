/**
 * LongBench-format data: JSONL records, the official prompt templates and generation lengths, prompt building
 * (with the kvpress split into a compressed context part and a kept question part), middle truncation, stop
 * strings, the first-line cut, and scoring. Generated tasks use the same path with their own template and length.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../models/types.js';
import { aggregateScores, isMetricName, scoreByMetric, type MetricName, type MetricOptions } from './metrics/index.js';
import { FIRST_LINE_DATASETS, metricForDataset } from './metrics/datasets.js';
import { stripLeadingNewlines } from './metrics/python-string.js';
import type { TaskRecord } from './record.js';
import { MiB, readFileLimited, readTextFile } from '../util/files.js';
import { shortJson } from '../util/show.js';
import { checkArg } from '../util/args.js';

/** Prompt templates and new-token budgets per dataset (LongBench's dataset2prompt.json / dataset2maxlen.json). */
export interface LongBenchConfig {
  prompts: Record<string, string>;
  maxNewTokens: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------- records (JSONL)

/** Why `value` is not a TaskRecord, or null when it is one. */
export function taskRecordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const r = value as Record<string, unknown>;
  for (const key of ['input', 'context', 'dataset', 'language', '_id'] as const) {
    if (typeof r[key] !== 'string') return `"${key}" must be a string`;
  }
  if (!Array.isArray(r.answers) || !r.answers.every((a) => typeof a === 'string')) return '"answers" must be an array of strings';
  if (typeof r.length !== 'number' || !Number.isFinite(r.length)) return '"length" must be a number';
  if (r.all_classes !== null && !(Array.isArray(r.all_classes) && r.all_classes.every((c) => typeof c === 'string'))) {
    return '"all_classes" must be null or an array of strings';
  }
  if (r.metric !== undefined && (typeof r.metric !== 'string' || !isMetricName(r.metric))) return `"metric" ${shortJson(r.metric)} is not a known metric`;
  if (r.prompt_template !== undefined && typeof r.prompt_template !== 'string') return '"prompt_template" must be a string';
  if (r.max_new_tokens !== undefined && !(Number.isSafeInteger(r.max_new_tokens) && (r.max_new_tokens as number) > 0)) {
    return '"max_new_tokens" must be a positive integer (at most 2^53 − 1)';
  }
  if (r.target_length !== undefined && !(Number.isSafeInteger(r.target_length) && (r.target_length as number) > 0)) return '"target_length" must be a positive integer (at most 2^53 − 1)';
  if (r.depth_percent !== undefined && !(typeof r.depth_percent === 'number' && r.depth_percent >= 0 && r.depth_percent <= 100)) return '"depth_percent" must be a number within 0..100';
  return null;
}

/** Reads a JSONL file of TaskRecords; blank lines are skipped, anything else invalid is an error naming the line. */
export function readJsonl(path: string): TaskRecord[] {
  checkArg('readJsonl', 'path', path, 'path');
  return readJsonlLines(path).map((r) => r.record);
}

const JSON_LINES_HINT = 'a task file is JSON Lines: one record (a JSON object) on each line';

function parsesAsJsonDocument(text: string): boolean {
  try { JSON.parse(text); return true; } catch { return false; }
}

/** readJsonl with each record's line number (from 1), for messages that point at it. */
export function readJsonlLines(path: string): { record: TaskRecord; line: number }[] {
  checkArg('readJsonlLines', 'path', path, 'path');
  const text = readTextFile(path, 'task file');
  const records: { record: TaskRecord; line: number }[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      // One line, control characters escaped: V8 quotes the text around the error, NUL bytes and newlines included.
      const message = (error as Error).message.replace(/\s*\n\s*/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
      // A pretty-printed JSON document (json.dump(records, indent=2)) reads as broken JSON line by line.
      if (parsesAsJsonDocument(text)) throw new Error(`${path}: ${JSON_LINES_HINT}, not a JSON document spread over several lines`);
      throw new Error(`${path}:${index + 1}: not valid JSON (${message})`);
    }
    if (Array.isArray(value)) throw new Error(`${path}:${index + 1}: a JSON array; ${JSON_LINES_HINT}, not a list of them`);
    const problem = taskRecordProblem(value);
    if (problem) throw new Error(`${path}:${index + 1}: not a task record: ${problem}`);
    records.push({ record: value as TaskRecord, line: index + 1 });
  });
  return records;
}

/** Writes TaskRecords as JSONL (one object a line), refusing an invalid record before writing anything. */
export function writeJsonl(path: string, records: readonly TaskRecord[]): void {
  checkArg('writeJsonl', 'path', path, 'path');
  checkArg('writeJsonl', 'records', records, 'array', 'an array of task records');
  records.forEach((record, index) => {
    const problem = taskRecordProblem(record);
    if (problem) throw new Error(`writeJsonl ${path}: record ${index} is not a task record: ${problem}`);
  });
  writeFileSync(path, records.map((record) => JSON.stringify(record) + '\n').join(''));
}

// ---------------------------------------------------------------------------------------------- configuration

function readJsonObject(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new Error(`LongBench config file not found: ${path}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileLimited(path, 64 * MiB, 'LongBench config').toString('utf8'));
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function readConfigPair(promptPath: string, maxLenPath: string, into: LongBenchConfig): void {
  for (const [dataset, template] of Object.entries(readJsonObject(promptPath))) {
    if (typeof template !== 'string') throw new Error(`${promptPath}: the template of ${dataset} is not a string`);
    into.prompts[dataset] = template;
  }
  for (const [dataset, tokens] of Object.entries(readJsonObject(maxLenPath))) {
    if (!Number.isInteger(tokens) || (tokens as number) <= 0) throw new Error(`${maxLenPath}: the length of ${dataset} is not a positive integer`);
    into.maxNewTokens[dataset] = tokens as number;
  }
}

/**
 * Reads `dataset2prompt.json` and `dataset2maxlen.json` from `dir` (both required), and ChouBun's
 * `choubun-dataset2prompt.json` / `choubun-dataset2maxlen.json` too when both are there.
 */
export function loadLongBenchConfig(dir: string): LongBenchConfig {
  checkArg('loadLongBenchConfig', 'dir', dir, 'path');
  const config: LongBenchConfig = { prompts: {}, maxNewTokens: {} };
  // A file given where the folder goes was reported as a missing file at a path that never existed (FILE/dataset2prompt.json).
  if (!existsSync(dir)) throw new Error(`LongBench config folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) {
    throw new Error(`LongBench config: ${dir} is a file; give the folder that holds dataset2prompt.json and dataset2maxlen.json`);
  }
  readConfigPair(join(dir, 'dataset2prompt.json'), join(dir, 'dataset2maxlen.json'), config);
  const chouBunPrompts = join(dir, 'choubun-dataset2prompt.json'), chouBunLengths = join(dir, 'choubun-dataset2maxlen.json');
  if (existsSync(chouBunPrompts) && existsSync(chouBunLengths)) readConfigPair(chouBunPrompts, chouBunLengths, config);
  return config;
}

// ---------------------------------------------------------------------------------------------- prompts

/**
 * Refuses `record` unless it is a task record with every field of the right type (taskRecordProblem, as a JSONL line
 * is checked), naming `fn` (the function it was given to) and the record's id: a null context went into the prompt
 * as the text "null", and a bad answers list or metric failed only after the model had generated.
 */
export function checkTaskRecord(record: unknown, fn = 'checkTaskRecord'): asserts record is TaskRecord {
  checkArg(fn, 'record', record, 'object', 'a task record');
  const problem = taskRecordProblem(record);
  if (problem !== null) throw new TypeError(`${fn}: record ${shortJson((record as { _id?: unknown })._id ?? '(no _id)')}: ${problem}`);
}

function templateFor(record: TaskRecord, config?: LongBenchConfig): string {
  if (record.prompt_template !== undefined) checkArg('prompt template of a record', 'record.prompt_template', record.prompt_template, 'string');
  const template = record.prompt_template ?? config?.prompts[record.dataset];
  if (template === undefined) throw new Error(`no prompt template for dataset ${shortJson(record.dataset)}${config ? ' (the record has none and the config does not list it)' : NO_CONFIG_HINT}`);
  return template;
}

const NO_CONFIG_HINT = ": the record has none and no LongBench config was given (LongBench's own records need --longbench-config DIR, the folder of LongBench's config/*.json; in a curriculum run.longbenchConfig)";

/** New tokens to generate: the record's own `max_new_tokens`, else the config's value for its dataset. */
export function maxNewTokensFor(record: TaskRecord, config?: LongBenchConfig): number {
  checkTaskRecord(record, 'maxNewTokensFor');
  if (record.max_new_tokens !== undefined) checkArg('maxNewTokensFor', 'record.max_new_tokens', record.max_new_tokens, 'count');
  const tokens = record.max_new_tokens ?? config?.maxNewTokens[record.dataset];
  if (tokens === undefined) throw new Error(`no max_new_tokens for dataset ${shortJson(record.dataset)}${config ? ' (the record has none and the config does not list it)' : NO_CONFIG_HINT}`);
  return tokens;
}

type TemplatePiece = { literal: string } | { field: string };

/** Parses a Python `str.format` template with named fields only (`{{` and `}}` are literal braces). */
function parseTemplate(template: string): TemplatePiece[] {
  const pieces: TemplatePiece[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if ((ch === '{' || ch === '}') && template[i + 1] === ch) { literal += ch; i++; continue; }
    if (ch === '}') throw new Error(`prompt template: single '}' at offset ${i}`);
    if (ch !== '{') { literal += ch; continue; }
    const close = template.indexOf('}', i);
    const name = close < 0 ? '' : template.slice(i + 1, close);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`prompt template: unsupported field at offset ${i} (only {name} fields; write {{ and }} for braces)`);
    if (literal) pieces.push({ literal });
    literal = '';
    pieces.push({ field: name });
    i = close;
  }
  if (literal) pieces.push({ literal });
  return pieces;
}

function renderPieces(pieces: readonly TemplatePiece[], record: TaskRecord): string {
  let out = '';
  for (const piece of pieces) {
    if ('literal' in piece) { out += piece.literal; continue; }
    const value = (record as unknown as Record<string, unknown>)[piece.field];
    if (value === undefined) throw new Error(`prompt template field {${piece.field}} is not a field of the record`);
    out += String(value);
  }
  return out;
}

/** The prompt: the template (`prompt_format.format(**record)` in LongBench's pred.py) with the record filled in. */
export function buildPrompt(record: TaskRecord, config?: LongBenchConfig): string {
  checkTaskRecord(record, 'buildPrompt');
  return renderPieces(parseTemplate(templateFor(record, config)), record);
}

/**
 * The prompt cut where the template's `{context}` ends (kvpress protocol): `context` is everything up to and
 * including the context (the part a memory may compress), `question` the rest (kept). They concatenate to
 * `buildPrompt(record, config)`.
 */
export function splitContextAndQuestion(record: TaskRecord, config?: LongBenchConfig): { context: string; question: string } {
  checkTaskRecord(record, 'splitContextAndQuestion');
  const pieces = parseTemplate(templateFor(record, config));
  const positions = pieces.flatMap((piece, index) => ('field' in piece && piece.field === 'context' ? [index] : []));
  if (positions.length !== 1) throw new Error(`prompt template of ${record.dataset} must contain {context} exactly once, found ${positions.length}`);
  const cut = positions[0]! + 1;
  return { context: renderPieces(pieces.slice(0, cut), record), question: renderPieces(pieces.slice(cut), record) };
}

// ---------------------------------------------------------------------------------------------- truncation

/** `int(max_length / 2)`; a budget under 2 would keep nothing (or, through Python's `[-0:]`, everything). */
function halfBudget(maxTokens: number): number {
  if (!Number.isInteger(maxTokens) || maxTokens < 2) throw new RangeError(`middle truncation needs an integer token budget ≥ 2, got ${maxTokens}`);
  return Math.floor(maxTokens / 2);
}

/**
 * LongBench's middle truncation of a too-long prompt: with `half = floor(maxTokens / 2)`, keep `ids[:half]` and
 * `ids[-half:]` (so an odd budget keeps maxTokens − 1 tokens). Ids that fit are returned unchanged.
 */
export function truncateMiddle(ids: readonly number[], maxTokens: number): number[] {
  checkArg('truncateMiddle', 'ids', ids, 'ids');
  const half = halfBudget(maxTokens);
  if (ids.length <= maxTokens) return ids.slice();
  return [...ids.slice(0, half), ...ids.slice(ids.length - half)];
}

/**
 * LongBench's pred.py on text: when the prompt has more than `maxTokens` tokens, decode its first and last halves
 * (special tokens skipped) and join the two texts; the caller then tokenises the result again.
 */
export function truncatePromptMiddle(prompt: string, tokenizer: Tokenizer, maxTokens: number): string {
  checkArg('truncatePromptMiddle', 'prompt', prompt, 'string');
  checkArg('truncatePromptMiddle', 'tokenizer', tokenizer, 'tokenizer');
  const half = halfBudget(maxTokens);
  const ids = tokenizer.encode(prompt);
  if (ids.length <= maxTokens) return prompt;
  return tokenizer.decode(ids.slice(0, half), { skipSpecial: true }) + tokenizer.decode(ids.slice(ids.length - half), { skipSpecial: true });
}

// ---------------------------------------------------------------------------------------------- generation and scoring

/**
 * pred.py's extra stop for a dataset: samsum adds the newline token (the last id of the tokenizer's encoding of
 * "\n", as `tokenizer.encode("\n", add_special_tokens=False)[-1]`) to the EOS ids, and sets `min_length` so that
 * no stop token can end generation at the first new token (generate's `minNewTokens: 1`). Other datasets: none.
 */
export function extraStopTokensFor(dataset: string, tokenizer: Tokenizer): number[] {
  checkArg('extraStopTokensFor', 'dataset', dataset, 'string');
  checkArg('extraStopTokensFor', 'tokenizer', tokenizer, 'tokenizer');
  if (dataset !== 'samsum') return [];
  const ids = tokenizer.encode('\n', { addBos: false });
  return ids.length > 0 ? [ids[ids.length - 1]!] : [];
}

/** For trec, triviaqa, samsum and lsht: `text.lstrip('\n').split('\n')[0]` (only `\n` counts); others unchanged. */
export function postprocessPrediction(dataset: string, text: string): string {
  checkArg('postprocessPrediction', 'dataset', dataset, 'string');
  checkArg('postprocessPrediction', 'text', text, 'string');
  if (!FIRST_LINE_DATASETS.has(dataset)) return text;
  return stripLeadingNewlines(text).split('\n')[0]!;
}

/** The metric of a record: its own `metric`, else its dataset's. */
export function metricForRecord(record: TaskRecord): MetricName {
  checkTaskRecord(record, 'metricForRecord');
  if (record.metric !== undefined) {
    if (!isMetricName(record.metric)) throw new Error(`record ${record._id}: unknown metric ${shortJson(record.metric)}`);
    return record.metric;
  }
  const metric = metricForDataset(record.dataset);
  if (!metric) throw new Error(`record ${record._id}: dataset ${shortJson(record.dataset)} has no known metric; give the record a "metric"`);
  return metric;
}

/** One sample's score in [0, 1]: the dataset's post-processing, then its metric against all gold answers. */
export function scoreRecord(record: TaskRecord, prediction: string, options: MetricOptions = {}): number {
  checkTaskRecord(record, 'scoreRecord');
  checkArg('scoreRecord', 'prediction', prediction, 'string');
  return scoreByMetric(metricForRecord(record), postprocessPrediction(record.dataset, prediction), record.answers, record.all_classes, options);
}

/** A task's score (0-100, 2 decimals, half to even) over records of one metric and their predictions. */
export function scoreTask(records: readonly TaskRecord[], predictions: readonly string[], options: MetricOptions = {}): number {
  checkArg('scoreTask', 'records', records, 'array', 'an array of task records');
  checkArg('scoreTask', 'predictions', predictions, 'strings');
  if (records.length !== predictions.length) throw new Error(`scoreTask: ${records.length} records but ${predictions.length} predictions`);
  if (records.length === 0) throw new Error('scoreTask: no records');
  const metrics = new Set(records.map(metricForRecord));
  if (metrics.size !== 1) throw new Error(`scoreTask: records mix metrics (${[...metrics].join(', ')}); score each task separately`);
  return aggregateScores([...metrics][0]!, records.map((record, i) => scoreRecord(record, predictions[i]!, options)));
}
