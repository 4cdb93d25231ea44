/**
 * Sliding-window attention (Mistral's, Phi-3's, Qwen2's and Qwen3's `sliding_window`): a query at position p sees the
 * keys at positions p − window + 1 .. p, as transformers' masks and llama.cpp's say. Checked against the float64
 * reference forward (test/helpers/reference-llama.ts) with that visibility rule, on the shared TinyStories model given
 * a window: chunked prefills, decoding, windows on some layers only, a memory policy's evictions on top, and the full
 * cache giving back the rows no query can see any more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import type { MemoryPolicy } from '../../src/memory/policy.js';
import { PatternPolicy } from '../helpers/pattern-policy.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { referenceLlamaLogits, type Visibility } from '../helpers/reference-llama.js';
import { JsBackend } from '../../src/tensor/js.js';
import { getBackend } from '../../src/tensor/index.js';
import type { ModelConfig } from '../../src/models/types.js';

const MODEL = '../shared/models/tinystories-656k';
const GOLDEN = [147, 201, 282, 215, 286, 598, 1662, 356, 499, 826, 1363, 1145, 1652, 615, 242, 1482, 951, 628, 499, 826, 872, 921, 318, 385];
const files = await loadModelFiles(MODEL);
const V = files.config.vocabSize;
/** 150 tokens: past a 12-token window by far, and past the 64 rows the full cache gives back at once. */
const IDS = [1, ...GOLDEN, ...GOLDEN, ...GOLDEN, ...GOLDEN, ...GOLDEN, ...GOLDEN, ...GOLDEN.slice(0, 5)];

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / scale;
}

function windowed(window: number, over: Partial<ModelConfig> = {}): ModelConfig {
  return { ...files.config, modelType: 'mistral', slidingWindow: window, ...over };
}

/** The window's rule on the given layers (every layer by default): key k is visible to query q iff q − k < window. */
function inWindow(window: number, layers?: number[]): Visibility {
  return (layer, _head, query, key) => (layers && !layers.includes(layer)) || query - key < window;
}

/** Prefill `prefillTo` tokens in chunks of `chunk`, then decode the rest one at a time: every position's logits. */
function run(model: Model, ids: number[], chunk: number, prefillTo: number, memory: MemoryPolicy | null = null): Float32Array {
  const s = model.createSessionWith(memory, { chunkSize: chunk });
  const got = new Float32Array(ids.length * V);
  got.set(s.prefill(ids.slice(0, prefillTo), { logits: 'all' }));
  for (let t = prefillTo; t < ids.length; t++) got.set(s.decode(ids[t]!), t * V);
  return got;
}

const reference = referenceLlamaLogits(windowed(12), files.weights, IDS, inWindow(12));
const full = referenceLlamaLogits(files.config, files.weights, IDS);

for (const backend of [getBackend(), new JsBackend()]) {
  test(`[${backend.name}] a 12-token window: chunked prefill and decoding give the float64 reference with the window's mask`, () => {
    const model = new Model(windowed(12), files.weights, files.tokenizer, backend, MODEL);
    // The window must matter: the full attention's logits are far from it.
    assert.ok(relErr(full, reference) > 0.05, `the window moves the logits by ${relErr(full, reference)}`);
    for (const [chunk, prefillTo] of [[16, 150], [5, 100], [128, 130], [4, 1]] as const) {
      const got = run(model, IDS, chunk, prefillTo);
      assert.ok(relErr(got, reference) < 1e-4, `chunks of ${chunk}, ${prefillTo} prefilled: relative error ${relErr(got, reference)}`);
    }
  });
}

test('a window on some layers only (Qwen2\'s and Qwen3\'s sliding layers), and a window of one token', () => {
  const backend = getBackend();
  const some = windowed(7, { slidingLayers: [1], modelType: 'qwen2' });
  const got = run(new Model(some, files.weights, files.tokenizer, backend, MODEL), IDS.slice(0, 60), 8, 40);
  const want = referenceLlamaLogits(some, files.weights, IDS.slice(0, 60), inWindow(7, [1]));
  assert.ok(relErr(got, want) < 1e-4, `relative error ${relErr(got, want)}`);
  const everywhere = referenceLlamaLogits(windowed(7), files.weights, IDS.slice(0, 60), inWindow(7));
  assert.ok(relErr(want, everywhere) > 0.01, 'the other layers attend to everything');
  const one = run(new Model(windowed(1), files.weights, files.tokenizer, backend, MODEL), IDS.slice(0, 40), 16, 30);
  const self = referenceLlamaLogits(windowed(1), files.weights, IDS.slice(0, 40), inWindow(1));
  assert.ok(relErr(one, self) < 1e-4, `window 1: relative error ${relErr(one, self)}`);
});

