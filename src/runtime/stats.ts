/** How much of the full KV cache a session held over time, per layer and per KV head. */

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
  evictionEvents: number;
}

export class CacheStats {
  readonly snapshots: CacheSnapshot[] = [];
  evictionEvents = 0;

  constructor(readonly nLayers: number, readonly nKvHeads: number) {}

  /** An independent copy (Session.fork). */
  clone(): CacheStats {
    const c = new CacheStats(this.nLayers, this.nKvHeads);
    for (const s of this.snapshots) c.snapshots.push({ ...s, held: s.held.slice() });
    c.evictionEvents = this.evictionEvents;
    return c;
  }

  record(totalTokens: number, chunkTokens: number, held: Int32Array): void {
    this.snapshots.push({ totalTokens, chunkTokens, held });
  }

  summary(bytes: { held: number; used: number; freed: number }): CacheStatsSummary {
    const L = this.nLayers, H = this.nKvHeads;
    let wSum = 0, fSum = 0, peak = 0, final = 0;
    const perLayer = new Array<number>(L).fill(0);
    for (const s of this.snapshots) {
      const full = s.totalTokens * H;
      let all = 0;
      for (let l = 0; l < L; l++) {
        let rows = 0;
        for (let h = 0; h < H; h++) rows += s.held[l * H + h]!;
        all += rows;
        perLayer[l] = perLayer[l]! + (s.chunkTokens * rows) / full;
      }
      const f = all / (full * L);
      wSum += s.chunkTokens; fSum += s.chunkTokens * f;
      peak = Math.max(peak, f); final = f;
    }
    const last = this.snapshots.at(-1);
    return {
      meanFraction: wSum ? fSum / wSum : 1,
      peakFraction: this.snapshots.length ? peak : 1,
      finalFraction: this.snapshots.length ? final : 1,
      meanFractionPerLayer: perLayer.map((v) => (wSum ? v / wSum : 1)),
      finalHeldPerHead: Array.from({ length: L }, (_, l) => Array.from({ length: H }, (_, h) => last?.held[l * H + h] ?? 0)),
      totalTokens: last?.totalTokens ?? 0,
      bytesHeld: bytes.held,
      bytesUsed: bytes.used,
      bytesFreed: bytes.freed,
      evictionEvents: this.evictionEvents,
    };
  }
}
