/**
 * llama2.c checkpoints (Karpathy's legacy `.bin`, version 0): seven int32 header fields — dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size (negative = separate classifier), seq_len — then float32 weights in
 * run.c's order. Its q/k rows are in Meta's interleaved RoPE pair layout, so the config says 'interleaved'.
 * Also its `tokenizer.bin`: int32 max_token_length, then per token a float32 score, an int32 length and the bytes.
 */
import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readExactly } from './safetensors.js';
import { SpmTokenizer } from './tokenizers/spm.js';
import type { ModelConfig, Tensor, WeightMap } from './types.js';
import { MiB, readFileLimited } from '../util/files.js';
import { checkArg } from '../util/args.js';

const HEADER_BYTES = 28;
/** llama2.c's newer export versions start with this magic ("ak42" little-endian); they are a different layout. */
const VERSIONED_MAGIC = 0x616b3432;

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  sharedClassifier: boolean;
  seqLen: number;
}

export function parseLlama2cHeader(bytes: Uint8Array, fileSize: number, file: string): Llama2cHeader {
  if (fileSize < HEADER_BYTES) throw new Error(`${file}: too short for a llama2.c checkpoint (${fileSize} bytes < ${HEADER_BYTES}-byte header)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  if (v.getUint32(0, true) === VERSIONED_MAGIC) {
    throw new Error(`${file}: llama2.c versioned export (magic "ak42") is not supported; export with the legacy format (version 0)`);
  }
  const f = Array.from({ length: 7 }, (_, i) => v.getInt32(4 * i, true));
  const names = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'];
  f.forEach((x, i) => {
    if (i !== 5 && x <= 0) throw new Error(`${file}: header field ${names[i]} must be positive, got ${x} (is this a llama2.c checkpoint?)`);
  });
  // Any other file read as this header gives numbers far outside every model's sizes (a text file's first bytes
  // read as dim 1,634,607,139); say so rather than report one of them as a shape inconsistency.
  const limits = [1 << 16, 1 << 18, 1 << 10, 1 << 12, 1 << 12, 1 << 22, 1 << 22];
  if (f.some((x, i) => Math.abs(x) > limits[i]!)) {
    throw new Error(`${file}: not a llama2.c checkpoint: its header reads ${f.map((x, i) => `${names[i]} ${x}`).join(', ')}, beyond any model's sizes (limits: ${limits.map((x, i) => `${names[i]} ${x}`).join(', ')})`);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = f as [number, number, number, number, number, number, number];
  if (vocab === 0) throw new Error(`${file}: header field vocab_size is 0`);
  if (dim % nHeads !== 0) throw new Error(`${file}: n_heads (${nHeads}) does not divide dim (${dim})`);
  if (nHeads % nKvHeads !== 0) throw new Error(`${file}: n_kv_heads (${nKvHeads}) does not divide n_heads (${nHeads})`);
  if ((dim / nHeads) % 2 !== 0) throw new Error(`${file}: head size ${dim / nHeads} must be even for RoPE`);
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), sharedClassifier: vocab > 0, seqLen };
}

/** Tensors in file order: [HF name or null (skipped RoPE tables), shape]. Weights are [out, in] as run.c reads them. */
function layout(h: Llama2cHeader): [string | null, number[]][] {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const per = (name: string, shape: number[]): [string, number[]][] =>
    Array.from({ length: h.nLayers }, (_, l) => [`model.layers.${l}.${name}`, shape] as [string, number[]]);
  return [
    ['model.embed_tokens.weight', [h.vocabSize, h.dim]],
    ...per('input_layernorm.weight', [h.dim]),
    ...per('self_attn.q_proj.weight', [h.dim, h.dim]),
    ...per('self_attn.k_proj.weight', [kvDim, h.dim]),
    ...per('self_attn.v_proj.weight', [kvDim, h.dim]),
    ...per('self_attn.o_proj.weight', [h.dim, h.dim]),
    ...per('post_attention_layernorm.weight', [h.dim]),
    ...per('mlp.gate_proj.weight', [h.hiddenDim, h.dim]),
    ...per('mlp.down_proj.weight', [h.dim, h.hiddenDim]),
    ...per('mlp.up_proj.weight', [h.hiddenDim, h.dim]),
    ['model.norm.weight', [h.dim]],
    [null, [h.seqLen, headSize / 2]], // freq_cis_real (unused: RoPE is computed)
    [null, [h.seqLen, headSize / 2]], // freq_cis_imag
    ...(h.sharedClassifier ? [] : [['lm_head.weight', [h.vocabSize, h.dim]] as [string, number[]]]),
  ];
}

