/**
 * GGUF v2/v3 (llama.cpp's model file, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): a header with
 * typed metadata key/values and tensor infos, then tensor data at `general.alignment`. The reader maps llama.cpp's
 * tensor names and metadata back to Hugging Face names and a ModelConfig; the writer does the reverse, laying
 * tensors out the way llama.cpp's own converter does so llama.cpp can read our files.
 *
 * Layout notes. GGUF lists dims innermost first (ne[0] = columns), so an HF `[out, in]` weight has ne = [in, out];
 * the bytes are the same row-major data. llama.cpp's converter permutes the rows of Llama q/k projections so that
 * RoPE rotates interleaved pairs (2i, 2i+1): the reader keeps them as stored and says `ropeLayout: 'interleaved'`,
 * the writer applies that permutation to 'half'-layout models. GPT-2's Conv1D weights are stored transposed
 * ([out, in]) in GGUF; the reader transposes them back to HF's Conv1D `[in, out]`.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { getBackend } from '../tensor/index.js';
import { longRopeAttentionFactor, parseRopeScaling, ropeScalingToHf, yarnMscale } from './config.js';
import { llama3FromDivisors, ropeFrequencyDivisors, rotaryPairs } from './rope.js';
import { tieEmbeddings } from './load.js';
import { fusePhi3Weights, isPhi3Checkpoint, splitPhi3Weights } from './phi3.js';
import { isPackableTensor, keepsPacked, packedTensor, quantizeQ4_0, storedTensor, type WeightStorage } from './pack.js';
import { PackedMatrix, unpackRows, type PackedFormat } from '../tensor/packed.js';
import { f32ToF16 as f32ToF16Bits, readExactly } from './safetensors.js';
import { ggufEosEntries, ggufEosTokenIds, ggufTokenizerFromMetadata, ggufVocabularyMetadata } from './tokenizers/gguf-vocab.js';
import type { ModelConfig, RopeScaling, Tensor, Tokenizer, WeightMap } from './types.js';
import { argError, checkArg } from '../util/args.js';
import { writeAllSync, writeFileVia } from '../util/files.js';

// ---------------------------------------------------------------- container types

export const GgufValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
  UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
const FIXED_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** A metadata value; 64-bit integers are bigints; typed entries remember their type for writing. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufValue[];
/** A metadata entry with its declared type (arrays also carry the element type). */
export interface GgufEntry { type: number; value: GgufValue; elementType?: number }
export type GgufMetadata = Map<string, GgufEntry>;

/** ggml tensor types this project reads (and, for F32/F16/Q8_0, writes). */
export const GgmlType = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, IQ4_NL: 20,
  IQ4_XS: 23, BF16: 30,
} as const;
const GGML_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K',
  13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
};
/** [values per block, bytes per block]. */
const BLOCK: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 10: [256, 84], 11: [256, 110],
  12: [256, 144], 13: [256, 176], 14: [256, 210], 20: [32, 18], 23: [256, 136], 30: [1, 2],
};
/** The types read, for error messages. */
const SUPPORTED_TYPES = 'F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS';

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: number;
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface GgufHeader {
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  alignment: number;
  dataStart: number;
}

const MAGIC = 0x46554747; // "GGUF" little-endian

/** True when the file starts with the GGUF magic. */
export function isGgufFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(4);
    return readSync(fd, b, 0, 4, 0) === 4 && new DataView(b.buffer).getUint32(0, true) === MAGIC;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- reading

/**
 * The most array entries the metadata may hold in all. Each entry becomes a JavaScript value, so a damaged count
 * that a large file could still back (500 M int32s in a 2 GB file) ended the process out of memory rather than with
 * an error; a real file's vocabulary (tokens, scores, types and merges) is a few hundred thousand entries per array.
 */
export const GGUF_MAX_ARRAY_ENTRIES = 1 << 25;

/** Sequential reads over a file through a window, checking every length against the bytes that remain. */
class Cursor {
  pos = 0;
  /** Array entries read so far (GGUF_MAX_ARRAY_ENTRIES in all). */
  private entries = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;

  constructor(private readonly fd: number, readonly size: number, private readonly file: string) {}

  remaining(): number { return this.size - this.pos; }

  private need(n: number, what: string): number {
    if (n > this.size - this.pos) throw new Error(`${this.file}: unexpected end of file reading ${what} at offset ${this.pos} (truncated?)`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.buf = readExactly(this.fd, this.pos, len, this.file);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  /** A DataView over the next n bytes (need() runs first, so the view is of the refreshed window). */
  private at(n: number, what: string): DataView {
    const offset = this.need(n, what);
    return new DataView(this.buf.buffer, this.buf.byteOffset + offset, n);
  }

  u32(what: string): number { return this.at(4, what).getUint32(0, true); }
  u64(what: string): bigint { return this.at(8, what).getBigUint64(0, true); }
  /** A u64 count or size that must fit a safe integer and be at most `max`. */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) throw new Error(`${this.file}: ${what} ${v} exceeds what the file can hold (${max})`);
    return Number(v);
  }
  string(what: string): string {
    const len = this.count(`${what} length`, this.remaining() - 8);
    const at = this.need(len, what);
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + at, len).toString('utf8');
  }
  scalar(type: number, what: string): GgufScalar {
    switch (type) {
      case 0: return this.at(1, what).getUint8(0);
      case 1: return this.at(1, what).getInt8(0);
      case 2: return this.at(2, what).getUint16(0, true);
      case 3: return this.at(2, what).getInt16(0, true);
      case 4: return this.at(4, what).getUint32(0, true);
      case 5: return this.at(4, what).getInt32(0, true);
      case 6: return this.at(4, what).getFloat32(0, true);
      case 7: {
        const b = this.at(1, what).getUint8(0);
        if (b > 1) throw new Error(`${this.file}: ${what} is a bool with value ${b}`);
        return b === 1;
      }
      case 8: return this.string(what);
      case 10: return this.at(8, what).getBigUint64(0, true);
      case 11: return this.at(8, what).getBigInt64(0, true);
      case 12: return this.at(8, what).getFloat64(0, true);
      default: throw new Error(`${this.file}: ${what} has unknown value type ${type}`);
    }
  }
  value(type: number, what: string, depth = 0): GgufEntry {
    if (type !== GgufValueType.ARRAY) return { type, value: this.scalar(type, what) };
    if (depth > 4) throw new Error(`${this.file}: ${what} nests arrays too deeply`);
    const elementType = this.u32(`${what} element type`);
    const minSize = elementType === GgufValueType.STRING ? 8 : elementType === GgufValueType.ARRAY ? 12 : FIXED_SIZE[elementType];
    if (minSize === undefined) throw new Error(`${this.file}: ${what} has unknown array element type ${elementType}`);
    const n = this.count(`${what} array length`, Math.floor((this.remaining() - 8) / minSize));
    this.entries += n;
    if (this.entries > GGUF_MAX_ARRAY_ENTRIES) {
      throw new Error(`${this.file}: ${what} has ${n} array entries, past the ${GGUF_MAX_ARRAY_ENTRIES} that namm reads from a file's metadata in all (a damaged count?)`);
    }
    const out: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(elementType, what, depth + 1).value;
    return { type, value: out, elementType };
  }
}

