import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  budgetTarget, budgetTargets, budgetWant, cadenceActs, crossesMultiple, describeBudget, describeCadence, everyTokens, parseCadence,
  ratioBudget, selectTopK, tokenBudget,
} from '../../src/memory/budget.js';
import { Rng } from '../../src/util/rng.js';
import { topKRows } from '../helpers/cache-sim.js';

describe('budgets', () => {
  it('ratio keeps ⌊T·(1−r)⌋ (kvpress), at least 1, at most the rows held', () => {
    assert.equal(budgetTarget(ratioBudget(0.5), 7, 7), 3);
    assert.equal(budgetTarget(ratioBudget(0.875), 300, 300), 37);
    assert.equal(budgetTarget(ratioBudget(0.25), 100, 100), 75);
    assert.equal(budgetTarget(ratioBudget(0), 100, 100), 100);
    assert.equal(budgetTarget(ratioBudget(0.9), 5, 5), 1, 'never below one row');
    assert.equal(budgetTarget(ratioBudget(0.5), 1000, 300), 300, 'T is the sequence length; the cache may already be smaller');
    assert.equal(budgetTarget(ratioBudget(0.5), 10, 0), 0);
    assert.equal(budgetWant(ratioBudget(0.5), 1000), 500);
    assert.deepEqual(Array.from(budgetTargets(ratioBudget(0.5), 10, 3)), [5, 5, 5]);
  });

  it('ratio floors the decimal ratio as written, not its binary approximation', () => {
    // 1 − 0.8 is 0.19999999999999996 in float64, so a plain floor keeps 1 of 10 tokens where ⌊10·0.2⌋ = 2.
    assert.equal(budgetWant(ratioBudget(0.8), 10), 2);
    assert.equal(budgetWant(ratioBudget(0.9), 100), 10);
    // Long sequences, where the float product's error outgrew a fixed tolerance (6291455.999999998 here), and
    // ratios with many decimals or written with an exponent.
    assert.equal(budgetWant(ratioBudget(0.8), 31_457_280), 6_291_456);
    assert.equal(budgetWant(ratioBudget(0.3), 41_943_050), 29_360_135);
    assert.equal(budgetWant(ratioBudget(0.123456789), 1e9), 876_543_211);
    assert.equal(budgetWant(ratioBudget(1e-7), 1e8), 99_999_990);
    assert.equal(budgetWant(ratioBudget(1e-7), 1e8 - 1), 99_999_989);
    assert.equal(budgetWant(ratioBudget(0.99999999), 2e8), 2);
    // Every ratio with two decimals against exact integer arithmetic: ⌊T·(100 − c)/100⌋.
    for (let c = 1; c < 100; c++) {
      const b = ratioBudget(c / 100);
      for (let T = 1; T <= 3000; T++) {
        const exact = Math.max(1, Math.floor((T * (100 - c)) / 100));
        if (budgetWant(b, T) !== exact) assert.fail(`ratio ${c / 100}, T = ${T}: kept ${budgetWant(b, T)}, ⌊T·(1−r)⌋ = ${exact}`);
      }
    }
  });

  it('tokens keeps N per head', () => {
    assert.equal(budgetTarget(tokenBudget(64), 1000, 900), 64);
    assert.equal(budgetTarget(tokenBudget(64), 1000, 10), 10);
  });

  it('rejects bad budgets with clear errors', () => {
    for (const r of [-0.1, 1, 1.5, NaN, Infinity]) assert.throws(() => ratioBudget(r), /0 ≤ ratio < 1/);
    for (const n of [0, -3, 2.5, NaN]) assert.throws(() => tokenBudget(n), /integer ≥ 1/);
    assert.equal(describeBudget(ratioBudget(0.25)), 'ratio=0.25');
    assert.equal(describeBudget(tokenBudget(8)), 'tokens=8');
  });

  it('cadence: every N tokens crosses multiples; "prefill" is once; "decode" is the context end and each decode step', () => {
    assert.deepEqual(parseCadence('prefill'), { kind: 'prefill' });
    assert.deepEqual(parseCadence('decode'), { kind: 'decode' });
    const decode = parseCadence('decode'), once = parseCadence('prefill');
    const chunk = (phase: 'prefill' | 'decode', endOfPrefill: boolean) => ({ phase, endOfPrefill, totalTokens: 256, nQ: phase === 'decode' ? 1 : 128 });
    assert.equal(cadenceActs(decode, chunk('prefill', false)), false, 'never inside a prefill');
    assert.equal(cadenceActs(decode, chunk('prefill', true)), true);
    assert.equal(cadenceActs(decode, chunk('decode', false)), true);
    assert.equal(cadenceActs(once, chunk('decode', false)), false);
    assert.equal(cadenceActs(once, chunk('prefill', true)), true);
    assert.equal(describeCadence(decode), 'every=decode');
    assert.equal(describeCadence(everyTokens(4)), 'every=4');
    assert.deepEqual(parseCadence('512'), { kind: 'tokens', every: 512 });
    for (const bad of ['0', '-1', '1.5', 'often', '']) assert.throws(() => parseCadence(bad), /every/);
    assert.throws(() => everyTokens(0), /every/);
    assert.equal(crossesMultiple(512, 512, 128), true);
    assert.equal(crossesMultiple(512, 640, 128), false);
    assert.equal(crossesMultiple(512, 1030, 10), true, 'a chunk spanning 1024 acts');
    assert.equal(crossesMultiple(1, 77, 1), true);
  });
});

