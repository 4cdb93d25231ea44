/**
 * The text of a growing list of generated tokens, each step in time independent of how long the list is.
 *
 * Decoding the whole output again at every step (what generate did) costs O(n) per token, O(n²) per call: at 3,000
 * tokens of the shipped tiny Llama it was 17% of the generation's time. Here the text of the first `anchor` tokens is
 * kept, and each step decodes only a short window: the last tokens from a few tokens before the anchor on. Those few
 * tokens of context are decoded on their own as well, and the new text is what the window adds to them. A tokenizer's
 * decoding is local in practice (byte-level BPE, SentencePiece's ▁ and byte fallback, the strip of a leading space
 * at the start of a text, clean-up of " ." and " n't"): what one token contributes depends on a few neighbours at
 * most, so the text assembled this way is the whole decode. Where a step shows it is not (the context's text is not a
 * beginning of the window's), and at checks made each time the output doubles, the whole output is decoded; on any
 * difference the decoder gives up the window and decodes everything from then on, so the text it returns is always
 * the whole decode as of the last check, and from the first difference on, exactly the whole decode.
 */
import type { Tokenizer } from '../models/types.js';
import { argError, checkArg } from '../util/args.js';

/** Tokens decoded before the anchor for context (covers a 4-byte character in byte-fallback tokens, twice). */
const CONTEXT_TOKENS = 8;
/**
 * Characters the context's text must hold, more than any clean-up reaches back (" n't", " ' "): a rewrite that a later
 * token sets off then changes the context's own text, which the window sees. Eight tokens can decode to one
 * character (a quote after special tokens), and then a clean-up removed a space before it unseen. The context grows
 * (16, 32, 64 tokens) until its text is this long; the anchor waits while it is not.
 */
const CONTEXT_CHARS = 16;
const MAX_CONTEXT_TOKENS = 64;
/** The window is moved on once it holds this many tokens past the anchor. */
const WINDOW_TOKENS = 32;
/** The first check against a whole decode; later ones at each doubling of the output. */
const FIRST_CHECK = 64;

export class IncrementalDecoder {
  private readonly ids: number[] = [];
  /** decode(ids[0, anchor)) as it reads at the front of every longer text. */
  private anchorText = '';
  private anchor = 0;
  /** decode(ids[contextStart, anchor)), the text the window starts with. */
  private contextText = '';
  private contextStart = 0;
  private nextCheck = FIRST_CHECK;
  private whole = false;
  private current = '';
  private changed = 0;
  /** decode(context): the text before the output, which `text` leaves out (see decodeAfter). */
  private readonly contextOnly: string;
  /** Where the output begins in `current`. */
  private base = 0;
  /** Characters at the end of the context's text that the output's text begins with (`lead`, see the constructor). */
  private readonly lead: number;

  /**
   * `context`: the tokens just before the first one pushed (the tail of the prompt, or of the sequence a generation
   * continues), decoded with the output but not part of its text: as a text-generation pipeline takes
   * decode(prompt + output) past decode(prompt). Decoded alone, the output lost its leading space to a
   * SentencePiece tokenizer's strip of the start of a text ("time," + "an ordinary"), and a continuation that began
   * in the middle of a character started with U+FFFD.
   * `lead`: the text begins that many characters before the context's text ends (a generation taken up again after
   * it stopped with the end of its text not yet shown), or earlier where the output rewrites the context's end.
   */
  constructor(private readonly tokenizer: Tokenizer, context: readonly number[] = [], lead = 0) {
    if (typeof tokenizer?.decode !== 'function') {
      throw new TypeError(`IncrementalDecoder: tokenizer must be a tokenizer (an object with decode), got ${tokenizer === null ? 'null' : typeof tokenizer}`);
    }
    // An array or a typed array, as every other list of ids.
    const ids = Array.isArray(context) || (ArrayBuffer.isView(context) && !(context instanceof DataView)) ? Array.from(context as ArrayLike<number>) : null;
    if (!ids || !ids.every((id) => Number.isInteger(id))) throw new TypeError('IncrementalDecoder: context must be an array of token ids');
    this.contextOnly = ids.length > 0 ? tokenizer.decode(ids) : '';
    if (!Number.isSafeInteger(lead) || lead < 0 || lead > this.contextOnly.length) {
      throw new RangeError(`IncrementalDecoder: lead must be an integer from 0 to the context's ${this.contextOnly.length} characters, got ${String(lead)}`);
    }
    this.lead = lead;
    if (ids.length > 0) {
      this.ids.push(...ids);
      this.anchor = context.length;
      this.anchorText = this.contextText = this.current = this.contextOnly;
      this.base = this.contextOnly.length - lead;
    }
  }

  /** The text so far (of the pushed tokens, after the context's). */
  get text(): string {
    return this.current.slice(this.base);
  }

