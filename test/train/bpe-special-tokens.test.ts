/** trainBpe's special tokens: only strings the vocabulary and tokenizer.json represent faithfully, and checked options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';
import { bpeTokenizerConfig, bpeTokenizerJson, DEFAULT_SPECIAL_TOKENS, trainBpe, type SpecialTokens } from '../../src/train/bpe.js';

const texts = ['the cat sat on the mat. PAD,PAD ab,ab,ab,ab <<,<<,<< it\'ll', 'The dog ate the bone. hello ab the the the'];
const train = (specialTokens: Partial<SpecialTokens> | unknown, vocabSize = 300) =>
  trainBpe(texts, { vocabSize, specialTokens: { ...DEFAULT_SPECIAL_TOKENS, ...(specialTokens as object) } as SpecialTokens });

function tokenizerOf(specialTokens: SpecialTokens): HfTokenizer {
  const bpe = trainBpe(texts, { vocabSize: 300, specialTokens });
  return new HfTokenizer({ tokenizerJson: JSON.parse(JSON.stringify(bpeTokenizerJson(bpe))), tokenizerConfig: bpeTokenizerConfig(bpe, 64), origin: 'test' });
}

test('a special token that is a byte-level character is refused (it took the byte token\'s id and lost its own)', () => {
  assert.throws(() => train({ pad: 'a' }), (e: Error) => e instanceof RangeError
    && e.message === 'specialTokens.pad "a" is the byte-level token of byte 0x61, which has an id of its own; use a marker such as "<|pad|>"');
  assert.throws(() => train({ eos: 'Ġ' }), /^RangeError: specialTokens\.eos "Ġ" is the byte-level token of byte 0x20, which has an id of its own/);
  assert.throws(() => train({ bos: 'é' }), /specialTokens\.bos "é" is the byte-level token of byte 0xe9/);
});

test('a special token the BPE can learn as an ordinary token is refused (the merge gave the string a second id)', () => {
  // "ab", "PAD" and "<<" are learnt as merges from these texts: with the old code tokenizer.json's vocab mapped such a
  // special token to the merge's id, not to 0.
  const learnt = trainBpe(texts, { vocabSize: 300 }).vocab;
  for (const piece of ['ab', 'PAD', '<<']) assert.ok(learnt.includes(piece), piece);
  for (const token of ['ab', 'PAD', '<<', '<|>', "'ll", "'l"]) {
    assert.throws(() => train({ pad: token }), (e: Error) => e instanceof RangeError && e.message === `specialTokens.pad ${JSON.stringify(token)} is a piece the BPE can learn as an ordinary token (a run of letters or of punctuation), which would give it two ids; use a marker such as "<|pad|>"`, token);
  }
});

test('a special token spelt in the byte-level alphabet but not printable ASCII is refused (decoders read it as bytes)', () => {
  assert.throws(() => train({ pad: '<é>' }), (e: Error) => e instanceof RangeError
    && e.message === 'specialTokens.pad "<é>" is spelt only in the byte-level alphabet and is not printable ASCII: a byte-level decoder reads such a token as the bytes its characters stand for, not as its text; use a marker such as "<|pad|>"');
  assert.throws(() => train({ bos: '<ĠsĠ>' }), /specialTokens\.bos "<ĠsĠ>" is spelt only in the byte-level alphabet and is not printable ASCII/);
  assert.throws(() => train({ eos: '<\ud800>' }), /^RangeError: specialTokens\.eos "<\\ud800>" holds a lone surrogate, which UTF-8 \(tokenizer\.json\) cannot hold/);
});

test('overlapping special tokens are refused: one inside another, or one ending where another starts', () => {
  assert.throws(() => train({ pad: '<s>', bos: 'x<s>' }), (e: Error) => e instanceof RangeError
    && e.message === 'specialTokens.bos "x<s>" contains specialTokens.pad "<s>"; special tokens must not overlap');
  assert.throws(() => train({ pad: '<s', bos: 's>' }), (e: Error) => e instanceof RangeError
    && e.message === 'specialTokens.pad "<s" ends with "s", which specialTokens.bos "s>" starts with; special tokens must not overlap');
  assert.throws(() => train({ eos: '<e<e' }), /^RangeError: specialTokens\.eos "<e<e" ends with "<e", which it also starts with; special tokens must not overlap$/);
});

test('special tokens must be three distinct non-empty strings, and nothing else', () => {
  assert.throws(() => train({ bos: '<|pad|>' }), /^RangeError: pad, bos and eos tokens must be three distinct non-empty strings, got "<\|pad\|>", "<\|pad\|>", "<\|eos\|>"$/);
  assert.throws(() => train({ eos: '' }), /^RangeError: specialTokens\.eos "" is empty/);
  assert.throws(() => train({ eos: 2 }), /^TypeError: specialTokens\.eos must be a string, got 2$/);
  assert.throws(() => train({ bos: undefined }), /^TypeError: specialTokens\.bos must be a string, got undefined$/);
  assert.throws(() => train({ unk: '<|unk|>' }), /^RangeError: unknown special token "unk" \(expected: pad, bos, eos\)$/);
  assert.throws(() => trainBpe(texts, { vocabSize: 300, specialTokens: null as never }), /^TypeError: specialTokens must be an object \{pad, bos, eos\} of strings, got null$/);
});

test('trainBpe refuses unknown options, non-object options and texts that are not an iterable of strings', () => {
  assert.throws(() => trainBpe(texts, { vocabSize: 300, minFrequncy: 1 } as never),
    /^RangeError: unknown trainBpe option "minFrequncy" \(expected one of: vocabSize, specialTokens, minFrequency\)$/);
  assert.throws(() => trainBpe(texts, null as never), /^TypeError: options must be an object \{vocabSize, …\}, got null$/);
  assert.throws(() => trainBpe('the cat' as never, { vocabSize: 300 }), /^TypeError: texts must be an iterable \(an array, …\) of strings, got one string$/);
  assert.throws(() => trainBpe(['a', 5] as never, { vocabSize: 300 }), /^TypeError: texts: item 1 must be a string, got 5$/);
  assert.throws(() => trainBpe(texts, { vocabSize: Number.NaN }), /^RangeError: vocabSize must be an integer within 259\.\.262144/);
  assert.throws(() => trainBpe(texts, { vocabSize: 300, minFrequency: 0 }), /^RangeError: minFrequency must be an integer ≥ 1, got 0$/);
});

test('faithful special tokens are kept, and each encodes to its own id and decodes to itself', () => {
  const defaults = trainBpe(texts, { vocabSize: 300 });
  assert.deepEqual(trainBpe(texts, { vocabSize: 300, specialTokens: DEFAULT_SPECIAL_TOKENS }), defaults);
  for (const specials of [
    DEFAULT_SPECIAL_TOKENS,
    { pad: '<pad>', bos: '<s>', eos: '</s>' },
    { pad: '[PAD]', bos: '[BOS]', eos: '[EOS]' },
    { pad: '<パッド>', bos: '<a b>', eos: '<|endoftext|>' },
  ]) {
    const tok = tokenizerOf(specials);
    [specials.pad, specials.bos, specials.eos].forEach((s, id) => {
      assert.equal(tok.tokenToId(s), id, s);
      assert.deepEqual(tok.encode(s, { addBos: false }), [id], s);
      assert.equal(tok.decode([id], { skipSpecial: false }), s, s);
    });
    assert.equal(tok.decode(tok.encode('the cat sat', { addBos: false })), 'the cat sat');
  }
});
