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
import { checkModel, type Model } from '../models/model.js';
import { contextLength } from '../models/rope.js';
import { checkMemoryPolicy, type MemoryPolicy } from '../memory/policy.js';
import { answerText, type TaskRecord } from '../tasks/record.js';
import {
  checkTaskRecord, maxNewTokensFor, metricForRecord, postprocessPrediction, scoreRecord, splitContextAndQuestion, extraStopTokensFor,
  taskRecordProblem, type LongBenchConfig,
} from '../tasks/longbench.js';
import { checkMetricOptions, type MetricName, type MetricOptions } from '../tasks/metrics/index.js';
import type { CacheStatsSummary } from '../runtime/stats.js';
import { Session } from '../runtime/session.js';
import { tokenNll } from './perplexity.js';
import { shortJson, showValue } from '../util/show.js';
import { argError, checkArg, checkArgOptions } from '../util/args.js';

export interface RunRecordOptions {
  /** Official LongBench prompts and generation lengths (records without their own template need it). */
  longbenchConfig?: LongBenchConfig;
  /**
   * Prompt budget in tokens; longer prompts are cut in the middle of the context (default: the model's context,
   * YaRN's extended one where it has it (contextLength), less the new tokens).
   */
  maxPromptTokens?: number;
  /**
   * The context window the prompt budget is taken from, in tokens: a prompt gets this many less the record's new
   * tokens, as the NAMM reference gives it `32768 − max_gen_len` (default: the model's context, contextLength; LongBench's
   * pred.py subtracts nothing: maxPromptTokens reproduces it). The reference's runs use 32,768 with a Llama 3 whose
   * config says 8,192 (RoPE scaled by NTK). Not with maxPromptTokens, which sets the budget itself.
   */
  contextWindow?: number;
  /**
   * Wraps each prompt, after the cut, in the model's chat template as one user message with the assistant's turn
   * opened, as LongBench's pred.py does for chat models on every dataset but trec, triviaqa, samsum, lsht, lcc and
   * repobench-p (NO_CHAT_DATASETS; the NAMM reference does not, hence the default false). The template's text
   * before the message joins the context (it replaces the BOS a bare prompt begins with), the text after it joins
   * the question. Needs a tokenizer with a chat template.
   */
  chatTemplate?: boolean;
  /** Compress context and question together (query-aware) instead of the context alone. */
  queryAware?: boolean;
  metricOptions?: MetricOptions;
  chunkSize?: number;
  /** Override the record's max new tokens. */
  maxNewTokens?: number;
  /** What a run scores: the task metric of the greedy answer (default) or the gold answer's likelihood. */
  score?: RecordScore;
  /**
   * A session already fed the first `tokens` tokens of this record's prompt (`recordPrompt(...).prefill`, by
   * prefill without ending it), e.g. a fork of one that several policies share: the run continues it instead of
   * starting a new session (its memory policy is the session's; `policy` then only names the result).
   */
  prefix?: { session: Session; tokens: number };
}

/** The keys of RunRecordOptions: a misspelt one was ignored and its default used. */
export const RUN_RECORD_OPTION_KEYS = ['longbenchConfig', 'maxPromptTokens', 'contextWindow', 'chatTemplate', 'queryAware',
  'metricOptions', 'chunkSize', 'maxNewTokens', 'score', 'prefix'] as const;

/** A record's prompt as runRecord feeds it. */
export interface RecordPrompt {
  ctxIds: number[];
  qIds: number[];
  /**
   * With score 'likelihood': the tokens of each gold answer the record accepts (likelihoodAnswers), one list per
   * alternative.
   */
  answerIds: number[][] | null;
  maxNew: number;
  truncated: boolean;
  /** The prompt's tokens before any cut (a generated record's `length` counts the same, with the tokenizer it was made with). */
  promptTokens: number;
  /**
   * The tokens of the first prefill call (the part a policy compresses): the context, with the question when
   * query-aware. Empty when the context part tokenises to nothing (a tokenizer that adds no BOS, such as GPT-2's,
   * and a template that starts with an empty `{context}`): there is nothing to compress, and the question is fed
   * uncompressed from the start, as it follows a context.
   */
  prefill: number[];
}

