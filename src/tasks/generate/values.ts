/** Random needle keys and values, all drawn from the seeded Rng (never Math.random). */
import type { Rng } from '../../util/rng.js';
import { englishAdjectives, englishNouns } from '../wordlists.js';

export type ValueKind = 'numbers' | 'words' | 'uuids';

/** A 7-digit number without a leading zero (RULER's needle values). */
export function sevenDigitNumber(rng: Rng): string {
  return String(1_000_000 + rng.int(9_000_000));
}

/** A string of `digits` decimal digits whose first digit is not zero, so "first integer equals" is unambiguous. */
export function digitString(rng: Rng, digits: number): string {
  let s = String(1 + rng.int(9));
  for (let i = 1; i < digits; i++) s += String(rng.int(10));
  return s;
}

/** An RFC 4122 version-4-shaped UUID from 128 seeded bits. */
export function uuid(rng: Rng): string {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const x = rng.nextU32();
    bytes[i] = x >>> 24; bytes[i + 1] = (x >>> 16) & 0xff; bytes[i + 2] = (x >>> 8) & 0xff; bytes[i + 3] = x & 0xff;
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10xx
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An adjective-noun pair such as "quiet-garden" (RULER's word keys and word values). */
export function adjectiveNoun(rng: Rng): string {
  return `${rng.pick(englishAdjectives())}-${rng.pick(englishNouns())}`;
}

export function drawValue(rng: Rng, kind: ValueKind): string {
  switch (kind) {
    case 'numbers': return sevenDigitNumber(rng);
    case 'words': return adjectiveNoun(rng);
    case 'uuids': return uuid(rng);
  }
}

/**
 * Draws `count` values that differ from each other and from everything in `taken` (which is extended), by
 * rejection; throws instead of looping forever when the space is too small.
 */
export function drawDistinct(rng: Rng, count: number, draw: (rng: Rng) => string, taken: Set<string>): string[] {
  const out: string[] = [];
  let misses = 0;
  while (out.length < count) {
    const v = draw(rng);
    if (taken.has(v)) {
      if (++misses > 1000 + 10 * count) throw new Error(`cannot draw ${count} distinct values: the value space is exhausted`);
      continue;
    }
    taken.add(v);
    out.push(v);
  }
  return out;
}

/** `count` distinct words of `length` random lowercase letters (fwe's coded words). */
export function codedWords(rng: Rng, count: number, length: number, taken = new Set<string>()): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return drawDistinct(rng, count, (r) => {
    let w = '';
    for (let i = 0; i < length; i++) w += letters[r.int(26)];
    return w;
  }, taken);
}

/**
 * Every run of `length` letters inside the texts, lower-cased. Coded words drawn with these in `taken` never occur
 * in the texts (the prompt's fixed wording), so string_match_all, which looks for each answer in the prediction in
 * lower case, cannot credit a prediction that merely repeats the instructions.
 */
export function letterRuns(texts: readonly string[], length: number): Set<string> {
  const runs = new Set<string>();
  for (const text of texts) {
    for (const word of text.toLowerCase().split(/[^a-z]+/)) {
      for (let i = 0; i + length <= word.length; i++) runs.add(word.slice(i, i + length));
    }
  }
  return runs;
}

/** `count` distinct variable names of 5 random capital letters (vt). */
export function variableNames(rng: Rng, count: number): string[] {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  return drawDistinct(rng, count, (r) => {
    let w = '';
    for (let i = 0; i < 5; i++) w += letters[r.int(26)];
    return w;
  }, new Set());
}

/** The i-th of `steps` evenly spaced depths in percent between 0 and 100 (RULER uses 40 of them). */
export function depthGrid(steps: number): number[] {
  if (steps === 1) return [50];
  return Array.from({ length: steps }, (_, i) => (100 * i) / (steps - 1));
}

/** Counts non-overlapping occurrences of `needle` in `text`. */
export function countOccurrences(text: string, needle: string): number {
  if (needle.length === 0) throw new Error('countOccurrences: empty needle');
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}
