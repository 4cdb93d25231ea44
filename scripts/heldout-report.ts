/**
 * The README's table and plot from `scripts/heldout-eval.sh` output: per policy, the mean task score over the
 * held-out tasks, the score relative to the full cache (mean over tasks of policy score / full score, tasks where
 * the full cache scored 0 left out), and the mean KV-cache fraction held; per length and over all lengths.
 *   node --import tsx scripts/heldout-report.ts OUT 2048 4096
 * Writes OUT/report.md, OUT/report.json and OUT/score-vs-kv.svg.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderScoreVsKvSvg } from '../src/eval/plot.js';
import type { SummaryRow } from '../src/eval/summary.js';
import { LIKELIHOOD_METRIC } from '../src/eval/runner.js';

const [out, ...lengths] = process.argv.slice(2);
if (!out || lengths.length === 0) throw new Error('usage: heldout-report.ts OUT LENGTH...');

interface PolicyFigures { policy: string; score: number; relative: number | null; kv: number; tasks: number }

function figures(rows: readonly SummaryRow[]): PolicyFigures[] {
  const full = new Map(rows.filter((r) => r.policy === 'full').map((r) => [r.dataset, r.score]));
  const byPolicy = new Map<string, SummaryRow[]>();
  for (const r of rows) (byPolicy.get(r.policy) ?? byPolicy.set(r.policy, []).get(r.policy)!).push(r);
  return [...byPolicy].map(([policy, rs]) => {
    const rel = rs.filter((r) => (full.get(r.dataset) ?? 0) > 0).map((r) => r.score / full.get(r.dataset)!);
    return {
      policy,
      score: rs.reduce((s, r) => s + r.score, 0) / rs.length,
      relative: rel.length ? rel.reduce((s, x) => s + x, 0) / rel.length : null,
      kv: rs.reduce((s, r) => s + r.meanKvFraction, 0) / rs.length,
      tasks: rs.length,
    };
  });
}

// Likelihood runs (`heldout-eval.sh ... likelihood`) score the gold answer's likelihood, not the task metric.
const firstResult = readFileSync(join(out, lengths[0]!, 'results.jsonl'), 'utf8').split('\n').find((l) => l.trim());
const likelihood = firstResult !== undefined && (JSON.parse(firstResult) as { metric?: string }).metric === LIKELIHOOD_METRIC;
const scoreName = likelihood ? 'answer likelihood ×100' : 'score';
const perLength = new Map<string, SummaryRow[]>();
for (const L of lengths) perLength.set(L, JSON.parse(readFileSync(join(out, L, 'summary.json'), 'utf8')) as SummaryRow[]);
// Over all lengths, a (task, length) pair counts as one task.
const all = [...perLength].flatMap(([L, rows]) => rows.map((r) => ({ ...r, dataset: `${r.dataset}@${L}` })));
const overall = figures(all);
const order = (p: string): number => (p === 'full' ? 0 : p.startsWith('namm') ? 1 : p.startsWith('matched') ? 2 : 3);
overall.sort((a, b) => order(a.policy) - order(b.policy) || a.policy.localeCompare(b.policy));

const pct = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const lines = [
  `| policy | ${lengths.map((L) => `${scoreName} @${L}`).join(' | ')} | ${scoreName} (all) | vs full | KV held |`,
  `|---|${lengths.map(() => '---:|').join('')}---:|---:|---:|`,
];
const perLengthFigures = new Map([...perLength].map(([L, rows]) => [L, figures(rows)]));
for (const f of overall) {
  const cells = lengths.map((L) => perLengthFigures.get(L)!.find((x) => x.policy === f.policy)?.score.toFixed(1) ?? '–');
  lines.push(`| \`${f.policy}\` | ${cells.join(' | ')} | ${f.score.toFixed(1)} | ${pct(f.relative)} | ${pct(f.kv)} |`);
}
writeFileSync(join(out, 'report.md'), lines.join('\n') + '\n');
writeFileSync(join(out, 'report.json'), JSON.stringify({ lengths, overall, perLength: Object.fromEntries(perLengthFigures) }, null, 2) + '\n');
writeFileSync(join(out, 'score-vs-kv.svg'), renderScoreVsKvSvg(
  overall.map((f) => ({ policy: f.policy, kvFraction: f.kv, score: f.score })),
  `held-out tasks (${lengths.join(', ')} tokens): mean ${scoreName} vs KV-cache fraction`,
));
console.log(lines.join('\n'));
