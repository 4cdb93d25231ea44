/**
 * Training forward and backward of the GPT-2 family (learned positions, pre-LayerNorm blocks, GELU MLP, biases
 * everywhere), written out op by op in the order of `src/models/gpt2.ts`. Internally every linear weight is kept
 * `[out, in]` with q/k/v separate (the fast GEMM layout, as the inference model arranges them at load); export
 * fuses q/k/v into `c_attn` and transposes to the Conv1D `[in, out]` layout of Hugging Face GPT-2 checkpoints.
 */
import type { GeluKind } from '../tensor/backend.js';
import type { ModelConfig, WeightMap } from '../models/types.js';
import { geluBackward, geluForward } from './ops/activation.js';
import { attentionBackwardGemm, attentionForwardGemm } from './ops/attention-gemm.js';
import { crossEntropyForwardBackward, crossEntropyLoss, type LossSum } from './ops/cross-entropy.js';
import { embeddingBackward, embeddingForward } from './ops/embedding.js';
import { linearBackward, linearForward } from './ops/linear.js';
import { layerNormBackward, layerNormForward } from './ops/norm.js';
import type { Gemm, Precision, Vec } from './ops/types.js';
import { checkSequence, toF32, type PositionInit, type TrainableModel, type TrainInit } from './model.js';
import { Arena, ParamStore, type ParamSpec } from './params.js';

const WTE = 'wte', WPE = 'wpe', LNF_W = 'ln_f.weight', LNF_B = 'ln_f.bias', HEAD = 'lm_head';

interface LayerNames {
  ln1w: string; ln1b: string; wq: string; wk: string; wv: string; bq: string; bk: string; bv: string; wo: string; bo: string;
  ln2w: string; ln2b: string; wFc: string; bFc: string; wProj: string; bProj: string;
}

function layerNames(l: number): LayerNames {
  const p = `h.${l}.`;
  return {
    ln1w: p + 'ln_1.weight', ln1b: p + 'ln_1.bias',
    wq: p + 'attn.q.weight', wk: p + 'attn.k.weight', wv: p + 'attn.v.weight', bq: p + 'attn.q.bias', bk: p + 'attn.k.bias', bv: p + 'attn.v.bias',
    wo: p + 'attn.out.weight', bo: p + 'attn.out.bias', ln2w: p + 'ln_2.weight', ln2b: p + 'ln_2.bias',
    wFc: p + 'mlp.fc.weight', bFc: p + 'mlp.fc.bias', wProj: p + 'mlp.proj.weight', bProj: p + 'mlp.proj.bias',
  };
}

function geluKind(c: ModelConfig): GeluKind {
  if (c.activation === 'gelu_tanh') return 'tanh';
  if (c.activation === 'gelu_erf') return 'erf';
  throw new Error(`GPT-2 models use a GELU activation, got ${c.activation}`);
}

/**
 * Parameter list with GPT-2's init: N(0, 0.02), positions N(0, 0.01), residual projections 0.02/√(2·layers).
 * `positionInit: 'sinusoidal'` starts the (still learned) position table from the sinusoidal encoding instead,
 * so that "the previous position" is one fixed linear map from the start; `positionStd` is the table's RMS.
 */