/** Tokenises a record as runRecord does (template, truncation in the middle of the context, question, answer). */
export function recordPrompt(model: Model, record: TaskRecord, options: RunRecordOptions = {}): RecordPrompt {
  checkModel('recordPrompt', model);
  checkTaskRecord(record, 'recordPrompt');
  checkRunOptions(options);
  const tok = model.tokenizer;
  if (!tok) throw new Error(`model ${model.source} has no tokenizer; tasks need one`);
  const scoreKind = options.score ?? 'task';
  if (!RECORD_SCORES.includes(scoreKind)) throw new RangeError(`score must be ${RECORD_SCORES.join(' or ')}, got "${String(scoreKind)}"`);
  if (scoreKind === 'likelihood' && record.answers.join('').trim() === '') throw new Error(`record ${record._id}: its answer is empty, so it has no likelihood`);
  const answerIds = scoreKind === 'likelihood' ? likelihoodAnswers(record).map((a) => tok.encode(answerText(a), { addBos: false })) : null;
  // The budget leaves room for the longest alternative.
  const maxNew = answerIds ? Math.max(...answerIds.map((a) => a.length)) : options.maxNewTokens ?? maxNewTokensFor(record, options.longbenchConfig);
  const { context, question } = splitContextAndQuestion(record, options.longbenchConfig);
  const window = options.contextWindow ?? contextLength(model.config);
  const budget = options.maxPromptTokens ?? window - maxNew;
  const windowText = options.contextWindow !== undefined ? `the ${window}-token context window (contextWindow)` : `the model's ${window}-token context`;
  // What sets the budget, for the messages below (a record asking for more new tokens than the context holds gave
  // "the question does not fit a −88-token prompt budget", never naming the new tokens).
  const newTokens = answerIds ? `its ${answerIds.length > 1 ? 'longest ' : ''}answer's ${maxNew} tokens (scored by likelihood)`
    : options.maxNewTokens !== undefined ? `${maxNew} new tokens (maxNewTokens)` : `${maxNew} new tokens (its max_new_tokens, or the LongBench config's dataset2maxlen)`;
  if (options.maxPromptTokens === undefined && budget < 1) {
    throw new Error(`record ${record._id}: ${newTokens} leave no room for a prompt in ${windowText}`);
  }
  const budgetText = options.maxPromptTokens !== undefined ? `${budget}-token prompt budget (maxPromptTokens)`
    : `${budget}-token prompt budget (${windowText} less ${newTokens})`;
  // The whole prompt is tokenised at once, with the tokenizer's own BOS rule, as pred.py and the reference do
  // (context and question tokenised apart gave a SentencePiece tokenizer one more token at the seam, and lost
  // merges across it); the question part is the tail of those ids that its own tokens match.
  const questionAlone = question === '' ? [] : tok.encode(question, { addBos: false });
  let text = context + question;
  let ids = tok.encode(text);
  const promptTokens = ids.length;
  let questionTokens = questionTokensOf(ids, [questionAlone], questionAlone.length);
  // The question's text as the prompt's text holds it: after a cut, its tokens decoded and tokenised again.
  let questionText = question;
  let truncated = false;
  if (ids.length > budget) {
    // A prompt past the budget can hold more tokens than the model's context less the new tokens (a given
    // maxPromptTokens) only as far as pred.py's cut on text can lengthen it.
    const limit = options.maxPromptTokens !== undefined ? Math.max(budget, contextLength(model.config) - maxNew) : budget;
    questionText = tok.decode(ids.slice(ids.length - questionTokens), { skipSpecial: true });
    ({ text, ids } = cutPromptMiddle(tok, ids, questionTokens, budget, limit, `record ${record._id}`, budgetText));
    // Judged against the question as the cut text holds it (its unknown tokens gone, say), not its uncut length.
    const asCut = tok.encode(questionText, { addBos: false });
    questionTokens = questionTokensOf(ids, [questionAlone, asCut], asCut.length);
    truncated = true;
  }
  if (ids.length === 0) throw new Error(`record ${record._id}: its prompt tokenises to no tokens (empty context and question, and a tokenizer that adds no BOS)`);
  let split = ids.length - questionTokens;
  let ctxIds = ids.slice(0, split);
  let qIds = ids.slice(split);
  if (options.chatTemplate && !NO_CHAT_DATASETS.has(record.dataset)) {
    // The cut prompt's text in the chat template, tokenised again as one text, as pred.py's build_chat is; the
    // prefix is encoded with the BOS the tokenizer adds unless its text holds it already (Llama 3's
    // "<|begin_of_text|>"; pred.py tokenizes such a prompt with a second BOS, which is left out here).
    // The text is rendered in the template itself, not spliced between its two halves: a template that edits the
    // message (Llama 3's `| trim`) edits it here as it would there.
    const { suffix } = chatWrapping(tok, model.source);
    const bos = tok.bosTokenId;
    const wrapped = tok.encode(tok.applyChatTemplate!([{ role: 'user', content: text }], { addGenerationPrompt: true }), { addBos: false });
    ids = bos !== null && tok.encode('')[0] === bos && wrapped[0] !== bos ? [bos, ...wrapped] : wrapped;
    const suffixTokens = suffix === '' ? 0 : tok.encode(suffix, { addBos: false }).length;
    const questions = [...new Set([question, questionText, question.trimEnd(), questionText.trimEnd()])];
    split = ids.length - questionTokensOf(ids, questions.map((q) => tok.encode(q + suffix, { addBos: false })), qIds.length + suffixTokens);
    ctxIds = ids.slice(0, split);
    qIds = ids.slice(split);
  }
  const prefill = options.queryAware || qIds.length === 0 ? [...ctxIds, ...qIds] : ctxIds;
  return { ctxIds, qIds, answerIds, maxNew, truncated, prefill, promptTokens };
}


