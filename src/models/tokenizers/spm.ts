/**
 * SentencePiece-style BPE over a scored vocabulary, as llama2.c and llama.cpp's "llama" vocabulary do it: start from
 * single characters, repeatedly merge the adjacent pair whose concatenation is the best-scoring vocabulary entry
 * (leftmost on ties), then spell any piece the vocabulary lacks as `<0xXX>` byte tokens (or `<unk>`).
 * A heap keeps this O(n log n), so long prompts stay fast (llama2.c's own loop is O(n²)).
 */
import type { Tokenizer } from '../types.js';
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { argError, checkArg } from '../../util/args.js';
import { checkDecodeOptions, checkEncodeOptions } from './options.js';

/** GGUF token types (llama.cpp `llama_token_type`). */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SpmVocabulary {
  tokens: string[];
  scores: ArrayLike<number>;
  /** Per-token TokenType; inferred (bytes from `<0xXX>`, bos/eos control, unk unknown) when absent. */
  types?: ArrayLike<number>;
  bosTokenId: number | null;
  eosTokenIds: number[];
  unkTokenId: number | null;
  /** How a space is spelled inside tokens: '▁' (SentencePiece, GGUF) or ' ' (llama2.c's tokenizer.bin). */
  spaceSymbol: string;
  /** Prepend one space to the text before encoding (SentencePiece's dummy prefix); decoding strips it again. */
  addSpacePrefix: boolean;
  /** Whether encode() adds BOS when the caller does not say. */
  addBosByDefault: boolean;
  chatTemplate?: string | null;
  /** The texts of special tokens besides BOS and EOS that a chat template may name (`pad_token`, …), by that name. */
  chatSpecials?: Record<string, string>;
  /** Emit one `<unk>` for a run of unknown pieces (HF BPE `fuse_unk`); llama.cpp and llama2.c do not. */
  fuseUnk?: boolean;
  /** File name for messages. */
  origin: string;
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

interface Bigram { left: number; right: number; score: number; len: number }

/** A max-heap of candidate merges ordered by score, then by leftmost position. */
class BigramHeap {
  private items: Bigram[] = [];
  get size(): number { return this.items.length; }
  private better(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(x: Bigram): void {
    const h = this.items;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Bigram {
    const h = this.items;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.better(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.better(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class SpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly vocab: SpmVocabulary;
  /** SentencePiece decoding never cleans up spaces (Tokenizer.cleansUpSpaces). */
  readonly cleansUpSpaces = false;
  readonly types: Uint8Array;
  readonly applyChatTemplate?: (messages: ChatMessage[], options?: ChatTemplateOptions) => string;
  private readonly ids = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** Control and user-defined tokens, matched literally in input text (longest first). */
  private readonly specialPattern: RegExp | null;
  private readonly specialIds = new Map<string, number>();

  constructor(vocab: SpmVocabulary) {
    checkArg('SpmTokenizer', 'vocab', vocab, 'object', 'a vocabulary { tokens, scores, origin, … } (loadTokenizer reads one from files)');
    checkArg('SpmTokenizer', 'vocab.tokens', vocab.tokens, 'strings');
    if (!Array.isArray(vocab.scores) && !ArrayBuffer.isView(vocab.scores)) throw argError('SpmTokenizer', 'vocab.scores', 'an array of numbers', vocab.scores);
    const { tokens, scores, origin } = vocab;
    if (tokens.length === 0) throw new Error(`${origin}: the vocabulary is empty`);
    if (scores.length !== tokens.length) throw new Error(`${origin}: ${tokens.length} tokens but ${scores.length} scores`);
    if (vocab.types && vocab.types.length !== tokens.length) throw new Error(`${origin}: ${tokens.length} tokens but ${vocab.types.length} token types`);
    for (const [what, id] of [['bos', vocab.bosTokenId], ['unk', vocab.unkTokenId], ...vocab.eosTokenIds.map((e) => ['eos', e] as const)] as const) {
      if (id !== null && (!Number.isInteger(id) || id < 0 || id >= tokens.length)) {
        throw new Error(`${origin}: ${what} token id ${id} is outside the vocabulary (${tokens.length} tokens)`);
      }
    }
    this.vocab = vocab;
    this.vocabSize = tokens.length;
    this.bosTokenId = vocab.bosTokenId;
    this.eosTokenIds = [...vocab.eosTokenIds];
    this.types = new Uint8Array(tokens.length);
    const specials: string[] = [];
    for (let id = 0; id < tokens.length; id++) {
      const t = tokens[id]!;
      let type = vocab.types ? vocab.types[id]! : TokenType.normal;
      if (!vocab.types) {
        if (BYTE_TOKEN.test(t)) type = TokenType.byte;
        else if (id === vocab.unkTokenId) type = TokenType.unknown;
        else if (id === vocab.bosTokenId || vocab.eosTokenIds.includes(id)) type = TokenType.control;
      }
      this.types[id] = type;
      const byte = BYTE_TOKEN.exec(t);
      if (type === TokenType.byte && byte) this.byteIds[parseInt(byte[1]!, 16)] = id;
      // The last id wins for duplicate strings, as in llama.cpp's token_to_id map, assigned in order.
      if (type === TokenType.normal || type === TokenType.userDefined) this.ids.set(t, id);
      // Control, user-defined and the unknown token itself are matched in text, as llama.cpp does.
      if ((type === TokenType.control || type === TokenType.userDefined || type === TokenType.unknown) && t.length > 0 && !this.specialIds.has(t)) {
        this.specialIds.set(t, id);
        specials.push(t);
      }
    }
    specials.sort((a, b) => b.length - a.length);
    this.specialPattern = specials.length
      ? new RegExp(specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : null;
    if (vocab.chatTemplate) {
      const chat = new ChatTemplate(vocab.chatTemplate, {
        ...vocab.chatSpecials,
        bos_token: vocab.bosTokenId !== null ? tokens[vocab.bosTokenId]! : '',
        eos_token: vocab.eosTokenIds.length ? tokens[vocab.eosTokenIds[0]!]! : '',
        unk_token: vocab.unkTokenId !== null ? tokens[vocab.unkTokenId]! : '',
      }, origin);
      this.applyChatTemplate = (messages, options) => chat.render(messages, options);
    }
  }

  /** Id of a token string, if it is a normal or user-defined entry. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  encode(text: string, options?: { addBos?: boolean }): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${text === null ? 'null' : typeof text}`);
    checkEncodeOptions(options);
    const out: number[] = [];
    if ((options?.addBos ?? this.vocab.addBosByDefault) && this.bosTokenId !== null) out.push(this.bosTokenId);
    // Special tokens written in the text (e.g. by a chat template) are emitted as themselves; the text between them
    // comes in fragments, each space-prefixed as the first one is (llama.cpp, HF).
    let last = 0;
    if (this.specialPattern) {
      for (const m of text.matchAll(this.specialPattern)) {
        if (m.index! > last) this.encodePlain(text.slice(last, m.index), out);
        out.push(this.specialIds.get(m[0])!);
        last = m.index! + m[0].length;
      }
    }
    if (last < text.length) this.encodePlain(text.slice(last), out);
    return out;
  }

  private encodePlain(raw: string, out: number[]): void {
    const { spaceSymbol, addSpacePrefix } = this.vocab;
    let text = addSpacePrefix ? ' ' + raw : raw;
    if (spaceSymbol !== ' ') text = text.replaceAll(' ', spaceSymbol);
    // Symbols are code-point spans [start, end) of `text`, linked so merges are O(1).
    const starts: number[] = [];
    for (let i = 0; i < text.length;) {
      starts.push(i);
      i += text.codePointAt(i)! > 0xffff ? 2 : 1;
    }
    const n = starts.length;
    if (n === 0) return;
    const begin = Int32Array.from(starts);
    const end = new Int32Array(n);
    for (let i = 0; i < n; i++) end[i] = i + 1 < n ? begin[i + 1]! : text.length;
    const prev = new Int32Array(n), next = new Int32Array(n);
    for (let i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }

    const heap = new BigramHeap();
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const id = this.ids.get(text.slice(begin[left]!, end[right]!));
      if (id === undefined) return;
      heap.push({ left, right, score: this.vocab.scores[id]!, len: end[right]! - begin[left]! });
    };
    for (let i = 0; i + 1 < n; i++) tryPair(i, i + 1);
    while (heap.size) {
      const b = heap.pop();
      // Stale entries: one side was merged away or grew since this pair was queued.
      if (end[b.left] === begin[b.left] || end[b.right] === begin[b.right]) continue;
      if (next[b.left] !== b.right || end[b.right]! - begin[b.left]! !== b.len) continue;
      end[b.left] = end[b.right]!;
      end[b.right] = begin[b.right]!; // mark empty
      next[b.left] = next[b.right]!;
      if (next[b.right]! >= 0) prev[next[b.right]!] = b.left;
      tryPair(prev[b.left]!, b.left);
      tryPair(b.left, next[b.left]!);
    }
    for (let i = 0; i >= 0; i = next[i]!) this.emitPiece(text.slice(begin[i]!, end[i]!), out);
  }

  /** A final piece: its id, or each character's UTF-8 bytes as byte tokens, or one unk per character without them. */
  private emitPiece(piece: string, out: number[]): void {
    const id = this.ids.get(piece);
    if (id !== undefined) { out.push(id); return; }
    const unk = this.vocab.unkTokenId;
    for (const ch of piece) {
      const bytes = Buffer.from(ch, 'utf8');
      if (bytes.every((byte) => this.byteIds[byte]! >= 0)) { for (const byte of bytes) out.push(this.byteIds[byte]!); continue; }
      if (unk !== null && !(this.vocab.fuseUnk && out.length && out[out.length - 1] === unk)) out.push(unk);
    }
  }

  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string {
    // An array or a typed array: an array-like ({ length: 1e9 }) was spread into an array first, and ran out of memory.
    if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TypeError('decode: ids must be an array of token ids');
    checkDecodeOptions(options);
    const skip = options?.skipSpecial ?? true;
    const bytes: number[] = [];
    const space = this.vocab.spaceSymbol;
    for (const id of ids) {
      // Not token ids at all are errors; an id past the vocabulary decodes to nothing, as HfTokenizer does (a model's
      // embedding is often padded past its tokenizer's vocabulary, and sampling can land there).
      if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`decode: ${String(id)} is not a token id (an integer ≥ 0)`);
      if (id >= this.vocabSize) continue;
      const type = this.types[id]!;
      if (skip && (type === TokenType.control || type === TokenType.unknown || type === TokenType.unused)) continue;
      const token = this.vocab.tokens[id]!;
      const byte = type === TokenType.byte ? BYTE_TOKEN.exec(token) : null;
      if (byte) { bytes.push(parseInt(byte[1]!, 16)); continue; }
      for (const b of Buffer.from(space === ' ' ? token : token.replaceAll(space, ' '), 'utf8')) bytes.push(b);
    }
    const text = Buffer.from(bytes).toString('utf8');
    return this.vocab.addSpacePrefix && text.startsWith(' ') ? text.slice(1) : text;
  }
}
