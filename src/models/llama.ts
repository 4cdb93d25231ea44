/**
 * The Llama family (Llama 2/3, Mistral, Qwen2, Qwen3, SmolLM, TinyLlama): RMSNorm, RoPE, grouped-query attention,
 * SwiGLU; Qwen3 adds an RMSNorm over each query and key head before RoPE.
 * Each step is written out in order, llm.c style; the attention itself is the session's (cache + memory policy).
 */
import type { Backend } from '../tensor/backend.js';
import { requireTensor, Scratch, type AttendFn, type DecoderArch } from './arch.js';
import { ropeAttentionFactor, ropeInvFreq, scaleRotaryDims } from './rope.js';
import type { ModelConfig, Tensor, WeightMap } from './types.js';
import { tensorBytes, tensorStorage } from './pack.js';
import { unpackRows, type Weight } from '../tensor/packed.js';

/** A matrix's weights as the GEMM takes them: packed when held packed, else its float32 values. */
function weightOf(t: Tensor): Weight {
  return t.packed ?? t.data;
}

interface LlamaLayer {
  attnNorm: Float32Array;
  wq: Weight; wk: Weight; wv: Weight; wo: Weight;
  bq: Float32Array | null; bk: Float32Array | null; bv: Float32Array | null; bo: Float32Array | null;
  /** Qwen3's per-head norms of queries and keys `[headDim]` (null without them). */
  qNorm: Float32Array | null; kNorm: Float32Array | null;
  mlpNorm: Float32Array;
  wGate: Weight; wUp: Weight; wDown: Weight;
  bGate: Float32Array | null; bUp: Float32Array | null; bDown: Float32Array | null;
}

export class LlamaArch implements DecoderArch {
  private readonly layers: LlamaLayer[];
  /** Token embeddings `[vocab, D]`, float32 or packed (a row widened per token). */
  private readonly embed: Weight;
  private readonly finalNorm: Float32Array;
  private readonly lmHead: Weight;
  private readonly scratch = new Scratch();
  readonly weightBytes: number;

