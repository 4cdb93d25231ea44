/** An independent float64 GPT-2 forward over a whole sequence, written plainly from the formulas. */
import type { ModelConfig, WeightMap } from '../../src/models/types.js';

function get(w: WeightMap, name: string): Float32Array {
  const t = w.get('transformer.' + name) ?? w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

/** Conv1D: y[n, out] = x[n, in] · W[in, out] + b. */
function conv1d(x: Float64Array, n: number, inDim: number, W: Float32Array, b: Float32Array, outDim: number): Float64Array {
  const y = new Float64Array(n * outDim);
  for (let t = 0; t < n; t++) for (let o = 0; o < outDim; o++) {
    let s = b[o]!;
    for (let i = 0; i < inDim; i++) s += x[t * inDim + i]! * W[i * outDim + o]!;
    y[t * outDim + o] = s;
  }
  return y;
}

function layerNorm(x: Float64Array, n: number, d: number, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(n * d);
  for (let t = 0; t < n; t++) {
    let m = 0;
    for (let i = 0; i < d; i++) m += x[t * d + i]!;
    m /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[t * d + i]! - m) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = (x[t * d + i]! - m) * inv * w[i]! + b[i]!;
  }
  return y;
}

export function referenceGpt2Logits(c: ModelConfig, w: WeightMap, ids: number[]): Float64Array {
  const n = ids.length, D = c.hiddenSize, H = c.nHeads, hd = D / H, I = c.intermediateSize, V = c.vocabSize;
  const wte = get(w, 'wte.weight'), wpe = get(w, 'wpe.weight');
  const x = new Float64Array(n * D);
  for (let t = 0; t < n; t++) for (let i = 0; i < D; i++) x[t * D + i] = wte[ids[t]! * D + i]! + wpe[t * D + i]!;
  for (let l = 0; l < c.nLayers; l++) {
    const p = `h.${l}.`;
    const h = layerNorm(x, n, D, get(w, p + 'ln_1.weight'), get(w, p + 'ln_1.bias'), c.normEps);
    const qkv = conv1d(h, n, D, get(w, p + 'attn.c_attn.weight'), get(w, p + 'attn.c_attn.bias'), 3 * D);
    const att = new Float64Array(n * D);
    for (let hh = 0; hh < H; hh++) for (let t = 0; t < n; t++) {
      const s: number[] = [];
      for (let j = 0; j <= t; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += qkv[t * 3 * D + hh * hd + d]! * qkv[j * 3 * D + D + hh * hd + d]!;
        s.push(dot / Math.sqrt(hd));
      }
      const m = Math.max(...s), e = s.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j <= t; j++) for (let d = 0; d < hd; d++) att[t * D + hh * hd + d] = att[t * D + hh * hd + d]! + (e[j]! / z) * qkv[j * 3 * D + 2 * D + hh * hd + d]!;
    }
    const o = conv1d(att, n, D, get(w, p + 'attn.c_proj.weight'), get(w, p + 'attn.c_proj.bias'), D);
    for (let i = 0; i < n * D; i++) x[i] = x[i]! + o[i]!;
    const h2 = layerNorm(x, n, D, get(w, p + 'ln_2.weight'), get(w, p + 'ln_2.bias'), c.normEps);
    const f = conv1d(h2, n, D, get(w, p + 'mlp.c_fc.weight'), get(w, p + 'mlp.c_fc.bias'), I);
    for (let i = 0; i < n * I; i++) { const v = f[i]!; f[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))); }
    const m = conv1d(f, n, I, get(w, p + 'mlp.c_proj.weight'), get(w, p + 'mlp.c_proj.bias'), D);
    for (let i = 0; i < n * D; i++) x[i] = x[i]! + m[i]!;
  }
  const fin = layerNorm(x, n, D, get(w, 'ln_f.weight'), get(w, 'ln_f.bias'), c.normEps);
  const head = (w.get('lm_head.weight') ?? w.get('transformer.wte.weight'))!.data;
  const y = new Float64Array(n * V);
  for (let t = 0; t < n; t++) for (let v = 0; v < V; v++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += fin[t * D + i]! * head[v * D + i]!;
    y[t * V + v] = s;
  }
  return y;
}
