import { pythonRound } from './python-round.js';

/**
 * Task score from per-sample scores in [0, 1], rounded to 2 decimals half to even as Python's `round` does.
 * LongBench (`scorer` in eval.py) computes `round(100 * total / n, 2)`; RULER computes `round(total / n * 100, 2)`;
 * the two orders can differ in the last bit, which can move a tie, so each family keeps its own.
 */
export function taskScore(sampleScores: readonly number[], formula: 'longbench' | 'ruler' = 'longbench'): number {
  if (sampleScores.length === 0) throw new Error('taskScore: no samples to average');
  let total = 0;
  for (const score of sampleScores) total += score;
  const n = sampleScores.length;
  return pythonRound(formula === 'ruler' ? (total / n) * 100 : (100 * total) / n, 2);
}
