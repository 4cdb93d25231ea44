/**
 * Sizing a generated prompt to a target length in the model's own tokens.
 *
 * A task renders its prompt from a haystack of n units; the goal is the largest n whose full prompt (the filled
 * template, BOS included as the tokenizer adds it) plus the task's new tokens fits the target. RULER binary-searches
 * n, tokenising the whole prompt at every step. Tokenising a 16K-token prompt takes about half a second with a
 * tokenizer that has no pre-tokenizer, so instead each step predicts n from a cheap monotone proxy of the haystack
 * size (the sum of its units' own token counts, or simply n) scaled by a measured tokens-per-proxy rate, then
 * measures that one prompt exactly. The rate carries over between records of a run: where units tokenise
 * independently (tokenizers with a pre-tokenizer) most records need one full tokenisation, elsewhere two or three.
 * The bracket [largest n that fits, smallest n that does not] keeps the search exact and finite.
 */
import type { Tokenizer } from '../../models/types.js';
import { checkArg } from '../../util/args.js';
import { showValue } from '../../util/show.js';

/** Accept a prompt once prompt + new tokens is within this fraction below the target. */
export const LENGTH_TOLERANCE = 0.01;
/** Size of the first, calibrating step when no rate is known yet (cheap to tokenise, long enough to average). */
const PROBE_TOKENS = 1500;

export interface PromptParts { context: string; input: string }

/** Fills `{context}` and `{input}` in one pass, so braces inside the context are never touched. */
export function fillTemplate(template: string, parts: PromptParts): string {
  checkArg('fillTemplate', 'template', template, 'string');
  checkArg('fillTemplate', 'parts', parts, 'object', 'the prompt parts { context, input }');
  return template.replace(/\{context\}|\{input\}/g, (m) => {
    const key = m === '{context}' ? 'context' : 'input';
    const value = parts[key];
    if (typeof value !== 'string') throw new TypeError(`fillTemplate: the template has ${m} but parts.${key} is ${showValue(value)}`);
    return value;
  });
}

/** Tokens-per-proxy rates learnt by earlier records of one run, by task. */
export type SizingMemo = Map<string, number>;

export interface FitOptions {
  task: string;
  tokenizer: Tokenizer;
  template: string;
  /** Target total length: prompt tokens + maxNewTokens. */
  target: number;
  maxNewTokens: number;
  render(n: number): PromptParts;
  /** A cheap monotone non-decreasing measure of the haystack of n units (default: n). */
  proxy?(n: number): number;
  /** First guess of tokens per proxy unit when the memo has none. */
  tokensPerProxy?: number;
  minUnits?: number;
  /** The most units the haystack can supply; `exhausted` explains running out. */
  maxUnits: number;
  exhausted?: string;
  /**
   * When every unit is used and the prompt is still below the band: give that largest size (withinTolerance false)
   * instead of an error. For a stage that can only fine-tune what an earlier one sized (kv_retrieval's layout).
   */
  shortWhenExhausted?: boolean;
  memo?: SizingMemo;
  /** Memo key (default: task); a second sizing stage of a task uses its own. */
  memoKey?: string;
}

export interface FitResult {
  n: number;
  parts: PromptParts;
  /** Tokens of the filled template as measured. */
  promptTokens: number;
  /** Whether prompt + new tokens landed within LENGTH_TOLERANCE below the target. */
  withinTolerance: boolean;
}

export function countPromptTokens(tokenizer: Tokenizer, template: string, parts: PromptParts): number {
  checkArg('countPromptTokens', 'tokenizer', tokenizer, 'tokenizer');
  const ids = tokenizer.encode(fillTemplate(template, parts));
  if (!Array.isArray(ids)) throw new TypeError(`countPromptTokens: tokenizer.encode must return an array of ids, got ${showValue(ids)}`);
  return ids.length;
}

/**
 * A length below what a task's smallest prompt and answer budget need: no record of that length can be made (other
 * sizing failures, a layout that misses the length's band, depend on the record and another index may succeed).
 */
export class LengthTooSmallError extends RangeError {
  override name = 'LengthTooSmallError';
  /** The shortest length (prompt + new tokens) the smallest prompt needs. */
  constructor(message: string, readonly needed: number) { super(message); }
}

