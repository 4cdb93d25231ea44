/**
 * Saves a trained model in Hugging Face layout: config.json (toHfConfig), generation_config.json,
 * model.safetensors (float32) and, when given, tokenizer.json + tokenizer_config.json. `loadModel(dir)` and
 * `namm generate --model dir` read it back; so do other tools that read HF folders.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../evolve/checkpoint.js';
import { toHfConfig } from '../models/config.js';
import { hfCheckpointWeights } from '../models/phi3.js';
import { HF_TOKENIZER_FILES } from '../models/tokenizer.js';
import { writeSafetensors, type SafetensorsWriteTensor } from '../models/safetensors.js';
import type { ModelConfig } from '../models/types.js';
import type { TrainableModel } from './model.js';
import { makeFolders, writeFileVia, writeTarget } from '../util/files.js';

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
  // Phi-3's config.json reads fused projections (src/models/phi3.ts).
  for (const [name, t] of hfCheckpointWeights(model.config, model.toHfWeights())) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  writeFileVia(join(dir, 'model.safetensors'), (tmp) => writeSafetensors(tmp, tensors, { format: 'pt', ...metadata }));
}

/** What saveHfModel writes, and the tokenizer files it writes when given a tokenizer. */
const MODEL_FILES = ['model.safetensors', 'config.json', 'generation_config.json'];
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

/**
 * The whole folder: configs, weights and (optionally) the tokenizer files. A folder that already holds any of them
 * is refused unless `force`; with `force`, so is one holding tokenizer files this save does not write (all of them
 * without a tokenizer; with one, another model's special_tokens_map.json, chat_template.jinja, slow tokenizer files
 * and the like, HF_TOKENIZER_FILES), which would stay beside the new weights and be loaded with them. Every target
 * is checked before anything is written (a folder or a device where a file goes), and the weights go first, so a
 * failed write leaves the old model's configs with it.
 */
export async function saveHfModel(
  dir: string, model: TrainableModel, tokenizer?: { json: unknown; config: unknown }, padTokenId: number | null = null, options: { force?: boolean } = {},
): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`saveHfModel: dir must be a folder path, got ${dir === '' ? 'an empty string' : typeof dir}`);
  if (typeof model?.toHfWeights !== 'function' || !model.config) throw new TypeError('saveHfModel: model must be a trainable model (createTrainableModel)');
  if (options === null || typeof options !== 'object') throw new TypeError('saveHfModel: options must be an object { force }');
  const files = [...MODEL_FILES, ...(tokenizer ? TOKENIZER_FILES : [])];
  if (existsSync(dir)) {
    for (const f of files) writeTarget(join(dir, f));
    const held = [...new Set([...MODEL_FILES, ...HF_TOKENIZER_FILES])].filter((f) => existsSync(join(dir, f)));
    const stale = held.filter((f) => !files.includes(f));
    // First: force cannot help there (it advised { force: true }, which then refused them).
    if (stale.length > 0) {
      throw new Error(tokenizer
        ? `saveHfModel: ${dir} holds ${stale.join(', ')} of another model, which this save does not write (they would be read with the new model's tokenizer); remove them`
        : `saveHfModel: ${dir} holds ${stale.join(', ')} of another model, and no tokenizer is given to replace them; remove them or pass the tokenizer`);
    }
    if (held.length > 0 && !options.force) throw new Error(`saveHfModel: ${dir} already holds ${held.join(', ')}; pass { force: true } to overwrite`);
  }
  makeFolders(dir, 'model folder');
  await writeModelWeights(dir, model);
  await writeModelConfigs(dir, model.config, padTokenId);
  if (tokenizer) {
    await writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.json));
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizer.config, null, 2) + '\n');
  }
}
