import { pythonRound } from './python-round.js';

/**
 * Task score from per-sample scores in [0, 1], rounded to 2 decimals half to even as Python's `round` does.
 * LongBench (`scorer` in eval.py) computes `round(100 * total / n, 2)`; RULER computes `round(total / n * 100, 2)`;
 * the two orders can differ in the last bit, which can move a tie, so each family keeps its own.
 */
export function taskScore(sampleScores: readonly number[], formula: 'longbench' | 'ruler' = 'longbench'): number {
  if (!Array.isArray(sampleScores) && !ArrayBuffer.isView(sampleScores)) throw new TypeError('taskScore: sample scores must be an array of numbers');
  if (sampleScores.length === 0) throw new Error('taskScore: no samples to average');
  if (formula !== 'longbench' && formula !== 'ruler') throw new RangeError(`taskScore: formula must be "longbench" or "ruler", got ${String(formula)}`);
  // Per-sample scores are fractions in [0, 1]: a string concatenated ("1" + "0" gave 500), 5 gave 500, NaN passed on.
  for (let i = 0; i < sampleScores.length; i++) {
    const v = sampleScores[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`taskScore: sample ${i} scored ${String(v)}; per-sample scores are numbers in [0, 1]`);
  }
  let total = 0;
  for (const score of sampleScores) total += score;
  const n = sampleScores.length;
  return pythonRound(formula === 'ruler' ? (total / n) * 100 : (100 * total) / n, 2);
}
