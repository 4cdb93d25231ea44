/**
 * ROUGE-L F as the `rouge` 1.0.1 package (pltrdy) computes it inside LongBench's `rouge_score`, which is not
 * textbook ROUGE-L:
 * - no lower-casing or punctuation removal; every ASCII `.` ends a sentence (also in `U.S.` and `3.5`), and a piece
 *   is kept when it is non-empty before its whitespace is collapsed (so `" "` is a sentence with one empty word);
 *   words are the pieces of `sentence.split(" ")`;
 * - summary-level union LCS in which everything is counted over distinct words: m and n are the numbers of distinct
 *   reference and hypothesis words, and the LCS words of every (reference sentence, hypothesis sentence) pair are
 *   united into one set of word types;
 * - the LCS backtrack steps up only when `table[i-1][j] > table[i][j-1]`, else left (x = reference sentence,
 *   y = hypothesis sentence), which decides which words the LCS contributes;
 * - F = 2PR / (P + R + 1e-8), so identical texts score 0.999999995;
 * - any exception gives 0: an empty hypothesis or reference, one made only of periods, and, in the official setup,
 *   a backtrack deeper than Python's recursion limit allows (991 calls).
 */
import { checkOptionsObject, checkPredictionAndGold, showValue } from './choice.js';
import { collapseWhitespace } from './python-string.js';
import { checkArg } from '../../util/args.js';

/**
 * Deepest LCS backtrack (in recursive calls) that LongBench's eval.py, run as a script (`python eval.py --model M`:
 * the scorer called from module level), survives under Python's limit of 1000 frames.
 */
export const ROUGE_MAX_BACKTRACK_CALLS = 991;
/** rouge_zh goes through one more Python frame (`rouge_zh_score` → `rouge_score`). */
export const ROUGE_ZH_MAX_BACKTRACK_CALLS = 990;

export interface RougeOptions {
  /**
   * Most recursive backtrack calls allowed before the score becomes 0, as Python's swallowed RecursionError makes
   * it (default: {@link ROUGE_MAX_BACKTRACK_CALLS}); `Infinity` computes the corrected value.
   */
  maxBacktrackCalls?: number;
}

/**
 * The backtrack limit of `options` (`fallback` when absent); refuses options that are not an object, keys other
 * than maxBacktrackCalls, and a limit that is neither an integer ≥ 0 nor Infinity (NaN would never fail).
 */
export function rougeBacktrackLimit(options: RougeOptions, fallback: number): number {
  checkOptionsObject('rouge options', options);
  for (const key in options) {
    if (key !== 'maxBacktrackCalls') throw new RangeError(`unknown rouge option ${JSON.stringify(key)} (expected: maxBacktrackCalls)`);
  }
  const limit = options.maxBacktrackCalls;
  if (limit === undefined) return fallback;
  if (typeof limit !== 'number' || !(Number.isSafeInteger(limit) && limit >= 0 || limit === Infinity)) {
    throw new RangeError(`rouge option maxBacktrackCalls must be an integer ≥ 0 or Infinity, got ${showValue(limit)}`);
  }
  return limit;
}

/** `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]`. */
export function rougeSentences(text: string): string[] {
  checkArg('rougeSentences', 'text', text, 'string');
  return text.split('.').filter((piece) => piece.length > 0).map(collapseWhitespace);
}

class RougeFailure extends Error {}

/** LongBench `rouge_score(prediction, gold)`: ROUGE-L F of rouge 1.0.1, or 0 where the official code fails. */
export function rougeScore(prediction: string, gold: string, options: RougeOptions = {}): number {
  checkPredictionAndGold('rougeScore', prediction, gold);
  const maxBacktrackCalls = rougeBacktrackLimit(options, ROUGE_MAX_BACKTRACK_CALLS);
  try {
    return rougeLSummaryLevel(rougeSentences(prediction), rougeSentences(gold), maxBacktrackCalls);
  } catch (error) {
    if (error instanceof RougeFailure) return 0;
    throw error;
  }
}

function rougeLSummaryLevel(hypothesis: string[], reference: string[], maxBacktrackCalls: number): number {
  if (hypothesis.length === 0 || reference.length === 0) throw new RougeFailure('Collections must contain at least 1 sentence.');
  const hypothesisWords = hypothesis.map((sentence) => sentence.split(' '));
  const referenceWords = reference.map((sentence) => sentence.split(' '));
  const m = new Set(referenceWords.flat()).size;
  const n = new Set(hypothesisWords.flat()).size;
  const union = new Set<string>();
  for (const x of referenceWords) {
    for (const y of hypothesisWords) {
      for (const word of lcsWords(x, y, maxBacktrackCalls)) union.add(word);
    }
  }
  const lcs = union.size;
  const recall = lcs / m;
  const precision = lcs / n;
  return 2.0 * ((precision * recall) / (precision + recall + 1e-8));
}

/** The words of rouge 1.0.1's `_recon_lcs(x, y)`, with its tie-break, failing where its recursion would. */
function lcsWords(x: readonly string[], y: readonly string[], maxBacktrackCalls: number): string[] {
  const rows = x.length + 1, cols = y.length + 1;
  const table = new Int32Array(rows * cols);
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      table[i * cols + j] = x[i - 1] === y[j - 1]
        ? table[(i - 1) * cols + j - 1]! + 1
        : Math.max(table[(i - 1) * cols + j]!, table[i * cols + j - 1]!);
    }
  }
  const words: string[] = [];
  let i = x.length, j = y.length, calls = 1;
  while (i > 0 && j > 0) {
    if (x[i - 1] === y[j - 1]) { words.push(x[i - 1]!); i--; j--; }
    else if (table[(i - 1) * cols + j]! > table[i * cols + j - 1]!) i--;
    else j--;
    calls++;
  }
  if (calls > maxBacktrackCalls) throw new RougeFailure('maximum recursion depth exceeded');
  return words;
}