  constructor(readonly config: ModelConfig, w: WeightMap) {
    const c = config, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize;
    const qDim = c.nHeads * hd, kvDim = c.nKvHeads * hd;
    // Matrices may be held packed (src/models/pack.ts); norms and biases are always float32.
    const mat = (name: string, shape: number[]): Weight => weightOf(requireTensor(w, name, shape));
    this.embed = mat('model.embed_tokens.weight', [c.vocabSize, D]);
    this.finalNorm = requireTensor(w, 'model.norm.weight', [D]).data;
    this.lmHead = w.has('lm_head.weight') ? mat('lm_head.weight', [c.vocabSize, D]) : this.embed;
    const bias = (name: string, n: number) => (c.attnQkvBias ? requireTensor(w, name, [n]).data : null);
    // attention_bias also covers o_proj (Llama, Mistral; not Qwen2), mlp_bias the three MLP projections.
    const outBias = (name: string, n: number) => (c.attnOutBias ? requireTensor(w, name, [n]).data : null);
    const mlpBias = (name: string, n: number) => (c.mlpBias ? requireTensor(w, name, [n]).data : null);
    const headNorm = (name: string) => (c.qkNorm ? requireTensor(w, name, [hd]).data : null);
    this.layers = [];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}.`;
      this.layers.push({
        attnNorm: requireTensor(w, p + 'input_layernorm.weight', [D]).data,
        wq: mat(p + 'self_attn.q_proj.weight', [qDim, D]),
        wk: mat(p + 'self_attn.k_proj.weight', [kvDim, D]),
        wv: mat(p + 'self_attn.v_proj.weight', [kvDim, D]),
        wo: mat(p + 'self_attn.o_proj.weight', [D, qDim]),
        bq: bias(p + 'self_attn.q_proj.bias', qDim), bk: bias(p + 'self_attn.k_proj.bias', kvDim), bv: bias(p + 'self_attn.v_proj.bias', kvDim),
        bo: outBias(p + 'self_attn.o_proj.bias', D),
        qNorm: headNorm(p + 'self_attn.q_norm.weight'), kNorm: headNorm(p + 'self_attn.k_norm.weight'),
        mlpNorm: requireTensor(w, p + 'post_attention_layernorm.weight', [D]).data,
        wGate: mat(p + 'mlp.gate_proj.weight', [I, D]),
        wUp: mat(p + 'mlp.up_proj.weight', [I, D]),
        wDown: mat(p + 'mlp.down_proj.weight', [D, I]),
        bGate: mlpBias(p + 'mlp.gate_proj.bias', I), bUp: mlpBias(p + 'mlp.up_proj.bias', I), bDown: mlpBias(p + 'mlp.down_proj.bias', D),
      });
    }
    const seen = new Set<object>();
    let bytes = 0;
    for (const t of w.values()) if (!seen.has(tensorStorage(t))) { seen.add(tensorStorage(t)); bytes += tensorBytes(t); }
    this.weightBytes = bytes;
  }

  forward(be: Backend, ids: Int32Array, positions: Int32Array, attend: AttendFn, logitsFor: 'last' | 'all', seqLength?: number): Float32Array {
    const c = this.config, n = ids.length, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
    const qDim = c.nHeads * hd, kvDim = c.nKvHeads * hd;
    const s = this.scratch;
    const x = s.get('x', n * D), h = s.get('h', n * D), tmp = s.get('tmp', n * D);
    const q = s.get('q', n * qDim), k = s.get('k', n * kvDim), v = s.get('v', n * kvDim), att = s.get('att', n * qDim);
    const gate = s.get('gate', n * I), up = s.get('up', n * I);
    for (let t = 0; t < n; t++) {
      const id = ids[t]!;
      if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
      if (this.embed instanceof Float32Array) x.set(this.embed.subarray(id * D, id * D + D), t * D);
      else unpackRows(this.embed, id, id + 1, x, t * D);
    }
    let maxPos = 0;
    for (let t = 0; t < n; t++) maxPos = Math.max(maxPos, positions[t]!);
    const invFreq = ropeInvFreq(c, Math.max(maxPos + 1, seqLength ?? 0));
    const ropeFactor = ropeAttentionFactor(c);
    for (let l = 0; l < c.nLayers; l++) {
      const L = this.layers[l]!;
      be.rmsNorm(h, x, L.attnNorm, n, D, c.normEps);
      be.matmulABt(h, L.wq, q, n, D, qDim);
      be.matmulABt(h, L.wk, k, n, D, kvDim);
      be.matmulABt(h, L.wv, v, n, D, kvDim);
      if (L.bq) { be.addBias(q, L.bq, n, qDim); be.addBias(k, L.bk!, n, kvDim); be.addBias(v, L.bv!, n, kvDim); }
      // Qwen3: each head's query and key normalised over its headDim values (rows of hd), before they are rotated.
      if (L.qNorm) {
        be.rmsNorm(q, q, L.qNorm, n * c.nHeads, hd, c.normEps);
        be.rmsNorm(k, k, L.kNorm!, n * c.nKvHeads, hd, c.normEps);
      }
      be.rope(q, n, c.nHeads, hd, positions, invFreq, c.ropeLayout);
      be.rope(k, n, c.nKvHeads, hd, positions, invFreq, c.ropeLayout);
      if (ropeFactor !== 1) {
        scaleRotaryDims(q, n, c.nHeads, hd, 2 * invFreq.length, ropeFactor);
        scaleRotaryDims(k, n, c.nKvHeads, hd, 2 * invFreq.length, ropeFactor);
      }
      attend(l, q, k, v, n, att);
      be.matmulABt(att, L.wo, tmp, n, qDim, D);
      if (L.bo) be.addBias(tmp, L.bo, n, D);
      be.add(x, x, tmp, n * D);
      be.rmsNorm(h, x, L.mlpNorm, n, D, c.normEps);
      be.matmulABt(h, L.wGate, gate, n, D, I);
      be.matmulABt(h, L.wUp, up, n, D, I);
      if (L.bGate) { be.addBias(gate, L.bGate, n, I); be.addBias(up, L.bUp!, n, I); }
      be.siluMul(gate, gate, up, n * I);
      be.matmulABt(gate, L.wDown, tmp, n, I, D);
      if (L.bDown) be.addBias(tmp, L.bDown, n, D);
      be.add(x, x, tmp, n * D);
    }
    const first = logitsFor === 'last' ? n - 1 : 0, rows = n - first;
    const last = x.subarray(first * D, n * D);
    be.rmsNorm(h, last, this.finalNorm, rows, D, c.normEps);
    const logits = new Float32Array(rows * V);
    be.matmulABt(h, this.lmHead, logits, rows, D, V);
    return logits;
  }
}
