/**
 * The seeded training-data mixer. Each sample is one sequence (ids, and the target after each id or IGNORE):
 * - natural text: a window of the token stream of the training documents (shuffled once by the seed; each
 *   document is BOS + text + EOS), every token a target;
 * - a generated long-context task (src/tasks/registry.ts): BOS + prompt + answer + EOS, at a length drawn from
 *   the configured ones; targets on the answer and EOS only (`lossOn: 'answer'`) or on every token;
 * - a copy sample (`copyWeight` > 0): BOS + a segment repeated until the drawn length, every token a target. The
 *   segment is a text window or uniformly random token ids (half each), of a length drawn within 8..L/2. Every
 *   repeat can only be predicted by finding the earlier copy and reading on from it: the dense signal that grows
 *   induction (retrieval) heads in a small model far sooner than the few answer tokens of a task sample do;
 * - a recall sample (`recallWeight` > 0; see recallSample): multi-query associative recall with a gap between
 *   each key and its value, the key lookup that multi-key needles and key-value retrieval need, in its densest form.
 *
 * Seeds. Generated task samples for training use seed TRAIN_SEED_BASE + config seed (1,000,000–1,999,999: the
 * config seed is below 1,000,000) with running indices below VALIDATION_INDEX_BASE; the trainer's validation
 * samples use indices from VALIDATION_INDEX_BASE up. Evaluation (`namm eval`) uses seeds below 1,000,000 and NAMM
 * evolution 2,000,000 and up (src/evolve/curriculum.ts), so a model is never trained on either.
 *
 * Position: the whole state is the Rng state, two counters (text cursor, task index) and the task sizing memo,
 * saved in checkpoints; the same state gives the same following samples.
 */
import type { Tokenizer } from '../models/types.js';
import { buildPrompt } from '../tasks/longbench.js';
import { answerText } from '../tasks/record.js';
import { generateRecord, getTask } from '../tasks/registry.js';
import { LengthTooSmallError, type SizingMemo } from '../tasks/generate/sizing.js';
import { Rng } from '../util/rng.js';
import { COPY_MIN_LENGTH, DEFAULT_RECALL_GAPS, MAX_RECALL_GAP, RECALL_MIN_LENGTH, recallLengthFor, TASK_MIN_LENGTH } from './config.js';
import type { Document } from './corpus.js';
import { IGNORE } from './ops/cross-entropy.js';
import { argError, checkArg } from '../util/args.js';

export const TRAIN_SEED_BASE = 1_000_000;
export const VALIDATION_INDEX_BASE = 1_000_000_000;
/** Consecutive records tried for one drawn (task, length) before the mixer gives up. */
const MAX_SIZING_TRIES = 8;

export interface Sample {
  ids: Int32Array;
  targets: Int32Array;
  kind: 'text' | 'task' | 'copy' | 'recall';
  /** "text", "copy", "recall" or the task name. */
  source: string;
}

export interface MixerOptions {
  /** Relative weight of natural-text windows vs generated task samples. */
  textWeight: number;
  taskWeight: number;
  /** Relative weight of copy samples (0 = none). */
  copyWeight?: number;
  /** Lengths (tokens) of copy samples, uniformly (default: textLengths). */
  copyLengths?: number[];
  /** Relative weight of recall samples (0 = none). */
  recallWeight?: number;
  /** Lengths (tokens) of recall samples, uniformly (default: copyLengths, else textLengths). */
  recallLengths?: number[];
  /** Gaps (filler tokens between a key and its value) of recall samples, uniformly (default 0..3). */
  recallGaps?: number[];
  /** Extra tokens between a query's key and its filler in recall samples, uniformly (default 0: queries as records). */
  recallQueryGaps?: number[];
  /** Sequence lengths (tokens) to draw text windows at, uniformly. */
  textLengths: number[];
  /** Target lengths (tokens) for task samples, uniformly; each ≤ the model's context. */
  taskLengths: number[];
  /** Task names from the registry (English ones: the tokenizer is trained on English). */
  tasks: string[];
  lossOn: 'answer' | 'all';
  /** The config's seed (0 by default); the task seed is TRAIN_SEED_BASE + seed. */
  seed: number;
}

export interface MixerState {
  rng: { s: number[]; spare: number | null };
  textCursor: number;
  taskIndex: number;
  epoch: number;
  /**
   * The task sizing memo (tokens-per-size rates learnt so far): it decides which of the sizes within tolerance a
   * record gets, so a resume needs it to make the same samples (absent in checkpoints from before it was kept).
   */
  memo?: [string, number][];
}

