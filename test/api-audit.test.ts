/**
 * Findings of a newcomer's audit of the library API (session 35): values printed as what they are, policies' own
 * fields checked, duplicate sweep values refused, a summary of results without a metric explained.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CmaEs, generateRecords, ratioBudget, randomPolicy, summarize } from '../src/index.js';
import { loadModel } from '../src/models/model.js';
import { collectWarnings } from './helpers/warnings.js';

const model = await loadModel('models/namm-tiny-llama');

test('a string where a number goes is quoted in the message ("got "5"", not "got 5")', async () => {
  const s = model.createSessionWith(null);
  await assert.rejects(s.generate('hi', { maxNewTokens: '5' as never }), /^RangeError: maxNewTokens must be an integer ≥ 0, got "5"$/);
  await assert.rejects(s.generate('hi', { maxNewTokens: 5, minNewTokens: '1' as never }), /^RangeError: minNewTokens must be an integer ≥ 0, got "1"$/);
  assert.throws(() => model.createSessionWith(null, { chunkSize: '128' as never }), /chunkSize must be a positive integer, got "128"$/);
  assert.throws(() => ratioBudget('0.5' as never), /got "0\.5"$/);
  assert.throws(() => randomPolicy({ budget: ratioBudget(0.5), seed: 'x' as never }), /random: seed must be an integer, got "x"$/);
  const es = new CmaEs({ dim: 2, popSize: 2, seed: 1 });
  es.ask();
  assert.throws(() => es.tell(['1', '2'] as never), /CMA-ES: fitness\[0\] is "1"; every fitness must be a finite number/);
});

test('a custom policy: an async observe, an unknown tap precision and a bad position span are named', () => {
  const base = { name: 'mine', needsAttention: false, reset() {} };
  assert.throws(() => model.createSessionWith({ ...base, observe: (async () => null) as never }).prefill([1, 2, 3]),
    /^TypeError: memory policy mine returned a promise for layer 0: observe\(\) must be synchronous/);
  assert.throws(() => model.createSessionWith({ ...base, needsAttention: true, tapPrecision: 'fp8' as never, observe: () => null }).prefill([1, 2, 3]),
    /^RangeError: memory policy mine: tapPrecision must be 'fp32' or 'bf16', got "fp8"$/);
  // A session that starts with decode() is checked too.
  assert.throws(() => model.createSessionWith({ ...base, needsAttention: true, tapPrecision: 'fp8' as never, observe: () => null }).decode(1),
    /^RangeError: memory policy mine: tapPrecision must be 'fp32' or 'bf16', got "fp8"$/);
  assert.throws(() => model.createSessionWith({ ...base, positionSpan: { tokens: -1, what: 'x' }, observe: () => null }).prefill([1, 2, 3]),
    /^RangeError: memory policy mine: positionSpan\.tokens must be an integer ≥ 0, got -1$/);
});

test('generateRecords refuses a length or depth listed twice (the same records twice, with the same ids), as the CLI does', () => {
  const tokenizer = model.tokenizer!;
  assert.throws(() => generateRecords({ task: 'passkey', n: 1, lengths: [512, 512], tokenizer }), /^RangeError: generateRecords: lengths lists 512 twice/);
  assert.throws(() => generateRecords({ task: 'passkey', n: 1, lengths: [512], depths: [50, 10, 50], tokenizer }), /depths lists 50 twice/);
  assert.equal(generateRecords({ task: 'passkey', n: 1, lengths: [300, 400], tokenizer }).length, 2);
});

test('summarize names results without a metric instead of "unknown metric undefined"', () => {
  assert.throws(() => summarize([{ dataset: 'a', policy: 'full' }] as never), /^Error: summarize: the results of "a" under "full" have no metric \(results as runRecord returns them have one\)$/);
  assert.throws(() => summarize([{ dataset: 'a', policy: 'full', metric: 'f1' }] as never), /have the unknown metric "f1"/);
});

test('policy factories refuse what the spec strings refuse: adakv around adakv, sinks given twice', async () => {
  const { adakvPolicy, h2oPolicy, withSinks } = await import('../src/index.js');
  assert.throws(() => adakvPolicy(adakvPolicy(h2oPolicy({ budget: ratioBudget(0.5) }))), /^Error: adakvPolicy: adakv\(h2o\):ratio=0\.5 is an AdaKV policy already/);
  assert.throws(() => withSinks(withSinks(h2oPolicy({ budget: ratioBudget(0.5) }), 4), 2), /^Error: withSinks: h2o:ratio=0\.5,sinks=4 already keeps 4 sinks/);
  // Once each is fine, in either order.
  assert.equal(adakvPolicy(withSinks(h2oPolicy({ budget: ratioBudget(0.5) }), 4)).name, 'adakv(h2o):ratio=0.5,sinks=4');
});

test('summarize refuses a full-cache policy named on purpose that no result has (a typo left every "vs full" empty)', () => {
  const r = { id: 'a', dataset: 'passkey', metric: 'passkey', score: 1, memory: { meanFraction: 1, peakFraction: 1 } };
  const results = [{ ...r, policy: 'full' }, { ...r, policy: 'h2o:ratio=0.5' }];
  assert.throws(() => summarize(results as never, 'ful'), /^RangeError: summarize: no result has the policy "ful" named as the full cache; the results' policies are "full", "h2o:ratio=0\.5"$/);
  assert.equal(summarize(results as never, 'h2o:ratio=0.5').find((x) => x.policy === 'full')!.relativeToFull, 1);
  // The default "full" may be absent (a run without it): no ratio, no refusal.
  assert.equal(summarize([results[1]!] as never)[0]!.relativeToFull, null);
});

test('snapkv warns once when a budget is no more than its observation window (it then keeps the newest rows, choosing nothing)', async () => {
  const { parsePolicySpec } = await import('../src/index.js');
  const warnings = collectWarnings('NAMM_SNAPKV_WINDOW_FILLS_BUDGET');
  try {
    const ids = model.tokenizer!.encode('Lily played with a red ball in the park. '.repeat(12));
    // A budget above the window: the votes choose; nothing to say.
    model.createSessionWith(parsePolicySpec('snapkv:ratio=0.25,window=16')).prefill(ids);
    assert.equal((await warnings.seen()).length, 0);
    // ⌊T·(1 − 0.9)⌋ rows, under the 64 of the default window.
    model.createSessionWith(parsePolicySpec('snapkv:ratio=0.9')).prefill(ids);
    model.createSessionWith(parsePolicySpec('snapkv:ratio=0.95')).prefill(ids);
    const seen = await warnings.seen();
    assert.equal(seen.length, 1, 'once per process');
    assert.match(seen[0]!.message, /^snapkv: layer 0 head 0 keeps \d+ rows, no more than the 64 rows of the observation window, which are always kept/);
  } finally {
    warnings.stop();
  }
});
