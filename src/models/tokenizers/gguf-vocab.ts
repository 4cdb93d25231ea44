/**
 * The vocabulary embedded in GGUF metadata (`tokenizer.ggml.*`), both ways:
 * - "llama": SentencePiece-style pieces with scores and token types → SpmTokenizer;
 * - "gpt2": byte-level BPE pieces with merges → a tokenizer.json built in memory, run by HfTokenizer.
 * And from our tokenizers back to those keys, for the GGUF writer.
 */
import { GgufValueType, gv, type GgufEntry, type GgufMeta } from '../gguf.js';
import type { ModelConfig, Tokenizer } from '../types.js';
import { HfTokenizer, tokenContent } from './hf.js';
import { SpmTokenizer, TokenType } from './spm.js';
import { stableJson } from '../../util/stable-json.js';
import { shortJson } from '../../util/show.js';

type Json = Record<string, unknown>;

/** Pre-tokenizer split patterns by llama.cpp's `tokenizer.ggml.pre` name (the ones HF tokenizer.json files use). */
const PRE_TOKENIZER_PATTERNS: Record<string, string> = {
  'llama-bpe': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

/** GPT-2's split pattern (what a ByteLevel pre-tokenizer with use_regex applies). */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

/**
 * llama.cpp's DEFAULT pre-tokenizer, for `tokenizer.ggml.pre` "default" or no key at all: four splits applied one
 * after the other, each to the pieces of the one before (runs of punctuation and of $+<=>^~|, then GPT-2's pattern,
 * then runs of digits, then groups of three ASCII digits), every match and every stretch between matches a piece.
 */
const DEFAULT_PRE_SPLITS = ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_PATTERN, '\\p{N}+', '[0-9][0-9][0-9]'];

/**
 * `tokenizer.ggml.pre` names for which llama.cpp decodes without the clean-up of spaces before punctuation (its
 * `clean_spaces = false`; their tokenizer_config.json files say `clean_up_tokenization_spaces: false`). The others it
 * cleans, as transformers did by default before 4.45.
 */
const NO_CLEANUP_PRE_NAMES = new Set(['qwen2', 'smollm']);

/** HF's form of llama.cpp's "smollm" split (each digit alone, then GPT-2's pattern), as SmolLM's tokenizer.json has it. */
const SMOLLM_DIGITS: Json = { type: 'Digits', individual_digits: true };

/** `tokenizer.ggml.pre` names llama.cpp treats as its Llama-3 pre-tokenizer. */
const LLAMA3_PRE_NAMES = new Set(['llama-bpe', 'llama3', 'llama-v3']);

function stringArray(meta: GgufMeta, key: string): string[] | null {
  const a = meta.array(key);
  if (a === null) return null;
  if (!a.every((x) => typeof x === 'string')) throw new Error(`${meta.file}: metadata "${key}" must be an array of strings`);
  return a as string[];
}

function numberArray(meta: GgufMeta, key: string, length: number): number[] | null {
  const a = meta.array(key);
  if (a === null) return null;
  if (a.length !== length) throw new Error(`${meta.file}: metadata "${key}" has ${a.length} entries for ${length} tokens`);
  return a.map((x, i) => {
    const v = Number(x);
    if ((typeof x !== 'number' && typeof x !== 'bigint') || Number.isNaN(v)) throw new Error(`${meta.file}: metadata "${key}"[${i}] is not a number`);
    return v;
  });
}

function optionalId(meta: GgufMeta, key: string, vocabSize: number): number | null {
  if (!meta.has(key)) return null;
  const id = meta.number(key);
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new Error(`${meta.file}: ${key} ${id} is outside the vocabulary (${vocabSize} tokens)`);
  return id;
}

/**
 * An optional token id that only names a token (the unknown one, padding, …): one outside the vocabulary is taken as
 * none, as llama.cpp takes it ("bad special token", id −1). llama.cpp's llama2.c converter writes 0xFFFFFFFF for the
 * padding and separator ids its files do not have.
 */
function lenientId(meta: GgufMeta, key: string, vocabSize: number): number | null {
  if (!meta.has(key)) return null;
  const id = meta.number(key);
  return Number.isInteger(id) && id >= 0 && id < vocabSize ? id : null;
}