/**
 * How many of the last ids of `ids` are the question's: the longest tail of `ids` equal to a tail of `question`
 * (its tokens on their own). Tokens that differ at the seam (a merge across it, a SentencePiece tokenizer's space
 * before a text of its own) go to the context.
 */
function questionSuffix(ids: readonly number[], question: readonly number[]): number {
  let n = 0;
  while (n < question.length && n < ids.length && ids[ids.length - 1 - n] === question[question.length - 1 - n]) n++;
  return n;
}

/**
 * LongBench's cut of a prompt longer than `budget`, as pred.py and the NAMM reference make it: the first and the
 * last ⌊budget/2⌋ ids decoded (special tokens skipped), the two texts joined and tokenised again (so the seam
 * tokenises as text does, and half a character at it becomes U+FFFD); returns that text and its ids. A question (its
 * last `questionTokens` ids) longer than half the budget, which that cut would split, is kept whole and the context
 * alone is cut so, to the room left. The new tokenisation can be longer than the budget; past `limit` (what the
 * model's context allows) the cut is made again, shorter, until it fits.
 */
function cutPromptMiddle(
  tok: NonNullable<Model['tokenizer']>, ids: readonly number[], questionTokens: number, budget: number, limit: number,
  what: string, budgetText: string,
): { text: string; ids: number[] } {
  let keep = budget, last = 0;
  for (let attempt = 0; attempt < 16; attempt++) {
    const half = Math.floor(keep / 2);
    let head: number[], tail: number[];
    if (half >= 1 && half >= questionTokens) {
      head = ids.slice(0, half);
      tail = ids.slice(ids.length - half);
    } else {
      // Under 2 tokens of context the question alone is said not to fit, unless a cut that was too long came first:
      // then a side may go down to none.
      const room = keep - questionTokens;
      if (room < (last === 0 ? 2 : 0)) break;
      const side = Math.floor(room / 2);
      head = ids.slice(0, side);
      tail = ids.slice(ids.length - questionTokens - side);
    }
    const text = tok.decode(head, { skipSpecial: true }) + tok.decode(tail, { skipSpecial: true });
    const cut = tok.encode(text);
    if (cut.length <= limit) return { text, ids: cut };
    // Shorter by the excess, and by at least one token a side (an odd budget one less keeps the same halves).
    last = cut.length;
    keep -= Math.max(2, cut.length - limit);
  }
  if (last === 0) throw new Error(`${what}: the question alone (${questionTokens} tokens) does not fit a ${budgetText}`);
  throw new Error(`${what}: its prompt cut in the middle tokenises again to ${last} tokens, more than the ${limit} that fit, however short the cut`);
}

