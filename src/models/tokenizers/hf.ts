/**
 * Tokenizer over a Hugging Face `tokenizer.json`, encoded and decoded by `@huggingface/tokenizers` (a pure-JS port
 * of the Rust `tokenizers` pipeline: normalizer, pre-tokenizer, model, post-processor, decoder).
 */
import { Tokenizer as HfCoreTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../types.js';
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { checkArg } from '../../util/args.js';
import { checkDecodeOptions, checkEncodeOptions } from './options.js';
import { shortJson } from '../../util/show.js';

type Json = Record<string, unknown>;

export interface HfTokenizerSources {
  /** Parsed tokenizer.json. */
  tokenizerJson: unknown;
  /** Parsed tokenizer_config.json, when present. */
  tokenizerConfig?: Json | null;
  /** bos/eos ids from config.json and generation_config.json, in that order of precedence (later wins for eos). */
  modelConfig?: Json | null;
  generationConfig?: Json | null;
  /** File name for error messages. */
  origin: string;
  /**
   * The BPE merges come from a GGUF file, checked as llama.cpp reads them (gguf-vocab.ts), which takes merges whose
   * tokens or result the vocabulary lacks (their pieces stay apart); a tokenizer.json's are checked here, as Hugging
   * Face tokenizers checks them.
   */
  llamaCppMerges?: boolean;
  /**
   * The added tokens come from a GGUF file, and decode as llama.cpp decodes its user-defined and control tokens: as
   * their text. Hugging Face tokenizers' ByteLevel decoder reads an added token spelt wholly in its byte alphabet as
   * bytes ("ĠQ" as " Q", "café" as "caf\uFFFD"), as it reads every other token.
   */
  llamaCppAddedTokens?: boolean;
}

/** A special token in tokenizer_config.json is a string or an AddedToken object with `content`. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/**
 * A config's token id or list of ids (absent or null: none). Anything else is refused, naming `where`: a string id
 * ("2") was dropped without a word, and the other file's id used in its place (a generation_config listing an
 * end-of-turn id that way would not stop there).
 */
function idList(v: unknown, where: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const x of list) {
    if (!(typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      const shown = typeof x === 'string' ? JSON.stringify(x.slice(0, 40)) : x !== null && typeof x === 'object' ? (Array.isArray(x) ? 'a list' : 'an object') : String(x);
      throw new Error(`${where} must be a token id or a list of token ids (integers ≥ 0), got ${Array.isArray(v) ? `${shown} in the list` : shown}`);
    }
  }
  return list as number[];
}

/**
 * Whether a tokenizer.json decoder, or one of a Sequence's, has `cleanup: true` (WordPiece, CTC). A walk of the
 * decoders alone, a few levels deep: the whole decoder written out as JSON overflowed the stack on a deeply nested
 * value in a damaged file.
 */
function decoderCleansUp(d: unknown, depth: number): boolean {
  if (d === null || typeof d !== 'object' || depth > 8) return false;
  const o = d as Json;
  return o.cleanup === true || (Array.isArray(o.decoders) && o.decoders.some((x) => decoderCleansUp(x, depth + 1)));
}

/** The tokenizer model types of Hugging Face tokenizers (tokenizer.json `model.type`). */
const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];

