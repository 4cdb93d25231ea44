/**
 * Byte-level BPE tokenizer training (the GPT-2 scheme: text → UTF-8 bytes, each byte shown as a printable
 * Unicode character, merges learnt greedily by pair frequency within pre-tokens) and its standard Hugging Face
 * `tokenizer.json`, which `@huggingface/tokenizers` (and the Rust/Python `tokenizers`) load as is.
 *
 * Deterministic: pre-tokens are counted in input order, and ties between equally frequent pairs go to the pair of
 * smaller ids, so the same texts and options always give the same vocabulary.
 */
import { showValue } from '../util/show.js';
import { argError, checkArg } from '../util/args.js';

/**
 * The pre-tokeniser: GPT-2's pattern, except that digits split one by one (so numbers, pass keys and counts are
 * spelt in a 10-token alphabet a small model can copy) and English contractions are matched first.
 */
export const PRETOKENIZE_PATTERN = "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface SpecialTokens {
  pad: string;
  bos: string;
  eos: string;
}

export const DEFAULT_SPECIAL_TOKENS: SpecialTokens = { pad: '<|pad|>', bos: '<|bos|>', eos: '<|eos|>' };

export interface BpeTrainOptions {
  /** Final vocabulary size: special tokens + 256 bytes + merges. */
  vocabSize: number;
  specialTokens?: SpecialTokens;
  /** Pairs seen fewer times than this are never merged (training stops early if none is left). */
  minFrequency?: number;
}

export interface BpeModel {
  /** Token strings by id (byte-level alphabet; the special tokens first, at ids 0 (pad), 1 (bos), 2 (eos)). */
  vocab: string[];
  /** Merges in rank order, as pairs of token strings. */
  merges: [string, string][];
  specialTokens: SpecialTokens;
}

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to code points 256 and up, in byte order. */
export function byteToUnicode(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : 256 + next++);
  return table;
}

/** A max-heap of (count, pair key), ties to the smaller key; stale entries are skipped by the caller. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number { return this.counts.length; }
  private above(i: number, j: number): boolean {
    const a = this.counts[i]!, b = this.counts[j]!;
    return a > b || (a === b && this.keys[i]! < this.keys[j]!);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
  push(count: number, key: number): void {
    this.counts.push(count); this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (!this.above(i, p)) break; this.swap(i, p); i = p; }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    if (this.counts.length) {
      this.counts[0] = lastC; this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.counts.length && this.above(l, m)) m = l;
        if (r < this.counts.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m); i = m;
      }
    }
    return top;
  }
}

const SPECIAL_NAMES = ['pad', 'bos', 'eos'] as const;
/**
 * The largest vocabulary trainBpe makes: 2^18, the bound of a training config's tokenizer.vocabSize (config.ts). Pair
 * keys pack two ids as a·2^18 + b (below 2^36, exact in a double; ordered as the pairs (a, b) are, for ties).
 */
export const BPE_MAX_VOCAB_SIZE = 1 << 18;
const PAIR = BPE_MAX_VOCAB_SIZE;
const TRAIN_OPTION_NAMES = ['vocabSize', 'specialTokens', 'minFrequency'];

/** Printable ASCII (33..126): the byte-level characters that stand for their own byte, and decode as themselves. */
const isPrintableAscii = (c: number) => c >= 33 && c <= 126;
/** Pieces of a contraction pre-token ("'ll", "'ve", …) that are neither all letters nor all punctuation. */
const CONTRACTION_PIECES = ["'s", "'d", "'m", "'t", "'l", "'ll", "'v", "'ve", "'r", "'re"];

/**
 * Why `token` cannot be one of the trained tokenizer's special tokens, or null. A special token gets an id of its own
 * (0, 1, 2) in a vocabulary whose other tokens are spelt in the byte-level alphabet, and is written as is into
 * tokenizer.json, where a decoder reads a token spelt wholly in that alphabet as bytes. So a special token must be
 * a well-formed non-empty string and either contain a character outside the byte-level alphabet (a space, a
 * character beyond U+0143, …) or be printable ASCII (which stands for itself) that no ordinary token can spell: not a
 * single byte, not a run of letters or of punctuation, not part of a contraction ("'ll"), all of which the BPE can
 * learn as a merge, giving the string two ids.
 */
