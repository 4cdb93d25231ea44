/** The TinyStories-656K test model's golden greedy continuation of its BOS token (SOURCE.md), and a greedy decoder. */
import type { Model } from '../../src/models/model.js';

export const GOLDEN_FROM_BOS = [147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385];

/** The model's greedy ids after its BOS token (id 1), as many as the golden list holds, with the full cache. */
export function greedyFromBos(model: Model, n = GOLDEN_FROM_BOS.length): number[] {
  const session = model.createSessionWith(null);
  let logits = session.prefill([1]);
  const ids: number[] = [];
  while (ids.length < n) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    ids.push(best);
    logits = session.decode(best);
  }
  return ids;
}
