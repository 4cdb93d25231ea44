/** Tokenizers for the generated-task tests: the real TinyStories tokenizer, and a character-level one. */
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../../src/models/types.js';

export const SHARED = '../shared';
export const TINYSTORIES_DIR = `${SHARED}/models/tinystories-656k`;
export const PG_ESSAYS_DIR = `${SHARED}/data/pg-essays`;

let tinyStories: Tokenizer | null = null;

/** The TinyStories-656K tokenizer.json through @huggingface/tokenizers (BOS added, as its post-processor says). */
export function tinyStoriesTokenizer(): Tokenizer {
  if (tinyStories) return tinyStories;
  const hf = new HfTokenizer(
    JSON.parse(readFileSync(`${TINYSTORIES_DIR}/tokenizer.json`, 'utf8')),
    JSON.parse(readFileSync(`${TINYSTORIES_DIR}/tokenizer_config.json`, 'utf8')),
  );
  tinyStories = {
    vocabSize: 2048,
    bosTokenId: 1,
    eosTokenIds: [2],
    encode: (text, options) => hf.encode(text, { add_special_tokens: options?.addBos ?? true }).ids,
    decode: (ids, options) => hf.decode([...ids], { skip_special_tokens: options?.skipSpecial ?? true }),
  };
  return tinyStories;
}

/**
 * One token per Unicode code point plus BOS: how a Japanese-capable vocabulary roughly behaves on kana and kanji
 * (the TinyStories vocabulary folds a whole run of Japanese characters into one <unk>).
 */
export const codePointTokenizer: Tokenizer = {
  vocabSize: 0x110000,
  bosTokenId: 0,
  eosTokenIds: [],
  encode: (text, options) => {
    const ids = Array.from(text, (c) => c.codePointAt(0)!);
    return options?.addBos === false ? ids : [0, ...ids];
  },
  decode: (ids) => String.fromCodePoint(...ids.filter((i) => i !== 0)),
};
