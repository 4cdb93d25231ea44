import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseHfConfig, toHfConfig, validateModelConfig } from '../../src/models/config.js';
import { Model } from '../../src/models/model.js';
import { llamaConfig, randomWeights } from '../../src/models/random.js';

const tinystories = JSON.parse(readFileSync('../shared/models/tinystories-656k/config.json', 'utf8'));

/** Abridged from the public config.json files of these models. */
const qwen2 = {
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14, num_key_value_heads: 2,
  num_hidden_layers: 24, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000.0, vocab_size: 151936,
  tie_word_embeddings: true, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', sliding_window: 32768,
};
const llama31 = {
  model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_attention_heads: 32, num_key_value_heads: 8,
  num_hidden_layers: 16, max_position_embeddings: 131072, rms_norm_eps: 1e-5, rope_theta: 500000.0, vocab_size: 128256,
  head_dim: 64, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], tie_word_embeddings: true,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
};
const gpt2 = {
  model_type: 'gpt2', activation_function: 'gelu_new', n_ctx: 1024, n_embd: 768, n_head: 12, n_inner: null, n_layer: 12,
  n_positions: 1024, layer_norm_epsilon: 1e-5, vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256,
};

test('tinystories config.json → llama with GQA and tied embeddings', () => {
  const c = parseHfConfig(tinystories, 'config.json');
  assert.deepEqual(
    { arch: c.arch, vocab: c.vocabSize, hidden: c.hiddenSize, layers: c.nLayers, heads: c.nHeads, kv: c.nKvHeads, hd: c.headDim, ff: c.intermediateSize, pos: c.maxPositions, eps: c.normEps, theta: c.ropeTheta, tie: c.tieEmbeddings, bos: c.bosTokenId, eos: c.eosTokenIds, layout: c.ropeLayout, act: c.activation, bias: c.attnQkvBias },
    { arch: 'llama', vocab: 2048, hidden: 128, layers: 2, heads: 8, kv: 4, hd: 16, ff: 384, pos: 512, eps: 1e-6, theta: 10000, tie: true, bos: 1, eos: [2], layout: 'half', act: 'silu', bias: false },
  );
  assert.deepEqual(c.ropeScaling, { type: 'none' });
});

