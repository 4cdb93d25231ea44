/**
 * Training forward and backward of the Llama family (RMSNorm, RoPE, grouped-query attention, SwiGLU), written out
 * op by op in the order of `src/models/llama.ts`, which computes the same function for inference. Parameters use
 * the Hugging Face names and `[out, in]` layouts, so export is a copy.
 */
import type { ModelConfig, WeightMap } from '../models/types.js';
import { ropeAttentionFactor, ropeInvFreq } from '../models/rope.js';
import { swigluBackward, swigluForward } from './ops/activation.js';
import { attentionBackwardGemm, attentionForwardGemm } from './ops/attention-gemm.js';
import { crossEntropyForwardBackward, crossEntropyLoss, type LossSum } from './ops/cross-entropy.js';
import { embeddingBackward, embeddingForward } from './ops/embedding.js';
import { linearBackward, linearForward } from './ops/linear.js';
import { rmsNormBackward, rmsNormForward } from './ops/norm.js';
import { ropeApply, ropeTable, type RopeTable } from './ops/rope.js';
import type { Gemm, Precision, Vec } from './ops/types.js';
import { checkSequence, loadInto, toF32, type TrainableModel, type TrainInit } from './model.js';
import { Arena, ParamStore, type ParamSpec } from './params.js';

const EMBED = 'model.embed_tokens.weight', HEAD = 'lm_head.weight', FINAL_NORM = 'model.norm.weight';

interface LayerNames {
  attnNorm: string; wq: string; wk: string; wv: string; bq: string; bk: string; bv: string; wo: string;
  mlpNorm: string; wGate: string; wUp: string; wDown: string;
}

function layerNames(l: number): LayerNames {
  const p = `model.layers.${l}.`;
  return {
    attnNorm: p + 'input_layernorm.weight', wq: p + 'self_attn.q_proj.weight', wk: p + 'self_attn.k_proj.weight',
    wv: p + 'self_attn.v_proj.weight', bq: p + 'self_attn.q_proj.bias', bk: p + 'self_attn.k_proj.bias',
    bv: p + 'self_attn.v_proj.bias', wo: p + 'self_attn.o_proj.weight', mlpNorm: p + 'post_attention_layernorm.weight',
    wGate: p + 'mlp.gate_proj.weight', wUp: p + 'mlp.up_proj.weight', wDown: p + 'mlp.down_proj.weight',
  };
}

/** Parameter list with GPT-2-style init: N(0, 0.02), residual output projections scaled by 1/√(2·layers). */
export function llamaParamSpecs(c: ModelConfig, initStd = 0.02): ParamSpec[] {
  if (c.arch !== 'llama') throw new Error(`llamaParamSpecs needs a llama config, got ${c.arch}`);
  if (c.attnOutBias || c.mlpBias) throw new Error('training Llama models with o_proj / MLP biases is not supported');
  // The trainer's forward and backward have no q/k norm step; a Qwen3 trained without one would be another model.
  if (c.gemma) throw new Error('training Gemma 3 models is not supported (its layer is not the trainer\'s Llama layer)');
  if (c.qkNorm) throw new Error('training models with per-head q/k norms (Qwen3) is not supported');
  // Its attention sees every earlier token: a windowed model would train as another one past its window.
  if (c.slidingWindow !== undefined) throw new Error(`training models with a sliding window (${c.slidingWindow} tokens) is not supported`);
  if (c.ropeScaling.type === 'dynamic') throw new Error('training with dynamic RoPE scaling is not supported (its base depends on the sequence length)');
  const D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, qDim = c.nHeads * hd, kvDim = c.nKvHeads * hd;
  const normal = (std: number) => ({ kind: 'normal', std }) as const;
  const ones = { kind: 'const', value: 1 } as const, zeros = { kind: 'const', value: 0 } as const;
  const residualStd = initStd / Math.sqrt(2 * c.nLayers);
  const specs: ParamSpec[] = [{ name: EMBED, shape: [c.vocabSize, D], decay: false, init: normal(initStd) }];
  for (let l = 0; l < c.nLayers; l++) {
    const n = layerNames(l);
    specs.push(
      { name: n.attnNorm, shape: [D], decay: false, init: ones },
      { name: n.wq, shape: [qDim, D], decay: true, init: normal(initStd) },
      { name: n.wk, shape: [kvDim, D], decay: true, init: normal(initStd) },
      { name: n.wv, shape: [kvDim, D], decay: true, init: normal(initStd) },
    );
    if (c.attnQkvBias) {
      specs.push(
        { name: n.bq, shape: [qDim], decay: false, init: zeros },
        { name: n.bk, shape: [kvDim], decay: false, init: zeros },
        { name: n.bv, shape: [kvDim], decay: false, init: zeros },
      );
    }
    specs.push(
      { name: n.wo, shape: [D, qDim], decay: true, init: normal(residualStd) },
      { name: n.mlpNorm, shape: [D], decay: false, init: ones },
      { name: n.wGate, shape: [I, D], decay: true, init: normal(initStd) },
      { name: n.wUp, shape: [I, D], decay: true, init: normal(initStd) },
      { name: n.wDown, shape: [D, I], decay: true, init: normal(residualStd) },
    );
  }
  specs.push({ name: FINAL_NORM, shape: [D], decay: false, init: ones });
  if (!c.tieEmbeddings) specs.push({ name: HEAD, shape: [c.vocabSize, D], decay: true, init: normal(initStd) });
  return specs;
}