export function gpt2ParamSpecs(c: ModelConfig, initStd = 0.02, positionInit: PositionInit = 'normal', positionStd = initStd / 2): ParamSpec[] {
  if (c.arch !== 'gpt2') throw new Error(`gpt2ParamSpecs needs a gpt2 config, got ${c.arch}`);
  if (c.nKvHeads !== c.nHeads) throw new Error('GPT-2 models have as many KV heads as query heads');
  if (c.headDim * c.nHeads !== c.hiddenSize) throw new Error(`GPT-2: headDim × nHeads (${c.headDim}×${c.nHeads}) must equal hiddenSize ${c.hiddenSize}`);
  geluKind(c);
  const D = c.hiddenSize, I = c.intermediateSize;
  const normal = (std: number) => ({ kind: 'normal', std }) as const;
  const ones = { kind: 'const', value: 1 } as const, zeros = { kind: 'const', value: 0 } as const;
  const residualStd = initStd / Math.sqrt(2 * c.nLayers);
  const specs: ParamSpec[] = [
    { name: WTE, shape: [c.vocabSize, D], decay: false, init: normal(initStd) },
    { name: WPE, shape: [c.maxPositions, D], decay: false, init: positionInit === 'sinusoidal' ? { kind: 'sinusoidal', rms: positionStd } : normal(positionStd) },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const n = layerNames(l);
    specs.push(
      { name: n.ln1w, shape: [D], decay: false, init: ones }, { name: n.ln1b, shape: [D], decay: false, init: zeros },
      { name: n.wq, shape: [D, D], decay: true, init: normal(initStd) },
      { name: n.wk, shape: [D, D], decay: true, init: normal(initStd) },
      { name: n.wv, shape: [D, D], decay: true, init: normal(initStd) },
      { name: n.bq, shape: [D], decay: false, init: zeros }, { name: n.bk, shape: [D], decay: false, init: zeros },
      { name: n.bv, shape: [D], decay: false, init: zeros },
      { name: n.wo, shape: [D, D], decay: true, init: normal(residualStd) }, { name: n.bo, shape: [D], decay: false, init: zeros },
      { name: n.ln2w, shape: [D], decay: false, init: ones }, { name: n.ln2b, shape: [D], decay: false, init: zeros },
      { name: n.wFc, shape: [I, D], decay: true, init: normal(initStd) }, { name: n.bFc, shape: [I], decay: false, init: zeros },
      { name: n.wProj, shape: [D, I], decay: true, init: normal(residualStd) }, { name: n.bProj, shape: [D], decay: false, init: zeros },
    );
  }
  specs.push({ name: LNF_W, shape: [D], decay: false, init: ones }, { name: LNF_B, shape: [D], decay: false, init: zeros });
  if (!c.tieEmbeddings) specs.push({ name: HEAD, shape: [c.vocabSize, D], decay: true, init: normal(initStd) });
  return specs;
}

