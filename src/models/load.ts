/**
 * `loadModelFiles(path)`: config, weights under Hugging Face names (float32, or packed matrices with the `weights`
 * option), and the tokenizer, from a HF folder (single or sharded safetensors), a GGUF file, or a llama2.c checkpoint.
 */
import { closeSync, existsSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseHfConfig, readJsonFile, readOptionalJsonObject } from './config.js';
import { readSafetensors } from './safetensors.js';
import { splitPhi3Weights } from './phi3.js';
import { loadHfTokenizer } from './tokenizer.js';
import type { ModelConfig, Tokenizer, WeightMap } from './types.js';
import { convertWeights, isPackableTensor, parseWeightStorage, storedTensor, type WeightStorage } from './pack.js';
import { NAMM_FILE_MAGIC } from '../memory/namm/checkpoint.js';
import { RUN_CHECKPOINT_HINT, RUN_CHECKPOINT_MAGIC } from '../evolve/checkpoint.js';
import { checkArg, checkArgOptions } from '../util/args.js';
import { showValue } from '../util/show.js';

export type ModelFileFormat = 'safetensors' | 'gguf' | 'llama2c';

export interface LoadedModelFiles {
  config: ModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer | null;
  /** The resolved path the model came from, for messages. */
  source: string;
  format: ModelFileFormat;
  /**
   * Matrices converted at load by a converting `weights` storage (q8_0, q4_0, f16, bf16): 0 when the model holds
   * exactly its file's values (f32, packed, or a storage that found nothing to convert).
   */
  converted: number;
}

export interface LoadModelOptions {
  /** llama2.c: the tokenizer.bin to use (default: tokenizer.bin beside the checkpoint, if any). */
  tokenizerPath?: string;
  /**
   * How the weight matrices are held (src/models/pack.ts): 'f32' (default here) widens everything to float32; 'auto'
   * (loadModel's default) and 'packed' keep every F16/BF16/quantised matrix in its file format (all three: the same
   * results); 'q8_0', 'q4_0', 'f16', 'bf16' also convert float32 matrices to that format (lossy). Llama-family models
   * only: others stay float32.
   */
  weights?: WeightStorage;
}

/** Refuses a model path that is not a non-empty string, naming `fn`. */
export function checkModelPath(fn: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.trim() === '') throw new Error(`${fn}: a model path is needed: a Hugging Face folder, a .gguf file or a llama2.c .bin, got ${showValue(path)}`);
}

export async function loadModelFiles(path: string, options: LoadModelOptions = {}): Promise<LoadedModelFiles> {
  checkModelPath('loadModelFiles', path);
  checkArgOptions('loadModelFiles', options, ['weights', 'tokenizerPath']);
  if (options.tokenizerPath !== undefined) checkArg('loadModelFiles', 'options.tokenizerPath', options.tokenizerPath, 'path');
  const weights = options.weights === undefined ? 'f32' : parseWeightStorage(options.weights);
  const source = resolve(path);
  if (!existsSync(source)) throw new Error(`${source}: no such file or folder`);
  const files = await loadFiles(source, weights, options.tokenizerPath);
  // What the loaders did not convert as they read (a llama2.c checkpoint's matrices) is converted now.
  files.converted += convertWeights(files.config, files.weights, weights);
  return files;
}

async function loadFiles(source: string, weights: WeightStorage, tokenizerPath: string | undefined): Promise<LoadedModelFiles> {
  if (statSync(source).isDirectory()) return loadHfFolder(source, undefined, weights);
  if (basename(source).endsWith('.safetensors')) return loadHfFolder(dirname(source), source, weights);
  // A train or evolve run's checkpoint.bin (its magic begins as a .namm file's) was called a policy file.
  if (isRunCheckpointFile(source)) throw new Error(`${source} is ${RUN_CHECKPOINT_HINT}`);
  // A .namm file given where a model goes (`--model policy.namm`) was read as a llama2.c checkpoint, whose header
  // then gave nonsense sizes; it is a memory policy, and the message says where it goes.
  if (isNammPolicyFile(source)) {
    throw new Error(`${source} is a NAMM policy file, not a model: pass it as --memory namm:${source} (the memory spec namm:FILE in the API), and a model folder, .gguf or llama2.c .bin as the model`);
  }
  // A file of a model folder given for the folder (config.json, tokenizer.json) was read as a llama2.c checkpoint
  // whose header gave nonsense sizes.
  if (basename(source).toLowerCase().endsWith('.json')) {
    const folder = dirname(source);
    const hint = existsSync(join(folder, 'config.json')) ? `: pass the folder that holds it (${folder})` : ' (a Hugging Face model is its folder, with config.json)';
    throw new Error(`${source} is a JSON file, not a model${hint}`);
  }
  const { isGgufFile, loadGguf } = await import('./gguf.js');
  // A .gguf file is read as one even when its magic is wrong: a damaged one was described as a llama2.c checkpoint.
  if (isGgufFile(source) || /\.gguf$/i.test(source)) return { ...(await loadGguf(source, weights)), source, format: 'gguf' };
  const { loadLlama2c } = await import('./llama2c.js');
  return { ...(await loadLlama2c(source, tokenizerPath)), source, format: 'llama2c', converted: 0 };
}

