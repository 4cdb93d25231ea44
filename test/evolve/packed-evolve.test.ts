/** `namm evolve` over packed weights: two workers sharing a Q8_0 GGUF's packed matrices score exactly as float32. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { convertModel } from '../../src/cli/convert.js';
import { evolveNamm } from '../../src/evolve/namm-evolution.js';
import { MODEL, withTempDir, writeTinyCurriculum } from './namm-helpers.js';

test('an evolution on packed weights in 2 workers gives the float32 run\'s fitness bit for bit', { timeout: 180000 }, () => withTempDir(async (dir) => {
  const gguf = join(dir, 'ts-q8_0.gguf');
  await convertModel({ from: MODEL, to: 'gguf', out: gguf, dtype: 'q8_0' });
  const config = await writeTinyCurriculum(dir, { stages: [
    { name: 'stories', generations: 1, samplesPerTask: 2, tasks: [{ jsonl: 'stories.jsonl', name: 'story' }] },
  ] });
  const wide = await evolveNamm({ curriculum: config, model: gguf, out: join(dir, 'f32'), workers: 1, weights: 'f32', progress: false });
  const packed = await evolveNamm({ curriculum: config, model: gguf, out: join(dir, 'packed'), workers: 2, weights: 'packed', progress: false });
  assert.deepEqual(packed.members.map((m) => [m.fitness, m.kv]), wide.members.map((m) => [m.fitness, m.kv]));
  assert.deepEqual(Buffer.from(packed.mean.buffer), Buffer.from(wide.mean.buffer));
  // A run keeps the weights it started with: resumed without --weights it loads them again; with others, it names both.
  const conv = join(dir, 'q8');
  await evolveNamm({ curriculum: config, model: MODEL, out: conv, workers: 1, weights: 'q8_0', progress: false });
  await evolveNamm({ curriculum: config, model: MODEL, out: conv, resume: true, progress: false });
  await assert.rejects(evolveNamm({ curriculum: config, model: MODEL, out: conv, resume: true, weights: 'f32', progress: false }), /evolved on another model \(fingerprint \w+, weights q8_0; .* is \w+\)/);
}));