/** The keys llama.cpp's converter writes for the special tokens besides BOS and EOS, by the name a chat template knows each by. */
const GGUF_SPECIAL_KEYS = [
  ['unk_token', 'tokenizer.ggml.unknown_token_id'], ['pad_token', 'tokenizer.ggml.padding_token_id'],
  ['sep_token', 'tokenizer.ggml.seperator_token_id'], ['cls_token', 'tokenizer.ggml.cls_token_id'], ['mask_token', 'tokenizer.ggml.mask_token_id'],
] as const;

/** The texts of the special tokens a file names besides BOS and EOS (`pad_token`: its padding token's text, …). */
function ggufSpecialTexts(meta: GgufMeta, tokens: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, key] of GGUF_SPECIAL_KEYS) {
    const id = lenientId(meta, key, tokens.length);
    if (id !== null) out[name] = tokens[id]!;
  }
  return out;
}

/** An optional metadata array of token ids (empty when absent), each checked against the vocabulary. */
function idList(meta: GgufMeta, key: string, vocabSize: number): number[] {
  const list = meta.array(key);
  if (list === null) return [];
  return list.map((x, i) => {
    const id = Number(x);
    if ((typeof x !== 'number' && typeof x !== 'bigint') || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(`${meta.file}: metadata "${key}"[${i}] is ${shortJson(x)}, not a token id of the vocabulary (${vocabSize} tokens)`);
    }
    return id;
  });
}

/** namm's own key for a list of end-of-generation ids (GGUF's standard keys hold one id each; empty: none). */
export const GGUF_EOS_LIST_KEY = 'namm.tokenizer.eos_token_ids';
/** namm's own key for a SentencePiece vocabulary that has no BOS (without the standard key, readers assume 1). */
const GGUF_NO_BOS_KEY = 'namm.tokenizer.no_bos_token';
/** namm's key for a byte-level tokenizer's clean-up of decoded spaces (llama.cpp decides it by pre-tokenizer name). */
const GGUF_CLEANUP_KEY = 'namm.tokenizer.clean_up_tokenization_spaces';
/**
 * namm's keys for the added tokens of a byte-level vocabulary that strip the whitespace before / after them or match
 * whole words only (tokenizer.json's lstrip, rstrip, single_word): the ids of those that do. llama.cpp has no key
 * for them and ignores these.
 */
const GGUF_ADDED_FLAG_KEYS = { lstrip: 'namm.tokenizer.added_lstrip', rstrip: 'namm.tokenizer.added_rstrip', single_word: 'namm.tokenizer.added_single_word' } as const;
type AddedFlag = keyof typeof GGUF_ADDED_FLAG_KEYS;
const ADDED_FLAGS = Object.keys(GGUF_ADDED_FLAG_KEYS) as AddedFlag[];
/** The standard keys whose ids end a generation, as llama.cpp counts them: end of sequence, of turn, of message. */
const GGUF_END_KEYS = ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id'];

/**
 * The token ids that end a generation: namm's list when the file has one (written for models with several, such as
 * Llama 3 instruct), else the end-of-sequence, end-of-turn and end-of-message ids that are present, in that order,
 * each once. Ids outside the vocabulary (`vocabSize`, when known) are refused.
 */