/**
 * How many of the last ids of `ids` are the question's: the longest match of questionSuffix over `refs` (the
 * question's tokens, on their own and as a cut prompt's text holds them: decoded and tokenised again, which drops
 * unknown tokens and cleans up spaces). A match that covers a whole ref is the question. Otherwise a match under
 * half of `expected` (the question's tokens as the prompt's text holds it) is not the question's end, and `expected`
 * tokens are taken: the question is never compressed as context wholesale.
 */
function questionTokensOf(ids: readonly number[], refs: readonly (readonly number[])[], expected: number): number {
  let n = 0, whole = false;
  for (const ref of refs) {
    const m = questionSuffix(ids, ref);
    n = Math.max(n, m);
    if (m === ref.length && m > 0) whole = true;
  }
  return whole || n * 2 >= expected ? n : Math.min(expected, ids.length);
}


/** LongBench's datasets that pred.py never wraps in a chat template (few-shot and code completion). */
export const NO_CHAT_DATASETS: ReadonlySet<string> = new Set(['trec', 'triviaqa', 'samsum', 'lsht', 'lcc', 'repobench-p']);

/**
 * The chat template's text around one user message, with the assistant's turn opened. Throws when the model has no
 * template or its template does not render one message (a CLI checks it before a run starts).
 */
export function chatWrapping(tok: NonNullable<Model['tokenizer']>, source: string): { prefix: string; suffix: string } {
  if (!tok.applyChatTemplate) throw new Error(`chatTemplate: ${source || 'the model'} has no chat template (tokenizer_config.json's chat_template, chat_template.jinja, or a GGUF file's tokenizer.chat_template)`);
  const marker = '\u0001namm-prompt\u0001';
  const text = tok.applyChatTemplate([{ role: 'user', content: marker }], { addGenerationPrompt: true });
  const parts = text.split(marker);
  if (parts.length !== 2) throw new Error(`chatTemplate: the chat template of ${source || 'the model'} does not render the message once as it was given (it holds it ${parts.length - 1} times)`);
  return { prefix: parts[0]!, suffix: parts[1]! };
}

/**
 * Refuses, before any work, run options that would be ignored or fail late: a prompt budget or new-token count that
 * is not a safe integer (NaN fell back silently to the model's own budget), bad metric options (checked only when
 * the answer is scored, after the whole generation).
 */
function checkRunOptions(options: RunRecordOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`run options must be an object, got ${showValue(options)}`);
  const { maxPromptTokens, contextWindow, maxNewTokens, metricOptions } = options;
  if (maxPromptTokens !== undefined && !(Number.isSafeInteger(maxPromptTokens) && maxPromptTokens >= 1)) {
    throw new RangeError(`maxPromptTokens must be a positive safe integer (a prompt budget in tokens), got ${showValue(maxPromptTokens)}`);
  }
  if (contextWindow !== undefined && !(Number.isSafeInteger(contextWindow) && contextWindow >= 2)) {
    throw new RangeError(`contextWindow must be a safe integer ≥ 2 (a context window in tokens), got ${showValue(contextWindow)}`);
  }
  if (contextWindow !== undefined && maxPromptTokens !== undefined) {
    throw new RangeError('maxPromptTokens and contextWindow both set the prompt budget; give one of them');
  }
  if (maxNewTokens !== undefined && !(Number.isSafeInteger(maxNewTokens) && maxNewTokens >= 0)) {
    throw new RangeError(`maxNewTokens must be a safe integer ≥ 0, got ${showValue(maxNewTokens)}`);
  }
  if (metricOptions !== undefined) checkMetricOptions(metricOptions);
  if (options.chatTemplate !== undefined && typeof options.chatTemplate !== 'boolean') throw new TypeError(`chatTemplate must be true or false, got ${showValue(options.chatTemplate)}`);
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
  /** The record's target_length and depth_percent, where it has them (generated tasks), for summaries by length. */
  targetLength?: number;
  depthPercent?: number;
}

