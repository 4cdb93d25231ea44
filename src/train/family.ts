/** Picks the training implementation of a config's architecture family. */
import { validateModelConfig } from '../models/config.js';
import type { ModelConfig } from '../models/types.js';
import { gpt2ParamSpecs, Gpt2TrainModel } from './gpt2-train.js';
import { llamaParamSpecs, LlamaTrainModel } from './llama-train.js';
import type { TrainableModel, TrainInit } from './model.js';
import type { Gemm, Precision } from './ops/types.js';
import { checkArg } from '../util/args.js';

export function createTrainableModel(config: ModelConfig, gemm: Gemm, precision: Precision = 'f32', init: TrainInit = {}): TrainableModel {
  checkArg('createTrainableModel', 'config', config, 'object', 'a model config');
  validateModelConfig(config);
  return config.arch === 'gpt2' ? new Gpt2TrainModel(config, gemm, precision, init) : new LlamaTrainModel(config, gemm, precision, init);
}

/** The number of parameters `createTrainableModel` would allocate for `config`, counted from its tensor list alone. */
export function trainableParamCount(config: ModelConfig): number {
  const specs = config.arch === 'gpt2' ? gpt2ParamSpecs(config) : llamaParamSpecs(config);
  return specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}