export function ggufEosTokenIds(meta: GgufMeta, vocabSize: number | null): number[] {
  const check = (id: number, key: string) => {
    if (!Number.isSafeInteger(id) || id < 0 || (vocabSize !== null && id >= vocabSize)) {
      throw new Error(`${meta.file}: ${key} ${id} is not a token id${vocabSize !== null ? ` of the vocabulary (${vocabSize} tokens)` : ''}`);
    }
    return id;
  };
  const list = meta.array(GGUF_EOS_LIST_KEY);
  if (list !== null) {
    if (!list.every((x) => typeof x === 'number' || typeof x === 'bigint')) throw new Error(`${meta.file}: metadata "${GGUF_EOS_LIST_KEY}" must be an array of token ids`);
    return [...new Set(list.map((x, i) => check(Number(x), `${GGUF_EOS_LIST_KEY}[${i}]`)))];
  }
  const ids: number[] = [];
  for (const key of GGUF_END_KEYS) {
    if (!meta.has(key)) continue;
    const id = check(meta.number(key), key);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** GGUF entries for end-of-generation ids: the first as eos_token_id, and namm's list when there are several. */
export function ggufEosEntries(ids: readonly number[]): [string, GgufEntry][] {
  if (ids.length === 0) return [];
  const out: [string, GgufEntry][] = [['tokenizer.ggml.eos_token_id', gv.u32(ids[0]!)]];
  if (ids.length > 1) out.push([GGUF_EOS_LIST_KEY, gv.arr(GgufValueType.UINT32, [...ids])]);
  return out;
}

export function ggufTokenizerFromMetadata(meta: GgufMeta): Tokenizer {
  const model = meta.string('tokenizer.ggml.model');
  const tokens = stringArray(meta, 'tokenizer.ggml.tokens');
  if (!tokens) throw new Error(`${meta.file}: metadata "tokenizer.ggml.tokens" is missing`);
  const n = tokens.length;
  const types = numberArray(meta, 'tokenizer.ggml.token_type', n);
  // llama.cpp's token types are 0 (undefined) to 6 (byte); 99 everywhere was taken, every token read as normal.
  const badType = types ? types.findIndex((t) => !(Number.isInteger(t) && t >= 0 && t <= 6)) : -1;
  if (badType >= 0) throw new Error(`${meta.file}: metadata "tokenizer.ggml.token_type"[${badType}] is ${types![badType]}, not a token type (0 to 6)`);
  const bos = optionalId(meta, 'tokenizer.ggml.bos_token_id', n);
  const eosIds = ggufEosTokenIds(meta, n);
  const chatTemplate = meta.string('tokenizer.chat_template');
  if (model === 'llama') {
    // Without the keys, llama.cpp gives a SentencePiece vocabulary Llama's BOS 1 and EOS 2 (as the sentencepiece
    // models it converts from define them); so does namm, where the vocabulary has those ids, unless the file says
    // there are none (namm's keys, written for such vocabularies).
    const asRead = meta.has('tokenizer.ggml.bos_token_id') || meta.bool(GGUF_NO_BOS_KEY) === true || n <= 1;
    const spmBos = asRead ? bos : 1;
    const spmEos = eosIds.length > 0 || meta.has(GGUF_EOS_LIST_KEY) || n <= 2 ? eosIds : [2];
    return new SpmTokenizer({
      tokens,
      scores: numberArray(meta, 'tokenizer.ggml.scores', n) ?? new Array<number>(n).fill(0),
      types: types ?? undefined,
      bosTokenId: spmBos,
      eosTokenIds: spmEos,
      unkTokenId: lenientId(meta, 'tokenizer.ggml.unknown_token_id', n) ?? (types ? nullIfMissing(types.indexOf(TokenType.unknown)) : null),
      spaceSymbol: '▁',
      addSpacePrefix: meta.bool('tokenizer.ggml.add_space_prefix') ?? true,
      addBosByDefault: meta.bool('tokenizer.ggml.add_bos_token') ?? true,
      chatTemplate,
      chatSpecials: ggufSpecialTexts(meta, tokens),
      fuseUnk: meta.bool('namm.tokenizer.fuse_unk') ?? false,
      origin: meta.file,
    });
  }
  if (model === 'gpt2') return gpt2Tokenizer(meta, tokens, types, bos, eosIds, chatTemplate);
  throw new Error(`${meta.file}: tokenizer model "${String(model)}" is not supported (llama, gpt2)`);
}

function nullIfMissing(i: number): number | null {
  return i < 0 ? null : i;
}

/** A tokenizer.json ByteLevel step (pre-tokenizer or decoder) as llama.cpp's byte-level vocabularies read. */
const byteLevel = (useRegex: boolean): Json => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });

/** The tokenizer.json pre-tokenizer a llama.cpp pre-tokenizer name stands for (null: a name not supported here). */
function preTokenizerFor(pre: string): Json | null {
  const split = (pattern: string): Json => ({ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false });
  // llama.cpp names GPT-2's regex "gpt-2"; files from namm before 0.1 wrote "gpt2".
  if (pre === 'gpt-2' || pre === 'gpt2') return byteLevel(true);
  if (pre === 'smollm') return { type: 'Sequence', pretokenizers: [SMOLLM_DIGITS, byteLevel(true)] };
  if (pre === 'default') return { type: 'Sequence', pretokenizers: [...DEFAULT_PRE_SPLITS.map(split), byteLevel(false)] };
  if (Object.hasOwn(PRE_TOKENIZER_PATTERNS, pre)) return { type: 'Sequence', pretokenizers: [split(PRE_TOKENIZER_PATTERNS[pre]!), byteLevel(false)] };
  return null;
}

/**
 * What a pre-tokenizer does to a text, step by step, in the fields that change it (HF's defaults where a field is
 * absent: ByteLevel's use_regex and add_prefix_space are true), so that two spellings of one pre-tokenizer compare equal.
 */
function splittingSteps(p: unknown): string[] {
  if (!p || typeof p !== 'object') return [];
  const o = p as Json;
  if (o.type === 'Sequence' && Array.isArray(o.pretokenizers)) return o.pretokenizers.flatMap(splittingSteps);
  if (o.type === 'Split') return [`Split ${JSON.stringify(o.pattern)} ${String(o.behavior)} ${o.invert === true}`];
  if (o.type === 'ByteLevel') return [`ByteLevel ${o.use_regex !== false} ${o.add_prefix_space !== false}`];
  if (o.type === 'Digits') return [`Digits ${o.individual_digits === true}`];
  return [stableJson(o)];
}

