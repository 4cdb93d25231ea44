/**
 * IncrementalDecoder: at every step its text is the whole decode of the tokens so far, and the work per step does not
 * grow with the output (generate decoded the whole output at every step, O(n²) per call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { SpmTokenizer } from '../../src/models/tokenizers/spm.js';
import { decodeAfter, IncrementalDecoder } from '../../src/runtime/detokenize.js';
import type { Tokenizer } from '../../src/models/types.js';
import { tempDir } from '../helpers/temp.js';

/** The tokenizer with a count of the ids it was asked to decode. */
function counting(tok: Tokenizer): { tok: Tokenizer; decoded: () => number } {
  let n = 0;
  const wrapped: Tokenizer = {
    vocabSize: tok.vocabSize, bosTokenId: tok.bosTokenId, eosTokenIds: tok.eosTokenIds,
    encode: (text, options) => tok.encode(text, options),
    decode: (ids, options) => { n += ids.length; return tok.decode(ids, options); },
  };
  return { tok: wrapped, decoded: () => n };
}

/** Pushes ids one at a time, checking the text and `changedFrom` against whole decodes at every step. */
function checkEveryStep(tok: Tokenizer, ids: readonly number[], label: string, context: readonly number[] = []): IncrementalDecoder {
  const d = new IncrementalDecoder(tok, context);
  let before = '';
  for (let i = 0; i < ids.length; i++) {
    const text = d.push(ids[i]!);
    const whole = decodeAfter(tok, context, ids.slice(0, i + 1));
    if (text !== whole) assert.fail(`${label}: after ${i + 1} tokens the text is ${JSON.stringify(text.slice(-40))}, the whole decode ends ${JSON.stringify(whole.slice(-40))}`);
    assert.equal(d.text, text);
    const from = d.changedFrom;
    if (before.slice(0, from) !== text.slice(0, from)) assert.fail(`${label}: step ${i + 1} changed the text before changedFrom = ${from}`);
    before = text;
  }
  return d;
}

/** A seeded stream of ids drawn mostly from `pool` (specials, bytes, spaces: where decoding is least local). */
function mixedIds(seed: number, n: number, vocab: number, pool: readonly number[]): number[] {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => (rnd() < 0.6 ? pool[Math.floor(rnd() * pool.length)]! : Math.floor(rnd() * vocab)));
}

const ESSAYS = '../shared/data/pg-essays';
const ESSAY = readdirSync(ESSAYS).filter((f) => f.endsWith('.txt')).sort().slice(0, 4).map((f) => readFileSync(join(ESSAYS, f), 'utf8')).join('\n\n');

for (const path of ['models/namm-tiny-gpt2', 'models/namm-tiny-llama', '../shared/models/tinystories-656k']) {
  test(`IncrementalDecoder on ${path}: the whole decode at every step, linear work on text`, async () => {
    const tok = await loadTokenizer(path);
    const special = [...new Set([tok.bosTokenId ?? 0, ...tok.eosTokenIds])];
    // Byte-level or byte-fallback pieces, lone spaces and punctuation: the ids of a few awkward strings.
    const awkward = [...new Set(tok.encode(' é 日本 🙂 . , n\'t  ? ! \n\n', { addBos: false }))];
    for (let seed = 1; seed <= 6; seed++) checkEveryStep(tok, mixedIds(seed, 300, tok.vocabSize, [...special, ...awkward]), `${path} seed ${seed}`);

    const ids = tok.encode(ESSAY, { addBos: false }).slice(0, 3000);
    assert.ok(ids.length >= 2000, `${ids.length} tokens of essay`);
    checkEveryStep(tok, ids.slice(0, 600), `${path} essay`);
    const { tok: counted, decoded } = counting(tok);
    const d = new IncrementalDecoder(counted);
    for (const id of ids) d.push(id);
    assert.equal(d.text, tok.decode(ids));
    // ~40 ids per step for the window and its anchor, and ~2n for the checks at each doubling; a whole decode at
    // every step is n²/2 (4.5 M here).
    assert.ok(decoded() < 120 * ids.length, `${decoded()} ids decoded for ${ids.length} tokens`);
  });
}

