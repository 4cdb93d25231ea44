/**
 * A Session owns one sequence: its KV cache, its absolute position counter and its memory policy's state. It feeds
 * prompts in chunks aligned to absolute positions, decodes one token at a time, and after every layer's attention
 * lets the memory policy shrink that layer's cache.
 */
import type { Backend } from '../tensor/backend.js';
import type { DecoderArch } from '../models/arch.js';
import type { Tokenizer } from '../models/types.js';
import { policyStateBytes, policyStateObjects, type KeepLists, type MemoryPolicy } from '../memory/policy.js';
import { KVCache, keepListFault, type HeadStore } from './kvcache.js';
import { CacheStats, type CacheStatsSummary } from './stats.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import { decodeAfter, IncrementalDecoder } from './detokenize.js';
import { checkOptionKeys, showValue } from '../util/show.js';
import { attentionScale, contextLength, layerWindows, sequenceLimit } from '../models/rope.js';
import type { ModelConfig } from '../models/types.js';
import { argError } from '../util/args.js';

/** Models already warned about a sequence past their context (one warning per model and process). */
const warnedPastContext = new WeakSet<ModelConfig>();

/**
 * The NAMM_PAST_CONTEXT warning, once per model (its config object): from a session, or from an evaluation worker's
 * session on the main thread's behalf (src/evolve/workers.ts), so that a model's warning comes once in all.
 */
export function warnPastContext(config: ModelConfig, message: string): void {
  if (warnedPastContext.has(config)) return;
  warnedPastContext.add(config);
  process.emitWarning(message, { code: 'NAMM_PAST_CONTEXT' });
}

/** The prefill chunk a session uses unless told otherwise: the reference's 128-token sub-forwards. */
export const DEFAULT_CHUNK_SIZE = 128;

/** The keys of SessionOptions, to refuse unknown ones. */
export const SESSION_OPTION_KEYS = ['memory', 'chunkSize', 'forwardTokens', 'onEviction'] as const;
const PREFILL_OPTION_KEYS = ['logits', 'endOfPrefill', 'sequenceLength'] as const;
const GENERATE_OPTION_KEYS = ['maxNewTokens', 'stopTokens', 'stopStrings', 'minNewTokens', 'addBos', 'onToken', 'compressPrompt',
  'signal', 'greedy', 'temperature', 'topK', 'topP', 'seed'] as const;

export interface SessionOptions {
  /** The memory policy (default: none, the full cache). */
  memory?: MemoryPolicy | null;
  /** Prefill chunk size; chunk boundaries fall on multiples of it in absolute positions (default 128). */
  chunkSize?: number;
  /**
   * Tokens the dense layers (projections, MLP) take at once in a prefill (default 512): consecutive chunks go
   * through each layer together, and within the layer each chunk still attends and meets the memory policy on its
   * own, in order, so the results are those of one chunk at a time. Only without a policy or with one that says
   * it allows it (MemoryPolicy.layerwise: every built-in policy). 1 turns it off.
   */
  forwardTokens?: number;
  /**
   * Called with every non-null keep-list decision (e.g. to record a matched-memory trace). When a forward runs
   * several chunks (forwardTokens), a layer's decisions for those chunks come before the next layer's. It runs
   * inside the forward and must be synchronous: one that returns a promise is refused with an error.
   */
  onEviction?: (event: { layer: number; totalTokens: number; keep: KeepLists; lensBefore: Int32Array }) => void;
}

/** One chunk of a forward that runs several (Session.forwardTokens): its rows in the forward and its bookkeeping. */
interface ForwardPart {
  start: number;
  n: number;
  /** T_abs after this chunk. */
  totalTokens: number;
  endOfPrefill: boolean;
  /** Rows each layer and KV head held after this chunk (its eviction included), for the cache statistics. */
  held: Int32Array;
}

/** Tokens of the sequence kept as the context of generate's decoding (more than any tokenizer's decoding reaches back). */
const RECENT_TOKENS = 64;

/** What Session.fork hands to the new session. */
export interface ForkedState {
  cache: KVCache;
  stats: CacheStats;
  totalTokens: number;
  pending: number[];
  recent: number[];
  /** Session.heldText: output text a stopped generate had not streamed yet. */
  heldText?: string;
  /** Session.stoppedSampler: the sampler of a stopped generate, whose stream a continuation goes on with. */
  stoppedSampler?: Sampler | null;
}

