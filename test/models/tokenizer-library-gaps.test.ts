/**
 * What Hugging Face tokenizers (Rust) does with a tokenizer.json and the JavaScript library namm hands encoding to
 * does not: each such file is either made to tokenize as Rust does (old Metaspace flags, WordLevel's unknown token,
 * ids past the vocabulary in decode, Split behaviours, Metaspace's split at ▁ and its "first" scheme in a Sequence,
 * Digits) or refused by name (single_word, Unigram byte fallback, template ids), never tokenized otherwise without a
 * word. The expected
 * tokens are worked out from the Rust library's documented algorithm.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HfTokenizer } from '../../src/models/tokenizers/hf.js';

type Json = Record<string, unknown>;
const BASE = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null };
const make = (json: Json, config: Json = {}) => new HfTokenizer({ tokenizerJson: { ...BASE, ...json }, tokenizerConfig: config, origin: 'fixture.json' });
const vocabOf = (tokens: string[]): Record<string, number> => Object.fromEntries(tokens.map((t, i) => [t, i]));
const pieces = (t: HfTokenizer, text: string) => t.encode(text).map((id) => t.idToToken(id));
/** The pre-tokenizer's pieces of a text (as the model sees them before its vocabulary). */
const rustPieces = (t: HfTokenizer, text: string): string[] => (t as unknown as { core: { pre_tokenizer: (x: string, o: object) => string[] } }).core.pre_tokenizer(text, { section_index: 0 });
const wordLevel = (tokens: string[], extra: Json = {}) => ({ model: { type: 'WordLevel', vocab: vocabOf(tokens), unk_token: '[UNK]' }, ...extra });

test('Split pre-tokenizers split as Rust does with every behaviour (the library did Isolated alone), inverted or not', () => {
  const tokens = ['[UNK]', 'a', 'b', ' ', '  ', 'a ', ' b', 'a  ', '  b', 'x.y', '.', 'x', 'y', 'x.', '.y'];
  const split = (pattern: Json, behavior: string, invert = false) => make(wordLevel(tokens, { pre_tokenizer: { type: 'Split', pattern, behavior, invert } }));
  // Rust's pieces of "a  b" split by " " (its tests and docs): each behaviour, by a string and by a regex.
  const cases: [string, string[]][] = [
    ['Isolated', ['a', ' ', ' ', 'b']], ['Removed', ['a', 'b']], ['MergedWithPrevious', ['a ', ' ', 'b']],
    ['MergedWithNext', ['a', ' ', ' b']], ['Contiguous', ['a', '  ', 'b']],
  ];
  for (const [behavior, want] of cases) {
    assert.deepEqual(pieces(split({ String: ' ' }, behavior), 'a  b'), want, `${behavior} by a string`);
    assert.deepEqual(pieces(split({ Regex: ' ' }, behavior), 'a  b'), want, `${behavior} by a regex`);
    assert.deepEqual(pieces(split({ Regex: '( )' }, behavior), 'a  b'), want, `${behavior} by a regex with a capturing group`);
  }
  // A string pattern is literal ("." is no wildcard); no match leaves the text whole (Gemma's split by " " after its
  // normaliser has made every space "▁").
  assert.deepEqual(pieces(split({ String: '.' }, 'MergedWithPrevious'), 'x.y'), ['x.', 'y']);
  assert.deepEqual(pieces(split({ String: ' ' }, 'MergedWithPrevious'), 'x.y'), ['x.y']);
  // Inverted (the pattern matches the content, the runs between are the delimiters): every behaviour (the library
  // dropped all but the matches of an inverted Isolated Split).
  const inverted: [string, string[]][] = [
    ['Isolated', ['a', '  ', 'b']], ['Removed', ['a', 'b']], ['MergedWithPrevious', ['a  ', 'b']],
    ['MergedWithNext', ['a', '  b']], ['Contiguous', ['a', '  ', 'b']],
  ];
  for (const [behavior, want] of inverted) assert.deepEqual(pieces(split({ Regex: '[ab]' }, behavior, true), 'a  b'), want, `inverted ${behavior}`);
  // Delimiters of several characters, and patterns that match the empty string (Rust keeps every character).
  const text = (pattern: Json, behavior: string, input: string) => rustPieces(make(wordLevel(['[UNK]'], { pre_tokenizer: { type: 'Split', pattern, behavior, invert: false } })), input);
  assert.deepEqual(text({ String: '\r\n' }, 'Removed', 'a\r\nb'), ['a', 'b']);
  assert.deepEqual(text({ String: '<br>' }, 'Removed', 'x<br>y'), ['x', 'y']);
  assert.deepEqual(text({ String: 'ab' }, 'Removed', 'abab'), []);
  assert.deepEqual(text({ Regex: '(?=[A-Z])' }, 'MergedWithNext', 'aBcDe'), ['a', 'Bc', 'De']);
  assert.deepEqual(text({ Regex: 'x*' }, 'Isolated', 'abc'), ['a', 'b', 'c']);
  assert.deepEqual(text({ String: '' }, 'Isolated', 'abc'), ['abc'], 'an empty string matches nowhere');
  assert.deepEqual(text({ Regex: '(?<d>\\d)\\k<d>' }, 'Contiguous', 'a1122b'), ['a', '1122', 'b'], 'named groups and back-references');
  assert.deepEqual(text({ String: '😀' }, 'MergedWithPrevious', 'a😀b😀'), ['a😀', 'b😀']);
  // The file's own form is kept for conversion.
  assert.equal(((split({ String: ' ' }, 'Contiguous').json.pre_tokenizer as Json).behavior), 'Contiguous');
});

