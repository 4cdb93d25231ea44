/**
 * The metric registry: every score namm reports, reproducing the official code (LongBench eval.py/metrics.py,
 * RULER, InfiniteBench) by default, quirks included, with corrected variants behind options.
 */
import { taskScore } from './aggregate.js';
import { argError, checkArg } from '../../util/args.js';
import { checkChoice, checkOptionsObject } from './choice.js';
import { CLASSIFICATION_VARIANTS, classificationScore, type ClassificationVariant } from './classification.js';
import { CODE_SIM_MATCHERS, codeSimScore, type CodeSimMatcher } from './code-sim.js';
import { KV_RETRIEVAL_MATCHES, kvRetrievalScore, passkeyScore, type KvRetrievalMatch } from './infinitebench.js';
import { qaF1Score, qaF1ZhScore } from './qa-f1.js';
import { countScore, retrievalScore, retrievalZhScore } from './retrieval.js';
import { rougeScore } from './rouge.js';
import { rougeZhScore } from './rouge-zh.js';
import { stringMatchAll, stringMatchPart } from './string-match.js';

export const METRICS = [
  'qa_f1', 'qa_f1_zh', 'rouge', 'rouge_zh', 'classification', 'retrieval', 'retrieval_zh', 'count', 'code_sim',
  'string_match_all', 'string_match_part', 'passkey', 'kv_retrieval', 'qa_f1_ja', 'rouge_ja',
] as const;
export type MetricName = (typeof METRICS)[number];

export interface MetricOptions {
  /** rouge / rouge_zh: `'official'` (default) scores 0 where Python's recursion limit breaks the LCS backtrack. */
  rougeRecursion?: 'official' | 'corrected';
  /** classification: `'official'` (default) skips the element after each removed one; `'corrected'` does not. */
  classification?: ClassificationVariant;
  /** code_sim: `'difflib'` (default) or python-Levenshtein's `'levenshtein'` ratio under fuzz.ratio. */
  codeSimMatcher?: CodeSimMatcher;
  /** kv_retrieval: `'contains'` (default) or InfiniteBench's first `'words'` rule. */
  kvRetrievalMatch?: KvRetrievalMatch;
}

/** The values each metric option takes. */
export const METRIC_OPTION_VALUES: { readonly [K in keyof Required<MetricOptions>]: readonly NonNullable<MetricOptions[K]>[] } = {
  rougeRecursion: ['official', 'corrected'],
  classification: CLASSIFICATION_VARIANTS,
  codeSimMatcher: CODE_SIM_MATCHERS,
  kvRetrievalMatch: KV_RETRIEVAL_MATCHES,
};

/**
 * Refuses metric options that would be ignored silently: not an object, an unknown key (a misspelt option), or a
 * value that is not one of the option's (undefined counts as absent). Returns the options.
 */
export function checkMetricOptions(options: MetricOptions): MetricOptions {
  checkOptionsObject('metric options', options);
  const known = Object.keys(METRIC_OPTION_VALUES) as (keyof MetricOptions)[];
  for (const key in options) {
    if (!(known as string[]).includes(key)) {
      throw new RangeError(`unknown metric option ${JSON.stringify(key)} (expected one of: ${known.join(', ')})`);
    }
    const value = options[key as keyof MetricOptions];
    if (value !== undefined) checkChoice(`metric option ${key}`, value, METRIC_OPTION_VALUES[key as keyof MetricOptions]);
  }
  return options;
}

export function isMetricName(name: string): name is MetricName {
  return (METRICS as readonly string[]).includes(name);
}

type PairMetric = (prediction: string, gold: string, allClasses: readonly string[] | null, options: MetricOptions) => number;

const rougeOptions = (options: MetricOptions) => (options.rougeRecursion === 'corrected' ? { maxBacktrackCalls: Infinity } : {});

