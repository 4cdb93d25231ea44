/**
 * fitness.svg: best / mean / median fitness per generation (left axis) and the population's mean KV-cache fraction
 * (right axis, 0–1), with dashed lines where a stage starts. Hand-written SVG, no dependencies, so it opens in any
 * browser and diffs as text.
 */
import { readFileSync } from 'node:fs';
import type { GenerationRecord } from './loop.js';

const W = 800, H = 420;
const M = { left: 70, right: 70, top: 40, bottom: 75 };
const COLORS = { best: '#d62728', mean: '#1f77b4', median: '#2ca02c', kv: '#7f7f7f' };

/** The generation records of a run's log.jsonl (blank lines skipped; a damaged line is an error naming it). */
export function readEvolutionLog(path: string): GenerationRecord[] {
  const out: GenerationRecord[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as GenerationRecord);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) { const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= pad; hi += pad; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(4))));

/** The SVG text for a run's generation records. */
export function renderFitnessSvg(records: readonly GenerationRecord[], title = 'NAMM evolution'): string {
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  if (records.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no generations yet</text>`, '</svg>');
    return parts.join('\n') + '\n';
  }
  const x0 = records[0]!.generation, x1 = Math.max(records[records.length - 1]!.generation, x0 + 1);
  const values = records.flatMap((r) => [r.best, r.mean, r.median]).filter(Number.isFinite);
  const yTicks = niceTicks(Math.min(...values), Math.max(...values));
  const y0 = yTicks[0]!, y1 = yTicks[yTicks.length - 1]!;
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const sx = (g: number): number => M.left + ((g - x0) / (x1 - x0)) * pw;
  const sy = (v: number): number => M.top + (1 - (v - y0) / (y1 - y0)) * ph;
  const sk = (f: number): number => M.top + (1 - f) * ph;

  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<text x="${M.left + pw + 6}" y="${sk(f).toFixed(1)}" dominant-baseline="middle" fill="${COLORS.kv}">${f}</text>`);
  }
  for (const g of niceTicks(x0, x1, 8).filter((g) => g >= x0 && g <= x1 && Number.isInteger(g))) {
    parts.push(`<text x="${sx(g).toFixed(1)}" y="${M.top + ph + 18}" text-anchor="middle">${g}</text>`);
  }
  parts.push(
    `<text x="${M.left + pw / 2}" y="${H - 37}" text-anchor="middle">generation</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">fitness</text>`,
    `<text transform="translate(${W - 14} ${M.top + ph / 2}) rotate(90)" text-anchor="middle" fill="${COLORS.kv}">mean KV-cache fraction</text>`,
  );
  records.forEach((r, i) => {
    if (i > 0 && r.stage !== records[i - 1]!.stage) {
      const x = sx(r.generation - 0.5).toFixed(1);
      parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#999" stroke-dasharray="4 3"/>`,
        `<text x="${x}" y="${M.top + 12}" dx="4" fill="#666">${esc(r.stage)}</text>`);
    }
  });
  const path = (pick: (r: GenerationRecord) => number | undefined, scale: (v: number) => number): string => records
    .filter((r) => Number.isFinite(pick(r)))
    .map((r, i) => `${i === 0 ? 'M' : 'L'}${sx(r.generation).toFixed(1)},${scale(pick(r)!).toFixed(1)}`).join(' ');
  const series: [string, string, string][] = [
    ['best', COLORS.best, path((r) => r.best, sy)],
    ['mean', COLORS.mean, path((r) => r.mean, sy)],
    ['median', COLORS.median, path((r) => r.median, sy)],
    ['KV fraction', COLORS.kv, path((r) => r.info?.kv, sk)],
  ];
  series.forEach(([label, color, d], i) => {
    const dash = label === 'KV fraction' ? ' stroke-dasharray="5 3"' : '';
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`);
    const lx = M.left + 10 + i * 110;
    parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${H - 14}" y2="${H - 14}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 24}" y="${H - 14}" dominant-baseline="middle">${label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
