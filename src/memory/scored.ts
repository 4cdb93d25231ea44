/**
 * The shared base of the "score every cached token, keep the top-k per head" baselines (kvpress ScorerPress). A
 * baseline supplies a TokenScorer; ScoredPolicy adds the budget, the cadence and the selection rule (per head, or
 * AdaKV's layer-wide top-k), so every method runs through the same code path and the same tests.
 */
import type { CacheShape, KeepLists, LayerObservation, MemoryPolicy } from './policy.js';
import { checkMemoryPolicy, rowsBehindWindow } from './policy.js';
import { type Budget, type Cadence, budgetTargets, cadenceActs, checkBudget, checkCadence, describeBudget, describeCadence, sameCadence, selectTopK, tokensWithinSinks } from './budget.js';
import { cloneState } from '../util/clone.js';
import { checkOptionKeys, showValue } from '../util/show.js';
import { argError, checkArg, checkArgOptions } from '../util/args.js';

/**
 * The options object of a baseline's factory (h2oPolicy and the others), checked as a spec string's are: an object,
 * with `budget` (a Budget, or null for none) and no key the factory does not read (`{ budget, sinks: '4' }` was
 * ignored by h2oPolicy; `h2oPolicy()` failed reading a property of undefined).
 */
export function checkFactoryOptions(who: string, opts: unknown, keys: readonly string[]): void {
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${who}: options must be an object { budget, ... }, got ${showValue(opts)}`);
  if (keys.includes('budget') && !('budget' in opts)) throw new TypeError(`${who}: options need "budget" (ratioBudget(r), tokenBudget(n), or null for none)`);
  checkOptionKeys(opts, keys, who);
}

/** One method's scoring rule and the per-sequence state it needs. Higher score = more worth keeping. */
export interface TokenScorer {
  /** Method name as in a spec string ("h2o"). */
  readonly method: string;
  readonly needsAttention: boolean;
  /**
   * Optional: true when the scorer keeps its state per layer (nothing shared across layers that the order of the
   * layers' chunks would change), so its policy may be run several chunks per layer at once (MemoryPolicy.layerwise).
   * Every built-in scorer is.
   */
  readonly layerwise?: boolean;
  reset(shape: CacheShape): void;
  /** Sees every chunk of a layer (before any selection on it) to update running state. */
  update(obs: LayerObservation): void;
  /**
   * Per-head scores for the current rows (`[lens[h]]` each); `targets` lets windows size themselves, and `pooled`
   * says the selection pools them over the layer's heads (AdaKV: Selector.pooled).
   */
  score(obs: LayerObservation, targets: Int32Array, pooled?: boolean): Float64Array[];
  /** The session keeps exactly these rows of `layer`: realign per-row state. */
  retain(layer: number, keep: KeepLists): void;
  /** This layer will never act again in this sequence: free its state and ignore its further chunks. */
  release?(layer: number): void;
  /**
   * Optional: why `sinks` sinks cannot be added under a budget of `tokens` tokens per head (they and the rows this
   * rule keeps whatever the scores, such as H2O's recent window, fill it, so the scores would choose no token), or
   * null when they can. withSinks refuses what this names.
   */
  refusesSinks?(tokens: number, sinks: number): string | null;
  /** Optional: the bytes of its per-sequence state (MemoryPolicy.stateBytes). */
  stateBytes?(): number;
}

/**
 * Turns per-head scores into keep lists. `targets[h]` is head h's share of the budget, possibly more than the rows
 * it holds: per head, a head keeps min(targets[h], lens[h]); AdaKV pools the layer's Σ targets.
 */
export interface Selector {
  /**
   * True when the targets are pooled across the layer's heads (AdaKV): a head may keep more rows than its own
   * target, only the layer's total is fixed. Absent or false: head h keeps min(targets[h], lens[h]).
   */
  readonly pooled?: boolean;
  /**
   * Whether these targets remove anything (checked before scoring). `reach` (pooled selectors only, on a
   * sliding-window layer): per head, the rows a later query can still see, the newest lens[h] − … of them, whose
   * total bounds the layer's; the others score −∞ and go first.
   */
  shrinks(targets: Int32Array, lens: Int32Array, reach?: Int32Array): boolean;
  select(scores: Float64Array[], targets: Int32Array, lens: Int32Array, reach?: Int32Array): KeepLists;
}

/** The plain rule: every head keeps its own top `targets[h]` rows. */
export const perHeadSelect: Selector = {
  shrinks(targets, lens) {
    for (let h = 0; h < lens.length; h++) if (targets[h]! < lens[h]!) return true;
    return false;
  },
  select: (scores, targets, lens) => scores.map((s, h) => selectTopK(s, lens[h]!, targets[h]!)),
};

/** A policy whose budget can be dictated from outside (by the matched-memory wrapper). */
export interface TargetedPolicy extends MemoryPolicy {
  /**
   * Like observe, but acts iff `targets` is given: head h keeps min(targets[h], lens[h]) rows (AdaKV: the layer
   * keeps min(Σ targets, Σ lens)).
   */
  observeAt(obs: LayerObservation, targets: Int32Array | null): KeepLists | null;
}

export function isTargetedPolicy(p: MemoryPolicy): p is TargetedPolicy {
  checkMemoryPolicy('isTargetedPolicy', 'p', p);
  return typeof (p as Partial<TargetedPolicy>).observeAt === 'function';
}

export interface ScoredPolicyOptions {
  /** null: no own budget; only a wrapper (matched memory) makes it act, through observeAt. */
  budget: Budget | null;
  every: Cadence;
  /** Defaults to per-head top-k. */
  select?: Selector;
  /** The method's default cadence, left out of the report name. */
  defaultEvery?: Cadence;
  /** Report name; defaults to "<method>:<budget>,<extra>[,every=…]". */
  name?: string;
  /** Method options other than budget and cadence, spec-formatted ("recent=64"), for the report name. */
  extra?: string[];
}

const SCORED_POLICY_OPTION_KEYS = ['budget', 'every', 'select', 'defaultEvery', 'name', 'extra'];

/** A scorer plus budget, cadence and selection: a complete MemoryPolicy. */
export class ScoredPolicy implements TargetedPolicy {
  readonly name: string;
  readonly needsAttention: boolean;
  readonly scorer: TokenScorer;
  readonly budget: Budget | null;
  readonly every: Cadence;
  readonly select: Selector;
  readonly extra: readonly string[];
  private shape: CacheShape | null = null;
  private finished: boolean[] = [];

  constructor(scorer: TokenScorer, opts: ScoredPolicyOptions) {
    if (typeof scorer?.score !== 'function' || typeof scorer.reset !== 'function') {
      throw argError('ScoredPolicy', 'scorer', 'a token scorer (an object with reset() and score(), such as new H2OScorer())', scorer);
    }
    checkArgOptions('ScoredPolicy', opts, SCORED_POLICY_OPTION_KEYS, 'opts');
    if (opts === undefined || !('budget' in opts)) throw new TypeError('ScoredPolicy: opts needs "budget" (a budget, or null for none) and "every" (a cadence)');
    this.scorer = scorer;
    this.budget = opts.budget == null ? null : checkBudget(opts.budget);
    this.every = checkCadence(opts.every);
    this.select = opts.select ?? perHeadSelect;
    this.extra = opts.extra ?? [];
    this.needsAttention = scorer.needsAttention;
    const cadence = opts.defaultEvery && sameCadence(opts.defaultEvery, this.every) ? [] : [describeCadence(this.every)];
    const parts = this.budget ? [describeBudget(this.budget), ...this.extra, ...cadence] : [...this.extra];
    this.name = opts.name ?? (parts.length ? `${scorer.method}:${parts.join(',')}` : scorer.method);
  }

  /**
   * Whether chunks may go through the layers together (MemoryPolicy.layerwise): the policy's own state (budgets,
   * cadence, finished layers) is per layer or per observation, so it is when its scorer is.
   */
  get layerwise(): boolean { return this.scorer.layerwise === true; }

  /** The scorer holds the per-sequence statistics (AdaKV wraps a baseline by sharing its scorer). */
  stateObjects(): readonly object[] { return [this.scorer]; }

  reset(shape: CacheShape): void {
    checkShape(shape);
    this.shape = shape;
    this.finished = new Array<boolean>(shape.nLayers).fill(false);
    this.scorer.reset(shape);
  }

  /** An independent copy with the same per-sequence state (Session.fork); the backend stays shared. */
  clone(): ScoredPolicy {
    return cloneState(this);
  }

  observe(obs: LayerObservation): KeepLists | null {
    if (this.budget === null) {
      throw new Error(`${this.name} has no budget of its own: give ratio= or tokens=, or wrap it in matched(...)`);
    }
    const act = cadenceActs(this.every, obs);
    return this.observeAt(obs, act ? budgetTargets(this.budget, obs.totalTokens, obs.lens.length) : null);
  }

  observeAt(obs: LayerObservation, targets: Int32Array | null): KeepLists | null {
    const shape = this.checkObservation(obs);
    if (this.finished[obs.layer]) return null;
    if (this.needsAttention && !obs.attention) {
      throw new Error(`${this.name} needs attention probabilities, but the observation carries none`);
    }
    this.scorer.update(obs);
    let keep: KeepLists | null = null;
    if (targets) {
      if (targets.length !== shape.nKvHeads) throw new Error(`${this.name}: ${targets.length} targets for ${shape.nKvHeads} KV heads`);
      // On a sliding-window layer the rows behind the window go first: no query will see them again, so the budget
      // is spent on the others (a head keeps at most the rows still in reach; a pooled selection, the layer).
      const dead = rowsBehindWindow(obs), pooled = this.select.pooled === true;
      const reach = dead ? Int32Array.from(obs.lens, (len, h) => len - dead[h]!) : undefined;
      const shares = reach && !pooled ? Int32Array.from(targets, (t, h) => Math.min(t, reach[h]!)) : targets;
      if (this.select.shrinks(shares, obs.lens, pooled ? reach : undefined)) {
        // Scored with the targets the budget gives (windows size themselves by them); a scorer may hand back its own
        // state (H2O's sums), so the dead rows' scores are set on a copy.
        let scores = this.scorer.score(obs, targets, pooled);
        if (dead) scores = scores.map((sc, h) => (dead[h]! > 0 ? Float64Array.from(sc).fill(-Infinity, 0, dead[h]!) : sc));
        keep = this.select.select(scores, shares, obs.lens, pooled ? reach : undefined);
        this.scorer.retain(obs.layer, keep);
      }
      // The once-per-sequence cadence is spent on this layer even when nothing needed evicting.
      if (this.every.kind === 'prefill' && this.budget !== null) {
        this.finished[obs.layer] = true;
        this.scorer.release?.(obs.layer);
      }
    }
    return keep;
  }

  private checkObservation(obs: LayerObservation): CacheShape {
    const shape = this.shape;
    if (!shape) throw new Error(`${this.name}: observe() before reset(shape)`);
    if (!Number.isInteger(obs.layer) || obs.layer < 0 || obs.layer >= shape.nLayers) {
      throw new Error(`${this.name}: layer ${obs.layer} out of range [0, ${shape.nLayers})`);
    }
    if (obs.lens.length !== shape.nKvHeads) {
      throw new Error(`${this.name}: observation has ${obs.lens.length} KV heads, reset() said ${shape.nKvHeads}`);
    }
    return shape;
  }
}

export function checkShape(shape: CacheShape): void {
  for (const k of ['nLayers', 'nKvHeads', 'headDim'] as const) {
    if (!Number.isInteger(shape[k]) || shape[k] < 1) throw new Error(`cache shape: ${k} must be an integer ≥ 1, got ${shape[k]}`);
  }
}

/**
 * Per-layer, per-head state indexed by cache row (accumulated attention, buffered attention rows). Checks that the
 * cache it mirrors grew by exactly the chunk since the last call, which catches a keep list the session did not
 * apply (or applied differently): the only way such state can silently drift.
 */
export class RowTracker {
  private rows: (Int32Array | null)[] = [];
  constructor(private readonly who: string) {}

  reset(nLayers: number): void { this.rows = new Array<Int32Array | null>(nLayers).fill(null); }

  /** Returns, per head, how many rows existed before this chunk (its new rows start there). */
  advance(obs: LayerObservation): Int32Array {
    const prev = this.rows[obs.layer];
    const old = new Int32Array(obs.lens.length);
    for (let h = 0; h < obs.lens.length; h++) {
      const len = obs.lens[h]!;
      if (len < obs.nQ) throw new Error(`${this.who}: head ${h} of layer ${obs.layer} holds ${len} rows, fewer than the chunk's ${obs.nQ} tokens`);
      if (prev && len !== prev[h]! + obs.nQ) {
        throw new Error(`${this.who}: layer ${obs.layer} head ${h} has ${len} rows, expected ${prev[h]! + obs.nQ} ` +
          `(${prev[h]} kept + ${obs.nQ} new): the cache and the policy are out of step (was a keep list not applied?)`);
      }
      old[h] = len - obs.nQ;
    }
    this.rows[obs.layer] = Int32Array.from(obs.lens);
    return old;
  }

  retain(layer: number, keep: KeepLists): void {
    const r = this.rows[layer];
    if (!r) return;
    for (let h = 0; h < keep.length; h++) r[h] = keep[h]!.length;
  }

  release(layer: number): void { this.rows[layer] = null; }
}

