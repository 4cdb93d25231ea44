/**
 * RULER's needle-in-a-haystack family (Hsieh et al., "RULER: What's the Real Context Size of Your Long-Context
 * Language Models?", 2024): needles "One of the special magic numbers for KEY is: VALUE." hidden in noise, natural
 * text or a haystack of distractor needles; single, multi-key, multi-value and multi-query variants, and a Japanese
 * variant over composed Japanese filler.
 */
import { NOISE_SENTENCES, NOISE_SENTENCES_JA, type Needle } from '../haystack.js';
import type { Rng } from '../../util/rng.js';
import { fitToLength } from './sizing.js';
import { fitTextHaystack, fork, joinList, needleDepths, requireHaystack, withChecks, type Sample, type SampleContext } from './common.js';
import { JAPANESE_KEY_COUNT, japaneseKey } from './japanese-text.js';
import { countOccurrences, drawDistinct, drawValue, type ValueKind } from './values.js';

export interface NiahConfig {
  /** 'text': the context's haystack (noise or natural text); 'needle': distractor needles with other keys. */
  haystack: 'text' | 'needle';
  keys: 'words' | 'uuids' | 'japanese';
  values: ValueKind;
  /** Needles with distinct keys (one or more of them asked). */
  numKeys: number;
  /** Values of each key (multi-value). */
  numValues: number;
  /** Keys asked at once (multi-query). */
  numQueries: number;
  language: 'en' | 'ja';
}

const SINGULAR: Record<ValueKind, string> = { numbers: 'number', words: 'word', uuids: 'uuid' };

export function niahTemplate(config: NiahConfig): string {
  if (config.language === 'ja') return '以下の文章の中に特別なマジックナンバーが隠されています。よく覚えてください。あとで質問します。\n{context}\n{input}';
  const v = config.values;
  return `Some special magic ${v} are hidden within the following text. Make sure to memorize them. ` +
    `I will quiz you about the ${v} afterwards.\n{context}\n{input}`;
}

function drawKey(rng: Rng, config: NiahConfig): string {
  if (config.keys === 'japanese') return japaneseKey(rng);
  return drawValue(rng, config.keys);
}

function needleText(config: NiahConfig, key: string, value: string): string {
  if (config.language === 'ja') return `${key}の特別なマジックナンバーは${value}です。`;
  return config.numValues === 1
    ? `A special magic ${SINGULAR[config.values]} for ${key} is: ${value}.`
    : `One of the special magic ${config.values} for ${key} is: ${value}.`;
}

function question(config: NiahConfig, asked: string[]): string {
  if (config.language === 'ja') {
    const k = joinList(asked, 'と');
    return `文中に書かれている${k}の特別なマジックナンバーは何ですか。${k}の特別なマジックナンバーは`;
  }
  const k = joinList(asked);
  if (config.numValues === 1 && asked.length === 1) {
    const v = SINGULAR[config.values];
    return `What is the special magic ${v} for ${k} mentioned in the provided text? The special magic ${v} for ${k} mentioned in the provided text is`;
  }
  const v = config.values;
  return `What are all the special magic ${v} for ${k} mentioned in the provided text? The special magic ${v} for ${k} mentioned in the provided text are`;
}

interface Drawn { keys: string[]; values: string[][]; asked: number[]; needles: Needle[] }

function drawNeedles(ctx: SampleContext, config: NiahConfig): Drawn {
  const rng = ctx.rng;
  const taken = new Set<string>();
  const keys = drawDistinct(rng, config.numKeys, (r) => drawKey(r, config), taken);
  const values = keys.map(() => drawDistinct(rng, config.numValues, (r) => drawValue(r, config.values), taken));
  const asked = rng.sample(config.numKeys, config.numQueries).sort((a, b) => a - b);
  // Asked needles go to the requested depth (when there is one); the others to random depths.
  const askedDepths = needleDepths(ctx, config.numQueries * config.numValues);
  const needles: Needle[] = [];
  let d = 0;
  keys.forEach((key, k) => values[k]!.forEach((value) => {
    const depthPercent = asked.includes(k) ? askedDepths[d++]! : needleDepths({ ...ctx, depthPercent: undefined }, 1)[0]!;
    needles.push({ text: needleText(config, key, value), depthPercent });
  }));
  return { keys, values, asked, needles };
}

/** Every needle value occurs exactly once and every key exactly as often as it has values. */
function checkNeedles(drawn: Drawn, context: string): string | null {
  for (let k = 0; k < drawn.keys.length; k++) {
    const key = drawn.keys[k]!;
    const n = countOccurrences(context, key);
    if (n !== drawn.values[k]!.length) return `key ${key} occurs ${n} times`;
    for (const v of drawn.values[k]!) if (countOccurrences(context, v) !== 1) return `value ${v} does not occur exactly once`;
  }
  return null;
}