export function fitToLength(o: FitOptions): FitResult {
  checkArg('fitToLength', 'o', o, 'object', 'fit options { task, tokenizer, template, target, render, … }');
  checkArg('fitToLength', 'o.render', o.render, 'function');
  checkArg('fitToLength', 'o.target', o.target, 'positive');
  const budget = o.target - o.maxNewTokens;
  const tol = Math.max(1, Math.floor(o.target * LENGTH_TOLERANCE));
  const aim = budget - Math.floor(tol / 2);
  const min = o.minUnits ?? 0;
  const proxy = o.proxy ?? ((n: number) => n);
  const key = o.memoKey ?? o.task;
  const measured = new Map<number, number>();
  const count = (n: number): number => {
    let t = measured.get(n);
    if (t === undefined) { t = countPromptTokens(o.tokenizer, o.template, o.render(n)); measured.set(n, t); }
    return t;
  };

  const t0 = count(min);
  if (t0 > budget) {
    throw new LengthTooSmallError(`${o.task}: a length of ${o.target} tokens is too small: the prompt with the smallest haystack already has ` +
      `${t0} tokens, and ${o.maxNewTokens} new tokens must fit too (need at least ${t0 + o.maxNewTokens})`, t0 + o.maxNewTokens);
  }
  // Smallest n in [from, to] whose proxy reaches x (exponential then binary search, since proxies extend lazily).
  const invert = (x: number, from: number, to: number): number => {
    if (proxy(from) >= x) return from;
    let step = 1, a = from, b = from + 1;
    while (b < to && proxy(b) < x) { a = b; step *= 2; b = Math.min(to, from + step); }
    if (proxy(b) < x) return b;
    while (b - a > 1) { const m = Math.floor((a + b) / 2); if (proxy(m) >= x) b = m; else a = m; }
    return b;
  };

  let lo = min, tLo = t0, hi = Number.POSITIVE_INFINITY, tHi = Number.POSITIVE_INFINITY;
  const learnt = o.memo?.get(key);
  let rate = learnt ?? o.tokensPerProxy ?? 1;
  // Without a learnt rate, the first step is a cheap probe of at most PROBE_TOKENS to measure it.
  let probe = learnt === undefined;
  let grew = true;
  let lastMoved: 'lo' | 'hi' | null = null, sameSide = 0;
  for (let step = 0; step < 64 && budget - tLo > tol && hi - lo > 1; step++) {
    let guess: number;
    if (hi === Number.POSITIVE_INFINITY) {
      if (lo >= o.maxUnits) break;
      const goal = probe ? Math.min(aim, tLo + PROBE_TOKENS) : aim;
      // When the last step added no tokens the rate means little: grow at most fourfold.
      const cap = grew ? o.maxUnits : Math.min(o.maxUnits, Math.max(4 * lo, lo + 256));
      guess = invert(proxy(lo) + (goal - tLo) / rate, lo + 1, cap);
      probe = false;
    } else if (sameSide >= 2) {
      guess = Math.floor((lo + hi) / 2); // the interpolation keeps landing on one side: bisect once
      sameSide = 0;
    } else {
      const frac = (aim - tLo) / (tHi - tLo);
      guess = invert(proxy(lo) + frac * (proxy(hi) - proxy(lo)), lo + 1, hi - 1);
    }
    guess = Math.min(Math.max(guess, lo + 1), hi - 1, o.maxUnits);
    const t = count(guess);
    const side = t <= budget ? 'lo' : 'hi';
    if (side === 'lo') { lo = guess; tLo = t; } else { hi = guess; tHi = t; }
    sameSide = side === lastMoved ? sameSide + 1 : 0;
    lastMoved = side;
    const dx = proxy(guess) - proxy(min);
    grew = t > t0;
    if (dx > 0 && grew) rate = (t - t0) / dx;
    else if (!grew) rate /= 4; // the haystack grew without adding tokens: aim further
  }
  if (o.memo && Number.isFinite(rate) && rate > 0) o.memo.set(key, rate);
  const within = budget - tLo <= tol;
  if (!within && hi === Number.POSITIVE_INFINITY && lo >= o.maxUnits && !o.shortWhenExhausted) {
    throw new Error(`${o.task}: cannot reach ${o.target} tokens: ${o.exhausted ?? `the haystack stops growing at ${o.maxUnits} units`} ` +
      `(prompt ${tLo} tokens + ${o.maxNewTokens} new tokens)`);
  }
  return { n: lo, parts: o.render(lo), promptTokens: tLo, withinTolerance: within };
}