function specialTokenProblem(token: string, byteChars: readonly string[]): string | null {
  if (token.length === 0) return 'is empty';
  if (/\p{Cs}/u.test(token)) return 'holds a lone surrogate, which UTF-8 (tokenizer.json) cannot hold';
  if (![...token].every((c) => byteChars.includes(c))) return null; // a character no byte-level token has: no clash
  if (token.length === 1) {
    return `is the byte-level token of byte 0x${byteChars.indexOf(token).toString(16).padStart(2, '0')}, which has an id of its own`;
  }
  if (![...token].every((c) => isPrintableAscii(c.codePointAt(0)!))) {
    return 'is spelt only in the byte-level alphabet and is not printable ASCII: a byte-level decoder reads such a token as the bytes its characters stand for, not as its text';
  }
  if (/^[A-Za-z]+$/.test(token) || /^[^A-Za-z0-9]+$/.test(token) || CONTRACTION_PIECES.includes(token)) {
    return 'is a piece the BPE can learn as an ordinary token (a run of letters or of punctuation), which would give it two ids';
  }
  return null;
}

/** The special tokens, checked: strings the trained vocabulary and tokenizer.json represent faithfully (see specialTokenProblem). */
function checkSpecialTokens(specials: unknown, byteChars: readonly string[]): SpecialTokens {
  if (specials === null || typeof specials !== 'object' || Array.isArray(specials)) {
    throw new TypeError(`specialTokens must be an object {pad, bos, eos} of strings, got ${showValue(specials)}`);
  }
  for (const key in specials) {
    if (!(SPECIAL_NAMES as readonly string[]).includes(key)) throw new RangeError(`unknown special token ${JSON.stringify(key)} (expected: pad, bos, eos)`);
  }
  const s = specials as Record<string, unknown>;
  for (const name of SPECIAL_NAMES) {
    const token = s[name];
    if (typeof token !== 'string') throw new TypeError(`specialTokens.${name} must be a string, got ${showValue(token)}`);
    const problem = specialTokenProblem(token, byteChars);
    if (problem !== null) throw new RangeError(`specialTokens.${name} ${showValue(token)} ${problem}; use a marker such as "<|${name}|>"`);
  }
  const list = SPECIAL_NAMES.map((name) => s[name] as string);
  if (new Set(list).size !== 3) throw new RangeError(`pad, bos and eos tokens must be three distinct non-empty strings, got ${list.map(showValue).join(', ')}`);
  // Special tokens are found in text before anything else, leftmost first: one inside another, or one whose end is
  // another's start, would make text + special token encode to other ids than it was made of.
  for (const a of SPECIAL_NAMES) {
    for (const b of SPECIAL_NAMES) {
      const x = s[a] as string, y = s[b] as string;
      if (a !== b && x.includes(y)) throw new RangeError(`specialTokens.${a} ${showValue(x)} contains specialTokens.${b} ${showValue(y)}; special tokens must not overlap`);
      for (let k = 1; k < Math.min(x.length, y.length); k++) {
        if (x.endsWith(y.slice(0, k))) {
          throw new RangeError(`specialTokens.${a} ${showValue(x)} ends with ${showValue(y.slice(0, k))}, which ${a === b ? 'it also starts with' : `specialTokens.${b} ${showValue(y)} starts with`}; special tokens must not overlap`);
        }
      }
    }
  }
  return { pad: s.pad as string, bos: s.bos as string, eos: s.eos as string };
}