function gpt2Tokenizer(meta: GgufMeta, tokens: string[], types: number[] | null, bos: number | null, eosIds: number[], chatTemplate: string | null): Tokenizer {
  const eos = eosIds[0] ?? null;
  const merges = stringArray(meta, 'tokenizer.ggml.merges');
  if (!merges) throw new Error(`${meta.file}: metadata "tokenizer.ggml.merges" is missing (needed for a gpt2 vocabulary)`);
  // As llama.cpp reads a merge: two pieces split at a space after the first character ("nospace" and "" were taken).
  const badMerge = merges.findIndex((m) => m.indexOf(' ', 1) < 0);
  if (badMerge >= 0) throw new Error(`${meta.file}: metadata "tokenizer.ggml.merges"[${badMerge}] is ${shortJson(merges[badMerge])}, not two pieces separated by a space`);
  // No key is llama.cpp's DEFAULT (it warns "missing pre-tokenizer type, using: 'default'").
  const named = meta.string('tokenizer.ggml.pre') ?? 'default';
  // llama.cpp reads "llama3" and "llama-v3" as its "llama-bpe" (the same regex, merges ignored, BOS added).
  const pre = LLAMA3_PRE_NAMES.has(named) ? 'llama-bpe' : named;
  const preTokenizer = preTokenizerFor(pre);
  if (!preTokenizer) throw new Error(`${meta.file}: pre-tokenizer "${named}" is not supported (default, gpt-2, llama-bpe, qwen2, smollm)`);
  // No prototype: a token such as "toString", "constructor" or "__proto__" (code-heavy vocabularies hold them) is a
  // key like any other, not an inherited property that `in` finds or an assignment that sets the prototype.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: Json[] = [];
  const flagged = Object.fromEntries(ADDED_FLAGS.map((f) => [f, new Set(idList(meta, GGUF_ADDED_FLAG_KEYS[f], tokens.length))])) as Record<AddedFlag, Set<number>>;
  tokens.forEach((t, id) => {
    vocab[t] = id; // the last id of a string twice in the list, as llama.cpp's token_to_id map, assigned in order
    const type = types?.[id] ?? TokenType.normal;
    // The unknown token is matched in text as a special token, as llama.cpp matches it (and as tokenizer.json lists
    // it among its added tokens, whose flags namm's keys carry).
    if (type === TokenType.control || type === TokenType.userDefined || type === TokenType.unknown) {
      added.push({
        id, content: t, single_word: flagged.single_word.has(id), lstrip: flagged.lstrip.has(id), rstrip: flagged.rstrip.has(id),
        normalized: false, special: type !== TokenType.userDefined,
      });
    }
  });
  for (const f of ADDED_FLAGS) {
    const stray = [...flagged[f]].find((id) => !added.some((a) => a.id === id));
    if (stray !== undefined) throw new Error(`${meta.file}: metadata "${GGUF_ADDED_FLAG_KEYS[f]}" names token ${stray}, which is not an added (control, user-defined or unknown) token`);
  }
  // Without the key, llama.cpp adds BOS for the Llama-3 pre-tokenizer family (its "llama-bpe" arm sets add_bos) and
  // not for the others; Llama-3 GGUFs from before llama.cpp's converter wrote the key rely on that default.
  const addBos = (meta.bool('tokenizer.ggml.add_bos_token') ?? pre === 'llama-bpe') && bos !== null;
  const tokenizerJson = {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: addBos
      ? { type: 'TemplateProcessing', single: [{ SpecialToken: { id: tokens[bos!], type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: tokens[bos!], type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [tokens[bos!]!]: { id: tokens[bos!], ids: [bos], tokens: [tokens[bos!]] } } }
      : null,
    decoder: byteLevel(true),
    // As pairs split where llama.cpp splits them: the library splits a string at its first two spaces ("a b c" as
    // "a" + "b", where llama.cpp reads "a" + "b c").
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: pre === 'llama-bpe', vocab, merges: merges.map((m) => mergePair(m)!) },
  };
  return new HfTokenizer({
    tokenizerJson,
    tokenizerConfig: {
      ...ggufSpecialTexts(meta, tokens),
      bos_token: bos === null ? null : tokens[bos], eos_token: eos === null ? null : tokens[eos], chat_template: chatTemplate,
      clean_up_tokenization_spaces: meta.bool(GGUF_CLEANUP_KEY) ?? !NO_CLEANUP_PRE_NAMES.has(pre),
    },
    modelConfig: { bos_token_id: bos, eos_token_id: eosIds.length > 1 ? eosIds : eos },
    origin: meta.file,
    llamaCppMerges: true,
    llamaCppAddedTokens: true,
  });
}

// ---------------------------------------------------------------- tokenizer → GGUF metadata

const arr = (t: number, v: (string | number)[]): GgufEntry => gv.arr(t, v);

/** `tokenizer.ggml.*` entries describing `tokenizer`, for the GGUF writer. */
export function ggufVocabularyMetadata(tokenizer: Tokenizer, config: ModelConfig, path: string): [string, GgufEntry][] {
  if (tokenizer instanceof SpmTokenizer) return spmMetadata(tokenizer);
  if (tokenizer instanceof HfTokenizer) return hfMetadata(tokenizer, config, path);
  throw new Error(`GGUF writer (${path}): cannot embed a vocabulary from this tokenizer type`);
}

function common(tokenizer: Tokenizer, out: [string, GgufEntry][]): void {
  if (tokenizer.bosTokenId !== null) out.push(['tokenizer.ggml.bos_token_id', gv.u32(tokenizer.bosTokenId)]);
  out.push(...ggufEosEntries(tokenizer.eosTokenIds));
  // The other special tokens a chat template may name, by llama.cpp's keys (where the vocabulary holds them).
  for (const [name, key] of GGUF_SPECIAL_KEYS) {
    let id: number | undefined;
    if (tokenizer instanceof SpmTokenizer) {
      const text = name === 'unk_token' ? null : tokenizer.vocab.chatSpecials?.[name];
      id = name === 'unk_token' ? tokenizer.vocab.unkTokenId ?? undefined : text === undefined || text === null ? undefined : tokenizer.vocab.tokens.indexOf(text);
    } else if (tokenizer instanceof HfTokenizer) {
      // The unknown token the model itself uses (tokenizer.json's) before the one tokenizer_config.json names.
      const modelUnk = (tokenizer.json.model as Json | undefined)?.unk_token;
      const text = name === 'unk_token' && typeof modelUnk === 'string' ? modelUnk : tokenContent(tokenizer.tokenizerConfig[name]);
      id = text === null ? undefined : tokenizer.tokenToId(text);
    }
    if (id !== undefined && id >= 0) out.push([key, gv.u32(id)]);
  }
}

function spmMetadata(t: SpmTokenizer): [string, GgufEntry][] {
  const v = t.vocab;
  const tokens = v.tokens.map((tok, id) => (v.spaceSymbol !== '▁' && (t.types[id] === TokenType.normal || t.types[id] === TokenType.userDefined) ? tok.replaceAll(v.spaceSymbol, '▁') : tok));
  const out: [string, GgufEntry][] = [
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', arr(GgufValueType.STRING, tokens)],
    ['tokenizer.ggml.scores', arr(GgufValueType.FLOAT32, Array.from(v.scores))],
    ['tokenizer.ggml.token_type', arr(GgufValueType.INT32, Array.from(t.types))],
    ['tokenizer.ggml.add_space_prefix', gv.bool(v.addSpacePrefix)],
    ['tokenizer.ggml.add_bos_token', gv.bool(v.addBosByDefault)],
  ];
  if (v.fuseUnk) out.push(['namm.tokenizer.fuse_unk', gv.bool(true)]);
  if (v.chatTemplate) out.push(['tokenizer.chat_template', gv.str(v.chatTemplate)]);
  common(t, out);
  // A reader (llama.cpp, namm) gives a SentencePiece vocabulary without the standard keys BOS 1 and EOS 2: say so when
  // this one has none (namm's keys; llama.cpp ignores them and falls back to its defaults).
  if (t.bosTokenId === null) out.push([GGUF_NO_BOS_KEY, gv.bool(true)]);
  if (t.eosTokenIds.length === 0) out.push([GGUF_EOS_LIST_KEY, gv.arr(GgufValueType.UINT32, [])]);
  return out;
}

interface HfAdded { id: number; content: string; special?: boolean; lstrip?: boolean; rstrip?: boolean; single_word?: boolean }

function mergePair(m: unknown): [string, string] | null {
  if (typeof m === 'string') {
    const i = m.indexOf(' ', 1);
    return i < 0 ? null : [m.slice(0, i), m.slice(i + 1)];
  }
  if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
  return null;
}

/** True when a tokenizer.json spells spaces as '▁' and prepends one (Llama-2 style), so SentencePiece rules fit. */
export function isSentencePieceStyle(json: Json): boolean {
  const norm = JSON.stringify(json.normalizer ?? null);
  const pre = JSON.stringify(json.pre_tokenizer ?? null);
  return norm.includes('"Prepend"') || pre.includes('"Metaspace"') || (json.model as Json).byte_fallback === true;
}

function hfMetadata(t: HfTokenizer, config: ModelConfig, path: string): [string, GgufEntry][] {
  const json = t.json;
  const model = json.model as Json;
  if (model.type !== 'BPE') throw new Error(`GGUF writer (${path}): only BPE tokenizer.json models can be embedded, this one is ${String(model.type)}`);
  const vocab = model.vocab as Record<string, number>;
  const addedList = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as HfAdded[];
  const size = Math.max(t.vocabSize, config.vocabSize);
  const tokens = new Array<string>(size).fill('');
  const types = new Array<number>(size).fill(TokenType.unused);
  for (const [tok, id] of Object.entries(vocab)) { tokens[id] = tok; types[id] = TokenType.normal; }
  for (const a of addedList) { tokens[a.id] = a.content; types[a.id] = a.special ? TokenType.control : TokenType.userDefined; }
  for (let id = 0; id < size; id++) {
    if (types[id] === TokenType.unused) tokens[id] = `[PAD${id}]`;
    // Byte tokens are byte tokens even when tokenizer.json lists them among its added tokens.
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(tokens[id]!) && (vocab[tokens[id]!] === id || types[id] === TokenType.normal)) types[id] = TokenType.byte;
  }
  const unk = typeof model.unk_token === 'string' ? t.tokenToId(model.unk_token) : undefined;
  // SentencePiece vocabularies type their unknown piece; a byte-level one keeps it as it is (llama.cpp's BPE converter
  // types none, and a reader matches an unknown-typed token in text as a special token).
  if (unk !== undefined && isSentencePieceStyle(json)) types[unk] = TokenType.unknown;
  const merges = (Array.isArray(model.merges) ? model.merges : []).map(mergePair);
  if (merges.some((m) => m === null)) throw new Error(`GGUF writer (${path}): tokenizer.json has malformed merges`);

  // BOS added by the post-processor means llama.cpp should add it too; anything else it adds has no GGUF form.
  const plain = t.encode('a', { addBos: false }), full = t.encode('a');
  const addBos = t.bosTokenId !== null && full.length === plain.length + 1 && full[0] === t.bosTokenId;
  if (JSON.stringify(addBos ? full.slice(1) : full) !== JSON.stringify(plain)) {
    throw new Error(`GGUF writer (${path}): the tokenizer's post-processor adds tokens other than a leading BOS ("a" → ${full.join(', ')} for ${plain.join(', ')}), which GGUF cannot say`);
  }
  refuseUnwritable(json, isSentencePieceStyle(json), path);
  const templates = ggufChatTemplates(t.tokenizerConfig.chat_template, path);
  const out: [string, GgufEntry][] = [];
  const flaggedAdded = (f: AddedFlag) => addedList.filter((a) => a[f] === true).map((a) => a.id);
  if (isSentencePieceStyle(json)) {
    const flag = ADDED_FLAGS.find((f) => flaggedAdded(f).length > 0);
    if (flag) {
      const a = addedList.find((x) => x[flag] === true)!;
      throw new Error(`GGUF writer (${path}): added token ${JSON.stringify(a.content)} has ${flag} set, which a SentencePiece GGUF vocabulary has no form for; it would tokenize differently`);
    }
    // SentencePiece merges the best-scoring piece; score each piece by the rank of the first merge that makes it,
    // so earlier merges win as in BPE. Pieces no merge makes (characters, specials) score below every merge.
    const scores = new Array<number>(size).fill(0);
    const rank = new Map<string, number>();
    merges.forEach((m, r) => { const s = m![0] + m![1]; if (!rank.has(s)) rank.set(s, r); });
    for (let id = 0; id < size; id++) scores[id] = -(rank.get(tokens[id]!) ?? merges.length + id);
    const normalizer = JSON.stringify(json.normalizer ?? null) + JSON.stringify(json.pre_tokenizer ?? null);
    out.push(
      ['tokenizer.ggml.model', gv.str('llama')],
      ['tokenizer.ggml.tokens', arr(GgufValueType.STRING, tokens)],
      ['tokenizer.ggml.scores', arr(GgufValueType.FLOAT32, scores)],
      ['tokenizer.ggml.token_type', arr(GgufValueType.INT32, types)],
      ['tokenizer.ggml.add_space_prefix', gv.bool(normalizer.includes('"Prepend"') || /"prepend_scheme":"(always|first)"/.test(normalizer) || /"add_prefix_space":true/.test(normalizer))],
      ['tokenizer.ggml.add_bos_token', gv.bool(addBos)],
    );
    if (unk !== undefined) out.push(['tokenizer.ggml.unknown_token_id', gv.u32(unk)]);
    // llama.cpp ignores this key (and never fuses); our reader honours it so HF's fuse_unk survives the trip.
    if (model.fuse_unk === true) out.push(['namm.tokenizer.fuse_unk', gv.bool(true)]);
  } else {
    if (!JSON.stringify(json.pre_tokenizer ?? null).includes('"ByteLevel"')) {
      throw new Error(`GGUF writer (${path}): tokenizer.json is neither SentencePiece-style nor byte-level BPE`);
    }
    out.push(
      ['tokenizer.ggml.model', gv.str('gpt2')],
      ['tokenizer.ggml.pre', gv.str(preTokenizerName(json, path))],
      ['tokenizer.ggml.tokens', arr(GgufValueType.STRING, tokens)],
      ['tokenizer.ggml.token_type', arr(GgufValueType.INT32, types)],
      ['tokenizer.ggml.merges', arr(GgufValueType.STRING, merges.map((m) => `${m![0]} ${m![1]}`))],
      ['tokenizer.ggml.add_bos_token', gv.bool(addBos)],
      // llama.cpp decides clean-up by the pre-tokenizer's name; namm's reader takes this tokenizer's own setting.
      [GGUF_CLEANUP_KEY, gv.bool(t.cleansUpSpaces)],
    );
    for (const f of ADDED_FLAGS) {
      const ids = flaggedAdded(f);
      if (ids.length) out.push([GGUF_ADDED_FLAG_KEYS[f], arr(GgufValueType.UINT32, ids)]);
    }
  }
  out.push(...templates);
  common(t, out);
  return out;
}