test('qwen2 gets q/k/v biases; llama3 rope scaling; gpt2 defaults', () => {
  const q = parseHfConfig(qwen2, 'q.json');
  assert.equal(q.arch, 'llama');
  assert.equal(q.attnQkvBias, true);
  assert.equal(q.attnOutBias, false);
  assert.equal(q.headDim, 64);
  assert.equal(q.ropeTheta, 1e6);
  const l = parseHfConfig(llama31, 'l.json');
  assert.deepEqual(l.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  // transformers 5's standardize_rope_params: a top-level original_max_position_embeddings wins over rope_scaling's,
  // and with neither, max_position_embeddings (131,072 here) stands in (this used to be 8192 whatever the config said).
  const orig = (top: Record<string, unknown>, inside: Record<string, unknown>) => {
    const s = parseHfConfig({ ...llama31, ...top, rope_scaling: { ...llama31.rope_scaling, original_max_position_embeddings: undefined, ...inside } }, 'l.json').ropeScaling;
    return s.type === 'llama3' ? s.originalMaxPositions : null;
  };
  assert.equal(orig({ original_max_position_embeddings: 4096 }, { original_max_position_embeddings: 8192 }), 4096);
  assert.equal(orig({}, {}), llama31.max_position_embeddings);
  assert.equal(orig({}, { original_max_position_embeddings: 2048 }), 2048);
  assert.deepEqual(l.eosTokenIds, [128001, 128008, 128009]);
  const g = parseHfConfig(gpt2, 'g.json');
  assert.equal(g.arch, 'gpt2');
  assert.equal(g.intermediateSize, 3072, 'n_inner null → 4·n_embd');
  assert.equal(g.activation, 'gelu_tanh');
  assert.equal(g.headDim, 64);
  assert.equal(g.tieEmbeddings, true);
  assert.equal(g.attnQkvBias && g.attnOutBias && g.mlpBias, true);
  assert.equal(parseHfConfig({ ...gpt2, activation_function: 'gelu' }, 'g.json').activation, 'gelu_erf');
  // HF's attention-scaling switches: their defaults are what namm does; the others are refused, not ignored.
  assert.equal(parseHfConfig({ ...gpt2, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false }, 'g.json').arch, 'gpt2');
  assert.throws(() => parseHfConfig({ ...gpt2, scale_attn_weights: false }, 'g.json'), /g\.json: "scale_attn_weights": false is not supported/);
  assert.throws(() => parseHfConfig({ ...gpt2, scale_attn_by_inverse_layer_idx: true }, 'g.json'), /g\.json: "scale_attn_by_inverse_layer_idx": true is not supported/);
  assert.equal(parseHfConfig({ ...tinystories, model_type: 'mistral', sliding_window: 4096 }, 'm.json').modelType, 'mistral');
  assert.equal(parseHfConfig({ ...tinystories, head_dim: 32 }, 'h.json').headDim, 32);
});

test('sliding_window: Mistral applies it, Qwen2 only with use_sliding_window; none when null, kept when as long as the context; written back', () => {
  const mistral = { ...tinystories, model_type: 'mistral', max_position_embeddings: 32768 };
  assert.equal(parseHfConfig({ ...mistral, sliding_window: 4096 }, 'm.json').slidingWindow, 4096);
  assert.equal(parseHfConfig({ ...mistral, sliding_window: null }, 'm.json').slidingWindow, undefined);
  // A window as long as max_position_embeddings still cuts past it, where a Llama-family model runs on.
  assert.equal(parseHfConfig({ ...mistral, sliding_window: 32768 }, 'm.json').slidingWindow, 32768);
  assert.equal(parseHfConfig({ ...tinystories, sliding_window: 64 }, 'l.json').slidingWindow, undefined, 'llama has no window');
  assert.equal(parseHfConfig({ ...qwen2, sliding_window: 4096 }, 'q.json').slidingWindow, undefined, 'qwen2 without use_sliding_window');
  // Qwen2Config puts the window on layers max_window_layers (28 when absent) and up: none of this model's 24.
  assert.equal(parseHfConfig({ ...qwen2, sliding_window: 4096, use_sliding_window: true }, 'q.json').slidingWindow, undefined, 'no layer from 28 on');
  assert.equal(parseHfConfig({ ...qwen2, sliding_window: 4096, use_sliding_window: true, max_window_layers: 0 }, 'q.json').slidingWindow, 4096);
  assert.equal(parseHfConfig({ ...qwen2, sliding_window: undefined, use_sliding_window: true, max_window_layers: 0 }, 'q.json').slidingWindow, 4096, 'no sliding_window key: Qwen2Config\'s default of 4,096');
  assert.equal(parseHfConfig({ ...qwen2, sliding_window: null, use_sliding_window: true, max_window_layers: 0 }, 'q.json').slidingWindow, undefined);
  assert.throws(() => parseHfConfig({ ...mistral, sliding_window: -1 }, 'm.json'), /m\.json: "sliding_window" must be a positive integer, got -1/);
  const m = parseHfConfig({ ...mistral, sliding_window: 4096 }, 'm.json');
  assert.equal(toHfConfig(m).sliding_window, 4096);
  assert.deepEqual(parseHfConfig(toHfConfig(m), 'back.json'), m);
  assert.equal(toHfConfig(parseHfConfig({ ...mistral, sliding_window: null }, 'm.json')).sliding_window, null, 'no window is written as null (transformers would assume 4,096)');
  assert.equal(parseHfConfig(mistral, 'm.json').slidingWindow, 4096, 'no sliding_window key: MistralConfig\'s default of 4,096');
  const q = parseHfConfig({ ...qwen2, sliding_window: 4096, use_sliding_window: true, max_window_layers: 0 }, 'q.json');
  assert.deepEqual(parseHfConfig(toHfConfig(q), 'back.json'), q);
  // On some layers only: those layers written back (layer_types, and max_window_layers for older readers), where
  // transformers' default (28) would have taken the window off every layer of this model.
  const some = parseHfConfig({ ...qwen2, sliding_window: 256, use_sliding_window: true, max_window_layers: 22 }, 'q.json');
  assert.deepEqual([some.slidingWindow, some.slidingLayers], [256, [22, 23]]);
  const someHf = toHfConfig(some);
  assert.deepEqual([someHf.use_sliding_window, someHf.sliding_window, someHf.max_window_layers, someHf.layer_types],
    [true, 256, 22, [...Array(22).fill('full_attention'), 'sliding_attention', 'sliding_attention']]);
  assert.deepEqual(parseHfConfig(someHf, 'back.json'), some);
  assert.throws(() => validateModelConfig({ ...some, slidingLayers: [4, 3] }), /model config: slidingLayers must be absent, or layer indices \(0\.\.23\) in strictly ascending order, got an array/);
  assert.throws(() => validateModelConfig({ ...some, slidingLayers: [24] }), /slidingLayers must be absent, or layer indices/);
  assert.throws(() => validateModelConfig({ ...some, slidingWindow: undefined }), /slidingLayers must be absent when there is no slidingWindow/);
  // A Llama-family config with a window (a Mistral read from GGUF says "llama") goes out as a Mistral, window kept.
  const fromGguf = { ...m, modelType: 'llama' };
  const hf = toHfConfig(fromGguf);
  assert.deepEqual([hf.model_type, hf.architectures, hf.sliding_window], ['mistral', ['MistralForCausalLM'], 4096]);
  assert.equal(parseHfConfig(hf, 'back.json').slidingWindow, 4096);
  assert.equal(toHfConfig({ ...fromGguf, slidingWindow: undefined }).model_type, 'llama', 'no window: a Llama');
});

test('rope_scaling forms: linear, dynamic, ntk, default/null, v5 rope_parameters', () => {
  const withScaling = (s: unknown) => parseHfConfig({ ...tinystories, rope_scaling: s }, 'c.json').ropeScaling;
  assert.deepEqual(withScaling({ type: 'linear', factor: 2 }), { type: 'linear', factor: 2 });
  assert.deepEqual(withScaling({ type: 'dynamic', factor: 4 }), { type: 'dynamic', factor: 4, originalMaxPositions: 512 });
  // transformers' dynamic NTK reads no original_max_position_embeddings: its original context is max_position_embeddings.
  assert.deepEqual(withScaling({ rope_type: 'dynamic', factor: 4, original_max_position_embeddings: 256 }), { type: 'dynamic', factor: 4, originalMaxPositions: 512 });
  const dyn = parseHfConfig({ ...tinystories, rope_scaling: { type: 'dynamic', factor: 4 } }, 'c.json');
  assert.deepEqual(parseHfConfig(toHfConfig(dyn), 'back.json'), dyn);
  assert.throws(() => toHfConfig({ ...dyn, ropeScaling: { type: 'dynamic', factor: 4, originalMaxPositions: 256 } }),
    /a config\.json cannot hold dynamic NTK scaling from an original context of 256 tokens: transformers takes max_position_embeddings \(512\) as the original context/);
  assert.deepEqual(withScaling({ type: 'ntk', factor: 8, alpha: 2 }), { type: 'ntk', factor: 8, alpha: 2 });
  assert.deepEqual(withScaling({ type: 'ntk', factor: 8 }), { type: 'ntk', factor: 8, alpha: 1 });
  assert.deepEqual(withScaling({ rope_type: 'default' }), { type: 'none' });
  const v5 = parseHfConfig({ ...tinystories, rope_theta: undefined, rope_parameters: { rope_type: 'linear', factor: 3, rope_theta: 5e5 } }, 'c.json');
  assert.equal(v5.ropeTheta, 5e5);
  assert.deepEqual(v5.ropeScaling, { type: 'linear', factor: 3 });
  // v5 moves partial_rotary_factor into rope_parameters too.
  assert.equal(parseHfConfig({ ...tinystories, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.5 } }, 'c.json').partialRotaryFactor, 0.5);
  assert.throws(() => parseHfConfig({ ...tinystories, rope_parameters: { rope_type: 'default', partial_rotary_factor: 2 } }, 'c.json'), /"partial_rotary_factor" must be in \(0, 1\], got 2/);
  // One set per layer type (models with layer_types) ran as plain RoPE with θ = 10000.
  assert.throws(() => parseHfConfig({ ...tinystories, rope_parameters: { full_attention: { rope_type: 'yarn', factor: 4, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } } }, 'c.json'),
    /^Error: c\.json: rope_parameters holds a set per layer type \("full_attention", "sliding_attention"\); namm reads one set for every layer$/);
  // Qwen2-VL's multimodal rotary sections
  assert.throws(() => withScaling({ type: 'mrope', mrope_section: [16, 24, 24] }), /c\.json: rope_scaling type "mrope" is not supported \(supported: linear, dynamic, ntk, llama3, yarn, longrope\)/);
  assert.throws(() => withScaling({ type: 'longrope', factor: 4 }), /c\.json \(rope_scaling\): "short_factor" must be a list of positive numbers/);
  assert.throws(() => withScaling({ type: 'linear' }), /needs "factor"/);
  assert.throws(() => withScaling({ type: 'linear', factor: -1 }), /"factor" must be a positive number/);
});

