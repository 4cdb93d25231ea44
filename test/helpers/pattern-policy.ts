/**
 * A memory policy for tests of the runtime: at the given T_abs it evicts the rows a fixed rule of their positions
 * picks (never a head's newest row), and remembers what it removed, so that a test can rebuild which keys each query
 * saw (test/helpers/reference-llama.ts's visibility rule).
 */
import type { LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import type { Visibility } from './reference-llama.js';

/** Whether the row at `position` goes, for layer `layer`, head `head`, at `totalTokens`. */
export type DropRule = (position: number, layer: number, head: number, totalTokens: number) => boolean;

export class PatternPolicy implements MemoryPolicy {
  readonly name = 'pattern';
  readonly needsAttention = false;
  /** (time, layer, head) → evicted absolute positions. */
  readonly events: { time: number; layer: number; head: number; evicted: Set<number> }[] = [];
  constructor(private readonly at: number[], private readonly drops: DropRule) {}
  reset(): void { this.events.length = 0; }
  observe(o: LayerObservation): Int32Array[] | null {
    if (!this.at.includes(o.totalTokens)) return null;
    return Array.from(o.lens, (len, h) => {
      const keep: number[] = [];
      const evicted = new Set<number>();
      for (let r = 0; r < len; r++) {
        const pos = o.positions[h]![r]!;
        if (r < len - 1 && this.drops(pos, o.layer, h, o.totalTokens)) evicted.add(pos); else keep.push(r);
      }
      this.events.push({ time: o.totalTokens, layer: o.layer, head: h, evicted });
      return Int32Array.from(keep);
    });
  }

  /** Keys not evicted by the time of the query, per layer and head. */
  readonly visible: Visibility = (layer, head, query, key) =>
    !this.events.some((e) => e.layer === layer && e.head === head && e.time <= query && e.evicted.has(key));
}
