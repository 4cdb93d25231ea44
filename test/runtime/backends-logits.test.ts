/** The native and TypeScript backends agree on the logits of every test model, at several context lengths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';
import type { ModelConfig, Tokenizer, WeightMap } from '../../src/models/types.js';
import { JsBackend } from '../../src/tensor/js.js';
import { loadNativeBackend } from '../../src/tensor/native.js';
import type { Backend } from '../../src/tensor/backend.js';
import { parsePolicySpec } from '../../src/memory/spec.js';

let native: Backend | null = null;
let why = '';
try { native = loadNativeBackend(); } catch (e) { why = (e as Error).message; }
if (!native && process.env.CI) throw new Error(`CI must build the native addon: ${why}`);

/** max |a − b| / max |b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); s = Math.max(s, Math.abs(b[i]!)); }
  return d / s;
}

const tiny = await loadModelFiles('../shared/models/tinystories-656k');
const cases: { name: string; config: ModelConfig; weights: WeightMap; tokenizer: Tokenizer | null; contexts: number[] }[] = [
  { name: 'tinystories-656k', config: tiny.config, weights: tiny.weights, tokenizer: tiny.tokenizer, contexts: [1, 128, 700] },
];
const g = gpt2Config({ vocabSize: 300, hiddenSize: 64, nLayers: 2, nHeads: 4, intermediateSize: 256, maxPositions: 320 });
cases.push({ name: 'random gpt2', config: g, weights: randomWeights(g, 3, 0.1), tokenizer: null, contexts: [1, 200] });
const q = llamaConfig({ modelType: 'qwen2', vocabSize: 300, hiddenSize: 96, nLayers: 2, nHeads: 6, nKvHeads: 2, intermediateSize: 160, attnQkvBias: true, tieEmbeddings: false });
cases.push({ name: 'random qwen2', config: q, weights: randomWeights(q, 4, 0.1), tokenizer: null, contexts: [1, 300] });
// Qwen3: per-head q/k norms (the RMSNorm kernel over rows of headDim), head_dim ≠ hidden / heads, q/k/v/o biases.
const q3 = llamaConfig({ modelType: 'qwen3', qkNorm: true, vocabSize: 300, hiddenSize: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 24, intermediateSize: 160, attnQkvBias: true, attnOutBias: true, ropeTheta: 1e6 });
cases.push({ name: 'random qwen3', config: q3, weights: randomWeights(q3, 5, 0.1), tokenizer: null, contexts: [1, 300] });

for (const c of cases) {
  for (const ctx of c.contexts) {
    for (const memory of ['full', 'h2o:ratio=0.5']) {
      test(`${c.name}: native and TypeScript logits agree within 1e-4 at ${ctx} tokens (${memory})`, { skip: native ? false : `native addon unavailable: ${why}` }, () => {
        const ids = Array.from({ length: ctx }, (_, i) => (i * 131 + 7) % c.config.vocabSize);
        const run = (b: Backend) => {
          const s = new Model(c.config, c.weights, c.tokenizer, b).createSessionWith(memory === 'full' ? null : parsePolicySpec(memory), { chunkSize: 64 });
          const out = [s.prefill(ids)];
          for (let t = 0; t < 5; t++) out.push(s.decode((t * 17 + 3) % c.config.vocabSize));
          return out;
        };
        const a = run(native!), b = run(new JsBackend());
        for (let i = 0; i < a.length; i++) assert.ok(relErr(a[i]!, b[i]!) < 1e-4, `step ${i}: relative error ${relErr(a[i]!, b[i]!)}`);
      });
    }
  }
}
