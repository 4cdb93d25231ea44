/** A value as an error message shows it: strings quoted, numbers and the like as written, other values by their kind. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Refuses keys of an options object that `known` does not list (a misspelt or snake_case name, `max_new_tokens`,
 * was ignored and its default used without a word), suggesting the known name it most likely meant.
 */
export function checkOptionKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const lower = key.toLowerCase();
    const starts = lower.length >= 3 ? known.filter((k) => k.toLowerCase().startsWith(lower)) : [];
    const close = known.find((k) => editDistance(k.toLowerCase(), lower) <= 2);
    const guesses = known.includes(camel) ? [camel] : starts.length > 0 ? starts : close ? [close] : [];
    const hint = guesses.length ? ` (did you mean ${guesses.map((g) => `"${g}"`).join(' or ')}?)` : '';
    throw new TypeError(`${where}: unknown option "${key}"${hint}; the options are ${known.join(', ')}`);
  }
}

/** Levenshtein distance (short option names only). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
