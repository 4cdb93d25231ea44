/**
 * The BAM scorer (spec/namm.md §3, "backward attention memory"): one single-head attention layer over the
 * cached tokens of one (layer, head), then a linear score per token:
 *
 *   QKV = X·Wqkv + bqkv;  S = Q·Kᵀ/√32 with token i seeing only tokens j ≥ i (itself and newer);
 *   O = softmax(S)·V;  Y = O·Wo + bo = [R | Mul];  X' = X ⊙ (1 + Mul) + R;  s = X'·w + b.
 *
 * The attention is n² per head, so it is the expensive part of NAMM. With a backend that has the fused kernel
 * (Backend.bamScores, native: triangular, tiled, multi-threaded) the whole scorer is one call; with another
 * backend it runs as blocked GEMMs (Q·Kᵀ, softmax, P·V) on the backend's kernels; without one, as tight
 * float64-accumulating loops — the TypeScript twin of the native kernel.
 */
import type { Backend } from '../../tensor/backend.js';
import { refuseOverlap } from '../../tensor/validate.js';
import { BAM_HIDDEN, BAM_LAYOUT, FEATURE_DIM, validateNammParams } from './params.js';

const D = FEATURE_DIM;
const H = BAM_HIDDEN;
const SCALE = 1 / Math.sqrt(H);
/** float32 lowest, the reference's additive mask value. */
const MASKED = -3.4028234663852886e38;
/** Query rows per block on the backend path: small enough that the wasted masked triangle stays a few percent. */
const ROW_BLOCK = 64;

export class BamScorer {
  private readonly wqkv: Float32Array;
  private readonly bqkv: Float32Array;
  private readonly wo: Float32Array;
  private readonly bo: Float32Array;
  private readonly w: Float32Array;
  private readonly b: number;
  /** A private copy of the flat parameters, for the fused backend kernel. */
  private readonly flat: Float32Array;
  private q = new Float32Array(0);
  private k = new Float32Array(0);
  private v = new Float32Array(0);
  private o = new Float32Array(0);
  private row = new Float64Array(0);
  private kt = new Float32Array(0);
  private vt = new Float32Array(0);
  private block = new Float32Array(0);

  constructor(params: Float32Array, private readonly backend?: Backend) {
    validateNammParams(params, 'bam');
    const seg = (s: { offset: number; length: number }) => params.slice(s.offset, s.offset + s.length);
    this.wqkv = seg(BAM_LAYOUT.wqkv);
    this.bqkv = seg(BAM_LAYOUT.bqkv);
    this.wo = seg(BAM_LAYOUT.wo);
    this.bo = seg(BAM_LAYOUT.bo);
    this.w = seg(BAM_LAYOUT.w);
    this.b = params[BAM_LAYOUT.b.offset]!;
    this.flat = params.slice(0, BAM_LAYOUT.b.offset + 1);
  }

