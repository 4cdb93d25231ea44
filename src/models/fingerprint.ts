/** A model's identity by content, cheap enough to take at every load. */
import { createHash } from 'node:crypto';
import type { ModelConfig, Tokenizer, WeightMap } from './types.js';
import { HfTokenizer } from './tokenizers/hf.js';
import { SpmTokenizer } from './tokenizers/spm.js';
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

/** The tokenizer_config.json keys that change what a tokenizer does (namm's, or the tokenizer library's). */
const TOKENIZER_CONFIG_KEYS = ['chat_template', 'bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token',
  'clean_up_tokenization_spaces', 'add_bos_token', 'add_eos_token', 'legacy', 'add_prefix_space', 'do_lower_case', 'added_tokens_decoder'];

/** Texts every tokenizer is asked to encode for its fingerprint: spaces, digits, punctuation, accents, CJK, emoji. */
const PROBE_TEXTS = ['Hello, world! 12 345 6789.', '  two  spaces\tand\nlines  ', "l'été à Zürich — ΟΔΟΣ", '中文 日本語 한국어 😀', 'a'];
const PROBE_CHAT = [{ role: 'user', content: 'What is 2 + 2?' }, { role: 'assistant', content: 'Four.' }, { role: 'user', content: 'Thanks.' }];

/**
 * A fingerprint of a tokenizer: what it was built from (a tokenizer.json with the tokenizer_config keys that act on
 * it, chat template included; a SentencePiece vocabulary), its BOS and end ids, how it encodes a few probe texts
 * (with and without BOS) and how its chat template renders a probe conversation. Files moved keep it; another template, another BOS rule or
 * another vocabulary changes it. (The model's fingerprint covers config.json and the weights, not these.)
 */
export function tokenizerFingerprint(t: Tokenizer): string {
  checkArg('tokenizerFingerprint', 't', t, 'tokenizer');
  const hash = createHash('sha256');
  if (t instanceof HfTokenizer) {
    // Of tokenizer_config, what the tokenizer reads (an edited model_max_length is the same tokenizer).
    const config = Object.fromEntries(TOKENIZER_CONFIG_KEYS.filter((k) => Object.hasOwn(t.tokenizerConfig, k)).map((k) => [k, t.tokenizerConfig[k]]));
    hash.update(stableJson({ json: t.json, config }));
  } else if (t instanceof SpmTokenizer) {
    const { origin: _origin, scores, types, ...rest } = t.vocab;
    hash.update(stableJson({ ...rest, scores: Array.from(scores), types: types ? Array.from(types) : null }));
  }
  hash.update(stableJson({ kind: t.constructor.name, vocabSize: t.vocabSize, bos: t.bosTokenId, eos: t.eosTokenIds, cleansUpSpaces: t.cleansUpSpaces ?? null }));
  for (const text of PROBE_TEXTS) hash.update(JSON.stringify([t.encode(text), t.encode(text, { addBos: false })]));
  if (t.applyChatTemplate) {
    let rendered: string;
    try { rendered = t.applyChatTemplate(PROBE_CHAT); } catch (err) { rendered = `error: ${(err as Error).message}`; }
    hash.update(rendered);
  }
  return hash.digest('hex').slice(0, 32);
}