/**
 * Tokenizer features a GGUF vocabulary has no field for: written anyway, they would tokenize as another tokenizer.
 * SentencePiece-style files may normalize with Prepend and Replace only (the '▁' spelling); byte-level ones not at
 * all, and without ByteLevel's add_prefix_space. NFC passes (Qwen2's tokenizers have it, and llama.cpp's own
 * converter drops it too): it changes only text that is not already in NFC.
 */
function refuseUnwritable(json: Json, sentencePiece: boolean, path: string): void {
  const kinds: string[] = [];
  const walk = (n: unknown): void => {
    if (!n || typeof n !== 'object') return;
    const o = n as Json;
    if (o.type === 'Sequence' && Array.isArray(o.normalizers)) o.normalizers.forEach(walk);
    else if (typeof o.type === 'string') kinds.push(o.type);
  };
  walk(json.normalizer);
  const allowed = sentencePiece ? ['Prepend', 'Replace', 'NFC'] : ['NFC'];
  const bad = kinds.filter((k) => !allowed.includes(k));
  if (bad.length) throw new Error(`GGUF writer (${path}): the tokenizer's normalizer (${bad.join(', ')}) has no GGUF form; it would tokenize differently`);
  if (!sentencePiece && /"type":"ByteLevel"[^}]*"add_prefix_space":true/.test(JSON.stringify(json.pre_tokenizer ?? null))) {
    throw new Error(`GGUF writer (${path}): ByteLevel's add_prefix_space has no GGUF form for a gpt2 vocabulary; it would tokenize differently`);
  }
}

