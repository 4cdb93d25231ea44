/** Model-file and tokenizer helpers check their arguments: no ignored option key, no NaN weights, no raw TypeError. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModelFiles } from '../../src/models/load.js';
import { convertWeights, quantizeQ4_0, tensorValues, widenTensor } from '../../src/models/pack.js';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';
import { loadTokenizer } from '../../src/models/tokenizer.js';
import { toHfConfig } from '../../src/models/config.js';
import { readSafetensors, writeSafetensors } from '../../src/models/safetensors.js';
import { readGgufHeader } from '../../src/models/gguf.js';

const MODEL = 'models/namm-tiny-llama';
const tiny = llamaConfig({ nLayers: 1, hiddenSize: 16, nHeads: 2, nKvHeads: 2, headDim: 8, intermediateSize: 32, vocabSize: 64 });

test('tokenizer encode/decode refuse unknown option keys and non-boolean flags', async () => {
  const tok = await loadTokenizer(MODEL);
  assert.throws(() => tok.encode('hi', { add_special_tokens: false } as never), /^TypeError: encode: unknown option "add_special_tokens" \(did you mean "addBos"\?\)|encode: unknown option "add_special_tokens"/);
  assert.throws(() => tok.encode('hi', { addBos: 'no' } as never), /^TypeError: encode: options\.addBos must be true or false, got "no"$/);
  assert.throws(() => tok.decode([5, 6], { skip_special: true } as never), /decode: unknown option "skip_special"/);
  assert.throws(() => tok.decode([5, 6], null as never), /decode: options must be an object/);
  assert.deepEqual(tok.encode('hi', { addBos: false }), tok.encode('hi').slice(1));
});

test('loadModelFiles and loadTokenizer refuse unknown option keys and null options', async () => {
  await assert.rejects(loadModelFiles(MODEL, { weigths: 'f16' } as never), /loadModelFiles: unknown option "weigths" \(did you mean "weights"\?\)/);
  await assert.rejects(loadTokenizer(MODEL, { bogus: 1 } as never), /loadTokenizer: unknown option "bogus"/);
  await assert.rejects(loadTokenizer(MODEL, null as never), /loadTokenizer: options must be an object/);
  await assert.rejects(loadTokenizer(undefined as never), /^TypeError: loadTokenizer: path must be a file path/);
});

test('randomWeights refuses a NaN std; llamaConfig a misspelt field; quantizeQ4_0 NaN values', () => {
  assert.throws(() => randomWeights(tiny, 0, NaN), /^TypeError: randomWeights: std must be a finite number ≥ 0, got NaN$/);
  assert.throws(() => randomWeights('x' as never), /randomWeights: config must be a model config, got "x"/);
  assert.throws(() => llamaConfig({ nLayrs: 2 } as never), /llamaConfig: unknown option "nLayrs" \(did you mean "nLayers"\?\)/);
  assert.throws(() => gpt2Config('x' as never), /gpt2Config: over must be an object/);
  assert.throws(() => gpt2Config(null as never), /gpt2Config: over must be an object/);
  assert.throws(() => quantizeQ4_0(new Float32Array(32).fill(NaN)), /^RangeError: quantizeQ4_0: x\[0\] is NaN/);
  assert.throws(() => quantizeQ4_0(new Float32Array(32).fill(Infinity)), /quantizeQ4_0: x\[0\] is Infinity/);
  assert.equal(quantizeQ4_0(new Float32Array(32).fill(1)).length, 18);
});

test('llamaConfig and gpt2Config validate the values of their overrides, naming the function and the field', () => {
  assert.throws(() => llamaConfig({ hiddenSize: '512' as never }), /^RangeError: llamaConfig: model config: hiddenSize must be a positive integer, got "512"$/);
  assert.throws(() => llamaConfig({ tieEmbeddings: 'no' as never }), /llamaConfig: model config: tieEmbeddings must be true or false, got "no"/);
  assert.throws(() => llamaConfig({ nKvHeads: 5 }), /llamaConfig: model config: nKvHeads \(5\) must divide nHeads \(12\)/);
  assert.throws(() => llamaConfig({ headDim: 0 }), /llamaConfig: model config: headDim must be a positive integer, got 0/);
  assert.throws(() => llamaConfig({ nHeads: 6, hiddenSize: 384 }), /^RangeError: llamaConfig: nKvHeads \(4, the default\) does not divide nHeads \(6\); give nKvHeads$/);
  assert.throws(() => llamaConfig({ hiddenSize: 100 }), /^RangeError: llamaConfig: hiddenSize \(100\) is not a multiple of nHeads \(12\), so headDim cannot be derived from them; give headDim$/);
  assert.throws(() => llamaConfig({ ropeScaling: { type: 'linear' } as never }), /llamaConfig: model config: ropeScaling.factor \(type "linear"\) must be a positive finite number, got undefined/);
  assert.throws(() => gpt2Config({ vocabSize: 0 }), /^RangeError: gpt2Config: model config: vocabSize must be a positive integer, got 0$/);
  assert.throws(() => gpt2Config({ nKvHeads: 0 }), /gpt2Config: model config: nKvHeads must be a positive integer, got 0/);
  // A width that is no multiple of the heads is fine with headDim given; GPT-2's heads follow nHeads, its end token the vocabulary.
  assert.equal(llamaConfig({ hiddenSize: 100, headDim: 8 }).headDim, 8);
  const g = gpt2Config({ nHeads: 16, vocabSize: 100 });
  assert.deepEqual([g.nHeads, g.nKvHeads, g.headDim, g.bosTokenId, g.eosTokenIds], [16, 16, 48, 99, [99]]);
});

test('tensor, config and file helpers name the function and the argument', () => {
  assert.throws(() => tensorValues('x' as never), /^TypeError: tensorValues: t must be a tensor/);
  assert.throws(() => widenTensor(42 as never), /widenTensor: t must be a tensor .*got 42/);
  assert.throws(() => convertWeights(tiny, {} as never, 'f16'), /convertWeights: weights must be a weight Map/);
  assert.throws(() => toHfConfig({} as never), /model config: arch must be/);
  assert.throws(() => readSafetensors(42 as never), /^TypeError: readSafetensors: file must be a file path .*got 42$/);
  assert.throws(() => writeSafetensors('o.safetensors', { a: 1 } as never), /writeSafetensors: tensors must be a Map/);
  assert.throws(() => readGgufHeader('/etc/passwd' as never, 'x'), /readGgufHeader: fd must be an open file descriptor/);
});
