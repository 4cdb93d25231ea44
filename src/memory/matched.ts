/**
 * Matched memory: run a baseline at exactly the cache size another policy reached on the same prompt (the fair
 * comparison against NAMM, whose cache size is emergent, arXiv 2410.13166). A trace records, for every update
 * where the reference policy returned keep lists, how many rows each KV head of that layer kept; the wrapper makes
 * the baseline evict at the same (layer, totalTokens) points down to the same counts, and never otherwise, so both
 * caches hold the same number of tokens per layer at every moment.
 *
 * Trace file (JSON): `{ "version": 1, "source": "namm:…", "shape": { "nLayers": L, "nKvHeads": H }, "sequences":
 * [[event, …], …] }`, one list of events per sequence (per `reset`); an event is `{ "totalTokens": T, "layer": l,
 * "kept": n | [n_0, …, n_{H−1}] }` with every count ≥ 1 (a number when all heads kept the same count). `shape`, the
 * recorded model's layers and KV heads (written by recordingPolicy), is optional; when present, the trace replays
 * only on a model of that shape. A bare array of events is accepted as a one-sequence trace.
 */
import { writeFileSync } from 'node:fs';
import type { CacheShape, KeepLists, LayerObservation, MemoryPolicy } from './policy.js';
import { checkMemoryPolicy } from './policy.js';
import { isTargetedPolicy, ScoredPolicy, type TargetedPolicy } from './scored.js';
import { cloneState } from '../util/clone.js';
import { MiB, readFileLimited, writeFileVia } from '../util/files.js';
import { argError, checkArg } from '../util/args.js';

export interface MemoryTraceEvent {
  /** Sequence length at the end of the chunk where the reference policy evicted. */
  totalTokens: number;
  layer: number;
  /** Rows kept per KV head, or one count for all heads. */
  kept: number | number[];
}

export interface MemoryTrace {
  version: 1;
  /** The policy that produced the trace (its name), for reports. */
  source?: string;
  /**
   * That policy's chunk boundary (MemoryPolicy.chunkBoundary, e.g. a NAMM's update interval): a run that follows
   * the trace ends its chunks there too, so that every eviction point of the trace is a chunk end.
   */
  chunkBoundary?: number;
  /**
   * The recorded model's cache shape, when known (recordingPolicy writes it): a trace of another model's layers or
   * KV heads would be followed in some layers only, or not at all.
   */
  shape?: MemoryTraceShape;
  sequences: MemoryTraceEvent[][];
}

export interface MemoryTraceShape {
  nLayers: number;
  nKvHeads: number;
}

