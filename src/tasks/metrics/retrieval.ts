import { checkPredictionAndGold } from './choice.js';
import { digitRuns } from './python-string.js';

/**
 * LongBench `retrieval_score` / `retrieval_zh_score` / `count_score`: the share of the digit runs (`\d+`, Unicode
 * digits) of the prediction that equal the gold number as strings; 0 when the prediction has no digits.
 */
function shareOfRunsEqualTo(prediction: string, goldNumber: string): number {
  const runs = digitRuns(prediction);
  if (runs.length === 0) return 0.0;
  return runs.filter((run) => run === goldNumber).length / runs.length;
}

function goldParagraphId(gold: string, pattern: RegExp, metric: string): string {
  const match = pattern.exec(gold);
  if (!match) throw new Error(`${metric}: the gold answer ${JSON.stringify(gold)} has no ${pattern.source} (the official code fails on it too)`);
  return match[1]!;
}

/** passage_retrieval_en: the gold id is the first `Paragraph (\d+)` of the gold answer. */
export function retrievalScore(prediction: string, gold: string): number {
  checkPredictionAndGold('retrievalScore', prediction, gold);
  return shareOfRunsEqualTo(prediction, goldParagraphId(gold, /Paragraph (\p{Nd}+)/u, 'retrieval'));
}

/** passage_retrieval_zh: the gold id is the first `段落(\d+)` of the gold answer. */
export function retrievalZhScore(prediction: string, gold: string): number {
  checkPredictionAndGold('retrievalZhScore', prediction, gold);
  return shareOfRunsEqualTo(prediction, goldParagraphId(gold, /段落(\p{Nd}+)/u, 'retrieval_zh'));
}

/** passage_count: the gold answer is the count itself. */
export function countScore(prediction: string, gold: string): number {
  checkPredictionAndGold('countScore', prediction, gold);
  return shareOfRunsEqualTo(prediction, gold);
}
