/** Rotary-embedding frequencies for every supported scaling rule (HF Llama conventions). */
import type { ModelConfig } from './types.js';

/**
 * Inverse frequencies `invFreq[i]`, i < rotaryDim/2, for a forward whose largest position is `seqLen − 1`.
 * Only the 'dynamic' rule depends on seqLen (HF recomputes its base when the sequence outgrows the original context;
 * keys already cached are not re-rotated).
 */
export function ropeInvFreq(c: ModelConfig, seqLen: number): Float32Array {
  const rotaryDim = Math.floor(c.headDim * c.partialRotaryFactor / 2) * 2;
  const half = rotaryDim / 2;
  const s = c.ropeScaling;
  let base = c.ropeTheta;
  if (s.type === 'ntk') base = base * Math.pow(s.alpha * s.factor - (s.alpha - 1), rotaryDim / (rotaryDim - 2));
  if (s.type === 'dynamic' && seqLen > s.originalMaxPositions) {
    base = base * Math.pow((s.factor * seqLen) / s.originalMaxPositions - (s.factor - 1), rotaryDim / (rotaryDim - 2));
  }
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(base, (2 * i) / rotaryDim);
    if (s.type === 'linear') f /= s.factor;
    if (s.type === 'llama3') f = llama3Scale(f, s.factor, s.lowFreqFactor, s.highFreqFactor, s.originalMaxPositions);
    inv[i] = f;
  }
  return inv;
}

/** Llama 3.1 frequency-dependent scaling: long wavelengths divided by `factor`, short kept, a smooth blend between. */
function llama3Scale(f: number, factor: number, low: number, high: number, orig: number): number {
  const wavelen = (2 * Math.PI) / f;
  const lowWavelen = orig / low, highWavelen = orig / high;
  if (wavelen < highWavelen) return f;
  if (wavelen > lowWavelen) return f / factor;
  const smooth = (orig / wavelen - low) / (high - low);
  return (1 - smooth) * (f / factor) + smooth * f;
}
