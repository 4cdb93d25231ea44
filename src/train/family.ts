/** Picks the training implementation of a config's architecture family. */
import type { ModelConfig } from '../models/types.js';
import { Gpt2TrainModel } from './gpt2-train.js';
import { LlamaTrainModel } from './llama-train.js';
import type { TrainableModel, TrainInit } from './model.js';
import type { Gemm, Precision } from './ops/types.js';

export function createTrainableModel(config: ModelConfig, gemm: Gemm, precision: Precision = 'f32', init: TrainInit = {}): TrainableModel {
  return config.arch === 'gpt2' ? new Gpt2TrainModel(config, gemm, precision, init) : new LlamaTrainModel(config, gemm, precision, init);
}