test('IncrementalDecoder with a context: the text the output adds after the tokens before it, at every step', async () => {
  // A continuation's output decoded on its own lost a SentencePiece tokenizer's leading space ("Once upon a time," +
  // "an ordinary"), and began with U+FFFD when the sequence stopped in the middle of a character.
  const ts = await loadTokenizer('../shared/models/tinystories-656k');
  const prompt = ts.encode('Once upon a time,');
  // What the test model continues it with, greedily (its first token is "▁an▁").
  const out = [1137, 117, 1513, 101, 87, 1076];
  assert.equal(ts.decode(out), 'an ordinary cat named ', 'alone, the leading space is stripped');
  const d0 = new IncrementalDecoder(ts, prompt.slice(-8));
  for (const id of out) d0.push(id);
  assert.equal(d0.text, ' an ordinary cat named ');
  assert.equal(decodeAfter(ts, prompt, out), ' an ordinary cat named ');
  const gpt2 = await loadTokenizer('models/namm-tiny-gpt2');
  const emoji = gpt2.encode('a😀b', { addBos: false });
  assert.equal(gpt2.decode(emoji.slice(0, 2)), 'a\uFFFD', 'the context ends in the middle of the emoji');
  const d = new IncrementalDecoder(gpt2, Int32Array.from(emoji.slice(0, 2)) as never);
  for (const id of emoji.slice(2)) d.push(id);
  assert.equal(d.text, '😀b', 'the continuation completes the character');
  for (const path of ['models/namm-tiny-gpt2', 'models/namm-tiny-llama', '../shared/models/tinystories-656k']) {
    const tok = await loadTokenizer(path);
    const special = [...new Set([tok.bosTokenId ?? 0, ...tok.eosTokenIds])];
    const awkward = [...new Set(tok.encode(' é 日本 🙂 . , n\'t  ? ! \n\n', { addBos: false }))];
    for (let seed = 1; seed <= 4; seed++) {
      const ids = mixedIds(seed, 200, tok.vocabSize, [...special, ...awkward]);
      checkEveryStep(tok, ids.slice(20 + seed), `${path} seed ${seed} after context`, ids.slice(0, 20 + seed));
    }
  }
});

test('IncrementalDecoder: a SentencePiece text whose leading space is stripped, after special and byte tokens', () => {
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const tokens = ['<unk>', '<s>', '</s>', '▁', '▁a', 'b', '▁cat', '.', ' ', ...bytes];
  const tok = new SpmTokenizer({ tokens, scores: tokens.map(() => 0), bosTokenId: 1, eosTokenIds: [2], unkTokenId: 0, spaceSymbol: '▁', addSpacePrefix: true, addBosByDefault: true, origin: 't' });
  const byte = (b: number) => 9 + b;
  // Runs of control tokens (decoded to nothing) long enough to fill a whole context, then a token with a leading
  // space: decoded alone after an empty context, that space would be stripped as the start of a text.
  const ids: number[] = [];
  for (let k = 0; k < 12; k++) ids.push(...Array(20 + k).fill(k % 2 ? 1 : 2), 6, 3, 4, 5, 7, byte(0xc3), byte(0xa9), 8);
  checkEveryStep(tok, ids, 'spm specials');
  checkEveryStep(tok, mixedIds(7, 800, tokens.length, [1, 2, 3, 8, byte(0xf0), byte(0x9f), byte(0x99), byte(0x82), byte(0xc3), byte(0xa9)]), 'spm mixed');
});