export interface PrefillOptions {
  /** Logits for the last token (default) or for every token (perplexity). */
  logits?: 'last' | 'all';
  /** Mark the end of this prefill as the end of a context (policies such as SnapKV compress then). Default true. */
  endOfPrefill?: boolean;
  /**
   * The sequence length at the end of the forward this prefill is the first part of (default: this prefill's end):
   * length-dependent RoPE scaling (dynamic NTK) uses it for every chunk, as transformers' one forward over a prompt
   * does. A prompt fed in two calls (a shared beginning, then the rest) gives the first call the whole length.
   */
  sequenceLength?: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Token ids that end generation (default: the tokenizer's EOS ids). */
  stopTokens?: number[];
  /** Strings that end generation; the text is cut before the first one found. */
  stopStrings?: string[];
  /**
   * No stop token can end generation before this many new tokens (their logits are masked, as transformers'
   * `min_length` does; default 0).
   */
  minNewTokens?: number;
  /** Prepend BOS to a text prompt when the session is empty (default: the tokenizer's own rule, as HF's tokenizer(text)). */
  addBos?: boolean;
  /**
   * Streaming: called with each new piece of text and the token id that produced it. The pieces join to exactly the
   * result's text: a tail that could begin a stop string (or half a multi-byte character) waits for the tokens that
   * tell. A promise it returns is awaited before the next token (an async writer gets back-pressure), and its
   * rejection ends generate as a throw does.
   */
  onToken?: (text: string, tokenId: number) => unknown;
  /**
   * Whether the end of the prompt counts as the end of a context to compress (PrefillOptions.endOfPrefill; default
   * true). The kvpress protocol prefills the context, then generates from the question with this set to false.
   */
  compressPrompt?: boolean;
  /**
   * Cancels the generation: looked at before each new token, and raced against a promise onToken returned (one that
   * never settles no longer holds the session for good). An abort from a timer or I/O (AbortSignal.timeout) can only
   * happen while the event loop has a turn: with a signal, generate gives it one before the prompt's prefill and before
   * each token is fed. generate then rejects with the signal's reason (an
   * AbortError unless abort() was given one); the session keeps every token it generated so far, as after an
   * onToken that throws, and takes further calls. A prompt's prefill, once started, runs to its end.
   */
  signal?: AbortSignal;
}

export interface GenerateResult {
  text: string;
  promptTokens: number[];
  outputTokens: number[];
  stoppedBy: 'eos' | 'stop-string' | 'length';
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  kvCacheBytes: number;
  memory: CacheStatsSummary;
}

/**
 * The session each policy object serves: the last one created with it or reset on it. A policy keeps one sequence's
 * state, so two live sessions on the same object would corrupt each other's evictions; the one that lost it refuses
 * to run (see checkPolicyOwner) instead.
 */
const policyOwners = new WeakMap<object, Session>();
/**
 * The models (their DecoderArch) with a forward under way. Every session of a model runs its forwards in the model's
 * one set of scratch buffers (Scratch), so a session that ran a forward from inside another's (its onEviction
 * callback, its memory policy) overwrote that forward's activations between two layers: both went on with wrong
 * values and no error.
 */
const modelsForwarding = new WeakSet<DecoderArch>();

/** The fewest rows behind a sliding window that a full cache drops at once (Session.releaseBehindWindow). */
const WINDOW_RELEASE_MIN = 64;

/** Names an object of a policy's state for an error message: a policy by its name, else by its kind. */
function describeStatePart(o: object): string {
  const name = (o as { name?: unknown }).name;
  if (typeof (o as Partial<MemoryPolicy>).observe === 'function' && typeof name === 'string') return `inner policy ${name}`;
  const method = (o as { method?: unknown }).method;
  return typeof method === 'string' ? `${method} scorer` : 'state';
}

export class Session {
  readonly cache: KVCache;
  readonly stats: CacheStats;
  /**
   * Milliseconds spent in the memory policy's observe() and in cache compaction (retain, and the release of the slack
   * evictions left at the end of a prefill), for profiling.
   */
  readonly timings = { policyMs: 0, compactionMs: 0 };
  /** Backs totalTokens, which is read-only outside (set to 0 as a "reset", it gave repeated positions). */
  private fed = 0;
  /** Tokens ever fed to this sequence (T_abs); the next token's position. Read-only: `reset()` starts over. */
  get totalTokens(): number {
    return this.fed;
  }
  private readonly chunkSize: number;
  private readonly forwardTokens: number;
  /** The chunks of the forward in progress, when it runs more than one (null: the forward is one chunk). */
  private parts: ForwardPart[] | null = null;
  private readonly policy: MemoryPolicy | null;
  /** The policy and the objects holding its state (policyStateObjects), whose owner this session must stay. */
  private policyState: object[];
  private readonly probsScratch: Float32Array[] = [];
  private readonly packedScratch: Uint16Array[] = [];
  private chunkPositions = new Int32Array(0);
  /** Per layer: its sliding window in positions, or 0 for full attention (ModelConfig.slidingWindow, slidingLayers). */
  private readonly windows: Int32Array;
  /** Scratch of AttentionArgs.firstRow, [nKvHeads, chunk]. */
  private firstRowScratch = new Int32Array(0);
  private phase: 'prefill' | 'decode' = 'prefill';
  private endOfPrefill = false;
  private readonly nextTokenTotal = { value: 0 };
  /** During a prefill: the sequence length at its end, which length-dependent RoPE scaling uses for every chunk (as HF's one forward does). */
  private forwardLength: number | undefined;
  /** A sampled token that generation returned but did not feed yet; it goes in first on the next call. */
  private pending: number[] = [];
  /** The last RECENT_TOKENS tokens fed: the context generate decodes its output after (IncrementalDecoder). */
  private recent: number[] = [];
  /**
   * Output text a generate that was stopped by an abort or a throwing onToken had held back from its stream (the
   * beginning of a possible stop string, a space that clean-up may drop): the next generate([]) begins its text with
   * it, so the streams of the two calls join as one would have run. Dropped once the pending tokens are fed otherwise.
   */
  private heldText = '';
  /**
   * The sampler of the generate that left tokens waiting: a continuation (generate([])) with the same sampling options
   * draws on from its state, so a seeded sampled generation taken up after a stop goes on as the uninterrupted one
   * (a new sampler restarted the seed's stream, and the continuation repeated the first call's draws).
   */
  private stoppedSampler: Sampler | null = null;
  /**
   * Set when a chunk failed part-way through the layers (a policy or the cache threw after some layers had taken
   * the chunk): the cache no longer matches `totalTokens`, so every later call refuses until reset().
   */
  private failure: Error | null = null;
  /** True while a generate() call runs (it yields to the event loop between steps). */
  private busy = false;
  /** True while a chunk runs through the layers (see checkNotForwarding). */
  private forwarding = false;

