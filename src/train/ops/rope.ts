/**
 * Rotary position embedding for full-sequence training. The angles are the inference kernel's (position and
 * inverse frequency multiplied in float32, cos/sin rounded to float32, as HF does), tabulated once per sequence
 * and shared by every layer, queries and keys, forward and backward. A rotation is orthogonal, so its backward is
 * the rotation by the opposite angle.
 */
import type { RopeLayout } from '../../tensor/backend.js';
import type { Vec } from './types.js';

export interface RopeTable {
  rows: number;
  half: number;
  cos: Float64Array;
  sin: Float64Array;
}

/**
 * cos/sin `[rows, half]` for the given positions and inverse frequencies (half = rotaryDim/2 = invFreq.length),
 * both multiplied by `factor` (YaRN's attention factor, as HF applies it; 1 otherwise). The table then applies
 * factor·R, and its inverse application factor·Rᵀ, which is still the backward of the forward.
 */
export function ropeTable(positions: Int32Array, invFreq: Float32Array, factor = 1): RopeTable {
  const rows = positions.length, half = invFreq.length;
  const cos = new Float64Array(rows * half), sin = new Float64Array(rows * half);
  for (let r = 0; r < rows; r++) {
    const p = Math.fround(positions[r]!);
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      cos[r * half + i] = factor === 1 ? Math.fround(Math.cos(angle)) : Math.fround(Math.fround(Math.cos(angle)) * Math.fround(factor));
      sin[r * half + i] = factor === 1 ? Math.fround(Math.sin(angle)) : Math.fround(Math.fround(Math.sin(angle)) * Math.fround(factor));
    }
  }
  return { rows, half, cos, sin };
}

/**
 * Rotates x `[rows, nHeads, headDim]` in place by +angle (forward) or −angle (`inverse`, the backward of the
 * forward rotation applied to a gradient). 'half' pairs (i, i + half), 'interleaved' pairs (2i, 2i + 1).
 */
export function ropeApply(x: Vec, table: RopeTable, nHeads: number, headDim: number, layout: RopeLayout, inverse: boolean): void {
  const { rows, half, cos, sin } = table;
  if (2 * half > headDim) throw new RangeError(`RoPE table has ${half} pairs, more than headDim/2 = ${headDim / 2}`);
  if (x.length < rows * nHeads * headDim) throw new RangeError(`RoPE input holds ${x.length} values, fewer than ${rows}×${nHeads}×${headDim}`);
  const stride = layout === 'half' ? 1 : 2, partner = layout === 'half' ? half : 1;
  const sign = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const t = r * half;
    for (let h = 0; h < nHeads; h++) {
      const o = (r * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[t + i]!, s = sign * sin[t + i]!;
        const i0 = o + i * stride, i1 = i0 + partner;
        const u = x[i0]!, v = x[i1]!;
        x[i0] = u * c - v * s;
        x[i1] = v * c + u * s;
      }
    }
  }
}