/** Concatenates BOS + doc + EOS for every document (in the given order) into one stream. */
export function tokenStream(docs: readonly Document[], tokenizer: Tokenizer, bos: number, eos: number): Int32Array {
  const parts: number[][] = [];
  let total = 0;
  for (const d of docs) {
    const ids = tokenizer.encode(d.text, { addBos: false });
    parts.push(ids); total += ids.length + 2;
  }
  const out = new Int32Array(total);
  let o = 0;
  for (const ids of parts) { out[o++] = bos; out.set(ids, o); o += ids.length; out[o++] = eos; }
  return out;
}

export { answerText };

export { RECALL_MIN_LENGTH };

/**
 * A multi-query associative-recall sample (as MQAR, Arora et al. 2023, arXiv 2312.04927, with a gap): BOS, then P
 * records "key · filler · value · separator", then the same records again in a shuffled order as queries. Keys are
 * 1–2 and values 1–2 random token ids (distinct keys), the filler (`gap` tokens) and the separator are drawn once per
 * sample and shared by every record, as "is:" is by every needle of a multi-key haystack. Only the queries' value
 * tokens are targets. With gap 0 the value follows the key and plain induction (copy what followed the current
 * token) finds it; with a gap the tokens before every value are the same filler, so the model must carry the key
 * forward to the value's position and match on it: the second lookup that multi-key needles need. With
 * `queryGap` m > 0 every query also has m shared tokens between its key and the filler ("key · q · filler · value"),
 * so its key is m tokens further from the value than in the records, as a needle's question phrases its key
 * differently from the needle: the key must then be found by what surrounds it, not at a fixed distance. P is the most
 * records (and queries) that fit in `length` tokens (the sample may be a few tokens shorter than `length`), at most
 * the number of distinct keys (a small vocabulary with one-token keys makes a long sample shorter still).
 */
export function recallSample(rng: Rng, vocabSize: number, bos: number, length: number, gap: number, queryGap = 0): Sample {
  const lo = Math.min(3, vocabSize - 1); // above PAD/BOS/EOS in the project's tokenizers
  const draw = () => lo + rng.int(vocabSize - lo);
  const keyLen = 1 + rng.int(2), valueLen = 1 + rng.int(2), size = keyLen + gap + valueLen + 1;
  const filler = Array.from({ length: gap }, draw), sep = draw();
  const asked = Array.from({ length: queryGap }, draw);
  // As many records as fit, but no more than there are distinct keys (with a small vocabulary and one-token keys a
  // long sample fits more records than keys exist, and the search for another new key below would never end).
  const pairs = Math.min(Math.floor((length - 1) / (2 * size + queryGap)), Math.pow(vocabSize - lo, keyLen));
  if (!(pairs >= 1)) throw new Error(`data: a recall sample of ${length} tokens cannot hold a record of ${size} tokens and its query`);
  const seen = new Set<string>(), keys: number[][] = [], values: number[][] = [];
  while (keys.length < pairs) {
    const key = Array.from({ length: keyLen }, draw);
    const id = key.join(',');
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push(key);
    values.push(Array.from({ length: valueLen }, draw));
  }
  const seq = [bos];
  for (let i = 0; i < pairs; i++) seq.push(...keys[i]!, ...filler, ...values[i]!, sep);
  const order = keys.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const valueAt: number[] = [];
  for (const i of order) {
    seq.push(...keys[i]!, ...asked, ...filler);
    for (let v = 0; v < valueLen; v++) valueAt.push(seq.length + v);
    seq.push(...values[i]!, sep);
  }
  const n = seq.length - 1;
  const t = new Int32Array(n).fill(IGNORE);
  for (const j of valueAt) t[j - 1] = seq[j]!; // row j − 1 predicts seq[j]
  return { ids: Int32Array.from(seq.slice(0, n)), targets: t, kind: 'recall', source: queryGap ? `recall-gap${gap}-query${queryGap}` : `recall-gap${gap}` };
}

export class DataMixer {
  private readonly rng: Rng;
  private textCursor = 0;
  private taskIndex = 0;
  private epoch = 0;
  private readonly memo: SizingMemo = new Map();

