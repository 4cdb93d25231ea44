/** The per-task, per-policy table of an evaluation: score, score relative to the full cache, mean KV fraction. */
import { aggregateScores, isMetricName, type MetricName } from '../tasks/metrics/index.js';
import { LIKELIHOOD_METRIC, type RecordResult } from './runner.js';
import { argError, checkArg } from '../util/args.js';
import { pythonRound } from '../tasks/metrics/python-round.js';
import { shortJson } from '../util/show.js';

export interface SummaryRow {
  dataset: string;
  policy: string;
  samples: number;
  /**
   * Samples without a score: a score that is not a number (`null` in results.jsonl, where older versions wrote a
   * NaN likelihood; runRecord now refuses to return one). `score` and `relativeToFull` leave them out.
   */
  unscored: number;
  /**
   * Samples whose prompt was longer than its budget and was cut in its middle (pred.py's truncation): a needle or a
   * fact there is gone, so a low score there measures the cut, not the model or the policy. They count in the score.
   */
  truncated: number;
  /**
   * Task score 0–100 with the metric's official aggregation (likelihood scores: 100 × their mean), over the scored
   * samples; NaN when none has a score.
   */
  score: number;
  /**
   * This policy's score / the full cache's score, both over the records that both scored (the same task and the
   * same samples: after an interrupted run, or with results of other record subsets, the two may hold different
   * records, and their scores over all they hold would compare different samples). Null without a full-cache run,
   * without a record in common, or when the full cache scored 0 on them.
   */
  relativeToFull: number | null;
  /** How many records `relativeToFull` compares (null when it is null); fewer than `samples` flags a subset. */
  relativeSamples: number | null;
  /** Mean over samples of the token-weighted mean fraction of the full KV cache held. */
  meanKvFraction: number;
  peakKvFraction: number;
  /** With `by` length: the records' target length (null: results without one, such as LongBench's). */
  length?: number | null;
  /** With `by` depth: the needle depth asked for, in percent (null: a random depth, or none). */
  depth?: number | null;
  /** An average row (withTaskAverages): how many tasks it averages. */
  tasks?: number;
}

/** What summarize can break a task's rows down by, besides the policy. */
export type SummaryKey = 'length' | 'depth';
export const SUMMARY_KEYS: readonly SummaryKey[] = ['length', 'depth'];

/** The task column of a row: the task, and its length and depth when the rows are broken down by them. */
export function rowLabel(r: Pick<SummaryRow, 'dataset' | 'length' | 'depth' | 'tasks'>): string {
  return r.dataset + (r.tasks !== undefined ? ` (${r.tasks} task${r.tasks === 1 ? '' : 's'})` : '') + (r.length !== undefined ? ` @${r.length ?? '?'}` : '') + (r.depth !== undefined ? ` d${r.depth === null ? '?' : `${r.depth}%`}` : '');
}

/** Whether two rows are of the same task, length and depth (the rows a policy's is compared with). */
const sameGroup = (a: SummaryRow, b: SummaryRow): boolean => a.dataset === b.dataset && a.length === b.length && a.depth === b.depth;

/** Whether a result carries a score (not the null a NaN became in JSON, nor a NaN). */
const hasScore = (r: RecordResult): boolean => typeof r.score === 'number' && !Number.isNaN(r.score);

/** The task score of some samples (all scored): the metric's aggregation, likelihood scores 100 × their mean. */
function scoreOf(metric: MetricName | typeof LIKELIHOOD_METRIC, rs: readonly RecordResult[]): number {
  if (rs.length === 0) return NaN;
  const scores = rs.map((r) => r.score);
  return metric === LIKELIHOOD_METRIC ? (100 * scores.reduce((a, x) => a + x, 0)) / scores.length : aggregateScores(metric, scores);
}

