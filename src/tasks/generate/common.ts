/** What every task generator receives and returns, and the helpers they share. */
import type { Tokenizer } from '../../models/types.js';
import { Rng } from '../../util/rng.js';
import { renderHaystack, type HaystackSource, type HaystackStream, type Needle } from '../haystack.js';
import { fitToLength, type FitResult, type SizingMemo } from './sizing.js';
import { depthGrid } from './values.js';

export interface SampleContext {
  task: string;
  tokenizer: Tokenizer;
  /** Target length: prompt tokens + maxNewTokens. */
  length: number;
  maxNewTokens: number;
  template: string;
  /** The sample's own generator: every random choice of the sample comes from it. */
  rng: Rng;
  /** The text haystack for tasks that have one (null for structural haystacks: lists, JSON, distractor needles). */
  haystack: HaystackSource | null;
  /** Depth in percent for the asked needle(s); random from RULER's 40 depths when absent. */
  depthPercent?: number;
  memo: SizingMemo;
}

export interface Sample {
  context: string;
  input: string;
  answers: string[];
  /** Tokens of the filled template. */
  promptTokens: number;
}

export type SampleGenerator = (ctx: SampleContext) => Sample;

/** RULER draws needle depths from 40 evenly spaced depths between 0% and 100%. */
export const RULER_DEPTHS = depthGrid(40);

/** `count` distinct depths from RULER's grid, or the given depth for every needle. */
export function needleDepths(ctx: SampleContext, count: number): number[] {
  if (ctx.depthPercent !== undefined) return Array.from({ length: count }, () => ctx.depthPercent!);
  return ctx.rng.sample(RULER_DEPTHS.length, count).map((i) => RULER_DEPTHS[i]!);
}

export function requireHaystack(ctx: SampleContext): HaystackSource {
  if (!ctx.haystack) throw new Error(`${ctx.task}: this task needs a text haystack`);
  return ctx.haystack;
}

const unitTokenCaches = new WeakMap<Tokenizer, Map<string, number>>();

/**
 * Tokens of one haystack unit (a word, a sentence, a phrase) tokenised alone, cached per tokenizer: units repeat
 * (Zipf), so a run tokenises each distinct word once. Their running sum tracks how dense the text is in tokens
 * far better than its characters do (genres of the Brown Corpus differ by ±15% in tokens per character).
 */
function unitTokenCounter(tokenizer: Tokenizer, separator: string): (unit: string) => number {
  let cache = unitTokenCaches.get(tokenizer);
  if (!cache) { cache = new Map(); unitTokenCaches.set(tokenizer, cache); }
  const c = cache;
  return (unit) => {
    // With its separator, as the unit stands in the text (" word" is one token where "word" may be another).
    const piece = separator + unit;
    let t = c.get(piece);
    // At least a small positive amount, so the proxy keeps growing over units a tokenizer folds together.
    if (t === undefined) { t = Math.max(tokenizer.encode(piece, { addBos: false }).length, 0.01); c.set(piece, t); }
    return t;
  };
}

/**
 * Sizes a prompt whose context is a text haystack with needles; the proxy is the sum of the units' own token
 * counts. The unit cap allows for tokenizers that fold whole runs of unknown characters into one token.
 */
export function fitTextHaystack(ctx: SampleContext, stream: HaystackStream, needles: readonly Needle[], input: string): FitResult {
  const unitTokens = unitTokenCounter(ctx.tokenizer, stream.separator);
  const prefix: number[] = [0];
  const proxy = (n: number): number => {
    while (prefix.length <= n) prefix.push(prefix[prefix.length - 1]! + unitTokens(stream.unit(prefix.length - 1)));
    return prefix[n]!;
  };
  return fitToLength({
    task: ctx.task,
    tokenizer: ctx.tokenizer,
    template: ctx.template,
    target: ctx.length,
    maxNewTokens: ctx.maxNewTokens,
    render: (n) => ({ context: renderHaystack(stream, n, needles), input }),
    proxy,
    tokensPerProxy: 1,
    maxUnits: 64 * ctx.length + 1024,
    exhausted: 'the haystack text adds no tokens (does the tokenizer map it to unknown tokens?)',
    memo: ctx.memo,
  });
}

/**
 * Runs `attempt` until its sample passes `check` (a needle's text may, rarely, also occur in natural text);
 * every retry draws new values from the same Rng, so the result stays deterministic.
 */
export function withChecks(ctx: SampleContext, attempt: () => Sample, check: (s: Sample) => string | null): Sample {
  let problem = '';
  for (let i = 0; i < 20; i++) {
    const sample = attempt();
    const p = check(sample);
    if (p === null) return sample;
    problem = p;
  }
  throw new Error(`${ctx.task}: could not generate a valid sample in 20 attempts (last problem: ${problem})`);
}

/** "a", "a and b", "a, b and c". */
export function joinList(items: readonly string[], and = 'and'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${and} ${items[items.length - 1]}`;
}

/** A child generator seeded from one draw of the parent, for things drawn lazily while a size is searched. */
export function fork(rng: Rng): Rng {
  return new Rng(rng.nextU32());
}
