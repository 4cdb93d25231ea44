/** Next-token choice: greedy, or temperature / top-k / top-p sampling from a seeded generator. */
import { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** Always take the most likely token (ties: the lowest id). Default when temperature is 0 or unset. */
  greedy?: boolean;
  /** Softmax temperature (> 0) for sampling. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /**
   * Keep the smallest set of most likely tokens whose probability reaches p (1 = off): a token stays when the tokens
   * above it hold less than p, as HF's top-p; tokens tied with the last one kept stay too.
   */
  topP?: number;
  seed?: number;
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) throw new RangeError(`temperature must be a finite number ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new RangeError(`topK must be an integer ≥ 0, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${o.topP}`);
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new RangeError(`seed must be an integer (at most 2^53 − 1 in size), got ${o.seed}`);
}

/**
 * Index of the largest logit (the first of ties). A NaN is refused: it compares false with everything, so it used to
 * be skipped, and a model whose logits were all NaN (broken weights, an overflow) decoded token 0 over and over.
 */
export function argmax(logits: Float32Array): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > bv) { bv = v; best = i; } else if (v !== v) throw new RangeError(`greedy decoding: logits hold NaN (at ${i}); nothing to choose from`);
  }
  // Token 0 came back for no logits at all, or all −∞ (every token masked), as though it had been chosen.
  if (bv === -Infinity) throw new RangeError(logits.length === 0 ? 'greedy decoding: no logits to choose from' : 'greedy decoding: every logit is −∞ (every token masked); nothing to choose from');
  return best;
}

export class Sampler {
  private rng: Rng;
  private readonly greedy: boolean;

  constructor(private readonly o: SamplingOptions = {}) {
    validateSampling(o);
    this.rng = new Rng(o.seed ?? 0);
    this.greedy = o.greedy === true || !o.temperature;
  }

  next(logits: Float32Array): number {
    if (this.greedy) return argmax(logits);
    const t = this.o.temperature!;
    const n = logits.length;
    // Every logit, not just the largest after the sort: a NaN makes the comparator inconsistent, so it may sort
    // anywhere, and its probability (NaN) made the draw fall through to the last token kept.
    for (let i = 0; i < n; i++) {
      if (!(logits[i]! < Infinity)) throw new RangeError(`sampling: logits hold +Infinity or NaN (${logits[i]} at ${i}); nothing to sample from`);
    }
    let order = Array.from({ length: n }, (_, i) => i);
    let k = this.o.topK && this.o.topK < n ? this.o.topK : n;
    order.sort((a, b) => logits[b]! - logits[a]! || a - b);
    // Tokens tied with the k-th stay in, as HF's top-k keeps every logit ≥ the k-th largest.
    while (k < n && logits[order[k]!] === logits[order[k - 1]!]) k++;
    order = order.slice(0, k);
    const max = logits[order[0]!]!;
    // exp(−∞ − (−∞)) is NaN, and the draw below then fell through to the least likely token kept.
    if (!(max > -Infinity)) throw new RangeError('sampling: every logit is −Infinity; nothing to sample from');
    const probs = order.map((i) => Math.exp((logits[i]! - max) / t));
    let sum = probs.reduce((a, b) => a + b, 0);
    const p = this.o.topP ?? 1;
    let keep = probs.length;
    if (p < 1) {
      let acc = 0;
      for (let i = 0; i < probs.length; i++) { acc += probs[i]! / sum; if (acc >= p) { keep = i + 1; break; } }
      // Tokens tied with the last one kept stay in too, as with top-k: which of equal logits made the cut would
      // otherwise depend on token ids (HF sorts them in no defined order).
      while (keep < probs.length && probs[keep] === probs[keep - 1]) keep++;
      sum = probs.slice(0, keep).reduce((a, b) => a + b, 0);
    }
    let u = this.rng.float() * sum;
    let lastPositive = 0;
    for (let i = 0; i < keep; i++) {
      if (probs[i]! > 0) lastPositive = i;
      u -= probs[i]!;
      if (u < 0) return order[i]!;
    }
    // Rounding (u within an ulp of the sum): the last token that can be drawn, never one of probability 0 (a stop
    // token minNewTokens masked to −∞, say).
    return order[lastPositive]!;
  }
}