describe('hand-built budgets and cadences', () => {
  it('are checked as the factories check them (a NaN token count emptied the cache; every 0 never acted)', async () => {
    const { h2oPolicy } = await import('../../src/memory/h2o.js');
    const { checkBudget, checkCadence } = await import('../../src/memory/budget.js');
    assert.throws(() => h2oPolicy({ budget: { kind: 'tokens', tokens: NaN } }), /tokens must be an integer ≥ 1/);
    assert.throws(() => h2oPolicy({ budget: { kind: 'ratio', ratio: 5 } }), /ratio must be a number with 0 ≤ ratio < 1/);
    assert.throws(() => h2oPolicy({ budget: { kind: 'pages' } as never }), /budget must be \{ kind: 'ratio', ratio \}/);
    assert.throws(() => h2oPolicy({ budget: tokenBudget(8), every: { kind: 'tokens', every: 0 } }), /every must be an integer ≥ 1/);
    assert.throws(() => h2oPolicy({ budget: tokenBudget(8), every: 'prefill' as never }), /every must be \{ kind: 'tokens', every \}/);
    assert.deepEqual(checkBudget({ kind: 'ratio', ratio: 0.25 }), ratioBudget(0.25));
    // Integers past 2^53 are not counts (1e20 + 1 === 1e20).
    assert.throws(() => tokenBudget(1e20), /tokens must be an integer ≥ 1/);
    assert.throws(() => everyTokens(1e20), /every must be an integer ≥ 1/);
    assert.deepEqual(checkCadence({ kind: 'decode' }), { kind: 'decode' });
  });
});

describe('selectTopK', () => {
  it('matches a sort-based reference, ties kept for the newer row, NaN as −∞', () => {
    const rng = new Rng(42);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + rng.int(60), k = rng.int(n + 2);
      // Few distinct values, so ties are everywhere; some NaN and ±∞.
      const s = Array.from({ length: n }, () => {
        const u = rng.int(12);
        return u === 0 ? NaN : u === 1 ? Infinity : u === 2 ? -Infinity : rng.int(5);
      });
      const ref = topKRows(s.map((v) => (Number.isNaN(v) ? -Infinity : v)), Math.min(k, n));
      assert.deepEqual(Array.from(selectTopK(s, n, k)), ref, `n=${n} k=${k} s=${s.join(',')}`);
    }
  });

  it('handles sorted inputs and the edges', () => {
    const up = Float64Array.from({ length: 1000 }, (_, i) => i);
    assert.deepEqual(Array.from(selectTopK(up, 1000, 3)), [997, 998, 999]);
    const down = up.slice().reverse();
    assert.deepEqual(Array.from(selectTopK(down, 1000, 3)), [0, 1, 2]);
    assert.deepEqual(Array.from(selectTopK(up, 1000, 0)), []);
    assert.equal(selectTopK(up, 1000, 5000).length, 1000);
    const flat = new Float64Array(10);
    assert.deepEqual(Array.from(selectTopK(flat, 10, 4)), [6, 7, 8, 9], 'all tied: the newest survive');
    assert.ok(selectTopK(up, 10, 4) instanceof Int32Array);
    // More rows than scores gave indices past the scores; a NaN count gave duplicates.
    assert.throws(() => selectTopK([1, 2, 3], 10, 2), /selectTopK: n must be an integer within 0\.\.3/);
    assert.throws(() => selectTopK([1, 2, 3], NaN, 2), /n must be an integer/);
    assert.throws(() => selectTopK([1, 2, 3], 3, 1.5), /k must be an integer/);
  });
});
