/**
 * The README's table and plot from `scripts/heldout-eval.sh` output: per policy, the mean task score over the
 * held-out tasks, the score relative to the full cache (mean over tasks of policy score / full score, tasks where
 * the full cache scored 0 left out), and the mean KV-cache fraction held; per length and over all lengths.
 *   node --import tsx scripts/heldout-report.ts OUT 2048 4096
 * Writes OUT/report.md, OUT/report.json and OUT/score-vs-kv.svg.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

/** A file of OUT/LENGTH, or a clear error when the length was not evaluated (or not merged) there. */
function readOutput(L: string, name: string): string {
  const path = join(out!, L, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: ${out} holds no merged evaluation at ${L} tokens (run scripts/heldout-eval.sh with that length to the end)`);
  return readFileSync(path, 'utf8');
}

/**
 * Every figure averages over task × length and divides by the full cache's score on the same task and prompts, so
 * a partial folder (a policy without some task, a task without the full cache, rows over different prompts, as an
 * interrupted or hand-merged run leaves) would average over different sets: refuse it instead of printing a number.
 */
function checkComplete(L: string, rows: readonly SummaryRow[]): void {
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${join(out!, L, 'summary.json')} holds no rows`);
  const full = new Map(rows.filter((r) => r.policy === 'full').map((r) => [r.dataset, r]));
  if (full.size === 0) throw new Error(`${join(out!, L, 'summary.json')} has no full-cache rows ("vs full" needs them)`);
  const datasets = [...new Set(rows.map((r) => r.dataset))].sort();
  const policies = [...new Set(rows.map((r) => r.policy))];
  const problems: string[] = [];
  for (const policy of policies) {
    for (const dataset of datasets) {
      const matching = rows.filter((r) => r.policy === policy && r.dataset === dataset);
      const f = full.get(dataset);
      if (matching.length === 0) problems.push(`${policy} has no ${dataset} row`);
      else if (matching.length > 1) problems.push(`${policy} has ${matching.length} ${dataset} rows`);
      else if (!f) problems.push(`${dataset} has no full-cache row`);
      else if (matching[0]!.samples !== f.samples) problems.push(`${policy} on ${dataset}: ${matching[0]!.samples} samples, the full cache ${f.samples}`);
      else if (matching[0]!.relativeSamples != null && matching[0]!.relativeSamples !== f.samples) problems.push(`${policy} on ${dataset}: ${matching[0]!.relativeSamples} of ${f.samples} prompts in common with the full cache`);
    }
  }
  if (problems.length > 0) throw new Error(`${join(out!, L)} is partial: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
}

// Likelihood runs (`heldout-eval.sh ... likelihood`) score the gold answer's likelihood, not the task metric.
const isLikelihood = (L: string): boolean => {
  const first = readOutput(L, 'results.jsonl').split('\n').find((l) => l.trim());
  return first !== undefined && (JSON.parse(first) as { metric?: string }).metric === LIKELIHOOD_METRIC;
};
const likelihood = isLikelihood(lengths[0]!);
for (const L of lengths.slice(1)) {
  if (isLikelihood(L) !== likelihood) throw new Error(`${out}/${lengths[0]} and ${out}/${L} were scored differently (task metric and answer likelihood): one table cannot mix them`);
}
const scoreName = likelihood ? 'answer likelihood ×100' : 'score';
const perLength = new Map<string, SummaryRow[]>();
if (new Set(lengths).size !== lengths.length) throw new Error(`a length is given twice: ${lengths.join(' ')}`);
for (const L of lengths) {
  const rows = JSON.parse(readOutput(L, 'summary.json')) as SummaryRow[];
  checkComplete(L, rows);
  perLength.set(L, rows);
}
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
