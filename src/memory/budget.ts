/**
 * Cache budgets, action cadence and the top-k selection shared by every hand-designed baseline.
 *
 * Budget (kvpress convention): `ratio=r` is the fraction of tokens *removed*, so a head keeps ⌊T·(1−r)⌋ of the T
 * tokens the sequence has seen so far; `tokens=N` keeps N per layer and KV head. T is the sequence length
 * (`totalTokens`), which equals the cache length the first time a policy acts; using it (not the current cache
 * length) keeps repeated actions at a fixed fraction of the sequence instead of compounding. A target is never
 * below 1 (attention needs at least one key); a head holding fewer rows than its target keeps them all.
 */
import { argError, checkArg } from '../util/args.js';
import { showValue } from '../util/show.js';

/** How many tokens a baseline keeps per layer and KV head. */
export type Budget =
  | { readonly kind: 'ratio'; readonly ratio: number }
  | { readonly kind: 'tokens'; readonly tokens: number };

/** Fraction removed, 0 ≤ r < 1 (kvpress `compression_ratio`). */
export function ratioBudget(ratio: number): Budget {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 0 || ratio >= 1) {
    throw new RangeError(`ratio must be a number with 0 ≤ ratio < 1 (the fraction of tokens removed), got ${showValue(ratio)}`);
  }
  return { kind: 'ratio', ratio };
}

/** A fixed number of tokens kept per layer and KV head, N ≥ 1. */
export function tokenBudget(tokens: number): Budget {
  if (typeof tokens !== 'number' || !Number.isSafeInteger(tokens) || tokens < 1) {
    throw new RangeError(`tokens must be an integer ≥ 1 (tokens kept per layer and KV head), got ${tokens}`);
  }
  return { kind: 'tokens', tokens };
}

/**
 * A budget built by hand (an object literal rather than ratioBudget/tokenBudget), checked as those check it: a NaN
 * token count used to empty the cache, a ratio of 5 to keep one row, and a generation still returned text.
 */
export function checkBudget(b: unknown): Budget {
  const o = b as { kind?: unknown; ratio?: unknown; tokens?: unknown } | null;
  if (o?.kind === 'ratio') return ratioBudget(o.ratio as number);
  if (o?.kind === 'tokens') return tokenBudget(o.tokens as number);
  throw new TypeError(`budget must be { kind: 'ratio', ratio } or { kind: 'tokens', tokens } (ratioBudget, tokenBudget), got ${JSON.stringify(b) ?? String(b)}`);
}

/** A cadence built by hand, checked as everyTokens and the constants are (every 0 or NaN never acted). */
export function checkCadence(c: unknown): Cadence {
  const o = c as { kind?: unknown; every?: unknown } | null;
  if (o?.kind === 'tokens') return everyTokens(o.every as number);
  if (o?.kind === 'prefill') return AT_PREFILL_END;
  if (o?.kind === 'decode') return AT_CONTEXT_END_AND_DECODE;
  throw new TypeError(`every must be { kind: 'tokens', every }, AT_PREFILL_END or AT_CONTEXT_END_AND_DECODE (everyTokens, parseCadence), got ${JSON.stringify(c) ?? String(c)}`);
}

/**
 * The token count of a `tokens=N` budget when it is at most `sinks` (a budget that would keep the sinks alone), else
 * null. Read loosely: a budget built by hand is checked later (checkBudget), when the policy is made.
 */
export function tokensWithinSinks(budget: Budget | null, sinks: number): number | null {
  const b = budget as { kind?: unknown; tokens?: unknown } | null;
  return b?.kind === 'tokens' && typeof b.tokens === 'number' && b.tokens <= sinks ? b.tokens : null;
}

/** Spec-string form, e.g. "ratio=0.5" or "tokens=1024". */
export function describeBudget(b: Budget): string {
  return b.kind === 'ratio' ? `ratio=${b.ratio}` : `tokens=${b.tokens}`;
}

/**
 * Rows each head of a layer should keep (before clamping to the rows it holds): ⌊T·(1−r)⌋ or N, at least 1. The
 * floor is that of the decimal ratio the user wrote: 1 − 0.8 is 0.19999999999999996 in binary floating point, so
 * a plain floor would keep 1 of 10 tokens (kvpress's int() does) where ⌊10·0.2⌋ = 2.
 */
export function budgetWant(b: Budget, totalTokens: number): number {
  return want('budgetWant', b, totalTokens);
}

