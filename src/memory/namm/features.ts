/**
 * Closing a window (spec/namm.md §2): the raw spectrogram EMA of every scored row and the scorer's input
 * `[recency (8) | normalised EMA (17)]`, in one pass over the window's (float32) STFT accumulator. This is the
 * TypeScript twin of Backend.nammFeatures; both do float64 arithmetic with one rounding to float32 per stored value:
 *
 *   raw[k]  = f32(decay·oldEma[k] + acc[k])   (k < nOld: tokens scored at earlier updates)
 *           = acc[k]                          (tokens new in this window)
 *   feat[k] = [table[positions[n−1] − positions[k]] | f32((raw[k] − μ)·(1/σ))]   (raw[k] without statistics)
 *
 * Reading the accumulator also resets it to 0, so the next window starts from a clean one without a separate
 * pass over it.
 */
import { RECENCY_DIMS, recencyEmbedding, RECENCY_TABLE_MAX, type RecencyOverflow } from './recency.js';
import { ACC_BLOCK, N_BINS, stftAccSize } from './stft.js';
import { refuseOverlap } from '../../tensor/validate.js';

// Module-local copies: under a transpiling loader (tsx), imported bindings are getters, too slow for inner loops.
const BINS = N_BINS;
const REC = RECENCY_DIMS;
const DIM = REC + BINS;
const TILE = ACC_BLOCK;

/**
 * The twin of Backend.nammFeatures. `norm` is null (no statistics: raw values pass) or 34 float64 values, the
 * per-bin mean then the per-bin 1/max(σ, 1e-7) (FeatureNormalizer.packed). A recency outside `table` is a
 * RangeError, as in the native kernel.
 */
export function nammFeaturesTs(
  acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
  table: Float32Array, norm: Float64Array | null, raw: Float32Array, features: Float32Array,
): void {
  checkNammFeaturesArgs(acc, n, nOld, oldEma, decay, positions, table, norm, raw, features);
  const tableRows = Math.floor(table.length / REC);
  for (let k = 0; k < n; k++) {
    const r = positions[n - 1]! - positions[k]!;
    if (r < 0 || r >= tableRows) throw new RangeError(`nammFeatures: recency ${r} of row ${k} is outside the table (0..${tableRows - 1})`);
  }
  fillFeatures(acc, n, nOld, oldEma, decay, positions, norm, raw, features, (r, o) => {
    const src = r * REC;
    for (let d = 0; d < REC; d++) features[o + d] = table[src + d]!;
  });
}

/**
 * What the policy calls: the native kernel when the backend has it and every recency lies in the reference's
 * table, otherwise the TypeScript loops, which also handle recency overflow as `overflow` says ('error' throws
 * the reference's error, 'extend' continues the formula).
 */
export function closeWindowFeatures(
  kernel: ((...args: Parameters<typeof nammFeaturesTs>) => void) | null,
  acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
  table: Float32Array, norm: Float64Array | null, raw: Float32Array, features: Float32Array, overflow: RecencyOverflow,
): void {
  let inTable = true;
  const newest = n > 0 ? positions[n - 1]! : 0;
  for (let k = 0; k < n; k++) {
    const r = newest - positions[k]!;
    if (r < 0 || r > RECENCY_TABLE_MAX) { inTable = false; break; }
  }
  if (kernel && inTable) {
    kernel(acc, n, nOld, oldEma, decay, positions, table, norm, raw, features);
    return;
  }
  checkNammFeaturesArgs(acc, n, nOld, oldEma, decay, positions, table, norm, raw, features);
  fillFeatures(acc, n, nOld, oldEma, decay, positions, norm, raw, features, (r, o) => {
    if (r >= 0 && r <= RECENCY_TABLE_MAX) {
      const src = r * REC;
      for (let d = 0; d < REC; d++) features[o + d] = table[src + d]!;
    } else recencyEmbedding(r, features, o, overflow);
  });
}

/** The shared loop: raw EMA, normalised EMA, and the recency written by `recency(r, offset)`. */
function fillFeatures(
  acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
  norm: Float64Array | null, raw: Float32Array, features: Float32Array, recency: (r: number, offset: number) => void,
): void {
  const newest = n > 0 ? positions[n - 1]! : 0;
  for (let r0 = 0; r0 < n; r0 += TILE) {
    const tile = (r0 / TILE) * BINS * TILE, end = Math.min(TILE, n - r0);
    for (let l = 0; l < end; l++) {
      const k = r0 + l, o = k * DIM, rk = k * BINS;
      recency(newest - positions[k]!, o);
      for (let f = 0; f < BINS; f++) {
        const a = tile + f * TILE + l;
        raw[rk + f] = k < nOld ? decay * oldEma[rk + f]! + acc[a]! : acc[a]!;
        acc[a] = 0;
        const v = raw[rk + f]!;
        features[o + REC + f] = norm ? (v - norm[f]!) * norm[BINS + f]! : v;
      }
    }
  }
}

/** The argument checks of nammFeaturesTs, in the words of the native kernel. */
export function checkNammFeaturesArgs(
  acc: Float32Array, n: number, nOld: number, oldEma: Float32Array, decay: number, positions: Int32Array,
  table: Float32Array, norm: Float64Array | null, raw: Float32Array, features: Float32Array,
): void {
  for (const [name, v] of [['n', n], ['nOld', nOld]] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${String(v)}`);
  }
  if (nOld > n) throw new RangeError(`nammFeatures: nOld (${nOld}) exceeds n (${n})`);
  const need = (name: string, a: unknown, ok: boolean, typeName: string, count: number) => {
    if (!ok) throw new TypeError(`${name} must be ${typeName}`);
    if ((a as ArrayLike<number>).length < count) throw new RangeError(`${name} holds ${(a as ArrayLike<number>).length} values but ${count} are needed`);
  };
  need('acc', acc, acc instanceof Float32Array, 'a Float32Array', stftAccSize(n));
  need('oldEma', oldEma, oldEma instanceof Float32Array, 'a Float32Array', nOld * BINS);
  if (typeof decay !== 'number') throw new TypeError(`decay must be a number, got ${typeof decay}`);
  if (!Number.isFinite(decay)) throw new RangeError(`decay must be finite, got ${decay}`);
  need('positions', positions, positions instanceof Int32Array, 'an Int32Array', n);
  need('table', table, table instanceof Float32Array, 'a Float32Array', REC);
  if (norm !== null && norm !== undefined) need('norm', norm, norm instanceof Float64Array, 'a Float64Array', 2 * BINS);
  need('raw', raw, raw instanceof Float32Array, 'a Float32Array', n * BINS);
  need('features', features, features instanceof Float32Array, 'a Float32Array', n * DIM);
  // acc is read and cleared, raw and features written, row by row while oldEma, the table and norm are read.
  refuseOverlap([['acc', acc, stftAccSize(n)], ['raw', raw, n * BINS], ['features', features, n * DIM]],
    [['oldEma', oldEma, nOld * BINS], ['table', table, table.length], ...(norm ? [['norm', norm, 2 * BINS] as const] : [])], false, 'nammFeatures: ');
}
