/**
 * Causal self-attention over a whole sequence, with grouped-query heads (query head h reads KV head
 * ⌊h / (nHeads/nKvHeads)⌋, HF `repeat_kv`). Plain loops over flat arrays with explicit sizes and no allocation
 * beyond one score row, so that the pair can move into the native addon unchanged.
 *
 * Memory: the forward keeps only the log-sum-exp of each (query, head) row; the backward recomputes the
 * probabilities from it (as FlashAttention does) instead of storing T² of them per head and layer.
 *
 * Layouts: q and out `[T, nHeads, headDim]`, k and v `[T, nKvHeads, headDim]`, lse `[T, nHeads]`.
 */
import type { Vec } from './types.js';

function checkHeads(nHeads: number, nKvHeads: number): number {
  if (!(nKvHeads > 0 && nHeads % nKvHeads === 0)) throw new RangeError(`nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  return nHeads / nKvHeads;
}

/** out[t,h] = Σ_{s≤t} softmax_s(scale · q[t,h]·k[s,g]) · v[s,g]; lse[t,h] = log Σ_{s≤t} exp(scale · q·k). */
export function attentionForward(
  out: Vec, lse: Float64Array, q: Vec, k: Vec, v: Vec, T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
): void {
  const group = checkHeads(nHeads, nKvHeads), hd = headDim, kvStride = nKvHeads * hd;
  const p = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * hd, g = (h / group) | 0, kvo = g * hd;
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        const ko = s * kvStride + kvo;
        let dot = 0;
        for (let i = 0; i < hd; i++) dot += q[qo + i]! * k[ko + i]!;
        dot *= scale;
        p[s] = dot;
        if (dot > max) max = dot;
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) { const e = Math.exp(p[s]! - max); p[s] = e; sum += e; }
      lse[t * nHeads + h] = max + Math.log(sum);
      const inv = 1 / sum;
      for (let i = 0; i < hd; i++) out[qo + i] = 0;
      for (let s = 0; s <= t; s++) {
        const w = p[s]! * inv, vo = s * kvStride + kvo;
        for (let i = 0; i < hd; i++) out[qo + i] += w * v[vo + i]!;
      }
    }
  }
}

/**
 * Backward of `attentionForward`; dq, dk, dv are overwritten. With p recomputed from lse, dp_s = dout·v_s and
 * δ = Σ_s p_s·dp_s = dout·out (softmax backward): ds_s = p_s·(dp_s − δ); dq += scale·Σ ds_s·k_s;
 * dk_s += scale·ds_s·q; dv_s += p_s·dout. KV heads shared by a group of query heads sum the group's gradients.
 */
export function attentionBackward(
  dq: Vec, dk: Vec, dv: Vec, dout: Vec, q: Vec, k: Vec, v: Vec, out: Vec, lse: Float64Array,
  T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
): void {
  const group = checkHeads(nHeads, nKvHeads), hd = headDim, kvStride = nKvHeads * hd;
  dq.fill(0, 0, T * nHeads * hd); dk.fill(0, 0, T * kvStride); dv.fill(0, 0, T * kvStride);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * hd, g = (h / group) | 0, kvo = g * hd, l = lse[t * nHeads + h]!;
      let delta = 0;
      for (let i = 0; i < hd; i++) delta += dout[qo + i]! * out[qo + i]!;
      for (let s = 0; s <= t; s++) {
        const ko = s * kvStride + kvo;
        let dot = 0, dp = 0;
        for (let i = 0; i < hd; i++) { dot += q[qo + i]! * k[ko + i]!; dp += dout[qo + i]! * v[ko + i]!; }
        const prob = Math.exp(dot * scale - l);
        const ds = prob * (dp - delta) * scale;
        for (let i = 0; i < hd; i++) {
          dq[qo + i] += ds * k[ko + i]!;
          dk[ko + i] += ds * q[qo + i]!;
          dv[ko + i] += prob * dout[qo + i]!;
        }
      }
    }
  }
}