export function generateNiah(ctx: SampleContext, config: NiahConfig): Sample {
  let drawn!: Drawn;
  return withChecks(ctx, () => {
    drawn = drawNeedles(ctx, config);
    const askedKeys = drawn.asked.map((k) => drawn.keys[k]!);
    const input = question(config, askedKeys);
    const answers = drawn.asked.flatMap((k) => drawn.values[k]!);
    if (config.haystack === 'needle') return needleHaystack(ctx, config, drawn, input, answers);
    const stream = requireHaystack(ctx).open(fork(ctx.rng));
    const fit = fitTextHaystack(ctx, stream, drawn.needles, input);
    return { ...fit.parts, answers, promptTokens: fit.promptTokens };
  }, (s) => checkNeedles(drawn, s.context));
}

/**
 * RULER's "needle" haystack: one distractor needle per line, each with its own key and value. Whole lines are
 * coarse (a UUID line is ~90 tokens, 9% of a 1K prompt), so once the line count is fixed a second stage scatters
 * short noise sentences among the lines to close the rest of the gap.
 */
function needleHaystack(ctx: SampleContext, config: NiahConfig, drawn: Drawn, input: string, answers: string[]): Sample {
  // Lines and noise spots are drawn lazily while the size is searched, each from its own generator, so what they
  // are never depends on the order in which sizes were tried.
  const lineRng = fork(ctx.rng), spotRng = fork(ctx.rng);
  const taken = new Set<string>([...drawn.keys, ...drawn.values.flat()]);
  const realKeys = drawn.keys;
  // A distractor key must not contain a real key or be contained in one ("red-cat" inside "tired-cat").
  const distinctKey = (r: Rng): string => {
    for (;;) {
      const k = drawKey(r, config);
      if (!realKeys.some((rk) => rk.includes(k) || k.includes(rk))) return k;
    }
  };
  const lines: string[] = [];
  const maxDistractors = config.keys === 'japanese' ? JAPANESE_KEY_COUNT - config.numKeys : 1_000_000;
  const distractor = (i: number): string => {
    while (lines.length <= i) {
      let key: string | undefined;
      try {
        [key] = drawDistinct(lineRng, 1, distinctKey, taken);
      } catch {
        throw new Error(`${ctx.task}: ran out of distinct distractor keys after ${lines.length} needles; ` +
          `this length needs more than the key list offers`);
      }
      const [value] = drawDistinct(lineRng, 1, (r) => drawValue(r, config.values), taken);
      lines.push(needleText(config, key!, value!));
    }
    return lines[i]!;
  };
  const noiseSpots: number[] = [];
  const tailJa = NOISE_SENTENCES_JA.map((t) => t.trim());
  const render = (n: number, noise: number) => {
    const all: string[] = [];
    for (let i = 0; i < n; i++) all.push(distractor(i));
    // Real needles go in at their depths, from the deepest first so earlier positions stay valid.
    const placed = drawn.needles.map((nd) => ({ nd, at: Math.round((nd.depthPercent / 100) * n) })).sort((a, b) => b.at - a.at);
    for (const { nd, at } of placed) all.splice(at, 0, nd.text);
    while (noiseSpots.length < noise) noiseSpots.push(spotRng.float());
    for (let j = 0; j < noise; j++) {
      const line = Math.floor(noiseSpots[j]! * all.length);
      all[line] += config.language === 'ja' ? tailJa[j % tailJa.length] : ` ${NOISE_SENTENCES[j % NOISE_SENTENCES.length]}`;
    }
    return { context: all.join('\n'), input };
  };
  const common = { task: ctx.task, tokenizer: ctx.tokenizer, template: ctx.template, target: ctx.length, maxNewTokens: ctx.maxNewTokens, memo: ctx.memo };
  // At least one distractor line: without one the record is niah_single with another kind of key (the needle alone,
  // padded with noise, at the top whatever its depth said), so a length too small for one is refused.
  const lineFit = fitToLength({
    ...common, render: (n) => render(n, 0), tokensPerProxy: 30, maxUnits: maxDistractors, minUnits: 1,
    exhausted: `only ${maxDistractors} distinct distractor keys exist`,
  });
  if (lineFit.withinTolerance) return { ...lineFit.parts, answers, promptTokens: lineFit.promptTokens };
  const tailFit = fitToLength({
    ...common, render: (k) => render(lineFit.n, k), tokensPerProxy: 5, maxUnits: 4096,
    memoKey: `${ctx.task}:noise-tail`,
  });
  return { ...tailFit.parts, answers, promptTokens: tailFit.promptTokens };
}