test('IncrementalDecoder: a tokenizer that cleans up spaces (" ." → ".") across the anchor', async () => {
  // The shipped GPT-2 tokenizer with clean_up_tokenization_spaces on (the library's default when a folder does not
  // say): a "." changes the text before it, which the window notices and answers with a whole decode.
  const dir = tempDir('namm-detok-');
  try {
    copyFileSync('models/namm-tiny-gpt2/tokenizer.json', join(dir, 'tokenizer.json'));
    const config = JSON.parse(readFileSync('models/namm-tiny-gpt2/tokenizer_config.json', 'utf8'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, clean_up_tokenization_spaces: true }));
    const tok = await loadTokenizer(dir);
    const piece = (t: string) => tok.encode(t, { addBos: false });
    assert.equal(tok.decode([...piece('a'), ...piece(' '), ...piece('.')]), 'a.', 'the copy cleans up');
    const specials = [...new Set([tok.bosTokenId!, ...tok.eosTokenIds])];
    const pool = [...new Set([...piece(' '), ...piece('.'), ...piece(','), ...piece('n'), ...piece("'t"), ...piece(' the'), ...piece('?'), ...piece("'"), ...piece('s'), ...specials, ...specials])];
    for (let seed = 11; seed <= 30; seed++) checkEveryStep(tok, mixedIds(seed, 400, tok.vocabSize, pool), `cleanup seed ${seed}`);
    // Eight tokens of context that decode to one quote (seven special tokens after it): the " 's" a later "s" makes
    // removes the space before them, which a context of eight tokens did not hold.
    const quoteAfterSpecials = [...Array(8).fill(piece(' a')).flat(), ...piece(' '), ...piece("'"), ...Array(7).fill(specials[0]!), ...piece('s')];
    checkEveryStep(tok, [...quoteAfterSpecials, ...quoteAfterSpecials, ...quoteAfterSpecials], 'quote after specials');
    // Text without the patterns is still decoded in windows: linear work.
    const ids = tok.encode(ESSAY.replace(/ ([.,?!])/g, '$1'), { addBos: false }).slice(0, 2000);
    const { tok: counted, decoded } = counting(tok);
    const d = new IncrementalDecoder(counted);
    for (const id of ids) d.push(id);
    assert.equal(d.text, tok.decode(ids));
    assert.ok(decoded() < 120 * ids.length, `${decoded()} ids decoded for ${ids.length} tokens`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A tokenizer over letters (id i is the letter i mod 26) whose decode applies `rule` to the whole list. */
function letters(rule: (ids: readonly number[], text: string) => string): Tokenizer {
  return {
    vocabSize: 26, bosTokenId: null, eosTokenIds: [],
    encode: () => { throw new Error('not used'); },
    decode: (ids) => rule(ids, ids.map((i) => String.fromCharCode(97 + (i % 26))).join('')),
  };
}

test('IncrementalDecoder: a decoding that is not local is caught: at once where the window shows it, else at the next check', () => {
  const stream = mixedIds(21, 400, 25, [3, 4]).map((i) => i + 1);
  // One token changes the whole text (an "a" anywhere upper-cases everything): the window's context no longer
  // reads as it did, so that step and every later one take the whole decode.
  const shouting = letters((ids, text) => (ids.includes(0) ? text.toUpperCase() : text));
  checkEveryStep(shouting, [...stream.slice(0, 200), 0, ...stream.slice(200)], 'shouting');
  // A change the window cannot see (a mark at the front from 100 tokens on): the check at 128 tokens finds it, and
  // from then on the text is the whole decode.
  const marked = letters((ids, text) => (ids.length >= 100 ? '#' : '') + text);
  const d = new IncrementalDecoder(marked);
  for (let i = 0; i < stream.length; i++) {
    const text = d.push(stream[i]!);
    if (i + 1 < 100 || i + 1 >= 128) assert.equal(text, marked.decode(stream.slice(0, i + 1)), `after ${i + 1} tokens`);
    if (i + 1 === 128) assert.equal(d.changedFrom, 0, 'the check changed the front of the text');
  }
});

test('IncrementalDecoder: an id the tokenizer refuses is not kept; the decoder goes on as if it had not been pushed', async () => {
  // It stayed in the list, and every later push of a valid id failed with its error.
  const tok = await loadTokenizer('models/namm-tiny-llama');
  const ids = tok.encode(ESSAY.slice(0, 2000), { addBos: false }).slice(0, 200);
  const d = new IncrementalDecoder(tok);
  for (let i = 0; i < ids.length; i++) {
    if (i === 3 || i === 100) {
      for (const bad of [-1, 1.5, Number.NaN]) {
        assert.throws(() => d.push(bad), new RegExp(`^RangeError: IncrementalDecoder.push: the tokenizer refused token ${bad} \\(`), String(bad));
      }
      assert.throws(() => d.push('3' as never), /^TypeError: IncrementalDecoder.push: a token id must be a number, got string$/);
    }
    assert.equal(d.push(ids[i]!), tok.decode(ids.slice(0, i + 1)), `step ${i + 1}`);
  }
});