/** Gathers `data[keep[i]]` into `data[i]` in place (keep ascending, so reads never trail writes). */
export function compactInPlace(data: Float64Array | Float32Array, keep: Int32Array): void {
  for (let i = 0; i < keep.length; i++) data[i] = data[keep[i]!]!;
}

/** The ulp of doubles in [2^1023, 2^1024): sink p scores MAX_VALUE − p·SINK_STEP, distinct for any p < 2^52. */
const SINK_STEP = 2 ** 971;
/** Where the inner rule's own +∞ (rows it always keeps) go: below every sink, above any score a rule computes. */
const SINK_FLOOR = 2 ** 1022;
/**
 * Scores at or above this mark the rows a rule always keeps (its own +∞: SnapKV's observation window, H2O's recent
 * window; and the sinks of withSinks, which rank above them); no rule computes such a score for any other row.
 */
export const ALWAYS_KEPT_SCORE = SINK_FLOOR;

/**
 * A scorer that never gives up the first `sinks` positions of the sequence (the attention sinks of StreamingLLM,
 * arXiv 2309.17453): their rows score above every other, the older the higher, so any top-k (per head or AdaKV's
 * layer-wide one) keeps them while the budget allows, and a budget they fill keeps the newest token and the oldest. Not part of the published L2/H2O/TOVA/SnapKV rules; an option for models whose first tokens a
 * rule would evict (on namm-tiny-llama the BOS key has the largest L2 norm in most heads, so L2 drops it first).
 */