/** Validates a parsed JSON value as a trace (either the full object or a bare event list). */
export function parseMemoryTrace(json: unknown, where = 'memory trace'): MemoryTrace {
  let source: string | undefined, sequences: unknown, chunkBoundary: number | undefined, shape: MemoryTraceShape | undefined;
  if (Array.isArray(json)) sequences = [json];
  else if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    if (o.version !== undefined && o.version !== 1) throw new Error(`${where}: unsupported version ${String(o.version)} (expected 1)`);
    if (o.source !== undefined && typeof o.source !== 'string') throw new Error(`${where}: "source" must be a string`);
    source = o.source as string | undefined;
    if (o.chunkBoundary !== undefined && !(typeof o.chunkBoundary === 'number' && Number.isSafeInteger(o.chunkBoundary) && o.chunkBoundary >= 1)) {
      throw new Error(`${where}: "chunkBoundary" must be a positive integer`);
    }
    chunkBoundary = o.chunkBoundary as number | undefined;
    if (o.shape !== undefined) {
      const sh = o.shape as Record<string, unknown> | null;
      const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
      if (!sh || typeof sh !== 'object' || !ok(sh.nLayers) || !ok(sh.nKvHeads)) {
        throw new Error(`${where}: "shape" must be { "nLayers": L, "nKvHeads": H } with positive integers (the recorded model's layers and KV heads)`);
      }
      shape = { nLayers: sh.nLayers, nKvHeads: sh.nKvHeads };
    }
    sequences = o.sequences ?? (o.events !== undefined ? [o.events] : undefined);
  }
  if (!Array.isArray(sequences) || sequences.length === 0) {
    throw new Error(`${where}: expected an array of events or { "version": 1, "sequences": [[events…]] } with at least one sequence`);
  }
  const out = sequences.map((seq, si) => {
    if (!Array.isArray(seq)) throw new Error(`${where}: sequence ${si} is not an array of events`);
    // (layer, totalTokens) → event index: a point holds one eviction per layer (a recorder writes no more).
    const seen = new Map<string, number>();
    return seq.map((e, ei) => {
      const ev = checkEvent(e, `${where}: sequence ${si} event ${ei}`);
      if (shape) checkEventShape(ev, shape, `${where}: sequence ${si} event ${ei}`);
      const key = `${ev.layer}:${ev.totalTokens}`, first = seen.get(key);
      if (first !== undefined) {
        throw new Error(`${where}: sequence ${si} events ${first} and ${ei} both evict in layer ${ev.layer} at totalTokens ${ev.totalTokens}; ` +
          'a trace holds one eviction per layer and point');
      }
      seen.set(key, ei);
      return ev;
    });
  });
  return {
    version: 1, ...(source !== undefined ? { source } : {}), ...(chunkBoundary !== undefined ? { chunkBoundary } : {}),
    ...(shape !== undefined ? { shape } : {}), sequences: out,
  };
}

function checkEvent(e: unknown, where: string): MemoryTraceEvent {
  if (!e || typeof e !== 'object') throw new Error(`${where}: not an object`);
  const { totalTokens, layer, kept } = e as Record<string, unknown>;
  const isCount = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min;
  if (!isCount(totalTokens, 1)) throw new Error(`${where}: totalTokens must be an integer ≥ 1`);
  if (!isCount(layer, 0)) throw new Error(`${where}: layer must be an integer ≥ 0`);
  // A head keeps at least one row (budgets never ask for fewer; attention needs a key): a 0 emptied the head.
  if (isCount(kept, 1)) return { totalTokens, layer, kept };
  if (Array.isArray(kept) && kept.length > 0 && kept.every((k) => isCount(k, 1))) return { totalTokens, layer, kept: [...kept] };
  throw new Error(`${where}: kept must be an integer ≥ 1 or a non-empty array of them (one per KV head)`);
}

function checkEventShape(e: MemoryTraceEvent, shape: MemoryTraceShape, where: string): void {
  if (e.layer >= shape.nLayers) throw new Error(`${where}: layer ${e.layer}, but the trace's model has ${shape.nLayers} layers`);
  if (Array.isArray(e.kept) && e.kept.length !== shape.nKvHeads) {
    throw new Error(`${where}: kept lists ${e.kept.length} counts, but the trace's model has ${shape.nKvHeads} KV heads`);
  }
}