/** Metrics that look for a gold answer inside the prediction: any prediction holds "", so a blank gold scored 1. */
const INCLUSION_METRICS: ReadonlySet<MetricName> = new Set(['string_match_all', 'string_match_part', 'passkey', 'kv_retrieval']);

/**
 * Refuses, before any model runs, records the task metric cannot score: no metric, what a metric needs and the
 * record lacks (answers, all_classes, a retrieval gold naming its paragraph, a tokeniser namm does not have), a gold
 * answer that is empty or blank under a metric that looks for it inside the prediction (it scored 1 whatever the
 * model said; the official scorers share that), and a dataset scored by two metrics. Each was found only once the
 * model had generated for the record (or, the last, once every record had run), and ended the run there.
 */
export function checkScorable(records: readonly TaskRecord[], options: MetricOptions = {}): void {
  checkArg('checkScorable', 'records', records, 'array', 'an array of task records');
  records.forEach((r, i) => {
    checkArg('checkScorable', `records[${i}]`, r, 'object', 'a task record');
    const problem = taskRecordProblem(r);
    if (problem !== null) throw new TypeError(`checkScorable: records[${i}] (${shortJson(r._id ?? '(no _id)')}): ${problem}`);
  });
  const metricOf = new Map<string, { metric: MetricName; id: string }>();
  for (const r of records) {
    try {
      const metric = metricForRecord(r);
      if (INCLUSION_METRICS.has(metric) && r.answers.some((a) => a.trim() === '')) {
        throw new Error(`a gold answer is empty or blank, which ${metric} finds in any prediction (it would score 1 whatever the model says)`);
      }
      scoreRecord(r, '', options);
      const seen = metricOf.get(r.dataset);
      if (seen && seen.metric !== metric) {
        throw new Error(`dataset ${JSON.stringify(r.dataset)} is scored by ${seen.metric} in record ${seen.id} and by ${metric} here; a task's records need one metric`);
      }
      metricOf.set(r.dataset, { metric, id: r._id });
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(message.startsWith(`record ${r._id}:`) ? message : `record ${r._id}: ${message}`, { cause: err });
    }
  }
}

/** The grouping labels a result copies from its record. */
function recordLabels(record: TaskRecord): Pick<RecordResult, 'targetLength' | 'depthPercent'> {
  return {
    ...(record.target_length !== undefined ? { targetLength: record.target_length } : {}),
    ...(record.depth_percent !== undefined ? { depthPercent: record.depth_percent } : {}),
  };
}

export async function runRecord(model: Model, record: TaskRecord, policy: MemoryPolicy | null, options: RunRecordOptions = {}): Promise<RecordResult> {
  return (await runRecordWith(model, record, policy, options, true))!;
}

/**
 * runRecord without the score (calibrateNamm's pass, which reads only what the policy saw): the record is run as
 * runRecord runs it, but what the metric needs (a gold answer it can look for, a metric at all) is not asked for,
 * and nothing is returned. A record with a blank gold answer, or of a dataset without a metric, feeds as any other.
 */
export async function feedRecord(model: Model, record: TaskRecord, policy: MemoryPolicy | null, options: RunRecordOptions = {}): Promise<void> {
  await runRecordWith(model, record, policy, options, false);
}

