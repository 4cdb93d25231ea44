/** The per-task, per-policy table of an evaluation: score, score relative to the full cache, mean KV fraction. */
import { aggregateScores, isMetricName } from '../tasks/metrics/index.js';
import { LIKELIHOOD_METRIC, type RecordResult } from './runner.js';

export interface SummaryRow {
  dataset: string;
  policy: string;
  samples: number;
  /** Task score 0–100 with the metric's official aggregation (likelihood scores: 100 × their mean). */
  score: number;
  /** score / full-cache score of the same task and samples (null without a full-cache run or when it scored 0). */
  relativeToFull: number | null;
  /** Mean over samples of the token-weighted mean fraction of the full KV cache held. */
  meanKvFraction: number;
  peakKvFraction: number;
}

export function summarize(results: readonly RecordResult[], fullPolicy = 'full'): SummaryRow[] {
  const groups = new Map<string, RecordResult[]>();
  for (const r of results) {
    const key = `${r.dataset}\u0000${r.policy}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(r);
  }
  const rows: SummaryRow[] = [];
  for (const [key, rs] of groups) {
    const [dataset, policy] = key.split('\u0000') as [string, string];
    const metric = rs[0]!.metric;
    if (metric !== LIKELIHOOD_METRIC && !isMetricName(metric)) throw new Error(`unknown metric ${metric}`);
    if (rs.some((r) => r.metric !== metric)) throw new Error(`${dataset} under ${policy} mixes results scored by ${metric} and by ${rs.find((r) => r.metric !== metric)!.metric}`);
    const scores = rs.map((r) => r.score);
    rows.push({
      dataset, policy, samples: rs.length,
      score: metric === LIKELIHOOD_METRIC ? (100 * scores.reduce((a, x) => a + x, 0)) / scores.length : aggregateScores(metric, scores),
      relativeToFull: null,
      meanKvFraction: rs.reduce((a, r) => a + r.memory.meanFraction, 0) / rs.length,
      peakKvFraction: Math.max(...rs.map((r) => r.memory.peakFraction)),
    });
  }
  for (const row of rows) {
    const full = rows.find((r) => r.dataset === row.dataset && r.policy === fullPolicy);
    if (full && full.score > 0) row.relativeToFull = row.score / full.score;
  }
  rows.sort((a, b) => a.dataset.localeCompare(b.dataset) || (a.policy === fullPolicy ? -1 : b.policy === fullPolicy ? 1 : a.policy.localeCompare(b.policy)));
  return rows;
}

/** A plain-text table for the terminal. */
export function formatSummary(rows: readonly SummaryRow[]): string {
  const head = ['task', 'policy', 'n', 'score', 'vs full', 'mean KV', 'peak KV'];
  const body = rows.map((r) => [r.dataset, r.policy, String(r.samples), r.score.toFixed(2),
    r.relativeToFull === null ? '-' : `${(100 * r.relativeToFull).toFixed(1)}%`,
    `${(100 * r.meanKvFraction).toFixed(1)}%`, `${(100 * r.peakKvFraction).toFixed(1)}%`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