  /** `from` is internal (fork): the new session takes over that state instead of starting empty. */
  constructor(
    readonly arch: DecoderArch,
    readonly backend: Backend,
    readonly tokenizer: Tokenizer | null,
    private readonly options: SessionOptions = {},
    from?: ForkedState,
  ) {
    if (arch === null || typeof arch !== 'object' || arch.config === null || typeof arch.config !== 'object') {
      throw argError('Session', 'arch', 'a model architecture with a config (Model.createSession makes sessions)', arch);
    }
    if (backend === null || typeof backend !== 'object') throw argError('Session', 'backend', 'a kernel backend (getBackend())', backend);
    const c = arch.config;
    if (options === null || typeof options !== 'object') throw new TypeError(`session options must be an object, got ${options === null ? 'null' : typeof options}`);
    // As createSession: `new Session(…, { memroy: policy })` ran the full cache without a word.
    checkOptionKeys(options, SESSION_OPTION_KEYS, 'Session');
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${showValue(options.chunkSize)}`);
    this.forwardTokens = options.forwardTokens ?? 512;
    if (!Number.isSafeInteger(this.forwardTokens) || this.forwardTokens < 1) {
      throw new RangeError(`forwardTokens must be a positive integer, got ${showValue(options.forwardTokens)}`);
    }
    if (options.onEviction !== undefined && typeof options.onEviction !== 'function') {
      throw new TypeError(`onEviction must be a function, got ${typeof options.onEviction}`);
    }
    this.policy = options.memory ?? null;
    const pol = this.policy as Partial<MemoryPolicy> | null;
    if (pol !== null && (typeof pol !== 'object' || typeof pol.reset !== 'function' || typeof pol.observe !== 'function')) {
      throw new TypeError('memory must be a memory policy (an object with reset() and observe()), a spec string given to createSession, or null');
    }
    this.windows = layerWindows(c);
    if (from) {
      this.cache = from.cache;
      this.stats = from.stats;
      this.fed = from.totalTokens;
      this.pending = from.pending;
      this.recent = from.recent;
      this.heldText = from.heldText ?? '';
      this.stoppedSampler = from.stoppedSampler ?? null;
      this.policyState = this.policy ? policyStateObjects(this.policy) : [];
      this.takePolicy();
      return;
    }
    this.cache = new KVCache(c.nLayers, c.nKvHeads, c.headDim, 0, c.maxPositions, backend);
    this.stats = new CacheStats(c.nLayers, c.nKvHeads);
    this.policyState = this.policy ? policyStateObjects(this.policy) : [];
    this.policy?.reset({ nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim });
    this.takePolicy();
  }

  /** Makes this session the owner of its policy and of every object holding the policy's state. */
  private takePolicy(): void {
    for (const o of this.policyState) policyOwners.set(o, this);
  }

  /**
   * An independent copy of this session as it stands: the same tokens, KV cache (the rows each head still holds)
   * and memory-policy state, so that one long prompt, prefilled and compressed once, can be continued in several
   * ways (for example one question per fork). Each copy then changes alone; the model and its weights are
   * shared. The copy holds its own cache, so it costs the memory this session's cache holds. The memory policy
   * must have `clone()` (every built-in policy has). The copy keeps this session's options (chunk size,
   * `onEviction`, ...) except those given in `options` (e.g. `{ onEviction: undefined }`); `memory` is the clone.
   */
  fork(options: Omit<SessionOptions, 'memory'> = {}): Session {
    this.checkUsable('fork');
    if (options === null || typeof options !== 'object') throw new TypeError(`fork: options must be an object, got ${options === null ? 'null' : typeof options}`);
    checkOptionKeys(options, SESSION_OPTION_KEYS.filter((k) => k !== 'memory'), 'fork');
    const policy = this.policy;
    if (policy && typeof policy.clone !== 'function') {
      throw new Error(`memory policy ${policy.name} cannot be forked: it has no clone() method`);
    }
    const memory = policy ? policy.clone!() : null;
    if (memory && memory === policy) {
      throw new Error(`memory policy ${policy.name}: clone() returned the policy itself; a fork needs a copy with its own state`);
    }
    if (memory) {
      const mine = new Set(this.policyState);
      if (policyStateObjects(memory).some((o) => mine.has(o))) {
        throw new Error(`memory policy ${policy!.name}: clone() returned a copy that shares state (an inner policy or scorer) with the original; a fork needs a copy with its own state`);
      }
    }
    return new Session(this.arch, this.backend, this.tokenizer, { ...this.options, ...options, memory }, {
      cache: this.cache.clone(), stats: this.stats.clone(), totalTokens: this.totalTokens, pending: [...this.pending],
      recent: [...this.recent], heldText: this.heldText, stoppedSampler: this.stoppedSampler?.clone() ?? null,
    });
  }

  get memoryPolicy(): MemoryPolicy | null { return this.policy; }

  /** Forgets the sequence: empty cache, position 0, fresh policy state (and a session that had failed works again). */
  reset(): void {
    this.checkNotForwarding('reset');
    if (this.busy) throw new Error('reset: the session is busy (a generate() call is in progress); await it first');
    const c = this.arch.config;
    this.cache.clear();
    this.fed = 0;
    this.pending = [];
    this.recent = [];
    this.heldText = '';
    this.stoppedSampler = null;
    this.failure = null;
    this.stats.clear();
    this.policy?.reset({ nLayers: c.nLayers, nKvHeads: c.nKvHeads, headDim: c.headDim });
    this.takePolicy();
  }

  /**
   * Feeds tokens in chunks whose boundaries fall on multiples of `chunkSize` in absolute positions. Returns the logits
   * of the last token `[vocab]`, or of every token `[n, vocab]` with `logits: 'all'`.
   */
  prefill(ids: ArrayLike<number>, options: PrefillOptions = {}): Float32Array {
    this.checkUsable('prefill');
    if (options === null || typeof options !== 'object') throw new TypeError(`prefill: options must be an object, got ${options === null ? 'null' : typeof options}`);
    checkOptionKeys(options, PREFILL_OPTION_KEYS, 'prefill');
    if (options.logits !== undefined && options.logits !== 'last' && options.logits !== 'all') {
      throw new RangeError(`prefill: logits must be "last" or "all", got ${JSON.stringify(options.logits)}`);
    }
    // 'false' or 0 read as true, and SnapKV compressed a context the caller meant to keep whole (as generate's
    // compressPrompt).
    if (options.endOfPrefill !== undefined && typeof options.endOfPrefill !== 'boolean') {
      throw new TypeError(`prefill: endOfPrefill must be true or false, got ${JSON.stringify(options.endOfPrefill)}`);
    }
    return this.prefillTokens(ids, options);
  }

  private prefillTokens(ids: ArrayLike<number>, options: PrefillOptions): Float32Array {
    const all = this.checkIds(ids, 'prefill');
    const held = this.pending.length;
    const n = all.length;
    if (n === 0) throw new RangeError('prefill needs at least one token');
    // Every check before anything runs (the pending tokens included), so a refused prompt changes nothing.
    const asLong = options.sequenceLength;
    const after = this.totalTokens + held + n;
    if (asLong !== undefined && (!Number.isSafeInteger(asLong) || asLong < after)) {
      throw new RangeError(`prefill: sequenceLength must be an integer ≥ the sequence's length after this prefill (${after}), got ${String(asLong)}`);
    }
    this.checkLength(held + n, true, asLong);
    const wantAll = options.logits === 'all';
    const V = this.arch.config.vocabSize;
    const out = wantAll ? new Float32Array(n * V) : null;
    let last: Float32Array = new Float32Array(0);
    // Chunks also end where the policy asks (NAMM's update points); without that a chunk crossing one would attend
    // over tokens the update is about to evict.
    const asked = this.policy?.chunkBoundary;
    if (asked !== undefined && (!Number.isSafeInteger(asked) || asked < 1)) {
      throw new RangeError(`memory policy ${this.policy!.name}: chunkBoundary must be a positive integer, got ${String(asked)}`);
    }
    this.checkTapPrecision();
    const boundary = asked ?? Number.MAX_SAFE_INTEGER;
    let i = 0;
    // A token a stopped generate sampled but did not feed goes in first, as the decoding step generation would have
    // run for it, as decode() feeds it. (It went in at the front of the prompt's first chunk, so a policy that acts
    // at decoding steps, and the statistics, saw it as part of the prompt: the next answer depended on whether
    // decode() or prefill() came next.)
    this.feedPending();
    this.forwardLength = asLong ?? after;
    // The chunks, then groups of consecutive ones that go through the layers together (see forwardTokens). A
    // one-token chunk stays alone: its projections are a matrix-vector product, whose sums are ordered differently.
    const sizes: number[] = [];
    for (let t = this.totalTokens, left = n; left > 0;) {
      const m = Math.min(this.chunkSize - (t % this.chunkSize), boundary - (t % boundary), left);
      sizes.push(m);
      t += m;
      left -= m;
    }
    const together = this.policy === null || this.policy.layerwise === true ? this.forwardTokens : 1;
    try {
      for (let k = 0; k < sizes.length;) {
        const group = [sizes[k++]!];
        let m = group[0]!;
        if (m > 1) while (k < sizes.length && sizes[k]! > 1 && m + sizes[k]! <= together) { m += sizes[k]!; group.push(sizes[k++]!); }
        const chunk = Int32Array.from({ length: m }, (_, t) => all[i + t]!);
        const isLast = i + m === n;
        last = this.runChunk(chunk, 'prefill', isLast && options.endOfPrefill !== false, wantAll ? 'all' : 'last', group);
        if (out) out.set(last, i * V);
        i += m;
      }
    } finally {
      this.forwardLength = undefined;
    }
    if (this.policy) {
      // Evictions keep each store's capacity for the tokens that follow (see KVCache); once the prompt is in, the
      // slack they left is given back, so the memory freed during the prompt is really released.
      const t0 = performance.now();
      this.cache.shrinkToFit(2);
      this.timings.compactionMs += performance.now() - t0;
    }
    // The attention taps of a prompt's chunks (chunk × cached rows per KV head: 8 MB at 4K tokens) are not needed
    // by the decoding that follows, which reads one row per head: a large scratch is dropped and regrown on demand.
    releaseLargeScratch(this.probsScratch);
    releaseLargeScratch(this.packedScratch);
    return out ?? last;
  }

  /**
   * Feeds the tokens a stopped generate sampled but did not feed, each as its own decoding step (the step generation
   * would have run for it); returns the last one's logits (empty when none was waiting).
   */
  private feedPending(): Float32Array {
    let logits: Float32Array = new Float32Array(0);
    this.heldText = '';
    this.stoppedSampler = null;
    while (this.pending.length > 0) {
      logits = this.runChunk(Int32Array.of(this.pending[0]!), 'decode', false, 'last');
      this.pending.shift();
    }
    return logits;
  }

  /** Feeds one token (a decoding step) and returns the next-token logits. */
  decode(id: number): Float32Array {
    this.checkUsable('decode');
    return this.decodeToken(id);
  }

