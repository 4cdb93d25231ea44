import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeFitness, REFERENCE_EPSILON, samplePromptIndices, type TaskScores } from '../../src/evolve/fitness.js';

// Two members, two tasks of two prompts each, scores chosen by hand.
const easy: TaskScores = { task: 'easy', reference: [1, 0.5], members: [[1, 1], [0.5, 0]] };
const hard: TaskScores = { task: 'hard', reference: [0.25, 0.25], members: [[0, 0.5], [0.25, 0.25]] };
const dead: TaskScores = { task: 'dead', reference: [0, 0], members: [[0.5, 0], [0, 0]] };

test('fitness = mean over tasks of (member mean / reference mean on the same prompts)', () => {
  const r = computeFitness([easy, hard], null);
  // easy: reference mean 0.75; member 0 mean 1 → 4/3, member 1 mean 0.25 → 1/3.
  // hard: reference mean 0.25; member 0 mean 0.25 → 1, member 1 mean 0.25 → 1.
  assert.deepEqual(r.ratios, [[1 / 0.75, 1], [0.25 / 0.75, 1]]);
  assert.deepEqual(r.fitness, [(1 / 0.75 + 1) / 2, (0.25 / 0.75 + 1) / 2]);
  assert.deepEqual(r.skippedTasks, []);
  assert.equal(r.rawFallback, false);
});

test("'reference' normalisation: 100·m / (100·r + 1e-7), so an all-zero reference explodes", () => {
  const r = computeFitness([easy, dead], null, { normalisation: 'reference' });
  const easy0 = 100 / (75 + REFERENCE_EPSILON), deadRatio0 = 25 / REFERENCE_EPSILON;
  assert.equal(r.ratios[0]![0], easy0);
  assert.equal(r.ratios[0]![1], deadRatio0);
  assert.equal(r.fitness[0], (easy0 + deadRatio0) / 2);
  assert.ok(r.fitness[0]! > 1e8, `a task the full cache never solves dominates the reference fitness (got ${r.fitness[0]})`);
  assert.equal(r.ratios[1]![1], 0, 'zero over (0 + 1e-7) is exactly 0');
  assert.deepEqual(r.skippedTasks, []);
});

test("'guarded' normalisation (default) leaves a zero-reference task out of that generation's mean", () => {
  const r = computeFitness([easy, dead, hard], null);
  assert.deepEqual(r.skippedTasks, ['dead']);
  assert.deepEqual(r.ratios.map((row) => row[1]), [null, null]);
  assert.deepEqual(r.fitness, [(1 / 0.75 + 1) / 2, (0.25 / 0.75 + 1) / 2]);
  assert.ok(r.fitness.every(Number.isFinite) && r.fitness[0]! < 2, 'guarded fitness stays on the scale of the ratios');
});

test('guarded, every task with a zero reference: fitness falls back to the mean raw score', () => {
  const dead2: TaskScores = { task: 'dead2', reference: [0], members: [[1], [0]] };
  const r = computeFitness([dead, dead2], null);
  assert.equal(r.rawFallback, true);
  assert.deepEqual(r.skippedTasks, ['dead', 'dead2']);
  assert.deepEqual(r.fitness, [(0.25 + 1) / 2, 0]);
  // All zero everywhere: every member ties at 0 (no explosion, no NaN).
  assert.deepEqual(computeFitness([{ task: 'z', reference: [0, 0], members: [[0, 0], [0, 0]] }], null).fitness, [0, 0]);
});

test('the cache-size penalty subtracts λ · mean KV fraction (off by default)', () => {
  const base = computeFitness([easy, hard], [0.5, 1]).fitness;
  const penalised = computeFitness([easy, hard], [0.5, 1], { cachePenalty: 0.2 }).fitness;
  assert.deepEqual(penalised, [base[0]! - 0.2 * 0.5, base[1]! - 0.2 * 1]);
  assert.throws(() => computeFitness([easy], null, { cachePenalty: 0.2 }), /one KV fraction per member/);
  assert.throws(() => computeFitness([easy], [0.5, 1.5], { cachePenalty: 0.2 }), /KV fraction of member 1 must be in \[0, 1\]/);
  assert.throws(() => computeFitness([easy], [0.5, 1], { cachePenalty: -1 }), /cachePenalty must be a finite number ≥ 0/);
});

test('bad score tables give clear errors', () => {
  assert.throws(() => computeFitness([], null), /at least one task/);
  assert.throws(() => computeFitness([{ task: 't', reference: [], members: [[]] }], null), /task t: no sampled prompts/);
  assert.throws(() => computeFitness([easy, { task: 'h', reference: [1], members: [[1]] }], null), /task h: 1 members, expected 2/);
  assert.throws(() => computeFitness([{ task: 't', reference: [1, 1], members: [[1]] }], null), /member 0 has 1 scores for 2 prompts/);
  assert.throws(() => computeFitness([{ task: 't', reference: [1.5], members: [[1]] }], null), /reference score 0 is 1.5/);
  assert.throws(() => computeFitness([{ task: 't', reference: [1], members: [[NaN]] }], null), /member 0 score 0 is NaN/);
  assert.throws(() => computeFitness([easy], null, { normalisation: 'other' as never }), /guarded or reference/);
});

test('prompt sampling: without replacement, the same for the same (seed, generation, task), different otherwise', () => {
  const a = samplePromptIndices(50, 20, 7, 3, 'passkey');
  assert.equal(new Set(a).size, 20);
  assert.ok(a.every((i) => Number.isInteger(i) && i >= 0 && i < 50), 'indices lie in the pool');
  assert.deepEqual(samplePromptIndices(50, 20, 7, 3, 'passkey'), a);
  assert.notDeepEqual(samplePromptIndices(50, 20, 7, 4, 'passkey'), a);
  assert.notDeepEqual(samplePromptIndices(50, 20, 8, 3, 'passkey'), a);
  assert.notDeepEqual(samplePromptIndices(50, 20, 7, 3, 'vt'), a);
  assert.deepEqual([...samplePromptIndices(5, 5, 1, 0, 't')].sort(), [0, 1, 2, 3, 4]);
  // Over many generations every prompt of the pool gets drawn about equally often.
  const counts = new Array<number>(10).fill(0);
  for (let g = 0; g < 2000; g++) for (const i of samplePromptIndices(10, 3, 1, g, 't')) counts[i]!++;
  assert.ok(counts.every((c) => c > 520 && c < 680), `uniform draws expected ~600 each, got ${counts.join(', ')}`);
  assert.throws(() => samplePromptIndices(3, 4, 1, 0, 'small'), /task small: cannot sample 4 prompts without replacement from a pool of 3/);
  assert.throws(() => samplePromptIndices(0, 1, 1, 0, 'none'), /task none: the prompt pool is empty/);
});
