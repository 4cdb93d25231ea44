/**
 * Runtime throughput: prefill and decode tokens per second at several context lengths, for the test model and a
 * randomly initialised ~100M-parameter Llama-shaped model, on the native and TypeScript backends.
 * Prints one JSON line per (model, backend, context). Usage: npm run bench:runtime [-- --quick] [-- --sliding=W]
 *
 * --sliding=W: instead, the 100M model on the native backend with full attention and with a W-token sliding window
 * on every layer (as Mistral's), alternating, at 4,096 and 8,192 tokens: the window's speed and memory against the
 * full attention's, in one run.
 */
import { existsSync } from 'node:fs';
import { Model } from '../src/models/model.js';
import { loadModelFiles } from '../src/models/load.js';
import { llamaConfig, randomWeights } from '../src/models/random.js';
import { JsBackend } from '../src/tensor/js.js';
import { loadNativeBackend } from '../src/tensor/native.js';
import type { Backend } from '../src/tensor/backend.js';

const quick = process.argv.includes('--quick');
const slidingArg = process.argv.find((a) => a.startsWith('--sliding='));
const sliding = slidingArg === undefined ? 0 : Number(slidingArg.slice('--sliding='.length));
if (slidingArg !== undefined && !(Number.isInteger(sliding) && sliding >= 1)) throw new Error(`--sliding needs a window of at least 1 token, got ${slidingArg}`);
const TEST_MODEL = '../shared/models/tinystories-656k';
const DECODE_STEPS = quick ? 8 : 32;

const backends: Backend[] = [];
try { backends.push(loadNativeBackend()); } catch (e) { console.error(`native backend unavailable: ${(e as Error).message}`); }
backends.push(new JsBackend());

interface Case { name: string; model: (b: Backend) => Model; contexts: number[]; jsContexts: number[] }
const cases: Case[] = [];
if (existsSync(TEST_MODEL)) {
  const files = await loadModelFiles(TEST_MODEL);
  cases.push({ name: 'tinystories-656k', model: (b) => new Model(files.config, files.weights, files.tokenizer, b), contexts: [512, 2048, 4096], jsContexts: [512, 2048, 4096] });
}
const bigConfig = llamaConfig({ vocabSize: 32000, hiddenSize: 768, nLayers: 12, nHeads: 12, nKvHeads: 4, intermediateSize: 2048 });
const bigWeights = randomWeights(bigConfig, 1);
cases.push({ name: 'random-llama-100m', model: (b) => new Model(bigConfig, bigWeights, null, b), contexts: quick ? [512] : [512, 2048, 4096], jsContexts: [512] });
if (sliding > 0) {
  cases.length = 0;
  backends.splice(0, backends.length, ...backends.filter((b) => b.name === 'native'));
  const windowed = { ...bigConfig, modelType: 'mistral', slidingWindow: sliding };
  for (const ctx of [4096, 8192]) {
    cases.push({ name: 'random-llama-100m', model: (b) => new Model(bigConfig, bigWeights, null, b), contexts: [ctx], jsContexts: [] });
    cases.push({ name: `random-llama-100m window ${sliding}`, model: (b) => new Model(windowed, bigWeights, null, b), contexts: [ctx], jsContexts: [] });
  }
}

for (const c of cases) {
  for (const b of backends) {
    const model = c.model(b);
    const params = Math.round(model.arch.weightBytes / 4);
    for (const ctx of b.name === 'js' ? c.jsContexts : c.contexts) {
      const ids = Array.from({ length: ctx }, (_, i) => 3 + ((i * 7919) % (model.config.vocabSize - 3)));
      const s = model.createSessionWith(null);
      const t0 = performance.now();
      let logits = s.prefill(ids);
      const t1 = performance.now();
      for (let i = 0; i < DECODE_STEPS; i++) logits = s.decode(i % 100 + 3);
      const t2 = performance.now();
      console.log(JSON.stringify({
        bench: 'runtime', model: c.name, params, backend: `${b.name}/${b.simd}`, threads: b.threads, context: ctx,
        prefill_tokens_per_s: +(ctx / ((t1 - t0) / 1000)).toFixed(1),
        decode_tokens_per_s: +(DECODE_STEPS / ((t2 - t1) / 1000)).toFixed(2),
        kv_cache_mib: +(s.cache.bytesHeld() / 2 ** 20).toFixed(1), check: logits[0],
      }));
    }
  }
}