test('Digits splits at every numeric character, as Rust\'s char::is_numeric (the library\'s \\d split at ASCII digits alone)', () => {
  const digits = (individual: boolean) => make(wordLevel(['[UNK]', 'x', 'y', '٣', '٤', '٣٤', '²', '7', '²7'], { pre_tokenizer: { type: 'Digits', individual_digits: individual } }));
  assert.deepEqual(pieces(digits(true), 'x٣٤y²7'), ['x', '٣', '٤', 'y', '²', '7']);
  assert.deepEqual(pieces(digits(false), 'x٣٤y²7'), ['x', '٣٤', 'y', '²7']);
});

test('Metaspace splits words at ▁ as Rust does (the library never split); add_prefix_space false and prepend_scheme never are honoured', () => {
  const bpe = (tokens: string[], merges: string[], metaspace: Json) => ({
    model: { type: 'BPE', vocab: vocabOf(tokens), merges, unk_token: '<unk>' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', ...metaspace }, decoder: { type: 'Metaspace', replacement: '▁', ...metaspace },
  });
  const spanning = ['<unk>', '▁', 'a', 'b', '▁a', '▁b', '▁a▁b'];
  // Rust splits "▁a▁b" into the words "▁a", "▁b" before merging (split is the default); the library merged across.
  for (const split of [{}, { split: true }]) {
    const t = make(bpe(spanning, ['▁ a', '▁ b', '▁a ▁b'], { prepend_scheme: 'always', ...split }));
    assert.deepEqual(pieces(t, 'a b'), ['▁a', '▁b']);
    assert.equal(t.decode(t.encode('a b')), 'a b');
  }
  // split: false (as transformers writes for Llama) keeps it whole.
  assert.deepEqual(pieces(make(bpe(spanning, ['▁ a', '▁ b', '▁a ▁b'], { prepend_scheme: 'always', split: false })), 'a b'), ['▁a▁b']);
  // A WordLevel model looks each word up (the whole text was one unknown word).
  const wl = make({ model: { type: 'WordLevel', vocab: vocabOf(['[UNK]', '▁a', '▁b']), unk_token: '[UNK]' }, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' } });
  assert.deepEqual(pieces(wl, 'a b'), ['▁a', '▁b']);
  // Unigram with a piece across words: "a  b" is ▁a ▁ ▁b in Rust (the library took ▁▁).
  const uni = make({ model: { type: 'Unigram', vocab: [['<unk>', 0], ['▁a', -1], ['▁', -2], ['▁b', -1], ['▁▁', -0.5], ['b', -3]], unk_id: 0 }, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' } });
  assert.deepEqual(pieces(uni, 'a  b'), ['▁a', '▁', '▁b']);
  // A file written before prepend_scheme: add_prefix_space false is "never" (the library prepended a ▁ anyway).
  const old = make(bpe(['<unk>', '▁', 'a', '▁a'], ['▁ a'], { add_prefix_space: false, split: false }));
  assert.deepEqual(pieces(old, 'a'), ['a']);
  assert.deepEqual(pieces(old, ' a'), ['▁a']);
  assert.equal(old.decode(old.encode(' a')), ' a', 'the decoder keeps the space that never was prepended');
  const never = make(bpe(['<unk>', '▁', 'a', '▁a'], ['▁ a'], { prepend_scheme: 'never', split: false }));
  assert.equal(never.decode(never.encode(' a')), ' a');
  const always = make(bpe(['<unk>', '▁', 'a', '▁a'], ['▁ a'], { add_prefix_space: true, split: false }));
  assert.deepEqual(pieces(always, 'a'), ['▁a']);
  assert.equal(always.decode(always.encode('a')), 'a');
  // Rust's decoder drops every ▁ of the first token (the library one leading space), none of the others.
  assert.equal(always.decode([1, 1, 3, 1]), '  a ');
  const ids = (t: HfTokenizer, toks: string[]) => toks.map((x) => t.tokenToId(x)!);
  const twoSpaces = make(bpe(['<unk>', '▁', 'a', '▁a', '▁▁a'], ['▁ a'], { prepend_scheme: 'always', split: false }));
  assert.equal(twoSpaces.decode(ids(twoSpaces, ['▁▁a', '▁a'])), 'a a');
  assert.equal(never.decode(ids(never, ['▁a', '▁a'])), ' a a');
  // A replacement that is not one character is refused (an empty one deleted every space), as Rust refuses it.
  for (const replacement of ['', '▁▁']) {
    assert.throws(() => make(bpe(['<unk>', 'a'], [], { replacement, prepend_scheme: 'always' })), /pre_tokenizer \(Metaspace\) needs a "replacement" of one character/);
  }
  // "first" after another step of a Sequence: the ▁ goes before the text's first piece alone.
  const seq = make({ model: { type: 'WordLevel', vocab: vocabOf(['[UNK]']), unk_token: '[UNK]' }, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }] } });
  assert.deepEqual(rustPieces(seq, 'ab1cd'), ['▁ab', '1', 'cd']);
  // prepend_scheme "first": a ▁ before the first word only, also with the split.
  const first = make(bpe(['<unk>', '▁', 'a', 'b', '▁a', '▁b'], ['▁ a', '▁ b'], { prepend_scheme: 'first' }));
  assert.deepEqual(pieces(first, 'a b'), ['▁a', '▁b']);
  // The tokenizer.json kept for conversion is the file's own.
  assert.equal(((old.json.pre_tokenizer as Json).prepend_scheme), undefined);
});

test('WordLevel takes its unknown token from the model; Unigram\'s unk_id and byte_fallback are checked', () => {
  // The library read the unknown token from tokenizer_config: without one encode failed, with another it gave that id.
  const wl = wordLevel(['[UNK]', 'a', '<unk>'], { pre_tokenizer: { type: 'WhitespaceSplit' } });
  assert.deepEqual(pieces(make(wl), 'a zz'), ['a', '[UNK]']);
  assert.deepEqual(pieces(make(wl, { unk_token: '<unk>' }), 'a zz'), ['a', '[UNK]']);
  const unigram = (extra: Json) => ({ model: { type: 'Unigram', vocab: [['<unk>', 0], ['a', -1], ['b', -2]], unk_id: 0, ...extra } });
  assert.deepEqual(pieces(make(unigram({})), 'ab'), ['a', 'b']);
  assert.throws(() => make(unigram({ unk_id: 999 })), /^Error: fixture\.json: tokenizer\.json Unigram unk_id is 999, not the id of one of its 3 pieces$/);
  assert.throws(() => make(unigram({ unk_id: '0' })), /Unigram unk_id is "0", not the id/);
  assert.throws(() => make(unigram({ byte_fallback: true })), /Unigram model has byte_fallback, which the tokenizer library namm uses does not apply/);
});

test('a WordPiece model without continuing_subword_prefix takes Rust\'s "##" (the library\'s was "undefined")', () => {
  const t = make({ model: { type: 'WordPiece', vocab: vocabOf(['[UNK]', 'a', '##b']), unk_token: '[UNK]', max_input_chars_per_word: 100 }, pre_tokenizer: { type: 'WhitespaceSplit' } });
  assert.deepEqual(pieces(t, 'ab'), ['a', '##b']);
});

test('decode leaves out ids past the vocabulary or in its holes, with or without an unknown token', () => {
  const bpe = (unk: string | null) => make({
    model: { type: 'BPE', vocab: vocabOf(['<unk>', '▁', 'a', '▁a']), merges: ['▁ a'], unk_token: unk },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: false },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  });
  for (const unk of ['<unk>', null]) {
    const t = bpe(unk);
    // "a<unk>" (the unknown token is no special token here, so skipSpecial kept it), or the library's TypeError.
    assert.equal(t.decode([3, 99]), 'a', `unk ${unk}`);
    assert.equal(t.decode([3, 99], { skipSpecial: false }), 'a', `unk ${unk}`);
    assert.equal(t.decode([99]), '');
  }
  const holes = make({ model: { type: 'WordLevel', vocab: { '[UNK]': 0, a: 1, b: 5 }, unk_token: '[UNK]' }, decoder: null });
  assert.equal(holes.decode([1, 3, 5], { skipSpecial: false }), 'a b');
});

test('damaged decoder and post-processor sections, and a FixedLength of no length, are refused when loaded', () => {
  const base = wordLevel(['[UNK]', 'a']);
  // Each loaded: the first failed every decode with the library's TypeError, the second every encode, the third looped for ever.
  assert.throws(() => make({ ...base, decoder: { type: 'Sequence', decoders: [null] } }), /^Error: fixture\.json: tokenizer\.json decoder\.decoders\[0\] is null$/);
  assert.throws(() => make({ ...base, decoder: { type: 'Replace', pattern: {} } }), /decoder \(Replace\) needs a "pattern"/);
  assert.throws(() => make({ ...base, post_processor: { type: 'TemplateProcessing' } }), /^Error: fixture\.json: tokenizer\.json post_processor \(TemplateProcessing\) needs a "special_tokens" object$/);
  assert.throws(() => make({ ...base, post_processor: { type: 'TemplateProcessing', special_tokens: {} } }), /post_processor \(TemplateProcessing\) needs "single" as a list/);
  assert.throws(() => make({ ...base, post_processor: { type: 'BertProcessing', sep: ['a', 1] } }), /post_processor \(BertProcessing\) needs "cls" as a \[token, id\] pair/);
  assert.throws(() => make({ ...base, post_processor: { type: 'BertProcessing', cls: ['a', 0], sep: ['a', 1] } }), /"cls" is "a" with id 0, but the vocabulary gives "a" the id 1/);
  assert.throws(() => make({ ...base, post_processor: { type: 'Sequence', processors: [null] } }), /post_processor \(Sequence\) has a null processors\[0\]/);
  for (const length of [0, -1, 1.5, '2']) {
    assert.throws(() => make({ ...base, pre_tokenizer: { type: 'FixedLength', length } }), /pre_tokenizer \(FixedLength\) needs a "length" that is a positive integer/, String(length));
  }
  assert.deepEqual(pieces(make({ model: { type: 'WordLevel', vocab: vocabOf(['[UNK]', 'ab', 'c']), unk_token: '[UNK]' }, pre_tokenizer: { type: 'FixedLength', length: 2 } }), 'abc'), ['ab', 'c']);
  // A section nested thousands deep overflowed the stack in the check itself.
  let deep: Json = { type: 'Whitespace' };
  for (let i = 0; i < 20_000; i++) deep = { type: 'Sequence', pretokenizers: [deep] };
  assert.throws(() => make({ ...base, pre_tokenizer: deep }), /pre_tokenizer(\.pretokenizers\[0\])+ is nested more than 32 Sequences deep: the file is damaged/);
});

/** An added token of tokenizer.json. */
const added = (id: number, content: string, flags: { special?: boolean; normalized?: boolean; lstrip?: boolean } = {}) => ({
  id, content, single_word: false, lstrip: flags.lstrip ?? false, rstrip: false, normalized: flags.normalized ?? false, special: flags.special ?? false,
});

test('a normalized added token decodes as its normalized content, as Rust 0.23 decodes it; idToToken keeps its content', () => {
  // Llama 2's pipeline (results from tokenizers 0.23.2): "<s>" marked normalized is "▁<s>" to the decoders, so it
  // decodes as " <s>" after a token (the Strip takes the first token's space alone); "X Y" as "▁X▁Y".
  const llama = (special: boolean, normalized: boolean) => make({
    model: { type: 'BPE', vocab: vocabOf(['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁a']), merges: ['▁ a'], unk_token: '<unk>' },
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    added_tokens: [added(1, '<s>', { special, normalized }), added(7, 'X Y', { special, normalized }), added(8, 'HELLO', { special, normalized })],
  });
  const plain = llama(false, true);
  assert.equal(plain.decode([4, 1, 4]), 'a <s>a');
  assert.equal(plain.decode([1]), '<s>');
  assert.equal(plain.decode([4, 7, 4]), 'a X Ya');
  assert.equal(plain.decode([4, 8], { skipSpecial: false }), 'a HELLO');
  // The vocabulary's strings stay the contents (what the GGUF writer and tokenToId read).
  assert.deepEqual([1, 7, 8].map((id) => plain.idToToken(id)), ['<s>', 'X Y', 'HELLO']);
  assert.deepEqual(['<s>', 'X Y', 'HELLO'].map((t) => plain.tokenToId(t)), [1, 7, 8]);
  // Not normalized: the content, as before.
  assert.equal(llama(false, false).decode([4, 1, 4]), 'a<s>a');
  assert.equal(llama(false, false).decode([4, 7, 4]), 'aX Ya');
  // Special and normalized: " <s>" when kept; dropped by skipSpecial (Rust 0.23 keeps it, as "▁<s>" is no special
  // token's text: 0.22 and transformers drop it, as namm does).
  const special = llama(true, true);
  assert.equal(special.decode([4, 1, 4], { skipSpecial: false }), 'a <s>a');
  assert.equal(special.decode([4, 1, 4]), 'aa');
  assert.equal(llama(true, false).decode([4, 1, 4], { skipSpecial: false }), 'a<s>a');
  // Lowercase: "HEL" decodes as "hel"; a special "<EOS>" normalizes to another special token's text, "<eos>".
  const lower = make({
    model: { type: 'WordLevel', vocab: vocabOf(['<unk>', 'a']), unk_token: '<unk>' }, normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'WhitespaceSplit' },
    added_tokens: [added(2, 'HEL', { normalized: true }), added(3, '<EOS>', { special: true, normalized: true }), added(4, '<eos>', { special: true })],
  });
  assert.equal(lower.decode([2, 1]), 'hel a');
  assert.equal(lower.decode([3, 1], { skipSpecial: false }), '<eos> a');
  assert.equal(lower.decode([3, 4, 1]), 'a');
  assert.equal(lower.idToToken(2), 'HEL');
});

