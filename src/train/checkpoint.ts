/**
 * The training checkpoint: everything needed to continue a run exactly where it stopped: weights, AdamW moments
 * and step, the data mixer's position (Rng state and counters), the step and token counters, and the config it
 * was made with. One framed file (src/evolve/checkpoint.ts: magic, length, SHA-256), written atomically.
 *
 * Payload: u32 LE header length | header JSON (UTF-8) | zero padding to a multiple of 4 | params f32 | m f32 | v f32.
 */
import { readCheckpointFile, writeCheckpointFile } from '../evolve/checkpoint.js';
import { Rng } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import type { MixerState } from './data.js';

export const TRAIN_CHECKPOINT_FORMAT = 'namm-train/1';

export interface TrainCheckpointHeader {
  format: string;
  step: number;
  tokensSeen: number;
  elapsedS: number;
  adamStep: number;
  paramCount: number;
  mixer: MixerState;
  config: TrainConfig;
  /**
   * The kernels that wrote it ("native/avx512", "js/scalar"): another backend or SIMD path continues the run with
   * other roundings, so a resume on it is not bit-identical to an uninterrupted run. Absent in older checkpoints.
   */
  backend?: string;
  /**
   * SHA-256 (hex) of the tokenizer.json the run trains with: a resume with another tokenizer in the folder is
   * refused by it. Absent in older checkpoints (their token-cache.bin's key is checked instead).
   */
  tokenizerSha256?: string;
}

export interface TrainCheckpoint {
  header: TrainCheckpointHeader;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export function encodeTrainCheckpoint(c: TrainCheckpoint): Uint8Array {
  const n = c.header.paramCount;
  if (c.params.length !== n || c.m.length !== n || c.v.length !== n) throw new Error('checkpoint arrays do not match paramCount');
  const json = Buffer.from(JSON.stringify(c.header), 'utf8');
  const start = Math.ceil((4 + json.length) / 4) * 4;
  const out = new Uint8Array(start + 12 * n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  const floats = new Float32Array(out.buffer, start, 3 * n);
  floats.set(c.params, 0); floats.set(c.m, n); floats.set(c.v, 2 * n);
  return out;
}

export function decodeTrainCheckpoint(payload: Uint8Array, name = 'checkpoint'): TrainCheckpoint {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload.length < 4) throw new Error(`${name}: truncated training checkpoint`);
  const len = view.getUint32(0, true);
  if (4 + len > payload.length) throw new Error(`${name}: truncated training checkpoint header`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.subarray(4, 4 + len)).toString('utf8'));
  } catch (err) {
    throw new Error(`${name}: the training checkpoint's header is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const header = checkHeader(parsed, name);
  const n = header.paramCount, start = Math.ceil((4 + len) / 4) * 4;
  if (payload.length !== start + 12 * n) throw new Error(`${name}: expected ${n} parameters (${start + 12 * n} bytes), file holds ${payload.length} bytes`);
  // Copy into an aligned buffer (the payload's offset inside the file buffer need not be a multiple of 4).
  const floats = new Float32Array(new Uint8Array(payload.subarray(start)).buffer);
  const c = { header, params: floats.slice(0, n), m: floats.slice(n, 2 * n), v: floats.slice(2 * n, 3 * n) };
  // A run resumed from non-finite weights or moments (or a negative second moment, whose square root is NaN) trains
  // on NaN and writes NaN over the run's model: refused, whatever wrote them.
  for (const [what, a, nonNegative] of [['parameter', c.params, false], ["AdamW's first moment", c.m, false], ["AdamW's second moment", c.v, true]] as const) {
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      if (!Number.isFinite(x) || (nonNegative && x < 0)) throw new Error(`${name}: ${what} ${i} of ${n} is ${x}${nonNegative && x < 0 ? ' (negative)' : ''}: the checkpoint is damaged`);
    }
  }
  return c;
}

/** The header's fields, each of the type a resume reads, or an error naming the first that is not. */
function checkHeader(h: unknown, name: string): TrainCheckpointHeader {
  const bad = (field: string, want: string, got: unknown): never => {
    const shown = got === null ? 'null' : Array.isArray(got) ? 'an array' : typeof got === 'object' ? 'an object' : typeof got === 'string' ? JSON.stringify(got.slice(0, 40)) : String(got);
    throw new Error(`${name}: the training checkpoint's header field "${field}" must be ${want}, got ${shown}`);
  };
  const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isObject(h)) return bad('(header)', 'an object', h);
  if (h.format !== TRAIN_CHECKPOINT_FORMAT) throw new Error(`${name}: not a ${TRAIN_CHECKPOINT_FORMAT} training checkpoint (format ${typeof h.format === 'string' ? JSON.stringify(h.format.slice(0, 40)) : String(h.format)})`);
  const count = (o: Record<string, unknown>, field: string, prefix = '') => {
    const x = o[field];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) bad(prefix + field, 'an integer ≥ 0', x);
  };
  for (const f of ['step', 'tokensSeen', 'adamStep', 'paramCount']) count(h, f);
  if (typeof h.elapsedS !== 'number' || !Number.isFinite(h.elapsedS) || h.elapsedS < 0) bad('elapsedS', 'a number ≥ 0', h.elapsedS);
  if (h.backend !== undefined && typeof h.backend !== 'string') bad('backend', 'a string', h.backend);
  if (h.tokenizerSha256 !== undefined && !(typeof h.tokenizerSha256 === 'string' && /^[0-9a-f]{64}$/.test(h.tokenizerSha256))) bad('tokenizerSha256', 'a SHA-256 in hex', h.tokenizerSha256);
  const mixer = h.mixer;
  if (!isObject(mixer)) return bad('mixer', 'an object', mixer);
  if (!isObject(mixer.rng)) bad('mixer.rng', 'an object', mixer.rng);
  try {
    new Rng('check').setState(mixer.rng as { s: number[]; spare: number | null });
  } catch (err) {
    throw new Error(`${name}: the training checkpoint's header field "mixer.rng" is not a random generator's state (${(err as Error).message})`);
  }
  for (const f of ['textCursor', 'taskIndex', 'epoch']) count(mixer, f, 'mixer.');
  if (mixer.memo !== undefined && !(Array.isArray(mixer.memo) && mixer.memo.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'number' && Number.isFinite(e[1])))) {
    bad('mixer.memo', 'a list of [key, rate] pairs', mixer.memo);
  }
  const config = h.config;
  if (!isObject(config)) return bad('config', 'an object', config);
  for (const f of ['model', 'tokenizer', 'data', 'training', 'optimizer']) if (!isObject(config[f])) bad(`config.${f}`, 'an object', config[f]);
  return h as unknown as TrainCheckpointHeader;
}

export async function saveTrainCheckpoint(path: string, c: TrainCheckpoint): Promise<void> {
  await writeCheckpointFile(path, encodeTrainCheckpoint(c));
}

export async function loadTrainCheckpoint(path: string): Promise<TrainCheckpoint> {
  return decodeTrainCheckpoint(await readCheckpointFile(path), path);
}
