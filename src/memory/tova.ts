/** TOVA, Token Omission Via Attention (Oren et al., arXiv 2401.06104): drop the tokens the current query attends to least, averaged over the layer's heads. */
import type { CacheShape, LayerObservation } from './policy.js';
import { AT_CONTEXT_END_AND_DECODE, type Budget, type Cadence } from './budget.js';
import { checkFactoryOptions, ScoredPolicy, type TokenScorer } from './scored.js';

export interface TOVAOptions {
  budget: Budget | null;
  /**
   * Default `decode`, the published schedule: the prompt is compressed once, at its end, by its last token's
   * attention, then every decoded token acts. `everyTokens(1)` also acts inside the prefill, at the end of each
   * chunk with that chunk's last token, which bounds the cache while a long prompt is read.
   */
  every?: Cadence;
}

export const TOVA_DEFAULTS = { every: AT_CONTEXT_END_AND_DECODE } as const;

/**
 * Score = attention of the chunk's last query (the current token), averaged over all heads of the layer: one
 * score per token, shared by every KV head, so the heads keep the same tokens. The tap is already averaged over
 * the query heads of each KV head; with equal group sizes the mean of those is the mean over all query heads.
 * When heads hold different tokens (only if something else evicted per head), a token's score is the mean over
 * the heads that still hold it, matched by absolute position.
 */
export class TOVAScorer implements TokenScorer {
  readonly method = 'tova';
  readonly needsAttention = true;
  /** Its state is per layer: see TokenScorer.layerwise. */
  readonly layerwise = true;
  reset(_shape: CacheShape): void {}
  update(_obs: LayerObservation): void {}

  score(obs: LayerObservation): Float64Array[] {
    const H = obs.lens.length, last = obs.nQ - 1;
    const lastRow = (h: number): Float32Array => {
      const n = obs.lens[h]!, att = obs.attention![h]!;
      if (att.length < obs.nQ * n) throw new Error(`tova: attention of head ${h} holds ${att.length} values, need ${obs.nQ}×${n}`);
      return att.subarray(last * n, last * n + n);
    };
    if (alignedHeads(obs)) {
      const n = obs.lens[0]!, mean = new Float64Array(n);
      for (let h = 0; h < H; h++) { const r = lastRow(h); for (let j = 0; j < n; j++) mean[j]! += r[j]!; }
      for (let j = 0; j < n; j++) mean[j]! /= H;
      return Array.from({ length: H }, () => mean.slice());
    }
    const sum = new Map<number, number>(), count = new Map<number, number>();
    for (let h = 0; h < H; h++) {
      const r = lastRow(h), pos = obs.positions[h]!;
      for (let j = 0; j < obs.lens[h]!; j++) {
        const p = pos[j]!;
        sum.set(p, (sum.get(p) ?? 0) + r[j]!);
        count.set(p, (count.get(p) ?? 0) + 1);
      }
    }
    return Array.from(obs.lens, (n, h) => {
      const pos = obs.positions[h]!, s = new Float64Array(n);
      for (let j = 0; j < n; j++) s[j] = sum.get(pos[j]!)! / count.get(pos[j]!)!;
      return s;
    });
  }
  retain(): void {}
}

/** Whether every head holds the same positions in the same rows. */
function alignedHeads(obs: LayerObservation): boolean {
  const n = obs.lens[0]!, p0 = obs.positions[0]!;
  for (let h = 1; h < obs.lens.length; h++) {
    if (obs.lens[h] !== n) return false;
    const p = obs.positions[h]!;
    for (let j = 0; j < n; j++) if (p[j] !== p0[j]) return false;
  }
  return true;
}

export function tovaPolicy(opts: TOVAOptions): ScoredPolicy {
  checkFactoryOptions('tovaPolicy', opts, ['budget', 'every']);
  return new ScoredPolicy(new TOVAScorer(), { budget: opts.budget, every: opts.every ?? TOVA_DEFAULTS.every, defaultEvery: TOVA_DEFAULTS.every });
}
