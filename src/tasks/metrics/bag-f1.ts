/**
 * Token F1 over bags (multisets) of tokens, as LongBench's `f1_score`: the overlap counts each token at most as often
 * as it occurs on both sides. No shared token gives 0, even when both sides are empty.
 */
export function bagF1(predictionTokens: readonly string[], goldTokens: readonly string[]): number {
  const goldCounts = new Map<string, number>();
  for (const token of goldTokens) goldCounts.set(token, (goldCounts.get(token) ?? 0) + 1);
  let shared = 0;
  for (const token of predictionTokens) {
    const left = goldCounts.get(token) ?? 0;
    if (left > 0) { shared++; goldCounts.set(token, left - 1); }
  }
  if (shared === 0) return 0;
  const precision = shared / predictionTokens.length;
  const recall = shared / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}