export class LlamaTrainModel implements TrainableModel {
  readonly params: ParamStore;
  private readonly arena: Arena;
  private readonly names: LayerNames[];

  constructor(readonly config: ModelConfig, private readonly gemm: Gemm, precision: Precision = 'f32', init: TrainInit = {}) {
    this.params = new ParamStore(llamaParamSpecs(config, init.std), precision);
    this.arena = new Arena(precision);
    this.names = Array.from({ length: config.nLayers }, (_, l) => layerNames(l));
  }

  private headName(): string { return this.config.tieEmbeddings ? EMBED : HEAD; }

  /**
   * The forward pass, keeping every activation the backward reads: per layer the residual input `xin`, the
   * normed inputs, rotated q/k, v, attention output and log-sum-exp, the mid residual, gate/up and their product.
   * Ends with the final norm's output in `hf`; returns the logits buffer `[T, V]`.
   */
  private forward(ids: Int32Array, rope: RopeTable): Vec {
    const c = this.config, T = ids.length, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
    const qDim = c.nHeads * hd, kvDim = c.nKvHeads * hd, P = this.params, A = this.arena, g = this.gemm;
    const scale = 1 / Math.sqrt(hd);
    let x = A.get('x0', T * D);
    embeddingForward(x, P.value(EMBED), ids, D, V);
    for (let l = 0; l < c.nLayers; l++) {
      const n = this.names[l]!;
      const h1 = A.get(`h1.${l}`, T * D), q = A.get(`q.${l}`, T * qDim), k = A.get(`k.${l}`, T * kvDim), v = A.get(`v.${l}`, T * kvDim);
      const att = A.get(`att.${l}`, T * qDim), mid = A.get(`mid.${l}`, T * D), h2 = A.get(`h2.${l}`, T * D);
      const gate = A.get(`gate.${l}`, T * I), up = A.get(`up.${l}`, T * I), act = A.get(`act.${l}`, T * I);
      const out = A.get(`x${l + 1}`, T * D);
      rmsNormForward(h1, A.stats(`rstd1.${l}`, T), x, P.value(n.attnNorm), T, D, c.normEps, g.rows);
      linearForward(g, q, h1, P.value(n.wq), c.attnQkvBias ? P.value(n.bq) : null, T, D, qDim);
      linearForward(g, k, h1, P.value(n.wk), c.attnQkvBias ? P.value(n.bk) : null, T, D, kvDim);
      linearForward(g, v, h1, P.value(n.wv), c.attnQkvBias ? P.value(n.bv) : null, T, D, kvDim);
      ropeApply(q, rope, c.nHeads, hd, c.ropeLayout, false);
      ropeApply(k, rope, c.nKvHeads, hd, c.ropeLayout, false);
      attentionForwardGemm(g, att, A.stats(`lse.${l}`, T * c.nHeads), q, k, v, T, c.nHeads, c.nKvHeads, hd, scale);
      linearForward(g, mid, att, P.value(n.wo), null, T, qDim, D);
      for (let i = 0; i < T * D; i++) mid[i] += x[i]!;
      rmsNormForward(h2, A.stats(`rstd2.${l}`, T), mid, P.value(n.mlpNorm), T, D, c.normEps, g.rows);
      linearForward(g, gate, h2, P.value(n.wGate), null, T, D, I);
      linearForward(g, up, h2, P.value(n.wUp), null, T, D, I);
      swigluForward(act, gate, up, T * I, g.rows);
      linearForward(g, out, act, P.value(n.wDown), null, T, I, D);
      for (let i = 0; i < T * D; i++) out[i] += mid[i]!;
      x = out;
    }
    const hf = A.get('hf', T * D), logits = A.get('logits', T * V);
    rmsNormForward(hf, A.stats('rstdF', T), x, P.value(FINAL_NORM), T, D, c.normEps, g.rows);
    linearForward(g, logits, hf, P.value(this.headName()), null, T, D, V);
    return logits;
  }

  private rope(T: number): RopeTable {
    const positions = new Int32Array(T);
    for (let t = 0; t < T; t++) positions[t] = t;
    return ropeTable(positions, ropeInvFreq(this.config, T), ropeAttentionFactor(this.config));
  }

  logits(ids: Int32Array): Vec {
    checkSequence(ids, null, this.config);
    return this.forward(ids, this.rope(ids.length));
  }

  loss(ids: Int32Array, targets: Int32Array): LossSum {
    checkSequence(ids, targets, this.config);
    return crossEntropyLoss(this.forward(ids, this.rope(ids.length)), targets, ids.length, this.config.vocabSize);
  }

