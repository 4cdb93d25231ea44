/** The inference attention step over a cache that holds exactly the chunk (a fresh sequence), for comparisons. */
import type { AttendFn } from '../../src/models/arch.js';
import type { ModelConfig } from '../../src/models/types.js';
import type { Backend } from '../../src/tensor/backend.js';

export function attendFull(be: Backend, c: ModelConfig): AttendFn {
  return (_layer, q, k, v, n, out) => {
    const hd = c.headDim, keys: Float32Array[] = [], values: Float32Array[] = [];
    for (let g = 0; g < c.nKvHeads; g++) {
      const kh = new Float32Array(n * hd), vh = new Float32Array(n * hd);
      for (let t = 0; t < n; t++) for (let i = 0; i < hd; i++) {
        kh[t * hd + i] = k[(t * c.nKvHeads + g) * hd + i]!; vh[t * hd + i] = v[(t * c.nKvHeads + g) * hd + i]!;
      }
      keys.push(kh); values.push(vh);
    }
    be.attention({ q, nQ: n, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: hd, keys, values, lens: new Int32Array(c.nKvHeads).fill(n), scale: 1 / Math.sqrt(hd), out });
  };
}
