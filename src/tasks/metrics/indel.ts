import { checkArg } from '../../util/args.js';
/**
 * python-Levenshtein's `ratio(a, b)`, which fuzzywuzzy uses instead of difflib when that package is installed:
 * (len(a) + len(b) − indel distance) / (len(a) + len(b)) = 2·LCS / (len(a) + len(b)), over code points.
 */
export function indelRatio(a: string, b: string): number {
  checkArg('indelRatio', 'a', a, 'string');
  checkArg('indelRatio', 'b', b, 'string');
  const left = Array.from(a), right = Array.from(b);
  const total = left.length + right.length;
  if (total === 0) return 1.0;
  return (2 * longestCommonSubsequence(left, right)) / total;
}

function longestCommonSubsequence(a: readonly string[], b: readonly string[]): number {
  let previous = new Int32Array(b.length + 1), current = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      current[j] = a[i - 1] === b[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}
