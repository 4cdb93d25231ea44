/** CacheStats: the running summary against one recomputed from the snapshots, and copies that stay independent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheStats } from '../../src/runtime/stats.js';
import { Rng } from '../../src/util/rng.js';

const L = 3, H = 2;
const BYTES = { held: 10, used: 8, freed: 2 };

/** The summary's fractions written out from their definitions over the snapshots (token-weighted means). */
function recomputed(stats: CacheStats): { mean: number; peak: number; final: number; perLayer: number[] } {
  let w = 0, mean = 0, peak = 0, final = 1;
  const perLayer = new Array<number>(L).fill(0);
  for (const s of stats.snapshots) {
    let all = 0;
    for (let l = 0; l < L; l++) {
      const rows = s.held[l * H]! + s.held[l * H + 1]!;
      all += rows;
      perLayer[l]! += (s.chunkTokens * rows) / (s.totalTokens * H);
    }
    final = all / (s.totalTokens * H * L);
    peak = Math.max(peak, final);
    w += s.chunkTokens; mean += s.chunkTokens * final;
  }
  return { mean: w ? mean / w : 1, peak: stats.snapshots.length ? peak : 1, final, perLayer: perLayer.map((v) => (w ? v / w : 1)) };
}

function feed(stats: CacheStats, rng: Rng, from: number, steps: number): number {
  let t = from;
  for (let i = 0; i < steps; i++) {
    const n = 1 + rng.int(16);
    t += n;
    stats.record(t, n, Int32Array.from({ length: L * H }, () => 1 + rng.int(t)));
  }
  return t;
}

function check(stats: CacheStats, what: string): void {
  const got = stats.summary(BYTES), want = recomputed(stats);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));
  assert.ok(close(got.meanFraction, want.mean), `${what}: mean ${got.meanFraction} vs ${want.mean}`);
  assert.ok(close(got.peakFraction, want.peak) && close(got.finalFraction, want.final), what);
  got.meanFractionPerLayer.forEach((v, l) => assert.ok(close(v, want.perLayer[l]!), `${what}: layer ${l}`));
  assert.deepEqual(got.finalHeldPerHead, stats.snapshots.length ? Array.from({ length: L }, (_, l) => [0, 1].map((h) => stats.snapshots.at(-1)!.held[l * H + h])) : [[0, 0], [0, 0], [0, 0]]);
}

test('the running summary equals one computed from the snapshots; copies and clear() stay independent', () => {
  const rng = new Rng('stats');
  const a = new CacheStats(L, H);
  check(a, 'empty');
  assert.equal(a.summary(BYTES).meanFraction, 1);
  const t = feed(a, rng, 0, 50);
  check(a, 'a');
  const b = a.clone();
  b.evictionEvents = 3;
  feed(b, rng, t, 20);
  feed(a, rng, t, 7);
  check(a, 'a after the copy');
  check(b, 'b');
  assert.equal(a.snapshots.length, 57);
  assert.equal(b.snapshots.length, 70);
  assert.equal(a.evictionEvents, 0);
  a.clear();
  assert.equal(a.snapshots.length, 0);
  check(a, 'cleared');
  assert.equal(a.summary(BYTES).peakFraction, 1);
  feed(a, rng, 0, 5);
  check(a, 'after clear');
  check(b, 'b after a was cleared');
});

test('a long history is thinned in pairs past maxSnapshots; the summary stays that of every snapshot', () => {
  // One snapshot per decoded token grew without bound (~1 KiB a token on a 32-layer model).
  const rng = new Rng('stats-thin');
  const full = new CacheStats(L, H, 1_000_000), thin = new CacheStats(L, H, 8);
  const records: [number, number, Int32Array][] = [];
  let t = 0;
  for (let i = 0; i < 101; i++) {
    const n = 1 + rng.int(16);
    t += n;
    records.push([t, n, Int32Array.from({ length: L * H }, () => 1 + rng.int(t))]);
  }
  const forked: CacheStats[] = [];
  records.forEach(([total, n, held], i) => {
    full.record(total, n, held);
    thin.record(total, n, held);
    if (i === 50) forked.push(thin.clone());
    assert.ok(thin.snapshots.length <= 8 && thin.snapshots.length >= Math.min(i + 1, 4), `after ${i + 1}: ${thin.snapshots.length}`);
  });
  assert.equal(full.snapshots.length, 101);
  assert.deepEqual(thin.summary(BYTES), full.summary(BYTES));
  // Each kept snapshot is a recorded one's tokens and rows, with the chunk tokens of the ones merged into it.
  assert.equal(thin.snapshots.reduce((a, s) => a + s.chunkTokens, 0), t);
  let prev = 0;
  for (const s of thin.snapshots) {
    const r = records.find(([total]) => total === s.totalTokens)!;
    assert.ok(r, `snapshot at ${s.totalTokens} was recorded`);
    assert.equal(s.held, r[2]);
    assert.equal(s.chunkTokens, s.totalTokens - prev, 'the merged chunks cover the tokens since the snapshot before');
    prev = s.totalTokens;
  }
  assert.equal(thin.snapshots.at(-1)!.totalTokens, t);
  // A fork taken before a thinning keeps its own history.
  assert.equal(forked[0]!.snapshots.at(-1)!.totalTokens, records[50]![0]);
  assert.throws(() => new CacheStats(L, H, 1), /maxSnapshots must be an integer ≥ 2, got 1/);
});

test('memoryStats reports the policy\'s own state beside the cache: 0 for the full cache, NAMM\'s windows and EMA', async () => {
  const { loadModel } = await import('../../src/models/model.js');
  const { parsePolicySpec } = await import('../../src/memory/spec.js');
  const model = await loadModel('models/namm-tiny-llama');
  const prompt = 'Once upon a time there was a little girl who loved to play in the park with her dog. '.repeat(30);
  const bytes: Record<string, number> = {};
  for (const spec of ['full', 'h2o:ratio=0.5', 'namm:models/namm-tiny-llama.namm']) {
    const session = await model.createSession({ memory: spec === 'full' ? null : parsePolicySpec(spec) });
    session.prefill(model.tokenizer!.encode(prompt, { addBos: true }));
    bytes[spec] = session.memoryStats().policyBytes;
  }
  assert.equal(bytes.full, 0);
  // H2O: one float64 score per cached row and head, at least (the rows it holds).
  const h2o = await model.createSession({ memory: parsePolicySpec('h2o:ratio=0.5') });
  h2o.prefill(model.tokenizer!.encode(prompt, { addBos: true }));
  const rows = h2o.memoryStats().finalHeldPerHead.flat().reduce((a, b) => a + b, 0);
  assert.ok(bytes['h2o:ratio=0.5']! >= 8 * rows, `${bytes['h2o:ratio=0.5']} bytes for ${rows} rows`);
  // The prompt's attention taps (a 1 MiB scratch: 128 queries × the rows held, per KV head) are not kept for decoding.
  assert.equal((h2o as unknown as { probsScratch: unknown[] }).probsScratch.length, 0);
  // NAMM: per layer and KV head at least a window's two 16-query blocks and its accumulator, for 512 queries' rows.
  const { nLayers, nKvHeads } = model.config;
  assert.ok(bytes['namm:models/namm-tiny-llama.namm']! >= nLayers * nKvHeads * (2 * 16 * 512 + 17 * 512) * 4, String(bytes['namm:models/namm-tiny-llama.namm']));
});
