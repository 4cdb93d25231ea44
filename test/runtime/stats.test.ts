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
