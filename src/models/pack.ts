/**
 * Packed weights in a model (src/tensor/packed.ts): which tensors may stay packed, turning float32 matrices into a
 * packed format, and the `weights` load option.
 *
 * Only the Llama family's linear-layer and embedding matrices are packed (`model.layers.N.self_attn.{q,k,v,o}_proj`,
 * `mlp.{gate,up,down}_proj`, `model.embed_tokens`, `lm_head`): they are nearly all of a model's bytes. Norms and
 * biases stay float32, as do GPT-2 models (their Conv1D matrices are transposed at load). llama2.c checkpoints are
 * float32 files: 'packed' leaves them so, the converting storages convert them.
 */
import { quantizeQ8_0 } from './gguf.js';
import { f32ToBf16, f32ToF16 } from './safetensors.js';
import { PackedMatrix, packedBlockValues, unpackMatrix, type PackedFormat } from '../tensor/packed.js';
import type { ModelConfig, Tensor, WeightMap } from './types.js';
import { argError, checkArg } from '../util/args.js';

/**
 * How a loaded model holds its weight matrices:
 * - `auto` (the default of loadModel and the CLI): every F16, BF16 or ggml-quantised matrix (Q8_0, Q4_0, Q4_1,
 *   Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, IQ4_NL) stays packed, as its file stores it (widening would
 *   take 2–12 times the memory, and the native kernels decode faster and prefill as fast packed: README, "Packed
 *   weights"); the same results as `f32`. On the TypeScript backend it widens everything (model.ts, autoWeights);
 * - `f32` (the default of loadModelFiles, which file tools use): everything widened to float32 at load;
 * - `packed`: matrices stay in the file's format whatever it is (F16, BF16 or a ggml quantisation: exactly the same
 *   values and results as `f32`, in a half to a twelfth of the memory); float32 matrices stay float32;
 * - `q8_0`, `q4_0`, `f16`, `bf16`: as `packed`, and float32 matrices are converted to that format after loading
 *   (lossy: the model's outputs change, slightly for f16/bf16/Q8_0, more for Q4_0; the block formats need rows of a
 *   multiple of 32 values, and a matrix whose rows are not stays as it was).
 */
export const WEIGHT_STORAGES = ['auto', 'f32', 'packed', 'q8_0', 'q4_0', 'f16', 'bf16'] as const;
export type WeightStorage = (typeof WEIGHT_STORAGES)[number];

export function parseWeightStorage(value: unknown, what = 'weights'): WeightStorage {
  if (typeof value === 'string' && (WEIGHT_STORAGES as readonly string[]).includes(value)) return value as WeightStorage;
  throw new RangeError(`${what} must be one of ${WEIGHT_STORAGES.join(', ')}, got ${JSON.stringify(value)}`);
}

const PACKABLE = /^(model\.layers\.\d+\.(self_attn\.(q|k|v|o|qkv)_proj|mlp\.(gate|up|down|gate_up)_proj)|model\.embed_tokens|lm_head)\.weight$/;

/** Whether a storage keeps a packable matrix of this file format packed (the loaders' rule). */
export function keepsPacked(storage: WeightStorage, format: PackedFormat): boolean {
  return storage !== 'f32';
}

/** Whether the tensor `name` of a model with this config may be held packed. */
export function isPackableTensor(config: Pick<ModelConfig, 'arch'>, name: string, shape: readonly number[]): boolean {
  return config.arch === 'llama' && shape.length === 2 && PACKABLE.test(name);
}

/**
 * A tensor whose values are held packed. Reading `data` throws, naming the tensor: code that needs float32 values
 * must widen it (`tensorValues`) or load the model with `weights: 'f32'`, and can never read an empty array by
 * mistake.
 */
export function packedTensor(name: string, packed: PackedMatrix): Tensor {
  return {
    shape: [packed.rows, packed.cols],
    packed,
    get data(): Float32Array {
      throw new Error(`weight "${name}" is held packed (${packed.format}); this needs float32 weights: widen it with tensorValues() or load the model with weights: 'f32'`);
    },
  };
}

/** Refuses argument `t` of `fn` unless it is a Tensor: float32 `data`, or a `packed` matrix. */
function checkTensor(fn: string, t: unknown): asserts t is Tensor {
  const o = t as Partial<Tensor> | null;
  if (o === null || typeof o !== 'object' || !(o.packed instanceof PackedMatrix || o.data instanceof Float32Array)) {
    throw argError(fn, 't', 'a tensor ({ shape, data: Float32Array } or { shape, packed })', t);
  }
}

/** A tensor's values as float32: its own array, or a new widened copy of a packed tensor. */
export function tensorValues(t: Tensor): Float32Array {
  checkTensor('tensorValues', t);
  return t.packed ? unpackMatrix(t.packed) : t.data;
}

/** Bytes a tensor holds in memory. */
export function tensorBytes(t: Tensor): number {
  return t.packed ? t.packed.byteLength : t.data.byteLength;
}

/** The identity of a tensor's storage (tied weights share one), for counting bytes once. */
export function tensorStorage(t: Tensor): object {
  return t.packed ?? t.data;
}

/** The formats float32 matrices can be converted to (the k-quants are read from files only). */
const CONVERTIBLE: readonly PackedFormat[] = ['f16', 'bf16', 'q8_0', 'q4_0'];