async function runRecordWith(
  model: Model, record: TaskRecord, policy: MemoryPolicy | null, options: RunRecordOptions, scored: boolean,
): Promise<RecordResult | null> {
  checkModel('runRecord', model);
  checkTaskRecord(record, 'runRecord');
  if (policy !== null) checkMemoryPolicy('runRecord', 'policy', policy, ' or null (the full cache)');
  checkArgOptions('runRecord', options, RUN_RECORD_OPTION_KEYS);
  const prefixGiven = options.prefix;
  if (prefixGiven !== undefined) {
    checkArg('runRecord', 'prefix', prefixGiven, 'object', 'an object { session, tokens }');
    if (!(prefixGiven.session instanceof Session)) throw argError('runRecord', 'prefix.session', 'a Session', prefixGiven.session);
    // A session of another model ran this record on that model's cache with no word.
    if (prefixGiven.session.arch !== model.arch) throw new Error(`runRecord: prefix.session belongs to another model than ${model.source}`);
    if (!Number.isSafeInteger(prefixGiven.tokens)) throw argError('runRecord', 'prefix.tokens', 'an integer (the tokens the session holds)', prefixGiven.tokens);
  }
  const started = performance.now();
  const { ctxIds, qIds, answerIds, maxNew, truncated, prefill } = recordPrompt(model, record, options);
  // What the task metric needs from the record, before the model runs (a bad metric failed once it had generated).
  if (scored && options.score !== 'likelihood') checkScorable([record], options.metricOptions);
  const tok = model.tokenizer!;
  const done = options.prefix?.tokens ?? 0;
  // Without a prefix the first prefill may be empty (an empty context under a tokenizer without BOS).
  if (options.prefix && !(Number.isInteger(done) && done >= 0 && done < prefill.length)) {
    throw new RangeError(`record ${record._id}: a prefix of ${done} tokens must leave some of the ${prefill.length} tokens of the first prefill`);
  }
  if (options.prefix && options.prefix.session.totalTokens !== done) {
    throw new RangeError(`record ${record._id}: the prefix session holds ${options.prefix.session.totalTokens} tokens, the prefix says ${done}`);
  }
  const session = options.prefix ? options.prefix.session : model.createSessionWith(policy, { chunkSize: options.chunkSize });
  const rest = prefill.slice(done);
  if (answerIds) {
    const best = answerLikelihood(session, rest, prefill === ctxIds ? qIds : [], answerIds, model.config.vocabSize, `record ${record._id} under ${policy?.name ?? 'full'}`, ctxIds.length + qIds.length);
    return {
      id: record._id, dataset: record.dataset, metric: LIKELIHOOD_METRIC, policy: policy?.name ?? 'full',
      prediction: tok.decode(best.argmax), score: Math.exp(-best.nll), answerNll: best.nll, answers: record.answers,
      promptTokens: ctxIds.length + qIds.length, contextTokens: ctxIds.length, newTokens: answerIds[best.index]!.length, truncated,
      memory: best.memory, seconds: (performance.now() - started) / 1000, ...recordLabels(record),
    };
  }
  const extraStops = extraStopTokensFor(record.dataset, tok);
  const gen = {
    greedy: true, maxNewTokens: maxNew,
    ...(extraStops.length > 0 ? { stopTokens: [...(tok.eosTokenIds ?? model.config.eosTokenIds), ...extraStops], minNewTokens: Math.min(1, maxNew) } : {}),
  };
  // The prediction is the output decoded on its own, as LongBench's pred.py (and the reference) decode
  // output[context_length:]: generate's text, decoded after the prompt, keeps a SentencePiece tokenizer's leading
  // space, which code_sim counts (lcc 0.98 → 0.95 in one case).
  let text: string, newTokens: number;
  // The prompt's keys are rotated for its whole length (a dynamic-NTK model's base follows the sequence's length), as
  // one forward over the prompt makes them in transformers' generate, though the context is fed before the question.
  const promptTokens = ctxIds.length + qIds.length;
  if (prefill !== ctxIds) {
    const r = await session.generate(rest, gen);
    text = tok.decode(r.outputTokens); newTokens = r.outputTokens.length;
  } else {
    if (rest.length > 0) session.prefill(rest, { endOfPrefill: true, sequenceLength: promptTokens });
    const r = await session.generate(qIds, { ...gen, compressPrompt: false });
    text = tok.decode(r.outputTokens); newTokens = r.outputTokens.length;
  }
  if (!scored) return null;
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
    ...recordLabels(record),
  };
}

