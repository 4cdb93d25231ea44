/**
 * Runs one task record through a model under a memory policy, following the kvpress protocol: the context is
 * prefilled (and compressed), then the question is fed and the answer generated greedily, so a policy can never
 * see the question while deciding what to forget (unless `queryAware` is set). Returns the prediction, its score
 * and what the cache held.
 *
 * Two scores:
 * - 'task' (default, the reference's): the task metric of the greedy answer, in [0, 1].
 * - 'likelihood': exp(−mean negative log-likelihood) of the gold answer text (`answerText`, as the project's
 *   models are trained to write it), teacher-forced after the question: the geometric mean of the probabilities
 *   the model gives the answer's tokens, in (0, 1]. It is smooth where the task metric is all-or-nothing, so it
 *   still ranks memory policies on a model too weak to answer right (a full-cache score of 0 says nothing about
 *   what forgetting costs); the prediction is then the argmax token at every answer position. The answer tokens
 *   are fed as one prefill chunk after the question (never compressed as a context), not decoded one by one.
 */
import type { Model } from '../models/model.js';
import type { MemoryPolicy } from '../memory/policy.js';
import { answerText, type TaskRecord } from '../tasks/record.js';
import {
  maxNewTokensFor, metricForRecord, postprocessPrediction, scoreRecord, splitContextAndQuestion, stopStringsFor,
  truncateMiddle, type LongBenchConfig,
} from '../tasks/longbench.js';
import type { MetricOptions } from '../tasks/metrics/index.js';
import type { CacheStatsSummary } from '../runtime/stats.js';
import { tokenNll } from './perplexity.js';

export interface RunRecordOptions {
  /** Official LongBench prompts and generation lengths (records without their own template need it). */
  longbenchConfig?: LongBenchConfig;
  /** Prompt budget in tokens; longer prompts are cut in the middle of the context (default: context − new tokens). */
  maxPromptTokens?: number;
  /** Compress context and question together (query-aware) instead of the context alone. */
  queryAware?: boolean;
  metricOptions?: MetricOptions;
  chunkSize?: number;
  /** Override the record's max new tokens. */
  maxNewTokens?: number;
  /** What a run scores: the task metric of the greedy answer (default) or the gold answer's likelihood. */
  score?: RecordScore;
}

export type RecordScore = 'task' | 'likelihood';
/** The `metric` of a likelihood-scored result (summaries average it ×100 like the task metrics). */
export const LIKELIHOOD_METRIC = 'answer_likelihood';
export const RECORD_SCORES: readonly RecordScore[] = ['task', 'likelihood'];

export interface RecordResult {
  id: string;
  dataset: string;
  metric: string;
  policy: string;
  prediction: string;
  /** Score of this sample in [0, 1]. */
  score: number;
  /** With `score: 'likelihood'`: the mean negative log-likelihood (nats per token) of the gold answer. */
  answerNll?: number;
  answers: string[];
  promptTokens: number;
  contextTokens: number;
  newTokens: number;
  truncated: boolean;
  memory: CacheStatsSummary;
  seconds: number;
}