/**
 * float32 values `[rows, cols]` packed into `format`; null when the row length does not fit the format's blocks. A
 * finite value the format cannot hold (beyond float16's ±65,504; a Q8_0/Q4_0 block whose float16 scale would
 * overflow, which would widen to infinities or NaN) is a RangeError naming `what`, as the file writers refuse it.
 */
export function packMatrix(data: Float32Array, rows: number, cols: number, format: PackedFormat, what = 'matrix'): PackedMatrix | null {
  if (!CONVERTIBLE.includes(format)) {
    throw new RangeError(`packMatrix: cannot convert to "${String(format)}" (float32 matrices convert to ${CONVERTIBLE.join(', ')})`);
  }
  if (data.length !== rows * cols) throw new RangeError(`a ${rows}×${cols} matrix has ${rows * cols} values, got ${data.length}`);
  if (cols % packedBlockValues(format) !== 0) return null;
  let packed: PackedMatrix;
  if (format === 'q8_0') packed = new PackedMatrix(format, rows, cols, quantizeQ8_0(data));
  else if (format === 'q4_0') packed = new PackedMatrix(format, rows, cols, quantizeQ4_0(data));
  else {
    const half = new Uint16Array(data.length);
    const convert = format === 'f16' ? f32ToF16 : f32ToBf16;
    for (let i = 0; i < data.length; i++) half[i] = convert(data[i]!);
    packed = new PackedMatrix(format, rows, cols, new Uint8Array(half.buffer));
  }
  const back = unpackMatrix(packed);
  for (let i = 0; i < data.length; i++) {
    if (Number.isFinite(data[i]!) && !Number.isFinite(back[i]!)) {
      throw new RangeError(`${what} holds ${data[i]} (value ${i}), beyond what ${format} can hold (it would become ${back[i]}); load it with another weights storage`);
    }
  }
  return packed;
}

/**
 * A tensor as `storage` holds it: with a converting storage (q8_0, q4_0, f16, bf16) a packable float32 matrix is
 * converted (see packMatrix); anything else is returned as it is.
 */
export function storedTensor(config: Pick<ModelConfig, 'arch'>, name: string, t: Tensor, storage: WeightStorage): Tensor {
  if (storage === 'auto' || storage === 'f32' || storage === 'packed' || t.packed || !isPackableTensor(config, name, t.shape)) return t;
  const packed = packMatrix(t.data, t.shape[0]!, t.shape[1]!, storage, `weight "${name}"`);
  return packed ? packedTensor(name, packed) : t;
}

/**
 * float32 → ggml Q4_0 blocks as ggml's reference quantiser does it, in float32 arithmetic: the value of largest
 * magnitude m (its sign kept) gives d = m / −8; q = min(15, trunc(x/d + 8.5)); value j in the low nibble of byte j,
 * value j + 16 in its high nibble.
 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  checkArg('quantizeQ4_0', 'x', x, 'Float32Array');
  if (x.length % 32 !== 0) throw new Error(`Q4_0 needs a multiple of 32 values, got ${x.length}`);
  const out = new Uint8Array((x.length / 32) * 18);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0, max = 0;
    for (let i = 0; i < 32; i++) {
      const v = x[b * 32 + i]!;
      // NaN or ±∞ made the block's scale NaN or ∞ and its 18 bytes garbage, without a word.
      if (!Number.isFinite(v)) throw new RangeError(`quantizeQ4_0: x[${b * 32 + i}] is ${v}; Q4_0 holds finite values only`);
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    view.setUint16(b * 18, f32ToF16(d), true);
    const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q(x[b * 32 + j]!) | (q(x[b * 32 + j + 16]!) << 4);
  }
  return out;
}

/**
 * Applies a `weights` storage to a loaded model's map in place: `q8_0`, `q4_0`, `f16` and `bf16` convert the packable
 * float32 matrices (the GGUF and safetensors loaders convert each as they read it, so a model is never whole in
 * float32, and keep packable file formats packed for every storage but `f32`). Tied tensors stay one object.
 * Returns the number of tensors converted.
 */
export function convertWeights(config: ModelConfig, weights: WeightMap, storage: WeightStorage): number {
  checkArg('convertWeights', 'config', config, 'object', 'a model config');
  checkArg('convertWeights', 'weights', weights, 'Map', 'a weight Map (name → tensor)');
  if (!WEIGHT_STORAGES.includes(storage)) throw argError('convertWeights', 'storage', WEIGHT_STORAGES.map((s) => `"${s}"`).join(', '), storage);
  if (storage === 'auto' || storage === 'f32' || storage === 'packed') return 0;
  const done = new Map<Tensor, Tensor>();
  let converted = 0;
  for (const [name, t] of weights) {
    if (t.packed || !isPackableTensor(config, name, t.shape)) continue;
    let out = done.get(t);
    if (!out) {
      out = storedTensor(config, name, t, storage);
      if (out !== t) converted++;
      done.set(t, out);
    }
    weights.set(name, out);
  }
  return converted;
}

/** A packed tensor widened back (for code that needs float32 values), or the tensor itself. */
export function widenTensor(t: Tensor): Tensor {
  checkTensor('widenTensor', t);
  return t.packed ? { shape: [...t.shape], data: unpackMatrix(t.packed) } : t;
}