/** A metadata key for an error message: JSON-quoted (control characters escaped), cut to 64 characters. */
function quoteKey(key: string): string {
  const q = JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key);
  return q.replace(/[\u007f-\u009f\ufffd]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses and validates the header of an open GGUF file. */
export function readGgufHeader(fd: number, file: string): GgufHeader {
  checkArg('readGgufHeader', 'fd', fd, 'count', 'an open file descriptor (an integer: openSync(path) gives one)');
  checkArg('readGgufHeader', 'file', file, 'string', 'a string (the file name, for messages)');
  const size = fstatSync(fd).size;
  const c = new Cursor(fd, size, file);
  if (size >= 4 && c.u32('magic') !== MAGIC) throw new Error(`${file}: not a GGUF file (bad magic)`);
  // Magic, version and the two counts: a shorter file read as counts that "exceed what the file can hold (-1)".
  if (size < 24) throw new Error(`${file}: too short for a GGUF file (${size} bytes; its header alone takes 24)`);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} is not supported (2 and 3 are)`);
  // Each tensor info is at least 8 (name) + 4 (n_dims) + 4 (type) + 8 (offset) bytes; each KV at least 8 + 4 + 1.
  const nTensors = c.count('tensor count', Math.floor((size - 24) / 24));
  const nKv = c.count('metadata count', Math.floor((size - 24) / 13));
  const metadata: GgufMetadata = new Map();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key #${i}`);
    // A damaged file can hold any bytes as a key: quote it short and printable in messages.
    const shown = `metadata key #${i} ${quoteKey(key)}`;
    const type = c.u32(`type of ${shown}`);
    if (metadata.has(key)) throw new Error(`${file}: duplicate ${shown}`);
    metadata.set(key, c.value(type, shown));
  }
  let alignment = 32;
  const al = metadata.get('general.alignment');
  if (al) {
    const a = Number(al.value);
    // At most 2³¹ (llama.cpp keeps it in 32 bits), which also keeps the bit test exact: `&` reads its operands as
    // int32, so any multiple of 2³² passed it.
    if (typeof al.value !== 'number' && typeof al.value !== 'bigint' || !Number.isInteger(a) || a <= 0 || a > 2 ** 31 || (a & (a - 1)) !== 0) {
      throw new Error(`${file}: general.alignment must be a power of two from 1 to 2^31, got ${String(al.value)}`);
    }
    alignment = a;
  }
  const infos: { name: string; dims: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor #${i} name`);
    // ggml's names hold at most 63 bytes: a longer one is a damaged length (it read a quarter megabyte of the header
    // and tensor data as the name, control bytes included, into the message). Quoted and cut in every message.
    if (Buffer.byteLength(name) > 255) throw new Error(`${file}: tensor #${i}'s name is ${Buffer.byteLength(name)} bytes long (ggml allows 63), starting ${quoteKey(name)}: the file is damaged`);
    const shown = quoteKey(name);
    const nDims = c.u32(`tensor ${shown} n_dims`);
    if (nDims < 1 || nDims > 4) throw new Error(`${file}: tensor ${shown} has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const v = c.u64(`tensor ${shown} dim ${d}`);
      if (v === 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${file}: tensor ${shown} has an invalid dimension ${v}`);
      dims.push(Number(v));
    }
    const type = c.u32(`tensor ${shown} type`);
    const offset = c.count(`tensor ${shown} offset`, Number.MAX_SAFE_INTEGER);
    infos.push({ name, dims, type, offset });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  const dataSize = size - dataStart;
  const tensors: GgufTensorInfo[] = [];
  const seen = new Set<string>();
  for (const { name, dims, type, offset } of infos) {
    const shown = quoteKey(name);
    if (seen.has(name)) throw new Error(`${file}: duplicate tensor name ${shown}`);
    seen.add(name);
    const block = BLOCK[type];
    if (!block) {
      const known = GGML_NAMES[type];
      throw new Error(`${file}: tensor ${shown} has type ${known ?? `#${type}`}, which is ${known ? 'not supported' : 'unknown'} (${SUPPORTED_TYPES} are)`);
    }
    if (dims[0]! % block[0] !== 0) throw new Error(`${file}: tensor ${shown} row length ${dims[0]} is not a multiple of the ${GGML_NAMES[type]} block size ${block[0]}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(count)) throw new Error(`${file}: tensor ${shown} has too many elements`);
    const bytes = (count / block[0]) * block[1];
    if (offset % alignment !== 0) throw new Error(`${file}: tensor ${shown} offset ${offset} is not a multiple of the alignment ${alignment}`);
    if (offset + bytes > dataSize) throw new Error(`${file}: tensor ${shown} (${bytes} bytes at data offset ${offset}) runs past the end of the file; truncated?`);
    tensors.push({ name, dims, type, begin: dataStart + offset, end: dataStart + offset + bytes });
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end) throw new Error(`${file}: tensors "${sorted[i - 1]!.name}" and "${sorted[i]!.name}" overlap`);
  }
  return { version, metadata, tensors, alignment, dataStart };
}

/** Q4_0: per block of 32, an f16 scale d and 16 bytes; value j = d·((q[j] & 15) − 8), value j+16 = d·((q[j] >> 4) − 8). */
export function q4_0ToF32(src: Uint8Array, dst: Float32Array, n: number): void {
  // The packed widening's (src/tensor/packed.ts), over the n values as one row.
  unpackRows(new PackedMatrix('q4_0', 1, n, src.subarray(0, (n / 32) * 18)), 0, 1, dst);
}

/** The packed format a ggml type stays in (src/tensor/packed.ts). */
const PACKED_TYPE: Partial<Record<number, PackedFormat>> = {
  [GgmlType.F16]: 'f16', [GgmlType.BF16]: 'bf16', [GgmlType.Q8_0]: 'q8_0', [GgmlType.Q4_0]: 'q4_0',
  [GgmlType.Q4_K]: 'q4_k', [GgmlType.Q5_K]: 'q5_k', [GgmlType.Q6_K]: 'q6_k',
  [GgmlType.Q4_1]: 'q4_1', [GgmlType.Q5_0]: 'q5_0', [GgmlType.Q5_1]: 'q5_1',
  [GgmlType.Q2_K]: 'q2_k', [GgmlType.Q3_K]: 'q3_k', [GgmlType.IQ4_XS]: 'iq4_xs', [GgmlType.IQ4_NL]: 'iq4_nl',
};

/**
 * Reads one tensor as float32, shaped in HF order (outermost first), values exactly as stored; with `keepPacked`,
 * a 2-D tensor of a packed format (F16, BF16 or a ggml quantisation) stays packed (its bytes as stored: ggml rows
 * are HF rows).
 */
export function readGgufTensor(fd: number, info: GgufTensorInfo, file: string, keepPacked = false): Tensor {
  const count = info.dims.reduce((a, b) => a * b, 1);
  const format = PACKED_TYPE[info.type];
  if (keepPacked && format && info.dims.length === 2) {
    const raw = readExactly(fd, info.begin, info.end - info.begin, file);
    return packedTensor(info.name, new PackedMatrix(format, info.dims[1]!, info.dims[0]!, raw));
  }
  const data = new Float32Array(count);
  const bytes = info.end - info.begin;
  const backend = getBackend();
  if (info.type === GgmlType.F32) {
    readExactly(fd, info.begin, bytes, file, new Uint8Array(data.buffer));
  } else if (info.type === GgmlType.F16 || info.type === GgmlType.BF16) {
    const half = new Uint16Array(count);
    readExactly(fd, info.begin, bytes, file, new Uint8Array(half.buffer));
    if (info.type === GgmlType.F16) backend.f16ToF32(half, data, count);
    else backend.bf16ToF32(half, data, count);
  } else {
    const raw = readExactly(fd, info.begin, bytes, file);
    if (info.type === GgmlType.Q8_0) backend.q8_0ToF32(raw, data, count);
    else if (info.type === GgmlType.Q4_0) q4_0ToF32(raw, data, count);
    else {
      // Other block formats: widened row by row exactly as the packed kernels widen them (src/tensor/packed.ts).
      const rows = count / info.dims[0]!;
      unpackRows(new PackedMatrix(format!, rows, info.dims[0]!, raw), 0, rows, data);
    }
  }
  return { shape: [...info.dims].reverse(), data };
}

// ---------------------------------------------------------------- names and layouts

const LLAMA_LAYER_NAMES: [string, string][] = [
  ['attn_norm', 'input_layernorm'], ['attn_q', 'self_attn.q_proj'], ['attn_k', 'self_attn.k_proj'],
  ['attn_v', 'self_attn.v_proj'], ['attn_output', 'self_attn.o_proj'], ['ffn_norm', 'post_attention_layernorm'],
  ['ffn_gate', 'mlp.gate_proj'], ['ffn_up', 'mlp.up_proj'], ['ffn_down', 'mlp.down_proj'],
  // Qwen3's per-head q/k norms (llama.cpp's qwen3 architecture; a model without them refuses them, see loadGguf)
  ['attn_q_norm', 'self_attn.q_norm'], ['attn_k_norm', 'self_attn.k_norm'],
];
const GPT2_LAYER_NAMES: [string, string][] = [
  ['attn_norm', 'ln_1'], ['attn_qkv', 'attn.c_attn'], ['attn_output', 'attn.c_proj'], ['ffn_norm', 'ln_2'],
  ['ffn_up', 'mlp.c_fc'], ['ffn_down', 'mlp.c_proj'],
];
const GLOBAL_NAMES: Record<'llama' | 'gpt2', [string, string][]> = {
  llama: [['token_embd', 'model.embed_tokens'], ['output_norm', 'model.norm'], ['output', 'lm_head']],
  gpt2: [['token_embd', 'transformer.wte'], ['position_embd', 'transformer.wpe'], ['output_norm', 'transformer.ln_f'], ['output', 'lm_head']],
};
/** GPT-2 Conv1D weights, stored [in, out] by HF and transposed to [out, in] by llama.cpp's converter. */
const GPT2_CONV1D = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** GGUF tensor name → HF name (null when it has no HF counterpart). */
export function ggufToHfName(name: string, arch: 'llama' | 'gpt2'): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const [, stem, kind] = m as unknown as [string, string, string];
  for (const [g, h] of GLOBAL_NAMES[arch]) if (stem === g) return `${h}.${kind}`;
  const layer = /^blk\.(\d+)\.(.+)$/.exec(stem);
  if (!layer) return null;
  for (const [g, h] of arch === 'gpt2' ? GPT2_LAYER_NAMES : LLAMA_LAYER_NAMES) {
    if (layer[2] === g) return `${arch === 'gpt2' ? 'transformer.h' : 'model.layers'}.${layer[1]}.${h}.${kind}`;
  }
  return null;
}

/**
 * A phi3 file's tensor name → HF name: llama.cpp's fused `attn_qkv` is Phi-3's `qkv_proj`, and its `ffn_up` holds the
 * gate's rows and then the up projection's (Phi-3's `gate_up_proj`) unless the layer also has an `ffn_gate`.
 */
function phi3GgufToHfName(name: string, infos: Map<string, GgufTensorInfo>): string | null {
  const m = /^blk\.(\d+)\.(attn_qkv|ffn_up)\.(weight|bias)$/.exec(name);
  if (!m) return ggufToHfName(name, 'llama');
  if (m[2] === 'attn_qkv') return `model.layers.${m[1]}.self_attn.qkv_proj.${m[3]}`;
  return infos.has(`blk.${m[1]}.ffn_gate.${m[3]}`) ? ggufToHfName(name, 'llama') : `model.layers.${m[1]}.mlp.gate_up_proj.${m[3]}`;
}

/** The inverse of phi3GgufToHfName for the fused projections; every other name as for llama. */
function phi3HfToGgufName(name: string): string | null {
  const m = /^model\.layers\.(\d+)\.(self_attn\.qkv_proj|mlp\.gate_up_proj)\.(weight|bias)$/.exec(name);
  if (!m) return hfToGgufName(name, 'llama');
  return `blk.${m[1]}.${m[2] === 'self_attn.qkv_proj' ? 'attn_qkv' : 'ffn_up'}.${m[3]}`;
}

/** HF name → GGUF tensor name (null for names GGUF has no slot for). */
export function hfToGgufName(name: string, arch: 'llama' | 'gpt2'): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const [, stem, kind] = m as unknown as [string, string, string];
  for (const [g, h] of GLOBAL_NAMES[arch]) if (stem === h) return `${g}.${kind}`;
  const prefix = arch === 'gpt2' ? 'transformer.h' : 'model.layers';
  const layer = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d+)\\.(.+)$`).exec(stem);
  if (!layer) return null;
  for (const [g, h] of arch === 'gpt2' ? GPT2_LAYER_NAMES : LLAMA_LAYER_NAMES) if (layer[2] === h) return `blk.${layer[1]}.${g}.${kind}`;
  return null;
}

export function transpose2d(t: Tensor): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const out = new Float32Array(t.data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c]!;
  return { shape: [cols, rows], data: out };
}

