/**
 * Python `str` semantics that the official metric code relies on. JavaScript differs in small ways that change
 * scores: its `\s` includes the BOM but not U+001C..U+001F or U+0085, its `\b`/`\d` are ASCII-only, and its strings
 * are indexed in UTF-16 units rather than code points.
 */

/** Characters for which Python's `str.isspace()` is true (Unicode 14, as in CPython 3.11). */
const PY_WHITESPACE_CLASS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE_CLASS}]+`, 'u');

/** Python's `\w` for str patterns: letters, numbers of every kind, and the underscore (not combining marks). */
export const PY_WORD_CHAR_CLASS = '[\\p{L}\\p{N}_]';

/** Python's `\d` for str patterns: every decimal digit (category Nd), full-width and other scripts included. */
export const PY_DIGIT_RUN = /\p{Nd}+/gu;

/** Python `str.split()` with no argument: split on runs of Python whitespace, no empty pieces. */
export function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE_RUN).filter((piece) => piece.length > 0);
}

/** `" ".join(text.split())`: collapse Python whitespace runs to one space and trim. */
export function collapseWhitespace(text: string): string {
  return pySplit(text).join(' ');
}

/**
 * Python `str.lower()`. Both languages apply the full Unicode lower-case mapping without locale: `İ` becomes two
 * code points (i + U+0307), `ß` stays, and a word-final `Σ` becomes `ς`.
 */
export function pyLower(text: string): string {
  return text.toLowerCase();
}

/** Python `text.lstrip('\n')`: only line feeds are stripped. */
export function stripLeadingNewlines(text: string): string {
  let start = 0;
  while (start < text.length && text.charCodeAt(start) === 10) start++;
  return text.slice(start);
}

/** `re.findall(r"\d+", text)` with Python's Unicode `\d`. */
export function digitRuns(text: string): string[] {
  return text.match(PY_DIGIT_RUN) ?? [];
}

/** The code points of a string (Python indexes and measures strings this way). */
export function codePoints(text: string): string[] {
  return Array.from(text);
}
