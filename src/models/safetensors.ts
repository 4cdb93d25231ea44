/**
 * Safetensors reader and writer (https://github.com/huggingface/safetensors, format section): an 8-byte
 * little-endian header length N, N bytes of JSON (name → {dtype, shape, data_offsets}, plus an optional
 * `__metadata__` string map), then the raw little-endian tensor bytes. Every header field is checked against the
 * file size before anything is allocated, so a bogus header gives an error, never a huge allocation.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { getBackend } from '../tensor/index.js';
import { PackedMatrix } from '../tensor/packed.js';
import { packedTensor } from './pack.js';
import type { Tensor } from './types.js';
import { writeAllSync, writeFileVia } from '../util/files.js';
import { shortJson } from '../util/show.js';
import { checkArg } from '../util/args.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** Dtypes the format defines that we refuse by name (so the message says what the file holds). */
const KNOWN_UNSUPPORTED = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);
/** The reference implementation's own cap on header size; anything bigger is not a real file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  dataStart: number;
  fileSize: number;
}

/** The most one read asks for: `readSync` refuses a length past 2³¹ − 1 (one tensor can be larger: a 72B embedding). */
export const READ_CHUNK = 1 << 30;

/** Reads `length` bytes at `position` of an open file (in reads of at most `chunk`), failing clearly on a short read. */
export function readExactly(fd: number, position: number, length: number, file: string, target?: Uint8Array, chunk = READ_CHUNK): Uint8Array {
  const buf = target ?? new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, Math.min(length - done, chunk), position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file reading ${length} bytes at offset ${position}`);
    done += n;
  }
  return buf;
}

function isDim(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the header of an open safetensors file. */
export function readSafetensorsHeader(fd: number, file: string): SafetensorsHeader {
  const st = fstatSync(fd);
  if (st.isDirectory()) throw new Error(`${file} is a folder, not a safetensors file`);
  const fileSize = st.size;
  if (fileSize < 8) throw new Error(`${file}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
  const lenBytes = readExactly(fd, 0, 8, file);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > fileSize - 8) {
    throw new Error(`${file}: header length ${headerLen} runs past the end of the file (${fileSize} bytes); truncated or not safetensors`);
  }
  if (headerLen > MAX_HEADER_BYTES) throw new Error(`${file}: header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen < 2) throw new Error(`${file}: header length ${headerLen} is too small to hold a JSON object`);
  const headerBytes = readExactly(fd, 8, headerLen, file);
  let text: string;
  try {
    // Replacement characters let a damaged name load, to fail later as a weight that is missing.
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${file}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: header is not valid JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${file}: header must be a JSON object`);
  // JSON.parse keeps the last of two equal keys: a tensor named twice loaded from its second entry, its first byte
  // range silently dropped (a tensor in two shards is refused; so is one named twice in one header).
  const twice = repeatedTopLevelKey(text);
  if (twice !== null) throw new Error(`${file}: header names ${JSON.stringify(twice)} twice`);

  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, file);
      continue;
    }
    entries.push(parseEntry(name, value, dataStart, dataSize, file));
  }
  // By begin, then end: an empty tensor ([b, b]) sorts before a tensor starting at b, which it does not overlap.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.begin < prev.end) throw new Error(`${file}: tensors "${prev.name}" and "${cur.name}" have overlapping byte ranges`);
  }
  return { entries, metadata, dataStart, fileSize };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: __metadata__ must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Error(`${file}: __metadata__ value for "${k}" must be a string, got ${shortJson(v)}`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, dataStart: number, dataSize: number, file: string): SafetensorsEntry {
  const where = `${file}: tensor "${name}"`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where} must be an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new Error(`${where} has no dtype`);
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) {
    if (KNOWN_UNSUPPORTED.has(dtype)) throw new Error(`${where} has dtype ${dtype}, which is not supported (F32, F16, BF16)`);
    throw new Error(`${where} has unknown dtype "${dtype}"`);
  }
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    throw new Error(`${where} has an invalid shape ${shortJson(shape)} (dimensions must be non-negative integers)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
    throw new Error(`${where} has invalid data_offsets ${shortJson(offsets)}`);
  }
  const [b, e] = offsets as [number, number];
  if (b > e) throw new Error(`${where}: data_offsets [${b}, ${e}] end before they begin`);
  if (e > dataSize) throw new Error(`${where}: data_offsets [${b}, ${e}] run past the data section (${dataSize} bytes); file truncated?`);
  let count = 1;
  for (const d of shape as number[]) count *= d;
  const bytes = count * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (bytes !== e - b) {
    throw new Error(`${where}: shape ${shortJson(shape)} × ${dtype} needs ${bytes} bytes but data_offsets cover ${e - b}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

/**
 * Reads one entry as float32, converting F16/BF16 with the backend kernels; with `keepPacked`, a 2-D F16/BF16
 * entry is kept packed instead (its bytes as stored; src/models/pack.ts).
 */
export function readSafetensorsTensor(fd: number, entry: SafetensorsEntry, file: string, keepPacked = false): Tensor {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (keepPacked && entry.dtype !== 'F32' && entry.shape.length === 2) {
    const bytes = readExactly(fd, entry.begin, count * 2, file);
    return packedTensor(entry.name, new PackedMatrix(entry.dtype === 'F16' ? 'f16' : 'bf16', entry.shape[0]!, entry.shape[1]!, bytes));
  }
  const data = new Float32Array(count);
  if (entry.dtype === 'F32') {
    readExactly(fd, entry.begin, count * 4, file, new Uint8Array(data.buffer));
  } else {
    const half = new Uint16Array(count);
    readExactly(fd, entry.begin, count * 2, file, new Uint8Array(half.buffer));
    if (entry.dtype === 'F16') getBackend().f16ToF32(half, data, count);
    else getBackend().bf16ToF32(half, data, count);
  }
  return { shape: [...entry.shape], data };
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Reads every tensor of a safetensors file as float32 (those `keepPacked` names, when F16/BF16 matrices, packed;
 * each then through `convert`, if given), but those `skip` names, which are not read.
 * Names that `__metadata__` maps to another stored tensor
 * (transformers' record of tied weights it de-duplicated, e.g. `model.embed_tokens.weight` → `lm_head.weight`)
 * are filled in with that same Tensor object.
 */
export function readSafetensors(
  file: string, keepPacked?: (name: string, shape: readonly number[]) => boolean, convert?: (name: string, t: Tensor) => Tensor,
  skip?: (name: string) => boolean,
): SafetensorsFile {
  checkArg('readSafetensors', 'file', file, 'path');
  const fd = openSync(file, 'r');
  try {
    const header = readSafetensorsHeader(fd, file);
    const tensors = new Map<string, Tensor>();
    for (const entry of header.entries) {
      // Tensors the model does not use (an image tower beside a text model) are not read at all.
      if (skip?.(entry.name)) continue;
      const t = readSafetensorsTensor(fd, entry, file, keepPacked?.(entry.name, entry.shape) ?? false);
      tensors.set(entry.name, convert ? convert(entry.name, t) : t);
    }
    for (const [alias, target] of Object.entries(header.metadata)) {
      const t = tensors.get(target);
      if (t && !tensors.has(alias)) tensors.set(alias, t);
    }
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

export interface SafetensorsWriteTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Float32 values; converted to the dtype on write (round to nearest even for F16/BF16). */
  data: Float32Array;
}

/**
 * Writes tensors (in the map's order) with an optional `__metadata__` string map. Everything is checked before the
 * file is touched, and the file is written whole beside `path` and renamed over it (writeFileVia).
 */
export function writeSafetensors(path: string, tensors: Map<string, SafetensorsWriteTensor>, metadata?: Record<string, string>): void {
  checkArg('writeSafetensors', 'path', path, 'path');
  checkArg('writeSafetensors', 'tensors', tensors, 'Map', 'a Map of name → { dtype, shape, data }');
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error(`writeSafetensors(${path}): "__metadata__" is reserved and cannot name a tensor`);
    if (!Object.hasOwn(DTYPE_BYTES, t.dtype)) throw new Error(`writeSafetensors(${path}): tensor "${name}" has unsupported dtype ${String(t.dtype)}`);
    if (!(t.data instanceof Float32Array)) {
      throw new TypeError(`writeSafetensors(${path}): tensor "${name}" must hold a Float32Array, got ${t.data === null ? 'null' : (t.data as object)?.constructor?.name ?? typeof t.data}`);
    }
    if (t.dtype === 'F16') {
      // Past 65,519 a value rounds to an infinity in float16: a silent change of the model, so refused.
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i]!;
        if (Number.isFinite(v) && Math.abs(v) >= 65520) throw new RangeError(`writeSafetensors(${path}): tensor "${name}" holds ${v}, beyond float16's range; write it as BF16 or F32`);
      }
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every(isDim) || count !== t.data.length) {
      throw new Error(`writeSafetensors(${path}): tensor "${name}" shape ${JSON.stringify(t.shape)} does not match its ${t.data.length} values`);
    }
    const bytes = count * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(jsonBytes.length));
  writeFileVia(path, (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, lenBytes);
      writeSync(fd, jsonBytes);
      // In writes of at most 1 GiB: Node refuses one past 2³¹ − 1 bytes (a 7B model's F32 embedding is 2.2 GB).
      for (const t of tensors.values()) writeAllSync(fd, encodeTensor(t));
    } finally {
      closeSync(fd);
    }
  });
}

function encodeTensor(t: SafetensorsWriteTensor): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint16Array(t.data.length);
  if (t.dtype === 'F16') for (let i = 0; i < out.length; i++) out[i] = f32ToF16(t.data[i]!);
  else for (let i = 0; i < out.length; i++) out[i] = f32ToBf16(t.data[i]!);
  return new Uint8Array(out.buffer);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 → IEEE half bits, round to nearest even, with subnormals, overflow to ±inf and NaN. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/**
 * The first key that a JSON object's text (already known to parse) holds twice at its top level, or null. Keys are
 * compared as decoded ("w" and "\u0077" are one key), as JSON.parse would merge them.
 */
function repeatedTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] !== ':') continue; // a value at the top level, not a key
      const key = JSON.parse(text.slice(start, i + 1)) as string;
      if (seen.has(key)) return key;
      seen.add(key);
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return null;
}