function want(fn: string, b: Budget, totalTokens: number): number {
  if (b?.kind !== 'ratio' && b?.kind !== 'tokens') throw argError(fn, 'b', 'a budget (ratioBudget(r) or tokenBudget(n))', b);
  checkArg(fn, 'totalTokens', totalTokens, 'count');
  return Math.max(1, b.kind === 'ratio' ? decimalKeep(totalTokens, b.ratio) : b.tokens);
}

/**
 * ⌊T·(1−r)⌋ for the shortest decimal that reads back as r (what String(r) prints: the ratio as written, "0.8"),
 * in exact integer arithmetic. A tolerance on the float product cannot do this at every T: the product's rounding
 * error grows with T (T·(1 − 0.8) is 6291455.999999998 at T = 31,457,280, where the answer is 6,291,456), while a
 * ratio's own decimals put true products as close as 1e-8 below an integer.
 */
function decimalKeep(totalTokens: number, ratio: number): number {
  if (ratio === 0) return totalTokens;
  const [digits = '', exp = '0'] = String(ratio).split('e');
  const [whole = '', frac = ''] = digits.split('.');
  // ratio = M / 10^D with M an integer.
  const scale = frac.length - Number(exp);
  const m = BigInt(whole + frac) * (scale < 0 ? 10n ** BigInt(-scale) : 1n), d = 10n ** BigInt(Math.max(0, scale));
  return Number((BigInt(totalTokens) * (d - m)) / d);
}

/** Rows one head should keep, clamped to the rows it holds. */
export function budgetTarget(b: Budget, totalTokens: number, rows: number): number {
  checkArg('budgetTarget', 'rows', rows, 'count');
  return Math.min(rows, want('budgetTarget', b, totalTokens));
}

/** Per-head targets for one layer, not clamped to the rows (AdaKV pools the whole layer's budget). */
export function budgetTargets(b: Budget, totalTokens: number, nKvHeads: number): Int32Array {
  return new Int32Array(nKvHeads).fill(budgetWant(b, totalTokens));
}

/**
 * When a policy acts. `tokens`: whenever the sequence length crosses a multiple of `every` (every = 1 acts on
 * every prefill chunk and every decoded token). `prefill`: once per sequence, on the last chunk of the first
 * prefill call (kvpress: compress the context, not the question or the answer). `decode`: at the end of a context
 * (the last chunk of a prefill that ends one, with that chunk's last query as the current token) and at every
 * decoded token, never inside a prefill (TOVA's schedule: the prompt is compressed once, by its last token).
 */
export type Cadence =
  | { readonly kind: 'tokens'; readonly every: number }
  | { readonly kind: 'prefill' }
  | { readonly kind: 'decode' };

export function everyTokens(every: number): Cadence {
  if (!Number.isSafeInteger(every) || every < 1) {
    throw new RangeError(`every must be an integer ≥ 1 (tokens between actions), "prefill" or "decode", got ${every}`);
  }
  return { kind: 'tokens', every };
}

export const AT_PREFILL_END: Cadence = { kind: 'prefill' };
export const AT_CONTEXT_END_AND_DECODE: Cadence = { kind: 'decode' };

/** Parses the `every=` value: a positive integer, "prefill" or "decode". */
export function parseCadence(value: string): Cadence {
  if (value === 'prefill') return AT_PREFILL_END;
  if (value === 'decode') return AT_CONTEXT_END_AND_DECODE;
  checkArg('parseCadence', 'value', value, 'string', 'a string: a positive integer (tokens), "prefill" or "decode"');
  if (!/^[0-9]+$/.test(value)) throw new RangeError(`every must be a positive integer (tokens), "prefill" or "decode", got "${value}"`);
  return everyTokens(Number(value));
}

export function describeCadence(c: Cadence): string {
  return c.kind === 'tokens' ? `every=${c.every}` : `every=${c.kind}`;
}

export function sameCadence(a: Cadence, b: Cadence): boolean {
  return a.kind === b.kind && (a.kind !== 'tokens' || a.every === (b as { every: number }).every);
}

/** Whether a policy with cadence `c` acts on this chunk (see Cadence). */
export function cadenceActs(
  c: Cadence, chunk: { phase: 'prefill' | 'decode'; endOfPrefill: boolean; totalTokens: number; nQ: number },
): boolean {
  if (c.kind === 'tokens') return crossesMultiple(c.every, chunk.totalTokens, chunk.nQ);
  const contextEnds = chunk.phase === 'prefill' && chunk.endOfPrefill;
  return c.kind === 'prefill' ? contextEnds : contextEnds || chunk.phase === 'decode';
}