test('the full cache gives back the rows no later query can see, in batches, telling no eviction callback', async () => {
  const model = new Model(windowed(12), files.weights, files.tokenizer, getBackend(), MODEL);
  for (const memory of [null, parsePolicySpec('full')]) {
    let events = 0;
    const s = model.createSessionWith(memory, { chunkSize: 16, onEviction: () => { events++; } });
    const got = new Float32Array(IDS.length * V);
    let most = 0;
    got.set(s.prefill(IDS.slice(0, 100), { logits: 'all' }));
    for (let t = 100; t < IDS.length; t++) {
      got.set(s.decode(IDS[t]!), t * V);
      for (const n of s.cache.lens(0)) most = Math.max(most, n);
    }
    assert.ok(relErr(got, reference) < 1e-4, `relative error ${relErr(got, reference)}`);
    // At most the window, the 64-row batch and one chunk; the 150 tokens are not all held.
    assert.ok(most <= 12 + 64 + 16 && most > 12, `a store held up to ${most} rows`);
    const lens = s.cache.lens(1);
    assert.ok(lens.every((n) => n < IDS.length && n >= 11), `rows held ${lens}`);
    for (let h = 0; h < lens.length; h++) {
      const store = s.cache.store(1, h);
      assert.equal(store.positions[store.len - 1], IDS.length - 1, 'the newest row is the last token');
    }
    assert.ok(s.cache.bytesFreed() > 0, 'the rows given back count as freed');
    assert.equal(events, 0, 'no policy decided anything');
    assert.equal(s.memoryStats().evictionEvents ?? 0, 0);
    // A fork continues from the same rows.
    const f = s.fork();
    assert.deepEqual(f.decode(5), s.decode(5));
  }
});

test('a policy\'s evictions on a windowed model: the keys seen are those both the window and the policy left', () => {
  for (const backend of [getBackend(), new JsBackend()]) {
    const model = new Model(windowed(20), files.weights, files.tokenizer, backend, MODEL);
    const policy = new PatternPolicy([32, 64, 90, 101], (pos, layer, head) => (pos * (layer + 3) + head) % 4 === 1);
    const got = run(model, IDS.slice(0, 110), 16, 96, policy);
    assert.ok(policy.events.length > 0);
    const window = inWindow(20);
    const visible: Visibility = (layer, head, query, key) => window(layer, head, query, key) && policy.visible(layer, head, query, key);
    const want = referenceLlamaLogits(windowed(20), files.weights, IDS.slice(0, 110), visible);
    assert.ok(relErr(got, want) < 1e-4, `[${backend.name}] relative error ${relErr(got, want)}`);
    const windowOnly = referenceLlamaLogits(windowed(20), files.weights, IDS.slice(0, 110), window);
    assert.ok(relErr(want, windowOnly) > 0.01, 'the evictions matter inside the window');
  }
  // A policy with state per row keeps the rows behind the window until it evicts them itself.
  const model = new Model(windowed(12), files.weights, files.tokenizer, getBackend(), MODEL);
  const s = model.createSessionWith(new PatternPolicy([], () => false), { chunkSize: 16 });
  s.prefill(IDS);
  assert.deepEqual([...s.cache.lens(0)], Array(files.config.nKvHeads).fill(IDS.length));
});

