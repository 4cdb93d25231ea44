/** Token (and learned position) embeddings: a row gather forward, a scatter-add backward. */
import type { Vec } from './types.js';

/** out[t,:] = table[ids[t],:] (+ positions[t,:] when `pos` is given: GPT-2's learned positions, row t). */
export function embeddingForward(out: Vec, table: Vec, ids: Int32Array, D: number, vocab: number, pos: Vec | null = null): void {
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`);
    const src = id * D, dst = t * D, p = t * D;
    if (pos) for (let i = 0; i < D; i++) out[dst + i] = table[src + i]! + pos[p + i]!;
    else for (let i = 0; i < D; i++) out[dst + i] = table[src + i]!;
  }
}

/** dTable[ids[t],:] += dOut[t,:] (and dPos[t,:] += dOut[t,:]). Repeated ids sum their gradients. */
export function embeddingBackward(dTable: Vec, dOut: Vec, ids: Int32Array, D: number, dPos: Vec | null = null): void {
  for (let t = 0; t < ids.length; t++) {
    const dst = ids[t]! * D, src = t * D;
    for (let i = 0; i < D; i++) dTable[dst + i] += dOut[src + i]!;
    if (dPos) for (let i = 0; i < D; i++) dPos[src + i] += dOut[src + i]!;
  }
}
