/** Next-token choice: greedy, or temperature / top-k / top-p sampling from a seeded generator. */
import { Rng } from '../util/rng.js';
import { kthSmallest } from '../util/select.js';
import { checkOptionKeys, showValue } from '../util/show.js';
import { argError } from '../util/args.js';

export interface SamplingOptions {
  /**
   * Always take the most likely token (ties: the lowest id); the default when temperature is 0 or unset. `false`
   * samples (at temperature 1 unless one is given), as transformers' `do_sample=True`.
   */
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
  /** Seed of the draw; without one, each call draws from a seed of its own (not reproducible). */
  seed?: number;
}

export function validateSampling(o: SamplingOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError(`sampling options must be an object, got ${showValue(o)}`);
  checkOptionKeys(o, SAMPLING_OPTION_KEYS, 'Sampler');
  if (o.greedy !== undefined && typeof o.greedy !== 'boolean') throw new TypeError(`greedy must be true or false, got ${showValue(o.greedy)}`);
  // Numbers only: '0.5' and [0.5] passed top-p's comparisons as 0.5, and true as 1.
  const isNumber = (v: unknown): v is number => typeof v === 'number';
  if (o.temperature !== undefined && !(isNumber(o.temperature) && o.temperature >= 0 && Number.isFinite(o.temperature))) throw new RangeError(`temperature must be a finite number ≥ 0, got ${showValue(o.temperature)}`);
  if (o.topK !== undefined && !(isNumber(o.topK) && Number.isInteger(o.topK) && o.topK >= 0)) throw new RangeError(`topK must be an integer ≥ 0, got ${showValue(o.topK)}`);
  if (o.topP !== undefined && !(isNumber(o.topP) && o.topP > 0 && o.topP <= 1)) throw new RangeError(`topP must be a number in (0, 1], got ${showValue(o.topP)}`);
  if (o.seed !== undefined && !(isNumber(o.seed) && Number.isSafeInteger(o.seed))) throw new RangeError(`seed must be an integer (at most 2^53 − 1 in size), got ${showValue(o.seed)}`);
  // Contradictions: one of the two was ignored without a word (greedy decoding at a temperature, as the CLI refuses
  // --greedy with -t; or sampling asked for with a temperature that means greedy).
  if (o.greedy === true && (o.temperature ?? 0) > 0) throw new RangeError(`greedy: true ignores temperature=${o.temperature}; drop one (a temperature > 0 samples)`);
  if (o.greedy === false && o.temperature === 0) throw new RangeError('greedy: false asks for sampling, and temperature 0 is greedy decoding; drop one');
}

/** The options a Sampler reads (generate's take these and its own). */
export const SAMPLING_OPTION_KEYS = ['greedy', 'temperature', 'topK', 'topP', 'seed'] as const;

/**
 * Index of the largest logit (the first of ties). A NaN is refused: it compares false with everything, so it used to
 * be skipped, and a model whose logits were all NaN (broken weights, an overflow) decoded token 0 over and over.
 */