test('the ByteLevel decoder decodes as Rust: every token spelt in the byte alphabet as bytes, added ones too, others as their text', () => {
  // Results from tokenizers 0.23.2. The library passed an added token through as its text ("ĠQ"), and made a
  // character outside the alphabet (▁) a 0 byte.
  const byteLevel = (extra: Json = {}) => ({
    model: { type: 'BPE', vocab: vocabOf(['<unk>', 'a', 'b', 'Ġa', 'Ã©', '▁', 'Ã', '©', 'x']), merges: [], unk_token: '<unk>' },
    normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    added_tokens: [added(9, 'HELLO', { normalized: true }), added(10, 'X Y', { normalized: true }), added(11, 'ĠZ', { normalized: true }),
      added(12, 'ĠQ'), added(13, 'Ã©X'), added(14, '<S>', { special: true, normalized: true }), added(15, 'café'), added(16, 'ĊĊ')],
    ...extra,
  });
  const t = make(byteLevel());
  const cases: [number[], string][] = [
    [[3, 9], ' ahello'], [[3, 10], ' ax y'], [[3, 11], ' a\x7fz'], [[3, 12], ' a Q'], [[4, 13], 'ééX'], [[5], '▁'], [[3, 5, 4], ' a▁é'],
    [[6, 9, 7], '\uFFFDhello\uFFFD'], [[6, 12, 7], '\uFFFD Q\uFFFD'], [[6, 10, 7], '\uFFFDx y\uFFFD'], [[1, 15, 1], 'acaf\uFFFDa'], [[1, 16, 1], 'a\n\na'],
  ];
  for (const [ids, want] of cases) assert.equal(t.decode(ids), want, JSON.stringify(ids));
  assert.equal(t.decode([3, 14], { skipSpecial: false }), ' a<s>');
  assert.equal(t.decode([3, 14]), ' a');
  // A GGUF file's added tokens decode as their text, as llama.cpp decodes user-defined and control tokens.
  const gguf = new HfTokenizer({ tokenizerJson: { ...BASE, ...byteLevel({ normalizer: null }) }, origin: 'fixture.gguf', llamaCppAddedTokens: true });
  assert.equal(gguf.decode([3, 12, 3]), ' aĠQ a');
  assert.equal(gguf.decode([1, 15, 5]), 'acafé▁');
});

