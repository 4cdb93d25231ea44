/**
 * Phi-3's fused projections (Phi-3, Phi-3.5-mini, Phi-4-mini; transformers' Phi3Attention and Phi3MLP): one
 * `qkv_proj` whose rows are the queries', then the keys', then the values' (nHeads·headDim, nKvHeads·headDim and
 * nKvHeads·headDim rows), and one `gate_up_proj` whose first intermediate_size rows are the gate's and the rest the up
 * projection's. Apart from them (and LongRoPE, src/models/rope.ts) a Phi-3 layer is a Llama layer, so the loaders
 * split the fused matrices into the Llama names, and the writers fuse them again for a Phi-3 config.json.
 */
import type { ModelConfig, Tensor, WeightMap } from './types.js';
import { packedTensor, tensorValues } from './pack.js';
import { PackedMatrix } from '../tensor/packed.js';

const QKV = /^model\.layers\.(\d+)\.self_attn\.qkv_proj\.(weight|bias)$/;
const GATE_UP = /^model\.layers\.(\d+)\.mlp\.gate_up_proj\.(weight|bias)$/;

/** Rows [r0, r1) of a matrix (or entries of a vector) as a tensor of their own, sharing the storage (packed or not). */
function rowSlice(t: Tensor, r0: number, r1: number, name: string): Tensor {
  const cols = t.shape.length > 1 ? t.shape[1]! : 1;
  const shape = t.shape.length > 1 ? [r1 - r0, cols] : [r1 - r0];
  if (t.packed) {
    const p = t.packed;
    return packedTensor(name, new PackedMatrix(p.format, r1 - r0, p.cols, p.bytes.subarray(r0 * p.rowBytes, r1 * p.rowBytes)));
  }
  return { shape, data: t.data.subarray(r0 * cols, r1 * cols) };
}

/** The fused projections' parts: [name suffix, rows] in the order they are stacked. */
function parts(config: ModelConfig, fused: 'qkv' | 'gate_up'): [string, number][] {
  const c = config;
  return fused === 'qkv'
    ? [['self_attn.q_proj', c.nHeads * c.headDim], ['self_attn.k_proj', c.nKvHeads * c.headDim], ['self_attn.v_proj', c.nKvHeads * c.headDim]]
    : [['mlp.gate_proj', c.intermediateSize], ['mlp.up_proj', c.intermediateSize]];
}

/**
 * Replaces, in place, every layer's `self_attn.qkv_proj` and `mlp.gate_up_proj` by the q/k/v and gate/up tensors they
 * stack (views of the same storage: nothing is copied). A fused matrix whose rows do not add up to its parts, or a
 * layer that holds a part both fused and on its own, is refused with the tensor named; `source` names the file.
 */
export function splitPhi3Weights(config: ModelConfig, weights: WeightMap, source: string): void {
  for (const [name, t] of [...weights]) {
    const m = QKV.exec(name) ?? GATE_UP.exec(name);
    if (!m) continue;
    const fused = QKV.test(name) ? 'qkv' : 'gate_up';
    const list = parts(config, fused);
    const rows = list.reduce((a, [, r]) => a + r, 0);
    const cols = config.hiddenSize;
    const want = m[2] === 'weight' ? [rows, cols] : [rows];
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${source}: tensor "${name}" has shape [${t.shape.join(', ')}]; this config's ${fused === 'qkv' ? 'queries, keys and values' : 'gate and up projections'} stack to [${want.join(', ')}]`);
    }
    weights.delete(name);
    let r0 = 0;
    for (const [part, n] of list) {
      const partName = `model.layers.${m[1]}.${part}.${m[2]}`;
      if (weights.has(partName)) throw new Error(`${source}: layer ${m[1]} holds "${partName}" both on its own and inside "${name}"`);
      weights.set(partName, rowSlice(t, r0, r0 + n, partName));
      r0 += n;
    }
  }
}

/**
 * The weights as a Phi-3 checkpoint stores them: each layer's q/k/v stacked into `qkv_proj` and gate/up into
 * `gate_up_proj` (float32: views where the parts already lie in order in one buffer, else copies), every other
 * tensor as it is. The inverse of splitPhi3Weights.
 */
export function fusePhi3Weights(config: ModelConfig, weights: WeightMap): WeightMap {
  const out: WeightMap = new Map();
  const fusedDone = new Set<string>();
  for (const [name, t] of weights) {
    const m = /^model\.layers\.(\d+)\.(self_attn\.[qkv]_proj|mlp\.(?:gate|up)_proj)\.(weight|bias)$/.exec(name);
    if (!m) { out.set(name, t); continue; }
    const fused = m[2]!.startsWith('self_attn') ? 'qkv' : 'gate_up';
    const fusedName = `model.layers.${m[1]}.${fused === 'qkv' ? 'self_attn.qkv_proj' : 'mlp.gate_up_proj'}.${m[3]}`;
    if (fusedDone.has(fusedName)) continue;
    fusedDone.add(fusedName);
    const pieces = parts(config, fused).map(([part]) => {
      const p = weights.get(`model.layers.${m[1]}.${part}.${m[3]}`);
      if (!p) throw new Error(`cannot write a Phi-3 checkpoint: "${fusedName}" needs "model.layers.${m[1]}.${part}.${m[3]}", which the weights do not hold`);
      return p;
    });
    const rows = parts(config, fused).reduce((a, [, r]) => a + r, 0);
    out.set(fusedName, { shape: t.shape.length > 1 ? [rows, t.shape[1]!] : [rows], data: stacked(pieces) });
  }
  return out;
}

/**
 * The values of tensors stacked row after row: a view when they are float32 views that follow each other in one
 * buffer (the parts splitPhi3Weights made of a float32 matrix, so that writing a model does not copy its projections),
 * else a float32 copy (widening packed parts).
 */
function stacked(pieces: Tensor[]): Float32Array {
  const first = pieces[0]!.packed ? null : pieces[0]!.data;
  let end = first ? first.byteOffset + first.byteLength : -1;
  const adjacent = first !== null && pieces.slice(1).every((p) => {
    if (p.packed || p.data.buffer !== first.buffer || p.data.byteOffset !== end) return false;
    end += p.data.byteLength;
    return true;
  });
  if (adjacent) return new Float32Array(first.buffer, first.byteOffset, (end - first.byteOffset) / 4);
  const values = pieces.map(tensorValues);
  const data = new Float32Array(values.reduce((a, v) => a + v.length, 0));
  let at = 0;
  for (const v of values) { data.set(v, at); at += v.length; }
  return data;
}

/** Whether a config is written as a Phi-3 config.json (toHfConfig), whose checkpoint stores the fused projections. */
export function isPhi3Checkpoint(config: ModelConfig): boolean {
  return config.arch === 'llama' && config.modelType === 'phi3' && !config.qkNorm;
}

/** The weights under the names a config.json of this config reads: fused for Phi-3, as they are otherwise. */
export function hfCheckpointWeights(config: ModelConfig, weights: WeightMap): WeightMap {
  return isPhi3Checkpoint(config) ? fusePhi3Weights(config, weights) : weights;
}
