/**
 * RULER's variable tracking (vt): a chain "VAR A = 12345", "VAR B = VAR A", ... hidden in the noise haystack;
 * the answer is every variable that ends up holding the value.
 */
import { fitTextHaystack, fork, requireHaystack, withChecks, RULER_DEPTHS, type Sample, type SampleContext } from './common.js';
import { fillTemplate } from './sizing.js';
import { countOccurrences, digitString, variableNames } from './values.js';

export const VT_TEMPLATE = 'Memorize and track the chain of variable assignments hidden in the following text.\n\n{context}\n\nQuestion: {input}';

/** One chain of `hops` assignments after the first: hops + 1 variables share the value (RULER: 1 chain, 4 hops). */
export function generateVariableTracking(ctx: SampleContext, hops = 4): Sample {
  let names: string[] = [], value = '';
  return withChecks(ctx, () => {
    const rng = ctx.rng;
    names = variableNames(rng, hops + 1);
    value = digitString(rng, 5);
    const statements = names.map((name, i) => (i === 0 ? `VAR ${name} = ${value}.` : `VAR ${name} = VAR ${names[i - 1]}.`));
    // Sorted depths keep the chain in reading order.
    const depths = rng.sample(RULER_DEPTHS.length, statements.length).sort((a, b) => a - b).map((i) => RULER_DEPTHS[i]!);
    const needles = statements.map((text, i) => ({ text, depthPercent: depths[i]! }));
    const input = `Find all variables that are assigned the value ${value} in the text above. Answer: According to the chain ` +
      `of variable assignments in the text above, ${names.length} variables are assigned the value ${value}, they are:`;
    const fit = fitTextHaystack(ctx, requireHaystack(ctx).open(fork(rng)), needles, input);
    return { ...fit.parts, answers: names, promptTokens: fit.promptTokens };
  }, (s) => {
    if (countOccurrences(s.context, value) !== 1) return `value ${value} does not occur exactly once`;
    // Counted in the whole prompt in lower case, as string_match_all compares: a name that is also a piece of the
    // instructions ("VALUE", "ABOVE") or of the haystack ("GREEN") would be credited to a prediction echoing them.
    const prompt = fillTemplate(ctx.template, s).toLowerCase();
    for (let i = 0; i < names.length; i++) {
      const expected = i < names.length - 1 ? 2 : 1; // assigned once, read by the next statement once
      if (countOccurrences(prompt, names[i]!.toLowerCase()) !== expected) return `variable ${names[i]} occurs an unexpected number of times`;
    }
    return null;
  });
}
