/**
 * The Llama family (Llama 2/3, Mistral, Qwen2, Qwen3, Phi-3, Gemma 3, SmolLM, TinyLlama): RMSNorm, RoPE, grouped-query
 * attention, SwiGLU; Qwen3 adds an RMSNorm over each query and key head before RoPE. Gemma 3 (ModelConfig.gemma)
 * also: embeddings scaled by √hidden, norms by 1 + weight, the attention and MLP outputs normalised before their
 * residual adds, GeGLU (tanh GELU), and its own RoPE base on the sliding layers.
 * Each step is written out in order, llm.c style; the attention itself is the session's (cache + memory policy).
 */
import type { Backend } from '../tensor/backend.js';
import { requireTensor, Scratch, type AttendFn, type DecoderArch } from './arch.js';
import { layerWindows, ropeAttentionFactor, ropeInvFreq, scaleRotaryDims } from './rope.js';
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
  /** Gemma: the norms of the attention output and of the MLP output, before each residual add (null otherwise). */
  attnOutNorm: Float32Array | null; mlpOutNorm: Float32Array | null;
  /** Gemma 3: a sliding layer, which turns at the sliding layers' own RoPE base. */
  localRope: boolean;
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
    this.lmHead = w.has('lm_head.weight') ? mat('lm_head.weight', [c.vocabSize, D]) : this.embed;
    const bias = (name: string, n: number) => (c.attnQkvBias ? requireTensor(w, name, [n]).data : null);
    // attention_bias also covers o_proj (Llama, Mistral; not Qwen2), mlp_bias the three MLP projections.
    const outBias = (name: string, n: number) => (c.attnOutBias ? requireTensor(w, name, [n]).data : null);
    const mlpBias = (name: string, n: number) => (c.mlpBias ? requireTensor(w, name, [n]).data : null);
    // Gemma's norm weights are offsets from 1: the layer takes 1 + w (a copy; the weight map keeps the file's values).
    const norm = (name: string, n: number): Float32Array => {
      const t = requireTensor(w, name, [n]).data;
      return c.gemma ? Float32Array.from(t, (x) => 1 + x) : t;
    };
    const headNorm = (name: string) => (c.qkNorm ? norm(name, hd) : null);
    const windows = layerWindows(c);
    this.finalNorm = norm('model.norm.weight', D);
    this.layers = [];
    for (let l = 0; l < c.nLayers; l++) {
      const p = `model.layers.${l}.`;
      this.layers.push({
        attnNorm: norm(p + 'input_layernorm.weight', D),
        wq: mat(p + 'self_attn.q_proj.weight', [qDim, D]),
        wk: mat(p + 'self_attn.k_proj.weight', [kvDim, D]),
        wv: mat(p + 'self_attn.v_proj.weight', [kvDim, D]),
        wo: mat(p + 'self_attn.o_proj.weight', [D, qDim]),
        bq: bias(p + 'self_attn.q_proj.bias', qDim), bk: bias(p + 'self_attn.k_proj.bias', kvDim), bv: bias(p + 'self_attn.v_proj.bias', kvDim),
        bo: outBias(p + 'self_attn.o_proj.bias', D),
        qNorm: headNorm(p + 'self_attn.q_norm.weight'), kNorm: headNorm(p + 'self_attn.k_norm.weight'),
        // Gemma's post_attention_layernorm normalises the attention output; its MLP's input norm is another one.
        mlpNorm: norm(p + (c.gemma ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight'), D),
        attnOutNorm: c.gemma ? norm(p + 'post_attention_layernorm.weight', D) : null,
        mlpOutNorm: c.gemma ? norm(p + 'post_feedforward_layernorm.weight', D) : null,
        localRope: c.gemma !== undefined && windows[l]! > 0,
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
    // Gemma: the embeddings times √hidden (a float32), each product rounded to float32.
    const embedScale = c.gemma?.embedScale;
    if (embedScale !== undefined) for (let i = 0; i < n * D; i++) x[i] = x[i]! * embedScale;
    let maxPos = 0;
    for (let t = 0; t < n; t++) maxPos = Math.max(maxPos, positions[t]!);
    const globalInvFreq = ropeInvFreq(c, Math.max(maxPos + 1, seqLength ?? 0));
    // Gemma 3's sliding layers turn at their own base, unscaled.
    const localInvFreq = c.gemma ? ropeInvFreq({ ...c, ropeTheta: c.gemma.localRopeTheta, ropeScaling: { type: 'none' } }, maxPos + 1) : globalInvFreq;
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
      const invFreq = L.localRope ? localInvFreq : globalInvFreq;
      be.rope(q, n, c.nHeads, hd, positions, invFreq, c.ropeLayout);
      be.rope(k, n, c.nKvHeads, hd, positions, invFreq, c.ropeLayout);
      // YaRN's attention factor belongs to the full layers' RoPE: Gemma 3's sliding layers turn unscaled.
      if (ropeFactor !== 1 && !L.localRope) {
        scaleRotaryDims(q, n, c.nHeads, hd, 2 * invFreq.length, ropeFactor);
        scaleRotaryDims(k, n, c.nKvHeads, hd, 2 * invFreq.length, ropeFactor);
      }
      attend(l, q, k, v, n, att);
      be.matmulABt(att, L.wo, tmp, n, qDim, D);
      if (L.bo) be.addBias(tmp, L.bo, n, D);
      if (L.attnOutNorm) be.rmsNorm(tmp, tmp, L.attnOutNorm, n, D, c.normEps);
      be.add(x, x, tmp, n * D);
      be.rmsNorm(h, x, L.mlpNorm, n, D, c.normEps);
      be.matmulABt(h, L.wGate, gate, n, D, I);
      be.matmulABt(h, L.wUp, up, n, D, I);
      if (L.bGate) { be.addBias(gate, L.bGate, n, I); be.addBias(up, L.bUp!, n, I); }
      if (c.activation === 'gelu_tanh') {
        // Gemma's GeGLU: the tanh GELU of the gate, times up (each product rounded to float32).
        be.gelu(gate, gate, n * I, 'tanh');
        for (let i = 0; i < n * I; i++) gate[i] = gate[i]! * up[i]!;
      } else be.siluMul(gate, gate, up, n * I);
      be.matmulABt(gate, L.wDown, tmp, n, I, D);
      if (L.bDown) be.addBias(tmp, L.bDown, n, D);
      if (L.mlpOutNorm) be.rmsNorm(tmp, tmp, L.mlpOutNorm, n, D, c.normEps);
      be.add(x, x, tmp, n * D);
    }
    const first = logitsFor === 'last' ? n - 1 : 0, rows = n - first;
    const last = x.subarray(first * D, n * D);
    be.rmsNorm(h, last, this.finalNorm, rows, D, c.normEps);
    const logits = new Float32Array(rows * V);
    be.matmulABt(h, this.lmHead, logits, rows, D, V);
    // Gemma's final soft-capping, when its config sets one: cap · tanh(logit / cap).
    const cap = c.gemma?.finalLogitSoftcap;
    if (cap !== undefined) for (let i = 0; i < logits.length; i++) logits[i] = cap * Math.tanh(logits[i]! / cap);
    return logits;
  }
}