  private decodeToken(id: number): Float32Array {
    // decode([5]) read as a token "5" out of range; a list of tokens is prefill's.
    if (typeof id !== 'number') throw new TypeError(`decode: takes one token id (a number), got ${showValue(id)}${Array.isArray(id) ? '; prefill takes a list' : ''}`);
    const [checked] = this.checkIds([id], 'decode');
    this.checkLength(this.pending.length + 1);
    this.checkTapPrecision();
    // A token generation sampled but did not feed (a length or stop-string stop) goes in first, as the decoding step
    // generation would have run for it. (It went in with this one as a two-token prefill chunk marked as the end of
    // a context: a policy acting at every token then evicted once for both, and the statistics saw one chunk.)
    this.feedPending();
    return this.runChunk(Int32Array.of(checked!), 'decode', false, 'last');
  }

  /** Before a forward: an unknown tap precision ran as fp32 without a word. */
  private checkTapPrecision(): void {
    const taps = this.policy?.tapPrecision;
    if (taps !== undefined && taps !== 'fp32' && taps !== 'bf16') {
      throw new RangeError(`memory policy ${this.policy!.name}: tapPrecision must be 'fp32' or 'bf16', got ${showValue(taps)}`);
    }
  }

  /** Refuses calls on a session that failed part-way through a chunk, or while a generate() call runs. */
  private checkUsable(what: string): void {
    this.checkNotForwarding(what);
    if (this.failure) {
      throw new Error(`${what}: this session is unusable: a chunk failed part-way through the layers (${this.failure.message}); call reset() to start over`);
    }
    if (this.busy) throw new Error(`${what}: the session is busy (a generate() call is in progress); await it, or fork() the session before it starts`);
    this.checkPolicyOwner(what);
  }

  /**
   * Refuses a call made from inside this session's own forward (an `onEviction` callback, a memory policy): the cache
   * is then updated for some layers and not others, so a fork copied a half-updated cache without complaint, a
   * nested prefill mixed two chunks in the layers, and a reset left the session unusable with a misleading error.
   */
  private checkNotForwarding(what: string): void {
    if (this.forwarding) {
      throw new Error(`${what}: the session is in the middle of a forward (called from a callback such as onEviction, or from the memory policy); call it after the prefill, decode or generate call returns`);
    }
  }

  /** Refuses to run once another session has taken this session's policy object (created with it, or reset on it). */
  private checkPolicyOwner(what: string): void {
    const policy = this.policy;
    if (!policy) return;
    for (const o of this.policyState) {
      if (policyOwners.get(o) === this) continue;
      const part = o === policy ? 'memory policy ' + policy.name : `memory policy ${policy.name}'s ${describeStatePart(o)}`;
      throw new Error(`${what}: ${part} now serves another session (one created with, or reset on, ` +
        'the same object), so its state no longer matches this cache; give each session its own policy ' +
        '(a spec string, a new policy, or policy.clone()), or call reset() to take it back');
    }
  }

