/**
 * The GPT-2 family: learned absolute positions, pre-LayerNorm blocks, GELU MLP, fused QKV stored in Conv1D layout
 * (`[in, out]`, used as x·W + b). Conv1D weights are transposed once at load to the `[out, in]` layout of the fast
 * GEMM path.
 */
import type { Backend } from '../tensor/backend.js';
import { Scratch, type AttendFn, type DecoderArch } from './arch.js';
import type { ModelConfig, Tensor, WeightMap } from './types.js';

interface Gpt2Layer {
  ln1w: Float32Array; ln1b: Float32Array;
  wq: Float32Array; wk: Float32Array; wv: Float32Array; bq: Float32Array; bk: Float32Array; bv: Float32Array;
  wo: Float32Array; bo: Float32Array;
  ln2w: Float32Array; ln2b: Float32Array;
  wFc: Float32Array; bFc: Float32Array; wProj: Float32Array; bProj: Float32Array;
}

/** Finds a GPT-2 weight stored with or without the `transformer.` prefix (both exist on the Hub). */
function gpt2Tensor(w: WeightMap, name: string, shape: number[]): Tensor {
  const t = w.get('transformer.' + name) ?? w.get(name);
  if (!t) throw new Error(`missing weight "transformer.${name}"`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`weight "${name}" has shape [${t.shape}] but [${shape}] was expected`);
  }
  return t;
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

export class Gpt2Arch implements DecoderArch {
  private readonly layers: Gpt2Layer[] = [];
  private readonly wte: Float32Array;
  private readonly wpe: Float32Array;
  private readonly lnfw: Float32Array;
  private readonly lnfb: Float32Array;
  private readonly lmHead: Float32Array;
  private readonly scratch = new Scratch();
  readonly weightBytes: number;

  constructor(readonly config: ModelConfig, w: WeightMap) {
    const c = config, D = c.hiddenSize, I = c.intermediateSize;
    if (c.nKvHeads !== c.nHeads) throw new Error('GPT-2 models have as many KV heads as query heads');
    this.wte = gpt2Tensor(w, 'wte.weight', [c.vocabSize, D]).data;
    this.wpe = gpt2Tensor(w, 'wpe.weight', [c.maxPositions, D]).data;
    this.lnfw = gpt2Tensor(w, 'ln_f.weight', [D]).data;
    this.lnfb = gpt2Tensor(w, 'ln_f.bias', [D]).data;
    const head = w.get('lm_head.weight');
    this.lmHead = head && !c.tieEmbeddings ? head.data : this.wte;
    let bytes = this.wte.byteLength + this.wpe.byteLength;
    for (let l = 0; l < c.nLayers; l++) {
      const p = `h.${l}.`;
      const attnW = transpose(gpt2Tensor(w, p + 'attn.c_attn.weight', [D, 3 * D]).data, D, 3 * D);
      const attnB = gpt2Tensor(w, p + 'attn.c_attn.bias', [3 * D]).data;
      const L: Gpt2Layer = {
        ln1w: gpt2Tensor(w, p + 'ln_1.weight', [D]).data, ln1b: gpt2Tensor(w, p + 'ln_1.bias', [D]).data,
        wq: attnW.subarray(0, D * D), wk: attnW.subarray(D * D, 2 * D * D), wv: attnW.subarray(2 * D * D),
        bq: attnB.subarray(0, D), bk: attnB.subarray(D, 2 * D), bv: attnB.subarray(2 * D),
        wo: transpose(gpt2Tensor(w, p + 'attn.c_proj.weight', [D, D]).data, D, D),
        bo: gpt2Tensor(w, p + 'attn.c_proj.bias', [D]).data,
        ln2w: gpt2Tensor(w, p + 'ln_2.weight', [D]).data, ln2b: gpt2Tensor(w, p + 'ln_2.bias', [D]).data,
        wFc: transpose(gpt2Tensor(w, p + 'mlp.c_fc.weight', [D, I]).data, D, I),
        bFc: gpt2Tensor(w, p + 'mlp.c_fc.bias', [I]).data,
        wProj: transpose(gpt2Tensor(w, p + 'mlp.c_proj.weight', [I, D]).data, I, D),
        bProj: gpt2Tensor(w, p + 'mlp.c_proj.bias', [D]).data,
      };
      bytes += 4 * (4 * D * D + 2 * D * I + 9 * D + I);
      this.layers.push(L);
    }
    this.weightBytes = bytes;
  }

  forward(be: Backend, ids: Int32Array, positions: Int32Array, attend: AttendFn, logitsFor: 'last' | 'all'): Float32Array {
    const c = this.config, n = ids.length, D = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize;
    const s = this.scratch;
    const x = s.get('x', n * D), h = s.get('h', n * D), tmp = s.get('tmp', n * D);
    const q = s.get('q', n * D), k = s.get('k', n * D), v = s.get('v', n * D), att = s.get('att', n * D), fc = s.get('fc', n * I);
    for (let t = 0; t < n; t++) {
      const id = ids[t]!, p = positions[t]!;
      if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
      if (!(p >= 0 && p < c.maxPositions)) throw new RangeError(`position ${p} is beyond this GPT-2 model's ${c.maxPositions} learned positions`);
      for (let i = 0; i < D; i++) x[t * D + i] = this.wte[id * D + i]! + this.wpe[p * D + i]!;
    }
    for (let l = 0; l < c.nLayers; l++) {
      const L = this.layers[l]!;
      be.layerNorm(h, x, L.ln1w, L.ln1b, n, D, c.normEps);
      be.matmulABt(h, L.wq, q, n, D, D); be.addBias(q, L.bq, n, D);
      be.matmulABt(h, L.wk, k, n, D, D); be.addBias(k, L.bk, n, D);
      be.matmulABt(h, L.wv, v, n, D, D); be.addBias(v, L.bv, n, D);
      attend(l, q, k, v, n, att);
      be.matmulABt(att, L.wo, tmp, n, D, D); be.addBias(tmp, L.bo, n, D);
      be.add(x, x, tmp, n * D);
      be.layerNorm(h, x, L.ln2w, L.ln2b, n, D, c.normEps);
      be.matmulABt(h, L.wFc, fc, n, D, I); be.addBias(fc, L.bFc, n, I);
      be.gelu(fc, fc, n * I, c.activation === 'gelu_erf' ? 'erf' : 'tanh');
      be.matmulABt(fc, L.wProj, tmp, n, I, D); be.addBias(tmp, L.bProj, n, D);
      be.add(x, x, tmp, n * D);
    }
    const first = logitsFor === 'last' ? n - 1 : 0, rows = n - first;
    be.layerNorm(h, x.subarray(first * D, n * D), this.lnfw, this.lnfb, rows, D, c.normEps);
    const logits = new Float32Array(rows * V);
    be.matmulABt(h, this.lmHead, logits, rows, D, V);
    return logits;
  }
}
