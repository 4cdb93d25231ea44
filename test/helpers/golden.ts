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

/** Logits at every position of `ids`: a prefill of the first `prefillTo` tokens in chunks of 4, then one token at a time. */
export function prefillThenDecode(model: Model, ids: readonly number[], prefillTo: number): Float32Array {
  const V = model.config.vocabSize;
  const s = model.createSessionWith(null, { chunkSize: 4 });
  const all = new Float32Array(ids.length * V);
  all.set(s.prefill(ids.slice(0, prefillTo), { logits: 'all' }));
  for (let t = prefillTo; t < ids.length; t++) all.set(s.decode(ids[t]!), t * V);
  return all;
}

/**
 * The largest |got − want| over the rows `positions` of `got` (`[n, V]`), `want` holding those rows in order, and
 * where it is.
 */
export function worstAtPositions(got: Float32Array, want: Float32Array, positions: readonly number[], V: number): [number, string] {
  let worst = 0, at = '';
  positions.forEach((p, k) => {
    for (let j = 0; j < V; j++) {
      const d = Math.abs(got[p * V + j]! - want[k * V + j]!);
      if (!(d <= worst)) { worst = d; at = `position ${p}, token ${j}`; }
    }
  });
  return [worst, at];
}
