/**
 * An independent float64 Llama forward over a whole sequence, written plainly from the formulas (no cache, no
 * backend kernels), with an optional visibility rule per (layer, KV head, query position, key position). Used to
 * check the runtime's chunked, cached, evicting forward.
 */
import type { ModelConfig, WeightMap } from '../../src/models/types.js';

export type Visibility = (layer: number, kvHead: number, query: number, key: number) => boolean;
/** Receives each query head's post-softmax attention: over the positions `keys`, the probabilities `p`. */
export type ProbabilitySink = (layer: number, head: number, query: number, keys: readonly number[], p: readonly number[]) => void;

function get(w: WeightMap, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** y[n, out] = x[n, in] · W[out, in]ᵀ in float64. */
function linear(x: Float64Array, n: number, inDim: number, W: Float32Array, outDim: number): Float64Array {
  const y = new Float64Array(n * outDim);
  for (let t = 0; t < n; t++) for (let o = 0; o < outDim; o++) {
    let s = 0;
    for (let i = 0; i < inDim; i++) s += x[t * inDim + i]! * W[o * inDim + i]!;
    y[t * outDim + o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array, n: number, d: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(n * d);
  for (let t = 0; t < n; t++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[t * d + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i]! * inv * w[i]!;
  }
  return y;
}

/** HF rotate-half RoPE with base θ, in float64. */
function rope(x: Float64Array, n: number, heads: number, hd: number, theta: number): void {
  const half = hd / 2;
  for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) {
    const o = (t * heads + h) * hd;
    for (let i = 0; i < half; i++) {
      const ang = t * Math.pow(theta, -(2 * i) / hd);
      const a = x[o + i]!, b = x[o + i + half]!;
      x[o + i] = a * Math.cos(ang) - b * Math.sin(ang);
      x[o + i + half] = b * Math.cos(ang) + a * Math.sin(ang);
    }
  }
}

/** Logits `[n, vocab]` (float64) of the whole sequence `ids` at positions 0..n-1. */
export function referenceLlamaLogits(c: ModelConfig, w: WeightMap, ids: number[], visible?: Visibility, probs?: ProbabilitySink): Float64Array {
  const n = ids.length, D = c.hiddenSize, hd = c.headDim, H = c.nHeads, KV = c.nKvHeads, I = c.intermediateSize, V = c.vocabSize;
  const group = H / KV;
  const emb = w.has('model.embed_tokens.weight') ? get(w, 'model.embed_tokens.weight') : get(w, 'lm_head.weight');
  const head = w.has('lm_head.weight') ? get(w, 'lm_head.weight') : emb;
  const x = new Float64Array(n * D);
  for (let t = 0; t < n; t++) for (let i = 0; i < D; i++) x[t * D + i] = emb[ids[t]! * D + i]!;
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}.`;
    const h = rmsNorm(x, n, D, get(w, p + 'input_layernorm.weight'), c.normEps);
    const q = linear(h, n, D, get(w, p + 'self_attn.q_proj.weight'), H * hd);
    const k = linear(h, n, D, get(w, p + 'self_attn.k_proj.weight'), KV * hd);
    const v = linear(h, n, D, get(w, p + 'self_attn.v_proj.weight'), KV * hd);
    if (c.attnQkvBias) {
      const add = (y: Float64Array, b: Float32Array, m: number) => { for (let t = 0; t < n; t++) for (let i = 0; i < m; i++) y[t * m + i] = y[t * m + i]! + b[i]!; };
      add(q, get(w, p + 'self_attn.q_proj.bias'), H * hd);
      add(k, get(w, p + 'self_attn.k_proj.bias'), KV * hd);
      add(v, get(w, p + 'self_attn.v_proj.bias'), KV * hd);
    }
    if (c.qkNorm) {
      // Qwen3: every head's query and key normalised over its own headDim values.
      q.set(rmsNorm(q, n * H, hd, get(w, p + 'self_attn.q_norm.weight'), c.normEps));
      k.set(rmsNorm(k, n * KV, hd, get(w, p + 'self_attn.k_norm.weight'), c.normEps));
    }
    rope(q, n, H, hd, c.ropeTheta);
    rope(k, n, KV, hd, c.ropeTheta);
    const att = new Float64Array(n * H * hd);
    for (let hh = 0; hh < H; hh++) {
      const kvh = Math.floor(hh / group);
      for (let t = 0; t < n; t++) {
        const scores: number[] = [], keys: number[] = [];
        for (let j = 0; j <= t; j++) {
          if (visible && j !== t && !visible(l, kvh, t, j)) continue;
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[(t * H + hh) * hd + d]! * k[(j * KV + kvh) * hd + d]!;
          scores.push(s / Math.sqrt(hd)); keys.push(j);
        }
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        probs?.(l, hh, t, keys, e.map((x) => x / z));
        for (let a = 0; a < keys.length; a++) {
          const pj = e[a]! / z, j = keys[a]!;
          for (let d = 0; d < hd; d++) att[(t * H + hh) * hd + d] = att[(t * H + hh) * hd + d]! + pj * v[(j * KV + kvh) * hd + d]!;
        }
      }
    }
    const addBias = (y: Float64Array, b: Float32Array, m: number) => { for (let t = 0; t < n; t++) for (let i = 0; i < m; i++) y[t * m + i] = y[t * m + i]! + b[i]!; };
    const o = linear(att, n, H * hd, get(w, p + 'self_attn.o_proj.weight'), D);
    if (c.attnOutBias) addBias(o, get(w, p + 'self_attn.o_proj.bias'), D);
    for (let i = 0; i < n * D; i++) x[i] = x[i]! + o[i]!;
    const h2 = rmsNorm(x, n, D, get(w, p + 'post_attention_layernorm.weight'), c.normEps);
    const g = linear(h2, n, D, get(w, p + 'mlp.gate_proj.weight'), I);
    const u = linear(h2, n, D, get(w, p + 'mlp.up_proj.weight'), I);
    if (c.mlpBias) { addBias(g, get(w, p + 'mlp.gate_proj.bias'), I); addBias(u, get(w, p + 'mlp.up_proj.bias'), I); }
    for (let i = 0; i < n * I; i++) g[i] = (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!;
    const dn = linear(g, n, I, get(w, p + 'mlp.down_proj.weight'), D);
    if (c.mlpBias) addBias(dn, get(w, p + 'mlp.down_proj.bias'), D);
    for (let i = 0; i < n * D; i++) x[i] = x[i]! + dn[i]!;
  }
  const f = rmsNorm(x, n, D, get(w, 'model.norm.weight'), c.normEps);
  return linear(f, n, D, head, V);
}
