/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", arXiv 1711.05101) with bias correction,
 * over a ParamStore's flat parameter and gradient vectors, and global-norm gradient clipping.
 */
import { allocVec, type Vec } from './ops/types.js';
import type { ParamStore } from './params.js';
import { argError, checkArgOptions } from '../util/args.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay λ: θ −= lr·λ·θ on the parameters whose spec says `decay` (matrices, by default). */
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

export interface AdamWState { step: number; m: Vec; v: Vec }

export class AdamW {
  readonly options: AdamWOptions;
  /** Steps taken (the t of the bias correction). */
  step = 0;
  readonly m: Vec;
  readonly v: Vec;
  private readonly decay: Uint8Array;

  constructor(private readonly params: ParamStore, options: Partial<AdamWOptions> = {}) {
    if (typeof params?.decayMask !== 'function' || !Number.isSafeInteger(params.count)) throw argError('AdamW', 'params', 'a parameter store (a trainable model\'s params)', params);
    checkArgOptions('AdamW', options, Object.keys(ADAMW_DEFAULTS));
    this.options = { ...ADAMW_DEFAULTS, ...options };
    const o = this.options;
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) throw new Error(`AdamW betas must lie in [0, 1), got ${o.beta1}, ${o.beta2}`);
    if (!(o.eps > 0)) throw new Error(`AdamW eps must be > 0, got ${o.eps}`);
    if (!(o.weightDecay >= 0)) throw new Error(`AdamW weight decay must be ≥ 0, got ${o.weightDecay}`);
    this.m = allocVec(params.precision, params.count);
    this.v = allocVec(params.precision, params.count);
    this.decay = params.decayMask();
  }

  /** One update with learning rate `lr` from the gradients in `params.grad`. */
  update(lr: number): void {
    if (!(lr >= 0 && Number.isFinite(lr))) throw new Error(`learning rate must be a finite number ≥ 0, got ${lr}`);
    const { beta1, beta2, eps, weightDecay } = this.options;
    this.step++;
    const c1 = 1 - Math.pow(beta1, this.step), c2 = 1 - Math.pow(beta2, this.step);
    const p = this.params.data, g = this.params.grad, m = this.m, v = this.v, decay = this.decay;
    const shrink = 1 - lr * weightDecay;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = beta1 * m[i]! + (1 - beta1) * gi;
      const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
      m[i] = mi; v[i] = vi;
      const pi = decay[i] ? p[i]! * shrink : p[i]!;
      p[i] = pi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
    }
  }

  getState(): AdamWState { return { step: this.step, m: this.m, v: this.v }; }

  setState(s: AdamWState): void {
    if (s.m.length !== this.m.length || s.v.length !== this.v.length) {
      throw new Error(`optimizer state holds ${s.m.length} moments but the model has ${this.m.length} parameters`);
    }
    if (!(Number.isInteger(s.step) && s.step >= 0)) throw new Error(`optimizer step must be an integer ≥ 0, got ${s.step}`);
    this.step = s.step; this.m.set(s.m); this.v.set(s.v);
  }
}

/** The L2 norm of all gradients; when it exceeds `maxNorm` (> 0) they are scaled down to it. Returns the norm before. */
export function clipGradNorm(grad: Vec, maxNorm: number): number {
  if (!(grad instanceof Float32Array || grad instanceof Float64Array)) throw argError('clipGradNorm', 'grad', 'a gradient vector (a Float32Array or Float64Array)', grad);
  if (!(typeof maxNorm === 'number' && maxNorm >= 0)) throw argError('clipGradNorm', 'maxNorm', 'a number ≥ 0 (0: no clipping)', maxNorm);
  let ss = 0;
  for (let i = 0; i < grad.length; i++) ss += grad[i]! * grad[i]!;
  const norm = Math.sqrt(ss);
  if (maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-12);
    for (let i = 0; i < grad.length; i++) grad[i] *= s;
  }
  return norm;
}
