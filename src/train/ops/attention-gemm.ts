/**
 * Causal grouped-query attention for training, computed with the Backend's GEMMs, one head and one block of
 * query rows at a time: the same function and the same saved statistics (log-sum-exp per row) as the loop
 * version in attention.ts, which remains the plain specification (and the kernel to port to native code).
 *
 * Why: the score and probability products are 4 of attention's 5 passes over T²·headDim, and as GEMMs they run
 * at the native backend's 50-70 GFLOP/s instead of ~0.6 GFLOP/s for strided scalar loops in TypeScript. Only the
 * softmax (an exp per visible score) stays in TypeScript. Blocks of BLOCK query rows see keys 0..blockEnd, so
 * the masked upper triangle is skipped except within the diagonal block, and the score buffer is BLOCK×T.
 *
 * Layouts as in attention.ts: q, out `[T, nHeads, headDim]`; k, v `[T, nKvHeads, headDim]`; lse `[T, nHeads]`.
 *
 * Native route: when the Gemm also carries the fused kernels of `AttentionKernels` (the native backend's
 * trainAttentionForward/Backward, attached by `attentionKernelsOf`) and the arrays are float32, both functions
 * hand the whole computation to that kernel instead (tiled, multi-threaded, vectorised exp). This file is then
 * its TypeScript twin; float64 callers (the gradient checks) always take the TypeScript path.
 */
import type { Backend } from '../../tensor/backend.js';
import { allF32, allocVec, type Gemm, type Vec } from './types.js';

/** The fused training-attention kernels a Gemm may carry next to its three products. */
export interface AttentionKernels {
  trainAttentionForward?: NonNullable<Backend['trainAttentionForward']>;
  trainAttentionBackward?: NonNullable<Backend['trainAttentionBackward']>;
}

/** The backend's fused attention kernels (bound to it), or none: spread into a Gemm to route training through them. */
export function attentionKernelsOf(be: Backend): AttentionKernels {
  const fwd = be.trainAttentionForward, bwd = be.trainAttentionBackward;
  if (typeof fwd !== 'function' || typeof bwd !== 'function') return {};
  return { trainAttentionForward: fwd.bind(be), trainAttentionBackward: bwd.bind(be) };
}

/** Query rows per block: 128 rows × 4096 keys is a 2 MiB score block (plus as much for its gradient). */
export const ATTENTION_BLOCK = 128;

/** Head-major copy: dst[t, :] = src[t, head, :] for one head of a `[T, nHeads, hd]` array. */
function gatherHead(dst: Vec, src: Vec, T: number, nHeads: number, hd: number, head: number): void {
  for (let t = 0; t < T; t++) {
    const s = (t * nHeads + head) * hd, d = t * hd;
    for (let i = 0; i < hd; i++) dst[d + i] = src[s + i]!;
  }
}

function scatterHead(dst: Vec, src: Vec, T: number, nHeads: number, hd: number, head: number, accumulate: boolean): void {
  for (let t = 0; t < T; t++) {
    const d = (t * nHeads + head) * hd, s = t * hd;
    if (accumulate) for (let i = 0; i < hd; i++) dst[d + i] += src[s + i]!;
    else for (let i = 0; i < hd; i++) dst[d + i] = src[s + i]!;
  }
}

function precisionOf(v: Vec): 'f32' | 'f64' { return v instanceof Float64Array ? 'f64' : 'f32'; }

