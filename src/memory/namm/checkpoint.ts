/**
 * The `.namm` file: one NAMM (parameters, frozen normalisation statistics, and the config they were trained with)
 * in a small self-checking binary container, little-endian:
 *
 *   bytes 0..3    "NAMM"
 *   bytes 4..7    uint32 format version (1)
 *   bytes 8..11   uint32 header length H
 *   bytes 12..    H bytes of UTF-8 JSON header (NammCheckpointHeader), zero-padded to a multiple of 4
 *   then          float32 params (header.paramCount), then, when header.norm is not null, float32 mean (17) and
 *                 float32 variance (17)
 *
 * The header records the payload length and its CRC-32, so truncation, wrong counts, corruption and non-finite
 * values are all reported as clear errors on read. Writes are atomic (temporary file, then rename).
 */
import { checkOptionKeys, shortJson, showValue } from '../../util/show.js';
import { writeFileSync } from 'node:fs';
import { MiB, readFileLimited, writeFileVia } from '../../util/files.js';
import { TAP_PRECISIONS, type TapPrecision } from '../policy.js';
import { validateUpdateEvery } from './buffer.js';
import { validateNormStats, type NormStats } from './normalize.js';
import { BAM_HIDDEN, FEATURE_DIM, paramCountFor, validateNammParams, type NammScorerKind } from './params.js';
import { RECENCY_DIMS } from './recency.js';
import { NAMM_SELECTIONS, type NammSelection } from './selection.js';
import { N_BINS } from './stft.js';
import { checkArg } from '../../util/args.js';
import { RUN_CHECKPOINT_HINT, RUN_CHECKPOINT_MAGIC } from '../../evolve/checkpoint.js';

export const NAMM_FILE_MAGIC = 'NAMM';
export const NAMM_FILE_VERSION = 1;

export interface NammCheckpoint {
  scorer: NammScorerKind;
  params: Float32Array;
  normStats: NormStats | null;
  /** Cadence the parameters were evolved with (the policy default when loaded). */
  updateEvery: number;
  selection: NammSelection;
  cacheSize?: number;
  /**
   * The attention probabilities the parameters were evolved on (the policy default when loaded). A file without
   * the field predates it and was evolved on 'fp32' probabilities.
   */
  taps: TapPrecision;
  /** Free-form provenance: model, tasks, generation, fitness, date, seed, ... (JSON values). */
  provenance?: Record<string, unknown>;
}

/** What the JSON header holds (sizes are stored so a reader can check them before trusting the payload). */
export interface NammCheckpointHeader {
  scorer: NammScorerKind;
  paramCount: number;
  featureDim: number;
  nBins: number;
  recencyDims: number;
  bamHidden: number;
  updateEvery: number;
  selection: NammSelection;
  cacheSize: number | null;
  taps?: TapPrecision;
  norm: { count: number } | null;
  provenance: Record<string, unknown>;
  payloadBytes: number;
  payloadCrc32: number;
}

/** Serialises a checkpoint (validated first). */
export function encodeNammCheckpoint(ckpt: NammCheckpoint): Uint8Array {
  return encode('encodeNammCheckpoint', ckpt);
}

/** The fields of a NammCheckpoint (an unknown one is refused: it would not be written). */
const CHECKPOINT_KEYS = ['scorer', 'params', 'normStats', 'updateEvery', 'selection', 'cacheSize', 'taps', 'provenance'];

