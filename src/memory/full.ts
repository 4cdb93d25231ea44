/** Full cache: keeps every token (the reference that every eviction method is measured against). */
import type { CacheShape, KeepLists, LayerObservation, MemoryPolicy } from './policy.js';
import { checkShape } from './scored.js';
import { cloneState } from '../util/clone.js';

export class FullPolicy implements MemoryPolicy {
  readonly name = 'full';
  readonly needsAttention = false;
  /** Nothing to decide: chunks may go through the layers together (MemoryPolicy.layerwise). */
  readonly layerwise = true;
  /** Nothing per row: a sliding-window layer's rows that no query can see any more go (MemoryPolicy.stateless). */
  readonly stateless = true;
  reset(shape: CacheShape): void { checkShape(shape); }
  /** An independent copy (Session.fork); the full cache has no state of its own. */
  clone(): FullPolicy {
    return cloneState(this);
  }

  observe(_obs: LayerObservation): KeepLists | null { return null; }
}

export function fullPolicy(): FullPolicy { return new FullPolicy(); }
