/**
 * InfiniteBench's passkey and number_string retrieval (Zhang et al., "∞Bench: Extending Long Context Evaluation
 * Beyond 100K Tokens", 2024): a 5-digit pass key or a 10-digit string stated once in the repeated noise line.
 */
import { fitTextHaystack, fork, needleDepths, requireHaystack, withChecks, type Sample, type SampleContext } from './common.js';
import { countOccurrences, digitString } from './values.js';

export const PASSKEY_TEMPLATE = 'There is an important piece of information hidden inside a lot of irrelevant text. Find it and ' +
  'memorize it. I will quiz you about the important information there.\n\n{context}\n\n{input}';

export interface PasskeyConfig { digits: number; noun: string }
export const PASSKEY: PasskeyConfig = { digits: 5, noun: 'pass key' };
export const NUMBER_STRING: PasskeyConfig = { digits: 10, noun: 'sequence of digits' };

export function generatePasskey(ctx: SampleContext, config: PasskeyConfig): Sample {
  let key = '';
  return withChecks(ctx, () => {
    key = digitString(ctx.rng, config.digits);
    const text = `The ${config.noun} is ${key}. Remember it. ${key} is the ${config.noun}.`;
    const [depthPercent] = needleDepths(ctx, 1);
    const input = `What is the ${config.noun}? The ${config.noun} is`;
    const fit = fitTextHaystack(ctx, requireHaystack(ctx).open(fork(ctx.rng)), [{ text, depthPercent: depthPercent! }], input);
    return { ...fit.parts, answers: [key], promptTokens: fit.promptTokens };
  }, (s) => (countOccurrences(s.context, key) === 2 ? null : `key ${key} occurs outside its needle`));
}
