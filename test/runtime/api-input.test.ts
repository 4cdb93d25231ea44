/** Library calls with bad input: each is refused with a message that names what is wrong, and writes nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, Model } from '../../src/models/model.js';
import { loadModelFiles } from '../../src/models/load.js';
import { saveMemoryTrace, type MemoryTrace } from '../../src/memory/matched.js';
import { CmaEs } from '../../src/evolve/cmaes.js';
import { runRecord } from '../../src/eval/runner.js';
import type { TaskRecord } from '../../src/tasks/record.js';
import { scoreByMetric } from '../../src/tasks/metrics/index.js';
import { KVCache } from '../../src/runtime/kvcache.js';
import { Sampler } from '../../src/runtime/sampling.js';
import { tempDir } from '../helpers/temp.js';

const MODEL = '../shared/models/tinystories-656k';
const model = await loadModel(MODEL);

test('loadModel: options are checked (a typo loaded the default storage; null crashed), and the names its errors cite are exported', async () => {
  await assert.rejects(loadModel(MODEL, null as never), /^TypeError: loadModel: options must be an object, got null$/);
  await assert.rejects(loadModel(MODEL, { weigths: 'q8_0' } as never), /^TypeError: loadModel: unknown option "weigths" \(did you mean "weights"\?\); the options are backend, weights$/);
  await assert.rejects(loadModel(MODEL, { backend: {} as never }), /^TypeError: backend must be a Backend \(getBackend\(\), new NativeBackend\(\), new JsBackend\(\)\)/);
  const api = await import('../../src/index.js');
  for (const name of ['getBackend', 'NativeBackend', 'JsBackend', 'loadModel', 'Session', 'Sampler', 'parsePolicySpec', 'IncrementalDecoder', 'withSinks', 'policyStateBytes']) assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
});

test('a recording session refuses to fork by naming the recording (it blamed the inner policy\'s clone())', async () => {
  const { MemoryTraceRecorder, recordingPolicy } = await import('../../src/memory/matched.js');
  const { parsePolicySpec } = await import('../../src/memory/spec.js');
  const s = model.createSessionWith(recordingPolicy(parsePolicySpec('h2o:ratio=0.5'), new MemoryTraceRecorder()));
  s.prefill([1, 2, 3, 4]);
  assert.throws(() => s.fork(), /^Error: a recording policy \(recordingPolicy\(h2o:ratio=0.5\)\) cannot be forked: a memory trace records whole sequences/);
  assert.equal(s.totalTokens, 4);
  s.decode(5);
});

test('sessions: a memory that is not a policy, bad stop options, NaN logits', async () => {
  assert.throws(() => model.createSessionWith(5 as never), /memory must be a memory policy/);
  await assert.rejects(model.createSession({ memory: {} as never }), /memory must be a memory policy/);
  const s = model.createSessionWith(null);
  await assert.rejects(s.generate([1, 2], { stopTokens: 5 as never }), /stopTokens must be an array of token ids/);
  await assert.rejects(s.generate([1, 2], { stopStrings: 'a' as never }), /stopStrings must be an array of strings/);
  await assert.rejects(s.generate([1, 2], null as never), /options must be an object/);
  // The sampling seed is named as such (it surfaced as the random generator's complaint before).
  await assert.rejects(s.generate([1, 2], { temperature: 1, seed: 1.5 }), /seed must be an integer/);
  // True/false options take only true or false ('yes' read as false, 0 as true).
  await assert.rejects(s.generate([1, 2], { addBos: 'yes' as never }), /^TypeError: generate: addBos must be true or false, got "yes"$/);
  await assert.rejects(s.generate([1, 2], { compressPrompt: 0 as never }), /^TypeError: generate: compressPrompt must be true or false, got 0$/);
  await assert.rejects(s.generate([1, 2], { greedy: 'no' as never }), /^TypeError: greedy must be true or false, got "no"$/);
  assert.equal(s.totalTokens, 0, 'refused before anything ran');
  // totalTokens is read-only: set to 0 as a "reset", it gave repeated positions and a cache share of 200%.
  assert.throws(() => { (s as { totalTokens: number }).totalTokens = 5; }, TypeError);
  // A NaN weight makes every logit NaN: generation says so instead of emitting token 0.
  const files = await loadModelFiles(MODEL);
  const embed = [...files.weights.entries()].find(([name]) => name.includes('embed'))![1];
  const data = Float32Array.from(embed.data as Float32Array);
  data.fill(Number.NaN, 0, data.length);
  files.weights.set([...files.weights.entries()].find(([name]) => name.includes('embed'))![0], { ...embed, data });
  const broken = new Model(files.config, files.weights, files.tokenizer, model.backend, MODEL);
  await assert.rejects(broken.createSessionWith(null).generate([1, 5], { maxNewTokens: 2 }), /NaN or \+Infinity logits/);
  // +∞ logits: the sampler fell through to the least likely token before (generate checks for them, as for NaN).
  assert.throws(() => new Sampler({ temperature: 1 }).next(Float32Array.of(Infinity, 1, Infinity)), /sampling: logits hold \+Infinity or NaN/);
  assert.equal(new Sampler({ temperature: 1 }).next(Float32Array.of(-Infinity, 2, -Infinity)), 1, '−∞ is a masked token');
  // Greedy, used on its own: a NaN is refused (it was skipped, and all-NaN logits chose token 0); ties take the first.
  assert.throws(() => new Sampler().next(Float32Array.of(1, Number.NaN, 0)), /greedy decoding: logits hold NaN \(at 1\)/);
  assert.throws(() => new Sampler({ greedy: true }).next(new Float32Array(4).fill(Number.NaN)), /greedy decoding: logits hold NaN \(at 0\)/);
  assert.equal(new Sampler().next(Float32Array.of(1, 3, 3, -Infinity)), 1);
  // Callbacks and options of the wrong type are refused before anything runs (onToken failed after the prefill).
  const fresh = model.createSessionWith(null);
  await assert.rejects(fresh.generate([1, 2], { onToken: 'x' as never }), /generate: onToken must be a function, got string/);
  assert.equal(fresh.totalTokens, 0);
  assert.throws(() => model.createSessionWith(null, { onEviction: 'x' as never }), /onEviction must be a function/);
  assert.throws(() => model.createSessionWith(null, null as never), /session options must be an object, got null/);
  assert.throws(() => fresh.prefill([1, 2], null as never), /prefill: options must be an object, got null/);
  assert.throws(() => fresh.prefill([1, 2], { logits: 'xx' as never }), /prefill: logits must be "last" or "all", got "xx"/);
});

test('a chunk size far above any prompt runs the prompt as one chunk (it was allocated up front before)', () => {
  const ids = [1, 5, 9, 200, 31, 7];
  const huge = model.createSessionWith(null, { chunkSize: 1e12 }).prefill(ids);
  const whole = model.createSessionWith(null, { chunkSize: ids.length }).prefill(ids);
  assert.deepEqual(Array.from(huge), Array.from(whole));
});

test('saveMemoryTrace refuses a trace loadMemoryTrace could not read, and leaves no file', () => {
  const dir = tempDir('namm-trace-');
  const path = join(dir, 't.json');
  assert.throws(() => saveMemoryTrace(path, null as unknown as MemoryTrace), /expected an array of events/);
  assert.throws(() => saveMemoryTrace(path, { version: 1, sequences: [[{ totalTokens: Number.NaN, layer: -1, kept: 'x' as never }]] }), /totalTokens must be an integer/);
  assert.throws(() => saveMemoryTrace(join(dir, 'no', 't.json'), { version: 1, sequences: [[{ totalTokens: 5, layer: 0, kept: 2 }]] }), /cannot write .*: the folder .* does not exist/);
  assert.equal(existsSync(path), false);
  saveMemoryTrace(path, { version: 1, sequences: [[{ totalTokens: 5, layer: 0, kept: 2 }]] });
  assert.deepEqual(readdirSync(dir), ['t.json']);
});

test('CMA-ES refuses learning rates that would make it diverge or collapse', () => {
  for (const [k, v] of [['cm', Number.NaN], ['cm', -1], ['c1', 5], ['csigma', 2], ['cc', 1.5], ['cmu', 0]] as const) {
    assert.throws(() => new CmaEs({ dim: 3, [k]: v }), new RegExp(`CMA-ES: ${k} must be`), `${k} = ${v}`);
  }
  assert.throws(() => new CmaEs({ dim: 3, c1: 0.6, cmu: 0.6 }), /c1 \+ cmu must be at most 1/);
  assert.throws(() => new CmaEs({ dim: 3, seed: {} as never }), /seed must be an integer/);
  assert.ok(new CmaEs({ dim: 3, c1: 0.2, cmu: 0.3, cc: 1, csigma: 0.5, dsigma: 3 }));
});

test('runRecord refuses a prefix session that does not hold the prefix it claims', async () => {
  const record: TaskRecord = {
    input: 'Where did Lily go?', context: 'Lily went to the park.', answers: ['park'], length: 0, dataset: 'story', language: 'en',
    all_classes: null, _id: 'r', metric: 'string_match_part', prompt_template: '{context}\n\n{input}', max_new_tokens: 4,
  };
  await assert.rejects(runRecord(model, record, null, { prefix: { session: model.createSessionWith(null), tokens: 3 } }), /prefix session holds 0 tokens, the prefix says 3/);
});

test('tokenizers and metrics name a wrong argument type', () => {
  const tok = model.tokenizer!;
  assert.throws(() => tok.encode(null as never), /encode: text must be a string, got null/);
  assert.throws(() => tok.decode(null as never), /decode: ids must be an array of token ids/);
  assert.throws(() => scoreByMetric('qa_f1', null as never, ['x']), /qa_f1: the prediction must be a string, got null/);
  assert.throws(() => scoreByMetric('qa_f1', 'x', 'x' as never), /the answers must be an array of strings/);
  assert.equal(scoreByMetric('qa_f1', 'the park', ['park']), 1);
});

test('an empty model path and a cache of no layers are refused by name', async () => {
  await assert.rejects(loadModel(''), /a model path is needed/);
  assert.throws(() => new KVCache(Number.NaN, 4, 8), /KVCache: nLayers must be an integer ≥ 1, got NaN/);
  assert.throws(() => new KVCache(2, -1, 8), /nKvHeads must be an integer ≥ 1/);
});

test('token ids must be an array or a typed array: array-likes are refused before anything is allocated', async () => {
  const m = await loadModel('../shared/models/tinystories-656k');
  const s = await m.createSession();
  // decode({ length: 1e9 }) spread the array-like first and ended the process out of memory; prefill({ length: -1 })
  // failed with a bare "Invalid array length"; decode([5]) read as a token "5" out of range.
  assert.throws(() => m.tokenizer!.decode({ length: 1e9 } as never), /^TypeError: decode: ids must be an array of token ids$/);
  for (const bad of [{ length: -1 }, { length: 1e10 }, { length: 1.5 }]) assert.throws(() => s.prefill(bad as never), /^TypeError: prefill: token ids must be an array of integers, got object$/);
  assert.throws(() => s.decode([5] as never), /^TypeError: decode: takes one token id \(a number\), got an array; prefill takes a list$/);
  assert.equal(m.tokenizer!.decode(Int32Array.of(1, 147) as never), m.tokenizer!.decode([1, 147]), 'a typed array is fine');
  s.prefill(Int32Array.of(1, 147, 201) as never);
  assert.equal(s.totalTokens, 3);
});
