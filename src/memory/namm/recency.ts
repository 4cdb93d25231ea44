/**
 * The recency embedding (spec/namm.md §2, `RecencyEmbeddingWrapper`): for a cached token at distance r from the
 * newest cached token (r = p_last − p_k, so the newest has r = 0),
 *   e(r) = [sin(r·ω_0..3), cos(r·ω_0..3)],  ω_i = 1 / 50000^{i/4},
 * computed in float64 and only then rounded to float32 (the reference's table). The reference stores a table for
 * r = 0..32768 and fails on anything larger; by default so do we (with a clear error), or `extend` continues the
 * same formula past the table.
 */
import { argError, checkArg } from '../../util/args.js';

export const RECENCY_DIMS = 8;
export const RECENCY_MAX_FREQ = 50000;
/** Largest distance the reference's table holds (`max_position_id`). */
export const RECENCY_TABLE_MAX = 32768;

export type RecencyOverflow = 'error' | 'extend';

const OMEGA: Float64Array = (() => {
  const half = RECENCY_DIMS / 2;
  const w = new Float64Array(half);
  for (let i = 0; i < half; i++) w[i] = 1 / RECENCY_MAX_FREQ ** (i / half);
  return w;
})();

/** Writes e(r) (8 float32 values) into out at offset. */
export function recencyEmbedding(r: number, out: Float32Array, offset = 0, overflow: RecencyOverflow = 'error'): void {
  checkArg('recencyEmbedding', 'r', r, 'count', 'a non-negative integer (a recency)');
  checkArg('recencyEmbedding', 'out', out, 'Float32Array');
  checkArg('recencyEmbedding', 'offset', offset, 'count');
  if (offset + RECENCY_DIMS > out.length) throw new RangeError(`recencyEmbedding: out holds ${out.length} values, so offset ${offset} leaves no room for the ${RECENCY_DIMS} of an embedding`);
  if (overflow !== 'error' && overflow !== 'extend') throw argError('recencyEmbedding', 'overflow', '"error" or "extend"', overflow);
  if (!Number.isInteger(r) || r < 0) throw new RangeError(`recency must be a non-negative integer, got ${r}`);
  if (r > RECENCY_TABLE_MAX && overflow === 'error') {
    throw new RangeError(
      `NAMM recency ${r} exceeds the reference table (0..${RECENCY_TABLE_MAX}); pass recency=extend to continue the formula`,
    );
  }
  const half = RECENCY_DIMS / 2;
  for (let i = 0; i < half; i++) {
    const x = r * OMEGA[i]!;
    out[offset + i] = Math.sin(x);
    out[offset + half + i] = Math.cos(x);
  }
}

let table: Float32Array | null = null;

/**
 * e(r) for r = 0..RECENCY_TABLE_MAX, `[32769, 8]` float32 (each value computed in float64 by the formula above,
 * then rounded, as recencyEmbedding), built on first use.
 */
export function recencyTable(): Float32Array {
  if (table) return table;
  const t = new Float32Array((RECENCY_TABLE_MAX + 1) * RECENCY_DIMS);
  for (let r = 0; r <= RECENCY_TABLE_MAX; r++) recencyEmbedding(r, t, r * RECENCY_DIMS);
  return (table = t);
}
