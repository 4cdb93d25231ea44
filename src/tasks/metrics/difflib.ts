import { checkArg, checkArgOptions } from '../../util/args.js';
/**
 * `difflib.SequenceMatcher(None, a, b).ratio()` of Python (3.x; unchanged since 2.7.1), over code points:
 * 2·M / (len(a) + len(b)), where M is the total size of the matching blocks found by recursively taking the longest
 * matching block (earliest in `a`, then earliest in `b`) and matching left and right of it. Not an LCS: the greedy
 * choice can miss matches, and the result depends on the order of the arguments.
 *
 * With `autojunk` (on by default, as in difflib) and `b` of 200 or more elements, elements of `b` occurring more than
 * `floor(len(b) / 100) + 1` times are "popular": they never start a match, though a match found elsewhere still grows
 * over them.
 */
export function sequenceMatcherRatio(a: string, b: string, options: { autojunk?: boolean } = {}): number {
  checkArg('sequenceMatcherRatio', 'a', a, 'string');
  checkArg('sequenceMatcherRatio', 'b', b, 'string');
  checkArgOptions('sequenceMatcherRatio', options, ['autojunk']);
  const left = Array.from(a), right = Array.from(b);
  const total = left.length + right.length;
  if (total === 0) return 1.0;
  return (2.0 * matchingCharacters(left, right, options.autojunk ?? true)) / total;
}

/** Sum of the sizes of `get_matching_blocks()`. */
export function matchingCharacters(a: readonly string[], b: readonly string[], autojunk = true): number {
  const positionsInB = new Map<string, number[]>();
  b.forEach((element, index) => {
    const list = positionsInB.get(element);
    if (list) list.push(index); else positionsInB.set(element, [index]);
  });
  if (autojunk && b.length >= 200) {
    const limit = Math.floor(b.length / 100) + 1;
    for (const [element, list] of positionsInB) if (list.length > limit) positionsInB.delete(element);
  }
  let matched = 0;
  const queue: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [aLow, aHigh, bLow, bHigh] = queue.pop()!;
    const [i, j, size] = longestMatch(a, b, positionsInB, aLow, aHigh, bLow, bHigh);
    if (size === 0) continue;
    matched += size;
    if (aLow < i && bLow < j) queue.push([aLow, i, bLow, j]);
    if (i + size < aHigh && j + size < bHigh) queue.push([i + size, aHigh, j + size, bHigh]);
  }
  return matched;
}

/** `find_longest_match` with no junk function: popular elements only stop a match from starting. */
function longestMatch(
  a: readonly string[], b: readonly string[], positionsInB: ReadonlyMap<string, number[]>,
  aLow: number, aHigh: number, bLow: number, bHigh: number,
): [number, number, number] {
  let bestI = aLow, bestJ = bLow, bestSize = 0;
  // runEndingAt.get(j) = length of the match ending at a[i-1], b[j].
  let runEndingAt = new Map<number, number>();
  for (let i = aLow; i < aHigh; i++) {
    const next = new Map<number, number>();
    for (const j of positionsInB.get(a[i]!) ?? []) {
      if (j < bLow) continue;
      if (j >= bHigh) break;
      const size = (runEndingAt.get(j - 1) ?? 0) + 1;
      next.set(j, size);
      if (size > bestSize) { bestI = i - size + 1; bestJ = j - size + 1; bestSize = size; }
    }
    runEndingAt = next;
  }
  while (bestI > aLow && bestJ > bLow && a[bestI - 1] === b[bestJ - 1]) { bestI--; bestJ--; bestSize++; }
  while (bestI + bestSize < aHigh && bestJ + bestSize < bHigh && a[bestI + bestSize] === b[bestJ + bestSize]) bestSize++;
  return [bestI, bestJ, bestSize];
}
