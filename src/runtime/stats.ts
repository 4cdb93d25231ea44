/** How much of the full KV cache a session held over time, per layer and per KV head. */
import { argError } from '../util/args.js';

export interface CacheSnapshot {
  /** T_abs after the chunk. */
  totalTokens: number;
  /** Tokens in the chunk (the weight of this snapshot in time averages). */
  chunkTokens: number;
  /** Rows held, `[layer * nKvHeads + head]`. */
  held: Int32Array;
}

export interface CacheStatsSummary {
  /** Token-weighted mean over the run of (rows held) / (rows a full cache would hold). */
  meanFraction: number;
  peakFraction: number;
  finalFraction: number;
  /** Per layer: token-weighted mean fraction. */
  meanFractionPerLayer: number[];
  /** Per layer and head: rows held at the end. */
  finalHeldPerHead: number[][];
  totalTokens: number;
  bytesHeld: number;
  bytesUsed: number;
  bytesFreed: number;
  /**
   * Bytes the memory policy holds for its own state beside the cache (NAMM's attention windows and EMA, H2O's
   * accumulated scores: MemoryPolicy.stateBytes), 0 for the full cache or a policy that does not say.
   */
  policyBytes: number;
  evictionEvents: number;
}

/** The most snapshots a CacheStats keeps by default (see CacheStats.record). */
export const MAX_SNAPSHOTS = 4096;

/** The most layers or KV heads a CacheStats takes (a model has a few hundred at most). */
const MAX_DIMENSION = 65536;

export class CacheStats {
  /**
   * One snapshot per forward chunk or decoded token, oldest first, up to `maxSnapshots`: past that, neighbours are
   * merged in pairs (see record), so a long run keeps between half and all of `maxSnapshots` points spread over it.
   * Read-only: a snapshot is never changed once recorded, which lets a fork share them (and the summary is kept as
   * they arrive, not recomputed from them).
   */
  readonly snapshots: readonly CacheSnapshot[] = [];
  evictionEvents = 0;
  /** Running token-weighted sums of the summary: Σ chunkTokens, Σ chunkTokens·fraction, per layer too; the peak. */
  private wSum = 0;
  private fSum = 0;
  private peak = 0;
  private final = 0;
  private perLayer: Float64Array;

  constructor(readonly nLayers: number, readonly nKvHeads: number, readonly maxSnapshots = MAX_SNAPSHOTS) {
    for (const [name, v] of [['nLayers', nLayers], ['nKvHeads', nKvHeads]] as const) {
      if (!(Number.isSafeInteger(v) && v >= 1 && v <= MAX_DIMENSION)) throw argError('CacheStats', name, `an integer from 1 to ${MAX_DIMENSION}`, v);
    }
    if (!Number.isSafeInteger(maxSnapshots) || maxSnapshots < 2) throw new RangeError(`CacheStats: maxSnapshots must be an integer ≥ 2, got ${maxSnapshots}`);
    this.perLayer = new Float64Array(nLayers);
  }

  /**
   * An independent copy (Session.fork). The snapshots are shared, not copied: none changes once recorded, and a deep
   * copy cost a fork ~1 s after 100k decoded tokens on a 32-layer model.
   */
  clone(): CacheStats {
    const c = new CacheStats(this.nLayers, this.nKvHeads, this.maxSnapshots);
    (c as { snapshots: readonly CacheSnapshot[] }).snapshots = this.snapshots.slice();
    c.evictionEvents = this.evictionEvents;
    c.wSum = this.wSum; c.fSum = this.fSum; c.peak = this.peak; c.final = this.final;
    c.perLayer = this.perLayer.slice();
    return c;
  }

