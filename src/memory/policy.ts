/**
 * The memory-policy hook. After each layer's attention for a forward chunk (a prefill chunk of ≤128 tokens or one
 * decoded token), the session hands the active policy what it asked for and may receive keep lists back. The
 * policy never touches the cache: the session applies the keep lists with KVCache.retain.
 */
import { argError } from '../util/args.js';
import { showValue } from '../util/show.js';

export interface CacheShape {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
}

export interface LayerObservation {
  layer: number;
  /** Tokens in this chunk (queries). */
  nQ: number;
  /** Total tokens ever fed to this sequence, including this chunk (T_abs). */
  totalTokens: number;
  phase: 'prefill' | 'decode';
  /** True on the last chunk of a prefill call (e.g. the end of a context that should be compressed now). */
  endOfPrefill: boolean;
  /** Per KV head: cached rows after appending this chunk (the chunk's tokens are the last nQ rows). */
  lens: Int32Array;
  /** Per KV head: absolute positions of the cached rows, oldest first (first lens[h] entries valid). Read-only. */
  positions: Int32Array[];
  /** Per KV head: post-RoPE keys `[lens[h], headDim]` (read-only). */
  keys: Float32Array[];
  /** Per KV head: values `[lens[h], headDim]` (read-only). */
  values: Float32Array[];
  /**
   * On a sliding-window layer, its window in positions: the query at position p sees the keys at positions
   * p − window + 1 .. p, so the rows at positions ≤ totalTokens − window will never be seen again (the next query is
   * at position totalTokens). The built-in
   * policies drop those rows whenever they evict (before choosing among the others). Absent on a layer that attends
   * to everything.
   */
  window?: number;
  /**
   * Only when the policy's `needsAttention` is true: per KV head, the GQA-averaged post-softmax attention of the
   * chunk's queries over the current cache, `[nQ, lens[h]]` row-major (future positions are 0), computed as the
   * policy's `tapPrecision` says. Valid only during the call; copy what must be kept.
   */
  attention?: Float32Array[];
  /**
   * Instead of `attention`, for a policy with `tapPrecision: 'bf16'` and `packedTaps: true`: the same bf16
   * probabilities as their bit patterns (the upper half of each float32), half the memory. Valid only during the call.
   */
  attentionBf16?: Uint16Array[];
}

/** Per KV head, ascending row indices (into the current cache of that layer and head) to keep. */
export type KeepLists = Int32Array[];

/**
 * The arithmetic of the attention probabilities a policy receives: 'fp32' throughout, or 'bf16' as a bfloat16
 * model's eager attention (each query head's probabilities rounded to bf16, their GQA mean rounded again), which is
 * what the NAMM reference reads.
 */
export type TapPrecision = 'fp32' | 'bf16';
export const TAP_PRECISIONS: readonly TapPrecision[] = ['fp32', 'bf16'];

export interface PolicyPositionSpan {
  /** The largest newest − oldest position held. */
  tokens: number;
  /** What sets it, for the error ("… past <what>"). */
  what: string;
}

export interface MemoryPolicy {
  /** Spec-like name for reports, e.g. "h2o:ratio=0.5". */
  readonly name: string;
  /** Whether the session must compute attention probabilities for this policy. */
  readonly needsAttention: boolean;
  /** With needsAttention: how the session computes them (default 'fp32'). */
  readonly tapPrecision?: TapPrecision;
  /** With tapPrecision 'bf16': receive them packed, in `attentionBf16`, rather than as float32 in `attention`. */
  readonly packedTaps?: boolean;
  /**
   * Optional: the session also ends every prefill chunk at the multiples of this many absolute tokens, so that an
   * eviction due at such a multiple happens before any later token attends (NAMM: its update interval, which the
   * reference's 128-token sub-forwards always reach on a chunk's last query).
   */
  readonly chunkBoundary?: number;
  /**
   * Optional: true when the policy's decisions for a layer depend on that layer's observations only, never on how
   * the layers' chunks interleave (no state shared across layers that observe() consumes in call order, such as one
   * random stream). A session may then run several chunks through a layer before the next layer (the same
   * observations per layer, in the same order, and the same results, with the dense layers run on more tokens at
   * once: faster). Every built-in policy says so (a NAMM not while calibrating, a baseline when its scorer does); a
   * policy that does not is run one chunk at a time.
   */
  readonly layerwise?: boolean;
  /**
   * Optional: the largest distance between the newest position and the oldest one still held that this policy can
   * handle, and what sets it. A session refuses a forward that could exceed it (from the oldest row held before the
   * forward to the forward's last token) before the forward runs, so the sequence read so far stays usable (NAMM with
   * recency=error: a recency past the reference's table failed inside an update, mid-forward, and the session was
   * lost). Rows the policy evicts move the bound on, so a policy that drops its oldest rows runs on.
   */
  readonly positionSpan?: PolicyPositionSpan;
  /**
   * Optional: true when the policy holds nothing per cached row, so that the session may drop rows without telling
   * it: on a sliding-window layer, the rows that no later query can see (Session: exact, as a sliding-window cache
   * does). The full cache says so; a policy that keeps per-row state (scores, NAMM's windows) must not.
   */
  readonly stateless?: boolean;
  /** Starts a new sequence: drop all per-sequence state. */
  reset(shape: CacheShape): void;
  /** Sees one layer's chunk; returns keep lists when this layer's cache should shrink now, else null. */
  observe(obs: LayerObservation): KeepLists | null;
  /**
   * Optional: an independent copy of this policy holding the same per-sequence state, for Session.fork (every
   * built-in policy has one). Without it a session with this policy cannot be forked.
   */
  clone?(): MemoryPolicy;
  /**
   * Optional: the objects besides this one that hold its per-sequence state (a wrapped policy, a token scorer), so
   * that a session can tell when another session has taken one of them over, and a fork that its clone shares
   * none of them. The built-in wrappers (matched, adakv, recordingPolicy) list theirs.
   */
  stateObjects?(): readonly object[];
  /**
   * Optional: the bytes of typed arrays this object holds for its per-sequence state (NAMM's attention windows and
   * EMA, H2O's accumulated scores), not counting the objects stateObjects lists, which say their own. A session
   * reports the sum over the policy's state objects (policyStateBytes) beside the cache's bytes.
   */
  stateBytes?(): number;
}