/** [rows, cols] → [cols, rows]. */
function transpose(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/**
 * A positional prior for GPT-2 models whose position table starts sinusoidal: overwrites the query and key weights
 * of heads 0..heads−1 of layer 0 so that, at initialisation, each attends to the previous position. Every weight
 * is still trained afterwards; this only gives the two-layer copying circuit (a previous-token head, then an
 * induction head reading it) its first half, which learned absolute positions otherwise take very long to find
 * (RoPE models find it within a few million tokens; see models/namm-tiny-gpt2/README.md).
 *
 * Head h uses the position table's frequency pairs i = h·hd/2 + j (j < hd/2, the fastest first): its query reads
 * (sin pω_i, cos pω_i) after ln_1 and its key the same pair rotated one position on, so q_p·k_p' is
 * β²·a²·Σ_j cos((p − p' − 1)·ω_i), largest at p' = p − 1 (a = the pair's amplitude after ln_1). β is set so that
 * the logit of the previous position exceeds that of the positions next to it by `margin`.
 */
export function wirePreviousTokenHeads(params: ParamStore, c: ModelConfig, heads: number, init: { std: number; positionStd: number }, margin = 8): void {
  const D = c.hiddenSize, hd = c.headDim;
  if (!Number.isInteger(heads) || heads < 0 || heads > c.nHeads) throw new RangeError(`previousTokenHeads must be an integer in 0..${c.nHeads}, got ${heads}`);
  if (hd % 2 !== 0 || heads * (hd / 2) > D / 2) throw new RangeError(`previousTokenHeads: ${heads} heads of ${hd} dimensions need ${heads * hd / 2} frequency pairs, the table has ${D / 2}`);
  const n = layerNames(0), wq = params.value(n.wq), wk = params.value(n.wk), bq = params.value(n.bq), bk = params.value(n.bk);
  // ln_1 of token + position at init: the position pair's amplitude relative to the input's standard deviation.
  const amp = (Math.SQRT2 * init.positionStd) / Math.sqrt(init.positionStd ** 2 + init.std ** 2);
  for (let h = 0; h < heads; h++) {
    const omegas = Array.from({ length: hd / 2 }, (_, j) => Math.pow(10000, (-2 * (h * hd / 2 + j)) / D));
    // Σ_j cos(Δω): Δ = 0 at the previous position, ±1 next to it.
    const gap = omegas.reduce((a, w) => a + 1 - Math.cos(w), 0);
    const beta = Math.sqrt((margin * Math.sqrt(hd)) / (amp * amp * gap));
    for (let j = 0; j < hd / 2; j++) {
      const i = h * hd / 2 + j, w = omegas[j]!, o = h * hd + 2 * j;
      for (const r of [o, o + 1]) { wq.fill(0, r * D, (r + 1) * D); wk.fill(0, r * D, (r + 1) * D); bq[r] = 0; bk[r] = 0; }
      wq[o * D + 2 * i] = beta; wq[(o + 1) * D + 2 * i + 1] = beta;
      wk[o * D + 2 * i] = beta * Math.cos(w); wk[o * D + 2 * i + 1] = beta * Math.sin(w);
      wk[(o + 1) * D + 2 * i] = -beta * Math.sin(w); wk[(o + 1) * D + 2 * i + 1] = beta * Math.cos(w);
    }
  }
}

export class Gpt2TrainModel implements TrainableModel {
  readonly params: ParamStore;
  private readonly arena: Arena;
  private readonly names: LayerNames[];
  private readonly gelu: GeluKind;

  constructor(readonly config: ModelConfig, private readonly gemm: Gemm, precision: Precision = 'f32', init: TrainInit = {}) {
    this.params = new ParamStore(gpt2ParamSpecs(config, init.std, init.positions, init.positionStd), precision);
    this.arena = new Arena(precision);
    this.names = Array.from({ length: config.nLayers }, (_, l) => layerNames(l));
    this.gelu = geluKind(config);
  }

  private headName(): string { return this.config.tieEmbeddings ? WTE : HEAD; }

  /** The forward pass, keeping what the backward reads (see LlamaTrainModel.forward); returns the logits. */
  private forward(ids: Int32Array): Vec {
    const c = this.config, T = ids.length, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
    const P = this.params, A = this.arena, g = this.gemm, scale = 1 / Math.sqrt(hd);
    let x = A.get('x0', T * D);
    embeddingForward(x, P.value(WTE), ids, D, V, P.value(WPE));
    for (let l = 0; l < c.nLayers; l++) {
      const n = this.names[l]!;
      const h1 = A.get(`h1.${l}`, T * D), q = A.get(`q.${l}`, T * D), k = A.get(`k.${l}`, T * D), v = A.get(`v.${l}`, T * D);
      const att = A.get(`att.${l}`, T * D), mid = A.get(`mid.${l}`, T * D), h2 = A.get(`h2.${l}`, T * D);
      const fc = A.get(`fc.${l}`, T * I), act = A.get(`act.${l}`, T * I), out = A.get(`x${l + 1}`, T * D);
      layerNormForward(h1, A.stats(`mean1.${l}`, T), A.stats(`rstd1.${l}`, T), x, P.value(n.ln1w), P.value(n.ln1b), T, D, c.normEps, g.rows);
      linearForward(g, q, h1, P.value(n.wq), P.value(n.bq), T, D, D);
      linearForward(g, k, h1, P.value(n.wk), P.value(n.bk), T, D, D);
      linearForward(g, v, h1, P.value(n.wv), P.value(n.bv), T, D, D);
      attentionForwardGemm(g, att, A.stats(`lse.${l}`, T * c.nHeads), q, k, v, T, c.nHeads, c.nHeads, hd, scale);
      linearForward(g, mid, att, P.value(n.wo), P.value(n.bo), T, D, D);
      for (let i = 0; i < T * D; i++) mid[i] += x[i]!;
      layerNormForward(h2, A.stats(`mean2.${l}`, T), A.stats(`rstd2.${l}`, T), mid, P.value(n.ln2w), P.value(n.ln2b), T, D, c.normEps, g.rows);
      linearForward(g, fc, h2, P.value(n.wFc), P.value(n.bFc), T, D, I);
      geluForward(act, fc, T * I, this.gelu, g.rows);
      linearForward(g, out, act, P.value(n.wProj), P.value(n.bProj), T, I, D);
      for (let i = 0; i < T * D; i++) out[i] += mid[i]!;
      x = out;
    }
    const hf = A.get('hf', T * D), logits = A.get('logits', T * V);
    layerNormForward(hf, A.stats('meanF', T), A.stats('rstdF', T), x, P.value(LNF_W), P.value(LNF_B), T, D, c.normEps, g.rows);
    linearForward(g, logits, hf, P.value(this.headName()), null, T, D, V);
    return logits;
  }

  logits(ids: Int32Array): Vec {
    checkSequence(ids, null, this.config);
    return this.forward(ids);
  }

  loss(ids: Int32Array, targets: Int32Array): LossSum {
    checkSequence(ids, targets, this.config);
    return crossEntropyLoss(this.forward(ids), targets, ids.length, this.config.vocabSize);
  }

  forwardBackward(ids: Int32Array, targets: Int32Array, gradScale: number): LossSum {
    checkSequence(ids, targets, this.config);
    const c = this.config, T = ids.length, D = c.hiddenSize, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
    const P = this.params, A = this.arena, g = this.gemm, scale = 1 / Math.sqrt(hd);
    const logits = this.forward(ids);
    const loss = crossEntropyForwardBackward(logits, targets, T, V, gradScale, g.rows);

    const dh = A.get('dh', T * D), dx = A.get('dx', T * D);
    linearBackward(g, dh, P.gradOf(this.headName()), null, logits, A.get('hf', T * D), P.value(this.headName()), T, D, V, false);
    dx.fill(0);
    layerNormBackward(dx, P.gradOf(LNF_W), P.gradOf(LNF_B), dh, A.get(`x${c.nLayers}`, T * D), P.value(LNF_W), A.stats('meanF', T), A.stats('rstdF', T), T, D, g.rows);

    const dAct = A.get('dAct', T * I), dFc = A.get('dFc', T * I);
    const dAtt = A.get('dAtt', T * D), dq = A.get('dq', T * D), dk = A.get('dk', T * D), dv = A.get('dv', T * D);
    for (let l = c.nLayers - 1; l >= 0; l--) {
      const n = this.names[l]!;
      const xin = A.get(`x${l}`, T * D), h1 = A.get(`h1.${l}`, T * D), q = A.get(`q.${l}`, T * D), k = A.get(`k.${l}`, T * D);
      const v = A.get(`v.${l}`, T * D), att = A.get(`att.${l}`, T * D), mid = A.get(`mid.${l}`, T * D), h2 = A.get(`h2.${l}`, T * D);
      const fc = A.get(`fc.${l}`, T * I), act = A.get(`act.${l}`, T * I);

      // MLP: out = mid + proj(gelu(fc(ln_2(mid)))).
      linearBackward(g, dAct, P.gradOf(n.wProj), P.gradOf(n.bProj), dx, act, P.value(n.wProj), T, I, D, false);
      geluBackward(dFc, dAct, fc, T * I, this.gelu, g.rows);
      linearBackward(g, dh, P.gradOf(n.wFc), P.gradOf(n.bFc), dFc, h2, P.value(n.wFc), T, D, I, false);
      layerNormBackward(dx, P.gradOf(n.ln2w), P.gradOf(n.ln2b), dh, mid, P.value(n.ln2w), A.stats(`mean2.${l}`, T), A.stats(`rstd2.${l}`, T), T, D, g.rows);

      // Attention: mid = xin + out(attention(q(h1), k(h1), v(h1))), h1 = ln_1(xin).
      linearBackward(g, dAtt, P.gradOf(n.wo), P.gradOf(n.bo), dx, att, P.value(n.wo), T, D, D, false);
      attentionBackwardGemm(g, dq, dk, dv, dAtt, q, k, v, att, A.stats(`lse.${l}`, T * c.nHeads), T, c.nHeads, c.nHeads, hd, scale);
      linearBackward(g, dh, P.gradOf(n.wq), P.gradOf(n.bq), dq, h1, P.value(n.wq), T, D, D, false);
      linearBackward(g, dh, P.gradOf(n.wk), P.gradOf(n.bk), dk, h1, P.value(n.wk), T, D, D, true);
      linearBackward(g, dh, P.gradOf(n.wv), P.gradOf(n.bv), dv, h1, P.value(n.wv), T, D, D, true);
      layerNormBackward(dx, P.gradOf(n.ln1w), P.gradOf(n.ln1b), dh, xin, P.value(n.ln1w), A.stats(`mean1.${l}`, T), A.stats(`rstd1.${l}`, T), T, D, g.rows);
    }
    // Token and position embeddings (position t is row t: training sequences start at position 0).
    embeddingBackward(P.gradOf(WTE), dx, ids, D, P.gradOf(WPE));
    return loss;
  }

  toHfWeights(): WeightMap {
    const c = this.config, D = c.hiddenSize, I = c.intermediateSize, P = this.params;
    const w: WeightMap = new Map();
    const plain = (name: string) => ({ shape: [...P.entry(name).shape], data: toF32(P.value(name)) });
    w.set('transformer.wte.weight', plain(WTE));
    w.set('transformer.wpe.weight', plain(WPE));
    for (let l = 0; l < c.nLayers; l++) {
      const n = this.names[l]!, p = `transformer.h.${l}.`;
      const qkv = new Float32Array(3 * D * D);
      qkv.set(P.value(n.wq), 0); qkv.set(P.value(n.wk), D * D); qkv.set(P.value(n.wv), 2 * D * D);
      const qkvBias = new Float32Array(3 * D);
      qkvBias.set(P.value(n.bq), 0); qkvBias.set(P.value(n.bk), D); qkvBias.set(P.value(n.bv), 2 * D);
      w.set(p + 'ln_1.weight', plain(n.ln1w)); w.set(p + 'ln_1.bias', plain(n.ln1b));
      w.set(p + 'attn.c_attn.weight', { shape: [D, 3 * D], data: transpose(qkv, 3 * D, D) });
      w.set(p + 'attn.c_attn.bias', { shape: [3 * D], data: qkvBias });
      w.set(p + 'attn.c_proj.weight', { shape: [D, D], data: transpose(P.value(n.wo), D, D) });
      w.set(p + 'attn.c_proj.bias', plain(n.bo));
      w.set(p + 'ln_2.weight', plain(n.ln2w)); w.set(p + 'ln_2.bias', plain(n.ln2b));
      w.set(p + 'mlp.c_fc.weight', { shape: [D, I], data: transpose(P.value(n.wFc), I, D) });
      w.set(p + 'mlp.c_fc.bias', plain(n.bFc));
      w.set(p + 'mlp.c_proj.weight', { shape: [I, D], data: transpose(P.value(n.wProj), D, I) });
      w.set(p + 'mlp.c_proj.bias', plain(n.bProj));
    }
    w.set('transformer.ln_f.weight', plain(LNF_W));
    w.set('transformer.ln_f.bias', plain(LNF_B));
    if (!c.tieEmbeddings) w.set('lm_head.weight', plain(HEAD));
    return w;
  }

  loadHfWeights(weights: WeightMap): void {
    const c = this.config, D = c.hiddenSize, I = c.intermediateSize, P = this.params;
    const get = (name: string, shape: number[]): Float32Array => {
      const t = weights.get('transformer.' + name) ?? weights.get(name);
      if (!t) throw new Error(`missing weight "transformer.${name}"`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`weight "${name}" has shape [${t.shape}] but [${shape}] was expected`);
      return t.data;
    };
    P.value(WTE).set(get('wte.weight', [c.vocabSize, D]));
    P.value(WPE).set(get('wpe.weight', [c.maxPositions, D]));
    for (let l = 0; l < c.nLayers; l++) {
      const n = this.names[l]!, p = `h.${l}.`;
      const qkv = transpose(get(p + 'attn.c_attn.weight', [D, 3 * D]), D, 3 * D), qkvBias = get(p + 'attn.c_attn.bias', [3 * D]);
      P.value(n.wq).set(qkv.subarray(0, D * D)); P.value(n.wk).set(qkv.subarray(D * D, 2 * D * D)); P.value(n.wv).set(qkv.subarray(2 * D * D));
      P.value(n.bq).set(qkvBias.subarray(0, D)); P.value(n.bk).set(qkvBias.subarray(D, 2 * D)); P.value(n.bv).set(qkvBias.subarray(2 * D));
      P.value(n.ln1w).set(get(p + 'ln_1.weight', [D])); P.value(n.ln1b).set(get(p + 'ln_1.bias', [D]));
      P.value(n.wo).set(transpose(get(p + 'attn.c_proj.weight', [D, D]), D, D)); P.value(n.bo).set(get(p + 'attn.c_proj.bias', [D]));
      P.value(n.ln2w).set(get(p + 'ln_2.weight', [D])); P.value(n.ln2b).set(get(p + 'ln_2.bias', [D]));
      P.value(n.wFc).set(transpose(get(p + 'mlp.c_fc.weight', [D, I]), D, I)); P.value(n.bFc).set(get(p + 'mlp.c_fc.bias', [I]));
      P.value(n.wProj).set(transpose(get(p + 'mlp.c_proj.weight', [I, D]), I, D)); P.value(n.bProj).set(get(p + 'mlp.c_proj.bias', [D]));
    }
    P.value(LNF_W).set(get('ln_f.weight', [D])); P.value(LNF_B).set(get('ln_f.bias', [D]));
    if (!c.tieEmbeddings) {
      const head = weights.get('lm_head.weight');
      if (!head) throw new Error('missing weight "lm_head.weight" (the config does not tie embeddings)');
      P.value(HEAD).set(head.data);
    }
  }
}