export class SinkGuard implements TokenScorer {
  readonly method: string;
  readonly needsAttention: boolean;
  readonly layerwise: boolean;

  constructor(readonly inner: TokenScorer, readonly sinks: number) {
    if (!Number.isInteger(sinks) || sinks < 1) throw new RangeError(`sinks must be an integer ≥ 1 (first positions always kept), got ${sinks}`);
    this.method = inner.method;
    this.needsAttention = inner.needsAttention;
    this.layerwise = inner.layerwise === true;
  }

  reset(shape: CacheShape): void { this.inner.reset(shape); }
  stateBytes(): number { return this.inner.stateBytes?.() ?? 0; }
  /**
   * A method, not a closure over `inner` made in the constructor: a clone (Session.fork copies the state, functions
   * by reference) must free its own scorer's layer, not the original's.
   */
  release(layer: number): void { this.inner.release?.(layer); }
  update(obs: LayerObservation): void { this.inner.update(obs); }
  retain(layer: number, keep: KeepLists): void { this.inner.retain(layer, keep); }

  score(obs: LayerObservation, targets: Int32Array, pooled?: boolean): Float64Array[] {
    const scores = this.inner.score(obs, targets, pooled);
    for (let h = 0; h < scores.length; h++) {
      const pos = obs.positions[h]!, s = scores[h]!, n = obs.lens[h]!;
      // The sinks must outrank the rows the inner rule itself always keeps (H2O's recent window, SnapKV's
      // observation window score +∞): tied with them, the newer rows won and a budget short of sinks + window
      // evicted position 0 first. So the inner +∞ become 2^1022, below every sink.
      for (let i = 0; i < n; i++) if (s[i] === Infinity) s[i] = SINK_FLOOR;
      // Rows are oldest first, so the sinks (if still cached) lead. Each gets its own score, the older the higher
      // (all +∞, ties went to the newer rows: a ratio budget below the sinks kept the last of them and lost the BOS).
      let held = 0;
      for (; held < n && pos[held]! < this.sinks; held++) s[held] = Number.MAX_VALUE - pos[held]! * SINK_STEP;
      // A budget that the held sinks fill (a ratio of a short sequence) keeps the newest token first, as
      // StreamingLLM does: ranked after the sinks, every token was evicted as soon as it had attended.
      if (n > 0 && targets[h]! <= held) s[n - 1] = Infinity;
    }
    return scores;
  }
}