/**
 * Whether a file is a NAMM policy (.namm by name, or the NAMM magic in its first bytes): given where a model or a
 * tokenizer goes, it was read as a llama2.c file of nonsense sizes.
 */
export function isNammPolicyFile(path: string): boolean {
  if (basename(path).endsWith('.namm')) return true;
  return startsWith(path, NAMM_FILE_MAGIC) && !startsWith(path, RUN_CHECKPOINT_MAGIC);
}

/** Whether a file is a namm train/evolve run checkpoint (its magic), which is neither a model nor a tokenizer. */
export function isRunCheckpointFile(path: string): boolean {
  return startsWith(path, RUN_CHECKPOINT_MAGIC);
}

/** Whether a file's first bytes are `magic` (latin1). */
function startsWith(path: string, magic: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(magic.length);
    return readSync(fd, b, 0, b.length, 0) === b.length && b.toString('latin1') === magic;
  } finally {
    closeSync(fd);
  }
}

/** Embedding / output-projection names per architecture, for tied weights. */
export function tiedNames(config: ModelConfig): { embed: string; head: string } {
  return config.arch === 'gpt2'
    ? { embed: 'transformer.wte.weight', head: 'lm_head.weight' }
    : { embed: 'model.embed_tokens.weight', head: 'lm_head.weight' };
}

/**
 * When only one of the embedding and the output projection is stored, the model ties them: both names then refer
 * to the same Tensor object (no copy). When both are stored but the config ties them, the embedding serves as both,
 * as in transformers (whose `from_pretrained` ties the weights again after loading, the input embedding winning),
 * and the stored output projection is not kept.
 */
export function tieEmbeddings(config: ModelConfig, weights: WeightMap, source: string): void {
  const { embed, head } = tiedNames(config);
  const e = weights.get(embed), h = weights.get(head);
  if (!e && !h) throw new Error(`${source}: neither "${embed}" nor "${head}" is present; not a ${config.modelType} checkpoint?`);
  if (e && h && e !== h && config.tieEmbeddings) weights.set(head, e);
  if (!e) weights.set(embed, h!);
  if (!h) weights.set(head, e!);
  if (!e || !h) config.tieEmbeddings = true;
}

/**
 * The text model's name of a tensor in a Gemma 3 image-and-text checkpoint, or null for the image tower's and the
 * projector's: `language_model.model.*` (Google's files) or `model.language_model.*` (files saved by transformers
 * 4.52 and later) become `model.*`, and `language_model.lm_head.weight` `lm_head.weight`.
 */
export function gemma3TextName(name: string): string | null {
  for (const prefix of ['language_model.model.', 'model.language_model.']) if (name.startsWith(prefix)) return 'model.' + name.slice(prefix.length);
  if (name === 'language_model.lm_head.weight' || name === 'lm_head.weight') return 'lm_head.weight';
  return null;
}

