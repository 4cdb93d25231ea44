/** AdaKV (Feng et al., arXiv 2407.11550): one top-k across all heads of a layer, each head keeping a floor share. Wraps any scoring baseline. */
import { showValue } from '../util/show.js';
import { selectTopK } from './budget.js';
import { ALWAYS_KEPT_SCORE, checkFactoryOptions, ScoredPolicy, type Selector } from './scored.js';

export interface AdaKVOptions {
  /**
   * Each head first keeps the rows its rule always keeps (windows, sinks) and its top ⌊floor·(target_h − those)⌋
   * other rows, as AdaKV's floor_alpha applies to the budget less the window. Default 0.2.
   */
  floor?: number;
}

export const ADAKV_DEFAULTS = { floor: 0.2 } as const;

/**
 * The layer keeps min(Σ_h target_h, Σ_h rows_h) rows in total (the budget it would have had per head, pooled).
 * Each head is guaranteed the a_h rows its rule always keeps (scores ≥ ALWAYS_KEPT_SCORE: SnapKV's observation
 * window, H2O's recent window, sinks) and ⌊floor·(target_h − a_h)⌋ more, its best other rows — at least one row
 * and at most target_h in all; the rest of the total goes to the highest scores of the layer, flattened over heads
 * (ties: newer rows and later heads win). Heads therefore end up with different lengths. The floor is a share of
 * what the rule chooses, as in AdaKV's own code (floor_alpha of the budget less the window); kvpress takes it of the
 * whole share, which the window already fills at the usual sizes, so there a head can be left with its window alone.
 */
export function adaKvSelect(floor: number = ADAKV_DEFAULTS.floor): Selector {
  if (typeof floor !== 'number' || !Number.isFinite(floor) || floor < 0 || floor > 1) {
    throw new RangeError(`adakv: floor must be a number in [0, 1], got ${floor}`);
  }
  const sum = (a: Int32Array): number => a.reduce((x, y) => x + y, 0);
  return {
    pooled: true,
    // With `reach` (a sliding-window layer): the layer keeps at most the rows in reach, a head at most its own.
    shrinks: (targets, lens, reach) => Math.min(sum(targets), sum(reach ?? lens)) < sum(lens),
    select(scores, targets, lens, reach) {
      const H = lens.length, total = Math.min(sum(targets), sum(reach ?? lens));
      const forced: Uint8Array[] = [];
      let nForced = 0;
      for (let h = 0; h < H; h++) {
        const n = lens[h]!, s = scores[h]!, t = targets[h]!, mark = new Uint8Array(n);
        let always = 0;
        for (let i = 0; i < n; i++) always += +(s[i]! >= ALWAYS_KEPT_SCORE);
        // At least one row per head: attention over an emptied head is undefined.
        const guaranteed = Math.max(1, Math.min(t, reach ? reach[h]! : n, always + Math.floor(floor * Math.max(0, t - always))));
        for (const i of selectTopK(s, n, guaranteed)) { mark[i] = 1; nForced++; }
        forced.push(mark);
      }
      // Flatten the rows not yet guaranteed; the best of them fill what remains of the total.
      const free = sum(lens) - nForced;
      const flatScore = new Float64Array(free), flatHead = new Int32Array(free), flatRow = new Int32Array(free);
      let f = 0;
      for (let h = 0; h < H; h++) {
        const m = forced[h]!, s = scores[h]!;
        for (let i = 0; i < lens[h]!; i++) if (!m[i]) { flatScore[f] = s[i]!; flatHead[f] = h; flatRow[f] = i; f++; }
      }
      for (const j of selectTopK(flatScore, f, Math.max(0, total - nForced))) forced[flatHead[j]!]![flatRow[j]!] = 1;
      return forced.map((m) => {
        const out: number[] = [];
        for (let i = 0; i < m.length; i++) if (m[i]) out.push(i);
        return Int32Array.from(out);
      });
    },
  };
}

/**
 * Re-wraps a scoring baseline with AdaKV selection, taking over its scorer, budget and cadence (do not use the
 * wrapped policy on its own afterwards: they share per-sequence state).
 */
export function adakvPolicy(inner: ScoredPolicy, opts: AdaKVOptions = {}): ScoredPolicy {
  if (!(inner instanceof ScoredPolicy)) throw new TypeError(`adakvPolicy: inner must be a scoring baseline (h2oPolicy(...), snapkvPolicy(...), ...), got ${showValue(inner)}`);
  checkFactoryOptions('adakvPolicy', opts, ['floor']);
  // As the spec string refuses adakv(adakv(…)): the inner selection would be replaced anyway, and the name not parse back.
  if (inner.select.pooled) throw new Error(`adakvPolicy: ${inner.name} is an AdaKV policy already; wrap the scoring baseline once`);
  const floor = opts.floor ?? ADAKV_DEFAULTS.floor;
  const select = adaKvSelect(floor);
  const suffix = floor === ADAKV_DEFAULTS.floor ? '' : `,floor=${floor}`;
  const [method, ...rest] = inner.name.split(':');
  const name = `adakv(${method})${rest.length ? `:${rest.join(':')}${suffix}` : suffix ? `:${suffix.slice(1)}` : ''}`;
  return new ScoredPolicy(inner.scorer, { budget: inner.budget, every: inner.every, select, name });
}
