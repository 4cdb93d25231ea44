/**
 * A small generic SVG line chart: white background, framed plot area, grid lines at "nice" ticks, a legend under the
 * plot, every text escaped. Hand-written SVG, no dependencies, so the files open in any browser and diff as text.
 * Optional extras used by the run plots: a logarithmic x axis, fixed axis ranges, a second (right) y axis, marker
 * dots, and labelled dashed vertical lines (e.g. where a curriculum stage starts).
 */
import { argError, checkArg, checkArgOptions } from './args.js';
import { showValue } from './show.js';

/** One (x, y) sample. */
export type ChartPoint = readonly [number, number];

export interface LineSeries {
  label: string;
  /** Drawn in the given order; points with a non-finite coordinate (or x <= 0 on a log axis) are left out. */
  points: readonly ChartPoint[];
  /** Stroke colour; by default the next colour of the palette. */
  color?: string;
  dashed?: boolean;
  /** A dot at every point. */
  markers?: boolean;
  /** Whether the points are joined by a line (default true; false draws markers only). */
  line?: boolean;
  /** Stroke width (default 1.8). */
  width?: number;
  /** Stroke opacity (default 1). */
  opacity?: number;
  /** Which y axis the values are on (default left; 'right' needs `rightAxis`). */
  axis?: 'left' | 'right';
}

export interface RightAxis {
  label: string;
  range: readonly [number, number];
  /** Tick values (default: nice ticks inside the range). */
  ticks?: readonly number[];
  /** Colour of the axis labels (default grey). */
  color?: string;
}

/** A dashed vertical line across the plot at x, with an optional label at its top. */
export interface VerticalMarker {
  x: number;
  label?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  /** Logarithmic x axis (base 10). */
  xLog?: boolean;
  /** Fixed x range; by default the data's extent. */
  xRange?: readonly [number, number];
  /** Fixed y range; by default nice ticks around the data. */
  yRange?: readonly [number, number];
  /** Label only integer x ticks (e.g. generations, steps). */
  xIntegerTicks?: boolean;
  rightAxis?: RightAxis;
  vlines?: readonly VerticalMarker[];
  /** Shown instead of the plot when no series has a drawable point (default "no data"). */
  emptyText?: string;
  /** Width of the image in pixels (default 800). */
  width?: number;
}

/** The default series colours (Tableau 10). */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;

/** "Nice" tick values covering [lo, hi] (a flat or empty range is padded). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  checkArg('niceTicks', 'lo', lo, 'finite');
  checkArg('niceTicks', 'hi', hi, 'finite');
  checkArg('niceTicks', 'count', count, 'positive');
  if (hi < lo) throw new RangeError(`niceTicks: hi (${hi}) is below lo (${lo})`);
  if (!(hi > lo)) { const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= pad; hi += pad; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(lo / step) * step;
  // Ticks by index, not by adding `step` (at 1e16 an added 2 changes nothing and the loop never ended), and never
  // more than a chart can show (a count of 1e7 built ten million ticks).
  const n = Math.floor((hi + step * 1e-9 - start) / step);
  if (!Number.isFinite(step) || !(step > 0) || !(n >= 0) || n > 1000) return [lo, hi];
  const ticks: number[] = [];
  for (let i = 0; i <= n; i++) ticks.push(Number((start + i * step).toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((start + (n + 1) * step).toPrecision(12)));
  const distinct = [...new Set(ticks)];
  return distinct.length >= 2 ? distinct : [lo, hi]; // labels rounded to 12 digits can all coincide
}

/** Text escaped for SVG/XML content and attribute values. */
export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** A short label for a tick value: at most 4 significant digits, exponent notation for very large or small values. */
export const formatTick = (v: number): string =>
  (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

const BASE_H = 420;
const TOP = 40, PLOT_H = BASE_H - TOP - 75, LEFT = 70;
const LEGEND_ROW = 18;
const c = (v: number): string => v.toFixed(1);

/** Tick values for a log axis over [10^lo, 10^hi]: decades, with 2 and 5 in between when the range is short. */
function logTicks(lo: number, hi: number): number[] {
  const inside = (v: number) => Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9;
  const decades: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) decades.push(e);
  for (const mult of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const t = decades.flatMap((e) => mult.map((m) => Number((m * 10 ** e).toPrecision(12)))).filter(inside);
    if (t.length >= 3 || (mult.length === 9 && t.length >= 2)) return t;
  }
  return niceTicks(10 ** lo, 10 ** hi).filter((v) => v > 0 && inside(v));
}

/**
 * The least and the greatest of `values` ([Infinity, -Infinity] for none). A loop, not Math.min(...values): a
 * spread of ~125K arguments overflowed the stack, and a training run's loss chart (two points a step) failed at
 * every save past ~62K steps.
 */
function extent(values: readonly number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}