  forwardBackward(ids: Int32Array, targets: Int32Array, gradScale: number): LossSum {
    checkSequence(ids, targets, this.config);
    const c = this.config, T = ids.length, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
    const qDim = c.nHeads * hd, kvDim = c.nKvHeads * hd, P = this.params, A = this.arena, g = this.gemm;
    const scale = 1 / Math.sqrt(hd);
    const rope = this.rope(T);
    const logits = this.forward(ids, rope);
    const loss = crossEntropyForwardBackward(logits, targets, T, V, gradScale, g.rows);
    const dlogits = logits;

    // Head and final norm. dx is the gradient of the residual stream, carried down through the layers.
    const dh = A.get('dh', T * D), dx = A.get('dx', T * D);
    linearBackward(g, dh, P.gradOf(this.headName()), null, dlogits, A.get('hf', T * D), P.value(this.headName()), T, D, V, false);
    dx.fill(0);
    rmsNormBackward(dx, P.gradOf(FINAL_NORM), dh, A.get(`x${c.nLayers}`, T * D), P.value(FINAL_NORM), A.stats('rstdF', T), T, D, g.rows);

    const dAct = A.get('dAct', T * I), dGate = A.get('dGate', T * I), dUp = A.get('dUp', T * I);
    const dAtt = A.get('dAtt', T * qDim), dq = A.get('dq', T * qDim), dk = A.get('dk', T * kvDim), dv = A.get('dv', T * kvDim);
    for (let l = c.nLayers - 1; l >= 0; l--) {
      const n = this.names[l]!;
      const xin = A.get(`x${l}`, T * D), h1 = A.get(`h1.${l}`, T * D), q = A.get(`q.${l}`, T * qDim);
      const k = A.get(`k.${l}`, T * kvDim), v = A.get(`v.${l}`, T * kvDim), att = A.get(`att.${l}`, T * qDim);
      const mid = A.get(`mid.${l}`, T * D), h2 = A.get(`h2.${l}`, T * D);
      const gate = A.get(`gate.${l}`, T * I), up = A.get(`up.${l}`, T * I), act = A.get(`act.${l}`, T * I);

      // MLP: out = mid + down(silu(gate(h2)) · up(h2)); the skip path leaves dx as d(mid) so far.
      linearBackward(g, dAct, P.gradOf(n.wDown), null, dx, act, P.value(n.wDown), T, I, D, false);
      swigluBackward(dGate, dUp, dAct, gate, up, T * I, g.rows);
      linearBackward(g, dh, P.gradOf(n.wGate), null, dGate, h2, P.value(n.wGate), T, D, I, false);
      linearBackward(g, dh, P.gradOf(n.wUp), null, dUp, h2, P.value(n.wUp), T, D, I, true);
      rmsNormBackward(dx, P.gradOf(n.mlpNorm), dh, mid, P.value(n.mlpNorm), A.stats(`rstd2.${l}`, T), T, D, g.rows);

      // Attention: mid = xin + o(attention(rope(q(h1)), rope(k(h1)), v(h1))).
      linearBackward(g, dAtt, P.gradOf(n.wo), null, dx, att, P.value(n.wo), T, qDim, D, false);
      attentionBackwardGemm(g, dq, dk, dv, dAtt, q, k, v, att, A.stats(`lse.${l}`, T * c.nHeads), T, c.nHeads, c.nKvHeads, hd, scale);
      ropeApply(dq, rope, c.nHeads, hd, c.ropeLayout, true);
      ropeApply(dk, rope, c.nKvHeads, hd, c.ropeLayout, true);
      const bias = c.attnQkvBias;
      linearBackward(g, dh, P.gradOf(n.wq), bias ? P.gradOf(n.bq) : null, dq, h1, P.value(n.wq), T, D, qDim, false);
      linearBackward(g, dh, P.gradOf(n.wk), bias ? P.gradOf(n.bk) : null, dk, h1, P.value(n.wk), T, D, kvDim, true);
      linearBackward(g, dh, P.gradOf(n.wv), bias ? P.gradOf(n.bv) : null, dv, h1, P.value(n.wv), T, D, kvDim, true);
      rmsNormBackward(dx, P.gradOf(n.attnNorm), dh, xin, P.value(n.attnNorm), A.stats(`rstd1.${l}`, T), T, D, g.rows);
    }
    // With tied embeddings the head's gradient is already in EMBED's slot; the lookup's adds to it.
    embeddingBackward(P.gradOf(EMBED), dx, ids, D);
    return loss;
  }

  toHfWeights(): WeightMap {
    const w: WeightMap = new Map();
    for (const e of this.params.entries) w.set(e.name, { shape: [...e.shape], data: toF32(this.params.value(e.name)) });
    return w;
  }

  loadHfWeights(weights: WeightMap): void {
    for (const e of this.params.entries) loadInto(this.params.value(e.name), weights, e.name, e.shape);
  }
}