/**
 * Reorders the rows of a q/k projection (weight [nHeads·headDim, in] or bias [nHeads·headDim]) from HF's
 * rotate-half layout (pair i = rows i and i + d/2 of each head) to the interleaved one (pair i = rows 2i, 2i+1),
 * as llama.cpp's converter does. `inverse` undoes it.
 */
export function permuteRopeRows(t: Tensor, nHeads: number, inverse = false): Tensor {
  const rows = t.shape[0]!;
  const cols = t.shape.length > 1 ? t.data.length / rows : 1;
  if (rows % nHeads !== 0 || (rows / nHeads) % 2 !== 0) throw new Error(`cannot permute ${rows} rows into ${nHeads} heads of even size`);
  const headDim = rows / nHeads, half = headDim / 2;
  const out = new Float32Array(t.data.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const interleaved = h * headDim + 2 * i + j;
        const halfRow = h * headDim + j * half + i;
        const [dst, src] = inverse ? [halfRow, interleaved] : [interleaved, halfRow];
        out.set(t.data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return { shape: [...t.shape], data: out };
}

/** Converts q/k projections between RoPE layouts for a Llama-family model (no-op when they already match). */
export function convertRopeLayout(config: ModelConfig, weights: WeightMap, to: 'half' | 'interleaved'): WeightMap {
  checkArg('convertRopeLayout', 'config', config, 'object', 'a model config');
  checkArg('convertRopeLayout', 'weights', weights, 'Map', 'a weight Map (name → tensor)');
  if (to !== 'half' && to !== 'interleaved') throw argError('convertRopeLayout', 'to', '"half" or "interleaved"', to);
  if (config.arch !== 'llama' || config.ropeLayout === to) return weights;
  const out: WeightMap = new Map(weights);
  for (const [name, t] of weights) {
    const m = /^model\.layers\.\d+\.self_attn\.(q|k)_(proj|norm)\.(weight|bias)$/.exec(name);
    if (!m) continue;
    // A per-head norm's weight (Qwen3's, [headDim]) follows its head's values: one head's permutation.
    out.set(name, permuteRopeRows(t, m[2] === 'norm' ? 1 : m[1] === 'q' ? config.nHeads : config.nKvHeads, to === 'half'));
  }
  return out;
}

// ---------------------------------------------------------------- metadata → config

/**
 * The shortest decimal that rounds to the float32 `x`: what a float32 metadata value was written from, as far as the
 * file can tell (config.json's rms_norm_eps 1e-5 is stored as 9.99999974e-6, and read back as that it made every later
 * config.json say so, and a float64 computation differ from the source model's by ~1e-6 in the logits). It rounds to
 * the same float32, so float32 arithmetic sees the stored value either way.
 */
export function shortestFloat32Decimal(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(x.toPrecision(digits));
    if (Math.fround(d) === x) return d;
  }
  return x;
}

/** Typed access to GGUF metadata with errors naming the key and the file; float32 values as shortestFloat32Decimal. */
export class GgufMeta {
  constructor(readonly map: GgufMetadata, readonly file: string) {}
  has(key: string): boolean { return this.map.has(key); }
  number(key: string, fallback?: number): number {
    const e = this.map.get(key);
    if (!e) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${this.file}: required metadata key "${key}" is missing`);
    }
    if (typeof e.value !== 'number' && typeof e.value !== 'bigint') throw new Error(`${this.file}: metadata "${key}" must be a number`);
    const v = Number(e.value);
    if (!Number.isFinite(v)) throw new Error(`${this.file}: metadata "${key}" is not finite`);
    return e.type === GgufValueType.FLOAT32 ? shortestFloat32Decimal(v) : v;
  }
  size(key: string, fallback?: number): number {
    const v = this.number(key, fallback);
    // Safe integers only: 2^62 rounded on its way to a number and was refused later under an internal field name.
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${this.file}: metadata "${key}" must be a positive integer (at most 2^53 − 1), got ${v}`);
    return v;
  }
  string(key: string): string | null {
    const e = this.map.get(key);
    if (!e) return null;
    if (typeof e.value !== 'string') throw new Error(`${this.file}: metadata "${key}" must be a string`);
    return e.value;
  }
  bool(key: string): boolean | null {
    const e = this.map.get(key);
    if (!e) return null;
    if (typeof e.value !== 'boolean') throw new Error(`${this.file}: metadata "${key}" must be a bool`);
    return e.value;
  }
  array(key: string): GgufValue[] | null {
    const e = this.map.get(key);
    if (!e) return null;
    if (!Array.isArray(e.value)) throw new Error(`${this.file}: metadata "${key}" must be an array`);
    return e.value;
  }
}