  /** Token ids as plain integers in [0, vocabSize), or a RangeError naming the first bad one. */
  private checkIds(ids: ArrayLike<number>, what: string): number[] {
    // An array or a typed array: an array-like ({ length: -1 }, { length: 1e10 }) failed as "Invalid array length".
    if (!Array.isArray(ids) && !(ArrayBuffer.isView(ids) && !(ids instanceof DataView))) {
      throw new TypeError(`${what}: token ids must be an array of integers, got ${showValue(ids)}`);
    }
    const V = this.arch.config.vocabSize, out = new Array<number>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= V) {
        throw new RangeError(`${what}: token id at index ${i} must be an integer in 0..${V - 1}, got ${typeof id === 'string' ? `"${id}"` : String(id)}`);
      }
      out[i] = id;
    }
    return out;
  }

  /**
   * Refuses to grow the sequence by `n` tokens past what the model reads whole (sequenceLimit: a GPT-2 model's
   * learned positions), before anything of the call runs. With `warn`, also
   * gives the once-per-model warning past a RoPE model's context; generate's up-front check of a bound it may never
   * reach (maxNewTokens) does not, or it spent the model's one warning on a run that stopped far short of it.
   * `sequenceLength`, the length the forward this call begins will reach (a text read in pieces), warns of it at
   * the first piece, with that length.
   */
  private checkLength(n: number, warn = true, sequenceLength?: number): void {
    const c = this.arch.config;
    const limit = sequenceLimit(c);
    if (limit && this.totalTokens + n > limit.tokens) {
      throw new RangeError(`the sequence would reach ${this.totalTokens + n} tokens, past ${limit.what}`);
    }
    // A RoPE model runs on past its context (transformers too), but what it gives there is not what it was trained
    // for: said once per model, as transformers' generate says it. Dynamic NTK is made to run past it.
    const context = contextLength(c);
    const reach = Math.max(this.totalTokens + n, sequenceLength ?? 0);
    if (warn && reach > context && c.ropeScaling.type !== 'dynamic') {
      warnPastContext(c, `namm: the sequence would reach ${reach} tokens, past this model's ${context}-token context (${c.ropeScaling.type === 'yarn' ? "YaRN's extended context" : 'its max_position_embeddings'}); its output past that is not what it was trained for`);
    }
  }

  /**
   * Refuses a forward of `n` tokens that could take the distance from the oldest row held to its last token past the
   * policy's MemoryPolicy.positionSpan, before it runs: the tokens fed before it stay, and the session takes further
   * calls (a reset, another policy). Rows evicted during the forward are not counted on, so it may refuse a forward
   * that would have passed, by at most one forward's tokens (a chunk, or forwardTokens).
   */
  private checkPositionSpan(n: number): void {
    const span = this.policy?.positionSpan;
    if (!span) return;
    if (!Number.isSafeInteger(span.tokens) || span.tokens < 0) {
      throw new RangeError(`memory policy ${this.policy!.name}: positionSpan.tokens must be an integer ≥ 0, got ${showValue(span.tokens)}`);
    }
    const newest = this.totalTokens + n - 1;
    // Every position held is ≥ 0: a sequence no longer than the span needs no pass over the stores.
    if (newest <= span.tokens) return;
    let oldest = this.totalTokens;
    for (let l = 0; l < this.cache.nLayers; l++) {
      for (const s of this.cache.layerStores(l)) if (s.len > 0 && s.positions[0]! < oldest) oldest = s.positions[0]!;
    }
    if (newest - oldest > span.tokens) {
      throw new RangeError(`memory policy ${this.policy!.name}: position ${newest} would be ${newest - oldest} positions from the oldest row held (position ${oldest}), past ${span.what}; ${this.totalTokens} tokens are in the session, which takes further calls`);
    }
  }

  /**
   * One forward over `ids`: one chunk, or the consecutive chunks of sizes `parts` (summing to ids.length), each of
   * which attends and meets the policy on its own inside every layer (endOfPrefill applies to the last).
   */
  private runChunk(ids: Int32Array, phase: 'prefill' | 'decode', endOfPrefill: boolean, logitsFor: 'last' | 'all', parts?: number[]): Float32Array {
    if (modelsForwarding.has(this.arch)) {
      throw new Error(`${phase}: another session of this model is in the middle of a forward (this call came from its onEviction callback or its memory policy), and the sessions of one model share its scratch buffers; call it after that forward returns`);
    }
    this.forwarding = true;
    modelsForwarding.add(this.arch);
    try {
      return this.runChunkLayers(ids, phase, endOfPrefill, logitsFor, parts);
    } finally {
      this.forwarding = false;
      modelsForwarding.delete(this.arch);
    }
  }

  private runChunkLayers(ids: Int32Array, phase: 'prefill' | 'decode', endOfPrefill: boolean, logitsFor: 'last' | 'all', parts?: number[]): Float32Array {
    const n = ids.length;
    this.checkLength(n);
    this.checkPolicyOwner(phase);
    this.checkPositionSpan(n);
    // Sized by the chunk, not by chunkSize: a chunkSize far above any prompt (1e12) must not be allocated up front.
    if (this.chunkPositions.length < n) this.chunkPositions = new Int32Array(n);
    const positions = this.chunkPositions.subarray(0, n);
    for (let t = 0; t < n; t++) positions[t] = this.totalTokens + t;
    this.phase = phase;
    this.endOfPrefill = endOfPrefill;
    this.nextTokenTotal.value = this.totalTokens + n;
    let grouped: ForwardPart[] | null = null;
    if (parts && parts.length > 1) {
      grouped = [];
      let start = 0;
      for (let p = 0; p < parts.length; p++) {
        start += parts[p]!;
        grouped.push({
          start: start - parts[p]!, n: parts[p]!, totalTokens: this.totalTokens + start, endOfPrefill: endOfPrefill && p === parts.length - 1,
          held: new Int32Array(this.cache.nLayers * this.cache.nKvHeads),
        });
      }
      if (start !== n) throw new Error(`internal: chunk sizes sum to ${start}, the forward has ${n} tokens`);
    }
    this.parts = grouped;
    let logits: Float32Array;
    try {
      logits = this.arch.forward(this.backend, ids, positions, this.attend, logitsFor, this.forwardLength);
    } catch (err) {
      // Some layers may already hold this chunk (or have evicted for it): nothing later can be trusted.
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      this.parts = null;
    }
    this.fed += n;
    const tail = ids.subarray(Math.max(0, n - RECENT_TOKENS));
    this.recent.push(...tail);
    if (this.recent.length > 2 * RECENT_TOKENS) this.recent = this.recent.slice(-RECENT_TOKENS);
    if (grouped) {
      for (const p of grouped) this.stats.record(p.totalTokens, p.n, p.held);
      return logits;
    }
    const held = new Int32Array(this.cache.nLayers * this.cache.nKvHeads);
    for (let l = 0; l < this.cache.nLayers; l++) {
      const stores = this.cache.layerStores(l);
      for (let h = 0; h < stores.length; h++) held[l * stores.length + h] = stores[h]!.len;
    }
    this.stats.record(this.totalTokens, n, held);
    return logits;
  }

  /**
   * The attention step of one layer (see AttendFn): append, attend, let the policy evict; for a forward of several
   * chunks, chunk by chunk in order, so that each chunk meets the cache its predecessors left.
   */
  private readonly attend = (layer: number, q: Float32Array, k: Float32Array, v: Float32Array, n: number, out: Float32Array): void => {
    const parts = this.parts;
    if (!parts) {
      this.attendChunk(layer, q, k, v, n, out, this.chunkPositions, this.nextTokenTotal.value, this.endOfPrefill);
      return;
    }
    const c = this.arch.config, qd = c.nHeads * c.headDim, kd = c.nKvHeads * c.headDim;
    for (const p of parts) {
      const a = p.start, b = p.start + p.n;
      this.attendChunk(layer, q.subarray(a * qd, b * qd), k.subarray(a * kd, b * kd), v.subarray(a * kd, b * kd), p.n,
        out.subarray(a * qd, b * qd), this.chunkPositions.subarray(a, b), p.totalTokens, p.endOfPrefill);
      const stores = this.cache.layerStores(layer);
      for (let h = 0; h < stores.length; h++) p.held[layer * stores.length + h] = stores[h]!.len;
    }
  };

  /** One chunk's attention in one layer: append its keys and values, attend, let the policy evict. */
  private attendChunk(
    layer: number, q: Float32Array, k: Float32Array, v: Float32Array, n: number, out: Float32Array, positions: Int32Array,
    totalTokens: number, endOfPrefill: boolean,
  ): void {
    const c = this.arch.config;
    const H = c.nKvHeads;
    this.cache.append(layer, k, v, positions, n);
    const stores = this.cache.layerStores(layer);
    const lens = Int32Array.from(stores, (s) => s.len);
    const keys = stores.map((s) => s.keys), values = stores.map((s) => s.values);
    const firstRow = this.windows[layer]! > 0 ? this.windowFirstRows(stores, positions, n, this.windows[layer]!) : null;
    const policy = this.policy;
    let probs: Float32Array[] | undefined, packed: Uint16Array[] | undefined;
    if (policy?.needsAttention) {
      const bf16 = policy.tapPrecision === 'bf16';
      // bf16 taps as their bit patterns (packedTaps): the same values in half the bytes to write and to read.
      if (bf16 && policy.packedTaps) packed = scratchViews(this.packedScratch, (m) => new Uint16Array(m), lens, n);
      else probs = scratchViews(this.probsScratch, (m) => new Float32Array(m), lens, n);
    }
    this.backend.attention({
      q, nQ: n, nHeads: c.nHeads, nKvHeads: H, headDim: c.headDim, keys, values, lens, scale: attentionScale(c), out,
      probs: packed ?? probs,
      ...((probs || packed) && policy?.tapPrecision === 'bf16' ? { probsBf16: true } : {}),
      ...(firstRow ? { firstRow } : {}),
    });
    if (policy) this.meetPolicy(policy, layer, n, totalTokens, endOfPrefill, stores, lens, keys, values, probs, packed);
    if (firstRow && (!policy || policy.stateless === true)) this.releaseBehindWindow(layer, positions[n - 1]!);
  }

  /** Shows the policy one layer's chunk and applies the keep lists it returns, if any. */
  private meetPolicy(
    policy: MemoryPolicy, layer: number, n: number, totalTokens: number, endOfPrefill: boolean, stores: readonly HeadStore[],
    lens: Int32Array, keys: Float32Array[], values: Float32Array[], probs: Float32Array[] | undefined, packed: Uint16Array[] | undefined,
  ): void {
    const H = lens.length;
    const t0 = performance.now();
    const window = this.windows[layer]!;
    const keep = policy.observe({
      layer, nQ: n, totalTokens, phase: this.phase, endOfPrefill, ...(window > 0 ? { window } : {}),
      lens, positions: stores.map((s) => s.positions), keys, values, attention: probs,
      ...(packed ? { attentionBf16: packed } : {}),
    });
    const t1 = performance.now();
    this.timings.policyMs += t1 - t0;
    if (!keep) return;
    if (isThenable(keep)) {
      keep.then(undefined, () => {});  // its rejection, if it comes, is not left unhandled (that would end the process)
      throw new TypeError(`memory policy ${policy.name} returned a promise for layer ${layer}: observe() must be synchronous (the forward cannot wait), returning null or one keep list per KV head`);
    }
    if (!Array.isArray(keep)) throw new TypeError(`memory policy ${policy.name} returned ${showValue(keep)} for layer ${layer}; observe() returns null or one keep list per KV head`);
    if (keep.length !== H) throw new Error(`memory policy ${policy.name} returned ${keep.length} keep lists for ${H} KV heads`);
    for (let h = 0; h < H; h++) {
      const k = keep[h] as unknown;
      // A missing list (undefined, null) failed deep inside with "Cannot read properties of undefined".
      if (!(k instanceof Int32Array) && !Array.isArray(k)) {
        const what = ArrayBuffer.isView(k) ? `a ${k.constructor.name}` : showValue(k);
        throw new TypeError(`memory policy ${policy.name} returned ${what} as the keep list of layer ${layer} head ${h}; each must be an Int32Array (or an array) of the rows to keep`);
      }
    }
    // Every head's list is checked before onEviction sees them and before any is applied: checked as each head was
    // compacted, a bad list for head 2 left heads 0 and 1 of the layer already compacted.
    for (let h = 0; h < H; h++) {
      const k = keep[h]!, len = lens[h]!, i = keepListFault(k, len);
      if (i < 0) continue;
      // A list as long as the rows held reads as "keep all": it must be every row once, in order.
      if (k.length === len) throw new RangeError(`memory policy ${policy.name}: layer ${layer} head ${h}: a keep list as long as the ${len} rows held must list each row once, in order; entry ${i} is ${showValue(k[i])}`);
      throw new RangeError(`memory policy ${policy.name}: layer ${layer} head ${h}: a keep list must hold strictly ascending rows below ${len} (the rows held); entry ${i} is ${showValue(k[i])}`);
    }
    const returned = this.options.onEviction?.({ layer, totalTokens, keep, lensBefore: lens }) as unknown;
    if (isThenable(returned)) {
      // The forward cannot wait for it, and its rejection, left alone, would end the process as an unhandled one.
      returned.then(undefined, () => {});
      throw new TypeError('onEviction returned a promise: it runs inside the forward, which cannot wait for it; make it synchronous (queue async work from it instead)');
    }
    let evicted = false;
    for (let h = 0; h < H; h++) {
      // A list of every row (checked above to be 0..len−1) evicts nothing.
      if (keep[h]!.length === lens[h]) continue;
      this.cache.retain(layer, h, keep[h]!);
      evicted = true;
    }
    if (evicted) this.stats.evictionEvents++;
    this.timings.compactionMs += performance.now() - t1;
  }

  /**
   * AttentionArgs.firstRow of a sliding-window layer: per KV head, the first row whose position is less than `window`
   * positions before each query's (transformers' and llama.cpp's rule: query p sees key q iff p − q < window). Rows
   * are oldest first, so the first rows only move on from query to query. Null when every query sees every row.
   */
  private windowFirstRows(stores: readonly HeadStore[], positions: Int32Array, n: number, window: number): Int32Array | null {
    const H = stores.length;
    if (this.firstRowScratch.length < H * n) this.firstRowScratch = new Int32Array(H * n);
    const first = this.firstRowScratch.subarray(0, H * n);
    let any = false;
    for (let h = 0; h < H; h++) {
      const pos = stores[h]!.positions, len = stores[h]!.len;
      // The first query's row by bisection (a long cache), the later ones by walking on from it.
      let lo = 0, hi = len - n;
      const from0 = positions[0]! - window + 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (pos[mid]! < from0) lo = mid + 1;
        else hi = mid;
      }
      for (let i = 0; i < n; i++) {
        const from = positions[i]! - window + 1;
        while (pos[lo]! < from) lo++;
        first[h * n + i] = lo;
        if (lo > 0) any = true;
      }
    }
    return any ? first : null;
  }

  /**
   * Drops the rows of a sliding-window layer that no later query can see (positions ≤ `newest` + 1 − window, `newest`
   * the position of the chunk's last query: positions only grow), on a cache whose policy holds nothing per
   * row (none, or MemoryPolicy.stateless: the full cache), as transformers' and llama.cpp's sliding-window caches do.
   * In batches of at least a quarter of the window (64 rows at least), so that decoding moves the window's rows once
   * per that many tokens, not at every token: a store holds at most the window, a quarter of it and a chunk. Exact
   * (the rows dropped are masked for every later query), so neither onEviction nor the eviction count hears of it;
   * the rows held and the bytes freed do.
   */
  private releaseBehindWindow(layer: number, newest: number): void {
    const window = this.windows[layer]!, batch = Math.max(WINDOW_RELEASE_MIN, Math.ceil(window / 4));
    const t0 = performance.now();
    const stores = this.cache.layerStores(layer);
    for (let h = 0; h < stores.length; h++) {
      const pos = stores[h]!.positions, len = stores[h]!.len, from = newest + 2 - window;
      let dead = 0, hi = len;
      while (dead < hi) {
        const mid = (dead + hi) >>> 1;
        if (pos[mid]! < from) dead = mid + 1;
        else hi = mid;
      }
      if (dead < batch) continue;
      const keep = new Int32Array(len - dead);
      for (let i = 0; i < keep.length; i++) keep[i] = dead + i;
      this.cache.retain(layer, h, keep);
    }
    this.timings.compactionMs += performance.now() - t0;
  }

  /** Cache statistics so far (fractions of the full cache, bytes held and freed). */
  memoryStats(): CacheStatsSummary {
    return this.stats.summary({ held: this.cache.bytesHeld(), used: this.cache.bytesUsed(), freed: this.cache.bytesFreed(), policy: policyStateBytes(this.policy) });
  }

  /**
   * Generates a continuation of `prompt` (text, or token ids) after what the session already holds.
   * Greedy unless a temperature is given.
   */
  async generate(prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerateResult> {
    this.checkUsable('generate');
    if (options === null || typeof options !== 'object') throw new TypeError('generate: options must be an object');
    checkOptionKeys(options, GENERATE_OPTION_KEYS, 'generate');
    this.busy = true;
    try {
      return await this.generateTokens(prompt, options);
    } finally {
      this.busy = false;
    }
  }

  private async generateTokens(prompt: string | readonly number[], options: GenerateOptions): Promise<GenerateResult> {
    // A string or number there read as true or false by accident ('yes' as no BOS, 0 as compressing).
    for (const key of ['addBos', 'compressPrompt'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`generate: ${key} must be true or false, got ${JSON.stringify(options[key])}`);
    }
    const maxNew = options.maxNewTokens ?? 128;
    if (!Number.isInteger(maxNew) || maxNew < 0) throw new RangeError(`maxNewTokens must be an integer ≥ 0, got ${showValue(options.maxNewTokens)}`);
    const tok = this.tokenizer;
    let promptIds: number[];
    if (typeof prompt === 'string') {
      if (!tok) throw new Error('this model has no tokenizer; pass token ids instead of text');
      // At the start of a sequence the tokenizer's own rule decides (GPT-2's and Qwen2's add no BOS) unless addBos is
      // given; a text continuing a sequence never gets one.
      promptIds = this.totalTokens === 0 && options.addBos === undefined ? tok.encode(prompt) : tok.encode(prompt, { addBos: this.totalTokens === 0 && options.addBos === true });
      // A text that already begins with BOS's own text (a chat template that writes it) gets no second one from the
      // rule, as transformers' apply_chat_template(tokenize=True) encodes without special tokens.
      const bos = tok.bosTokenId;
      if (options.addBos === undefined && bos !== null && promptIds[0] === bos && promptIds[1] === bos) {
        const plain = tok.encode(prompt, { addBos: false });
        if (plain[0] === bos) promptIds = plain;
      }
    } else promptIds = this.checkIds(prompt, 'generate');
    const sampling = { greedy: options.greedy, temperature: options.temperature, topK: options.topK, topP: options.topP, seed: options.seed };
    const resumable = promptIds.length === 0 && this.pending.length > 0 ? this.stoppedSampler : null;
    const sampler = resumable?.sameOptions(sampling) ? resumable : new Sampler(sampling);
    if (options.stopTokens !== undefined && !(Array.isArray(options.stopTokens) && options.stopTokens.every((t) => Number.isInteger(t)))) {
      throw new TypeError('generate: stopTokens must be an array of token ids');
    }
    // An id no logit has could never stop anything: a mistake (another model's ids), refused as the CLI refuses one.
    const vocab = this.arch.config.vocabSize;
    const outside = options.stopTokens?.find((t) => t < 0 || t >= vocab);
    if (outside !== undefined) throw new RangeError(`generate: stop token ${outside} is not a token id of this model (0..${vocab - 1})`);
    if (options.stopStrings !== undefined && !(Array.isArray(options.stopStrings) && options.stopStrings.every((t) => typeof t === 'string'))) {
      throw new TypeError('generate: stopStrings must be an array of strings');
    }
    // Dropped without a word, as the CLI's --stop '' was before it was refused there.
    if (options.stopStrings?.includes('')) throw new RangeError('generate: a stop string must not be empty (it would match before any text)');
    if (options.onToken !== undefined && typeof options.onToken !== 'function') {
      throw new TypeError(`generate: onToken must be a function, got ${typeof options.onToken}`);
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`generate: signal must be an AbortSignal, got ${showValue(signal)}`);
    signal?.throwIfAborted();
    const minNew = options.minNewTokens ?? 0;
    if (!Number.isInteger(minNew) || minNew < 0) throw new RangeError(`minNewTokens must be an integer ≥ 0, got ${showValue(options.minNewTokens)}`);
    if (minNew > maxNew) throw new RangeError(`minNewTokens (${minNew}) is above maxNewTokens (${maxNew}): at most ${maxNew} tokens can come`);
    const stopTokens = new Set(options.stopTokens ?? tok?.eosTokenIds ?? this.arch.config.eosTokenIds);
    const stopStrings = options.stopStrings ?? [];

    // GPT-2 at its last position would refuse a decoding step past its limit: refuse the
    // whole call up front instead, before anything runs, rather than stop halfway with the text generated so far lost.
    // An empty prompt continues a generation that stopped (by length or a stop string) from the token it sampled but
    // did not feed; with nothing waiting there is nothing to continue from.
    const continuing = promptIds.length === 0 && this.pending.length > 0;
    if (promptIds.length === 0 && !continuing) {
      throw new RangeError('generate needs a non-empty prompt (an empty one continues only after a generate that stopped by length or a stop string)');
    }
    this.checkLength(this.pending.length + promptIds.length + Math.max(0, maxNew - 1), false);
    // What a stopped call held back from its stream begins this one's text (and is streamed as this call's own).
    const heldBefore = continuing ? this.heldText : '';
    // With a signal, the event loop gets a turn before the prompt is fed and before every token is fed (below), so
    // that an abort from a timer or I/O (AbortSignal.timeout, a closed connection) is seen there (a turn costs ~4 µs);
    // here, nothing has been fed yet, so the session is left as it was (a continuation's held text included).
    if (signal) { await eventLoopTurn(); signal.throwIfAborted(); }
    const t0 = performance.now();
    let logits = continuing ? this.feedPending() : this.prefillTokens(promptIds, { endOfPrefill: options.compressPrompt !== false });
    const t1 = performance.now();
    const out: number[] = [];
    // The output is decoded after the tokens before it (the prompt's tail, or the sequence a continuation goes on):
    // on its own it lost a SentencePiece tokenizer's leading space and began a continuation with U+FFFD.
    const context = this.recent.slice(-RECENT_TOKENS);
    // The held text is the end of the context's text: the decoder starts its text that far back, so that a clean-up
    // the new tokens set off there (" '" + "s" → "'s") is read as the whole decode reads it. Where the context's
    // text does not end with it (a tokenizer that decodes otherwise in a window), it is put in front of the new text
    // as it is. Without a tokenizer the text is the ids joined by spaces, so a continuation's begins with one.
    const lead = tok && heldBefore !== '' && tok.decode(context).endsWith(heldBefore) ? heldBefore.length : 0;
    // Put in front as it is, held text cannot be decoded again: a trailing U+FFFD there is taken for half a character,
    // whose whole the new tokens bring.
    const prefix = !tok ? (continuing ? `${heldBefore} ` : '') : lead > 0 ? '' : heldBefore.endsWith('\uFFFD') ? heldBefore.slice(0, -1) : heldBefore;
    const decoder = tok ? new IncrementalDecoder(tok, context, lead) : null;
    let plain = '';  // the text without a tokenizer: the ids, space-separated
    // A tokenizer that cleans up spaces can still rewrite a tail that begins one of its patterns (see cleanupTail).
    const cleans = tok !== null && tok.cleansUpSpaces !== false;
    const heldPrefixes = cleans ? [...stopStrings, ...CLEANUP_PATTERNS] : stopStrings;
    let text = '';
    // The output's text as far as it goes (before anything is held back from the stream): what a stop by an abort or
    // a throwing onToken leaves for the next generate([]) to stream (heldText).
    let reached = heldBefore;
    let stoppedBy: GenerateResult['stoppedBy'] = 'length';
    try {
      for (let step = 0; step < maxNew; step++) {
        // Every token so far is fed (or waits in pending): a cancellation here (before the first token: later ones are
        // seen before their token is fed, below) leaves the session whole.
        signal?.throwIfAborted();
        if (hasNaNOrPlusInf(logits)) {
          // +∞ as well: softmax over it is NaN, and the sampler then fell through to the least likely token.
          throw new Error('generate: the model produced NaN or +Infinity logits (its weights or activations hold NaN or infinities); nothing to sample from');
        }
        if (step < minNew) for (const t of stopTokens) if (t >= 0 && t < logits.length) logits[t] = Number.NEGATIVE_INFINITY;
        const id = sampler.next(logits);
        if (stopTokens.has(id)) { stoppedBy = 'eos'; break; }
        out.push(id);
        // The text so far, decoded in a short window rather than whole (IncrementalDecoder), and where this token may
        // have changed it: no stop string was in the text before, so one can only begin from there.
        let full: string, changedFrom: number;
        if (decoder) { full = prefix + decoder.push(id); changedFrom = prefix.length + decoder.changedFrom; }
        else { changedFrom = prefix.length + plain.length; plain = out.length > 1 ? `${plain} ${id}` : String(id); full = prefix + plain; }
        let hit = -1;
        for (const s of stopStrings) {
          const at = full.indexOf(s, Math.max(0, changedFrom - s.length + 1));
          if (at >= 0 && (hit < 0 || at < hit)) hit = at;
        }
        if (hit >= 0) full = full.slice(0, hit);
        reached = full;
        // Hold back a trailing replacement character (usually half of a multi-byte character), and a tail that could
        // be the start of a stop string spanning several tokens: streamed now, it would show text the result cuts.
        let stable = full;
        if (hit < 0) {
          if (stable.endsWith('\uFFFD')) stable = stable.slice(0, -1);
          // After a clean-up tail, again on what is left: the tail may vanish and bring what comes before it next to
          // later text ("s " then "'s" reads "s's", which holds the stop string "s'"). A stop string's beginning stays
          // where it is, so nothing before it is held for it.
          for (;;) {
            const stop = stopPrefixTail(stable, heldPrefixes), clean = cleans ? cleanupTail(stable) : 0;
            stable = stable.slice(0, stable.length - Math.max(stop, clean));
            if (clean === 0 || clean < stop) break;
          }
        }
        if (stable.length > text.length && stable.startsWith(text)) {
          const piece = stable.slice(text.length);
          text = stable;
          try {
            // An async callback is awaited (back-pressure for a slow writer), and its rejection handled as a throw:
            // ignored, it became an unhandled rejection that ended the process past the caller's try/catch.
            const pending = options.onToken?.(piece, id);
            if (isThenable(pending)) await (signal ? raceAbort(pending, signal) : pending);
          } catch (err) {
            // The caller has this token's text: it joins the sequence (fed with the next call, as after a stop), so
            // the session holds what was streamed. Dropped, the session went on from a sequence the caller never saw.
            this.pending.push(id);
            throw err;
          }
        }
        // Holding back more than before (a clean-up pattern's beginning, "  '" → " '") leaves what was streamed as it
        // is while it still begins the text; rolled back, its end was streamed a second time. Only text the tokenizer
        // has rewritten past what was streamed (which no piece can take back) moves the mark back.
        else if (!stable.startsWith(text) && !full.startsWith(text)) text = stable;
        // Its token is in the output, so it joins the sequence (fed with the next call, as after a length stop).
        if (hit >= 0) { stoppedBy = 'stop-string'; this.pending.push(id); break; }
        if (step + 1 < maxNew) {
          // Other work gets a turn before this token is fed (at every token with a signal to watch, else every 16): an
          // abort from then, or from a synchronous onToken, leaves it waiting unfed, as an abort during an async onToken
          // does, so generate([]) goes on from it.
          if (signal || step % 16 === 15) await eventLoopTurn();
          if (signal?.aborted) { this.pending.push(id); signal.throwIfAborted(); }
          try {
            logits = this.decodeToken(id);
          } catch (err) {
            // Refused before its forward ran (a policy's position span): the token waits, as after a length stop, so
            // the session holds what was streamed and takes further calls.
            if (this.failure === null) this.pending.push(id);
            throw err;
          }
        } else this.pending.push(id);
      }
      // An abort that came with the last token of a length stop (from its onToken) stops the call as one before it
      // would: a rejection, with what was held back left for generate([]). (After a stop string or EOS the generation
      // had ended by itself.)
      if (stoppedBy === 'length') signal?.throwIfAborted();
      if (stoppedBy !== 'stop-string') {
        // The whole output, the tail held back as a possible stop string's beginning included (without a tokenizer too).
        let full = out.length === 0 ? heldBefore : prefix + (tok ? decodeAfter(tok, context, out, lead) : out.join(' '));
        // A length stop in the middle of a character: its end comes with the next call (generate([]) continues from
        // here), so its U+FFFD is held back as the streaming held it, and left to that call (heldText), which decodes
        // it again with the next token: half a character then reads as the whole one, and a byte that can begin no
        // character (a lone continuation byte) as the U+FFFD it is (dropped here for good, it was missing from the
        // two texts joined).
        this.heldText = '';
        if (tok && stoppedBy === 'length' && full.endsWith('\uFFFD')) {
          full = full.slice(0, -1);
          if (this.pending.length > 0) this.heldText = '\uFFFD';
        }
        const streamed = text;
        text = full;
        if (full.length > streamed.length && full.startsWith(streamed)) {
          const pending = options.onToken?.(full.slice(streamed.length), out.at(-1) ?? this.recent.at(-1) ?? -1);
          if (isThenable(pending)) await (signal ? raceAbort(pending, signal) : pending);
        }
      }
    } catch (err) {
      // Stopped part-way with tokens waiting (an abort, a throwing onToken): the text past what was streamed is kept
      // for the generate([]) that takes the generation up, a trailing U+FFFD included (that call decodes it again
      // with its first token: half a character becomes the whole one, an invalid byte stays U+FFFD).
      this.heldText = this.pending.length > 0 && reached.length > text.length && reached.startsWith(text) ? reached.slice(text.length) : '';
      this.stoppedSampler = this.pending.length > 0 ? sampler : null;
      throw err;
    }
    this.stoppedSampler = this.pending.length > 0 ? sampler : null;
    const t2 = performance.now();
    const decodeSteps = Math.max(0, out.length - 1);
    return {
      text,
      promptTokens: promptIds,
      outputTokens: out,
      stoppedBy,
      prefillTokensPerS: promptIds.length / Math.max(1e-9, (t1 - t0) / 1000),
      decodeTokensPerS: decodeSteps > 0 ? decodeSteps / Math.max(1e-9, (t2 - t1) / 1000) : 0,
      kvCacheBytes: this.cache.bytesHeld(),
      memory: this.memoryStats(),
    };
  }
}

