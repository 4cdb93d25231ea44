/**
 * Saves a trained model in Hugging Face layout: config.json (toHfConfig), generation_config.json,
 * model.safetensors (float32) and, when given, tokenizer.json + tokenizer_config.json. `loadModel(dir)` and
 * `namm generate --model dir` read it back; so do other tools that read HF folders.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../evolve/checkpoint.js';
import { toHfConfig } from '../models/config.js';
import { writeSafetensors, type SafetensorsWriteTensor } from '../models/safetensors.js';
import type { ModelConfig } from '../models/types.js';
import type { TrainableModel } from './model.js';
import { makeFolders, writeFileVia } from '../util/files.js';

export function generationConfig(c: ModelConfig, padTokenId: number | null): Record<string, unknown> {
  const eos = c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds;
  return { bos_token_id: c.bosTokenId, eos_token_id: eos, ...(padTokenId !== null ? { pad_token_id: padTokenId } : {}) };
}

/** Writes config.json and generation_config.json (atomically). */
export async function writeModelConfigs(dir: string, config: ModelConfig, padTokenId: number | null): Promise<void> {
  makeFolders(dir, 'model folder');
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(toHfConfig(config), null, 2) + '\n');
  await writeFileAtomic(join(dir, 'generation_config.json'), JSON.stringify(generationConfig(config, padTokenId), null, 2) + '\n');
}

/** Writes model.safetensors through a temp file and a rename (writeFileVia), so a crash never leaves half a file. */
export async function writeModelWeights(dir: string, model: TrainableModel, metadata: Record<string, string> = {}): Promise<void> {
  const tensors = new Map<string, SafetensorsWriteTensor>();
  for (const [name, t] of model.toHfWeights()) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  writeFileVia(join(dir, 'model.safetensors'), (tmp) => writeSafetensors(tmp, tensors, { format: 'pt', ...metadata }));
}

/** The whole folder: configs, weights and (optionally) the tokenizer files. */
export async function saveHfModel(
  dir: string, model: TrainableModel, tokenizer?: { json: unknown; config: unknown }, padTokenId: number | null = null,
): Promise<void> {
  await writeModelConfigs(dir, model.config, padTokenId);
  if (tokenizer) {
    await writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.json));
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizer.config, null, 2) + '\n');
  }
  await writeModelWeights(dir, model);
}
