/** What a decoder architecture offers to a Session: one forward over a chunk of tokens. */
import type { Backend } from '../tensor/backend.js';
import type { ModelConfig, WeightMap, Tensor } from './types.js';

/**
 * The session's attention step for one layer: given the chunk's rotated queries `[n, nHeads, headDim]`, keys and
 * values `[n, nKvHeads, headDim]`, it appends k/v to the cache, attends over the cache, lets the memory policy act,
 * and writes the attention output `[n, nHeads, headDim]` into `out`.
 */
export type AttendFn = (layer: number, q: Float32Array, k: Float32Array, v: Float32Array, n: number, out: Float32Array) => void;

export interface DecoderArch {
  readonly config: ModelConfig;
  /**
   * Runs the chunk `ids` at absolute `positions` through every layer. Returns logits `[rows, vocab]` for the last
   * row only (`'last'`) or for every row (`'all'`, used by perplexity). `seqLength`: the length of the whole forward
   * this chunk belongs to (a prefill cut into chunks), for length-dependent RoPE scaling (dynamic NTK), which HF
   * computes once per forward from its last position; default: this chunk's last position + 1.
   */
  forward(backend: Backend, ids: Int32Array, positions: Int32Array, attend: AttendFn, logitsFor: 'last' | 'all', seqLength?: number): Float32Array;
  /** Bytes of weights held. */
  readonly weightBytes: number;
}

/**
 * Refuses a weight map that is not one (a plain object), tensors whose values do not fill their shape, and weights
 * with layers past the config's count (a config.json saying fewer layers than the checkpoint holds):
 * each architecture reads layers 0..nLayers−1 by name, so the others were ignored and the model ran truncated,
 * with fluent-looking but wrong output and no error.
 */
export function checkWeights(config: ModelConfig, weights: WeightMap): void {
  if (!(weights instanceof Map)) {
    throw new TypeError(`weights must be a Map of parameter names to tensors (as loadModelFiles gives), got ${weights === null ? 'null' : Array.isArray(weights) ? 'an array' : typeof weights}`);
  }
  // Each tensor holds what its shape says: a short one failed at the first forward, in a kernel naming its argument.
  for (const [name, t] of weights) {
    const shape = (t as { shape?: unknown } | null)?.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new TypeError(`weight "${name}": shape must be an array of sizes`);
    const want = shape.reduce((a: number, d: number) => a * d, 1);
    const have = t.packed ? t.packed.rows * t.packed.cols : t.data instanceof Float32Array ? t.data.length : -1;
    if (have < 0) throw new TypeError(`weight "${name}": data must be a Float32Array`);
    if (have !== want) throw new RangeError(`weight "${name}" holds ${have} values but its shape [${shape.join(', ')}] needs ${want}`);
  }
  let last = -1, example = '';
  for (const name of weights.keys()) {
    const m = /^(?:model\.layers|(?:transformer\.)?h)\.(\d+)\./.exec(name);
    if (m && Number(m[1]) > last) { last = Number(m[1]); example = name; }
  }
  if (last >= config.nLayers) {
    throw new Error(`the weights hold ${last + 1} layers (up to "${example}") but the config has ${config.nLayers} (num_hidden_layers, n_layer or block_count); layers past it would be ignored`);
  }
}

export function requireTensor(w: WeightMap, name: string, shape: number[]): Tensor {
  const t = w.get(name);
  if (!t) throw new Error(`missing weight "${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`weight "${name}" has shape [${t.shape}] but [${shape}] was expected`);
  }
  return t;
}

/** Reusable per-chunk-size scratch buffers (a forward is synchronous, so one set per model is enough). */
export class Scratch {
  private bufs = new Map<string, Float32Array>();
  get(name: string, size: number): Float32Array {
    let b = this.bufs.get(name);
    if (!b || b.length < size) { b = new Float32Array(size); this.bufs.set(name, b); }
    return b.length === size ? b : b.subarray(0, size);
  }
}