  constructor(
    private readonly options: MixerOptions,
    private readonly stream: Int32Array,
    private readonly tokenizer: Tokenizer,
    private readonly bos: number,
    private readonly eos: number,
    private readonly maxLength: number,
  ) {
    checkArg('DataMixer', 'options', options, 'object', 'mixer options');
    if (!(stream instanceof Int32Array)) throw argError('DataMixer', 'stream', 'an Int32Array of corpus token ids', stream);
    checkArg('DataMixer', 'tokenizer', tokenizer, 'tokenizer');
    const o = options;
    const copyWeight = o.copyWeight ?? 0, recallWeight = o.recallWeight ?? 0;
    if (!(o.textWeight >= 0 && o.taskWeight >= 0 && copyWeight >= 0 && recallWeight >= 0 && o.textWeight + o.taskWeight + copyWeight + recallWeight > 0)) {
      throw new Error('data: textWeight, taskWeight, copyWeight and recallWeight must be ≥ 0 and not all 0');
    }
    if (recallWeight > 0) {
      if (this.recallLengths().length === 0) throw new Error('data: recallLengths is empty');
      for (const L of this.recallLengths()) if (!(Number.isInteger(L) && L >= RECALL_MIN_LENGTH && L <= maxLength)) throw new Error(`data: recall length ${L} must be an integer within ${RECALL_MIN_LENGTH}..${maxLength}`);
      for (const [field, what, gaps] of [['recallGaps', 'recall gap', o.recallGaps ?? DEFAULT_RECALL_GAPS], ['recallQueryGaps', 'recall query gap', o.recallQueryGaps ?? [0]]] as const) {
        if (gaps.length === 0) throw new Error(`data: ${field} is empty`);
        for (const g of gaps) if (!(Number.isInteger(g) && g >= 0 && g <= MAX_RECALL_GAP)) throw new Error(`data: ${what} ${g} must be an integer within 0..${MAX_RECALL_GAP}`);
      }
      const need = recallLengthFor(o.recallGaps ?? DEFAULT_RECALL_GAPS, o.recallQueryGaps ?? [0]);
      for (const L of this.recallLengths()) if (L < need) throw new Error(`data: recall length ${L} cannot hold a record and its query at the largest gaps (${need} tokens)`);
      if (tokenizer.vocabSize < 64) throw new Error('data: recall samples need a vocabulary of at least 64 tokens');
    }
    if (copyWeight > 0) {
      const lengths = o.copyLengths ?? o.textLengths;
      if (lengths.length === 0) throw new Error('data: copyLengths is empty');
      for (const L of lengths) if (!(Number.isInteger(L) && L >= COPY_MIN_LENGTH && L <= maxLength)) throw new Error(`data: copy length ${L} must be an integer within ${COPY_MIN_LENGTH}..${maxLength}`);
      if (stream.length < Math.max(...lengths) + 1) throw new Error(`data: the text stream (${stream.length} tokens) is shorter than the longest copy sample`);
    }
    if (o.textWeight > 0) {
      if (o.textLengths.length === 0) throw new Error('data: textLengths is empty');
      for (const L of o.textLengths) if (!(Number.isInteger(L) && L >= 2 && L <= maxLength)) throw new Error(`data: text length ${L} must be an integer within 2..${maxLength}`);
      if (stream.length < Math.max(...o.textLengths) + 1) throw new Error(`data: the text stream (${stream.length} tokens) is shorter than the longest text window`);
    }
    if (o.taskWeight > 0) {
      if (o.tasks.length === 0 || o.taskLengths.length === 0) throw new Error('data: tasks and taskLengths must be non-empty when taskWeight > 0');
      for (const t of o.tasks) getTask(t);
      for (const L of o.taskLengths) if (!(Number.isInteger(L) && L >= TASK_MIN_LENGTH && L <= maxLength)) throw new Error(`data: task length ${L} must be an integer within ${TASK_MIN_LENGTH}..${maxLength}`);
      this.checkTaskLengths();
    }
    this.rng = new Rng(`namm-train-mixer|${o.seed}`);
  }

  /**
   * Starts a new data phase at training step `step` (a resumed run whose data section changed): a fresh random
   * stream and task indices of its own (step × 10,000 up, so no phase repeats another's records), while the text
   * cursor carries on through the corpus from where the last phase left it.
   */
  startPhase(step: number, previous: MixerState): void {
    if (!(Number.isInteger(step) && step >= 0 && step * 10_000 < VALIDATION_INDEX_BASE)) throw new Error(`data: cannot start a phase at step ${step}`);
    this.rng.setState(new Rng(`namm-train-mixer|${this.options.seed}|phase-at-${step}`).getState());
    this.taskIndex = step * 10_000;
    this.textCursor = previous.textCursor < this.stream.length ? previous.textCursor : 0;
    this.epoch = previous.epoch;
    this.restoreMemo(previous);
  }

