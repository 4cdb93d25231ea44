import { checkPredictionAndGold } from './choice.js';
import { jiebaCut } from './jieba.js';
import { ROUGE_ZH_MAX_BACKTRACK_CALLS, rougeBacktrackLimit, rougeScore, type RougeOptions } from './rouge.js';

/** LongBench `rouge_zh_score`: both texts cut by jieba and joined by spaces (`，` and `。` become words), then rouge. */
export function rougeZhScore(prediction: string, gold: string, options: RougeOptions = {}): number {
  checkPredictionAndGold('rougeZhScore', prediction, gold);
  const maxBacktrackCalls = rougeBacktrackLimit(options, ROUGE_ZH_MAX_BACKTRACK_CALLS);
  const spaced = (text: string) => jiebaCut(text).join(' ');
  return rougeScore(spaced(prediction), spaced(gold), { maxBacktrackCalls });
}