test('toHfConfig inverts parseHfConfig', () => {
  for (const src of [tinystories, qwen2, llama31, gpt2]) {
    const c = parseHfConfig(src, 'a.json');
    assert.deepEqual(parseHfConfig(toHfConfig(c), 'b.json'), c);
  }
});

test('bad configs are refused with the key and the file named', () => {
  const bad = (over: Record<string, unknown>) => () => parseHfConfig({ ...tinystories, ...over }, '/m/config.json');
  assert.throws(bad({ model_type: 'bert' }), /\/m\/config\.json: model_type "bert" is not supported/);
  assert.throws(bad({ model_type: undefined }), /required key "model_type" is missing/);
  assert.throws(bad({ hidden_size: undefined }), /\/m\/config\.json: required key "hidden_size" is missing/);
  assert.throws(bad({ num_hidden_layers: 0 }), /"num_hidden_layers" must be a positive integer, got 0/);
  assert.throws(bad({ vocab_size: 12.5 }), /"vocab_size" must be a positive integer, got 12\.5/);
  assert.throws(bad({ intermediate_size: '384' }), /"intermediate_size" must be a positive integer/);
  assert.throws(bad({ num_attention_heads: 7 }), /num_attention_heads \(7\) does not divide hidden_size \(128\)/);
  assert.throws(bad({ num_key_value_heads: 3 }), /num_key_value_heads \(3\) does not divide num_attention_heads \(8\)/);
  assert.throws(bad({ hidden_act: 'gelu' }), /hidden_act "gelu" is not supported/);
  assert.throws(bad({ rms_norm_eps: -1 }), /"rms_norm_eps" must be a positive number/);
  assert.throws(bad({ max_position_embeddings: undefined }), /required key "max_position_embeddings" is missing/);
  assert.throws(() => parseHfConfig({ ...gpt2, n_head: 5 }, 'g.json'), /n_head \(5\) does not divide n_embd \(768\)/);
  assert.throws(() => parseHfConfig({ ...gpt2, n_positions: undefined }, 'g.json'), /required key "n_positions" is missing/);
  assert.throws(() => parseHfConfig([1], 'x.json'), /x\.json: expected a JSON object/);
});