async function loadHfFolder(dir: string, singleFile: string | undefined, storage: WeightStorage): Promise<LoadedModelFiles> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${dir}: no config.json (a Hugging Face model folder needs one)`);
  const rawConfig = await readJsonFile(configPath);
  const config = parseHfConfig(rawConfig, configPath);
  // A Gemma 3 image-and-text file: its language model's weights under the text model's names, the image tower unread.
  const gemmaText = (rawConfig as { model_type?: unknown }).model_type === 'gemma3' ? gemma3TextName : null;

  const weights: WeightMap = new Map();
  let converted = 0;
  // A tensor stored in two shards is a damaged or mixed-up folder: which copy is meant cannot be told, so it is
  // refused (last-one-wins would run whichever shard happened to be read last). A tied-weight alias from a shard's
  // __metadata__ never replaces a tensor another shard stores.
  const storedIn = new Map<string, string>();
  const aliases: WeightMap = new Map();
  for (const file of singleFile ? [singleFile] : await safetensorsFiles(dir)) {
    const { tensors, metadata } = readSafetensors(
      // Safetensors hold F16/BF16 at most, which every storage but 'f32' keeps packed.
      file, storage === 'f32' ? undefined : (name, shape) => isPackableTensor(config, gemmaText?.(name) ?? name, shape),
      // A converting storage converts each matrix as it is read: the model is never whole in float32.
      (name, t) => { const s = storedTensor(config, gemmaText?.(name) ?? name, t, storage); if (s !== t) converted++; return s; },
      gemmaText ? (name) => gemmaText(name) === null : undefined,
    );
    for (const [stored, t] of tensors) {
      // (A tied-weight alias of the image tower's, which the reader fills in from __metadata__, is not the model's.)
      if (gemmaText && gemmaText(stored) === null) continue;
      const name = gemmaText?.(stored) ?? stored;
      const target = Object.hasOwn(metadata, stored) ? metadata[stored]! : undefined;
      if (target !== undefined && target !== stored && tensors.get(target) === t) { aliases.set(name, t); continue; }
      const prev = storedIn.get(name);
      if (prev !== undefined) throw new Error(`${dir}: tensor "${name}" is stored in both ${basename(prev)} and ${basename(file)}`);
      storedIn.set(name, file);
      weights.set(name, t);
    }
  }
  for (const [name, t] of aliases) if (!weights.has(name)) weights.set(name, t);
  if (config.arch === 'gpt2') normaliseGpt2Names(weights);
  if (config.modelType === 'phi3') splitPhi3Weights(config, weights, dir);
  tieEmbeddings(config, weights, dir);

  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizer = existsSync(tokenizerPath) ? await loadHfTokenizer(tokenizerPath) : null;
  // generation_config.json's end ids (a list, as Llama 3 instruct's) are what a generation stops on, as in transformers'
  // generate: the model's too, not only its tokenizer's (without a tokenizer, a generation from ids ran past them).
  const genPath = join(dir, 'generation_config.json');
  const gen = await readOptionalJsonObject(genPath);
  const genEos = gen ? tokenIdList(gen.eos_token_id, config.vocabSize, genPath, 'eos_token_id') : [];
  if (genEos.length) config.eosTokenIds = genEos;
  if (tokenizer) {
    if (config.bosTokenId === null) config.bosTokenId = tokenizer.bosTokenId;
    if (config.eosTokenIds.length === 0) config.eosTokenIds = [...tokenizer.eosTokenIds];
  } else if (config.bosTokenId === null && gen) {
    config.bosTokenId = tokenIdList(gen.bos_token_id, config.vocabSize, genPath, 'bos_token_id')[0] ?? null;
  }
  return { config, weights, tokenizer, source: dir, format: 'safetensors', converted };
}

/** A generation_config.json id or list of ids (none when absent or null), each a token id of the vocabulary. */
function tokenIdList(v: unknown, vocabSize: number, file: string, key: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  const bad = list.find((x) => !(typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < vocabSize));
  if (bad !== undefined) throw new Error(`${file}: "${key}" must be a token id of the vocabulary (0..${vocabSize - 1}) or a list of them, got ${showValue(bad)}`);
  return [...new Set(list as number[])];
}

/** model.safetensors, or the shards that model.safetensors.index.json lists. */
async function safetensorsFiles(dir: string): Promise<string[]> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) {
    // existsSync is false for a link that leads nowhere (dangling, or a loop): say so rather than "not present".
    for (const f of [single, indexPath]) {
      let link = false;
      try { link = lstatSync(f).isSymbolicLink(); } catch { /* not there at all */ }
      if (link) throw new Error(`${dir}: ${basename(f)} is a symbolic link that leads to no file (a dangling link or a loop)`);
    }
    throw new Error(`${dir}: neither model.safetensors nor model.safetensors.index.json is present`);
  }
  const index = await readJsonFile(indexPath);
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${indexPath}: no "weight_map" object`);
  const files = new Set<string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file === '..') {
      throw new Error(`${indexPath}: weight_map entry for "${name}" must be a file name in the same folder, got ${JSON.stringify(file)}`);
    }
    files.add(file);
  }
  if (files.size === 0) throw new Error(`${indexPath}: weight_map is empty`);
  const paths = [...files].map((f) => join(dir, f));
  for (const p of paths) if (!existsSync(p)) throw new Error(`${indexPath}: shard ${basename(p)} is missing`);
  return paths;
}

/**
 * Original GPT-2 checkpoints store `h.0.attn.c_attn.weight` without the `transformer.` prefix, plus the causal
 * mask buffers `attn.bias` / `attn.masked_bias`, which are not weights.
 */
function normaliseGpt2Names(weights: WeightMap): void {
  for (const [name, t] of [...weights]) {
    if (name.endsWith('.attn.bias') || name.endsWith('.attn.masked_bias')) {
      weights.delete(name);
      continue;
    }
    if (!name.startsWith('transformer.') && !name.startsWith('lm_head.')) {
      weights.delete(name);
      weights.set(`transformer.${name}`, t);
    }
  }
}