export function summarize(results: readonly RecordResult[], fullPolicy = 'full', by: readonly SummaryKey[] = []): SummaryRow[] {
  checkArg('summarize', 'results', results, 'array', 'an array of record results (from runRecord)');
  checkArg('summarize', 'fullPolicy', fullPolicy, 'string');
  checkArg('summarize', 'by', by, 'array', `an array of breakdown keys (${SUMMARY_KEYS.join(', ')})`);
  results.forEach((r, i) => checkArg('summarize', `results[${i}]`, r, 'object', 'a record result (from runRecord)'));
  for (const k of by) if (!SUMMARY_KEYS.includes(k)) throw new RangeError(`summaries break down by ${SUMMARY_KEYS.join(' or ')}, not "${String(k)}"`);
  // A full-cache policy named on purpose that no result has is a typo: every "vs full" came out empty without a word.
  if (fullPolicy !== 'full' && results.length > 0 && !results.some((r) => r.policy === fullPolicy)) {
    throw new RangeError(`summarize: no result has the policy ${shortJson(fullPolicy)} named as the full cache; the results' policies are ${[...new Set(results.map((r) => r.policy))].map((p) => shortJson(p)).join(', ')}`);
  }
  const withLength = by.includes('length'), withDepth = by.includes('depth');
  const groups = new Map<string, RecordResult[]>();
  for (const r of results) {
    const key = JSON.stringify([r.dataset, r.policy, withLength ? r.targetLength ?? null : 0, withDepth ? r.depthPercent ?? null : 0]);
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(r);
  }
  const rows: { row: SummaryRow; metric: MetricName | typeof LIKELIHOOD_METRIC; scored: RecordResult[] }[] = [];
  for (const [key, rs] of groups) {
    const [dataset, policy, length, depth] = JSON.parse(key) as [string, string, number | null, number | null];
    const metric = rs[0]!.metric;
    if (metric !== LIKELIHOOD_METRIC && !isMetricName(metric)) throw new Error(`summarize: the results of ${shortJson(dataset)} under ${shortJson(policy)} have ${metric === undefined ? 'no metric' : `the unknown metric ${shortJson(metric)}`} (results as runRecord returns them have one)`);
    if (rs.some((r) => r.metric !== metric)) throw new Error(`${dataset} under ${policy} mixes results scored by ${metric} and by ${rs.find((r) => r.metric !== metric)!.metric}`);
    const scored = rs.filter(hasScore);
    rows.push({
      metric, scored,
      row: {
        dataset, policy, samples: rs.length, unscored: rs.length - scored.length, truncated: rs.filter((r) => r.truncated === true).length,
        score: scoreOf(metric, scored),
        relativeToFull: null, relativeSamples: null,
        meanKvFraction: rs.reduce((a, r) => a + r.memory.meanFraction, 0) / rs.length,
        // A loop, not Math.max(...): a spread of ~125K arguments overflowed the stack.
        peakKvFraction: rs.reduce((a, r) => Math.max(a, r.memory.peakFraction), -Infinity),
        ...(withLength ? { length } : {}),
        ...(withDepth ? { depth } : {}),
      },
    });
  }
  // "vs full" compares like with like: both scores over the records both scored, whatever else either holds.
  for (const { row, metric, scored } of rows) {
    const full = rows.find((r) => sameGroup(r.row, row) && r.row.policy === fullPolicy);
    if (!full || full.metric !== metric) continue;
    const mine = new Set(scored.map((r) => r.id)), theirs = new Set(full.scored.map((r) => r.id));
    const own = scored.filter((r) => theirs.has(r.id)), ref = full.scored.filter((r) => mine.has(r.id));
    if (own.length === 0) continue;
    // The means themselves, not the scores rounded to two decimals: 2/6 against 1/6 read 33.33/16.67 = 199.9%.
    const mean = (rs: RecordResult[]) => rs.reduce((a, r) => a + r.score, 0) / rs.length;
    const fullScore = mean(ref);
    if (fullScore > 0) {
      row.relativeToFull = mean(own) / fullScore;
      row.relativeSamples = new Set(own.map((r) => r.id)).size;
    }
  }
  const out = rows.map((r) => r.row);
  // null (no label) after every number.
  const byNumber = (x: number | null | undefined, y: number | null | undefined) => (x ?? Infinity) - (y ?? Infinity) || 0;
  out.sort((a, b) => a.dataset.localeCompare(b.dataset) || byNumber(a.length, b.length) || byNumber(a.depth, b.depth)
    || (a.policy === fullPolicy ? -1 : b.policy === fullPolicy ? 1 : a.policy.localeCompare(b.policy)));
  return out;
}

/** The `dataset` of the rows withTaskAverages adds. */
export const AVERAGE_ROW = 'average';

/**
 * `rows` (one task each, as summarize gives them without a breakdown) with, when they hold two tasks or more, one
 * row per policy after them: the plain mean of the policy's task scores, as LongBench and the NAMM reference average
 * over tasks (the reference's full-cache Llama 3 row averages 21 task scores to 28.86), with its mean KV fraction
 * the mean of the tasks', its peak their maximum and its sample counts their sums. Its "vs full" is the policy's
 * average over the tasks both it and the full cache scored against the full cache's over the same tasks.
 */