/** Float count of a checkpoint: the sum of layout()'s shapes, without building it. */
function floatCount(h: Llama2cHeader): number {
  const { dim: d, hiddenDim: f, nLayers: l, vocabSize: v, seqLen: s } = h;
  const kv = (h.nKvHeads * d) / h.nHeads;
  const perLayer = 2 * d + 2 * d * d + 2 * kv * d + 3 * f * d;
  return v * d + l * perLayer + d + s * (d / h.nHeads) + (h.sharedClassifier ? 0 : v * d);
}

export function llama2cConfig(h: Llama2cHeader): ModelConfig {
  return {
    arch: 'llama', modelType: 'llama2c', vocabSize: h.vocabSize, hiddenSize: h.dim, nLayers: h.nLayers, nHeads: h.nHeads,
    nKvHeads: h.nKvHeads, headDim: h.dim / h.nHeads, intermediateSize: h.hiddenDim, maxPositions: h.seqLen,
    normEps: 1e-5, ropeTheta: 10000, ropeScaling: { type: 'none' }, ropeLayout: 'interleaved', partialRotaryFactor: 1,
    attnQkvBias: false, attnOutBias: false, mlpBias: false, activation: 'silu', tieEmbeddings: h.sharedClassifier,
    bosTokenId: 1, eosTokenIds: [2],
  };
}

export async function loadLlama2c(file: string, tokenizerPath?: string): Promise<{ config: ModelConfig; weights: WeightMap; tokenizer: SpmTokenizer | null }> {
  checkArg('loadLlama2c', 'file', file, 'path');
  if (tokenizerPath !== undefined) checkArg('loadLlama2c', 'tokenizerPath', tokenizerPath, 'path');
  const fd = openSync(file, 'r');
  let config: ModelConfig;
  const weights: WeightMap = new Map();
  try {
    const fileSize = fstatSync(fd).size;
    const header = parseLlama2cHeader(readExactly(fd, 0, Math.min(HEADER_BYTES, fileSize), file), fileSize, file);
    // Sizes first, by arithmetic, so a bogus header cannot make us build a huge layout list.
    const expected = HEADER_BYTES + 4 * floatCount(header);
    if (fileSize !== expected) {
      throw new Error(`${file}: header (dim ${header.dim}, hidden ${header.hiddenDim}, layers ${header.nLayers}, vocab ${header.vocabSize}, seq_len ${header.seqLen}) implies ${expected} bytes but the file has ${fileSize}`);
    }
    let offset = HEADER_BYTES;
    for (const [name, shape] of layout(header)) {
      const count = shape.reduce((a, b) => a * b, 1);
      if (name) {
        const data = new Float32Array(count);
        readExactly(fd, offset, 4 * count, file, new Uint8Array(data.buffer));
        weights.set(name, { shape, data } satisfies Tensor);
      }
      offset += 4 * count;
    }
    if (header.sharedClassifier) weights.set('lm_head.weight', weights.get('model.embed_tokens.weight')!);
    config = llama2cConfig(header);
  } finally {
    closeSync(fd);
  }
  const tokPath = tokenizerPath ?? join(dirname(file), 'tokenizer.bin');
  const tokenizer = tokenizerPath || existsSync(tokPath) ? await loadLlama2cTokenizer(tokPath, config.vocabSize) : null;
  return { config, weights, tokenizer };
}

/**
 * Reads a llama2.c tokenizer.bin. The file does not store the vocabulary size: pass the model's, or omit it to read
 * entries until the end of the file.
 */