test('unknown tokens are fused within a word, as Rust fuses them (BPE\'s fuse_unk, Unigram), not across words', () => {
  // Results from tokenizers 0.23.2; the library fused "☃ ☃ ☃" into one unknown token.
  const bpe = make({ model: { type: 'BPE', vocab: vocabOf(['<unk>', 'a', 'b']), merges: [], unk_token: '<unk>', fuse_unk: true }, pre_tokenizer: { type: 'WhitespaceSplit' } });
  const unigram = make({ model: { type: 'Unigram', vocab: [['<unk>', 0], ['a', -1], ['b', -1], ['▁', -2]], unk_id: 0 }, pre_tokenizer: { type: 'WhitespaceSplit' } });
  for (const t of [bpe, unigram]) {
    assert.deepEqual(t.encode('☃∮ ✈ᚠ a☃'), [0, 0, 1, 0]);
    assert.deepEqual(t.encode('a ☃ ☃ ☃a'), [1, 0, 0, 0, 1]);
    assert.deepEqual(t.encode('☃☃b☃∮'), [0, 2, 0]);
  }
  // Without fuse_unk each unknown character is one token, as before.
  const unfused = make({ model: { type: 'BPE', vocab: vocabOf(['<unk>', 'a']), merges: [], unk_token: '<unk>' }, pre_tokenizer: { type: 'WhitespaceSplit' } });
  assert.deepEqual(unfused.encode('☃∮ a'), [0, 0, 1]);
});