const SUPPORTED_ARCHS = ['llama', 'qwen2', 'qwen3', 'phi3', 'gpt2'];

export function ggufConfig(meta: GgufMeta, tensors: Map<string, GgufTensorInfo>): ModelConfig {
  const file = meta.file;
  const archName = meta.string('general.architecture');
  if (archName === null) throw new Error(`${file}: required metadata key "general.architecture" is missing`);
  if (!SUPPORTED_ARCHS.includes(archName)) throw new Error(`${file}: architecture "${archName}" is not supported (${SUPPORTED_ARCHS.join(', ')})`);
  const a = archName;
  const arch = archName === 'gpt2' ? 'gpt2' : 'llama';
  const hiddenSize = meta.size(`${a}.embedding_length`);
  const nHeads = meta.size(`${a}.attention.head_count`);
  const nKvHeads = meta.size(`${a}.attention.head_count_kv`, nHeads);
  if (nHeads % nKvHeads !== 0) throw new Error(`${file}: ${a}.attention.head_count_kv (${nKvHeads}) does not divide head_count (${nHeads})`);
  if (!meta.has(`${a}.attention.key_length`) && hiddenSize % nHeads !== 0) {
    throw new Error(`${file}: ${a}.attention.head_count (${nHeads}) does not divide embedding_length (${hiddenSize})`);
  }
  const headDim = meta.size(`${a}.attention.key_length`, hiddenSize / nHeads);
  const embd = tensors.get('token_embd.weight');
  if (!embd) throw new Error(`${file}: tensor "token_embd.weight" is missing`);
  const tokens = meta.array('tokenizer.ggml.tokens');
  const vocabSize = meta.size(`${a}.vocab_size`, embd.dims[1] ?? tokens?.length);
  const eos = ggufEosTokenIds(meta, null);
  const bos = meta.has('tokenizer.ggml.bos_token_id') ? meta.number('tokenizer.ggml.bos_token_id') : null;
  const maxPositions = meta.size(`${a}.context_length`);
  const common = {
    modelType: archName, vocabSize, hiddenSize, nLayers: meta.size(`${a}.block_count`), nHeads, nKvHeads, headDim,
    intermediateSize: meta.size(`${a}.feed_forward_length`), maxPositions, tieEmbeddings: !tensors.has('output.weight'),
    bosTokenId: bos, eosTokenIds: eos,
  };
  if (arch === 'gpt2') {
    return {
      ...common, arch, normEps: meta.number(`${a}.attention.layer_norm_epsilon`, 1e-5), ropeTheta: 10000,
      ropeScaling: { type: 'none' }, ropeLayout: 'half', partialRotaryFactor: 1, attnQkvBias: true, attnOutBias: true,
      mlpBias: true, activation: 'gelu_tanh',
    };
  }
  const rotaryDims = meta.size(`${a}.rope.dimension_count`, headDim);
  // Rotary dimensions come in pairs, at most the head's (an odd 15 was taken; 1000 was refused as "partialRotaryFactor").
  if (rotaryDims % 2 !== 0 || rotaryDims > headDim) {
    throw new Error(`${file}: metadata "${a}.rope.dimension_count" must be an even number within 2..${headDim} (the head's size), got ${rotaryDims}`);
  }
  // llama.cpp's key for sliding-window attention, on every layer (kept at any length, as in config.ts: the model runs
  // past its context length, where the window cuts). llama.cpp's converter writes 0 for a Phi-3 without one. (llama.cpp
  // itself runs Phi-3 files without their window, "Phi SWA is currently disabled"; namm applies the window a file
  // declares, as transformers applies config.json's.)
  const windowKey = `${a}.attention.sliding_window`;
  const window = meta.has(windowKey) && !(archName === 'phi3' && meta.number(windowKey) === 0) ? meta.size(windowKey) : undefined;
  const neox = archName === 'qwen2' || archName === 'qwen3' || archName === 'phi3';
  return {
    ...common, arch,
    ...(window !== undefined ? { slidingWindow: window } : {}),
    normEps: meta.number(`${a}.attention.layer_norm_rms_epsilon`, 1e-5),
    ropeTheta: meta.number(`${a}.rope.freq_base`, 10000),
    ropeScaling: ggufRopeScaling(meta, a, maxPositions),
    // llama.cpp runs 'llama' with interleaved pairs (its converter permuted q/k) and qwen2, qwen3, phi3 with NEOX
    // (= HF half).
    ropeLayout: neox ? 'half' : 'interleaved',
    partialRotaryFactor: rotaryDims / headDim,
    attnQkvBias: tensors.has('blk.0.attn_q.bias') || tensors.has('blk.0.attn_qkv.bias'),
    attnOutBias: tensors.has('blk.0.attn_output.bias'),
    mlpBias: tensors.has('blk.0.ffn_up.bias'),
    activation: 'silu',
    // Qwen3's per-head q/k norms (blk.N.attn_q_norm / attn_k_norm), which the architecture always has.
    ...(archName === 'qwen3' ? { qkNorm: true } : {}),
  };
}