  /**
   * Where the last `push` may have changed the text: it left everything before this index as it was, so a string
   * that was not in the text before can only begin from `changedFrom − its length + 1` on.
   */
  get changedFrom(): number {
    return Math.max(0, this.changed - this.base);
  }

  /**
   * Appends one token and returns the text of all tokens so far. An id the tokenizer refuses is not kept (it stayed
   * in the list, and every later push failed with its error).
   */
  push(id: number): string {
    if (typeof id !== 'number') throw new TypeError(`IncrementalDecoder.push: a token id must be a number, got ${typeof id}`);
    const changedBefore = this.changed;
    this.ids.push(id);
    try {
      return this.decodePushed();
    } catch (e) {
      // Every decode of a step includes the new id, and the first one fails before any other state changes.
      this.ids.pop();
      this.changed = changedBefore;
      throw new RangeError(`IncrementalDecoder.push: the tokenizer refused token ${id} (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
  }

  private decodePushed(): string {
    this.changed = this.whole ? 0 : this.anchorText.length;
    this.current = this.whole ? this.tokenizer.decode(this.ids) : this.windowed();
    if (!this.whole && this.ids.length >= this.nextCheck) {
      this.nextCheck *= 2;
      const full = this.tokenizer.decode(this.ids);
      // The window gave a text that is not the whole decode, and nothing showed it: decode the whole from now on.
      if (full !== this.current) {
        this.whole = true;
        this.current = full;
        this.changed = 0;
      }
    }
    // The output begins where the whole text leaves the context's: a token that rewrote the context's end (half a
    // character completed, a space cleaned up) starts the output there.
    this.base = Math.min(sharedPrefixLength(this.current, this.contextOnly), this.contextOnly.length - this.lead);
    return this.text;
  }

  private windowed(): string {
    const window = this.tokenizer.decode(this.ids.slice(this.contextStart));
    if (!window.startsWith(this.contextText)) {
      // The new tokens changed how the context reads (a clean-up such as " ." → "." across the anchor): take the
      // whole decode, and anchor again from the start once the text allows.
      this.anchor = this.contextStart = 0;
      this.anchorText = this.contextText = '';
      this.changed = 0;
      return this.tokenizer.decode(this.ids);
    }
    const text = this.anchorText + window.slice(this.contextText.length);
    if (this.ids.length - this.anchor >= WINDOW_TOKENS) this.moveAnchor(window);
    return text;
  }

  /**
   * Moves the anchor to CONTEXT_TOKENS before the end, where the text up to it is complete (not ending in half of a
   * character, U+FFFD), reads the same at the front of the window as decoded alone, and the new context has
   * CONTEXT_CHARS of text of its own (an empty one would also let a tokenizer strip the window's leading space as the
   * start of a text); otherwise it stays for now.
   */
  private moveAnchor(window: string): void {
    const to = this.ids.length - CONTEXT_TOKENS;
    const upTo = this.tokenizer.decode(this.ids.slice(this.contextStart, to));
    if (upTo.endsWith('\uFFFD') || !window.startsWith(upTo) || !upTo.startsWith(this.contextText)) return;
    let size = CONTEXT_TOKENS, context = this.tokenizer.decode(this.ids.slice(to - size, to));
    while (context.length < CONTEXT_CHARS && size < MAX_CONTEXT_TOKENS && to - size > 0) {
      size = Math.min(2 * size, MAX_CONTEXT_TOKENS, to);
      context = this.tokenizer.decode(this.ids.slice(to - size, to));
    }
    if (context.length < CONTEXT_CHARS || context.endsWith('\uFFFD') || !upTo.endsWith(context)) return;
    this.anchorText += upTo.slice(this.contextText.length);
    this.anchor = to;
    this.contextStart = to - size;
    this.contextText = context;
  }
}

/** The length of the longest common beginning of `a` and `b`. */
function sharedPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The text `ids` add after `context` (see IncrementalDecoder): decode(context + ids) past what it shares with
 * decode(context), and from at least `lead` characters before the context's text ends.
 */
export function decodeAfter(tokenizer: Tokenizer, context: readonly number[], ids: readonly number[], lead = 0): string {
  if (typeof tokenizer?.decode !== 'function') throw argError('decodeAfter', 'tokenizer', 'a tokenizer (an object with decode)', tokenizer);
  checkArg('decodeAfter', 'context', context, 'ids');
  checkArg('decodeAfter', 'ids', ids, 'ids');
  if (context.length === 0) return tokenizer.decode(ids);
  const whole = tokenizer.decode([...context, ...ids]), before = tokenizer.decode(context);
  if (!Number.isSafeInteger(lead) || lead < 0 || lead > before.length) {
    throw new RangeError(`decodeAfter: lead must be an integer from 0 to the context's ${before.length} characters, got ${String(lead)}`);
  }
  return whole.slice(Math.min(sharedPrefixLength(whole, before), before.length - lead));
}
