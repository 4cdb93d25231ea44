/**
 * The training checkpoint: everything needed to continue a run exactly where it stopped: weights, AdamW moments
 * and step, the data mixer's position (Rng state and counters), the step and token counters, and the config it
 * was made with. One framed file (src/evolve/checkpoint.ts: magic, length, SHA-256), written atomically.
 *
 * Payload: u32 LE header length | header JSON (UTF-8) | zero padding to a multiple of 4 | params f32 | m f32 | v f32.
 */
import { readCheckpointFile, writeCheckpointFile } from '../evolve/checkpoint.js';
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
  const header = JSON.parse(Buffer.from(payload.subarray(4, 4 + len)).toString('utf8')) as TrainCheckpointHeader;
  if (header.format !== TRAIN_CHECKPOINT_FORMAT) throw new Error(`${name}: not a ${TRAIN_CHECKPOINT_FORMAT} training checkpoint (format ${JSON.stringify(header.format)})`);
  const n = header.paramCount, start = Math.ceil((4 + len) / 4) * 4;
  if (payload.length !== start + 12 * n) throw new Error(`${name}: expected ${n} parameters (${start + 12 * n} bytes), file holds ${payload.length} bytes`);
  // Copy into an aligned buffer (the payload's offset inside the file buffer need not be a multiple of 4).
  const floats = new Float32Array(new Uint8Array(payload.subarray(start)).buffer);
  return { header, params: floats.slice(0, n), m: floats.slice(n, 2 * n), v: floats.slice(2 * n, 3 * n) };
}

export async function saveTrainCheckpoint(path: string, c: TrainCheckpoint): Promise<void> {
  await writeCheckpointFile(path, encodeTrainCheckpoint(c));
}

export async function loadTrainCheckpoint(path: string): Promise<TrainCheckpoint> {
  return decodeTrainCheckpoint(await readCheckpointFile(path), path);
}