  /** Scores `n` tokens whose features are `x` `[n, 25]` (oldest first) into `out[0..n)`. */
  score(x: Float32Array, n: number, out: Float32Array): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`BAM: token count must be a non-negative integer, got ${n}`);
    if (x.length < n * D) throw new RangeError(`BAM: features hold ${x.length} values, ${n * D} needed`);
    if (out.length < n) throw new RangeError(`BAM: output holds ${out.length} values, ${n} needed`);
    // Scores are written while later rows' features are still read (by other threads in the native kernel).
    refuseOverlap([['output', out, n]], [['features', x, n * D]], false, 'BAM: ');
    if (n === 0) return;
    if (this.backend?.bamScores) {
      this.backend.bamScores(x, n, this.flat, out);
      return;
    }
    this.ensure(n);
    this.projectQkv(x, n);
    if (this.backend) this.attendBlocked(n, this.backend);
    else this.attendLoops(n);
    this.residualAndScore(x, n, out);
  }

  private ensure(n: number): void {
    if (this.q.length >= n * H) return;
    const cap = Math.max(n, Math.ceil(this.q.length / H) * 2);
    this.q = new Float32Array(cap * H);
    this.k = new Float32Array(cap * H);
    this.v = new Float32Array(cap * H);
    this.o = new Float32Array(cap * H);
    this.row = new Float64Array(cap);
    if (this.backend) this.block = new Float32Array(ROW_BLOCK * cap);
  }

  /** Q, K, V `[n, 32]` each from X·Wqkv + bqkv. */
  private projectQkv(x: Float32Array, n: number): void {
    const { wqkv, bqkv, q, k, v } = this;
    const acc = new Float64Array(3 * H);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3 * H; c++) acc[c] = bqkv[c]!;
      for (let d = 0; d < D; d++) {
        const xv = x[i * D + d]!;
        if (xv === 0) continue;
        const wo = d * 3 * H;
        for (let c = 0; c < 3 * H; c++) acc[c] = acc[c]! + xv * wqkv[wo + c]!;
      }
      for (let c = 0; c < H; c++) { q[i * H + c] = acc[c]!; k[i * H + c] = acc[H + c]!; v[i * H + c] = acc[2 * H + c]!; }
    }
  }

  /**
   * O = softmax(QKᵀ/√32 over j ≥ i)·V, one row at a time (float64 accumulation). K and V are transposed to
   * `[32, n]` first so both inner loops stream over contiguous tokens, which the JIT turns into tight code.
   */
  private attendLoops(n: number): void {
    const { q, k, v, o, row } = this;
    if (this.kt.length < n * H) { this.kt = new Float32Array(this.q.length); this.vt = new Float32Array(this.q.length); }
    const kt = this.kt, vt = this.vt;
    for (let j = 0; j < n; j++) for (let c = 0; c < H; c++) { kt[c * n + j] = k[j * H + c]!; vt[c * n + j] = v[j * H + c]!; }
    for (let i = 0; i < n; i++) {
      const qo = i * H;
      row.fill(0, i, n);
      for (let c = 0; c < H; c++) {
        const qc = q[qo + c]! * SCALE, base = c * n;
        for (let j = i; j < n; j++) row[j] += qc * kt[base + j]!;
      }
      let max = -Infinity;
      for (let j = i; j < n; j++) if (row[j]! > max) max = row[j]!;
      let sum = 0;
      for (let j = i; j < n; j++) { const e = Math.exp(row[j]! - max); row[j] = e; sum += e; }
      const inv = 1 / sum;
      for (let c = 0; c < H; c++) {
        const base = c * n;
        let acc = 0;
        for (let j = i; j < n; j++) acc += row[j]! * vt[base + j]!;
        o[qo + c] = acc * inv;
      }
    }
  }

  /** The same attention as blocked GEMMs on the backend: rows [i0, i0+B) against keys [i0, n). */
  private attendBlocked(n: number, be: Backend): void {
    const { q, k, v, o, block } = this;
    for (let i = 0; i < n * H; i++) q[i] = q[i]! * SCALE;
    for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
      const rows = Math.min(ROW_BLOCK, n - i0), cols = n - i0;
      const s = block.subarray(0, rows * cols);
      be.matmulABt(q.subarray(i0 * H, (i0 + rows) * H), k.subarray(i0 * H, n * H), s, rows, H, cols);
      // Backward mask: row r (token i0 + r) does not see the older tokens of its own block.
      for (let r = 1; r < rows; r++) s.fill(MASKED, r * cols, r * cols + r);
      be.softmax(s, rows, cols);
      // A masked key weighs 0, but 0·NaN is NaN: a key of the block whose value is not finite (features that are
      // not) would spoil every row of the block through the product, the newer rows that do not see it too. Such
      // a block sums each row over the keys it sees.
      let finite = true;
      for (let i = i0 * H; i < (i0 + rows) * H && finite; i++) finite = Number.isFinite(v[i]!);
      if (finite) be.matmulAB(s, v.subarray(i0 * H, n * H), o.subarray(i0 * H, (i0 + rows) * H), rows, cols, H);
      else {
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < H; c++) {
            let acc = 0;
            for (let j = r; j < cols; j++) acc += s[r * cols + j]! * v[(i0 + j) * H + c]!;
            o[(i0 + r) * H + c] = acc;
          }
        }
      }
    }
  }

  /** Y = O·Wo + bo; X' = X ⊙ (1 + Mul) + R; s = X'·w + b. */
  private residualAndScore(x: Float32Array, n: number, out: Float32Array): void {
    const { o, wo, bo, w, b } = this;
    const y = new Float64Array(2 * D);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 2 * D; c++) y[c] = bo[c]!;
      for (let h = 0; h < H; h++) {
        const ov = o[i * H + h]!;
        const base = h * 2 * D;
        for (let c = 0; c < 2 * D; c++) y[c] = y[c]! + ov * wo[base + c]!;
      }
      let s = b;
      for (let d = 0; d < D; d++) {
        // Each stage is float32 in the reference; round where it rounds so scores match to float32 precision.
        const r = Math.fround(y[d]!), mul = Math.fround(y[D + d]!);
        const xp = Math.fround(x[i * D + d]! * (1 + mul) + r);
        s += xp * w[d]!;
      }
      out[i] = s;
    }
  }
}