export function withTaskAverages(rows: readonly SummaryRow[], fullPolicy = 'full'): SummaryRow[] {
  checkArg('withTaskAverages', 'rows', rows, 'array', 'an array of summary rows (from summarize)');
  if (rows.some((r) => r.length !== undefined || r.depth !== undefined)) throw new RangeError('withTaskAverages: rows broken down by length or depth have no task average');
  const tasks = new Set(rows.map((r) => r.dataset));
  if (tasks.size < 2) return [...rows];
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const scoredOf = (policy: string) => new Map(rows.filter((r) => r.policy === policy && Number.isFinite(r.score)).map((r) => [r.dataset, r]));
  const full = scoredOf(fullPolicy);
  const averages: SummaryRow[] = [];
  for (const policy of [...new Set(rows.map((r) => r.policy))]) {
    const own = rows.filter((r) => r.policy === policy);
    const scored = [...scoredOf(policy).values()];
    const common = scored.filter((r) => full.has(r.dataset));
    const fullAverage = common.length > 0 ? mean(common.map((r) => full.get(r.dataset)!.score)) : 0;
    averages.push({
      dataset: AVERAGE_ROW, policy, tasks: scored.length,
      samples: own.reduce((a, r) => a + r.samples, 0), unscored: own.reduce((a, r) => a + r.unscored, 0), truncated: own.reduce((a, r) => a + r.truncated, 0),
      score: scored.length > 0 ? mean(scored.map((r) => r.score)) : NaN,
      relativeToFull: policy !== fullPolicy && fullAverage > 0 ? mean(common.map((r) => r.score)) / fullAverage : policy === fullPolicy && fullAverage > 0 ? 1 : null,
      relativeSamples: fullAverage > 0 ? common.reduce((a, r) => a + r.samples, 0) : null,
      meanKvFraction: mean(own.map((r) => r.meanKvFraction)),
      peakKvFraction: own.reduce((a, r) => Math.max(a, r.peakKvFraction), -Infinity),
    });
  }
  return [...rows, ...averages];
}

/**
 * A plain-text table for the terminal. `n` says how many samples had no score (`5 (1 unscored)`) or a prompt cut to
 * its budget (`5 (2 cut)`), and "vs full"
 * how many records it compares when that is not every sample of the row (`95.0% (on 3)`); a note under the table
 * explains either mark when it appears.
 */
export function formatSummary(rows: readonly SummaryRow[], fullPolicy = 'full'): string {
  checkArg('formatSummary', 'rows', rows, 'array', 'an array of summary rows (from summarize)');
  checkArg('formatSummary', 'fullPolicy', fullPolicy, 'string');
  rows.forEach((r, i) => {
    const ok = r !== null && typeof r === 'object' && [r.score, r.meanKvFraction, r.peakKvFraction, r.samples].every((v) => typeof v === 'number');
    if (!ok) throw argError('formatSummary', `rows[${i}]`, 'a summary row (from summarize: score, samples, meanKvFraction, peakKvFraction, …)', r);
  });
  const head = ['task', 'policy', 'n', 'score', 'vs full', 'mean KV', 'peak KV'];
  // A ratio over fewer records than the row or the full cache's row holds compares a subset: say on how many.
  const fullSamples = (r: SummaryRow) => rows.find((x) => sameGroup(x, r) && x.policy === fullPolicy)?.samples;
  const partial = (r: SummaryRow) => r.policy !== fullPolicy && r.relativeSamples !== null && (r.relativeSamples !== r.samples || r.relativeSamples !== fullSamples(r));
  const marks = (r: SummaryRow) => [...(r.unscored > 0 ? [`${r.unscored} unscored`] : []), ...(r.truncated > 0 ? [`${r.truncated} cut`] : [])];
  const body = rows.map((r) => [rowLabel(r), r.policy, marks(r).length > 0 ? `${r.samples} (${marks(r).join(', ')})` : String(r.samples), pythonRound(r.score, 2).toFixed(2),
    r.relativeToFull === null ? '-' : `${(100 * r.relativeToFull).toFixed(1)}%${partial(r) ? ` (on ${r.relativeSamples})` : ''}`,
    `${(100 * r.meanKvFraction).toFixed(1)}%`, `${(100 * r.peakKvFraction).toFixed(1)}%`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const notes: string[] = [];
  if (rows.some((r) => r.unscored > 0)) notes.push('unscored: samples without a score (null in results.jsonl); the score leaves them out.');
  if (rows.some((r) => r.truncated > 0)) notes.push('cut: records whose prompt was longer than its budget and was cut in its middle (a needle there is gone); they count in the score.');
  if (rows.some(partial)) notes.push('vs full (on k): over the k records both this policy and the full cache scored.');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...notes].join('\n');
}
