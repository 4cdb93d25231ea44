/**
 * RULER's common words extraction (cwe): a numbered list where 10 words repeat often (30 times at full size) and
 * many others a few times (3); the answer is the 10 common words.
 */
import { Rng } from '../../util/rng.js';
import { commonEnglishWords, substringFreeWords } from '../wordlists.js';
import { countPromptTokens, fitToLength, LengthTooSmallError } from './sizing.js';
import type { Sample, SampleContext } from './common.js';

export const CWE_TEMPLATE = 'Below is a numbered list of words. In these words, some appear more often than others. ' +
  'Memorize the ones that appear most often.\n{context}\nQuestion: {input}';

export const CWE_COMMON_WORDS = 10;
/** The question after the list, ending in the answer prefix. */
export const CWE_QUESTION = `What are the ${CWE_COMMON_WORDS} most common words in the above list? Answer: The top ` +
  `${CWE_COMMON_WORDS} words that appear most often in the list are:`;

const pools = new Map<string, readonly string[]>();

/**
 * The words a cwe list is drawn from: the familiar WordNet words (commonEnglishWords, 13,025) less every word that
 * is part of another of them ("art" of "depart", "old" of "manifold") or of the prompt's fixed text (the template
 * around the list and the question: "above", "list", "ten" of "often"), 9,428 words. The answers are scored by
 * substring matching (string_match_all), so without this a prediction naming "depart" from the list, or echoing the
 * instructions, was credited with an answer it never gave. RULER draws from its word lists unfiltered.
 */
export function cweWordPool(template = CWE_TEMPLATE): readonly string[] {
  let pool = pools.get(template);
  if (!pool) {
    pool = substringFreeWords(commonEnglishWords(), [...template.split(/\{context\}|\{input\}/), CWE_QUESTION]);
    pools.set(template, pool);
  }
  return pool;
}

/** Repetitions of the common words, largest first: short prompts cannot hold 10 × 30 entries. */
const COMMON_FREQUENCIES = [30, 20, 15, 10, 8, 6, 5, 4];
/**
 * Used only when even 10 × 4 common entries leave no room for the new tokens (prompts near the smallest a task can
 * take, where a draw of long-tokenising words would otherwise be refused); uncommon words then occur once.
 */
const FALLBACK_FREQUENCIES = [3, 2];
/** The common words may take at most this share of the prompt budget, leaving room for the rest of the list. */
const COMMON_SHARE = 0.6;

export function generateCommonWords(ctx: SampleContext): Sample {
  const rng = ctx.rng;
  const words = rng.shuffle([...cweWordPool(ctx.template)]);
  const common = words.slice(0, CWE_COMMON_WORDS);
  const uncommon = words.slice(CWE_COMMON_WORDS);
  const shuffleSeed = rng.nextU32();
  const input = CWE_QUESTION;
  const budget = ctx.length - ctx.maxNewTokens;

  // The list with n uncommon words, each repeated freqUncommon times (in draw order), then shuffled. (Counted in
  // entries, the last word of the list could appear once or twice where the others appear three times.)
  const render = (freqCommon: number, freqUncommon: number, n: number) => {
    const entries: string[] = [];
    for (const w of common) for (let i = 0; i < freqCommon; i++) entries.push(w);
    for (let j = 0; j < n; j++) for (let i = 0; i < freqUncommon; i++) entries.push(uncommon[j]!);
    new Rng(`${shuffleSeed}:${freqCommon}:${n}`).shuffle(entries);
    return { context: entries.map((w, i) => `${i + 1}. ${w}`).join(' '), input };
  };

  const preferredLast = COMMON_FREQUENCIES[COMMON_FREQUENCIES.length - 1]!;
  const fallbackLast = FALLBACK_FREQUENCIES[FALLBACK_FREQUENCIES.length - 1]!;
  for (const freqCommon of [...COMMON_FREQUENCIES, ...FALLBACK_FREQUENCIES]) {
    const freqUncommon = Math.max(1, Math.min(3, Math.floor(freqCommon / 3)));
    const commonOnly = countPromptTokens(ctx.tokenizer, ctx.template, render(freqCommon, freqUncommon, 0));
    if (freqCommon > preferredLast) {
      if (commonOnly > COMMON_SHARE * budget) continue;
    } else if (commonOnly > budget && freqCommon !== fallbackLast) {
      continue; // the common words alone do not fit: fewer repetitions (the last one tried gives the clear error)
    }
    const fit = fitToLength({
      task: ctx.task, tokenizer: ctx.tokenizer, template: ctx.template, target: ctx.length, maxNewTokens: ctx.maxNewTokens,
      render: (n) => render(freqCommon, freqUncommon, n), tokensPerProxy: 5 * freqUncommon,
      maxUnits: uncommon.length, exhausted: `the word list has only ${words.length} words`,
      memo: ctx.memo,
    });
    // No uncommon word at all: the list is the answer, which asks nothing. Fewer repetitions of the common words
    // leave room for some; at the fewest, the length is too small.
    if (fit.n === 0) {
      if (freqCommon !== fallbackLast) continue;
      const needed = countPromptTokens(ctx.tokenizer, ctx.template, render(freqCommon, freqUncommon, 1)) + ctx.maxNewTokens;
      throw new LengthTooSmallError(`${ctx.task}: a length of ${ctx.length} tokens is too small: it holds the ${CWE_COMMON_WORDS} common words and no uncommon one (need at least ${needed})`, needed);
    }
    return { ...fit.parts, answers: common, promptTokens: fit.promptTokens };
  }
  throw new Error('unreachable: the last common-word frequency is always tried');
}