/**
 * What a tokenizer's `clean_up_tokenization_spaces` (on by default in HF tokenizers, as in transformers) rewrites:
 * each loses its leading space once complete, so a decoded text ending with the beginning of one (" ", " n'") may
 * still change. Streamed before the next token told, such a space was in the pieces but not in the result.
 */
const CLEANUP_PATTERNS = [' .', ' ?', ' !', ' ,', " ' ", " n't", " 'm", " 's", " 've", " 're"];

/**
 * The length of the trailing run of spaces, quotes and n's, which clean-ups can still rewrite in a chain: " ' " → "'"
 * brings a space before it next to the quote, and " 's" or " n't" then removes that space too ("x  '" + " " + "s"
 * reads "x's"), so holding back only a pattern's beginning (" '") streamed a space the result lost.
 */
function cleanupTail(text: string): number {
  let k = text.length;
  while (k > 0 && (text[k - 1] === ' ' || text[k - 1] === "'" || text[k - 1] === 'n')) k--;
  return text.length - k;
}

/** The length of the longest tail of `text` that is a proper beginning of one of `stops` (0 when none). */
function stopPrefixTail(text: string, stops: readonly string[]): number {
  let held = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > held; k--) {
      if (text.endsWith(s.slice(0, k))) { held = k; break; }
    }
  }
  return held;
}