/** A short array as its values ("[NaN, 1]"), anything else as showValue says it. */
function showRange(r: unknown): string {
  return Array.isArray(r) && r.length <= 4 ? `[${r.map((v) => showValue(v)).join(', ')}]` : showValue(r);
}

const LINE_CHART_KEYS = ['title', 'xLabel', 'yLabel', 'series', 'xLog', 'xRange', 'yRange', 'xIntegerTicks', 'rightAxis', 'vlines', 'emptyText', 'width'];

/** The SVG text of a line chart (see LineChartOptions). */
export function renderLineChart(o: LineChartOptions): string {
  checkArg('renderLineChart', 'o', o, 'object');
  checkArgOptions('renderLineChart', o, LINE_CHART_KEYS, 'o');
  for (const key of ['title', 'xLabel', 'yLabel'] as const) checkArg('renderLineChart', `o.${key}`, o[key], 'string');
  checkArg('renderLineChart', 'o.series', o.series, 'array', 'an array of series { label, points }');
  o.series.forEach((s, i) => {
    if (!Array.isArray(s?.points) || typeof s.label !== 'string') throw argError('renderLineChart', `o.series[${i}]`, 'a series { label, points: [x, y][] }', s);
  });
  // A range with NaN threw a TypeError from niceTicks, and a log axis from 0 (log10(0) = −Infinity) hung in logTicks
  // until memory ran out.
  for (const key of ['xRange', 'yRange'] as const) {
    const r = o[key];
    if (r === undefined) continue;
    const log = key === 'xRange' && o.xLog === true;
    if (!Array.isArray(r) || r.length !== 2 || !r.every(Number.isFinite) || r[0] > r[1] || (log && !(r[0] > 0))) {
      throw new TypeError(`renderLineChart: o.${key} must be [lo, hi], two finite numbers with lo ≤ hi${log ? ' and lo > 0 (o.xLog is a logarithmic axis)' : ''}, got ${showRange(r)}`);
    }
  }
  // The right axis's range may run either way, but NaN wrote NaN coordinates into the SVG (or threw from niceTicks).
  const ra = o.rightAxis;
  if (ra?.range !== undefined && !(Array.isArray(ra.range) && ra.range.length === 2 && ra.range.every(Number.isFinite))) {
    throw new TypeError(`renderLineChart: o.rightAxis.range must be [a, b], two finite numbers, got ${showRange(ra.range)}`);
  }
  if (ra?.ticks !== undefined && !(Array.isArray(ra.ticks) && ra.ticks.every(Number.isFinite))) {
    throw new TypeError(`renderLineChart: o.rightAxis.ticks must be finite numbers, got ${showRange(ra.ticks)}`);
  }
  const W = o.width ?? 800;
  const right = o.rightAxis ? 70 : 25;
  const pw = W - LEFT - right;
  const onRight = (s: LineSeries) => s.axis === 'right' && o.rightAxis !== undefined;
  const drawable = (p: ChartPoint) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!o.xLog || p[0] > 0);
  const series = o.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length]!, pts: s.points.filter(drawable) }));

  // Legend layout first: it decides the image height.
  const items = series.map((s) => ({ s, w: 34 + 7 * s.label.length + 18 }));
  const rows: (typeof items)[] = [[]];
  let used = 0;
  for (const it of items) {
    if (used > 0 && used + it.w > pw) { rows.push([]); used = 0; }
    rows[rows.length - 1]!.push(it); used += it.w;
  }
  const H = BASE_H + LEGEND_ROW * (rows.length - 1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(o.title)}</text>`,
  ];
  if (series.every((s) => s.pts.length === 0)) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">${escapeXml(o.emptyText ?? 'no data')}</text>`, '</svg>');
    return parts.join('\n') + '\n';
  }

  // x domain (in log10 units on a log axis) and ticks.
  const xs = series.flatMap((s) => s.pts.map((p) => p[0]));
  const tx = (x: number) => (o.xLog ? Math.log10(x) : x);
  let [x0, x1] = o.xRange ? [tx(o.xRange[0]), tx(o.xRange[1])] : extent(xs.map(tx));
  if (!(x1 > x0)) {
    if (o.xLog) { x0 -= 0.5; x1 += 0.5; } else { const t = niceTicks(x0, x1); x0 = t[0]!; x1 = t[t.length - 1]!; }
  }
  const inX = (v: number) => tx(v) >= x0 - 1e-9 * (x1 - x0) && tx(v) <= x1 + 1e-9 * (x1 - x0);
  const xTicks = (o.xLog ? logTicks(x0, x1) : niceTicks(x0, x1, o.xIntegerTicks ? 8 : 6))
    .filter((v) => inX(v) && (!o.xIntegerTicks || Number.isInteger(v)));

  // left y domain and ticks.
  const ys = series.filter((s) => !onRight(s)).flatMap((s) => s.pts.map((p) => p[1]));
  let yTicks: number[], y0: number, y1: number;
  if (o.yRange && o.yRange[1] > o.yRange[0]) {
    [y0, y1] = o.yRange;
    yTicks = niceTicks(y0, y1).filter((v) => v >= y0 - 1e-9 * (y1 - y0) && v <= y1 + 1e-9 * (y1 - y0));
  } else {
    yTicks = ys.length ? niceTicks(...extent(ys)) : niceTicks(0, 1);
    y0 = yTicks[0]!; y1 = yTicks[yTicks.length - 1]!;
  }

  const bottom = TOP + PLOT_H;
  const sx = (x: number) => LEFT + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => TOP + (1 - (v - y0) / (y1 - y0)) * PLOT_H;
  const [r0, r1] = o.rightAxis?.range ?? [0, 1];
  const sr = (v: number) => TOP + (1 - (v - r0) / (r1 - r0 || 1)) * PLOT_H;

  // Grid, frame, ticks and axis labels.
  for (const t of yTicks) {
    const y = c(sy(t));
    parts.push(`<line x1="${LEFT}" x2="${LEFT + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = c(sx(t));
    parts.push(`<line x1="${x}" x2="${x}" y1="${TOP}" y2="${bottom}" stroke="#eee"/>`,
      `<line x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 4}" stroke="#444"/>`,
      `<text x="${x}" y="${bottom + 18}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<rect x="${LEFT}" y="${TOP}" width="${pw}" height="${PLOT_H}" fill="none" stroke="#444"/>`);
  if (ra) {
    const color = escapeXml(ra.color ?? '#7f7f7f');
    const lo = Math.min(r0, r1), hi = Math.max(r0, r1);
    const ticks = ra.ticks ?? niceTicks(lo, hi).filter((v) => v >= lo && v <= hi);
    for (const t of ticks) {
      parts.push(`<text x="${LEFT + pw + 6}" y="${c(sr(t))}" dominant-baseline="middle" fill="${color}">${formatTick(t)}</text>`);
    }
    parts.push(`<text transform="translate(${W - 14} ${TOP + PLOT_H / 2}) rotate(90)" text-anchor="middle" fill="${color}">${escapeXml(ra.label)}</text>`);
  }
  parts.push(
    `<text x="${LEFT + pw / 2}" y="${bottom + 38}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(18 ${TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
  );
  for (const v of o.vlines ?? []) {
    if (!Number.isFinite(v.x) || (o.xLog && v.x <= 0) || !inX(v.x)) continue;
    const x = c(sx(v.x));
    parts.push(`<line x1="${x}" x2="${x}" y1="${TOP}" y2="${bottom}" stroke="#999" stroke-dasharray="4 3"/>`);
    if (v.label) parts.push(`<text x="${x}" y="${TOP + 12}" dx="4" fill="#666">${escapeXml(v.label)}</text>`);
  }

  // The series, clipped to the plot area (plus the radius of a marker, so a dot on the frame stays whole).
  const style = (s: (typeof series)[number], width: number) =>
    `stroke="${escapeXml(s.color)}" stroke-width="${width}"${s.dashed ? ' stroke-dasharray="5 3"' : ''}${s.opacity !== undefined && s.opacity < 1 ? ` stroke-opacity="${s.opacity}"` : ''}`;
  parts.push(`<clipPath id="plot-area"><rect x="${LEFT - 4}" y="${TOP - 4}" width="${pw + 8}" height="${PLOT_H + 8}"/></clipPath>`, '<g clip-path="url(#plot-area)">');
  for (const s of series) {
    if (s.pts.length === 0) continue;
    const scale = onRight(s) ? sr : sy;
    const xy = s.pts.map((p) => [c(sx(p[0])), c(scale(p[1]))] as const);
    if (s.line !== false) {
      parts.push(`<path d="${xy.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${x},${y}`).join(' ')}" fill="none" ${style(s, s.width ?? 1.8)}/>`);
    }
    if (s.markers || s.line === false) {
      for (const [x, y] of xy) parts.push(`<circle cx="${x}" cy="${y}" r="3" fill="${escapeXml(s.color)}"/>`);
    }
  }
  parts.push('</g>');

  // Legend rows under the x label.
  rows.forEach((row, r) => {
    const y = bottom + 61 + LEGEND_ROW * r;
    let lx = LEFT + 10;
    for (const { s, w } of row) {
      if (s.line !== false) parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${y}" y2="${y}" ${style(s, Math.max(2, s.width ?? 1.8))}/>`);
      if (s.markers || s.line === false) parts.push(`<circle cx="${lx + 10}" cy="${y}" r="3" fill="${escapeXml(s.color)}"/>`);
      parts.push(`<text x="${lx + 24}" y="${y}" dominant-baseline="middle">${escapeXml(s.label)}</text>`);
      lx += w;
    }
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