test('parseHfConfig without a source names config.json in its errors (not "undefined")', () => {
  assert.throws(() => parseHfConfig({ ...tinystories, vocab_size: 0 } as never), /^Error: config\.json: "vocab_size" must be a positive integer, got 0$/);
});

test('a hand-built config is checked field by field before a Model is built from it', () => {
  const good = llamaConfig({ vocabSize: 64, hiddenSize: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, intermediateSize: 32, maxPositions: 64 });
  const weights = randomWeights(good, 1);
  // The configs the loaders produce pass.
  validateModelConfig(good);
  for (const json of [tinystories, qwen2, llama31, gpt2]) validateModelConfig(parseHfConfig(json, 'x.json'));
  assert.equal(new Model(good, weights, null).config, good);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ropeTheta: 0 }, /ropeTheta must be a positive finite number, got 0/],
    [{ ropeTheta: -5 }, /ropeTheta must be a positive finite number, got -5/],
    [{ ropeTheta: Number.NaN }, /ropeTheta must be a positive finite number, got NaN/],
    [{ activation: 'relu' }, /activation must be one of "silu" for llama \(gelu_tanh with gemma\), got "relu"/],
    [{ activation: 'gelu_tanh' }, /activation must be one of "silu" for llama/],
    [{ arch: 'bert' }, /arch must be "llama" or "gpt2", got "bert"/],
    [{ nLayers: 0 }, /nLayers must be a positive integer, got 0/],
    [{ hiddenSize: 1.5 }, /hiddenSize must be a positive integer, got 1.5/],
    [{ nKvHeads: 3 }, /nKvHeads \(3\) must divide nHeads \(2\)/],
    [{ normEps: 0 }, /normEps must be a positive finite number/],
    [{ ropeLayout: 'sideways' }, /ropeLayout must be "half" or "interleaved"/],
    [{ partialRotaryFactor: 2 }, /partialRotaryFactor must be a number in \(0, 1\]/],
    [{ tieEmbeddings: 'yes' }, /tieEmbeddings must be true or false, got "yes"/],
    [{ bosTokenId: -1 }, /bosTokenId must be null or a token id/],
    [{ eosTokenIds: 2 }, /eosTokenIds must be an array of token ids, got 2/],
    [{ slidingWindow: 0 }, /slidingWindow must be a positive integer or absent/],
    [{ ropeScaling: { type: 'mrope', factor: 2 } }, /ropeScaling\.type must be one of none, linear, ntk, dynamic, llama3, factors, yarn, longrope, got "mrope"/],
    [{ ropeScaling: { type: 'longrope', factor: 2 } }, /ropeScaling\.shortFactors must be 4 positive finite numbers \(one per rotary pair\), got undefined/],
    [{ ropeScaling: { type: 'linear', factor: 0 } }, /ropeScaling\.factor \(type "linear"\) must be a positive finite number, got 0/],
    [{ ropeScaling: { type: 'dynamic', factor: 2, originalMaxPositions: 0.5 } }, /ropeScaling\.originalMaxPositions \(type "dynamic"\) must be a positive integer/],
    [{ ropeScaling: null }, /ropeScaling must be an object/],
  ];
  for (const [over, re] of cases) {
    const config = { ...good, ...over } as never;
    assert.throws(() => validateModelConfig(config), re, JSON.stringify(over));
    assert.throws(() => new Model(config, weights, null), re, `Model: ${JSON.stringify(over)}`);
  }
  const gpt = parseHfConfig(gpt2, 'g.json');
  assert.throws(() => validateModelConfig({ ...gpt, activation: 'silu' }), /activation must be one of "gelu_tanh", "gelu_erf" for gpt2, got "silu"/);
  assert.throws(() => validateModelConfig(null as never), /model config must be an object, got null/);
});