/** Token ids at or past this are refused (see the constructor). */
export const MAX_TOKEN_ID = 2 ** 24;

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** The tokenizer.json object it was built from (for `namm convert` and the GGUF writer). */
  readonly json: Json;
  readonly tokenizerConfig: Json;
  private readonly core: HfCoreTokenizer;
  /**
   * The text a `normalized` added token decodes as, by id: its content passed through the normalizer (Rust's
   * `id_to_token` gives it, and its decode decodes it: "HELLO" under Lowercase decodes to "hello", "<s>" under Llama
   * 2's Prepend("▁") to "▁<s>", which its decoders make " <s>"). idToToken keeps the content.
   */
  private readonly decodedText = new Map<number, string>();
  /**
   * The special tokens' texts: decode drops with `skipSpecial` an id whose vocabulary string is one of them. Not its
   * decoded text, as Rust 0.23 compares: there a normalized special token whose normalized content is not its content
   * is never dropped (Llama 2's "<s>" marked normalized decodes as "<s> Hello" with skip_special_tokens). That came
   * with 0.23's decoding of normalized contents (0.22 and transformers drop it), and is not followed.
   */
  private readonly specialTexts: Set<string>;
  /** Where the tokenizer came from, for the messages about it. */
  private readonly origin: string;
  /** Present only when tokenizer_config.json has a `chat_template`. */
  readonly applyChatTemplate?: (messages: ChatMessage[], options?: ChatTemplateOptions) => string;
  /**
   * Whether decoding cleans up spaces before punctuation and contractions (" ." → ".", " 's" → "'s"):
   * tokenizer_config's `clean_up_tokenization_spaces` (on when absent, as the library has it), or a decoder's own
   * `cleanup` (WordPiece, CTC).
   */
  readonly cleansUpSpaces: boolean;

  constructor(src: HfTokenizerSources) {
    checkArg('HfTokenizer', 'src', src, 'object', 'an object { tokenizerJson, tokenizerConfig?, modelConfig?, generationConfig?, origin } (loadTokenizer reads one from files)');
    checkArg('HfTokenizer', 'src.origin', src.origin, 'string');
    const { origin } = src;
    this.origin = origin;
    if (src.tokenizerJson === null || typeof src.tokenizerJson !== 'object' || Array.isArray(src.tokenizerJson)) {
      throw new Error(`${origin}: tokenizer.json must hold a JSON object`);
    }
    this.json = src.tokenizerJson as Json;
    const model = this.json.model as Json | undefined;
    if (!model || typeof model !== 'object' || typeof model.type !== 'string') {
      throw new Error(`${origin}: tokenizer.json has no "model" with a "type"`);
    }
    // The four model types of Hugging Face tokenizers. The library falls back on a plain lookup for any other (and for
    // a vocabulary of the wrong form), which encoded every prompt to <unk>: a run answered a prompt it never read.
    if (!MODEL_TYPES.includes(model.type)) throw new Error(`${origin}: tokenizer.json model type ${JSON.stringify(model.type.slice(0, 40))} is not one of ${MODEL_TYPES.join(', ')}`);
    if (model.vocab === null || typeof model.vocab !== 'object') throw new Error(`${origin}: tokenizer.json model has no "vocab"`);
    // An empty vocabulary encodes every text to nothing (or to its special tokens alone): a run would answer a prompt it never read.
    if (Object.keys(model.vocab).length === 0) throw new Error(`${origin}: tokenizer.json model has an empty "vocab"`);
    // Unigram's vocabulary is a list of [piece, score] (ids by place); the others' an object of token → id. The
    // vocabulary size is the largest id + 1, and tables that size are made from it (one damaged id of 2e7 ran a GGUF
    // conversion out of memory; 1e9 took 46 s to load): ids past 2^24, far beyond any real vocabulary, are refused,
    // as is an id that is no integer ("4" was taken, and failed in the model's embedding for the prompts holding it).
    const tokenId = (id: unknown, token: unknown, where: string): void => {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= MAX_TOKEN_ID) {
        const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 40)) : id === null || typeof id !== 'object' ? String(id) : Array.isArray(id) ? 'an array' : 'an object';
        throw new Error(`${origin}: tokenizer.json ${where} gives token ${JSON.stringify(String(token).slice(0, 40))} the id ${shown}, not an integer within 0..${MAX_TOKEN_ID - 1} (2^24, far past any real vocabulary): the file is damaged`);
      }
    };
    if (model.type === 'Unigram') {
      if (!Array.isArray(model.vocab)) throw new Error(`${origin}: tokenizer.json model is Unigram, whose "vocab" must be a list of [piece, score] pairs, got an object`);
      (model.vocab as unknown[]).forEach((e, i) => {
        if (!(Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'number' && Number.isFinite(e[1]))) {
          throw new Error(`${origin}: tokenizer.json Unigram vocab entry ${i} must be a [piece, score] pair`);
        }
      });
    } else {
      if (Array.isArray(model.vocab)) throw new Error(`${origin}: tokenizer.json model is ${model.type}, whose "vocab" must be an object of token → id, got a list`);
      for (const [token, id] of Object.entries(model.vocab as Json)) tokenId(id, token, 'model.vocab');
    }
    // BPE's merges: the library read a missing, null or wrong-typed list as a TypeError of its own ("x.split is not a
    // function").
    if (model.type === 'BPE') {
      if (!Array.isArray(model.merges)) throw new Error(`${origin}: tokenizer.json BPE "merges" must be a list of "a b" strings or [a, b] pairs`);
      // The library's BPE never reads continuing_subword_prefix: such a model encoded words into single characters
      // (or <unk>) where Hugging Face tokenizers gives whole ones.
      if (typeof model.continuing_subword_prefix === 'string' && model.continuing_subword_prefix !== '') {
        throw new Error(`${origin}: tokenizer.json BPE model has continuing_subword_prefix ${shortJson(model.continuing_subword_prefix)}, which the tokenizer library namm uses does not apply (it would encode words into single characters)`);
      }
      if (src.llamaCppMerges !== true) checkBpeMerges(model.merges as unknown[], model.vocab as Json, origin);
    }
    if (model.type === 'Unigram') {
      // Rust refuses an unk_id outside the vocabulary (the library returned it as a token id, past the embedding).
      const unk = model.unk_id;
      if (unk !== undefined && unk !== null && !(Number.isSafeInteger(unk) && (unk as number) >= 0 && (unk as number) < (model.vocab as unknown[]).length)) {
        throw new Error(`${origin}: tokenizer.json Unigram unk_id is ${shortJson(unk)}, not the id of one of its ${(model.vocab as unknown[]).length} pieces`);
      }
      // The library's Unigram has no byte fallback: a character with no piece became <unk>, and the text was lost.
      if (model.byte_fallback === true) throw new Error(`${origin}: tokenizer.json Unigram model has byte_fallback, which the tokenizer library namm uses does not apply (characters without a piece would encode to <unk>)`);
    }
    // The pipeline sections: a damaged one (a null pattern, a null list) loaded with a mere console message from the
    // library, and then encoded a prompt to its BOS alone, ran its words together, or failed in every decode with the
    // library's own TypeError.
    checkPipelineSection(this.json.pre_tokenizer, 'pre_tokenizer', 'pretokenizers', origin, 0);
    checkPipelineSection(this.json.normalizer, 'normalizer', 'normalizers', origin, 0);
    checkPipelineSection(this.json.decoder, 'decoder', 'decoders', origin, 0);
    checkPostProcessor(this.json.post_processor, 'post_processor', origin, 0);
    if (this.json.added_tokens !== undefined) {
      if (!Array.isArray(this.json.added_tokens)) throw new Error(`${origin}: tokenizer.json "added_tokens" must be a list`);
      (this.json.added_tokens as unknown[]).forEach((t, i) => {
        const e = t as Json | null;
        if (e === null || typeof e !== 'object' || typeof e.content !== 'string') throw new Error(`${origin}: tokenizer.json added_tokens[${i}] must be an object with a "content" string`);
        tokenId(e.id, e.content, `added_tokens[${i}]`);
        // Matched only as a whole word in Hugging Face tokenizers; the library matches it inside words too.
        if (e.single_word === true) throw new Error(`${origin}: tokenizer.json added token ${shortJson(e.content)} is single_word (matched only as a whole word), which the tokenizer library namm uses does not apply (it would split it out of the middle of words)`);
      });
    }
    this.tokenizerConfig = src.tokenizerConfig ?? {};
    this.cleansUpSpaces = Boolean(this.tokenizerConfig.clean_up_tokenization_spaces ?? true) || decoderCleansUp(this.json.decoder, 0);
    try {
      const given = forLibrary(this.json);
      this.core = new HfCoreTokenizer(given, libraryConfig(this.json, this.tokenizerConfig));
      applyAsRust((this.core as unknown as { pre_tokenizer: unknown }).pre_tokenizer, given.pre_tokenizer, false, 0);
      const addedTexts = src.llamaCppAddedTokens === true ? new Set(((this.json.added_tokens ?? []) as Json[]).map((a) => a.content as string)) : null;
      decodeAsRust((this.core as unknown as { decoder: unknown }).decoder, given.decoder, addedTexts, 0);
      normalizeAsRust((this.core as unknown as { normalizer: unknown }).normalizer, given.normalizer, 0);
      firstPieceAsRust(this.core);
      fuseUnknownPerWord(this.core);
      const core = this.core as unknown as LibraryCore;
      // The special tokens' texts: tokenizer.json's special added tokens and tokenizer_config's additional ones.
      this.specialTexts = new Set(core.special_tokens);
      // A normalized added token's decoded text, as the library reads the flags (`normalized` defaults to "not
      // special"; Rust requires the key).
      for (const t of (this.json.added_tokens ?? []) as Json[]) {
        if ((t.normalized ?? !(t.special ?? false)) && core.normalizer) this.decodedText.set(t.id as number, core.normalizer(t.content as string));
      }
    } catch (err) {
      throw new Error(`${origin}: cannot build the tokenizer (${(err as Error).message})`);
    }
    checkTemplateIds(this.json.post_processor, (name) => this.core.token_to_id(name), origin, 0);

    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const bosName = tokenContent(this.tokenizerConfig.bos_token);
    const eosName = tokenContent(this.tokenizerConfig.eos_token);
    const cfg = src.modelConfig ?? {};
    const gen = src.generationConfig ?? {};
    // The files beside tokenizer.json (no node:path here: this module also runs in a browser).
    const beside = (file: string, key: string) => `${origin.replace(/[^/\\]*$/, '')}${file}: "${key}"`;
    const genBos = idList(gen.bos_token_id, beside('generation_config.json', 'bos_token_id'));
    const cfgBos = idList(cfg.bos_token_id, beside('config.json', 'bos_token_id'));
    // The tokenizer's own BOS first, the one its default encoding adds (then its bos_token), as transformers' tokenizer
    // has it: generation_config's (then config.json's) only for a tokenizer that names none. A stale generation_config
    // (Llama 2's 1 copied into a fine-tune) made encode(x, { addBos: true }) prepend another id than encode(x) did.
    let probe: number[], plain: number[];
    try {
      probe = this.checkedIds(this.core.encode('a').ids);
      plain = this.checkedIds(this.core.encode('a', { add_special_tokens: false }).ids);
    } catch (err) {
      // The library's own TypeError ("type is not iterable") named neither the file nor the section.
      if ((err as Error).message.startsWith(origin)) throw err;
      throw new Error(`${origin}: the tokenizer fails on a one-letter text (${(err as Error).message}): its pipeline is damaged`);
    }
    const addedBos = probe.length === plain.length + 1 && probe.slice(1).every((id: number, i: number) => id === plain[i]) ? probe[0]! : null;
    const namedBos = bosName !== null ? this.core.token_to_id(bosName) ?? null : null;
    this.bosTokenId = addedBos ?? namedBos ?? genBos[0] ?? cfgBos[0] ?? null;
    // generation_config's eos list is what generation stops on (Llama 3 instruct lists two); config.json next.
    const genEos = idList(gen.eos_token_id, beside('generation_config.json', 'eos_token_id'));
    const eos = genEos.length ? genEos : idList(cfg.eos_token_id, beside('config.json', 'eos_token_id'));
    const eosFromName = eosName !== null ? this.core.token_to_id(eosName) : undefined;
    this.eosTokenIds = eos.length ? eos : eosFromName !== undefined ? [eosFromName] : [];

    const template = this.tokenizerConfig.chat_template;
    if (template !== undefined && template !== null) {
      const specials: Record<string, string> = {};
      for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
        specials[key] = tokenContent(this.tokenizerConfig[key]) ?? '';
      }
      const chat = new ChatTemplate(template, specials, origin);
      this.applyChatTemplate = (messages, options) => chat.render(messages, options);
    }
  }

  encode(text: string, options?: { addBos?: boolean }): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${text === null ? 'null' : typeof text}`);
    checkEncodeOptions(options);
    if (options?.addBos === undefined) return this.checkedIds(this.core.encode(text).ids);
    const ids = this.checkedIds(this.core.encode(text, { add_special_tokens: false }).ids);
    return options.addBos && this.bosTokenId !== null ? [this.bosTokenId, ...ids] : ids;
  }

  /**
   * The library's ids, refused when one is not an id: a tokenizer.json whose model or post-processor names a token its
   * vocabulary lacks (a WordPiece model without its unknown token, a template's special token) gave `undefined` ids,
   * and the error came later, from decode or a prefill, without naming the file.
   */
  private checkedIds(ids: number[]): number[] {
    for (let i = 0; i < ids.length; i++) {
      if (!Number.isSafeInteger(ids[i])) {
        throw new Error(`${this.origin}: the tokenizer gave no token id at position ${i} (its model or post-processor names a token that its vocabulary lacks)`);
      }
    }
    return ids;
  }

  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string {
    // An array or a typed array: an array-like ({ length: 1e9 }) was spread into an array first, and ran out of memory.
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TypeError('decode: ids must be an array of token ids');
    checkDecodeOptions(options);
    // The library refuses an empty list; a generation that stops at once (EOS first) decodes to ''.
    if (ids.length === 0) return '';
    const list = Array.from(ids);
    // Not token ids at all (−1, 2.5, a hole) are errors; an id past the vocabulary decodes to nothing, as in HF
    // tokenizers (a model's embedding is often padded past its tokenizer's vocabulary, and sampling can land there).
    const bad = list.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
    if (bad >= 0) throw new RangeError(`decode: ids[${bad}] is ${String(list[bad])}, not a token id (an integer ≥ 0)`);
    // The library turns such an id (or one in a hole of the vocabulary) into the unknown token's text ("<unk>",
    // "[UNK]"), or fails without one: they are left out first.
    const known = list.filter((id) => id < this.vocabSize && this.core.id_to_token(id) !== undefined);
    if (known.length === 0) return '';
    // As Rust decodes: the special tokens dropped when asked (see specialTexts), each other id's text (a normalized
    // added token's normalized content) through the decoder (none: joined by spaces).
    const core = this.core as unknown as LibraryCore;
    const kept = options?.skipSpecial ?? true ? known.filter((id) => !this.specialTexts.has(core.id_to_token(id)!)) : known;
    const tokens = kept.map((id) => this.decodedText.get(id) ?? core.id_to_token(id)!);
    let text = core.decoder ? core.decoder(tokens) : tokens.join(' ');
    // A BPE model's end_of_word_suffix, as the library reads it (its decoders are given the model's suffix).
    const suffix = core.decoder?.end_of_word_suffix;
    if (suffix) {
      text = text.replaceAll(suffix, ' ');
      if (options?.skipSpecial ?? true) text = text.trim();
    }
    return core.clean_up_tokenization_spaces ? cleanUpSpaces(text) : text;
  }

  /**
   * The vocabulary's string of an id (undefined when out of range): an added token's content as tokenizer.json
   * writes it, the inverse of tokenToId. Not the text the id decodes as: Rust's `id_to_token`, and decode, give a
   * `normalized` added token's normalized content ("▁<s>" for Llama 2's "<s>" marked normalized).
   */
  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }
}

/**
 * A BPE model's merges, as Hugging Face tokenizers (Rust) reads them when it builds the model from a tokenizer.json:
 * all "a b" strings (exactly one space; one beginning "#version", a merges.txt header, is skipped) or all [a, b]
 * pairs, each merge's two tokens and its result tokens of the vocabulary (a continuing_subword_prefix, which Rust
 * takes off b first, is refused before this: the library does not apply it). The JavaScript library took a merge it
 * could never apply ("QQQ ZZZ"), a string with two spaces (it applied its first two pieces) and a list that mixes the
 * two forms (it reads every entry in the form of the first, ignoring or failing on the others), without a word. Not
 * for a GGUF file's merges, which gguf-vocab.ts reads as llama.cpp does (it takes merges that can never apply).
 */
function checkBpeMerges(merges: unknown[], vocab: Json, origin: string): void {
  const where = `${origin}: tokenizer.json BPE merges`;
  const isPair = (m: unknown): m is [string, string] => Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string';
  const pairs = merges.length > 0 && Array.isArray(merges[0]);
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i];
    if (pairs ? !isPair(m) : typeof m !== 'string') {
      if (pairs ? typeof m === 'string' : isPair(m)) {
        throw new Error(`${where} mix "a b" strings and [a, b] pairs (entry 0 is ${pairs ? 'a pair' : 'a string'}, entry ${i} is not): a list holds one form`);
      }
      throw new Error(`${where}[${i}] must be an "a b" string or an [a, b] pair`);
    }
    let a: string, b: string;
    if (pairs) [a, b] = m as [string, string];
    else {
      const s = m as string;
      if (s.startsWith('#version')) continue;  // a merges.txt header ("#version: 0.2"), which Hugging Face tokenizers skips
      const space = s.indexOf(' ');
      if (space < 0 || s.indexOf(' ', space + 1) >= 0) throw new Error(`${where}[${i}] is ${shortJson(s)}, not two tokens separated by one space`);
      a = s.slice(0, space);
      b = s.slice(space + 1);
    }
    const merged = a + b;
    const missing = !Object.hasOwn(vocab, a) ? a : !Object.hasOwn(vocab, b) ? b : !Object.hasOwn(vocab, merged) ? merged : null;
    if (missing !== null) {
      throw new Error(`${where}[${i}] (${shortJson(a)} + ${shortJson(b)}) needs the token ${shortJson(missing)}, which the vocabulary lacks: the merge could never apply (Hugging Face tokenizers refuses the file)`);
    }
  }
}

/** The behaviours of a Split pre-tokenizer. */
const SPLIT_BEHAVIOURS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

/** Sections nested deeper than this are refused (a damaged file's nesting overflowed the stack in the check). */
const MAX_PIPELINE_DEPTH = 32;

/**
 * A tokenizer.json pre_tokenizer, normalizer or decoder section (`where`), null or absent allowed: an object with a
 * string "type"; a Sequence's list (`listKey`) holds such objects; a Split's or a Replace's pattern is { String } or a
 * non-empty { Regex }, and a Split's behaviour one of Rust's (applyAsRust splits as Rust does); a FixedLength's length
 * is a positive integer (0 looped for ever).
 */
function checkPipelineSection(value: unknown, where: string, listKey: string, origin: string, depth: number): void {
  if (value === undefined || value === null) return;
  const v = value as Record<string, unknown>;
  if (typeof value !== 'object' || Array.isArray(value) || typeof v.type !== 'string') {
    throw new Error(`${origin}: tokenizer.json ${where} must be an object with a "type"`);
  }
  if (depth > MAX_PIPELINE_DEPTH) throw new Error(`${origin}: tokenizer.json ${where} is nested more than ${MAX_PIPELINE_DEPTH} Sequences deep: the file is damaged`);
  if (v.type === 'Sequence') {
    const list = v[listKey];
    if (!Array.isArray(list)) throw new Error(`${origin}: tokenizer.json ${where} is a Sequence whose "${listKey}" must be a list`);
    list.forEach((item, i) => {
      if (item === null) throw new Error(`${origin}: tokenizer.json ${where}.${listKey}[${i}] is null`);
      checkPipelineSection(item, `${where}.${listKey}[${i}]`, listKey, origin, depth + 1);
    });
    return;
  }
  if (v.type === 'Split' || v.type === 'Replace') {
    const p = v.pattern as Record<string, unknown> | null | undefined;
    const ok = p !== null && typeof p === 'object' && !Array.isArray(p)
      && (typeof p.String === 'string' || (typeof p.Regex === 'string' && p.Regex !== ''));
    if (!ok) throw new Error(`${origin}: tokenizer.json ${where} (${v.type}) needs a "pattern" of { "String": … } or a non-empty { "Regex": … }`);
  }
  if (v.type === 'Split') {
    if (!SPLIT_BEHAVIOURS.includes(v.behavior as string)) {
      throw new Error(`${origin}: tokenizer.json ${where} (Split) has behavior ${JSON.stringify(String(v.behavior).slice(0, 40))}, not one of ${SPLIT_BEHAVIOURS.join(', ')}`);
    }
  }
  // Rust reads the replacement as one character (an empty one deleted every space here).
  if (v.type === 'Metaspace' && v.replacement !== undefined && !(typeof v.replacement === 'string' && [...v.replacement].length === 1)) {
    throw new Error(`${origin}: tokenizer.json ${where} (Metaspace) needs a "replacement" of one character, got ${shortJson(v.replacement)}`);
  }
  if (v.type === 'FixedLength' && !(Number.isSafeInteger(v.length) && (v.length as number) >= 1)) {
    throw new Error(`${origin}: tokenizer.json ${where} (FixedLength) needs a "length" that is a positive integer, got ${shortJson(v.length)}`);
  }
}

/** The token pairs of BertProcessing and RobertaProcessing. */
const CLS_SEP = ['cls', 'sep'] as const;

/**
 * A tokenizer.json post_processor: null or absent, or an object with a "type"; a Sequence's `processors` such objects;
 * a TemplateProcessing's `single` (and `pair`, when given) a list of { SpecialToken } and { Sequence } items, each
 * special token listed in `special_tokens`; Bert/RobertaProcessing's `cls` and `sep` [token, id] pairs. A missing
 * `single` failed every encode with the library's "type is not iterable", naming no file.
 */
function checkPostProcessor(value: unknown, where: string, origin: string, depth: number): void {
  if (value === undefined || value === null) return;
  const v = value as Json;
  if (typeof value !== 'object' || Array.isArray(value) || typeof v.type !== 'string') throw new Error(`${origin}: tokenizer.json ${where} must be an object with a "type"`);
  if (depth > MAX_PIPELINE_DEPTH) throw new Error(`${origin}: tokenizer.json ${where} is nested more than ${MAX_PIPELINE_DEPTH} Sequences deep: the file is damaged`);
  const bad = (why: string): never => { throw new Error(`${origin}: tokenizer.json ${where} (${v.type}) ${why}`); };
  if (v.type === 'Sequence') {
    if (!Array.isArray(v.processors)) bad('needs a list of "processors"');
    (v.processors as unknown[]).forEach((p, i) => {
      if (p === null) bad(`has a null processors[${i}]`);
      checkPostProcessor(p, `${where}.processors[${i}]`, origin, depth + 1);
    });
  } else if (v.type === 'TemplateProcessing') {
    const specials = v.special_tokens;
    if (specials === null || typeof specials !== 'object' || Array.isArray(specials)) bad('needs a "special_tokens" object');
    for (const key of ['single', 'pair'] as const) {
      const items = v[key];
      if (key === 'pair' && (items === undefined || items === null)) continue;
      if (!Array.isArray(items)) bad(`needs "${key}" as a list of { "SpecialToken": … } and { "Sequence": … } items`);
      (items as unknown[]).forEach((item, i) => {
        const it = item as Json | null;
        const special = it?.SpecialToken as Json | undefined, seq = it?.Sequence as Json | undefined;
        if (special !== undefined && special !== null && typeof special === 'object' && typeof special.id === 'string') {
          if (!Object.hasOwn(specials as Json, special.id)) bad(`${key}[${i}] names the special token ${shortJson(special.id)}, which "special_tokens" does not list`);
        } else if (!(seq !== undefined && seq !== null && typeof seq === 'object' && (seq.id === 'A' || seq.id === 'B'))) {
          bad(`${key}[${i}] must be { "SpecialToken": { "id": name } } or { "Sequence": { "id": "A" or "B" } }`);
        }
      });
    }
  } else if (v.type === 'BertProcessing' || v.type === 'RobertaProcessing') {
    for (const key of CLS_SEP) {
      const pair = v[key];
      if (!(Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && Number.isSafeInteger(pair[1]))) bad(`needs "${key}" as a [token, id] pair`);
    }
  }
}

/**
 * The ids a post-processor adds, as the library adds them: by the token's name, looked up in the vocabulary, where
 * Hugging Face tokenizers adds the ids that `special_tokens` (or the [token, id] pair) lists. The two must agree: a
 * name the vocabulary lacks became the unknown token (and namm's BOS with it), and an entry of two ids gave one.
 */
function checkTemplateIds(value: unknown, idOf: (name: string) => number | undefined, origin: string, depth: number): void {
  if (value === undefined || value === null || depth > MAX_PIPELINE_DEPTH) return;
  const v = value as Json;
  const where = `${origin}: tokenizer.json post_processor (${v.type as string})`;
  if (v.type === 'Sequence') {
    for (const p of v.processors as unknown[]) checkTemplateIds(p, idOf, origin, depth + 1);
  } else if (v.type === 'TemplateProcessing') {
    const specials = v.special_tokens as Json;
    const used = new Set<string>();
    for (const key of ['single', 'pair'] as const) {
      for (const item of (v[key] ?? []) as Json[]) if (item.SpecialToken) used.add((item.SpecialToken as Json).id as string);
    }
    for (const name of used) {
      const entry = specials[name] as Json | null;
      const ids = entry !== null && typeof entry === 'object' ? entry.ids : undefined;
      const id = idOf(name);
      if (!(Array.isArray(ids) && ids.length === 1 && ids[0] === id)) {
        throw new Error(`${where}: the special token ${shortJson(name)} adds the ids ${shortJson(ids)}, where the tokenizer library namm uses adds ${id === undefined ? 'the unknown token (the vocabulary has no token of that name)' : `the id of the token of that name, ${id}`}: namm cannot add them as Hugging Face tokenizers does`);
      }
    }
  } else if (v.type === 'BertProcessing' || v.type === 'RobertaProcessing') {
    for (const key of CLS_SEP) {
      const [name, id] = v[key] as [string, number];
      if (idOf(name) !== id) throw new Error(`${where}: "${key}" is ${shortJson(name)} with id ${id}, but the vocabulary gives ${shortJson(name)} ${idOf(name) === undefined ? 'no id' : `the id ${idOf(name)}`}`);
    }
  }
}

/** A Metaspace's prepend scheme, as Rust reads it: `prepend_scheme`, else from an older file's `add_prefix_space`. */
const metaspaceScheme = (m: Json): string => (typeof m.prepend_scheme === 'string' ? m.prepend_scheme : m.add_prefix_space === false ? 'never' : 'always');

/**
 * The tokenizer.json as the library is given it (the object itself when nothing needs changing; never modified):
 * a Metaspace's split at ▁ as a Split of its own after it (applyAsRust splits it as Rust does),
 * Digits splits at every numeric character, as a Split by \p{N} (Rust's char::is_numeric), not at ASCII digits only;
 * a Metaspace written before `prepend_scheme` existed gets the one its `add_prefix_space` means (Hugging Face
 * tokenizers reads false as "never"; the library took any Metaspace as "always", and added a ▁ the model never saw;
 * decodeAsRust reads the decoder's); a WordPiece model without `continuing_subword_prefix` gets Rust's "##".
 */
function forLibrary(json: Json): Json {
  let changed = false;
  const patch = (v: unknown, listKey: string, decoder: boolean, depth: number): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || depth > MAX_PIPELINE_DEPTH) return v;
    const o = v as Json;
    if (o.type === 'Sequence' && Array.isArray(o[listKey])) {
      const list = o[listKey] as unknown[];
      const next = list.map((x) => patch(x, listKey, decoder, depth + 1));
      return next.some((x, i) => x !== list[i]) ? { ...o, [listKey]: next } : o;
    }
    if (o.type === 'Digits' && !decoder) {
      // Rust's digits are char::is_numeric (\p{N}); the library's \d is ASCII only ("٣" or "²" stayed in the word).
      changed = true;
      return { type: 'Split', pattern: { Regex: o.individual_digits === true ? '\\p{N}' : '\\p{N}+' }, behavior: 'Isolated', invert: false };
    }
    // A Metaspace decoder is left as it is: decodeAsRust replaces its decoding, reading the scheme itself.
    if (o.type !== 'Metaspace' || decoder) return o;
    const s = metaspaceScheme(o);
    // Rust's Metaspace splits the text into words at each ▁ (split, its default) after replacing the spaces: the
    // library never splits, so a vocabulary with tokens across ▁ ("▁▁", "a▁b") ran words together, and a WordLevel
    // or WordPiece model looked the whole text up as one word. The split, as a Split of its own, after it.
    const replacement = typeof o.replacement === 'string' && o.replacement !== '' ? o.replacement : '\u2581';
    const metaspace = { ...o, prepend_scheme: s, split: false };
    changed = true;
    if (o.split === false) return metaspace;
    return { type: 'Sequence', pretokenizers: [metaspace, { type: 'Split', pattern: { String: replacement }, behavior: 'MergedWithNext', invert: false }] };
  };
  const pre = patch(json.pre_tokenizer, 'pretokenizers', false, 0), dec = patch(json.decoder, 'decoders', true, 0);
  // A WordPiece model without the key takes Rust's default prefix, "##" (the library's was "undefined").
  const model = json.model as Json;
  if (model.type === 'WordPiece' && typeof model.continuing_subword_prefix !== 'string') {
    return { ...json, pre_tokenizer: pre, decoder: dec, model: { ...model, continuing_subword_prefix: '##' } };
  }
  return changed ? { ...json, pre_tokenizer: pre, decoder: dec } : json;
}

/** Rust's Whitespace pre-tokenizer expression, \w+|[^\w\s]+, with Rust regex's Unicode \w and \s. */
const RUST_WHITESPACE = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;

/** A library pre-tokenizer instance, as far as applyAsRust reads and replaces it. */
interface LibraryPreTokenizer {
  pattern?: RegExp | null;
  tokenizers?: (LibraryPreTokenizer | null)[];
  pre_tokenize_text: (text: string, options?: { section_index?: number }) => string[];
  pre_tokenize: (text: string | string[], options?: { section_index?: number }) => string[];
}

/**
 * Makes the library's pre-tokenizer instances (built from `config`, walked in step with it) do what Hugging Face
 * tokenizers (Rust) does where the library does otherwise: a Split splits by Rust's algorithm (rustSplit) over the
 * expression the library compiled (its rewrite of Oniguruma syntax kept), where the library did Isolated alone (it
 * made MergedWithPrevious, MergedWithNext and Contiguous Isolated, kept a Removed string delimiter, and dropped all
 * but the matches of an inverted Isolated Split); a Metaspace after another step of a Sequence prepends its ▁ with the
 * "first" scheme to the first piece only (Rust: to the text at offset 0; the library, to every piece of the first
 * section).
 */
function applyAsRust(instance: unknown, config: unknown, inSequence: boolean, depth: number): void {
  if (instance === null || typeof instance !== 'object' && typeof instance !== 'function') return;
  if (config === null || typeof config !== 'object' || depth > MAX_PIPELINE_DEPTH) return;
  const inst = instance as LibraryPreTokenizer, c = config as Json;
  if (c.type === 'Sequence' && Array.isArray(c.pretokenizers) && Array.isArray(inst.tokenizers)) {
    c.pretokenizers.forEach((x, i) => applyAsRust(inst.tokenizers![i], x, true, depth + 1));
    // A Sequence within a Sequence (forLibrary makes one of a splitting Metaspace) is given the pieces all at once,
    // as Rust's steps see them: the library ran it on each piece alone, so a "first" Metaspace after Digits took
    // every digit for the text's first piece and prepended ▁ to each.
    if (inSequence) {
      const steps = inst.tokenizers;
      const own = inst.pre_tokenize.bind(inst);
      inst.pre_tokenize = (text, options) => Array.isArray(text)
        ? steps.reduce<string[]>((pieces, t) => (t ? t.pre_tokenize(pieces, options) : pieces), text)
        : own(text, options);
    }
    return;
  }
  if (c.type === 'Whitespace') {
    // Rust's \w+|[^\w\s]+ is Unicode's \w (letters, marks, digits, connectors, ZWJ); the library's JavaScript \w is
    // ASCII alone, so "café" split into "caf" and "é".
    inst.pre_tokenize_text = (text) => text.match(RUST_WHITESPACE) ?? [];
    return;
  }
  if (c.type === 'Split') {
    const pattern = c.pattern as Json;
    const regex = inst.pattern;
    if (!(regex instanceof RegExp)) throw new Error('the tokenizer library built its Split without an expression');
    // Rust's string pattern "" matches nowhere (the library's matched between every character).
    const never = typeof pattern.String === 'string' && pattern.String === '';
    const behavior = c.behavior as string, invert = c.invert === true;
    inst.pre_tokenize_text = (text) => rustSplit(text, never ? null : regex, behavior, invert);
    return;
  }
  if (c.type === 'Metaspace' && inSequence) {
    const own = inst.pre_tokenize_text.bind(inst);
    inst.pre_tokenize = (text, options) => {
      if (!Array.isArray(text)) return own(text, options);
      return text.flatMap((piece, i) => own(piece, i === 0 ? options : { ...options, section_index: (options?.section_index ?? 0) + 1 }));
    };
  }
}

/** The library's tokenizer, as far as namm reads and patches it. */
interface LibraryCore {
  /** The special tokens' texts (special added tokens, then tokenizer_config's additional_special_tokens). */
  special_tokens: string[];
  normalizer: ((text: string) => string) | null;
  decoder: (((tokens: string[]) => string) & { end_of_word_suffix?: string | null }) | null;
  clean_up_tokenization_spaces: boolean;
  id_to_token(id: number): string | undefined;
  /** Added tokens by content and by normalized content. */
  added_tokens_map: Map<string, unknown>;
  /** Splits a normalized text at the normalized added tokens. */
  splitter_normalized?: { split(text: string): string[] };
  pre_tokenizer: { _call(text: string, options?: { section_index?: number }): string[] } | null;
  model: { fuse_unk?: boolean; _call(words: string[]): string[] };
}

/** The clean-up of spaces that decode applies unless clean_up_tokenization_spaces is off (transformers' rules, in order). */
const CLEAN_UP: [string, string][] = [
  [' .', '.'], [' ?', '?'], [' !', '!'], [' ,', ','], [" ' ", "'"], [" n't", "n't"], [" 'm", "'m"], [" 's", "'s"], [" 've", "'ve"], [" 're", "'re"],
];
const cleanUpSpaces = (text: string): string => CLEAN_UP.reduce((t, [from, to]) => t.replaceAll(from, to), text);

/**
 * Makes the library prepend a "first" Metaspace's ▁ as Rust does after a normalized added token: Rust prepends to a
 * piece of text that begins where the text does (offset 0), so not to the text after such a token at the start
 * ("HELLOworld" with HELLO added: "world", not "▁world"). The library passes the pre-tokenizer the index of the text's
 * section between the added tokens matched before normalizing, and the piece after a normalized token has its
 * section's index: 0 at the start. The pre-tokenizer is called once for each piece of the split of a section's
 * normalized text at the normalized added tokens (skipping empty pieces and the tokens), in order: a piece after a
 * non-empty one is given a section index of 1 (which "first" reads as not the first; nothing else reads it).
 */
function firstPieceAsRust(library: unknown): void {
  const core = library as LibraryCore;
  const pre = core.pre_tokenizer, splitter = core.splitter_normalized;
  if (!pre || !splitter || typeof splitter.split !== 'function' || typeof pre._call !== 'function') return;
  const split = splitter.split.bind(splitter), call = pre._call.bind(pre);
  // The last split (the library trims its pieces in place for an added token's lstrip and rstrip) and the next piece.
  let pieces: string[] = [], next = 0;
  splitter.split = (text) => {
    pieces = split(text);
    next = 0;
    return pieces;
  };
  pre._call = (text, options) => {
    let k = next;
    while (k < pieces.length && (pieces[k] === '' || core.added_tokens_map.has(pieces[k]!))) k++;
    if (pieces[k] !== text) return call(text, options);  // not called from the library's encode, as above
    next = k + 1;
    const atStart = pieces.slice(0, k).every((p) => p === '');
    return call(text, options?.section_index === 0 && !atStart ? { ...options, section_index: 1 } : options);
  };
}

/**
 * Makes the library's model fuse unknown tokens (BPE's fuse_unk, Unigram always) within each word, as Rust's model
 * does (it is given one word at a time): the library fused them across the words of a text ("☃ ☃" split by
 * whitespace gave one unknown token, Rust two).
 */
function fuseUnknownPerWord(library: unknown): void {
  const model = (library as LibraryCore).model;
  if (model.fuse_unk !== true) return;
  const call = model._call.bind(model);
  model._call = (words) => (words.length < 2 ? call(words) : words.flatMap((w) => call([w])));
}

/**
 * Makes the library's normalizer instances (walked in step with `config`) do what Rust's do where the library does
 * otherwise: Prepend leaves an empty text empty (the library made "" — or a blank text that Strip emptied — into
 * the prepended string alone, one token where Rust encodes none).
 */
function normalizeAsRust(instance: unknown, config: unknown, depth: number): void {
  if (instance === null || typeof instance !== 'object' && typeof instance !== 'function') return;
  if (config === null || typeof config !== 'object' || depth > MAX_PIPELINE_DEPTH) return;
  const inst = instance as { normalizers?: unknown[]; normalize: (text: string) => string }, c = config as Json;
  if (c.type === 'Sequence' && Array.isArray(c.normalizers) && Array.isArray(inst.normalizers)) {
    c.normalizers.forEach((x, i) => normalizeAsRust(inst.normalizers![i], x, depth + 1));
    return;
  }
  if (c.type === 'Prepend') {
    const own = inst.normalize.bind(inst);
    inst.normalize = (text) => (text === '' ? '' : own(text));
  }
}

/**
 * Makes the library's decoders (walked in step with `config`) decode as Rust's where the library does otherwise:
 * Metaspace: each ▁ a space, except in the first token, where every ▁ goes, unless the scheme is "never" (the library
 * took one leading space off the first token whatever the scheme). ByteLevel: a token spelt wholly in the byte
 * alphabet is its bytes, any other its own UTF-8 (the library made a character outside the alphabet a 0 byte, and
 * passed an added token through as its text: "ĠQ" stayed "ĠQ", where Rust decodes " Q"), and the bytes of all the
 * tokens are read as UTF-8 together. `addedTexts` (a GGUF file's added tokens) are passed through as their text, as
 * llama.cpp decodes them.
 */
function decodeAsRust(instance: unknown, config: unknown, addedTexts: Set<string> | null, depth: number): void {
  if (instance === null || typeof instance !== 'object' && typeof instance !== 'function') return;
  if (config === null || typeof config !== 'object' || depth > MAX_PIPELINE_DEPTH) return;
  const inst = instance as { decoders?: unknown[]; decode_chain: (tokens: string[]) => string[]; byte_decoder?: Record<string, number> }, c = config as Json;
  if (c.type === 'Sequence' && Array.isArray(c.decoders) && Array.isArray(inst.decoders)) {
    c.decoders.forEach((x, i) => decodeAsRust(inst.decoders![i], x, addedTexts, depth + 1));
    return;
  }
  if (c.type === 'ByteLevel') {
    const bytesOf = inst.byte_decoder;
    if (bytesOf === null || typeof bytesOf !== 'object') throw new Error('the tokenizer library built its ByteLevel decoder without its byte table');
    const utf8 = new TextEncoder(), text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    inst.decode_chain = (tokens) => {
      const bytes: number[] = [];
      for (const token of tokens) {
        const chars = [...token];
        if (addedTexts?.has(token) !== true && chars.every((ch) => Object.hasOwn(bytesOf, ch))) for (const ch of chars) bytes.push(bytesOf[ch]!);
        else for (const b of utf8.encode(token)) bytes.push(b);
      }
      return [text.decode(Uint8Array.from(bytes))];
    };
    return;
  }
  if (c.type !== 'Metaspace') return;
  const replacement = typeof c.replacement === 'string' ? c.replacement : '\u2581';
  const never = metaspaceScheme(c) === 'never';
  inst.decode_chain = (tokens) => tokens.map((t, i) => t.replaceAll(replacement, i === 0 && !never ? '' : ' '));
}

/**
 * Hugging Face tokenizers' Split (Rust): the text cut into the pattern's matches (left to right, as an iterator of
 * matches finds them, empty ones included) and the runs between, the flags inverted with `invert`, then joined or
 * dropped by the behaviour: Isolated keeps every piece, Removed drops the matches, MergedWithPrevious joins a match to
 * the piece before it, MergedWithNext to the piece after it, Contiguous joins consecutive pieces of one kind. Empty
 * pieces are dropped.
 */
function rustSplit(text: string, regex: RegExp | null, behavior: string, invert: boolean): string[] {
  const spans: [number, number, boolean][] = [];
  if (text === '') return [];
  let prev = 0;
  if (regex !== null) {
    const re = regex.global ? regex : new RegExp(regex.source, `${regex.flags}g`);
    for (const m of text.matchAll(re)) {
      const start = m.index!, end = start + m[0].length;
      if (prev !== start) spans.push([prev, start, false]);
      spans.push([start, end, true]);
      prev = end;
    }
  }
  if (prev !== text.length) spans.push([prev, text.length, false]);
  if (invert) for (const sp of spans) sp[2] = !sp[2];
  let pieces: [number, number, boolean][];
  switch (behavior) {
    case 'Isolated': pieces = spans.map(([a, b]) => [a, b, false]); break;
    case 'Removed': pieces = spans; break;
    case 'Contiguous': {
      pieces = [];
      let previous = false;
      for (const [a, b, m] of spans) {
        const last = pieces[pieces.length - 1];
        if (m === previous && last) last[1] = b; else pieces.push([a, b, false]);
        previous = m;
      }
      break;
    }
    case 'MergedWithPrevious': {
      pieces = [];
      let previous = false;
      for (const [a, b, m] of spans) {
        const last = pieces[pieces.length - 1];
        if (m && !previous && last) last[1] = b; else pieces.push([a, b, false]);
        previous = m;
      }
      break;
    }
    case 'MergedWithNext': {
      pieces = [];
      let previous = false;
      for (let k = spans.length - 1; k >= 0; k--) {
        const [a, b, m] = spans[k]!;
        const last = pieces[pieces.length - 1];
        if (m && !previous && last) last[0] = a; else pieces.push([a, b, false]);
        previous = m;
      }
      pieces.reverse();
      break;
    }
    default: throw new Error(`Split behavior ${behavior} is not one of ${SPLIT_BEHAVIOURS.join(', ')}`);
  }
  return pieces.filter(([a, b, removed]) => !removed && b > a).map(([a, b]) => text.slice(a, b));
}

/**
 * tokenizer_config as the library is given it: the library has no WordLevel model and reads such a vocabulary
 * through a plain lookup that takes its unknown token from tokenizer_config, not from the model (encode failed
 * without one there, and took another token's id with another one).
 */
function libraryConfig(json: Json, config: Json): Json {
  const model = json.model as Json;
  if (model.type !== 'WordLevel') return config;
  return { ...config, unk_token: typeof model.unk_token === 'string' ? model.unk_token : '<unk>' };
}
