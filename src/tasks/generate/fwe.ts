/**
 * RULER's frequent words extraction (fwe): coded words (6 random letters) whose counts follow Zipf's law with
 * exponent 2; the most frequent "word" is "..." (noise to ignore), and the answer is ranks 2 to 4.
 */
import { Rng } from '../../util/rng.js';
import { fitToLength } from './sizing.js';
import { codedWords, letterRuns } from './values.js';
import { fork, type Sample, type SampleContext } from './common.js';

export const FWE_TEMPLATE = 'Read the following coded text and track the frequency of each coded word. Find the three most ' +
  'frequently appearing coded words. {context}\nQuestion: {input}';
/** The question after the text, ending in the answer prefix. */
export const FWE_QUESTION = "Do not provide any explanation. Please ignore the dots '...'. What are the three most frequently " +
  'appearing words in the above coded text? Answer: According to the coded text above, the three most frequently appearing words are:';
/** Letters of a coded word (RULER's coded_wordlen). */
export const FWE_WORD_LENGTH = 6;

/** ζ(2) = π²/6, written out so no platform maths library is involved. */
const ZETA_2 = 1.6449340668482264;

/** Count of the rank-k word (k from 1) in a text of size n: ⌊n / (k² ζ(2))⌋. */
export function zipfCount(n: number, k: number): number {
  return Math.floor(n / (k * k * ZETA_2));
}

/**
 * Ranks 2..4 are strictly ordered above rank 5 once n(1/16 − 1/25)/ζ(2) > 1, i.e. n ≥ 74; below that two ranks
 * can tie and the answer would be ambiguous.
 */
export const FWE_MIN_SIZE = 74;

export function generateFrequentWords(ctx: SampleContext): Sample {
  const vocabRng = fork(ctx.rng);
  const shuffleSeed = ctx.rng.nextU32();
  const vocab: string[] = ['...'];
  // No coded word is a piece of the prompt's own wording ("freque" of "frequently"): string_match_all would credit
  // it to a prediction that only repeats the question. A draw that hits one is drawn again (RULER does not check).
  const input = FWE_QUESTION;
  const taken = new Set<string>([...vocab, ...letterRuns([...ctx.template.split(/\{context\}|\{input\}/), input], FWE_WORD_LENGTH)]);
  const word = (k: number): string => { // rank k (from 1); drawn lazily in rank order
    while (vocab.length < k) vocab.push(codedWords(vocabRng, 1, FWE_WORD_LENGTH, taken)[0]!);
    return vocab[k - 1]!;
  };
  const render = (n: number) => {
    const words: string[] = [];
    for (let k = 1; zipfCount(n, k) > 0; k++) for (let c = zipfCount(n, k); c > 0; c--) words.push(word(k));
    new Rng(`${shuffleSeed}:${n}`).shuffle(words);
    return { context: words.join(' '), input };
  };
  const fit = fitToLength({
    task: ctx.task, tokenizer: ctx.tokenizer, template: ctx.template, target: ctx.length, maxNewTokens: ctx.maxNewTokens,
    render, minUnits: FWE_MIN_SIZE, tokensPerProxy: 4, maxUnits: 100 * ctx.length + 1000, memo: ctx.memo,
  });
  return { ...fit.parts, answers: [word(2), word(3), word(4)], promptTokens: fit.promptTokens };
}