/**
 * RoPE scaling from metadata: llama.cpp's `rope.scaling.type` (none / linear), its older `rope.scale_linear`, or
 * namm's own `namm.rope_scaling` (HF JSON) for the kinds llama.cpp has no key for (dynamic, ntk, llama3), which
 * also carries YaRN exactly (llama.cpp's `yarn` keys are read when it is absent).
 */
function ggufRopeScaling(meta: GgufMeta, a: string, maxPositions: number): RopeScaling {
  const own = meta.string('namm.rope_scaling');
  if (own !== null) {
    let json: unknown;
    try { json = JSON.parse(own); } catch { throw new Error(`${meta.file}: metadata "namm.rope_scaling" is not valid JSON`); }
    return parseRopeScaling(json, maxPositions, `${meta.file} (namm.rope_scaling)`);
  }
  const type = meta.string(`${a}.rope.scaling.type`);
  // As llama.cpp reads them: the type defaults to linear, 'none' never scales (llama_context sets its frequency
  // scale to 1), and linear divides the frequencies by rope.scaling.factor, else by the older rope.scale_linear; a
  // factor of 0 (or none) scales nothing.
  if (type === 'none') return { type: 'none' };
  if (type === null || type === 'linear') {
    const key = meta.has(`${a}.rope.scaling.factor`) ? `${a}.rope.scaling.factor` : meta.has(`${a}.rope.scale_linear`) ? `${a}.rope.scale_linear` : null;
    const factor = key === null ? 0 : meta.number(key);
    if (!(Number.isFinite(factor) && factor >= 0)) throw new Error(`${meta.file}: metadata "${key}" must be a number ≥ 0, got ${factor}`);
    return factor === 0 ? { type: 'none' } : { type: 'linear', factor };
  }
  if (type === 'yarn') return ggufYarn(meta, a, maxPositions);
  throw new Error(`${meta.file}: ${a}.rope.scaling.type "${type}" is not supported (none, linear, yarn)`);
}

/**
 * llama.cpp's YaRN keys → the HF form. llama.cpp blends the angles where HF blends the frequencies (the same
 * values), ramps between the floored and ceiled correction dimensions of yarn_beta_fast and yarn_beta_slow
 * (default 32 and 1: HF's truncate), and scales cos and sin by attn_factor·(1 + 0.1·ln factor), HF's attention
 * factor. The original context defaults to the training context, as in llama.cpp. DeepSeek's log multiplier and a
 * partial extrapolation (yarn_ext_factor other than 1) have no HF counterpart here and are refused.
 */
function ggufYarn(meta: GgufMeta, a: string, maxPositions: number): RopeScaling {
  const k = (name: string) => `${a}.rope.scaling.${name}`;
  const positive = (name: string, fallback?: number) => {
    const v = meta.number(k(name), fallback);
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`${meta.file}: metadata "${k(name)}" must be a positive number, got ${v}`);
    return v;
  };
  if (meta.has(k('yarn_log_multiplier')) && meta.number(k('yarn_log_multiplier')) !== 0) {
    throw new Error(`${meta.file}: metadata "${k('yarn_log_multiplier')}" (DeepSeek's YaRN attention scaling) is not supported`);
  }
  if (meta.has(k('yarn_ext_factor')) && meta.number(k('yarn_ext_factor')) !== 1) {
    throw new Error(`${meta.file}: metadata "${k('yarn_ext_factor')}" other than 1 (a partial YaRN extrapolation) is not supported`);
  }
  const factor = positive('factor');
  return {
    type: 'yarn', factor, originalMaxPositions: meta.size(k('original_context_length'), maxPositions),
    attentionFactor: positive('attn_factor', 1) * yarnMscale(factor),
    betaFast: positive('yarn_beta_fast', 32), betaSlow: positive('yarn_beta_slow', 1), truncate: true,
  };
}

/** llama.cpp's per-pair RoPE divisors (its converter writes them for Llama 3 scaling; one tensor for every layer). */
const ROPE_FREQS = 'rope_freqs.weight';
/** llama.cpp's LongRoPE factors (its phi3 architecture's; one pair of tensors for every layer). */
const ROPE_FACTORS_LONG = 'rope_factors_long.weight', ROPE_FACTORS_SHORT = 'rope_factors_short.weight';

/** A file's per-pair RoPE vector (rope_freqs, LongRoPE's factors): one value per rotary pair, each positive and finite. */
function readRopeVector(fd: number, info: GgufTensorInfo, pairs: number, file: string, what: string): number[] {
  if (info.dims.length !== 1 || info.dims[0] !== pairs) {
    throw new Error(`${file}: tensor "${info.name}" must hold ${pairs} values (one per rotary pair), got shape [${[...info.dims].reverse().join(', ')}]`);
  }
  const values = [...readGgufTensor(fd, info, file).data];
  const bad = values.findIndex((v) => !(Number.isFinite(v) && v > 0));
  if (bad >= 0) throw new Error(`${file}: tensor "${info.name}" value ${bad} is ${values[bad]}, not a positive finite ${what}`);
  return values;
}

/**
 * A phi3 file's LongRoPE: the factors of its two tensors, the original context of `rope.scaling.original_context_length`
 * (the training context when absent) and the attention factor of `rope.scaling.attn_factor` (1 when absent; the
 * exact √(1 + ln s / ln original) that llama.cpp's converter rounded when the file holds that rounded, so that the
 * model is the config.json's to the last bit). namm applies them as transformers does: the long factors in a forward
 * that reaches past the original context (recent llama.cpp chooses by the batch's last position too; older versions
 * by the context size the run was given), and cos and sin multiplied by the attention factor at every length. No
 * other scaling may be named beside it.
 */
function ggufLongRope(fd: number, long: GgufTensorInfo | undefined, short: GgufTensorInfo | undefined, config: ModelConfig, meta: GgufMeta): RopeScaling {
  const file = meta.file, a = config.modelType;
  if (!long || !short) throw new Error(`${file}: tensor "${long ? ROPE_FACTORS_SHORT : ROPE_FACTORS_LONG}" is missing beside "${long ? ROPE_FACTORS_LONG : ROPE_FACTORS_SHORT}" (LongRoPE needs both)`);
  if (a !== 'phi3') throw new Error(`${file}: tensors "${ROPE_FACTORS_LONG}" and "${ROPE_FACTORS_SHORT}" (LongRoPE) have no counterpart in a ${a} model (phi3 files have them)`);
  if (config.ropeScaling.type !== 'none') throw new Error(`${file}: LongRoPE factors beside a ${config.ropeScaling.type} RoPE scaling in the metadata`);
  // As float32 metadata is read: the shortest decimal of each value, what config.json's list said.
  const read = (info: GgufTensorInfo) => readRopeVector(fd, info, rotaryPairs(config), file, 'factor').map(shortestFloat32Decimal);
  let attentionFactor = meta.number(`${a}.rope.scaling.attn_factor`, 1);
  if (!(Number.isFinite(attentionFactor) && attentionFactor > 0)) throw new Error(`${file}: metadata "${a}.rope.scaling.attn_factor" must be a positive number, got ${attentionFactor}`);
  const originalMaxPositions = meta.size(`${a}.rope.scaling.original_context_length`, config.maxPositions);
  const inferred = longRopeAttentionFactor(config.maxPositions / originalMaxPositions, originalMaxPositions);
  if (Math.fround(inferred) === Math.fround(attentionFactor)) attentionFactor = inferred;
  return { type: 'longrope', shortFactors: read(short), longFactors: read(long), originalMaxPositions, attentionFactor };
}