function checkHeads(nHeads: number, nKvHeads: number): number {
  if (!(nKvHeads > 0 && nHeads % nKvHeads === 0)) throw new RangeError(`nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  return nHeads / nKvHeads;
}

export function attentionForwardGemm(
  g: Gemm, out: Vec, lse: Float64Array, q: Vec, k: Vec, v: Vec, T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number,
  BLOCK = ATTENTION_BLOCK,
): void {
  const fused = (g as Gemm & AttentionKernels).trainAttentionForward;
  if (fused && allF32(out, q, k, v)) {
    fused(out as Float32Array, lse, q as Float32Array, k as Float32Array, v as Float32Array, T, nHeads, nKvHeads, headDim, scale);
    return;
  }
  const group = checkHeads(nHeads, nKvHeads), hd = headDim, p = precisionOf(q);
  const qh = allocVec(p, T * hd), kg = allocVec(p, T * hd), vg = allocVec(p, T * hd), oh = allocVec(p, T * hd);
  const S = allocVec(p, Math.min(BLOCK, T) * T), invSum = new Float64Array(Math.min(BLOCK, T));
  for (let kvh = 0; kvh < nKvHeads; kvh++) {
    gatherHead(kg, k, T, nKvHeads, hd, kvh);
    gatherHead(vg, v, T, nKvHeads, hd, kvh);
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      gatherHead(qh, q, T, nHeads, hd, h);
      for (let t0 = 0; t0 < T; t0 += BLOCK) {
        const t1 = Math.min(T, t0 + BLOCK), rows = t1 - t0, n = t1;
        const s = S.subarray(0, rows * n);
        g.matmulABt(qh.subarray(t0 * hd, t1 * hd), kg.subarray(0, n * hd), s, rows, hd, n);
        // One pass for the row maximum, one for exp and sum (scale > 0, so the raw maximum is the scaled one);
        // the normalisation is applied to the rows of P·V afterwards (headDim values instead of n per row).
        for (let r = 0; r < rows; r++) {
          const t = t0 + r, o = r * n;
          let max = -Infinity;
          for (let j = 0; j <= t; j++) if (s[o + j]! > max) max = s[o + j]!;
          let sum = 0;
          for (let j = 0; j <= t; j++) { const e = Math.exp((s[o + j]! - max) * scale); s[o + j] = e; sum += e; }
          for (let j = t + 1; j < n; j++) s[o + j] = 0;
          lse[t * nHeads + h] = max * scale + Math.log(sum);
          invSum[r] = 1 / sum;
        }
        const oBlk = oh.subarray(t0 * hd, t1 * hd);
        g.matmulAB(s, vg.subarray(0, n * hd), oBlk, rows, n, hd);
        for (let r = 0; r < rows; r++) { const f = invSum[r]!; for (let i = 0; i < hd; i++) oBlk[r * hd + i] *= f; }
      }
      scatterHead(out, oh, T, nHeads, hd, h, false);
    }
  }
}

/** Backward of `attentionForwardGemm` (and of `attentionForward`); dq, dk, dv are overwritten. */
export function attentionBackwardGemm(
  g: Gemm, dq: Vec, dk: Vec, dv: Vec, dout: Vec, q: Vec, k: Vec, v: Vec, out: Vec, lse: Float64Array,
  T: number, nHeads: number, nKvHeads: number, headDim: number, scale: number, BLOCK = ATTENTION_BLOCK,
): void {
  const fused = (g as Gemm & AttentionKernels).trainAttentionBackward;
  if (fused && allF32(dq, dk, dv, dout, q, k, v, out)) {
    const f = (x: Vec): Float32Array => x as Float32Array;
    fused(f(dq), f(dk), f(dv), f(dout), f(q), f(k), f(v), f(out), lse, T, nHeads, nKvHeads, headDim, scale);
    return;
  }
  const group = checkHeads(nHeads, nKvHeads), hd = headDim, p = precisionOf(q);
  const qh = allocVec(p, T * hd), kg = allocVec(p, T * hd), vg = allocVec(p, T * hd), doh = allocVec(p, T * hd);
  const dqh = allocVec(p, T * hd), dkg = allocVec(p, T * hd), dvg = allocVec(p, T * hd);
  const B = Math.min(BLOCK, T), P = allocVec(p, B * T), dP = allocVec(p, B * T), delta = new Float64Array(T);
  for (let kvh = 0; kvh < nKvHeads; kvh++) {
    gatherHead(kg, k, T, nKvHeads, hd, kvh);
    gatherHead(vg, v, T, nKvHeads, hd, kvh);
    dkg.fill(0); dvg.fill(0);
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      gatherHead(qh, q, T, nHeads, hd, h);
      gatherHead(doh, dout, T, nHeads, hd, h);
      for (let t = 0; t < T; t++) {
        const o = (t * nHeads + h) * hd;
        let d = 0;
        for (let i = 0; i < hd; i++) d += dout[o + i]! * out[o + i]!;
        delta[t] = d;
      }
      for (let t0 = 0; t0 < T; t0 += BLOCK) {
        const t1 = Math.min(T, t0 + BLOCK), rows = t1 - t0, n = t1;
        const pr = P.subarray(0, rows * n), dpr = dP.subarray(0, rows * n);
        const qBlk = qh.subarray(t0 * hd, t1 * hd), doBlk = doh.subarray(t0 * hd, t1 * hd);
        // Recompute the probabilities from the saved log-sum-exp.
        g.matmulABt(qBlk, kg.subarray(0, n * hd), pr, rows, hd, n);
        g.matmulABt(doBlk, vg.subarray(0, n * hd), dpr, rows, hd, n);
        for (let r = 0; r < rows; r++) {
          const t = t0 + r, o = r * n, l = lse[t * nHeads + h]!, d = delta[t]!;
          for (let j = 0; j <= t; j++) {
            const prob = Math.exp(pr[o + j]! * scale - l);
            pr[o + j] = prob;
            dpr[o + j] = prob * (dpr[o + j]! - d) * scale; // dS, the gradient of the raw score q·k
          }
          for (let j = t + 1; j < n; j++) { pr[o + j] = 0; dpr[o + j] = 0; }
        }
        g.matmulAB(dpr, kg.subarray(0, n * hd), dqh.subarray(t0 * hd, t1 * hd), rows, n, hd);
        g.matmulAtB(dpr, qBlk, dkg.subarray(0, n * hd), n, rows, hd, true);
        g.matmulAtB(pr, doBlk, dvg.subarray(0, n * hd), n, rows, hd, true);
      }
      scatterHead(dq, dqh, T, nHeads, hd, h, false);
    }
    scatterHead(dk, dkg, T, nKvHeads, hd, kvh, false);
    scatterHead(dv, dvg, T, nKvHeads, hd, kvh, false);
  }
}