function encode(fn: string, ckpt: NammCheckpoint): Uint8Array {
  checkArg(fn, 'ckpt', ckpt, 'object', 'a NAMM checkpoint {scorer, params, normStats, updateEvery, selection, taps, …}');
  checkOptionKeys(ckpt, CHECKPOINT_KEYS, fn);
  validateCheckpoint(ckpt);
  const nParams = ckpt.params.length;
  const payload = new Uint8Array(4 * (nParams + (ckpt.normStats ? 2 * N_BINS : 0)));
  const pv = new DataView(payload.buffer);
  let at = 0;
  const put = (a: Float32Array) => { for (let i = 0; i < a.length; i++, at += 4) pv.setFloat32(at, a[i]!, true); };
  put(ckpt.params);
  if (ckpt.normStats) { put(ckpt.normStats.mean); put(ckpt.normStats.variance); }
  const header: NammCheckpointHeader = {
    scorer: ckpt.scorer,
    paramCount: nParams,
    featureDim: FEATURE_DIM,
    nBins: N_BINS,
    recencyDims: RECENCY_DIMS,
    bamHidden: BAM_HIDDEN,
    updateEvery: ckpt.updateEvery,
    selection: ckpt.selection,
    cacheSize: ckpt.cacheSize ?? null,
    taps: ckpt.taps,
    norm: ckpt.normStats ? { count: ckpt.normStats.count } : null,
    provenance: ckpt.provenance ?? {},
    payloadBytes: payload.length,
    payloadCrc32: crc32(payload),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = align4(12 + json.length);
  const out = new Uint8Array(headerEnd + payload.length);
  out.set(new TextEncoder().encode(NAMM_FILE_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(4, NAMM_FILE_VERSION, true);
  dv.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(payload, headerEnd);
  return out;
}

/** Parses and validates a checkpoint; `source` names it in error messages. */
export function decodeNammCheckpoint(bytes: Uint8Array, source = 'NAMM checkpoint'): NammCheckpoint {
  checkArg('decodeNammCheckpoint', 'bytes', bytes, 'Uint8Array', 'a Uint8Array (the bytes of a .namm file; wrap an ArrayBuffer in new Uint8Array(…))');
  checkArg('decodeNammCheckpoint', 'source', source, 'string');
  const fail = (why: string): never => { throw new Error(`${source}: ${why}`); };
  if (bytes.length < 12) fail(`too short to be a .namm file (${bytes.length} bytes)`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== NAMM_FILE_MAGIC) fail('not a .namm file (bad magic)');
  // Its first bytes, "NAMM", are a .namm file's too: read on, its version was "827345731" ("CKP1").
  if (new TextDecoder().decode(bytes.subarray(0, 8)) === RUN_CHECKPOINT_MAGIC) fail(`not a .namm file but ${RUN_CHECKPOINT_HINT}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== NAMM_FILE_VERSION) fail(`unsupported format version ${version} (this build reads ${NAMM_FILE_VERSION})`);
  const headerLen = dv.getUint32(8, true);
  if (12 + headerLen > bytes.length) fail('truncated header');
  let header: NammCheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLen)));
  } catch (err) {
    return fail(`unreadable header (${(err as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) fail('header is not an object');
  if (header.scorer !== 'bam' && header.scorer !== 'mlp') fail(`unknown scorer ${shortJson(header.scorer)}`);
  if (header.featureDim !== FEATURE_DIM || header.nBins !== N_BINS || header.recencyDims !== RECENCY_DIMS || header.bamHidden !== BAM_HIDDEN) {
    // As JSON, so that "25" (a string) does not read as the 25 it fails to equal.
    const j = (v: unknown) => (v === undefined ? 'missing' : shortJson(v));
    fail(`sizes (features ${j(header.featureDim)}, bins ${j(header.nBins)}, recency ${j(header.recencyDims)}, hidden ${j(header.bamHidden)}) differ from this build's (${FEATURE_DIM}, ${N_BINS}, ${RECENCY_DIMS}, ${BAM_HIDDEN})`);
  }
  const want = paramCountFor(header.scorer);
  if (header.paramCount !== want) fail(`${header.scorer} scorer needs ${want} parameters, header says ${header.paramCount === undefined ? 'nothing' : shortJson(header.paramCount)}`);
  if (header.norm !== null && (typeof header.norm !== 'object' || !Number.isInteger(header.norm.count) || header.norm.count < 0)) {
    fail('header has no usable "norm" entry (null, or the count of rows behind the normalisation statistics)');
  }
  if (!Number.isInteger(header.payloadCrc32)) fail('header has no payload checksum ("payloadCrc32")');
  const nNorm = header.norm === null ? 0 : 2 * N_BINS;
  const payloadBytes = 4 * (want + nNorm);
  if (header.payloadBytes !== payloadBytes) fail(`header announces ${header.payloadBytes === undefined ? 'no' : shortJson(header.payloadBytes)} payload bytes, the counts need ${payloadBytes}`);
  const start = align4(12 + headerLen);
  if (bytes.length < start + payloadBytes) fail(`truncated: ${bytes.length} bytes, ${start + payloadBytes} expected`);
  if (bytes.length > start + payloadBytes) fail(`${bytes.length - start - payloadBytes} unexpected bytes after the payload`);
  const payload = bytes.subarray(start, start + payloadBytes);
  if (crc32(payload) !== header.payloadCrc32) fail('payload checksum mismatch (corrupted file)');
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  const take = (n: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++, at += 4) a[i] = pv.getFloat32(at, true); return a; };
  const params = take(want);
  const normStats = header.norm === null ? null : { mean: take(N_BINS), variance: take(N_BINS), count: header.norm.count };
  const ckpt: NammCheckpoint = {
    scorer: header.scorer,
    params,
    normStats,
    updateEvery: header.updateEvery,
    selection: header.selection,
    ...(header.cacheSize !== null && header.cacheSize !== undefined ? { cacheSize: header.cacheSize } : {}),
    // Files from before the field read fp32 taps; a null is a damaged field, refused below as any other value.
    taps: header.taps === undefined ? 'fp32' : header.taps,
    provenance: header.provenance ?? {},
  };
  try {
    validateCheckpoint(ckpt);
  } catch (err) {
    fail((err as Error).message);
  }
  return ckpt;
}

/** Writes a `.namm` file atomically (a temporary file in the same folder, fsynced, then renamed over `path`). */
export function saveNammCheckpoint(path: string, ckpt: NammCheckpoint): void {
  checkArg('saveNammCheckpoint', 'path', path, 'path');
  const bytes = encode('saveNammCheckpoint', ckpt);
  writeFileVia(path, (tmp) => writeFileSync(tmp, bytes));
}

/** Reads and validates a `.namm` file. */
export function readNammCheckpoint(path: string): NammCheckpoint {
  checkArg('readNammCheckpoint', 'path', path, 'path');
  let bytes: Uint8Array;
  try {
    bytes = readFileLimited(path, 16 * MiB, 'NAMM checkpoint');
  } catch (err) {
    throw new Error(`cannot read NAMM checkpoint ${path}: ${(err as Error).message}`);
  }
  return decodeNammCheckpoint(bytes, path);
}

function validateCheckpoint(c: NammCheckpoint): void {
  validateNammParams(c.params, c.scorer);
  if (c.normStats) validateNormStats(c.normStats);
  validateUpdateEvery(c.updateEvery);
  if (!NAMM_SELECTIONS.includes(c.selection)) throw new RangeError(`selection must be one of ${NAMM_SELECTIONS.join(', ')}, got ${shortJson(c.selection)}`);
  if (c.cacheSize !== undefined && (!Number.isSafeInteger(c.cacheSize) || c.cacheSize < 1)) throw new RangeError(`cacheSize must be a positive integer (at most 2^53 − 1), got ${showValue(c.cacheSize)}`);
  if (!TAP_PRECISIONS.includes(c.taps)) throw new RangeError(`taps must be ${TAP_PRECISIONS.join(' or ')}, got ${shortJson(c.taps)}`);
  if (c.provenance !== undefined && (typeof c.provenance !== 'object' || c.provenance === null || Array.isArray(c.provenance))) {
    throw new TypeError('provenance must be a plain object');
  }
  // Written out and printed as JSON, which overflows the stack on a value nested thousands deep (a damaged file's).
  if (c.provenance !== undefined && nestedDeeperThan(c.provenance, MAX_PROVENANCE_DEPTH)) throw new RangeError(`provenance is nested more than ${MAX_PROVENANCE_DEPTH} levels deep`);
}

const MAX_PROVENANCE_DEPTH = 64;

/** Whether a JSON value nests lists or objects more than `limit` deep (without recursion). */
function nestedDeeperThan(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(x)) stack.push([child, depth + 1]);
  }
  return false;
}

function align4(n: number): number { return (n + 3) & ~3; }

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zlib). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
