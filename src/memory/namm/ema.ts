/**
 * The exponential moving average of spectrogram frames over time (spec/namm.md §2, `reduce_ema_values` and
 * `process_output_ema` in the reference). The coefficient γ is per query; one frame spans HOP = 16 queries, so a
 * frame decays by a = γ^16 and a whole update of U queries (F = U/16 frames) by γ^U:
 *
 *   E_k ← γ^U · E_k^old + Σ_{t=b(k)}^{F−1} (1−a)·a^{F−1−t} · S_t[k]
 *
 * where b(k) = ⌊j_k/16⌋ for the j-th token new in this update (0 for older tokens) and E^old = 0 for new tokens.
 * There is no renormalisation: a token born late in the window has total weight 1 − a^{F−b}.
 */
import { HOP } from './stft.js';

/** γ of the reference run configs (`embedding_ema_coeff`). */
export const EMA_COEFF = 0.99;

/**
 * Weight of frame t (t = 0..F−1, oldest first): (1−a)·a^{F−1−t} with a = γ^16, computed in float64 and stored as
 * float32, as the reference (a python float, a float32 weight vector).
 */
/** The most frames emaFrameWeights makes weights for. */
const MAX_FRAMES = 2 ** 26;

export function emaFrameWeights(frames: number, gamma = EMA_COEFF): Float32Array {
  if (!Number.isInteger(frames) || frames <= 0) throw new RangeError(`emaFrameWeights: EMA needs a positive frame count, got ${frames}`);
  if (frames > MAX_FRAMES) throw new RangeError(`emaFrameWeights: EMA frame count ${frames} is past ${MAX_FRAMES} (a cache of 2^30 tokens)`);
  checkGamma(gamma);
  const a = gamma ** HOP;
  const w = new Float32Array(frames);
  for (let t = 0; t < frames; t++) w[t] = (1 - a) * a ** (frames - 1 - t);
  return w;
}

/** Factor applied to the stored EMA of tokens seen in earlier updates: γ^U (float32). */
export function emaOldStateDecay(updateEvery: number, gamma = EMA_COEFF): number {
  if (!Number.isInteger(updateEvery) || updateEvery <= 0) throw new RangeError(`emaOldStateDecay: updateEvery must be a positive integer, got ${updateEvery}`);
  checkGamma(gamma);
  return Math.fround(gamma ** updateEvery);
}

/** First frame that counts for the j-th token new in an update (the frame mask b(k) = ⌊j/16⌋). */
export function firstFrameOfNewToken(j: number): number {
  return Math.floor(j / HOP);
}

/**
 * Closes an update for one head: `ema[k] ← decay · ema[k] + acc[k]` for the first `nOld` rows (tokens seen at
 * earlier updates) and `ema[k] ← acc[k]` for the rest, where `acc` holds the frame-weighted magnitudes of this
 * window (already masked by b(k)). Row width is `bins`. Returns the new raw EMA `[n, bins]` (float32).
 */
export function foldEma(oldEma: Float32Array | null, nOld: number, acc: Float64Array, n: number, bins: number, decay: number): Float32Array {
  if (nOld > n) throw new RangeError(`foldEma: ${nOld} old rows but only ${n} rows in total`);
  if (nOld > 0 && (!oldEma || oldEma.length < nOld * bins)) throw new RangeError('foldEma: the stored EMA has fewer rows than the cache');
  const out = new Float32Array(n * bins);
  const oldLen = nOld * bins;
  for (let i = 0; i < oldLen; i++) out[i] = decay * oldEma![i]! + acc[i]!;
  for (let i = oldLen; i < n * bins; i++) out[i] = acc[i]!;
  return out;
}

function checkGamma(gamma: number): void {
  if (!(gamma > 0 && gamma < 1)) throw new RangeError(`the EMA coefficient must lie in (0, 1), got ${gamma}`);
}