export async function runRecord(model: Model, record: TaskRecord, policy: MemoryPolicy | null, options: RunRecordOptions = {}): Promise<RecordResult> {
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.source} has no tokenizer; tasks need one`);
  const started = performance.now();
  const scoreKind = options.score ?? 'task';
  if (!RECORD_SCORES.includes(scoreKind)) throw new RangeError(`score must be ${RECORD_SCORES.join(' or ')}, got "${String(scoreKind)}"`);
  if (scoreKind === 'likelihood' && record.answers.join('').trim() === '') throw new Error(`record ${record._id}: its answer is empty, so it has no likelihood`);
  const answerIds = scoreKind === 'likelihood' ? tok.encode(answerText(record.answers), { addBos: false }) : null;
  const maxNew = answerIds ? answerIds.length : options.maxNewTokens ?? maxNewTokensFor(record, options.longbenchConfig);
  const { context, question } = splitContextAndQuestion(record, options.longbenchConfig);
  let ctxIds = tok.encode(context, { addBos: true });
  const qIds = tok.encode(question, { addBos: false });
  const budget = options.maxPromptTokens ?? model.config.maxPositions - maxNew;
  let truncated = false;
  if (ctxIds.length + qIds.length > budget) {
    const room = budget - qIds.length;
    if (room < 2) throw new Error(`record ${record._id}: the question alone (${qIds.length} tokens) does not fit a ${budget}-token prompt budget`);
    ctxIds = truncateMiddle(ctxIds, room);
    truncated = true;
  }
  const session = model.createSessionWith(policy, { chunkSize: options.chunkSize });
  if (answerIds) {
    const { nll, argmax } = answerLikelihood(session, ctxIds, qIds, answerIds, model.config.vocabSize, options.queryAware === true);
    return {
      id: record._id, dataset: record.dataset, metric: LIKELIHOOD_METRIC, policy: policy?.name ?? 'full',
      prediction: tok.decode(argmax), score: Math.exp(-nll), answerNll: nll, answers: record.answers,
      promptTokens: ctxIds.length + qIds.length, contextTokens: ctxIds.length, newTokens: answerIds.length, truncated,
      memory: session.memoryStats(), seconds: (performance.now() - started) / 1000,
    };
  }
  const gen = { greedy: true, maxNewTokens: maxNew, stopStrings: stopStringsFor(record.dataset) };
  let text: string, newTokens: number;
  if (options.queryAware || qIds.length === 0) {
    const r = await session.generate([...ctxIds, ...qIds], gen);
    text = r.text; newTokens = r.outputTokens.length;
  } else {
    session.prefill(ctxIds, { endOfPrefill: true });
    const r = await session.generate(qIds, { ...gen, compressPrompt: false });
    text = r.text; newTokens = r.outputTokens.length;
  }
  const prediction = postprocessPrediction(record.dataset, text);
  return {
    id: record._id,
    dataset: record.dataset,
    metric: metricForRecord(record),
    policy: policy?.name ?? 'full',
    prediction,
    score: scoreRecord(record, text, options.metricOptions),
    answers: record.answers,
    promptTokens: ctxIds.length + qIds.length,
    contextTokens: ctxIds.length,
    newTokens,
    truncated,
    memory: session.memoryStats(),
    seconds: (performance.now() - started) / 1000,
  };
}

type LikelihoodSession = ReturnType<Model['createSessionWith']>;

/**
 * Teacher-forced likelihood of `answer` after context and question: the context is prefilled as the part to
 * compress (with the question when `queryAware`), the question follows uncompressed, then the answer's tokens but
 * the last. Returns the mean negative log-likelihood (nats per token) and the argmax token at every position.
 */
function answerLikelihood(
  session: LikelihoodSession, ctx: number[], question: number[], answer: number[], V: number, queryAware: boolean,
): { nll: number; argmax: number[] } {
  let last: Float32Array;
  if (queryAware || question.length === 0) last = session.prefill([...ctx, ...question], { endOfPrefill: true });
  else {
    session.prefill(ctx, { endOfPrefill: true });
    last = session.prefill(question, { endOfPrefill: false });
  }
  last = last.slice(); // the session may reuse its logits buffer for the next chunk
  const rest = answer.length > 1 ? session.prefill(answer.slice(0, -1), { endOfPrefill: false, logits: 'all' }) : null;
  let nll = 0;
  const argmax: number[] = [];
  for (let i = 0; i < answer.length; i++) {
    const r = tokenNll(i === 0 ? last : rest!.subarray((i - 1) * V, i * V), answer[i]!);
    nll += r.nll;
    argmax.push(r.argmax);
  }
  return { nll: nll / answer.length, argmax };
}
