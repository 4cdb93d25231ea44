/**
 * `loadTokenizer(path)`: one entry point for every vocabulary format namm reads — a Hugging Face folder or
 * `tokenizer.json`, a GGUF file's embedded vocabulary, or a llama2.c `tokenizer.bin`.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readJsonFile, readOptionalJsonObject } from './config.js';
import { HfTokenizer } from './tokenizers/hf.js';
import type { Tokenizer } from './types.js';
import { checkArg, checkArgOptions } from '../util/args.js';
import { readTextFile } from '../util/files.js';
import { RUN_CHECKPOINT_HINT } from '../evolve/checkpoint.js';

export { HfTokenizer } from './tokenizers/hf.js';

/**
 * The files of a Hugging Face model folder that describe its tokenizer, read by namm (tokenizer.json and the JSON
 * files and chat_template.jinja beside it) or by transformers (its slow tokenizers' files, chat_template.json). A
 * conversion or an export that writes a new model into a folder replaces each of them or refuses to leave it: left
 * beside the new weights, it made the new model load the old one's chat template or special tokens.
 */
export const HF_TOKENIZER_FILES: readonly string[] = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'chat_template.jinja',
  'chat_template.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json',
];

/** Loads tokenizer.json from `dir` with the bos/eos/chat-template settings of the JSON files beside it. */
export async function loadHfTokenizer(tokenizerJsonPath: string): Promise<HfTokenizer> {
  const dir = dirname(tokenizerJsonPath);
  const [tokenizerJson, tokenizerConfig, modelConfig, generationConfig, specialTokensMap] = await Promise.all([
    readJsonFile(tokenizerJsonPath, 'tokenizer'),
    readOptionalJsonObject(join(dir, 'tokenizer_config.json')),
    readOptionalJsonObject(join(dir, 'config.json')),
    readOptionalJsonObject(join(dir, 'generation_config.json')),
    readOptionalJsonObject(join(dir, 'special_tokens_map.json')),
  ]);
  // The special tokens tokenizer_config.json does not name come from special_tokens_map.json (transformers reads
  // both; where both name one, namm takes tokenizer_config.json's, and transformers' own saves write the same in
  // both), and a chat_template.jinja file (where recent transformers saves the template) is the chat template.
  const config: Record<string, unknown> = { ...(tokenizerConfig ?? {}) };
  for (const [key, v] of Object.entries(specialTokensMap ?? {})) if (key.endsWith('_token') && (config[key] === undefined || config[key] === null)) config[key] = v;
  const jinja = join(dir, 'chat_template.jinja');
  if (existsSync(jinja)) config.chat_template = readTextFile(jinja, 'chat template');
  return new HfTokenizer({ tokenizerJson, tokenizerConfig: config, modelConfig, generationConfig, origin: tokenizerJsonPath });
}

export interface LoadTokenizerOptions {
  /** llama2.c tokenizer.bin only: the model's vocabulary size (the file does not store it). */
  vocabSize?: number;
}

export async function loadTokenizer(path: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  checkArg('loadTokenizer', 'path', path, 'path');
  checkArgOptions('loadTokenizer', options, ['vocabSize']);
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'tokenizer.json'))) return loadHfTokenizer(join(path, 'tokenizer.json'));
    if (existsSync(join(path, 'tokenizer.bin'))) return loadTokenizer(join(path, 'tokenizer.bin'), options);
    throw new Error(`${path}: folder has neither tokenizer.json nor tokenizer.bin`);
  }
  if (basename(path).endsWith('.json')) return loadHfTokenizer(path);
  const { isNammPolicyFile, isRunCheckpointFile } = await import('./load.js');
  if (isRunCheckpointFile(path)) throw new Error(`${path} is not a tokenizer but ${RUN_CHECKPOINT_HINT}`);
  if (isNammPolicyFile(path)) throw new Error(`${path} is a NAMM policy file, not a tokenizer: give the model's folder, tokenizer.json, .gguf or llama2.c tokenizer.bin`);
  const { isGgufFile, loadGgufTokenizer } = await import('./gguf.js');
  if (isGgufFile(path)) return loadGgufTokenizer(path);
  const { loadLlama2cTokenizer } = await import('./llama2c.js');
  return loadLlama2cTokenizer(path, options.vocabSize);
}