test('a "first" Metaspace prepends nothing to the text after a normalized added token, as Rust (the library did)', () => {
  // Results from tokenizers 0.23.2: Rust prepends ▁ to a piece of text at offset 0 only.
  const t = make({
    model: { type: 'BPE', vocab: vocabOf(['<unk>', 'a', 'b', '▁', '▁a', 'w', 'o', 'r', 'l', 'd', 'h', 'e']), merges: ['▁ a'], unk_token: '<unk>' },
    normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true },
    added_tokens: [added(12, 'HELLO', { normalized: true, lstrip: true }), added(13, 'RAW'), added(14, '<S>', { special: true, normalized: true })],
  });
  const cases: [string, number[]][] = [
    ['HELLOworld', [12, 5, 6, 7, 8, 9]], ['aHELLOa', [4, 12, 1]], [' HELLOa', [12, 1]], ['  HELLOa', [12, 1]], ['b HELLOa', [3, 2, 12, 1]],
    ['RAWa', [13, 1]], ['<S>a', [14, 1]], ['a<S>a', [4, 14, 1]], ['hello HELLO', [12, 12]], ['a', [4]],
  ];
  for (const [text, want] of cases) assert.deepEqual(t.encode(text), want, text);
  assert.equal(t.decode([12, 5, 6, 7, 8, 9]), 'helloworld');
});