/** LongBench metrics: one gold answer at a time; the sample scores the best of them. */
const PAIR_METRICS: Partial<Record<MetricName, PairMetric>> = {
  qa_f1: (p, g) => qaF1Score(p, g),
  qa_f1_zh: (p, g) => qaF1ZhScore(p, g),
  rouge: (p, g, _c, o) => rougeScore(p, g, rougeOptions(o)),
  rouge_zh: (p, g, _c, o) => rougeZhScore(p, g, rougeOptions(o)),
  classification: (p, g, c, o) => classificationScore(p, g, c, o.classification),
  retrieval: (p, g) => retrievalScore(p, g),
  retrieval_zh: (p, g) => retrievalZhScore(p, g),
  count: (p, g) => countScore(p, g),
  code_sim: (p, g, _c, o) => codeSimScore(p, g, o.codeSimMatcher),
};

/**
 * Score of one sample in [0, 1]. LongBench metrics take the maximum over `answers` starting from 0 (no answers: 0);
 * string_match_all is the share of answers found; string_match_part any answer found; passkey and kv_retrieval
 * check the first answer. The prediction is used as given: cut it first with `postprocessPrediction` where the
 * dataset asks for it.
 */
export function scoreByMetric(
  name: string,
  prediction: string,
  answers: readonly string[],
  allClasses: readonly string[] | null = null,
  options: MetricOptions = {},
): number {
  if (!isMetricName(name)) throw new Error(`scoreByMetric: unknown metric ${JSON.stringify(name)}; known: ${METRICS.join(', ')}`);
  if (typeof prediction !== 'string') throw new TypeError(`${name}: the prediction must be a string, got ${prediction === null ? 'null' : typeof prediction}`);
  if (!Array.isArray(answers) || !answers.every((a) => typeof a === 'string')) throw new TypeError(`${name}: the answers must be an array of strings`);
  if (allClasses !== null) checkArg('scoreByMetric', 'allClasses', allClasses, 'strings', 'an array of class names (strings) or null');
  checkMetricOptions(options);
  const pair = PAIR_METRICS[name];
  if (pair) {
    let best = 0.0;
    for (const gold of answers) best = Math.max(best, pair(prediction, gold, allClasses, options));
    return best;
  }
  switch (name) {
    case 'string_match_all': return stringMatchAll(prediction, answers);
    case 'string_match_part': return stringMatchPart(prediction, answers);
    case 'passkey': return passkeyScore(prediction, answers);
    case 'kv_retrieval': return kvRetrievalScore(prediction, answers, options.kvRetrievalMatch);
    default:
      throw new Error(`metric ${name} (ChouBun) needs Japanese tokenisation by MeCab/fugashi, which namm does not provide`);
  }
}

/** Task score (0-100, 2 decimals, half to even) with the averaging formula of the metric's own benchmark. */
export function aggregateScores(name: MetricName, sampleScores: readonly number[]): number {
  if (!isMetricName(name)) throw argError('aggregateScores', 'name', `a metric name (${METRICS.join(', ')})`, name);
  return taskScore(sampleScores, name === 'string_match_all' || name === 'string_match_part' ? 'ruler' : 'longbench');
}

export { taskScore } from './aggregate.js';
export { pythonRound } from './python-round.js';
export { normalizeAnswer, normalizeZhAnswer, qaF1Score, qaF1ZhScore } from './qa-f1.js';
export { rougeScore, rougeSentences, ROUGE_MAX_BACKTRACK_CALLS, ROUGE_ZH_MAX_BACKTRACK_CALLS, type RougeOptions } from './rouge.js';
export { rougeZhScore } from './rouge-zh.js';
export { classificationScore } from './classification.js';
export { retrievalScore, retrievalZhScore, countScore } from './retrieval.js';
export { codeSimScore, firstCodeLine, fuzzRatio } from './code-sim.js';
export { sequenceMatcherRatio } from './difflib.js';
export { indelRatio } from './indel.js';
export { stringMatchAll, stringMatchPart } from './string-match.js';
export { passkeyScore, kvRetrievalScore, firstInteger } from './infinitebench.js';
export { jiebaCut } from './jieba.js';
export { metricForDataset, FIRST_LINE_DATASETS, LONGBENCH_DATASET_METRICS, CHOUBUN_DATASET_METRICS, GENERATED_DATASET_METRICS } from './datasets.js';
export type { ClassificationVariant, CodeSimMatcher, KvRetrievalMatch };