type LikelihoodSession = ReturnType<Model['createSessionWith']>;

/**
 * The answers whose likelihood a record is scored by, each a list of gold answers joined as answerText joins them:
 * every gold answer on its own where the metric accepts any one of them (LongBench's metrics take the best over the
 * golds, RULER's string_match_part too: triviaqa's aliases, narrativeqa's two references), all of them together
 * where it needs them all (string_match_all: niah_multivalue's values) or there is one. Joined, the alternatives of
 * a LongBench record were one long target whose likelihood measured mostly how many aliases it listed.
 */
export function likelihoodAnswers(record: TaskRecord): string[][] {
  const alternatives = record.answers.filter((a) => a.trim() !== '');
  if (alternatives.length <= 1 || metricForRecord(record) === 'string_match_all') return [record.answers];
  return alternatives.map((a) => [a]);
}

/**
 * Teacher-forced likelihood of the best of `answers` after the prompt: `compressed` (what is left of the first
 * prefill: the context, with the question when query-aware) is prefilled as the part to compress, `question` (empty
 * when it was part of it; `compressed` is empty when the context tokenised to nothing) follows uncompressed, then
 * each answer's tokens but the last, in a fork of the session per answer when there are several (each is scored as
 * if it were the only one, the policy evicting as it reads it). Returns the answer with the lowest mean negative
 * log-likelihood (nats per token; the first of ties), the argmax token at each of its positions and the memory
 * statistics of the session that read it. Logits with NaN or +∞ (a model whose weights or activations hold them) give no likelihood: refused with
 * an error naming `what`, as generate refuses them, rather than a NaN score (JSON writes it as null, which a later
 * summary read as a missing or zero score). A token given probability 0 (its logit −∞) is a score of 0.
 */
function answerLikelihood(
  session: LikelihoodSession, compressed: number[], question: number[], answers: number[][], V: number, what: string,
  promptTokens: number,
): { nll: number; argmax: number[]; index: number; memory: CacheStatsSummary } {
  let last = compressed.length > 0 ? session.prefill(compressed, { endOfPrefill: true, sequenceLength: promptTokens }) : null;
  if (question.length > 0) last = session.prefill(question, { endOfPrefill: false });
  if (!last) throw new Error(`${what}: no prompt tokens before the answer`); // recordPrompt refuses an empty prompt
  const first = last.slice(); // the session may reuse its logits buffer for the next chunk
  let best: { nll: number; argmax: number[]; index: number; memory: CacheStatsSummary } | null = null;
  answers.forEach((answer, k) => {
    // A fork of the session as the prompt left it, one at a time (each freed once read); the last answer is read
    // by the session itself.
    const reader = k < answers.length - 1 ? session.fork() : session;
    const rest = answer.length > 1 ? reader.prefill(answer.slice(0, -1), { endOfPrefill: false, logits: 'all' }) : null;
    let nll = 0;
    const argmax: number[] = [];
    for (let i = 0; i < answer.length; i++) {
      const r = tokenNll(i === 0 ? first : rest!.subarray((i - 1) * V, i * V), answer[i]!);
      if (Number.isNaN(r.nll)) {
        throw new Error(`${what}: the model produced NaN or +Infinity logits at answer token ${i + 1} of ${answer.length} (its weights or activations hold NaN or infinities); the answer has no likelihood`);
      }
      nll += r.nll;
      argmax.push(r.argmax);
    }
    nll /= answer.length;
    if (!best || nll < best.nll) best = { nll, argmax, index: k, memory: reader.memoryStats() };
  });
  return best!;
}
