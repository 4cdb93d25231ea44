/**
 * The MLP scorer variant (spec/namm.md §3, `cfgs/policy/deep_scoring/mlp.yaml`, `MLPScoring`): a per-token score
 * with no cross-token term. The reference config sets `hidden_depth: 1` and `bias: false`, which in its
 * StatelessGeneralizedMLP is a single bias-free linear layer (the ReLU and residual options only act between
 * hidden layers, of which there are none): s = x·w, 25 parameters. The config also asks for an EMA of scores
 * across updates, but the reference never runs this path (its `deep.yaml` names a missing embedding config), so
 * we do not guess at it: scores are recomputed from the features at every update, as for BAM.
 */
import { FEATURE_DIM, validateNammParams } from './params.js';

export class MlpScorer {
  private readonly w: Float32Array;

  constructor(params: Float32Array) {
    validateNammParams(params, 'mlp');
    this.w = params.slice();
  }

  /** Scores `n` tokens whose features are `x` `[n, 25]` into `out[0..n)`. */
  score(x: Float32Array, n: number, out: Float32Array): void {
    if (x.length < n * FEATURE_DIM) throw new RangeError(`MLP scorer: features hold ${x.length} values, ${n * FEATURE_DIM} needed`);
    if (out.length < n) throw new RangeError(`MLP scorer: output holds ${out.length} values, ${n} needed`);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < FEATURE_DIM; d++) s += x[i * FEATURE_DIM + d]! * this.w[d]!;
      out[i] = s;
    }
  }
}
