/** Memory policies running inside real sessions of the tinystories model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../src/models/model.js';
import { parsePolicySpec } from '../../src/memory/spec.js';
import { createNammPolicy, saveNammCheckpoint, zeroNammParams, NAMM_PARAM_COUNT } from '../../src/memory/namm/index.js';
import type { Session } from '../../src/runtime/session.js';
import { MemoryTraceRecorder, recordingPolicy, saveMemoryTrace } from '../../src/memory/matched.js';
import { tempDir } from '../helpers/temp.js';

const model = await loadModel('../shared/models/tinystories-656k');
const story = model.tokenizer!.encode('Once upon a time, there was a little girl named Lily. She had a toy car that she loved very much. One day, she went to the park to play with her toy car in the park. Lily was very happy.', { addBos: false });
/** 1,100 prompt tokens (NAMM updates at 512 and 1,024 in prefill), then decoded tokens (at 1,536 during decoding when ≥ 436 steps). */
const ids = [1, ...Array.from({ length: 1099 }, (_, i) => story[i % story.length]!)];

function run(session: Session, decodeSteps = 30): Float32Array[] {
  const out = [session.prefill(ids)];
  for (let i = 0; i < decodeSteps; i++) out.push(session.decode(story[i % story.length]!));
  return out;
}

const full = run(model.createSessionWith(null));

for (const spec of ['h2o:ratio=0', 'tova:ratio=0', 'l2:ratio=0', 'snapkv:ratio=0', 'random:ratio=0', 'adakv(snapkv):ratio=0', 'streaming:ratio=0']) {
  test(`${spec} reproduces the full-cache logits exactly`, () => {
    const got = run(model.createSessionWith(parsePolicySpec(spec)));
    for (let i = 0; i < full.length; i++) assert.deepEqual(got[i], full[i]);
  });
}

test('a NAMM with all-zero parameters (loaded from a .namm file) evicts nothing and reproduces the full cache', () => {
  const dir = tempDir('namm-');
  const file = join(dir, 'zero.namm');
  saveNammCheckpoint(file, { scorer: 'bam', params: zeroNammParams(), normStats: null, updateEvery: 512, selection: 'min-over-heads', taps: 'bf16' });
  const s = model.createSessionWith(parsePolicySpec(`namm:${file}`));
  const got = run(s, 480);
  const fullLong = run(model.createSessionWith(null), 480);
  for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], fullLong[i]);
  assert.equal(s.memoryStats().meanFraction, 1);
});

test('a NAMM whose final bias is very negative keeps only the newest token at each update and keeps running', () => {
  const params = new Float32Array(NAMM_PARAM_COUNT);
  params[NAMM_PARAM_COUNT - 1] = -1000;
  const s = model.createSessionWith(createNammPolicy({ params }));
  const out = run(s, 40);
  assert.ok(out.every((l) => l.every(Number.isFinite)));
  // The update at 1,024 tokens left one row per head; the 1,100 + 40 − 1,024 tokens fed since are all still there.
  for (let l = 0; l < model.config.nLayers; l++) for (let h = 0; h < model.config.nKvHeads; h++) {
    assert.equal(s.cache.store(l, h).len, ids.length + 40 - 1024 + 1);
  }
  const m = s.memoryStats();
  assert.ok(m.bytesFreed > 0 && m.meanFraction < 0.8 && m.evictionEvents === 2 * model.config.nLayers);
});

test('a NAMM gives the same caches and logits whatever the chunk size: chunks end at its update points', () => {
  const rng = new (class { s = 7; normal() { this.s = (this.s * 16807) % 2147483647; return (this.s / 2147483647 - 0.5) * 3.4; } })();
  const params = Float32Array.from({ length: NAMM_PARAM_COUNT }, () => 0.1 * rng.normal());
  const prefill = (chunkSize: number) => {
    const s = model.createSessionWith(createNammPolicy({ params }), { chunkSize });
    const logits = s.prefill(ids, { logits: 'all' });
    const lens = Array.from({ length: model.config.nLayers }, (_, l) => Array.from({ length: model.config.nKvHeads }, (_, h) => s.cache.store(l, h).len));
    return { logits, lens, fraction: s.memoryStats().meanFraction };
  };
  const want = prefill(128);
  assert.equal(recordingPolicy(createNammPolicy({ params, updateEvery: 256 }), new MemoryTraceRecorder()).chunkBoundary, 256, 'a recorded NAMM keeps its boundary');
  assert.ok(want.fraction < 0.95, `the parameters evict (mean fraction ${want.fraction})`);
  // 200 and 300 cross 512 and 1,024 inside a chunk; 2,048 holds the whole prompt. Before chunks ended at update
  // points, queries past 512 attended over tokens the update then evicted (logits ~0.3 apart).
  for (const chunkSize of [200, 300, 2048]) {
    const got = prefill(chunkSize);
    assert.deepEqual(got.lens, want.lens, `chunkSize ${chunkSize}: caches`);
    // Other chunkings sum in another order (the full cache's logits differ by up to 2e-5 between these chunk sizes).
    const diff = got.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - want.logits[i]!)), 0);
    assert.ok(diff < 1e-3, `chunkSize ${chunkSize}: logits differ by ${diff}`);
  }
});

test('a NAMM trace with an update interval that is no multiple of the chunk size replays in matched(h2o)', () => {
  const params = new Float32Array(NAMM_PARAM_COUNT);
  params[NAMM_PARAM_COUNT - 1] = -1; // every score −1: each update keeps the newest token only
  const recorder = new MemoryTraceRecorder('namm');
  const namm = model.createSessionWith(recordingPolicy(createNammPolicy({ params, updateEvery: 48 }), recorder));
  namm.prefill(ids.slice(0, 300));
  const trace = recorder.toTrace();
  assert.equal(trace.chunkBoundary, 48);
  assert.deepEqual([...new Set(trace.sequences[0]!.map((e) => e.totalTokens))], [48, 96, 144, 192, 240, 288]);
  const dir = tempDir('namm-');
  const file = join(dir, 'trace.json');
  saveMemoryTrace(file, trace);
  // Before traces kept the boundary, the matched run chunked at 128 and refused: "no chunk ended there".
  const matched = model.createSessionWith(parsePolicySpec(`matched(h2o):trace=${file}`));
  matched.prefill(ids.slice(0, 300));
  for (let l = 0; l < model.config.nLayers; l++) for (let h = 0; h < model.config.nKvHeads; h++) {
    assert.equal(matched.cache.store(l, h).len, namm.cache.store(l, h).len, `layer ${l} head ${h}`);
  }
});

test('budgeted baselines shrink the cache and the statistics say so', () => {
  const s = model.createSessionWith(parsePolicySpec('h2o:ratio=0.5'));
  run(s, 10);
  const reference = model.createSessionWith(null);
  run(reference, 10);
  const m = s.memoryStats();
  const T = ids.length + 10;
  assert.equal(m.totalTokens, T);
  for (const layer of m.finalHeldPerHead) for (const held of layer) assert.equal(held, Math.floor(T * 0.5));
  assert.ok(m.meanFraction < 0.6 && m.meanFraction > 0.45, `mean fraction ${m.meanFraction}`);
  assert.ok(m.bytesFreed > 0);
  assert.ok(s.cache.bytesHeld() < 0.75 * reference.cache.bytesHeld(), 'the evicted memory is really released');
});
