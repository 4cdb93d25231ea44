/**
 * Runs one task record through a model under a memory policy, following the kvpress protocol: the context is
 * prefilled (and compressed), then the question is fed and the answer generated greedily, so a policy can never
 * see the question while deciding what to forget (unless `queryAware` is set). Returns the prediction, its score
 * and what the cache held.
 */
import type { Model } from '../models/model.js';
import type { MemoryPolicy } from '../memory/policy.js';
import type { TaskRecord } from '../tasks/record.js';
import {
  maxNewTokensFor, metricForRecord, postprocessPrediction, scoreRecord, splitContextAndQuestion, stopStringsFor,
  truncateMiddle, type LongBenchConfig,
} from '../tasks/longbench.js';
import type { MetricOptions } from '../tasks/metrics/index.js';
import type { CacheStatsSummary } from '../runtime/stats.js';

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
}

export interface RecordResult {
  id: string;
  dataset: string;
  metric: string;
  policy: string;
  prediction: string;
  /** Score of this sample in [0, 1]. */
  score: number;
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
  const maxNew = options.maxNewTokens ?? maxNewTokensFor(record, options.longbenchConfig);
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