export function argmax(logits: Float32Array): number {
  if (!ArrayBuffer.isView(logits) && !Array.isArray(logits)) throw argError('argmax', 'logits', 'a Float32Array of logits', logits);
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
  private readonly temperature: number;
  /** Reused between tokens: weights of every token, the candidates' ids, a copy of the logits for the top-k select. */
  private weights = new Float64Array(0);
  private cand = new Int32Array(0);
  private scratch = new Float64Array(0);

  /**
   * Without a seed every Sampler draws a seed of its own (as an unseeded torch generator does), so two calls, or
   * two forks of one session, sample independently; give `seed` for a reproducible draw. (The seed defaulted to 0:
   * every call and every fork drew the same "samples".)
   */
  constructor(private readonly o: SamplingOptions = {}) {
    validateSampling(o);
    this.greedy = o.greedy === true || (o.greedy !== false && !o.temperature);
    this.temperature = o.temperature || 1;
    // top-k and top-p shape a sampling distribution; greedy decoding silently ignored them.
    if (this.greedy && ((o.topK ?? 0) > 0 || (o.topP ?? 1) < 1)) {
      const given = [(o.topK ?? 0) > 0 ? `topK=${o.topK}` : '', (o.topP ?? 1) < 1 ? `topP=${o.topP}` : ''].filter(Boolean).join(' and ');
      throw new RangeError(`${given} only shape sampling: give a temperature > 0${o.greedy === true ? ' instead of greedy' : ''} (greedy decoding would ignore ${(o.topK ?? 0) > 0 && (o.topP ?? 1) < 1 ? 'them' : 'it'})`);
    }
    this.rng = new Rng(o.seed ?? randomSeed());
  }

  /**
   * Options that sample as this sampler's do (what a continuation compares): the values in effect, so that a default
   * written out (topK: 0, topP: 1, greedy: false with a temperature) is the same as one left out.
   */
  sameOptions(o: SamplingOptions): boolean {
    const greedy = o.greedy === true || (o.greedy !== false && !o.temperature);
    if (greedy !== this.greedy) return false;
    if (greedy) return true;
    return (o.temperature || 1) === this.temperature && (o.topK ?? 0) === (this.o.topK ?? 0) && (o.topP ?? 1) === (this.o.topP ?? 1) && o.seed === this.o.seed;
  }

  /**
   * A sampler with the same options for a forked session: a seeded one's random stream goes on from where this one's
   * stands (the seed asked for a reproducible draw); an unseeded one draws a seed of its own, as every unseeded
   * sampler does, so that forks continuing a generation that stopped by length sample independently (they drew
   * the same tokens: best-of-n from a common prefix gave n copies).
   */
  clone(): Sampler {
    const copy = new Sampler(this.o);
    if (this.o.seed !== undefined) copy.rng.setState(this.rng.getState());
    return copy;
  }

  next(logits: Float32Array): number {
    if (this.greedy) return argmax(logits);
    const t = this.temperature;
    const n = logits.length;
    let max = -Infinity;
    // Every logit: a NaN or +∞ would make the weights NaN, and the draw below fell through to the last token.
    for (let i = 0; i < n; i++) {
      const v = logits[i]!;
      if (!(v < Infinity)) throw new RangeError(`sampling: logits hold +Infinity or NaN (${v} at ${i}); nothing to sample from`);
      if (v > max) max = v;
    }
    // exp(−∞ − (−∞)) is NaN, and the draw then fell through to the least likely token kept.
    if (!(max > -Infinity)) throw new RangeError('sampling: every logit is −Infinity; nothing to sample from');
    if (this.weights.length < n) { this.weights = new Float64Array(n); this.cand = new Int32Array(n); }
    const w = this.weights;
    const topK = this.o.topK && this.o.topK < n ? this.o.topK : 0;
    const p = this.o.topP ?? 1;
    let total = 0;
    for (let i = 0; i < n; i++) total += w[i] = Math.exp((logits[i]! - max) / t);
    if (topK === 0 && p >= 1) return this.draw(w, null, n, total);
    // The candidates, in one linear pass: with top-k, every token at or above the k-th largest logit (the tokens
    // tied with it stay in, as HF's top-k keeps every logit ≥ the k-th); with top-p alone, every token whose weight
    // is at least (1 − p)/(2n) of the total: those below hold less than (1 − p)/2 together, so the most likely
    // tokens reach p before any of them would be needed. Only the candidates are sorted (the whole vocabulary was).
    const cand = this.cand;
    let m = 0;
    if (topK > 0) {
      const kth = this.kthLargest(logits, topK);
      for (let i = 0; i < n; i++) if (logits[i]! >= kth) cand[m++] = i;
    } else {
      const floor = ((1 - p) / (2 * n)) * total;
      for (let i = 0; i < n; i++) if (w[i]! >= floor) cand[m++] = i;
    }
    const order = cand.subarray(0, m).sort((a, b) => logits[b]! - logits[a]! || a - b);
    let sum = 0;
    if (topK > 0) for (let i = 0; i < m; i++) sum += w[order[i]!]!;
    else sum = total;
    let keep = m;
    if (p < 1) {
      // A token stays while the tokens above it hold less than p (of the top-k's mass with top-k, as HF applies
      // top-p after top-k), and so does every token tied with the last one kept: which of equal logits made the cut
      // would otherwise depend on token ids (HF sorts them in no defined order).
      let acc = 0;
      for (let i = 0; i < m; i++) { acc += w[order[i]!]! / sum; if (acc >= p) { keep = i + 1; break; } }
      while (keep < m && w[order[keep]!] === w[order[keep - 1]!]) keep++;
      sum = 0;
      for (let i = 0; i < keep; i++) sum += w[order[i]!]!;
    }
    return this.draw(w, order, keep, sum);
  }

  /** One token drawn with probability w[id]/sum over ids = order[0..count) (or 0..count when order is null). */
  private draw(w: Float64Array, order: Int32Array | null, count: number, sum: number): number {
    let u = this.rng.float() * sum;
    let lastPositive = 0;
    for (let i = 0; i < count; i++) {
      const id = order ? order[i]! : i;
      if (w[id]! > 0) lastPositive = id;
      u -= w[id]!;
      if (u < 0) return id;
    }
    // Rounding (u within an ulp of the sum): the last token that can be drawn, never one of probability 0 (a stop
    // token minNewTokens masked to −∞, say).
    return lastPositive;
  }

  /** The k-th largest of the logits (1-based), by quickselect on a reused float64 copy: O(n) where a sort is O(n log n). */
  private kthLargest(logits: Float32Array, k: number): number {
    const n = logits.length;
    if (this.scratch.length < n) this.scratch = new Float64Array(n);
    const a = this.scratch.subarray(0, n);
    a.set(logits);
    return kthSmallest(a, n - k);
  }
}

/** A seed for an unseeded sampler: 53 random bits from the platform's generator (Node and browsers alike). */
function randomSeed(): number {
  const u = new Uint32Array(2);
  globalThis.crypto.getRandomValues(u);
  return (u[0]! & 0x1fffff) * 2 ** 32 + u[1]!;
}