  getState(): MixerState {
    return { rng: this.rng.getState(), textCursor: this.textCursor, taskIndex: this.taskIndex, epoch: this.epoch, memo: [...this.memo] };
  }

  setState(s: MixerState): void {
    this.rng.setState(s.rng);
    this.textCursor = s.textCursor; this.taskIndex = s.taskIndex; this.epoch = s.epoch;
    this.restoreMemo(s);
  }

  private restoreMemo(s: MixerState): void {
    if (!s.memo) return;
    this.memo.clear();
    for (const [k, v] of s.memo) this.memo.set(k, v);
  }

  /** The next training sample. */
  next(): Sample {
    const o = this.options, copyWeight = o.copyWeight ?? 0, recallWeight = o.recallWeight ?? 0;
    const u = this.rng.float() * (o.textWeight + o.taskWeight + copyWeight + recallWeight);
    if (u >= o.textWeight + o.taskWeight + copyWeight) {
      const L = this.rng.pick(this.recallLengths()), gap = this.rng.pick(o.recallGaps ?? DEFAULT_RECALL_GAPS);
      // Drawn only when configured, so that configs without query gaps draw exactly as before they existed.
      const queryGap = o.recallQueryGaps ? this.rng.pick(o.recallQueryGaps) : 0;
      return recallSample(this.rng, this.tokenizer.vocabSize, this.bos, L, gap, queryGap);
    }
    if (u >= o.textWeight + o.taskWeight) return this.copySample();
    if (u < o.textWeight) {
      const L = this.rng.pick(o.textLengths);
      if (this.textCursor + L + 1 > this.stream.length) { this.textCursor = 0; this.epoch++; }
      const window = this.stream.subarray(this.textCursor, this.textCursor + L + 1);
      this.textCursor += L;
      return { ids: window.slice(0, L), targets: window.slice(1), kind: 'text', source: 'text' };
    }
    const task = this.rng.pick(o.tasks), length = this.rng.pick(o.taskLengths);
    // A record that cannot be sized within 1% of the length (kv_retrieval grows in whole key-value pairs) is
    // skipped for the next index: deterministic, and a long run never dies on one unlucky draw.
    return this.sizedTaskSample(task, length, () => this.taskIndex++, `task ${task}`, 'consecutive records');
  }

  /**
   * Every task must be sizable to every task length with this tokenizer. A length below a task's smallest prompt and
   * answer budget (112 tokens for passkey, 464 for niah_multikey_3 with the shipped Llama's tokenizer), or one whose
   * records all fail to size (a haystack's supply exhausted), failed only when that pair was first drawn, after every
   * sizing try: mid-run. Each pair is probed with up to MAX_SIZING_TRIES records of its own (a fresh sizing memo, so
   * the draws are untouched), and refused when none can be sized: a draw skips a record that cannot (a record's
   * smallest prompt varies a little with its content), but a length most records miss would sooner or later meet that
   * many in a row.
   */
  private checkTaskLengths(): void {
    const o = this.options;
    for (const task of new Set(o.tasks)) {
      for (const length of new Set(o.taskLengths)) {
        for (let k = 0; k < MAX_SIZING_TRIES; k++) {
          try {
            generateRecord({ task, length, tokenizer: this.tokenizer, seed: TRAIN_SEED_BASE + o.seed, index: VALIDATION_INDEX_BASE - 1 - k, memo: new Map() });
            break;
          } catch (err) {
            if (k + 1 < MAX_SIZING_TRIES) continue;
            if (err instanceof LengthTooSmallError) throw new Error(`data.taskLengths: ${length} tokens cannot hold a ${task} sample with this tokenizer (${err.message}); raise the task length or drop the task`);
            throw new Error(`data.taskLengths: no ${task} sample of ${MAX_SIZING_TRIES} could be sized to ${length} tokens with this tokenizer (${(err as Error).message}); choose another task length or drop the task`);
          }
        }
      }
    }
  }

