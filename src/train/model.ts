/** What the trainer needs from a model family: forward + backward of one sequence, and HF weight conversion. */
import type { ModelConfig, WeightMap } from '../models/types.js';
import type { LossSum } from './ops/cross-entropy.js';
import type { Vec } from './ops/types.js';
import type { ParamStore } from './params.js';

export interface TrainableModel {
  readonly config: ModelConfig;
  readonly params: ParamStore;
  /**
   * Forward and backward of one sequence of `ids` (positions 0..T−1); targets[t] is the token expected after
   * ids[t], or IGNORE. Parameter gradients are added into `params.grad`, scaled by `gradScale`.
   */
  forwardBackward(ids: Int32Array, targets: Int32Array, gradScale: number): LossSum;
  /** Logits `[T, vocab]` of a forward pass (a view into scratch memory, valid until the next call). */
  logits(ids: Int32Array): Vec;
  /** Loss of a forward pass without gradients. */
  loss(ids: Int32Array, targets: Int32Array): LossSum;
  /** The weights under Hugging Face names and layouts (float32 copies), ready for writeSafetensors. */
  toHfWeights(): WeightMap;
  /** Loads weights given under Hugging Face names and layouts (e.g. to continue training a saved model). */
  loadHfWeights(weights: WeightMap): void;
}

export function checkSequence(ids: Int32Array, targets: Int32Array | null, config: ModelConfig): void {
  if (ids.length === 0) throw new Error('cannot train on an empty sequence');
  if (ids.length > config.maxPositions) throw new Error(`sequence of ${ids.length} tokens exceeds the model's context of ${config.maxPositions}`);
  if (targets && targets.length !== ids.length) throw new Error(`targets (${targets.length}) and ids (${ids.length}) differ in length`);
}

/** Copies `src` into a float32 array (the precision of saved weights). */
export function toF32(src: Vec): Float32Array {
  return src instanceof Float32Array ? src.slice() : Float32Array.from(src);
}

/** Copies a weight into a parameter, checking its shape. */
export function loadInto(dst: Vec, w: WeightMap, name: string, shape: number[]): void {
  const t = w.get(name);
  if (!t) throw new Error(`missing weight "${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`weight "${name}" has shape [${t.shape}] but [${shape}] was expected`);
  }
  dst.set(t.data);
}

/** Position-table init of GPT-2 models: N(0, positionStd²) as GPT-2 (positionStd 0.01), or the sinusoidal encoding of that RMS. */
export type PositionInit = 'normal' | 'sinusoidal';

/** Initialisation choices of a training config (model section): weight std (default 0.02), GPT-2 positions. */
export interface TrainInit {
  std?: number;
  positions?: PositionInit;
  /** RMS of the initial GPT-2 position table (default std / 2). */
  positionStd?: number;
}
