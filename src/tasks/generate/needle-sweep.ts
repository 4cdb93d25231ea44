/**
 * The original needle-in-a-haystack test (G. Kamradt, 2023): one sentence hidden in natural text at a chosen
 * depth, swept over context lengths × depths; plus a Japanese version over composed Japanese filler.
 */
import { fitTextHaystack, fork, needleDepths, requireHaystack, withChecks, type Sample, type SampleContext } from './common.js';
import { fillTemplate } from './sizing.js';
import { countOccurrences } from './values.js';

export interface NeedleSpec {
  needle: string;
  question: string;
  /** Phrases the answer must contain (scored with string_match_all: each one found is partial credit). */
  answers: string[];
}

export const SAN_FRANCISCO_NEEDLE: NeedleSpec = {
  needle: 'The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.',
  question: 'What is the best thing to do in San Francisco?',
  answers: ['eat a sandwich', 'Dolores Park'],
};

export const SAN_FRANCISCO_NEEDLE_JA: NeedleSpec = {
  needle: 'サンフランシスコでいちばん良い過ごし方は、晴れた日にサンドイッチを食べてドロレス公園に座ることです。',
  question: 'サンフランシスコでいちばん良い過ごし方は何ですか。',
  answers: ['サンドイッチ', 'ドロレス公園'],
};

export const NEEDLE_TEMPLATE = 'Below is a long document with one important fact hidden in it. Read it, then answer the question ' +
  'after it briefly, using only the document.\n\n{context}\n\n{input}';
export const NEEDLE_TEMPLATE_JA = '以下の長い文章の中に、大切な事実がひとつ隠されています。文章を読んで、そのあとの質問に文章の内容だけを使って簡潔に答えてください。\n\n{context}\n\n{input}';

export function generateNeedleSweep(ctx: SampleContext, spec: NeedleSpec, language: 'en' | 'ja'): Sample {
  const input = language === 'ja' ? `質問: ${spec.question}\n答え:` : `Question: ${spec.question}\nAnswer:`;
  return withChecks(ctx, () => {
    const [depthPercent] = needleDepths(ctx, 1);
    const fit = fitTextHaystack(ctx, requireHaystack(ctx).open(fork(ctx.rng)), [{ text: spec.needle, depthPercent: depthPercent! }], input);
    return { ...fit.parts, answers: [...spec.answers], promptTokens: fit.promptTokens };
  }, (s) => {
    if (countOccurrences(s.context, spec.needle) !== 1) return 'the needle sentence occurs more than once';
    // Each answer phrase only in the needle, looked for in the whole prompt in lower case as string_match_all
    // compares: haystack text of one's own saying "Dolores Park" would credit a prediction that quotes it.
    const prompt = fillTemplate(ctx.template, s).toLowerCase();
    const stray = spec.answers.find((a) => countOccurrences(prompt, a.toLowerCase()) !== countOccurrences(spec.needle.toLowerCase(), a.toLowerCase()));
    return stray === undefined ? null : `the answer "${stray}" also occurs outside the needle`;
  });
}