/** `policy` with its first `sinks` positions protected (SinkGuard); the name gains ",sinks=S". */
export function withSinks(policy: ScoredPolicy, sinks: number): ScoredPolicy {
  if (!(policy instanceof ScoredPolicy)) throw argError('withSinks', 'policy', 'a scoring policy (h2oPolicy(…), snapkvPolicy(…), …; not a spec string, full or a wrapper)', policy);
  checkArg('withSinks', 'sinks', sinks, 'positive');
  // Twice, its name read "…,sinks=4,sinks=2", which a spec string refuses (and each check saw only its own sinks).
  if (policy.scorer instanceof SinkGuard) throw new Error(`withSinks: ${policy.name} already keeps ${policy.scorer.sinks} sinks; give the number once`);
  // A token budget at or below the sinks keeps the sinks alone: the rule never chooses a token, and every other one
  // (the current included) goes as soon as it has attended. As StreamingLLM's tokens ≤ sinks, it is refused.
  const tokens = tokensWithinSinks(policy.budget, sinks);
  if (tokens !== null) {
    throw new RangeError(`${policy.name.split(':')[0]}: tokens=${tokens} holds no more than the ${sinks} sinks (sinks=${sinks}), so the rule would choose no token; give tokens > sinks`);
  }
  const refused = policy.budget?.kind === 'tokens' ? policy.scorer.refusesSinks?.(policy.budget.tokens, sinks) ?? null : null;
  if (refused !== null) throw new RangeError(refused);
  const name = `${policy.name}${policy.name.includes(':') ? ',' : ':'}sinks=${sinks}`;
  return new ScoredPolicy(new SinkGuard(policy.scorer, sinks), { budget: policy.budget, every: policy.every, select: policy.select, name });
}
