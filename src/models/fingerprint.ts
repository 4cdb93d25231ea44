/** A model's identity by content, cheap enough to take at every load. */
import { createHash } from 'node:crypto';
import type { ModelConfig, WeightMap } from './types.js';
import { packedValueAt } from '../tensor/packed.js';
import { stableJson } from '../util/stable-json.js';
import { checkArg } from '../util/args.js';

/** Values sampled from each tensor: enough to tell checkpoints apart without hashing gigabytes. */
const SAMPLES_PER_TENSOR = 4096;

/**
 * A fingerprint of a model: its config and, for every weight tensor (sorted by name), its shape and a strided
 * sample of its values. Moving the model folder keeps it; any retraining or re-quantisation changes it.
 */
export function modelFingerprint(config: ModelConfig, weights: WeightMap): string {
  checkArg('modelFingerprint', 'config', config, 'object', 'a model config');
  checkArg('modelFingerprint', 'weights', weights, 'Map', 'a weight Map (name → tensor)');
  const hash = createHash('sha256').update(stableJson(config));
  for (const name of [...weights.keys()].sort()) {
    const t = weights.get(name)!;
    hash.update(`${name}:${t.shape.join('x')};`);
    // A packed tensor is sampled at the same indices, widened: the same file loaded either way is the same model.
    const length = t.packed ? t.packed.length : t.data.length;
    const at = t.packed ? (i: number) => packedValueAt(t.packed!, i) : (i: number) => t.data[i]!;
    const step = Math.max(1, Math.floor(length / SAMPLES_PER_TENSOR));
    const sample = new Float32Array(Math.ceil(length / step));
    for (let i = 0, j = 0; i < length; i += step, j++) sample[j] = at(i);
    hash.update(new Uint8Array(sample.buffer));
  }
  return hash.digest('hex').slice(0, 32);
}
