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

/**
 * A value for an error message, as compact JSON (`[1,"a",{"k":null}]`) but bounded: at most 4 levels deep, 8 items
 * per list or object, strings cut at 40 characters and the whole at `max` characters, control characters escaped.
 * JSON.stringify of a value read from a damaged file overflowed the stack on a deeply nested one (the process then
 * said only "Maximum call stack size exceeded") and printed a huge one whole. Non-finite numbers show as such.
 */
export function shortJson(v: unknown, max = 80): string {
  let out = '';
  const walk = (x: unknown, depth: number): void => {
    if (out.length > max) return;
    if (typeof x === 'string') out += JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    else if (x === null || typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint' || x === undefined) out += String(x);
    else if (typeof x !== 'object') out += typeof x;
    else if (Array.isArray(x)) {
      if (depth >= 4) { out += x.length ? '[…]' : '[]'; return; }
      out += '[';
      for (let i = 0; i < Math.min(x.length, 8) && out.length <= max; i++) { if (i) out += ','; walk(x[i], depth + 1); }
      out += x.length > 8 ? ',…]' : ']';
    } else {
      const keys = Object.keys(x);
      if (depth >= 4) { out += keys.length ? '{…}' : '{}'; return; }
      out += '{';
      for (let i = 0; i < Math.min(keys.length, 8) && out.length <= max; i++) {
        if (i) out += ',';
        walk(keys[i]!, depth + 1);
        out += ':';
        walk((x as Record<string, unknown>)[keys[i]!], depth + 1);
      }
      out += keys.length > 8 ? ',…}' : '}';
    }
  };
  walk(v, 0);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
