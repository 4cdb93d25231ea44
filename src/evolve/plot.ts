/**
 * fitness.svg: best / mean / median fitness per generation (left axis) and the population's mean KV-cache fraction
 * (right axis, 0–1), with dashed lines where a stage starts. Drawn by the shared line chart of src/util/chart.ts.
 */
import { renderLineChart } from '../util/chart.js';
import type { GenerationRecord } from './loop.js';
import { MiB, readFileLimited } from '../util/files.js';
import { argError, checkArg } from '../util/args.js';

export { niceTicks } from '../util/chart.js';

const COLORS = { best: '#d62728', mean: '#1f77b4', median: '#2ca02c', kv: '#7f7f7f' };

/** The generation records of a run's log.jsonl (blank lines skipped; a damaged line is an error naming it). */
export function readEvolutionLog(path: string): GenerationRecord[] {
  checkArg('readEvolutionLog', 'path', path, 'path');
  const out: GenerationRecord[] = [];
  readFileLimited(path, 1024 * MiB, 'log').toString('utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as GenerationRecord);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/** The SVG text for a run's generation records. */
export function renderFitnessSvg(records: readonly GenerationRecord[], title = 'NAMM evolution'): string {
  checkArg('renderFitnessSvg', 'records', records, 'array', 'an array of generation records (readEvolutionLog)');
  records.forEach((r, i) => { if (typeof r?.generation !== 'number') throw argError('renderFitnessSvg', `records[${i}]`, 'a generation record { generation, … }', r); });
  const x0 = records[0]?.generation ?? 0, x1 = Math.max(records[records.length - 1]?.generation ?? 0, x0 + 1);
  const points = (pick: (r: GenerationRecord) => number | undefined): [number, number][] => records
    .filter((r) => Number.isFinite(pick(r)))
    .map((r) => [r.generation, pick(r)!]);
  const stageStarts = records.flatMap((r, i) => (i > 0 && r.stage !== records[i - 1]!.stage ? [{ x: r.generation - 0.5, label: r.stage }] : []));
  return renderLineChart({
    title, xLabel: 'generation', yLabel: 'fitness', emptyText: 'no generations yet',
    xRange: [x0, x1], xIntegerTicks: true,
    series: [
      { label: 'best', points: points((r) => r.best), color: COLORS.best },
      { label: 'mean', points: points((r) => r.mean), color: COLORS.mean },
      { label: 'median', points: points((r) => r.median), color: COLORS.median },
      { label: 'KV fraction', points: points((r) => r.info?.kv), color: COLORS.kv, dashed: true, axis: 'right' },
    ],
    rightAxis: { label: 'mean KV-cache fraction', range: [0, 1], ticks: [0, 0.25, 0.5, 0.75, 1], color: COLORS.kv },
    vlines: stageStarts,
  });
}