/** Whether a chunk that ended at `totalTokens` after `nQ` new tokens crosses a multiple of `every`. */
export function crossesMultiple(every: number, totalTokens: number, nQ: number): boolean {
  return Math.floor(totalTokens / every) > Math.floor((totalTokens - nQ) / every);
}

/**
 * The `k` highest of `scores[0..n)`, as ascending row indices. Ties go to the newer (higher) row, as in the NAMM
 * selector's stable sort, and NaN counts as −∞. Expected O(n) (quickselect on a strict total order).
 */
export function selectTopK(scores: ArrayLike<number>, n: number, k: number): Int32Array {
  if (!ArrayBuffer.isView(scores) && !Array.isArray(scores)) throw argError('selectTopK', 'scores', 'an array or typed array of scores', scores);
  if (!Number.isInteger(n) || n < 0 || n > scores.length) throw new RangeError(`selectTopK: n must be an integer within 0..${scores.length} (the scores given), got ${n}`);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`selectTopK: k must be an integer ≥ 0, got ${k}`);
  if (k >= n) return iota(n);
  if (k <= 0) return new Int32Array(0);
  const evict = n - k;
  const keep = new Int32Array(k);
  if (evict <= SMALL_EVICT) {
    // Decoding usually evicts a token or two per step: one pass over the scores as they are, keeping the few
    // lowest, beats a quickselect, and the keep list skips them (no copy of the scores, no per-row marks: this
    // runs for every head of every layer at every step).
    const gone = fewSmallest(scores, n, evict).sort((a, b) => a - b);
    let w = 0, g = 0;
    for (let i = 0; i < n; i++) {
      if (g < evict && gone[g] === i) g++;
      else keep[w++] = i;
    }
    return keep;
  }
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) s[i] = key(scores[i]!);
  const idx = iota(n);
  partitionSmallest(idx, s, evict);
  const gone = new Uint8Array(n);
  for (let i = 0; i < evict; i++) gone[idx[i]!] = 1;
  let w = 0;
  for (let i = 0; i < n; i++) if (!gone[i]) keep[w++] = i;
  return keep;
}

/** 0, 1, …, n−1. */
export function iota(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** A score as the selection orders it: NaN counts as −∞. */
function key(v: number): number {
  return v === v ? v : -Infinity;
}

// Eviction order: lower score first; among equal scores the older row (lower index) first.
function before(s: ArrayLike<number>, a: number, b: number): boolean {
  const x = key(s[a]!), y = key(s[b]!);
  return x < y || (x === y && a < b);
}

const SMALL_EVICT = 8;

/** The m smallest of rows 0..n−1 under `before`, by one scan with a small sorted list (m ≤ SMALL_EVICT). */
function fewSmallest(s: ArrayLike<number>, n: number, m: number): number[] {
  if (m === 1) {
    // The common decoding case: the first (oldest) of the lowest scores.
    let best = 0, bv = key(s[0]!);
    for (let i = 1; i < n; i++) {
      const v = key(s[i]!);
      if (v < bv) { bv = v; best = i; }
    }
    return [best];
  }
  const low: number[] = []; // ascending under `before`
  for (let i = 0; i < n; i++) {
    if (low.length === m && !before(s, i, low[m - 1]!)) continue;
    let j = low.length === m ? m - 1 : low.length;
    while (j > 0 && before(s, i, low[j - 1]!)) { low[j] = low[j - 1]!; j--; }
    low[j] = i;
  }
  return low;
}

/** Rearranges `idx` so that its first `m` entries are the m smallest under `before` (iterative quickselect). */
function partitionSmallest(idx: Int32Array, s: Float64Array, m: number): void {
  const target = m - 1;
  let lo = 0, hi = idx.length - 1;
  const swap = (i: number, j: number): void => { const t = idx[i]!; idx[i] = idx[j]!; idx[j] = t; };
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // Median of three guards against sorted inputs (recency scores are sorted).
    if (before(s, idx[mid]!, idx[lo]!)) swap(lo, mid);
    if (before(s, idx[hi]!, idx[lo]!)) swap(lo, hi);
    if (before(s, idx[hi]!, idx[mid]!)) swap(mid, hi);
    swap(mid, hi);
    const pivot = idx[hi]!;
    let store = lo;
    for (let i = lo; i < hi; i++) if (before(s, idx[i]!, pivot)) { swap(store, i); store++; }
    swap(store, hi);
    if (store === target) return;
    if (store < target) lo = store + 1; else hi = store - 1;
  }
}