/** Trains a byte-level BPE on `texts` (any iterable of strings, read once). */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeModel {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`options must be an object {vocabSize, …}, got ${showValue(options)}`);
  for (const key in options) {
    if (!TRAIN_OPTION_NAMES.includes(key)) throw new RangeError(`unknown trainBpe option ${JSON.stringify(key)} (expected one of: ${TRAIN_OPTION_NAMES.join(', ')})`);
  }
  const byteChars = byteToUnicode();
  const specials = options.specialTokens === undefined ? DEFAULT_SPECIAL_TOKENS : checkSpecialTokens(options.specialTokens, byteChars);
  const specialList = [specials.pad, specials.bos, specials.eos];
  const base = specialList.length + 256;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < base || options.vocabSize > BPE_MAX_VOCAB_SIZE) {
    throw new RangeError(`vocabSize must be an integer within ${base}..${BPE_MAX_VOCAB_SIZE} (3 special tokens + 256 bytes + merges), got ${showValue(options.vocabSize)}`);
  }
  const minFrequency = options.minFrequency ?? 2;
  if (!(Number.isInteger(minFrequency) && minFrequency >= 1)) throw new RangeError(`minFrequency must be an integer ≥ 1, got ${showValue(minFrequency)}`);
  // One string is iterable too, character by character: it would be trained on as that many one-character texts.
  if (texts === null || typeof texts === 'string' || typeof (texts as Partial<Iterable<string>> | undefined)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`texts must be an iterable (an array, …) of strings, got ${typeof texts === 'string' ? 'one string' : showValue(texts)}`);
  }

  // 1. Pre-token frequencies, as byte sequences.
  const counts = new Map<string, number>();
  const re = new RegExp(PRETOKENIZE_PATTERN, 'gu');
  let t = 0;
  for (const text of texts) {
    if (typeof text !== 'string') throw new TypeError(`texts: item ${t} must be a string, got ${showValue(text)}`);
    for (const m of text.matchAll(re)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
    t++;
  }
  const encoder = new TextEncoder();
  const words: number[][] = [], freqs: number[] = [];
  for (const [piece, f] of counts) { words.push(Array.from(encoder.encode(piece), (b) => b + specialList.length)); freqs.push(f); }

  // 2. Pair counts and, per pair, the words that (may) contain it. Key = a·2^18 + b (PAIR).
  const pairCount = new Map<number, number>(), where = new Map<number, number[]>();
  const addPairs = (w: number, sign: number) => {
    const s = words[w]!, f = freqs[w]! * sign;
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i]! * PAIR + s[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) { let list = where.get(key); if (!list) where.set(key, (list = [])); if (list[list.length - 1] !== w) list.push(w); }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  // 3. Greedy merges.
  const vocab = [...specialList, ...byteChars];
  const merges: [string, string][] = [];
  while (vocab.length < options.vocabSize && heap.size > 0) {
    const [c, key] = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== c) { if (current > 0) heap.push(current, key); continue; }
    if (c < minFrequency) break;
    const a = Math.floor(key / PAIR), b = key % PAIR, id = vocab.length;
    vocab.push(vocab[a]! + vocab[b]!);
    merges.push([vocab[a]!, vocab[b]!]);
    const touched = new Set<number>();
    for (const w of where.get(key) ?? []) {
      const s = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) { has = true; break; }
      if (!has) continue;
      addPairs(w, -1);
      const merged: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { merged.push(id); i++; } else merged.push(s[i]!);
      }
      words[w] = merged;
      addPairs(w, 1);
      for (let i = 0; i + 1 < merged.length; i++) touched.add(merged[i]! * PAIR + merged[i + 1]!);
    }
    pairCount.delete(key);
    for (const k of touched) { const n = pairCount.get(k) ?? 0; if (n > 0) heap.push(n, k); }
  }
  return { vocab, merges, specialTokens: specials };
}

/** Refuses argument `model` of `fn` unless it is a trained BPE model (trainBpe's result). */
function checkBpeModel(fn: string, model: unknown): asserts model is BpeModel {
  const m = model as Partial<BpeModel> | null;
  if (m === null || typeof m !== 'object' || !Array.isArray(m.vocab) || m.specialTokens === null || typeof m.specialTokens !== 'object') {
    throw argError(fn, 'model', 'a trained BPE model (trainBpe(texts, options))', model);
  }
}

/** The standard `tokenizer.json` of a trained model: BPE + byte-level, BOS prepended by the post-processor. */
export function bpeTokenizerJson(model: BpeModel): Record<string, unknown> {
  checkBpeModel('bpeTokenizerJson', model);
  const { pad, bos, eos } = model.specialTokens;
  const vocab: Record<string, number> = {};
  model.vocab.forEach((t, i) => { vocab[t] = i; });
  const added = [pad, bos, eos].map((content) => ({
    id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRETOKENIZE_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [vocab[bos]], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab,
      merges: model.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** tokenizer_config.json beside it (what transformers' AutoTokenizer reads for the special tokens). */
export function bpeTokenizerConfig(model: BpeModel, maxLength: number): Record<string, unknown> {
  checkBpeModel('bpeTokenizerConfig', model);
  checkArg('bpeTokenizerConfig', 'maxLength', maxLength, 'positive');
  const { pad, bos, eos } = model.specialTokens;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast', bos_token: bos, eos_token: eos, pad_token: pad,
    model_max_length: maxLength, add_bos_token: true, clean_up_tokenization_spaces: false,
  };
}