/**
 * The scaling a file's `rope_freqs.weight` gives, as llama.cpp applies it: pair i turns at base^(−2i/d) divided by
 * the tensor's value i and by the linear factor, if the file also has one. Divisors alone (llama.cpp's Llama 3.1+
 * files) become the Llama 3 scaling they were made from when one reproduces them (llama3FromDivisors), so that the
 * model converts back to a config.json, and stay per-pair factors otherwise. Where namm's own key already names the
 * scaling (a file namm wrote for a Llama 3 model), the tensor must be that scaling's divisors and the key's exact
 * parameters are kept.
 */
function ggufRopeFactors(fd: number, info: GgufTensorInfo, config: ModelConfig, originalContext: number | null, file: string): RopeScaling {
  if (config.arch !== 'llama') throw new Error(`${file}: tensor "${ROPE_FREQS}" has no counterpart in a ${config.arch} model`);
  const values = readRopeVector(fd, info, rotaryPairs(config), file, 'divisor');
  const s = config.ropeScaling;
  if (s.type === 'none') return llama3FromDivisors(config, values, originalContext ?? undefined) ?? { type: 'factors', factors: values };
  if (s.type === 'linear') return { type: 'factors', factors: values.map((v) => v * s.factor) };
  const own = ropeFrequencyDivisors(config);
  const off = own === null ? 0 : values.findIndex((v, i) => Math.abs(v - own[i]!) > 1e-6 * own[i]!);
  if (own === null || off >= 0) {
    throw new Error(`${file}: tensor "${ROPE_FREQS}" disagrees with the ${s.type} RoPE scaling of metadata "namm.rope_scaling"${own ? ` (pair ${off}: ${values[off]} against ${own[off]})` : ''}`);
  }
  return s;
}

// ---------------------------------------------------------------- loading

export interface GgufModel {
  config: ModelConfig;
  weights: WeightMap;
  tokenizer: Tokenizer | null;
  metadata: GgufMetadata;
  /** Matrices converted to a converting `weights` storage as they were read (0 for f32 and packed). */
  converted: number;
}

/** `storage`: how matrices are held (src/models/pack.ts, keepsPacked and storedTensor). */
export async function loadGguf(file: string, storage: WeightStorage = 'f32'): Promise<GgufModel> {
  checkArg('loadGguf', 'file', file, 'path');
  const fd = openSync(file, 'r');
  try {
    const header = readGgufHeader(fd, file);
    const meta = new GgufMeta(header.metadata, file);
    const infos = new Map(header.tensors.map((t) => [t.name, t]));
    const config = ggufConfig(meta, infos);
    const freqs = infos.get(ROPE_FREQS);
    const long = infos.get(ROPE_FACTORS_LONG), short = infos.get(ROPE_FACTORS_SHORT);
    if ((long || short) && freqs) throw new Error(`${file}: tensor "${ROPE_FREQS}" beside LongRoPE's "${long ? ROPE_FACTORS_LONG : ROPE_FACTORS_SHORT}": two RoPE scalings, which namm does not combine`);
    if (long || short) config.ropeScaling = ggufLongRope(fd, long, short, config, meta);
    if (freqs) {
      const key = `${meta.string('general.architecture')}.rope.scaling.original_context_length`;
      config.ropeScaling = ggufRopeFactors(fd, freqs, config, meta.has(key) ? meta.size(key) : null, file);
    }
    const arch = config.arch;
    const weights: WeightMap = new Map();
    let converted = 0;
    for (const info of header.tensors) {
      if (info.name === ROPE_FREQS || info.name === ROPE_FACTORS_LONG || info.name === ROPE_FACTORS_SHORT) continue;
      const hf = config.modelType === 'phi3' ? phi3GgufToHfName(info.name, infos) : ggufToHfName(info.name, arch);
      if (!hf) throw new Error(`${file}: tensor ${quoteKey(info.name)} has no counterpart in a ${arch} model`);
      // q/k norms belong to qwen3 only: in another architecture's file they would be left unused without a word.
      if (!config.qkNorm && /\.self_attn\.[qk]_norm\./.test(hf)) {
        throw new Error(`${file}: tensor ${quoteKey(info.name)} (a per-head q/k norm) has no counterpart in a ${config.modelType} model (qwen3 files have them)`);
      }
      const format = PACKED_TYPE[info.type];
      const keep = format !== undefined && keepsPacked(storage, format) && isPackableTensor(config, hf, [...info.dims].reverse());
      let t = readGgufTensor(fd, info, file, keep);
      if (arch === 'gpt2' && GPT2_CONV1D.test(hf)) t = transpose2d(t);
      // A converting storage converts each matrix as it is read: the model is never whole in float32.
      const stored = storedTensor(config, hf, t, storage);
      if (stored !== t) converted++;
      weights.set(hf, stored);
    }
    if (config.modelType === 'phi3') splitPhi3Weights(config, weights, file);
    tieEmbeddings(config, weights, file);
    const tokenizer = meta.has('tokenizer.ggml.model') ? ggufTokenizerFromMetadata(meta) : null;
    if (tokenizer && config.eosTokenIds.length === 0) config.eosTokenIds = [...tokenizer.eosTokenIds];
    return { config, weights, tokenizer, metadata: header.metadata, converted };
  } finally {
    closeSync(fd);
  }
}