/**
 * One pass of the event loop through its timers phase: a single setImmediate resolves in the check phase of the
 * current pass, before the timers of the next, so an expired timer (AbortSignal.timeout) would not have run yet.
 */
async function eventLoopTurn(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setImmediate(r));
}

/**
 * `p`, or the signal's reason as soon as it aborts, whichever comes first. A settlement of `p` after that is taken
 * (a rejection is not left unhandled) and dropped.
 */
function raceAbort<T>(p: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(p).then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function hasNaNOrPlusInf(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!(a[i]! < Infinity)) return true; // NaN fails the comparison too
  return false;
}

/** Empties a pool of tap scratch buffers holding more than 256 KiB (see the end of Session.prefillTokens). */
function releaseLargeScratch(pool: (Float32Array | Uint16Array)[]): void {
  let bytes = 0;
  for (const b of pool) bytes += b?.byteLength ?? 0;
  if (bytes > 1 << 18) pool.length = 0;
}

/** Per head, an `[n, lens[h]]` view of that head's scratch buffer in `pool`, grown geometrically and kept for the next chunks. */
function scratchViews<T extends Float32Array | Uint16Array>(pool: T[], make: (length: number) => T, lens: Int32Array, n: number): T[] {
  const views: T[] = [];
  for (let h = 0; h < lens.length; h++) {
    const need = n * lens[h]!;
    let buf = pool[h];
    if (!buf || buf.length < need) pool[h] = buf = make(Math.max(need, (buf?.length ?? 0) * 2));
    views.push(buf.subarray(0, need) as T);
  }
  return views;
}
