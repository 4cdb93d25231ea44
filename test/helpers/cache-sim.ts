/**
 * A tiny stand-in for the runtime, for policy tests: a per-layer, per-KV-head cache of positions and keys that
 * appends each chunk, hands the policy an observation shaped like the session's (random causal attention rows
 * summing to 1, random keys with varied norms), checks the keep lists it returns and applies them the way
 * KVCache.retain will. Every step is recorded (copies) so tests can recompute scores independently, by position.
 */
import assert from 'node:assert/strict';
import type { KeepLists, LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import { Rng } from '../../src/util/rng.js';

export interface SimShape { nLayers: number; nKvHeads: number; headDim: number }

export interface Chunk { nQ: number; phase: 'prefill' | 'decode'; endOfPrefill: boolean }

/** What one layer saw on one chunk, and what the policy answered. */
export interface StepRecord {
  layer: number;
  totalTokens: number;
  nQ: number;
  phase: 'prefill' | 'decode';
  endOfPrefill: boolean;
  /** Per head, the positions of the rows the policy saw (chunk appended). */
  positions: number[][];
  /** Per head, keys `[rows, headDim]`. */
  keys: Float32Array[];
  /** Per head, attention `[nQ, rows]`. */
  attention: Float32Array[];
  keep: KeepLists | null;
}

export interface SimOptions {
  /** Seed of the synthetic keys and attention. */
  seed?: number;
  /** Leave attention out of observations (to prove a policy does not need it). */
  noAttention?: boolean;
}

export class SimCache {
  readonly records: StepRecord[] = [];
  totalTokens = 0;
  private readonly pos: number[][][];
  private readonly keys: Float32Array[][][];
  private readonly rng: Rng;

  constructor(readonly shape: SimShape, readonly policy: MemoryPolicy, private readonly opts: SimOptions = {}) {
    this.rng = new Rng(opts.seed ?? 1);
    this.pos = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => []));
    this.keys = Array.from({ length: shape.nLayers }, () => Array.from({ length: shape.nKvHeads }, () => []));
    policy.reset(shape);
  }

  /** Rows currently held by one layer and head. */
  rows(layer: number, head: number): number { return this.pos[layer]![head]!.length; }
  /** Positions currently held by one layer and head. */
  positions(layer: number, head: number): number[] { return [...this.pos[layer]![head]!]; }

  feed(chunk: Chunk): StepRecord[] {
    const { nLayers, nKvHeads, headDim } = this.shape;
    const start = this.totalTokens;
    this.totalTokens += chunk.nQ;
    const out: StepRecord[] = [];
    for (let l = 0; l < nLayers; l++) {
      for (let h = 0; h < nKvHeads; h++) {
        for (let q = 0; q < chunk.nQ; q++) {
          this.pos[l]![h]!.push(start + q);
          const scale = 0.2 + 3 * this.rng.float();
          this.keys[l]![h]!.push(Float32Array.from({ length: headDim }, () => scale * this.rng.normal()));
        }
      }
      const lens = Int32Array.from(this.pos[l]!, (p) => p.length);
      const positions = this.pos[l]!.map((p) => Int32Array.from(p));
      const keys = this.keys[l]!.map((rows) => { const k = new Float32Array(rows.length * headDim); rows.forEach((r, i) => k.set(r, i * headDim)); return k; });
      const values = keys.map((k) => k.map((v) => -v));
      const attention = this.pos[l]!.map((p) => this.randomAttention(p, start, chunk.nQ));
      const obs: LayerObservation = {
        layer: l, nQ: chunk.nQ, totalTokens: this.totalTokens, phase: chunk.phase, endOfPrefill: chunk.endOfPrefill,
        lens, positions, keys, values, ...(this.opts.noAttention ? {} : { attention }),
      };
      const keep = this.policy.observe(obs);
      const rec: StepRecord = {
        layer: l, totalTokens: this.totalTokens, nQ: chunk.nQ, phase: chunk.phase, endOfPrefill: chunk.endOfPrefill,
        positions: this.pos[l]!.map((p) => [...p]), keys, attention, keep,
      };
      if (keep !== null) this.apply(l, keep);
      this.records.push(rec);
      out.push(rec);
    }
    return out;
  }

  run(chunks: Chunk[]): StepRecord[] { return chunks.flatMap((c) => this.feed(c)); }

  /** Checks keep lists like the session would, then compacts the layer. */
  private apply(layer: number, keep: KeepLists): void {
    assert.equal(keep.length, this.shape.nKvHeads, 'one keep list per KV head');
    for (let h = 0; h < keep.length; h++) {
      const k = keep[h]!, n = this.pos[layer]![h]!.length;
      assert.ok(k instanceof Int32Array, 'keep lists are Int32Array');
      for (let i = 0; i < k.length; i++) {
        assert.ok(k[i]! >= 0 && k[i]! < n, `keep index ${k[i]} in range [0, ${n})`);
        if (i > 0) assert.ok(k[i]! > k[i - 1]!, 'keep lists strictly ascending');
      }
      this.pos[layer]![h] = Array.from(k, (i) => this.pos[layer]![h]![i]!);
      this.keys[layer]![h] = Array.from(k, (i) => this.keys[layer]![h]![i]!);
    }
  }

  /** Causal rows over the cached positions: random positive weights (some large, most small) that sum to 1. */
  private randomAttention(pos: number[], start: number, nQ: number): Float32Array {
    const n = pos.length, a = new Float32Array(nQ * n);
    for (let q = 0; q < nQ; q++) {
      let sum = 0;
      for (let j = 0; j < n; j++) {
        if (pos[j]! > start + q) continue;
        const u = this.rng.float();
        const w = u * u * u + 1e-6;
        a[q * n + j] = w; sum += w;
      }
      for (let j = 0; j < n; j++) a[q * n + j] = a[q * n + j]! / sum;
    }
    return a;
  }
}

/** A prefill of `T` tokens in chunks aligned to multiples of `chunk`, then `decode` single-token steps. */
export function schedule(T: number, chunk: number, decode = 0, startAt = 0): Chunk[] {
  const out: Chunk[] = [];
  let t = startAt;
  while (t < startAt + T) {
    const end = Math.min(startAt + T, (Math.floor(t / chunk) + 1) * chunk);
    out.push({ nQ: end - t, phase: 'prefill', endOfPrefill: end === startAt + T });
    t = end;
  }
  for (let i = 0; i < decode; i++) out.push({ nQ: 1, phase: 'decode', endOfPrefill: false });
  return out;
}

/** Reference top-k: the k best rows by (score, then newer row), as a sorted list of rows. */
export function topKRows(scores: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => (scores[b]! - scores[a]!) || (b - a));
  return idx.slice(0, Math.max(0, k)).sort((a, b) => a - b);
}