/** The vocabulary embedded in a GGUF file (the tensors are not read). */
export function loadGgufTokenizer(file: string): Tokenizer {
  const fd = openSync(file, 'r');
  try {
    const meta = new GgufMeta(readGgufHeader(fd, file).metadata, file);
    if (!meta.has('tokenizer.ggml.model')) throw new Error(`${file}: no embedded vocabulary (tokenizer.ggml.model is missing)`);
    return ggufTokenizerFromMetadata(meta);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- writing

export type GgufWriteDtype = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

export interface GgufWriteOptions {
  dtype?: GgufWriteDtype;
  /** general.name. */
  name?: string;
}

/** Metadata entry helpers for the writer. */
export const gv = {
  str: (value: string): GgufEntry => ({ type: GgufValueType.STRING, value }),
  u32: (value: number): GgufEntry => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufEntry => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufEntry => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufEntry => ({ type: GgufValueType.BOOL, value }),
  arr: (elementType: number, value: GgufValue[]): GgufEntry => ({ type: GgufValueType.ARRAY, elementType, value }),
};

/** Serialises GGUF metadata values (little-endian), growing a list of chunks. */
class ByteSink {
  chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  u64(v: number | bigint): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  string(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  scalar(type: number, v: GgufValue): void {
    const b = Buffer.alloc(FIXED_SIZE[type] ?? 0);
    switch (type) {
      case 0: b.writeUInt8(v as number); break;
      case 1: b.writeInt8(v as number); break;
      case 2: b.writeUInt16LE(v as number); break;
      case 3: b.writeInt16LE(v as number); break;
      case 4: b.writeUInt32LE(v as number); break;
      case 5: b.writeInt32LE(v as number); break;
      case 6: b.writeFloatLE(v as number); break;
      case 7: b.writeUInt8(v ? 1 : 0); break;
      case 8: this.string(v as string); return;
      case 10: b.writeBigUInt64LE(BigInt(v as number)); break;
      case 11: b.writeBigInt64LE(BigInt(v as number)); break;
      case 12: b.writeDoubleLE(v as number); break;
      default: throw new Error(`GGUF writer: unknown value type ${type}`);
    }
    this.push(b);
  }
  entry(e: GgufEntry): void {
    if (e.type !== GgufValueType.ARRAY) { this.scalar(e.type, e.value); return; }
    const items = e.value as GgufValue[];
    this.u32(e.elementType!);
    this.u64(items.length);
    if (e.elementType === GgufValueType.ARRAY) throw new Error('GGUF writer: nested arrays are not written');
    for (const item of items) this.scalar(e.elementType!, item);
  }
}

/**
 * Writes a raw GGUF container (metadata + already-encoded tensors). Exposed for tests of malformed files. The file
 * is written whole beside `path` and renamed over it (writeFileVia), so an error part-way leaves what `path` held.
 */
export function writeGgufContainer(path: string, metadata: GgufMetadata, tensors: { name: string; dims: number[]; type: number; bytes: Uint8Array }[], version = 3): void {
  const alignment = Number(metadata.get('general.alignment')?.value ?? 32);
  const head = new ByteSink();
  head.u32(MAGIC);
  head.u32(version);
  head.u64(tensors.length);
  head.u64(metadata.size);
  for (const [key, e] of metadata) { head.string(key); head.u32(e.type); head.entry(e); }
  let offset = 0;
  for (const t of tensors) {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += Math.ceil(t.bytes.length / alignment) * alignment;
  }
  head.push(Buffer.alloc((alignment - (head.length % alignment)) % alignment));
  // Written in place before, the exported writeGguf left an API user's old file cut off after an error part-way.
  writeFileVia(path, (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      for (const c of head.chunks) writeSync(fd, c);
      for (const t of tensors) {
        // In writes of at most 1 GiB: Node refuses one past 2³¹ − 1 bytes (a 7B model's F32 embedding is 2.2 GB).
        writeAllSync(fd, t.bytes);
        const pad = (alignment - (t.bytes.length % alignment)) % alignment;
        if (pad) writeSync(fd, Buffer.alloc(pad));
      }
    } finally {
      closeSync(fd);
    }
  });
}

/** float32 → ggml Q8_0 blocks, as ggml's reference quantiser: d = max|x|/127, q = round(x/d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  if (x.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[b * 32 + i]!));
    // float32 arithmetic throughout, as ggml does, so our bytes equal llama.cpp's quantiser's.
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    view.setUint16(b * 34, f32ToF16Bits(d), true);
    // roundf() rounds halves away from zero; Math.round would round -2.5 to -2.
    for (let i = 0; i < 32; i++) {
      const v = Math.fround(x[b * 32 + i]! * id);
      view.setInt8(b * 34 + 2 + i, Math.sign(v) * Math.round(Math.abs(v)));
    }
  }
  return out;
}

function encodeTensorData(t: Tensor, type: number, what: string): Uint8Array {
  // A view, not a copy: the bytes are written as they are, and a copy of a large tensor doubled the memory it took.
  if (type === GgmlType.F32) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  // Past 65,519 a value (F16), or a Q8_0 block scale max|x|/127 (Q4_0: max|x|/8), rounds to an infinity in float16:
  // a silent change of the model (a row of infinities, or a block of NaNs), so refused as the safetensors writer does.
  const limit = type === GgmlType.F16 ? 65520 : type === GgmlType.Q4_0 ? 65520 * 8 : 65520 * 127;
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (Number.isFinite(v) && Math.abs(v) >= limit) {
      const fmt = type === GgmlType.F16 ? 'float16' : `${type === GgmlType.Q4_0 ? 'Q4_0' : 'Q8_0'} (float16 block scales)`;
      throw new RangeError(`${what} holds ${v}, beyond what ${fmt} can hold; write it as F32`);
    }
  }
  if (type === GgmlType.Q4_0) return quantizeQ4_0(t.data);
  if (type === GgmlType.F16) {
    const h = new Uint16Array(t.data.length);
    for (let i = 0; i < h.length; i++) h[i] = f32ToF16Bits(t.data[i]!);
    return new Uint8Array(h.buffer);
  }
  return quantizeQ8_0(t.data);
}

/**
 * Writes a model as GGUF v3 the way llama.cpp's converter lays it out: llama q/k rows permuted for interleaved
 * RoPE, GPT-2 Conv1D weights transposed, tied embeddings stored once, 1-D tensors (norms, biases) kept F32, and the
 * tokenizer's vocabulary embedded when one is given. Everything is checked and encoded before the file is touched,
 * and the file is written whole beside `path` and renamed over it (writeFileVia).
 */
/** What writeGguf did beyond the request. */
export interface GgufWriteReport {
  /** Matrices written as F16 for a Q8_0 or Q4_0 request: their rows are no multiple of 32 values (HF names). */
  f16Instead: string[];
}

export function writeGguf(path: string, config: ModelConfig, weights: WeightMap, tokenizer?: Tokenizer | null, options: GgufWriteOptions = {}): GgufWriteReport {
  checkArg('writeGguf', 'path', path, 'path');
  checkArg('writeGguf', 'config', config, 'object', 'a model config');
  checkArg('writeGguf', 'weights', weights, 'Map', 'a weight Map (name → tensor)');
  const dtype = options.dtype ?? 'F32';
  // Per-head q/k norms are llama.cpp's qwen3 architecture, whatever the model type says.
  const ggArch = config.arch === 'gpt2' ? 'gpt2' : config.qkNorm ? 'qwen3' : isPhi3Checkpoint(config) ? 'phi3' : config.modelType === 'qwen2' ? 'qwen2' : 'llama';
  // What GGUF's architectures cannot say, refused rather than written as another model.
  if (config.arch === 'gpt2' && config.activation !== 'gelu_tanh') {
    throw new Error(`GGUF writer: GGUF's gpt2 uses the tanh GELU; this model's ${config.activation === 'gelu_erf' ? 'exact (erf) GELU' : config.activation} would run as another model`);
  }
  // llama.cpp's gemma3 architecture is not one namm reads or writes: written as a llama, a Gemma 3 would run as another model.
  if (config.gemma) throw new Error('GGUF writer: Gemma 3 (gemma3_text) is not supported; keep it as a Hugging Face folder');
  // GGUF's one sliding_window key windows every layer (as namm reads it): a window on some layers only (Qwen2's and
  // Qwen3's layer_types / max_window_layers) would come back on all of them, another model past the window.
  if (config.slidingLayers !== undefined && config.slidingLayers.length > 0 && config.slidingLayers.length < config.nLayers) {
    throw new Error(`GGUF writer: this model's ${config.slidingWindow}-token sliding window is on layers ${config.slidingLayers.join(', ')} only, which GGUF cannot say (its sliding_window key windows every layer)`);
  }
  // llama.cpp's phi3 rotates the first rope.dimension_count dims (Phi-4-mini's 3/4).
  if (config.arch === 'llama' && config.partialRotaryFactor !== 1 && ggArch !== 'phi3') {
    throw new Error(`GGUF writer: partial rotary embeddings (partial_rotary_factor ${config.partialRotaryFactor}) are not supported for ${ggArch}`);
  }
  // qwen2, qwen3 and phi3 run NEOX-style (= HF half) in llama.cpp; llama runs interleaved pairs.
  const layout = ggArch === 'qwen2' || ggArch === 'qwen3' || ggArch === 'phi3' ? 'half' : 'interleaved';
  if (layout === 'half' && config.ropeLayout !== 'half') throw new Error(`GGUF writer: a ${ggArch} model must be in the half RoPE layout`);
  const laidOut = config.arch === 'llama' ? convertRopeLayout(config, weights, layout) : weights;
  // llama.cpp's phi3 reads Phi-3's fused projections (attn_qkv, and ffn_up holding the gate's rows and the up's).
  const stored = ggArch === 'phi3' ? fusePhi3Weights(config, laidOut) : laidOut;

  const meta: GgufMetadata = new Map();
  meta.set('general.architecture', gv.str(ggArch));
  meta.set('general.name', gv.str(options.name ?? config.modelType));
  meta.set('general.alignment', gv.u32(32));
  meta.set('general.file_type', gv.u32({ F32: 0, F16: 1, Q8_0: 7, Q4_0: 2 }[dtype]));
  const a = ggArch;
  meta.set(`${a}.context_length`, gv.u32(config.maxPositions));
  meta.set(`${a}.embedding_length`, gv.u32(config.hiddenSize));
  meta.set(`${a}.block_count`, gv.u32(config.nLayers));
  meta.set(`${a}.feed_forward_length`, gv.u32(config.intermediateSize));
  meta.set(`${a}.attention.head_count`, gv.u32(config.nHeads));
  meta.set(`${a}.vocab_size`, gv.u32(config.vocabSize));
  if (config.arch === 'gpt2') {
    meta.set(`${a}.attention.layer_norm_epsilon`, gv.f32(config.normEps));
  } else {
    meta.set(`${a}.attention.head_count_kv`, gv.u32(config.nKvHeads));
    meta.set(`${a}.attention.layer_norm_rms_epsilon`, gv.f32(config.normEps));
    meta.set(`${a}.rope.freq_base`, gv.f32(config.ropeTheta));
    meta.set(`${a}.rope.dimension_count`, gv.u32(Math.round(config.headDim * config.partialRotaryFactor)));
    // A window on no layer (slidingLayers empty: Qwen2's use_sliding_window past max_window_layers) is no window.
    if (config.slidingWindow !== undefined && config.slidingLayers?.length !== 0) meta.set(`${a}.attention.sliding_window`, gv.u32(config.slidingWindow));
    // llama.cpp's converter writes the head size whenever config.json has head_dim (every Qwen3's): then always for qwen3.
    if (config.headDim * config.nHeads !== config.hiddenSize || ggArch === 'qwen3') {
      meta.set(`${a}.attention.key_length`, gv.u32(config.headDim));
      meta.set(`${a}.attention.value_length`, gv.u32(config.headDim));
    }
    const s = config.ropeScaling;
    if (s.type === 'longrope' && ggArch === 'phi3') {
      // llama.cpp's keys (the factors go out as two tensors below): the attention factor as resolved.
      meta.set(`${a}.rope.scaling.original_context_length`, gv.u32(s.originalMaxPositions));
      meta.set(`${a}.rope.scaling.attn_factor`, gv.f32(s.attentionFactor));
    } else if (s.type === 'linear') {
      meta.set(`${a}.rope.scaling.type`, gv.str('linear'));
      meta.set(`${a}.rope.scaling.factor`, gv.f32(s.factor));
    } else if (s.type !== 'none' && s.type !== 'factors') {
      if (s.type === 'yarn') {
        // llama.cpp's keys too, so that it runs the file with the same scaling (it has no form of truncate: false,
        // which only namm's key below carries).
        meta.set(`${a}.rope.scaling.type`, gv.str('yarn'));
        meta.set(`${a}.rope.scaling.factor`, gv.f32(s.factor));
        meta.set(`${a}.rope.scaling.original_context_length`, gv.u32(s.originalMaxPositions));
        meta.set(`${a}.rope.scaling.attn_factor`, gv.f32(s.attentionFactor / yarnMscale(s.factor)));
        meta.set(`${a}.rope.scaling.yarn_beta_fast`, gv.f32(s.betaFast));
        meta.set(`${a}.rope.scaling.yarn_beta_slow`, gv.f32(s.betaSlow));
      }
      // Every other kind goes under namm's key: llama.cpp has none for dynamic and NTK scaling, Llama 3's also goes
      // out as the divisors below (which llama.cpp reads), and YaRN's as the keys above.
      meta.set('namm.rope_scaling', gv.str(JSON.stringify(ropeScalingToHf(s))));
    }
  }
  if (tokenizer) for (const [k, v] of ggufVocabularyMetadata(tokenizer, config, path)) meta.set(k, v);
  if (config.bosTokenId !== null && !meta.has('tokenizer.ggml.bos_token_id')) meta.set('tokenizer.ggml.bos_token_id', gv.u32(config.bosTokenId));
  if (!meta.has('tokenizer.ggml.eos_token_id')) for (const [k, v] of ggufEosEntries(config.eosTokenIds)) meta.set(k, v);

  const { embed, head } = config.arch === 'gpt2'
    ? { embed: 'transformer.wte.weight', head: 'lm_head.weight' }
    : { embed: 'model.embed_tokens.weight', head: 'lm_head.weight' };
  const tied = config.tieEmbeddings || stored.get(embed) === stored.get(head);
  const tensors: { name: string; dims: number[]; type: number; bytes: Uint8Array }[] = [];
  const f16Instead: string[] = [];
  for (const [hf, t0] of stored) {
    if (tied && hf === head) continue;
    const name = ggArch === 'phi3' ? phi3HfToGgufName(hf) : hfToGgufName(hf, config.arch);
    if (!name) throw new Error(`GGUF writer: weight "${hf}" has no GGUF name for a ${config.arch} model`);
    const t = config.arch === 'gpt2' && GPT2_CONV1D.test(hf) ? transpose2d(t0) : t0;
    const dims = [...t.shape].reverse();
    // As llama.cpp: vectors stay F32; matrices take the requested type when their rows fit its blocks.
    let type: number = GgmlType.F32;
    if (dims.length >= 2 && dtype === 'F16') type = GgmlType.F16;
    if (dims.length >= 2 && (dtype === 'Q8_0' || dtype === 'Q4_0')) {
      type = dims[0]! % 32 === 0 ? (dtype === 'Q8_0' ? GgmlType.Q8_0 : GgmlType.Q4_0) : GgmlType.F16;
      if (type === GgmlType.F16) f16Instead.push(hf);
    }
    tensors.push({ name, dims, type, bytes: encodeTensorData(t, type, `GGUF writer (${path}): tensor "${hf}"`) });
  }
  // Per-pair RoPE vectors (LongRoPE's factors for phi3, the divisors of Llama 3 or per-pair scaling), as llama.cpp's
  // converter writes them: float32, placed after the token embeddings.
  const rs = config.ropeScaling;
  const vectors: (readonly [string, readonly number[]])[] = rs.type === 'longrope' && ggArch === 'phi3'
    ? [[ROPE_FACTORS_LONG, rs.longFactors], [ROPE_FACTORS_SHORT, rs.shortFactors]] : [];
  const divisors = config.arch === 'llama' ? ropeFrequencyDivisors(config) : null;
  if (divisors) vectors.push([ROPE_FREQS, divisors]);
  tensors.splice(tensors.findIndex((x) => x.name === 'token_embd.weight') + 1, 0, ...vectors.map(([name, values]) => {
    const t: Tensor = { shape: [values.length], data: Float32Array.from(values) };
    return { name, dims: [values.length], type: GgmlType.F32, bytes: encodeTensorData(t, GgmlType.F32, `GGUF writer (${path}): tensor "${name}"`) };
  }));
  writeGgufContainer(path, meta, tensors);
  return { f16Instead };
}
