/**
 * InfiniteBench's kv_retrieval: a JSON object of random UUID keys to UUID values, one key asked. The Japanese
 * variant uses Japanese key phrases and Japanese instructions.
 */
import { countPromptTokens, fitToLength, LengthTooSmallError } from './sizing.js';
import { fork, needleDepths, withChecks, type Sample, type SampleContext } from './common.js';
import { JAPANESE_KEY_COUNT, japaneseKey } from './japanese-text.js';
import { countOccurrences, drawDistinct, uuid } from './values.js';

export const KV_TEMPLATE = 'Extract the value corresponding to the specified key in the JSON object below.\n\n{context}\n\n{input}';
export const KV_TEMPLATE_JA = '以下のJSONオブジェクトから、指定されたキーに対応する値を取り出してください。\n\n{context}\n\n{input}';

/** Indentation steps tried after every pair already has its own line. */
const MAX_INDENT = 8;

/**
 * The object at layout `level`: level 0 is Python's json.dumps default (one line); levels 1..P−1 break the line
 * after that many pairs, spread evenly (as a width-limited pretty printer would); levels past P−1 put every pair on
 * its own line indented by level − (P−1) spaces. Each level adds about one line break's worth of tokens, which
 * closes the gap that whole pairs (~50-80 tokens each) leave.
 */
export function formatJsonObject(pairs: ReadonlyArray<readonly [string, string]>, level = 0): string {
  const items = pairs.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const p = items.length;
  const breaks = Math.min(level, Math.max(0, p - 1));
  const indent = level > p - 1 ? ' '.repeat(level - (p - 1)) : '';
  if (indent) return `{\n${items.map((i) => indent + i).join(',\n')}\n}`;
  let out = '{';
  items.forEach((item, i) => {
    if (i > 0) out += Math.floor((i * breaks) / (p - 1 || 1)) > Math.floor(((i - 1) * breaks) / (p - 1 || 1)) ? ',\n' : ', ';
    out += item;
  });
  return `${out}}`;
}

export function generateKvRetrieval(ctx: SampleContext, language: 'en' | 'ja'): Sample {
  const drawKey = language === 'ja' ? japaneseKey : uuid;
  const maxPairs = language === 'ja' ? JAPANESE_KEY_COUNT - 1 : 1_000_000;
  let key = '', value = '';
  return withChecks(ctx, () => {
    const taken = new Set<string>();
    [key] = drawDistinct(ctx.rng, 1, drawKey, taken);
    [value] = drawDistinct(ctx.rng, 1, uuid, taken);
    const [depthPercent] = needleDepths(ctx, 1);
    const pairRng = fork(ctx.rng);
    const pairs: Array<[string, string]> = [];
    const pair = (i: number): [string, string] => {
      while (pairs.length <= i) pairs.push([drawDistinct(pairRng, 1, drawKey, taken)[0]!, drawDistinct(pairRng, 1, uuid, taken)[0]!]);
      return pairs[i]!;
    };
    const input = language === 'ja'
      ? `キー: ${JSON.stringify(key)}\n指定されたキーに対応する値は:`
      : `Key: ${JSON.stringify(key)}\nThe value associated with the specified key is:`;
    const render = (n: number, level: number) => {
      const all: Array<readonly [string, string]> = [];
      for (let i = 0; i < n; i++) all.push(pair(i));
      all.splice(Math.round((depthPercent! / 100) * n), 0, [key, value]);
      return { context: formatJsonObject(all, level), input };
    };
    const common = { task: ctx.task, tokenizer: ctx.tokenizer, template: ctx.template, target: ctx.length, maxNewTokens: ctx.maxNewTokens, memo: ctx.memo };
    // A pair is ~50-80 tokens (7% of a 1K prompt), so the pair count is fitted first and the object's layout after.
    const pairFit = fitToLength({
      ...common, render: (n) => render(n, 0), tokensPerProxy: 60, maxUnits: maxPairs,
      exhausted: `only ${JAPANESE_KEY_COUNT} distinct Japanese keys exist`,
    });
    // The asked pair alone asks nothing of retrieval (niah_multikey_2/3 refuse a haystack of their needle alone too).
    if (pairFit.n === 0) {
      const needed = countPromptTokens(ctx.tokenizer, ctx.template, render(1, 0)) + ctx.maxNewTokens;
      throw new LengthTooSmallError(`${ctx.task}: a length of ${ctx.length} tokens is too small: it holds the asked key-value pair and no other (need at least ${needed})`, needed);
    }
    const fit = pairFit.withinTolerance ? pairFit : fitToLength({
      ...common, render: (level) => render(pairFit.n, level), tokensPerProxy: 2, maxUnits: pairFit.n + MAX_INDENT,
      memoKey: `${ctx.task}:layout`,
      // One pair more overshoots the length (the pair fit stopped below it): with every layout still short, the
      // record ends further below, as the coarse units of this task allow (its "cannot reach" named no real limit).
      shortWhenExhausted: true,
    });
    return { ...fit.parts, answers: [value], promptTokens: fit.promptTokens };
  }, (s) => {
    if (countOccurrences(s.context, JSON.stringify(key)) !== 1) return `key ${key} does not occur exactly once`;
    return countOccurrences(s.context, value) === 1 ? null : `value ${value} does not occur exactly once`;
  });
}
