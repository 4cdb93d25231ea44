/**
 * Python's semantics for the strings and numbers of chat templates (jinja2 runs templates in Python, transformers
 * renders them there): how str, repr and json.dumps write numbers and strings, the str methods and jinja2 filters whose
 * JavaScript namesakes differ, and the arithmetic whose signs and rounding differ. Plain values in, plain values out;
 * chat.ts applies them to the template library's values.
 */

/**
 * Python's repr of a float, which str() and json.dumps write too: the shortest digits that read back as the same
 * number (as JavaScript's), in positional form from 1e-4 up to 1e16 with at least one decimal ("1.0", "0.0001",
 * "1000000000000000.0"), in exponent form outside it, the exponent signed and of two digits at least ("1e+20", "1e-05").
 */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e') as [string, string];
  const e = Number(exponent), digits = mantissa.replace('.', '');
  if (e < -4 || e >= 16) return `${sign}${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  return `${sign}${digits.slice(0, e + 1).padEnd(e + 1, '0')}.${digits.slice(e + 1) || '0'}`;
}

/**
 * Python's str of an int held as a JavaScript number: every digit ("1000000000000000000000", where JavaScript writes
 * 1e+21 from 10^21 up). Past 2^53 the number is the double the template's arithmetic made (Python's ints are exact;
 * the template library's are doubles), written out exactly as Python would write that int.
 */
export function pythonInt(x: number): string {
  return Number.isSafeInteger(x) || !Number.isInteger(x) ? String(x) : BigInt(x).toString();
}

/** Characters Python's repr escapes (str.isprintable is false): controls, format, separators, surrogates, private use, unassigned. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr of a str: single quotes unless it holds ' and no ", backslash escapes for what is not printable. */
export function pythonStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) {
      const c = ch.codePointAt(0)!;
      out += c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : c < 0x10000 ? `\\u${c.toString(16).padStart(4, '0')}` : `\\U${c.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** Code-point order (Python's for str), not UTF-16 order (JavaScript's sort) nor the locale's. */
export function byCodePoint(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Python's whitespace (str.isspace, what str.strip() and a regular expression's \s take): JavaScript's trim also
 * takes U+FEFF, and not U+001C–U+001F or U+0085.
 */
const PY_SPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** str.strip / lstrip / rstrip: the characters of `chars` (code points; whitespace when null) taken off the ends. */
export function pythonStrip(s: string, chars: string | null, ends: 'both' | 'left' | 'right'): string {
  const drop = new Set(chars ?? PY_SPACE);
  const cps = [...s];
  let i = 0, j = cps.length;
  if (ends !== 'right') while (i < j && drop.has(cps[i]!)) i++;
  if (ends !== 'left') while (j > i && drop.has(cps[j - 1]!)) j--;
  return cps.slice(i, j).join('');
}

/** Title case where it is not upper case (Unicode's SpecialCasing and the four digraphs); otherwise upper case. */
const TITLE: Record<string, string> = {
  'ǆ': 'ǅ', 'ǅ': 'ǅ', 'Ǆ': 'ǅ', 'ǉ': 'ǈ', 'ǈ': 'ǈ', 'Ǉ': 'ǈ', 'ǌ': 'ǋ', 'ǋ': 'ǋ', 'Ǌ': 'ǋ', 'ǳ': 'ǲ', 'ǲ': 'ǲ', 'Ǳ': 'ǲ',
  'ß': 'Ss', 'ﬀ': 'Ff', 'ﬁ': 'Fi', 'ﬂ': 'Fl', 'ﬃ': 'Ffi', 'ﬄ': 'Ffl', 'ﬅ': 'St', 'ﬆ': 'St',
};
const titleChar = (c: string) => TITLE[c] ?? c.toUpperCase();

/** str.capitalize (Python 3.8 on): the first character in title case, the rest in lower case. */
export function pythonCapitalize(s: string): string {
  const first = [...s][0];
  if (first === undefined) return '';
  // Lowered whole so that a final sigma is lowered in its context; the first character's lowering never depends on it.
  return titleChar(first) + s.toLowerCase().slice(first.toLowerCase().length);
}

const CASED = /\p{Cased}/u, CASE_IGNORABLE = /\p{Case_Ignorable}/u;

/** Whether the Σ at code point `i` of `cps` ends a word (Unicode's Final_Sigma context, as Python's lower() applies it). */
function finalSigma(cps: string[], i: number): boolean {
  let j = i - 1;
  while (j >= 0 && CASE_IGNORABLE.test(cps[j]!)) j--;
  if (j < 0 || !CASED.test(cps[j]!)) return false;
  j = i + 1;
  while (j < cps.length && CASE_IGNORABLE.test(cps[j]!)) j++;
  return j === cps.length || !CASED.test(cps[j]!);
}

/** str.title: a cased character after a cased one in lower case, any other in title case ("a-b_c d" → "A-B_C D"). */
export function pythonTitle(s: string): string {
  const cps = [...s];
  let out = '', previousCased = false;
  cps.forEach((c, i) => {
    out += !previousCased ? titleChar(c) : c === 'Σ' ? (finalSigma(cps, i) ? 'ς' : 'σ') : c.toLowerCase();
    previousCased = CASED.test(c);
  });
  return out;
}

/**
 * jinja2's `title` filter (not str.title): the text split before runs of whitespace, -, (, {, [ and <, each piece's
 * first character in upper case and the rest in lower case ("a-b_c d" → "A-B_c D").
 */
export function jinjaTitle(s: string): string {
  return s.split(/([-\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000({[<]+)/u)
    .filter((piece) => piece !== '')
    .map((piece) => {
      const first = [...piece][0]!;
      return first.toUpperCase() + piece.slice(first.length).toLowerCase();
    }).join('');
}

/** Python's x % y: the sign of the divisor (-7 % 3 is 2); ZeroDivisionError's message for a zero divisor. */
export function pythonMod(x: number, y: number, float: boolean): number {
  if (y === 0) throw new Error(float ? 'float modulo' : 'integer modulo by zero');
  let mod = x % y; // C's fmod, as CPython's float_rem starts
  if (mod !== 0) {
    if ((y < 0) !== (mod < 0)) mod += y;
  } else mod = y < 0 ? -0 : 0;
  return float ? mod : mod + 0;
}

/** Python's x // y: floor division, for floats as CPython's float_floordiv computes it (1 // 0.1 is 9.0, not 10.0). */
export function pythonFloorDiv(x: number, y: number, float: boolean): number {
  if (y === 0) throw new Error(float ? 'float floor division by zero' : 'integer division or modulo by zero');
  if (!float && Number.isSafeInteger(x) && Number.isSafeInteger(y)) {
    const q = BigInt(x) / BigInt(y), exact = q * BigInt(y) === BigInt(x);
    return Number(!exact && (x < 0) !== (y < 0) ? q - 1n : q);
  }
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod !== 0) {
    if ((y < 0) !== (mod < 0)) { mod += y; div -= 1; }
  }
  if (div === 0) return (x / y < 0 || Object.is(x / y, -0)) ? -0 : 0;
  let floor = Math.floor(div);
  if (div - floor > 0.5) floor += 1;
  return floor;
}

/** Python's x / y (true division), with ZeroDivisionError's message for a zero divisor where JavaScript gives ±inf or NaN. */
export function pythonDiv(x: number, y: number, float: boolean): number {
  if (y === 0) throw new Error(float ? 'float division by zero' : 'division by zero');
  return x / y;
}

/** Python's float() of a str: its literal forms after whitespace ("1e3", " 2.5 ", "1_000.5", "inf", "nan"), else null. */
export function pythonParseFloat(s: string): number | null {
  const t = pythonStrip(s, null, 'both');
  const digits = '\\d(?:_?\\d)*';
  if (new RegExp(`^[+-]?(?:(?:${digits})(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`).test(t)) return Number(t.replace(/_/g, ''));
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (!m) return null;
  return m[2]!.toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
}

/**
 * jinja2's `int` filter on a str: int(s) (base 10, whitespace and underscores as Python takes them), else
 * int(float(s)) (truncated), else the default.
 */
export function jinjaIntOfString(s: string, fallback: number): number {
  const t = pythonStrip(s, null, 'both');
  if (/^[+-]?\d(?:_?\d)*$/.test(t)) return Number(t.replace(/_/g, ''));
  return jinjaIntOfFloat(pythonParseFloat(s) ?? NaN, fallback);
}

/** jinja2's `int` filter on a float: truncated; NaN gives the default (Python's ValueError), ±inf fails (OverflowError). */
export function jinjaIntOfFloat(x: number, fallback: number): number {
  if (Number.isNaN(x)) return fallback;
  if (!Number.isFinite(x)) throw new Error('cannot convert float infinity to integer');
  return Math.trunc(x) + 0;
}