export function loadMemoryTrace(path: string): MemoryTrace {
  checkArg('loadMemoryTrace', 'path', path, 'path');
  let text: string;
  try { text = readFileLimited(path, 512 * MiB, 'memory trace').toString('utf8'); } catch (err) { throw new Error(`cannot read memory trace ${path}: ${(err as Error).message}`); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (err) { throw new Error(`memory trace ${path} is not valid JSON: ${(err as Error).message}`); }
  return parseMemoryTrace(json, `memory trace ${path}`);
}

/** Writes the trace atomically (a temporary file renamed over the target), so a crash never leaves half a trace. */
export function saveMemoryTrace(path: string, trace: MemoryTrace): void {
  checkArg('saveMemoryTrace', 'path', path, 'path');
  // Checked as loadMemoryTrace checks it, so that nothing is written that could not be read back.
  const checked = parseMemoryTrace(trace, `saveMemoryTrace(${path})`);
  writeFileVia(path, (tmp) => writeFileSync(tmp, JSON.stringify(checked) + '\n'));
}

/** Builds a trace from (observation, keep lists) pairs, one sequence per beginSequence(). */
export class MemoryTraceRecorder {
  private readonly sequences: MemoryTraceEvent[][] = [];
  /** The recorded policy's chunk boundary (recordingPolicy sets it), kept in the trace. */
  chunkBoundary: number | undefined;
  /** The recorded model's layers and KV heads (recordingPolicy sets it at reset), kept in the trace. */
  shape: MemoryTraceShape | undefined;
  constructor(readonly source?: string) {
    if (source !== undefined) checkArg('MemoryTraceRecorder', 'source', source, 'string', 'a string (the recorded policy spec) or undefined');
  }

  beginSequence(): void { this.sequences.push([]); }

  /** Notes the shape of the model whose cache is recorded; one trace holds one model's evictions. */
  setShape(shape: CacheShape): void {
    const s = { nLayers: shape.nLayers, nKvHeads: shape.nKvHeads };
    if (this.shape && (this.shape.nLayers !== s.nLayers || this.shape.nKvHeads !== s.nKvHeads)) {
      throw new Error(`memory trace recorder: a cache of ${s.nLayers} layers and ${s.nKvHeads} KV heads after one of ` +
        `${this.shape.nLayers} and ${this.shape.nKvHeads}; a trace holds one model's evictions (use a recorder per model)`);
    }
    this.shape = s;
  }

  /** Records one observe() outcome; null, or keep lists that keep every row, record nothing. */
  record(obs: Pick<LayerObservation, 'layer' | 'totalTokens' | 'lens'>, keep: KeepLists | null): void {
    if (!keep || keep.every((k, h) => k.length === obs.lens[h])) return;
    if (this.sequences.length === 0) this.beginSequence();
    const counts = keep.map((k) => k.length);
    const kept = counts.every((c) => c === counts[0]) ? counts[0]! : counts;
    this.sequences[this.sequences.length - 1]!.push({ totalTokens: obs.totalTokens, layer: obs.layer, kept });
  }

  /**
   * The trace: per sequence, events in order of tokens then layer (the order of one chunk at a time; a session that
   * runs several chunks through a layer at once records a layer's events before the next layer's).
   */
  toTrace(): MemoryTrace {
    const byPoint = (a: MemoryTraceEvent, b: MemoryTraceEvent) => a.totalTokens - b.totalTokens || a.layer - b.layer;
    const sequences = this.sequences.length ? this.sequences.map((s) => s.map((e) => ({ ...e })).sort(byPoint)) : [[]];
    return {
      version: 1, ...(this.source !== undefined ? { source: this.source } : {}),
      ...(this.chunkBoundary !== undefined ? { chunkBoundary: this.chunkBoundary } : {}),
      ...(this.shape !== undefined ? { shape: { ...this.shape } } : {}), sequences,
    };
  }
}

/**
 * Wraps any policy so that everything it evicts is recorded. A trace sequence starts at the first observation
 * after a reset (as MatchedPolicy consumes them), so resets without observations leave no empty sequences.
 */
export function recordingPolicy(policy: MemoryPolicy, recorder: MemoryTraceRecorder): MemoryPolicy {
  if (typeof policy?.observe !== 'function' || typeof policy.reset !== 'function') throw new TypeError('recordingPolicy: policy must be a memory policy (an object with reset() and observe())');
  if (!(recorder instanceof MemoryTraceRecorder)) throw new TypeError('recordingPolicy: recorder must be a MemoryTraceRecorder (new MemoryTraceRecorder())');
  let pending = true;
  if (policy.chunkBoundary !== undefined) recorder.chunkBoundary = policy.chunkBoundary;
  return {
    name: policy.name,
    needsAttention: policy.needsAttention,
    ...(policy.tapPrecision ? { tapPrecision: policy.tapPrecision } : {}),
    ...(policy.packedTaps ? { packedTaps: policy.packedTaps } : {}),
    ...(policy.chunkBoundary ? { chunkBoundary: policy.chunkBoundary } : {}),
    get positionSpan() { return policy.positionSpan; },
    // Recording adds nothing across layers (the trace is put in order when it is taken).
    ...(policy.layerwise ? { layerwise: true } : {}),
    // Nor does it hold anything per row: the session may free a stateless policy's rows behind a window as before.
    ...(policy.stateless ? { stateless: true } : {}),
    stateObjects: () => [policy],
    // A trace holds whole sequences, each from a reset on: a fork's evictions continue the middle of one, which no
    // trace could replay. (Without this, the session reported that the inner policy, NAMM say, could not be cloned.)
    clone(): MemoryPolicy {
      throw new Error(`a recording policy (recordingPolicy(${policy.name})) cannot be forked: a memory trace records whole sequences from a reset on; record each sequence in a session of its own, or fork a session whose policy is not recorded`);
    },
    reset(shape: CacheShape): void { recorder.setShape(shape); pending = true; policy.reset(shape); },
    observe(obs: LayerObservation): KeepLists | null {
      if (pending) { recorder.beginSequence(); pending = false; }
      const keep = policy.observe(obs);
      recorder.record(obs, keep);
      return keep;
    },
  };
}

/**
 * Makes a budgetable baseline follow a trace. The i-th sequence run (a reset followed by observations) plays the
 * trace's i-th sequence; a one-sequence trace is replayed on every sequence. A trace event the run skips past, or one that asks a head to keep more rows
 * than it holds, means the trace came from another prompt or chunking, and is an error.
 */
export class MatchedPolicy implements MemoryPolicy {
  readonly name: string;
  readonly needsAttention: boolean;
  private started = 0;
  private shape: CacheShape | null = null;
  private queues: MemoryTraceEvent[][] = [];
  private cursor: number[] = [];

  private readonly trace: MemoryTrace;

  constructor(private readonly inner: TargetedPolicy, trace: MemoryTrace, label = 'trace') {
    checkMemoryPolicy('MatchedPolicy', 'inner', inner);
    if (!isTargetedPolicy(inner)) throw argError('MatchedPolicy', 'inner', 'a budgetable baseline (h2oPolicy(…), snapkvPolicy(…), …: a policy with observeAt)', inner);
    checkArg('MatchedPolicy', 'label', label, 'string');
    this.name = `matched(${inner.name}):trace=${label}`;
    this.needsAttention = inner.needsAttention;
    // Checked as a trace file is (a hand-built one with kept 0 emptied a layer's heads, one with no sequences
    // failed inside the first forward and left the session unusable).
    this.trace = parseMemoryTrace(trace, this.name);
  }

  /** Queues and cursors are per layer: chunks may go through the layers together when the baseline allows it. */
  get layerwise(): boolean { return this.inner.layerwise === true; }

  /** The followed baseline keeps the scores. */
  stateObjects(): readonly object[] { return [this.inner]; }

  /** The recorded policy's chunk boundary, so that this run's chunks end at every eviction point of the trace. */
  get chunkBoundary(): number | undefined { return this.trace.chunkBoundary; }

  reset(shape: CacheShape): void {
    const ts = this.trace.shape;
    if (ts && (ts.nLayers !== shape.nLayers || ts.nKvHeads !== shape.nKvHeads)) {
      throw new Error(`${this.name}: the trace was recorded on a model with ${ts.nLayers} layers and ${ts.nKvHeads} KV heads; ` +
        `this one has ${shape.nLayers} layers and ${shape.nKvHeads} KV heads`);
    }
    this.shape = shape;
    this.queues = [];
    this.cursor = [];
    this.inner.reset(shape);
  }

  /** The next trace sequence, taken when a sequence really starts (its first observation), not at every reset. */
  private startSequence(shape: CacheShape): void {
    const seqs = this.trace.sequences;
    const i = seqs.length === 1 ? 0 : this.started;
    if (i >= seqs.length) throw new Error(`${this.name}: sequence ${i + 1} started, but the trace holds only ${seqs.length}`);
    this.started++;
    this.queues = Array.from({ length: shape.nLayers }, () => []);
    for (const e of seqs[i]!) {
      if (e.layer >= shape.nLayers) throw new Error(`${this.name}: trace event for layer ${e.layer}, but the model has ${shape.nLayers} layers`);
      if (Array.isArray(e.kept) && e.kept.length !== shape.nKvHeads) {
        throw new Error(`${this.name}: trace event (layer ${e.layer}, totalTokens ${e.totalTokens}) lists ${e.kept.length} heads, the model has ${shape.nKvHeads} KV heads`);
      }
      this.queues[e.layer]!.push(e);
    }
    for (const q of this.queues) q.sort((a, b) => a.totalTokens - b.totalTokens);
    this.cursor = new Array<number>(shape.nLayers).fill(0);
  }

  /** An independent copy with the same per-sequence state (Session.fork); the backend stays shared. */
  clone(): MatchedPolicy {
    return cloneState(this);
  }

  observe(obs: LayerObservation): KeepLists | null {
    const shape = this.shape;
    if (!shape) throw new Error(`${this.name}: observe() before reset(shape)`);
    if (this.queues.length === 0) this.startSequence(shape);
    const q = this.queues[obs.layer];
    if (!q) throw new Error(`${this.name}: layer ${obs.layer} out of range [0, ${shape.nLayers})`);
    let c = this.cursor[obs.layer]!;
    let event: MemoryTraceEvent | undefined;
    while (c < q.length && q[c]!.totalTokens <= obs.totalTokens) {
      const e = q[c++]!;
      if (e.totalTokens < obs.totalTokens) {
        throw new Error(`${this.name}: the trace evicts in layer ${obs.layer} at totalTokens ${e.totalTokens}, but no chunk ended there ` +
          `(this one ends at ${obs.totalTokens}): the trace was recorded on another prompt or chunking`);
      }
      event = e; // one per point (parseMemoryTrace refuses duplicates)
    }
    this.cursor[obs.layer] = c;
    let targets: Int32Array | null = null;
    if (event) {
      targets = new Int32Array(shape.nKvHeads);
      let want = 0, held = 0;
      for (let h = 0; h < shape.nKvHeads; h++) {
        targets[h] = Array.isArray(event.kept) ? event.kept[h]! : event.kept;
        want += targets[h]!; held += obs.lens[h]!;
      }
      if (want > held) {
        throw new Error(`${this.name}: the trace keeps ${want} rows in layer ${obs.layer} at totalTokens ${obs.totalTokens}, ` +
          `but the cache holds only ${held}: the trace was recorded on another prompt or chunking`);
      }
      // Per-head selection keeps min(target, rows) in each head, so a head asked for more than it holds would leave
      // the layer smaller than the trace says (AdaKV pools the targets: there only the total above counts).
      // (A property, not the selector's identity: a fork's clone holds a copy of the selector.)
      if (this.inner instanceof ScoredPolicy && this.inner.select.pooled !== true) {
        for (let h = 0; h < shape.nKvHeads; h++) {
          if (targets[h]! > obs.lens[h]!) {
            throw new Error(`${this.name}: the trace keeps ${targets[h]} rows in head ${h} of layer ${obs.layer} at totalTokens ${obs.totalTokens}, ` +
              `but that head holds only ${obs.lens[h]}: the trace was recorded on another prompt or chunking`);
          }
        }
      }
    }
    return this.inner.observeAt(obs, targets);
  }

  /** Trace events of the current sequence not reached yet (non-zero at the end means the run stopped early). */
  pendingEvents(): number {
    let n = 0;
    for (let l = 0; l < this.queues.length; l++) n += this.queues[l]!.length - this.cursor[l]!;
    return n;
  }
}

export function matchedPolicy(inner: TargetedPolicy, trace: MemoryTrace, label?: string): MatchedPolicy {
  checkMemoryPolicy('matchedPolicy', 'inner', inner);
  return new MatchedPolicy(inner, trace, label);
}
