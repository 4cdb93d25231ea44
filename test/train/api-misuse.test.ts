/** Training helpers check their arguments: NaN learning rates and gradient norms came back without a word. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW, clipGradNorm } from '../../src/train/adamw.js';
import { learningRate } from '../../src/train/schedule.js';

test('learningRate refuses an incomplete or misspelt schedule instead of returning NaN', () => {
  assert.throws(() => learningRate({} as never, 5), /^TypeError: learningRate: s\.peak must be a finite number, got undefined$/);
  assert.throws(() => learningRate({ warmupSteps: 10, maxSteps: 100, lr: 1e-3, schedule: 'bogus' } as never, 5), /learningRate: unknown option "maxSteps"/);
  assert.throws(() => learningRate({ peak: 1, min: 0, warmupSteps: 1, totalSteps: 2 }, NaN), /learningRate: step must be an integer ≥ 0, got NaN/);
  assert.equal(learningRate({ peak: 1, min: 0, warmupSteps: 0, totalSteps: 0 }, 3), 1);
});

test('clipGradNorm refuses a negative or NaN bound and a plain array', () => {
  assert.throws(() => clipGradNorm(new Float32Array([3, 4]), -1), /^TypeError: clipGradNorm: maxNorm must be a number ≥ 0 \(0: no clipping\), got -1$/);
  assert.throws(() => clipGradNorm(new Float32Array([3, 4]), NaN), /clipGradNorm: maxNorm must be a number ≥ 0/);
  assert.throws(() => clipGradNorm([[3, 4]] as never, 1), /clipGradNorm: grad must be a gradient vector/);
  assert.equal(clipGradNorm(new Float32Array([3, 4]), 0), 5);
});

test('AdamW names a missing parameter store and a misspelt option', () => {
  assert.throws(() => new AdamW({} as never), /^TypeError: AdamW: params must be a parameter store/);
  const params = { decayMask: () => new Uint8Array(2), count: 2, precision: 'f32' } as never;
  assert.throws(() => new AdamW(params, { lr: 1 } as never), /AdamW: unknown option "lr"/);
});
