/** Memory-policy helpers check their arguments (wrong policy kinds, NAMM checkpoint fields, budgets). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { budgetTarget, budgetWant, ratioBudget, selectTopK, tokenBudget, everyTokens } from '../../src/memory/budget.js';
import { fullPolicy } from '../../src/memory/full.js';
import { h2oPolicy, H2OScorer } from '../../src/memory/h2o.js';
import { matchedPolicy } from '../../src/memory/matched.js';
import { decodeNammCheckpoint, encodeNammCheckpoint, loadNammPolicy, readNammCheckpoint } from '../../src/memory/namm/index.js';
import { recencyEmbedding } from '../../src/memory/namm/recency.js';
import { policyStateBytes } from '../../src/memory/policy.js';
import { isTargetedPolicy, ScoredPolicy, withSinks } from '../../src/memory/scored.js';

const NAMM = 'models/namm-tiny-llama.namm';
const h2o = () => h2oPolicy({ budget: ratioBudget(0.5) });

test('withSinks, isTargetedPolicy, policyStateBytes and matchedPolicy refuse what is not the policy they need', () => {
  assert.throws(() => withSinks(fullPolicy() as never, 4), /^TypeError: withSinks: policy must be a scoring policy/);
  assert.throws(() => withSinks('h2o' as never, 4), /withSinks: policy must be a scoring policy .*got "h2o"/);
  assert.throws(() => withSinks(h2o(), 0), /withSinks: sinks must be an integer ≥ 1, got 0/);
  assert.throws(() => isTargetedPolicy(null as never), /isTargetedPolicy: p must be a memory policy/);
  assert.throws(() => policyStateBytes('h2o' as never), /policyStateBytes: policy must be a memory policy .* or null, got "h2o"/);
  const odd = { ...h2o(), name: 'odd', reset() {}, observe() {}, stateBytes: () => 'x' };
  assert.throws(() => policyStateBytes(odd as never), /policyStateBytes: stateBytes\(\) of odd must return a finite number ≥ 0, got "x"/);
  assert.throws(() => matchedPolicy('h2o' as never, [] as never), /^TypeError: matchedPolicy: inner must be a memory policy/);
  assert.equal(policyStateBytes(null), 0);
});

test('ScoredPolicy names itself and the missing budget or the unknown option', () => {
  assert.throws(() => new ScoredPolicy(new H2OScorer(), {} as never), /^TypeError: ScoredPolicy: opts needs "budget"/);
  assert.throws(() => new ScoredPolicy(new H2OScorer(), { budget: tokenBudget(8), every: everyTokens(1), bogus: 1 } as never), /ScoredPolicy: unknown option "bogus"/);
  assert.throws(() => new ScoredPolicy(undefined as never, undefined as never), /ScoredPolicy: scorer must be a token scorer/);
});

test('budgetWant / budgetTarget / selectTopK refuse what gave NaN or an empty keep list', () => {
  assert.throws(() => budgetWant({ kind: 'bogus' } as never, 10), /^TypeError: budgetWant: b must be a budget/);
  assert.throws(() => budgetWant(ratioBudget(0.5), -10), /budgetWant: totalTokens must be an integer ≥ 0, got -10/);
  assert.throws(() => budgetWant(ratioBudget(0.5), NaN), /budgetWant: totalTokens must be an integer ≥ 0, got NaN/);
  assert.throws(() => (budgetTarget as (b: unknown, t: number) => number)(ratioBudget(0.5), 10), /budgetTarget: rows must be an integer ≥ 0, got undefined/);
  assert.throws(() => selectTopK([3, 1, 2], 3, -1), /selectTopK: k must be an integer ≥ 0, got -1/);
  assert.throws(() => selectTopK('abc' as never, 3, 1), /selectTopK: scores must be an array or typed array/);
  assert.equal(budgetWant(ratioBudget(0.5), 10), 5);
});

test('NAMM checkpoints: an unknown field, a string or an ArrayBuffer for bytes, overrides as a string', () => {
  const ckpt = readNammCheckpoint(NAMM);
  assert.throws(() => encodeNammCheckpoint({ ...ckpt, bogus: 1 } as never), /^TypeError: encodeNammCheckpoint: unknown option "bogus"/);
  assert.throws(() => decodeNammCheckpoint('NAMM' as never), /^TypeError: decodeNammCheckpoint: bytes must be a Uint8Array .*got "NAMM"$/);
  assert.throws(() => decodeNammCheckpoint(new ArrayBuffer(16) as never), /decodeNammCheckpoint: bytes must be a Uint8Array \(.*wrap an ArrayBuffer/);
  assert.throws(() => loadNammPolicy(NAMM, 'update=512' as never), /^TypeError: loadNammPolicy: overrides must be an object of option → value strings/);
  assert.throws(() => loadNammPolicy(NAMM, null as never), /loadNammPolicy: overrides must be an object/);
  assert.throws(() => readNammCheckpoint(42 as never), /^TypeError: readNammCheckpoint: path must be a file path .*got 42$/);
  assert.equal(decodeNammCheckpoint(encodeNammCheckpoint(ckpt)).params.length, ckpt.params.length);
});

test('recencyEmbedding refuses an output with no room and a bad overflow mode', () => {
  assert.throws(() => recencyEmbedding(1, new Float32Array(2)), /recencyEmbedding: out holds 2 values, so offset 0 leaves no room for the 8/);
  assert.throws(() => recencyEmbedding(1, new Float32Array(40), -5), /recencyEmbedding: offset must be an integer ≥ 0, got -5/);
  assert.throws(() => recencyEmbedding(1, new Float32Array(8), 0, 'bogus' as never), /recencyEmbedding: overflow must be "error" or "extend"/);
  assert.throws(() => recencyEmbedding(42, undefined as never), /recencyEmbedding: out must be a Float32Array/);
});
