/**
 * Memory policies on a Qwen3 (the tiny fixture model: per-head q/k norms, head_dim ≠ hidden / heads, GQA): the
 * attention a policy sees is the softmax of the normalised, rotated queries and keys, and a session that evicts (H2O,
 * NAMM) gives the logits of attending only to the tokens it kept, at their positions, on both backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadModelFiles } from '../../src/models/load.js';
import { Model } from '../../src/models/model.js';
import type { LayerObservation, MemoryPolicy } from '../../src/memory/policy.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { createNammPolicy, NAMM_PARAM_COUNT } from '../../src/memory/namm/index.js';
import { getBackend } from '../../src/tensor/index.js';
import { JsBackend } from '../../src/tensor/js.js';
import { Rng } from '../../src/util/rng.js';
import { referenceLlamaLogits } from '../helpers/reference-llama.js';

const files = await loadModelFiles(fileURLToPath(new URL('../fixtures/tiny-qwen3', import.meta.url)));
const c = files.config;

/** max |a − b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / scale;
}

test('a policy\'s attention taps on a Qwen3 are the softmax of its normalised, rotated queries and keys (GQA-averaged)', () => {
  const ids = Array.from({ length: 40 }, (_, i) => (i * 53 + 7) % c.vocabSize);
  /** [layer][kvHead][query][key], the reference's probabilities averaged over the query heads of each KV head. */
  const expected = (config: typeof c) => {
    const group = config.nHeads / config.nKvHeads;
    const p = Array.from({ length: config.nLayers }, () => Array.from({ length: config.nKvHeads }, () => ids.map(() => new Float64Array(ids.length))));
    referenceLlamaLogits(config, files.weights, ids, undefined, (layer, head, query, keys, probs) => {
      const row = p[layer]![Math.floor(head / group)]![query]!;
      keys.forEach((key, j) => { row[key] = row[key]! + probs[j]! / group; });
    });
    return p;
  };
  const want = expected(c);
  // Without the norms the taps differ far past the tolerance below, so the comparison sees them.
  const without = expected({ ...c, qkNorm: false });
  let moved = 0;
  want.forEach((l, li) => l.forEach((h, hi) => h.forEach((row, t) => row.forEach((v, j) => { moved = Math.max(moved, Math.abs(v - without[li]![hi]![t]![j]!)); }))));
  assert.ok(moved > 0.05, `the q/k norms move the taps by ${moved}`);
  for (const backend of [getBackend(), new JsBackend()]) {
    let worst = 0, seen = 0;
    const watcher: MemoryPolicy = {
      name: 'watch', needsAttention: true, layerwise: true, reset() {},
      observe(o: LayerObservation) {
        for (let h = 0; h < c.nKvHeads; h++) {
          const a = o.attention![h]!, len = o.lens[h]!;
          for (let q = 0; q < o.nQ; q++) {
            const t = o.totalTokens - o.nQ + q;
            for (let r = 0; r < len; r++) worst = Math.max(worst, Math.abs(a[q * len + r]! - want[o.layer]![h]![t]![o.positions[h]![r]!]!));
            seen++;
          }
        }
        return null;
      },
    };
    new Model(c, files.weights, null, backend).createSessionWith(watcher, { chunkSize: 16 }).prefill(ids);
    assert.equal(seen, c.nLayers * c.nKvHeads * ids.length);
    assert.ok(worst < 1e-5, `${backend.name}: taps differ by ${worst}`);
  }
});

test('H2O and NAMM evict on a Qwen3, and the logits are those of attending only to the kept tokens at their positions (both backends)', () => {
  const ids = Array.from({ length: 170 }, (_, i) => (i * 37 + 11) % c.vocabSize);
  const prompt = 150;
  const rng = new Rng(5);
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => 0.065 * rng.normal());
  params[NAMM_PARAM_COUNT - 1] = -0.3; // a negative final bias: some rows score below zero at every update
  const policies: [string, (backend: string) => MemoryPolicy][] = [
    ['h2o:ratio=0.5', () => parsePolicySpec('h2o:ratio=0.5')],
    ['NAMM', (backend) => createNammPolicy({ params, updateEvery: 32, ...(backend === 'js' ? { backend: null } : {}) })],
  ];
  const full = referenceLlamaLogits(c, files.weights, ids);
  for (const [what, make] of policies) {
    const results: Float32Array[] = [];
    for (const backend of [getBackend(), new JsBackend()]) {
      // The positions each (layer, KV head) holds, followed through every keep list: when each was evicted.
      const held = Array.from({ length: c.nLayers }, () => Array.from({ length: c.nKvHeads }, (): number[] => []));
      const appended = new Array<number>(c.nLayers).fill(0);
      const evictedAt = new Map<string, number>();
      const s = new Model(c, files.weights, null, backend).createSessionWith(make(backend.name), {
        chunkSize: 16,
        onEviction: ({ layer, totalTokens, keep, lensBefore }) => {
          for (let h = 0; h < c.nKvHeads; h++) {
            const rows = held[layer]![h]!;
            for (let p = appended[layer]!; p < totalTokens; p++) rows.push(p);
            assert.equal(rows.length, lensBefore[h]);
            const kept = Array.from(keep[h]!, (r) => rows[r]!);
            for (const p of rows) if (!kept.includes(p)) evictedAt.set(`${layer}/${h}/${p}`, totalTokens);
            held[layer]![h] = kept;
          }
          appended[layer] = totalTokens;
        },
      });
      const got = new Float32Array(ids.length * c.vocabSize);
      got.set(s.prefill(ids.slice(0, prompt), { logits: 'all' }));
      for (let t = prompt; t < ids.length; t++) got.set(s.decode(ids[t]!), t * c.vocabSize);
      assert.ok(evictedAt.size > 100, `${what}, ${backend.name}: evicted ${evictedAt.size} rows`);
      assert.ok(s.cache.bytesUsed() < 2 * c.nLayers * c.nKvHeads * ids.length * c.headDim * 4, 'the cache holds fewer bytes');
      // A key evicted at time T is not seen by queries at positions T and later.
      const ref = referenceLlamaLogits(c, files.weights, ids, (layer, head, query, key) => !((evictedAt.get(`${layer}/${head}/${key}`) ?? Infinity) <= query));
      assert.ok(relErr(got, ref) < 1e-4, `${what}, ${backend.name}: relative error ${relErr(got, ref)}`);
      assert.ok(relErr(got, full) > 1e-3, `${what}, ${backend.name}: the evictions change the logits`);
      results.push(got);
    }
    assert.ok(relErr(results[0]!, results[1]!) < 1e-4, `${what}: the backends agree`);
  }
});