test('the built-in policies drop the rows behind the window whenever they evict, and spend their budget on the rest', () => {
  const cases = [['h2o:tokens=20', 20, 12, 16], ['snapkv:tokens=20,window=4', 20, 12, 16], ['adakv(snapkv):tokens=20,window=4', 20, 12, 16],
    ['streaming:sinks=4,window=12', 16, 12, 16], ['l2:tokens=20', 20, 12, 16], ['tova:tokens=8', 8, 12, 16],
    // A window longer than the budget, chunks of 8: the heads hold different rows in reach when AdaKV pools them.
    ['adakv(l2):tokens=20', 20, 24, 8], ['adakv(h2o):tokens=20', 20, 24, 8], ['h2o:tokens=20', 20, 24, 8]] as const;
  for (const [spec, budget, window, chunk] of cases) {
    const model = new Model(windowed(window), files.weights, files.tokenizer, getBackend(), MODEL);
    const pooled = spec.startsWith('adakv');
    let events = 0, short = 0;
    // The rows each eviction keeps, read from the cache before the session applies it (onEviction comes first).
    let s: ReturnType<Model['createSessionWith']> | null = null;
    s = model.createSessionWith(parsePolicySpec(spec), {
      chunkSize: chunk,
      onEviction: ({ layer, totalTokens, keep, lensBefore }) => {
        events++;
        // The next query is at position totalTokens: it, and every later one, sees positions > totalTokens − window.
        let total = 0, reach = 0, want = 0;
        const reaches = new Set<number>();
        keep.forEach((k, h) => {
          const pos = s!.cache.store(layer, h).positions;
          const kept = Array.from(k, (r) => pos[r]!);
          assert.ok(kept.every((p) => p > totalTokens - window), `${spec} layer ${layer} head ${h} at ${totalTokens}: kept ${kept}`);
          let own = 0;
          for (let r = 0; r < lensBefore[h]!; r++) if (pos[r]! > totalTokens - window) own++;
          total += kept.length; reach += own; want += Math.min(budget, own); reaches.add(own);
          if (!pooled) assert.equal(kept.length, Math.min(budget, own), `${spec} layer ${layer} head ${h} at ${totalTokens}: kept ${kept.length} of ${own} in reach`);
        });
        if (reaches.size > 1) short++;
        // AdaKV: the layer keeps min(its budget, the rows in reach), however they are spread over the heads.
        assert.equal(total, pooled ? Math.min(budget * keep.length, reach) : want, `${spec} layer ${layer} at ${totalTokens}: kept ${total} rows of ${reach} in reach`);
      },
    });
    s.prefill(IDS.slice(0, 120));
    for (let t = 120; t < 130; t++) s.decode(IDS[t]!);
    assert.ok(events > 0, `${spec} evicted`);
    if (spec === 'adakv(l2):tokens=20') assert.ok(short > 0, 'some evictions met heads with different rows in reach');
  }
});

test('a NAMM on a windowed model drops the rows behind the window at its updates (all-zero parameters: nothing else)', async () => {
  const { createNammPolicy, zeroNammParams } = await import('../../src/memory/namm/index.js');
  const model = new Model(windowed(40), files.weights, files.tokenizer, getBackend(), MODEL);
  const kept: number[][] = [];
  const policy = createNammPolicy({ params: zeroNammParams(), updateEvery: 32, onUpdate: (u) => { if (u.layer === 0) kept.push(Array.from(u.heads[0]!.keep, (k) => u.heads[0]!.positions[k]!)); } });
  const s = model.createSessionWith(policy, { chunkSize: 16 });
  const got = new Float32Array(IDS.length * V);
  got.set(s.prefill(IDS.slice(0, 128), { logits: 'all' }));
  for (let t = 128; t < IDS.length; t++) got.set(s.decode(IDS[t]!), t * V);
  assert.ok(kept.length >= 4);
  kept.forEach((rows, u) => {
    // The next query, at position 32·(u + 1), and the later ones see positions above 32·(u + 1) − 40.
    const next = 32 * (u + 1);
    assert.deepEqual(rows, rows.filter((p) => p > next - 40), `update ${u}: kept only rows in reach`);
    assert.equal(rows.length, Math.min(next, 39), `update ${u}: every row in reach kept (scores 0 keep all)`);
  });
  // Exact: the rows dropped are the ones the window hides.
  const want = referenceLlamaLogits(windowed(40), files.weights, IDS, inWindow(40));
  assert.ok(relErr(got, want) < 1e-4, `relative error ${relErr(got, want)}`);
  assert.ok(s.cache.lens(0)[0]! < 40 + 32, `rows held at the end: ${s.cache.lens(0)}`);
});

test('training refuses a windowed model (its attention sees every earlier token)', async () => {
  const { createTrainableModel } = await import('../../src/train/family.js');
  const { backendGemm } = await import('../../src/train/ops/gemm.js');
  assert.throws(() => createTrainableModel(windowed(12), backendGemm(new JsBackend())), /training models with a sliding window \(12 tokens\) is not supported/);
});
