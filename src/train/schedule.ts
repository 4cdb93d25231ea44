/** Learning-rate schedule: linear warm-up to the peak, then a half cosine down to the minimum at the last step. */

export interface LrSchedule {
  peak: number;
  min: number;
  warmupSteps: number;
  totalSteps: number;
}

/** The learning rate of optimizer step `step` (0-based). Constant at `min` past the end. */
export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const span = s.totalSteps - s.warmupSteps;
  if (span <= 0) return s.peak;
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.min + 0.5 * (s.peak - s.min) * (1 + Math.cos(Math.PI * progress));
}