/**
 * The llama.cpp pre-tokenizer name for a byte-level tokenizer.json: the name whose pre-tokenizer (as the reader
 * rebuilds it) splits text step for step as this one does. Named by a pattern found inside it, a ByteLevel without
 * its regex was written as "gpt-2", and a Sequence with steps of its own (Digits) lost them: the converted model
 * tokenized differently, without a word.
 */
function preTokenizerName(json: Json, path: string): string {
  const steps = stableJson(splittingSteps(json.pre_tokenizer));
  for (const name of ['gpt-2', 'smollm', 'default', ...Object.keys(PRE_TOKENIZER_PATTERNS)]) {
    if (stableJson(splittingSteps(preTokenizerFor(name))) === steps) return name;
  }
  throw new Error(`GGUF writer (${path}): the tokenizer.json pre-tokenizer splits text as none that GGUF names here (default, gpt-2, llama-bpe, qwen2, smollm) does; it would tokenize differently (convert --to safetensors keeps it)`);
}

/**
 * A tokenizer_config.json `chat_template` as GGUF entries, as llama.cpp's converter (gguf-py) writes it: a string, or a
 * named list's "default" one, as `tokenizer.chat_template`; every other named one as `tokenizer.chat_template.<name>`,
 * its name with each character other than an ASCII letter or digit made "_", and those names listed in
 * `tokenizer.chat_templates`.
 */
function ggufChatTemplates(value: unknown, path: string): [string, GgufEntry][] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [['tokenizer.chat_template', gv.str(value)]];
  if (!Array.isArray(value)) throw new Error(`GGUF writer (${path}): chat_template must be a string or a list of {name, template}, got ${shortJson(value)}`);
  const out: [string, GgufEntry][] = [], names: string[] = [];
  value.forEach((v: unknown, i) => {
    const e = v as { name?: unknown; template?: unknown } | null;
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.template !== 'string') {
      throw new Error(`GGUF writer (${path}): chat_template[${i}] must be a {name, template} pair of strings, got ${shortJson(v)}`);
    }
    const name = e.name.replace(/[^A-Za-z0-9]/g, '_');
    if (name === '') return;  // as gguf-py: a nameless entry is not written
    const key = name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${name}`;
    if (out.some(([k]) => k === key)) throw new Error(`GGUF writer (${path}): chat_template names "${name}" twice${name !== e.name ? ` (as "${e.name}" made a key)` : ''}`);
    out.push([key, gv.str(e.template)]);
    if (name !== 'default') names.push(name);
  });
  if (names.length > 0) out.push(['tokenizer.chat_templates', arr(GgufValueType.STRING, names)]);
  return out;
}