/**
 * Per KV head, how many of the oldest rows of `obs` no query after position `newest` (default: the chunk's last,
 * totalTokens − 1) can see on a sliding-window layer (LayerObservation.window): those at positions ≤ newest + 1 −
 * window, a prefix of the rows since they are oldest first. Null when the layer has no window or no row is behind it.
 */
export function rowsBehindWindow(obs: LayerObservation, newest?: number): Int32Array | null {
  if (obs === null || typeof obs !== 'object' || !(obs.lens instanceof Int32Array) || !Array.isArray(obs.positions)) {
    throw argError('rowsBehindWindow', 'obs', 'a layer observation (with lens and positions)', obs);
  }
  if (newest === undefined) newest = obs.totalTokens - 1;
  if (!Number.isSafeInteger(newest)) throw argError('rowsBehindWindow', 'newest', 'a position (an integer)', newest);
  const window = obs.window;
  if (window === undefined) return null;
  if (!Number.isSafeInteger(window) || window < 1) throw new RangeError(`observation: window must be an integer ≥ 1 or absent, got ${showValue(window)}`);
  const last = newest + 1 - window;
  let any = false;
  if (obs.positions.length < obs.lens.length) throw new RangeError(`rowsBehindWindow: ${obs.lens.length} heads' lens but positions for ${obs.positions.length}`);
  const dead = Int32Array.from(obs.lens, (len, h) => {
    const pos = obs.positions[h]!;
    let lo = 0, hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pos[mid]! <= last) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) any = true;
    return lo;
  });
  return any ? dead : null;
}

/** The bytes a policy holds for its state: Σ stateBytes() over the policy and its state objects (0 where none says). */
export function policyStateBytes(policy: MemoryPolicy | null): number {
  if (policy === null) return 0;
  checkMemoryPolicy('policyStateBytes', 'policy', policy, ' or null');
  let sum = 0;
  for (const o of policyStateObjects(policy)) {
    const n = (o as { stateBytes?: () => number }).stateBytes?.();
    if (n === undefined) continue;
    if (typeof n !== 'number' || !(n >= 0) || n === Infinity) {
      throw new TypeError(`policyStateBytes: stateBytes() of ${(o as Partial<MemoryPolicy>).name ?? 'a state object'} must return a finite number ≥ 0, got ${showValue(n)}`);
    }
    sum += n;
  }
  return sum;
}

/** Refuses argument `name` of `fn` unless it is a memory policy (an object with reset() and observe()). */
export function checkMemoryPolicy(fn: string, name: string, value: unknown, orElse = ''): asserts value is MemoryPolicy {
  const p = value as Partial<MemoryPolicy> | null | undefined;
  if (typeof p?.observe !== 'function' || typeof p.reset !== 'function') {
    throw argError(fn, name, `a memory policy (an object with reset() and observe(); parsePolicySpec makes one from a spec string)${orElse}`, value);
  }
}

/** The policy and, recursively, every object its per-sequence state lives in (MemoryPolicy.stateObjects). */
export function policyStateObjects(policy: MemoryPolicy): object[] {
  const seen = new Set<object>();
  const visit = (o: object): void => {
    if (seen.has(o)) return;
    seen.add(o);
    const parts = (o as Partial<MemoryPolicy>).stateObjects?.();
    if (parts === undefined) return;
    if (!Array.isArray(parts)) throw new TypeError(`memory policy ${(o as Partial<MemoryPolicy>).name ?? ''}: stateObjects() must return an array of objects`);
    for (const part of parts) {
      if (part === null || (typeof part !== 'object' && typeof part !== 'function')) {
        throw new TypeError(`memory policy ${(o as Partial<MemoryPolicy>).name ?? ''}: stateObjects() must return objects, got ${part === null ? 'null' : typeof part}`);
      }
      visit(part);
    }
  };
  visit(policy);
  return [...seen];
}