export async function loadLlama2cTokenizer(file: string, vocabSize?: number): Promise<SpmTokenizer> {
  checkArg('loadLlama2cTokenizer', 'file', file, 'path');
  const buf = readFileLimited(file, 64 * MiB, 'llama2.c tokenizer.bin');
  if (buf.length < 4) throw new Error(`${file}: too short for a llama2.c tokenizer.bin`);
  const maxLen = buf.readInt32LE(0);
  if (maxLen <= 0 || maxLen > 1 << 16) throw new Error(`${file}: max_token_length ${maxLen} is not plausible; not a llama2.c tokenizer.bin?`);
  const tokens: string[] = [];
  const scores: number[] = [];
  let o = 4;
  while (vocabSize === undefined ? o < buf.length : tokens.length < vocabSize) {
    if (o + 8 > buf.length) throw new Error(`${file}: truncated at token ${tokens.length} (expected ${vocabSize ?? 'more'} tokens)`);
    const score = buf.readFloatLE(o);
    const len = buf.readInt32LE(o + 4);
    o += 8;
    if (len < 0 || len > maxLen) throw new Error(`${file}: token ${tokens.length} has length ${len} (max_token_length ${maxLen})`);
    if (o + len > buf.length) throw new Error(`${file}: token ${tokens.length} runs past the end of the file`);
    if (Number.isNaN(score)) throw new Error(`${file}: token ${tokens.length} has a NaN score`);
    tokens.push(buf.toString('utf8', o, o + len));
    scores.push(score);
    o += len;
  }
  if (vocabSize !== undefined && o !== buf.length) {
    throw new Error(`${file}: ${buf.length - o} bytes left after ${vocabSize} tokens; the tokenizer does not match the model's vocabulary size`);
  }
  // llama2.c convention: 0 <unk>, 1 BOS, 2 EOS, 3..258 the byte tokens <0x00>..<0xFF>.
  return new SpmTokenizer({
    tokens, scores, bosTokenId: tokens.length > 1 ? 1 : null, eosTokenIds: tokens.length > 2 ? [2] : [],
    unkTokenId: 0, spaceSymbol: ' ', addSpacePrefix: true, addBosByDefault: true, origin: file,
  });
}

/** Writes a llama2.c tokenizer.bin (used by tests and by converters). */
export function encodeLlama2cTokenizer(tokens: string[], scores: ArrayLike<number>): Buffer {
  const bodies = tokens.map((t) => Buffer.from(t, 'utf8'));
  const maxLen = Math.max(1, ...bodies.map((b) => b.length));
  const out = Buffer.alloc(4 + bodies.reduce((a, b) => a + 8 + b.length, 0));
  out.writeInt32LE(maxLen, 0);
  let o = 4;
  bodies.forEach((b, i) => {
    out.writeFloatLE(scores[i]!, o);
    out.writeInt32LE(b.length, o + 4);
    b.copy(out, o + 8);
    o += 8 + b.length;
  });
  return out;
}

/** Writes a legacy llama2.c checkpoint from HF-named weights in the interleaved RoPE layout (tests, converters). */
export function encodeLlama2cCheckpoint(config: ModelConfig, weights: WeightMap): Buffer {
  if (config.arch !== 'llama' || config.ropeLayout !== 'interleaved') throw new Error('llama2.c checkpoints need a llama model in the interleaved RoPE layout');
  const header: Llama2cHeader = {
    dim: config.hiddenSize, hiddenDim: config.intermediateSize, nLayers: config.nLayers, nHeads: config.nHeads,
    nKvHeads: config.nKvHeads, vocabSize: config.vocabSize, sharedClassifier: config.tieEmbeddings, seqLen: config.maxPositions,
  };
  const tensors = layout(header);
  const parts: Buffer[] = [];
  const h = Buffer.alloc(HEADER_BYTES);
  [header.dim, header.hiddenDim, header.nLayers, header.nHeads, header.nKvHeads,
    header.sharedClassifier ? header.vocabSize : -header.vocabSize, header.seqLen].forEach((x, i) => h.writeInt32LE(x, 4 * i));
  parts.push(h);
  for (const [name, shape] of tensors) {
    const count = shape.reduce((a, b) => a * b, 1);
    const t = name ? weights.get(name) : undefined;
    if (name && (!t || t.data.length !== count)) throw new Error(`llama2.c export: tensor ${name} is missing or not of shape ${JSON.stringify(shape)}`);
    // The legacy RoPE tables: run.c skips them and computes RoPE itself, so zeros keep the layout without meaning.
    const data = t ? t.data : new Float32Array(count);
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  return Buffer.concat(parts);
}
