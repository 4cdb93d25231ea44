/**
 * Tokenizer over a Hugging Face `tokenizer.json`, encoded and decoded by `@huggingface/tokenizers` (a pure-JS port
 * of the Rust `tokenizers` pipeline: normalizer, pre-tokenizer, model, post-processor, decoder).
 */
import { Tokenizer as HfCoreTokenizer } from '@huggingface/tokenizers';
import type { Tokenizer } from '../types.js';
import { ChatTemplate, pickChatTemplate, type ChatMessage } from './chat.js';

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
}

/** A special token in tokenizer_config.json is a string or an AddedToken object with `content`. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

function idList(v: unknown): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

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
  /** Present only when tokenizer_config.json has a `chat_template`. */
  readonly applyChatTemplate?: (messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }) => string;
  /**
   * Whether decoding cleans up spaces before punctuation and contractions (" ." → ".", " 's" → "'s"):
   * tokenizer_config's `clean_up_tokenization_spaces` (on when absent, as the library has it), or a decoder's own
   * `cleanup` (WordPiece, CTC).
   */
  readonly cleansUpSpaces: boolean;

  constructor(src: HfTokenizerSources) {
    const { origin } = src;
    if (src.tokenizerJson === null || typeof src.tokenizerJson !== 'object' || Array.isArray(src.tokenizerJson)) {
      throw new Error(`${origin}: tokenizer.json must hold a JSON object`);
    }
    this.json = src.tokenizerJson as Json;
    const model = this.json.model as Json | undefined;
    if (!model || typeof model !== 'object' || typeof model.type !== 'string') {
      throw new Error(`${origin}: tokenizer.json has no "model" with a "type"`);
    }
    if (model.vocab === null || typeof model.vocab !== 'object') throw new Error(`${origin}: tokenizer.json model has no "vocab"`);
    // An empty vocabulary encodes every text to nothing (or to its special tokens alone): a run would answer a prompt it never read.
    if (Object.keys(model.vocab).length === 0) throw new Error(`${origin}: tokenizer.json model has an empty "vocab"`);
    // The vocabulary size is the largest id + 1, and tables that size are made from it (one damaged id of 2e7 ran a
    // GGUF conversion out of memory; 1e9 took 46 s to load): ids past 2^24, far beyond any real vocabulary, are refused.
    const ids = [...(Array.isArray(model.vocab) ? [] : Object.values(model.vocab as Json)),
      ...(Array.isArray(this.json.added_tokens) ? (this.json.added_tokens as Json[]).map((t) => t?.id) : [])];
    for (const id of ids) {
      if (typeof id === 'number' && !(Number.isSafeInteger(id) && id >= 0 && id < MAX_TOKEN_ID)) {
        throw new Error(`${origin}: tokenizer.json holds token id ${id}, outside 0..${MAX_TOKEN_ID - 1} (2^24, far past any real vocabulary): the file is damaged`);
      }
    }
    this.tokenizerConfig = src.tokenizerConfig ?? {};
    this.cleansUpSpaces = Boolean(this.tokenizerConfig.clean_up_tokenization_spaces ?? true) || /"cleanup":true/.test(JSON.stringify(this.json.decoder ?? null));
    try {
      this.core = new HfCoreTokenizer(this.json, this.tokenizerConfig);
    } catch (err) {
      throw new Error(`${origin}: cannot build the tokenizer (${(err as Error).message})`);
    }

    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const bosName = tokenContent(this.tokenizerConfig.bos_token);
    const eosName = tokenContent(this.tokenizerConfig.eos_token);
    const cfg = src.modelConfig ?? {};
    const gen = src.generationConfig ?? {};
    const bosFromConfigs = idList(gen.bos_token_id)[0] ?? idList(cfg.bos_token_id)[0];
    this.bosTokenId = bosFromConfigs ?? (bosName !== null ? this.core.token_to_id(bosName) ?? null : null);
    // generation_config's eos list is what generation stops on (Llama 3 instruct lists two); config.json next.
    const eos = idList(gen.eos_token_id).length ? idList(gen.eos_token_id) : idList(cfg.eos_token_id);
    const eosFromName = eosName !== null ? this.core.token_to_id(eosName) : undefined;
    this.eosTokenIds = eos.length ? eos : eosFromName !== undefined ? [eosFromName] : [];

    const template = pickChatTemplate(this.tokenizerConfig.chat_template, origin);
    if (template !== null) {
      const chat = new ChatTemplate(template, {
        bos_token: bosName ?? '',
        eos_token: eosName ?? '',
        unk_token: tokenContent(this.tokenizerConfig.unk_token) ?? '',
        pad_token: tokenContent(this.tokenizerConfig.pad_token) ?? '',
      }, origin);
      this.applyChatTemplate = (messages, options) => chat.render(messages, options?.addGenerationPrompt ?? true);
    }
  }

  encode(text: string, options?: { addBos?: boolean }): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${text === null ? 'null' : typeof text}`);
    if (options?.addBos === undefined) return this.core.encode(text).ids;
    const ids = this.core.encode(text, { add_special_tokens: false }).ids;
    return options.addBos && this.bosTokenId !== null ? [this.bosTokenId, ...ids] : ids;
  }

  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string {
    // An array or a typed array: an array-like ({ length: 1e9 }) was spread into an array first, and ran out of memory.
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TypeError('decode: ids must be an array of token ids');
    // The library refuses an empty list; a generation that stops at once (EOS first) decodes to ''.
    if (ids.length === 0) return '';
    const list = Array.from(ids);
    // Not token ids at all (−1, 2.5, a hole) are errors; an id past the vocabulary decodes to nothing, as in HF
    // tokenizers (a model's embedding is often padded past its tokenizer's vocabulary, and sampling can land there).
    const bad = list.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
    if (bad >= 0) throw new RangeError(`decode: ids[${bad}] is ${String(list[bad])}, not a token id (an integer ≥ 0)`);
    return this.core.decode(list, { skip_special_tokens: options?.skipSpecial ?? true });
  }

  /** Token string of an id (undefined when out of range). */
  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }
}
