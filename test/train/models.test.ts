/**
 * Whole-model checks of both families: finite-difference gradients of every parameter (float64, tiny models),
 * training logits equal the inference Model's logits on the same weights, and a tiny model overfits one batch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gpt2Config, llamaConfig, randomWeights } from '../../src/models/random.js';
import { Model } from '../../src/models/model.js';
import type { ModelConfig } from '../../src/models/types.js';
import { JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import { skipNative } from '../tensor/native-fixtures.js';
import { AdamW } from '../../src/train/adamw.js';
import { createTrainableModel } from '../../src/train/family.js';
import { IGNORE } from '../../src/train/ops/cross-entropy.js';
import { backendGemm, referenceGemm } from '../../src/train/ops/gemm.js';
import { Rng } from '../../src/util/rng.js';
import { worstError } from '../helpers/compare.js';
import { attendFull } from './attend.js';
import { assertNonTrivial, checkGradient } from './gradcheck.js';

const TINY: Record<string, ModelConfig> = {
  'llama, GQA, tied, half RoPE': llamaConfig({ vocabSize: 11, hiddenSize: 8, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 4, intermediateSize: 12, maxPositions: 16 }),
  'llama, q/k/v biases, untied, interleaved RoPE': llamaConfig({
    vocabSize: 9, hiddenSize: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 4, intermediateSize: 10, maxPositions: 16,
    attnQkvBias: true, tieEmbeddings: false, ropeLayout: 'interleaved', modelType: 'qwen2',
  }),
  // YaRN with a tiny original context, so that one of the two pairs is interpolated, and an attention factor.
  'llama, YaRN RoPE scaling': llamaConfig({
    vocabSize: 11, hiddenSize: 8, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 4, intermediateSize: 12, maxPositions: 64,
    ropeScaling: { type: 'yarn', factor: 4, originalMaxPositions: 8, attentionFactor: 1.3, betaFast: 32, betaSlow: 1, truncate: true },
  }),
  'gpt2, tied, GELU tanh': gpt2Config({ vocabSize: 10, hiddenSize: 8, nLayers: 2, nHeads: 2, intermediateSize: 12, maxPositions: 8 }),
  'gpt2, untied, GELU erf': gpt2Config({ vocabSize: 7, hiddenSize: 6, nLayers: 2, nHeads: 3, intermediateSize: 10, maxPositions: 8, tieEmbeddings: false, activation: 'gelu_erf' }),
};

function randomTokens(rng: Rng, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

describe('whole-model gradients (float64 finite differences of every parameter)', () => {
  for (const [name, config] of Object.entries(TINY)) {
    it(name, () => {
      const model = createTrainableModel(config, referenceGemm, 'f64');
      const rng = new Rng(21);
      // Weights well away from 0.02-scale init so every path (norm scales, biases, attention) carries gradient.
      const p = model.params.data as Float64Array;
      for (let i = 0; i < p.length; i++) p[i] = rng.normal() * 0.5;
      const T = 6, ids = randomTokens(rng, T, config.vocabSize), targets = randomTokens(rng, T, config.vocabSize);
      targets[2] = IGNORE;
      const scale = 1 / 5;
      model.params.zeroGrad();
      const ls = model.forwardBackward(ids, targets, scale);
      assert.equal(ls.count, 5);
      const grad = Float64Array.from(model.params.grad);
      for (const e of model.params.entries) {
        const g = grad.subarray(e.offset, e.offset + e.size);
        // A key bias without RoPE adds q·b_k to every score of a query row, which softmax ignores: its gradient is
        // exactly zero (with RoPE it is rotated differently per position, so the Llama one is not).
        if (e.name.endsWith('attn.k.bias')) assert.ok(g.every((x) => Math.abs(x) < 1e-12), `${e.name} should get no gradient`);
        else assertNonTrivial(e.name, g);
      }
      checkGradient('params', () => scale * model.loss(ids, targets).sum, p, grad);
    });
  }
});

describe('training forward equals the inference forward', () => {
  const configs: Record<string, ModelConfig> = {
    ...TINY,
    'llama, wider': llamaConfig({ vocabSize: 97, hiddenSize: 48, nLayers: 3, nHeads: 6, nKvHeads: 2, intermediateSize: 80, maxPositions: 64 }),
    'gpt2, wider': gpt2Config({ vocabSize: 97, hiddenSize: 48, nLayers: 3, nHeads: 4, intermediateSize: 96, maxPositions: 64 }),
  };
  for (const [name, config] of Object.entries(configs)) {
    it(name, () => {
      const be = new JsBackend();
      const weights = randomWeights(config, 5, 0.3);
      const reference = new Model(config, weights, null, be);
      const T = Math.min(config.maxPositions, 40), ids = randomTokens(new Rng(6), T, config.vocabSize);
      const positions = Int32Array.from({ length: T }, (_, t) => t);
      const want = reference.arch.forward(be, ids, positions, attendFull(be, config), 'all');
      const model = createTrainableModel(config, backendGemm(be), 'f32');
      model.loadHfWeights(weights);
      const got = model.logits(ids);
      const worst = worstError(got, want);
      assert.ok(worst.err < 1e-4, `logit ${worst.index}: ${worst.actual} vs ${worst.expected} (err ${worst.err})`);
      // And the exported weights rebuild the same inference model.
      const again = new Model(config, model.toHfWeights(), null, be).arch.forward(be, ids, positions, attendFull(be, config), 'all');
      assert.ok(worstError(again, want).err < 1e-6, 'toHfWeights round trip');
    });
  }
});

describe('a tiny model overfits one batch', () => {
  for (const [name, config] of [
    ['llama', llamaConfig({ vocabSize: 32, hiddenSize: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 64, maxPositions: 32 })],
    ['gpt2', gpt2Config({ vocabSize: 32, hiddenSize: 32, nLayers: 2, nHeads: 4, intermediateSize: 64, maxPositions: 32 })],
  ] as const) {
    it(`${name}: loss on 2 fixed sequences falls below 0.05 within 150 steps`, () => {
      const model = createTrainableModel(config, backendGemm(new JsBackend()), 'f32');
      model.params.initialize(1);
      const opt = new AdamW(model.params, { weightDecay: 0 });
      const rng = new Rng(2), batch = [0, 1].map(() => randomTokens(rng, 25, config.vocabSize));
      let loss = Number.NaN, initial = Number.NaN;
      for (let step = 0; step < 150; step++) {
        model.params.zeroGrad();
        let sum = 0;
        for (const seq of batch) sum += model.forwardBackward(seq.subarray(0, 24), seq.subarray(1), 1 / 48).sum;
        loss = sum / 48;
        if (step === 0) initial = loss;
        if (loss < 0.05) break;
        opt.update(1e-2);
      }
      assert.ok(initial > 3, `initial loss ${initial} should be near ln 32 = 3.47`);
      assert.ok(loss < 0.05, `loss after training ${loss}`);
    });
  }
});

describe('a whole step on the native backend (fused attention and row kernels) equals the TypeScript one', { skip: skipNative }, () => {
  for (const [name, config] of [
    ['llama, GQA', llamaConfig({ vocabSize: 301, hiddenSize: 48, nLayers: 2, nHeads: 4, nKvHeads: 2, intermediateSize: 96, maxPositions: 128 })],
    ['gpt2, GELU tanh', gpt2Config({ vocabSize: 301, hiddenSize: 48, nLayers: 2, nHeads: 4, intermediateSize: 96, maxPositions: 128 })],
  ] as const) {
    it(`${name}: loss and every gradient`, () => {
      const rng = new Rng(9), T = 100;
      const ids = randomTokens(rng, T, config.vocabSize), targets = randomTokens(rng, T, config.vocabSize);
      targets[5] = IGNORE;
      const run = (gemm: ReturnType<typeof backendGemm>) => {
        const model = createTrainableModel(config, gemm, 'f32');
        model.params.initialize(4);
        model.params.zeroGrad();
        const loss = model.forwardBackward(ids, targets, 1 / T);
        return { loss, grad: Float64Array.from(model.params.grad) };
      };
      const native = backendGemm(new NativeBackend());
      assert.ok(native.rows, 'the native backend lends its row kernels');
      const got = run(native), want = run(backendGemm(new JsBackend()));
      assert.equal(got.loss.count, want.loss.count);
      assert.ok(Math.abs(got.loss.sum - want.loss.sum) < 1e-4 * want.loss.sum, `loss ${got.loss.sum} vs ${want.loss.sum}`);
      let num = 0, den = 0;
      for (let i = 0; i < want.grad.length; i++) { num += (got.grad[i]! - want.grad[i]!) ** 2; den += want.grad[i]! ** 2; }
      assert.ok(Math.sqrt(num / den) < 1e-4, `relative gradient difference ${Math.sqrt(num / den)}`);
    });
  }
});

describe('GPT-2 positional prior (wirePreviousTokenHeads)', () => {
  /** Layer-0 attention of heads 0 and 1: mean weight on the previous position, share of queries whose largest weight is there. */
  function previousTokenAttention(model: Model, n: number): { prev: number[]; argmax: number[] } {
    const prev = [0, 0], argmax = [0, 0];
    const probe = {
      name: 'probe', needsAttention: true, reset() {},
      observe(o: import('../../src/memory/policy.js').LayerObservation) {
        if (o.layer !== 0) return null;
        for (const h of [0, 1]) {
          const A = o.attention![h]!, len = o.lens[h]!;
          for (let i = 0; i < o.nQ; i++) {
            const p = o.totalTokens - o.nQ + i;
            if (p < 1) continue;
            prev[h]! += A[i * len + p - 1]! / (n - 1);
            let best = 0;
            for (let j = 1; j <= p; j++) if (A[i * len + j]! > A[i * len + best]!) best = j;
            if (best === p - 1) argmax[h]! += 1 / (n - 1);
          }
        }
        return null;
      },
    };
    const rng = new Rng(3);
    model.createSessionWith(probe).prefill(Int32Array.from({ length: n }, () => 3 + rng.int(60)));
    return { prev, argmax };
  }

  it('a wired head attends to the previous position at every position of the context; an unwired head does not', async () => {
    const { Gpt2TrainModel, wirePreviousTokenHeads } = await import('../../src/train/gpt2-train.js');
    const be = new JsBackend();
    const c = gpt2Config({ vocabSize: 64, hiddenSize: 192, nLayers: 1, nHeads: 8, intermediateSize: 16, maxPositions: 512 }); // namm-tiny-gpt2's width and heads
    const m = new Gpt2TrainModel(c, referenceGemm, 'f32', { positions: 'sinusoidal', positionStd: 0.1 });
    m.params.initialize(0);
    wirePreviousTokenHeads(m.params, c, 1, { std: 0.02, positionStd: 0.1 });
    const { prev, argmax } = previousTokenAttention(new Model(c, m.toHfWeights(), null, be), 400);
    assert.ok(prev[0]! > 0.9, `wired head: ${prev[0]} on the previous position`);
    assert.ok(argmax[0]! > 0.95, `wired head: the previous position is the most attended for ${argmax[0]} of the queries`);
    assert.ok(prev[1]! < 0.1 && argmax[1]! < 0.1, `unwired head: ${prev[1]}, ${argmax[1]}`);
    assert.throws(() => wirePreviousTokenHeads(m.params, c, 9, { std: 0.02, positionStd: 0.1 }), /previousTokenHeads must be an integer in 0\.\.8/);
    assert.throws(() => wirePreviousTokenHeads(m.params, gpt2Config({ ...c, hiddenSize: 16, nHeads: 2, nKvHeads: 2 }), 2, { std: 0.02, positionStd: 0.1 }), /frequency pairs/);
  });
});