  /** The first of up to MAX_SIZING_TRIES records (index(attempt) for attempt = 0, 1, …) that can be sized. */
  private sizedTaskSample(task: string, length: number, index: (attempt: number) => number, what: string, records: string): Sample {
    for (let attempt = 0; ; attempt++) {
      try {
        return this.taskSample(task, length, index(attempt));
      } catch (err) {
        if (attempt + 1 >= MAX_SIZING_TRIES) throw new Error(`data: ${what} could not be sized to ${length} tokens in ${MAX_SIZING_TRIES} ${records} (${(err as Error).message})`);
      }
    }
  }

  private recallLengths(): number[] {
    const o = this.options;
    return o.recallLengths ?? o.copyLengths ?? o.textLengths;
  }

  /** BOS + one segment repeated up to the drawn length; the segment is a text window or random ids. */
  private copySample(): Sample {
    const o = this.options, L = this.rng.pick(o.copyLengths ?? o.textLengths);
    const period = 8 + this.rng.int(Math.floor(L / 2) - 7);
    const segment = new Int32Array(period);
    if (this.rng.float() < 0.5) {
      if (this.textCursor + period > this.stream.length) { this.textCursor = 0; this.epoch++; }
      segment.set(this.stream.subarray(this.textCursor, this.textCursor + period));
      this.textCursor += period;
    } else {
      // Ids above the special tokens: 0..2 are PAD/BOS/EOS in the project's tokenizers, and byte tokens follow.
      const lo = Math.min(3, this.tokenizer.vocabSize - 1);
      for (let i = 0; i < period; i++) segment[i] = lo + this.rng.int(this.tokenizer.vocabSize - lo);
    }
    const seq = new Int32Array(L + 1);
    seq[0] = this.bos;
    for (let i = 1; i <= L; i++) seq[i] = segment[(i - 1) % period]!;
    return { ids: seq.slice(0, L), targets: seq.slice(1), kind: 'copy', source: 'copy' };
  }

  /** A task sample with an explicit index (validation uses indices ≥ VALIDATION_INDEX_BASE). */
  taskSample(task: string, length: number, index: number): Sample {
    // The record is sized so that prompt + max new tokens ≈ length; BOS and EOS fit in the difference between
    // the real answer and maxNewTokens (answers are much shorter than the generation budget).
    const record = generateRecord({ task, length, tokenizer: this.tokenizer, seed: TRAIN_SEED_BASE + this.options.seed, index, memo: this.memo });
    const prompt = this.tokenizer.encode(buildPrompt(record), { addBos: false });
    const answer = this.tokenizer.encode(answerText(record.answers), { addBos: false });
    let seq = [this.bos, ...prompt, ...answer, this.eos];
    if (seq.length > this.maxLength + 1) seq = seq.slice(seq.length - this.maxLength - 1);
    const n = seq.length - 1;
    const ids = Int32Array.from(seq.slice(0, n)), targets = Int32Array.from(seq.slice(1));
    if (this.options.lossOn === 'answer') {
      // Row t predicts seq[t+1]; keep the rows that predict answer tokens and the EOS.
      const firstAnswerRow = n - answer.length - 1;
      targets.fill(IGNORE, 0, Math.max(0, firstAnswerRow));
    }
    return { ids, targets, kind: 'task', source: task };
  }

  /** Fixed validation samples: text windows from the held-out stream, tasks at validation indices. */
  static validationSamples(mixer: DataMixer, heldOut: Int32Array, count: number): Sample[] {
    const o = mixer.options, out: Sample[] = [];
    const rng = new Rng(`namm-train-validation|${o.seed}`);
    let taskSamples = 0;  // task samples so far: every task in turn (they alternate with text windows)
    for (let i = 0; i < count; i++) {
      const useText = o.taskWeight === 0 || (o.textWeight > 0 && i % 2 === 0);
      if (useText) {
        const L = Math.min(Math.max(...o.textLengths), heldOut.length - 1);
        const start = rng.int(Math.max(1, heldOut.length - L - 1));
        const w = heldOut.subarray(start, start + L + 1);
        out.push({ ids: w.slice(0, L), targets: w.slice(1), kind: 'text', source: 'text' });
      } else {
        // As in training, a record that cannot be sized is skipped for another index: i + count·k, which no other
        // validation sample uses.
        const task = o.tasks[taskSamples++ % o.tasks.length]!;
        out.push(mixer.sizedTaskSample(task, rng.pick(o.taskLengths), (k) => VALIDATION_INDEX_BASE + i + count * k, `validation task ${task}`, 'records'));
      }
    }
    return out;
  }
}
