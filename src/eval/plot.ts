/**
 * Task score against the KV-cache fraction held, one line per policy family (e.g. every `h2o:ratio=…` run is one
 * line through its budgets, every run of one NAMM checkpoint another), with the full cache as a single point at x = 1. Points of several tasks make one line
 * per (family, task), labelled with the task, so no line joins scores of different tasks.
 */
import { PALETTE, renderLineChart, type LineSeries } from '../util/chart.js';
import { argError, checkArg } from '../util/args.js';

export interface ScoreVsKvPoint {
  /** Policy name as the runner records it, e.g. `full`, `h2o:ratio=0.5`, `adakv(snapkv):ratio=0.25`. */
  policy: string;
  /** Mean fraction of the full KV cache held, 0–1. */
  kvFraction: number;
  /** Task score, 0–100. */
  score: number;
  /** The task (dataset) the point is for; with more than one task in the points, each gets its own lines. */
  task?: string;
}

/**
 * The family of a policy spec: its name without options (`h2o:ratio=0.5` → `h2o`, `adakv(snapkv):ratio=0.5` →
 * `adakv(snapkv)`), except that a NAMM's is its checkpoint (`namm:runs/a.namm,cacheSize=512` → `namm:runs/a.namm`):
 * two evolved NAMMs are two policies, and one line through both joined their scores as if they were budgets of one.
 */
export function policyFamily(policy: string): string {
  // The options start at the first ':' outside parentheses; wrappers such as adakv(snapkv) keep their inner name.
  let depth = 0;
  for (let i = 0; i < policy.length; i++) {
    const c = policy[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ':' && depth === 0) {
      const name = policy.slice(0, i).trim();
      if (name === 'namm') {
        const path = policy.slice(i + 1).split(',')[0]!.trim();
        return path ? `namm:${path}` : 'namm';
      }
      return name || policy;
    }
  }
  return policy.trim() || policy;
}

/** The SVG text of score vs KV fraction: one series per policy family, sorted by KV fraction, with markers. */
export function renderScoreVsKvSvg(points: readonly ScoreVsKvPoint[], title = 'score vs KV-cache fraction'): string {
  checkArg('renderScoreVsKvSvg', 'points', points, 'array', 'an array of points { policy, kvFraction, score }');
  points.forEach((p, i) => {
    if (typeof p?.policy !== 'string' || typeof p.kvFraction !== 'number' || typeof p.score !== 'number') throw argError('renderScoreVsKvSvg', `points[${i}]`, 'a point { policy, kvFraction, score }', p);
  });
  checkArg('renderScoreVsKvSvg', 'title', title, 'string');
  const tasks = new Set(points.map((p) => p.task ?? ''));
  const perTask = tasks.size > 1;
  const families = new Map<string, { family: string; points: [number, number][] }>();
  for (const p of points) {
    const family = policyFamily(p.policy);
    const label = perTask ? `${family} · ${p.task ?? '?'}` : family;
    (families.get(label) ?? families.set(label, { family, points: [] }).get(label)!).points.push([p.kvFraction, p.score]);
  }
  // The full cache first (in black), then the families by name, each with a stable colour.
  const names = [...families.keys()].sort((a, b) => {
    const fa = families.get(a)!.family === 'full', fb = families.get(b)!.family === 'full';
    return fa !== fb ? (fa ? -1 : 1) : a.localeCompare(b);
  });
  let next = 0;
  const series: LineSeries[] = names.map((name) => ({
    label: name,
    points: families.get(name)!.points.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    color: families.get(name)!.family === 'full' && !perTask ? '#000000' : PALETTE[next++ % PALETTE.length]!,
    markers: true,
  }));
  return renderLineChart({
    title, xLabel: 'mean KV-cache fraction', yLabel: 'score', series, xRange: [0, 1], yRange: [0, 100], emptyText: 'no data',
  });
}
