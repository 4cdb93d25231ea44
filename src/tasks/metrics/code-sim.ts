import { checkChoice, checkPredictionAndGold } from './choice.js';
import { sequenceMatcherRatio } from './difflib.js';
import { indelRatio } from './indel.js';
import { pythonRound } from './python-round.js';
import { stripLeadingNewlines } from './python-string.js';
import { checkArg } from '../../util/args.js';

/**
 * Which similarity fuzzywuzzy's `fuzz.ratio` runs on: `'difflib'` (what LongBench's requirements install, the
 * default) or `'levenshtein'` (python-Levenshtein's indel ratio, what setups with that package get).
 */
export type CodeSimMatcher = 'difflib' | 'levenshtein';
export const CODE_SIM_MATCHERS: readonly CodeSimMatcher[] = ['difflib', 'levenshtein'];

/**
 * fuzzywuzzy 0.18 `fuzz.ratio(a, b)`: 100 when the strings are equal (even both empty), 0 when one is empty, else
 * `int(round(100 · ratio))` with Python's half-to-even rounding.
 */
export function fuzzRatio(a: string, b: string, matcher: CodeSimMatcher = 'difflib'): number {
  checkArg('fuzzRatio', 'a', a, 'string');
  checkArg('fuzzRatio', 'b', b, 'string');
  checkChoice('code_sim matcher', matcher, CODE_SIM_MATCHERS);
  if (a === b) return 100;
  if (a.length === 0 || b.length === 0) return 0;
  const ratio = matcher === 'levenshtein' ? indelRatio(a, b) : sequenceMatcherRatio(a, b);
  return pythonRound(100 * ratio);
}

/**
 * The line LongBench's `code_sim_score` compares: the first line of `prediction.lstrip('\n').split('\n')` without
 * any of `` ` ``, `#`, `//` (a blank line qualifies), or `""` when no line does.
 */
export function firstCodeLine(prediction: string): string {
  checkArg('firstCodeLine', 'prediction', prediction, 'string');
  for (const line of stripLeadingNewlines(prediction).split('\n')) {
    if (!line.includes('`') && !line.includes('#') && !line.includes('//')) return line;
  }
  return '';
}

/** LongBench `code_sim_score` (lcc, repobench-p): `fuzz.ratio(line, gold) / 100`. */
export function codeSimScore(prediction: string, gold: string, matcher: CodeSimMatcher = 'difflib'): number {
  checkPredictionAndGold('codeSimScore', prediction, gold);
  return fuzzRatio(firstCodeLine(prediction), gold, matcher) / 100;
}
