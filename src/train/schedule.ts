/**
 * Learning-rate schedule: linear warm-up to the peak, then a half cosine down to the minimum. With 0-based steps the
 * peak comes at step warmupSteps − 1 and again at warmupSteps (the cosine's start), and the cosine reaches the
 * minimum at step totalSteps, one past the last, so the last step runs just above it (1.22·10⁻⁴ for a peak of
 * 10⁻³, a minimum of 10⁻⁴ and 10 of 20 steps after warm-up). Kept so, as every shipped model was trained with it.
 */
import { checkArg } from '../util/args.js';
import { checkOptionKeys } from '../util/show.js';

export interface LrSchedule {
  peak: number;
  min: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate of optimizer step `step` (0-based). Constant at `min` past the end. */
export function learningRate(s: LrSchedule, step: number): number {
  checkArg('learningRate', 's', s, 'object', 'a schedule { peak, min, warmupSteps, totalSteps }');
  checkOptionKeys(s, ['peak', 'min', 'warmupSteps', 'totalSteps'], 'learningRate');
  for (const k of ['peak', 'min'] as const) checkArg('learningRate', `s.${k}`, s[k], 'finite');
  for (const k of ['warmupSteps', 'totalSteps'] as const) checkArg('learningRate', `s.${k}`, s[k], 'count');
  checkArg('learningRate', 'step', step, 'count');
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const span = s.totalSteps - s.warmupSteps;
  if (span <= 0) return s.peak;
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.min + 0.5 * (s.peak - s.min) * (1 + Math.cos(Math.PI * progress));
}