  /**
   * Adds the snapshot after a chunk (its tokens, the rows held per layer and head after its evictions) to the summary
   * and the history. A history past `maxSnapshots` is thinned: each pair of neighbours becomes one snapshot with the
   * later one's tokens and rows and the pair's chunk tokens, so a session decoding for hours holds a bounded history
   * (one snapshot per token grew by ~1 KiB per token on a 32-layer model) while the summary stays exact.
   */
  record(totalTokens: number, chunkTokens: number, held: Int32Array): void {
    // One bad snapshot (no tokens, a short `held`) turned the mean, peak and final fractions into NaN for good.
    if (!Number.isSafeInteger(totalTokens) || totalTokens < 1) throw new RangeError(`CacheStats.record: totalTokens must be an integer ≥ 1, got ${totalTokens}`);
    if (!Number.isSafeInteger(chunkTokens) || chunkTokens < 1 || chunkTokens > totalTokens) throw new RangeError(`CacheStats.record: chunkTokens must be an integer from 1 to totalTokens (${totalTokens}), got ${chunkTokens}`);
    if (!(held instanceof Int32Array) || held.length !== this.nLayers * this.nKvHeads) {
      throw new RangeError(`CacheStats.record: held must be an Int32Array of ${this.nLayers * this.nKvHeads} rows held (layers × KV heads), got ${ArrayBuffer.isView(held) ? `a ${held.constructor.name} of ${(held as Int32Array).length}` : typeof held}`);
    }
    for (let i = 0; i < held.length; i++) {
      if (held[i]! < 0) throw new RangeError(`CacheStats.record: held[${i}] is ${held[i]}, rows held cannot be negative`);
    }
    const snaps = this.snapshots as CacheSnapshot[];
    snaps.push({ totalTokens, chunkTokens, held });
    if (snaps.length > this.maxSnapshots) {
      const thinned: CacheSnapshot[] = [];
      for (let i = 0; i + 1 < snaps.length; i += 2) {
        const later = snaps[i + 1]!;
        thinned.push({ totalTokens: later.totalTokens, chunkTokens: snaps[i]!.chunkTokens + later.chunkTokens, held: later.held });
      }
      if (snaps.length % 2) thinned.push(snaps.at(-1)!);
      // A new array, not the old one rewritten: a fork shares the snapshots of the one it was taken from.
      (this as { snapshots: readonly CacheSnapshot[] }).snapshots = thinned;
    }
    const L = this.nLayers, H = this.nKvHeads, full = totalTokens * H;
    let all = 0;
    for (let l = 0; l < L; l++) {
      let rows = 0;
      for (let h = 0; h < H; h++) rows += held[l * H + h]!;
      all += rows;
      this.perLayer[l] = this.perLayer[l]! + (chunkTokens * rows) / full;
    }
    const f = all / (full * L);
    this.wSum += chunkTokens; this.fSum += chunkTokens * f;
    this.peak = Math.max(this.peak, f); this.final = f;
  }

  /** Forgets every snapshot and event (Session.reset). */
  clear(): void {
    (this.snapshots as CacheSnapshot[]).length = 0;
    this.evictionEvents = 0;
    this.wSum = this.fSum = this.peak = this.final = 0;
    this.perLayer.fill(0);
  }

  summary(bytes: { held: number; used: number; freed: number; policy?: number }): CacheStatsSummary {
    const L = this.nLayers, H = this.nKvHeads, wSum = this.wSum;
    const last = this.snapshots.at(-1);
    return {
      meanFraction: wSum ? this.fSum / wSum : 1,
      peakFraction: this.snapshots.length ? this.peak : 1,
      finalFraction: this.snapshots.length ? this.final : 1,
      meanFractionPerLayer: Array.from(this.perLayer, (v) => (wSum ? v / wSum : 1)),
      finalHeldPerHead: Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => last?.held[l * H + h] ?? 0)),
      totalTokens: last?.totalTokens ?? 0,
      bytesHeld: bytes.held,
      bytesUsed: bytes.used,
      bytesFreed: bytes.freed,
      policyBytes: bytes.policy ?? 0,
      evictionEvents: this.evictionEvents,
    };
  }
}
