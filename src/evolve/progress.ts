/**
 * The one-line evolution progress report on stderr: rewritten in place with `\r` on a terminal, one plain line
 * per generation otherwise (logs, CI), so neither a TTY fills with lines nor a log file with carriage returns.
 */

export interface ProgressStats {
  stage: string;
  generation: number;
  totalGenerations: number;
  best: number;
  mean: number;
  median: number;
  sigma: number;
  /** Seconds the generation took (its evaluation and update); not shown when absent. */
  timeS?: number;
  /** Seconds since the run (all processes together) started. */
  elapsedS: number;
  /** Estimated seconds left; null when unknown. */
  etaS: number | null;
  info?: Record<string, number>;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

const num = (v: number): string => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toFixed(4));

export function formatProgress(p: ProgressStats): string {
  const info = p.info ? Object.entries(p.info).map(([k, v]) => ` ${k} ${num(v)}`).join('') : '';
  return `[${p.stage}] gen ${p.generation}/${p.totalGenerations} best ${num(p.best)} mean ${num(p.mean)} ` +
    `median ${num(p.median)} σ ${num(p.sigma)}${info} | ${p.timeS !== undefined ? `${formatDuration(p.timeS)}/gen, ` : ''}` +
    `${formatDuration(p.elapsedS)} elapsed, ETA ${formatDuration(p.etaS)}`;
}

/**
 * The line for a terminal `width` columns wide, shorter than it: a line that wrapped was rewritten by `\r` on its last
 * row only, leaving a stale row per update. Too long, it keeps the stage, generation, best and mean and the ETA; then
 * it is cut.
 */
export function fitProgress(p: ProgressStats, width: number): string {
  const full = formatProgress(p);
  if (full.length < width) return full;
  const short = `[${p.stage}] gen ${p.generation}/${p.totalGenerations} best ${num(p.best)} mean ${num(p.mean)} | ETA ${formatDuration(p.etaS)}`;
  return cutToWidth(short, width);
}

/** `text` as it fits a terminal `width` columns wide (shorter than it), cut with an ellipsis when it does not. */
function cutToWidth(text: string, width: number): string {
  if (text.length < width) return text;
  return width > 2 ? `${text.slice(0, width - 2)}…` : '';
}

/** Writes progress lines to a stream (stderr by default), TTY-aware. */
export class ProgressLine {
  private lastLength = 0;
  /** The latest generation's figures, and whether a status line has replaced them on the terminal since. */
  private last: ProgressStats | null = null;
  private statusShown = false;
  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr) {}

  update(p: ProgressStats): void {
    this.last = p;
    this.statusShown = false;
    const width = this.width();
    const line = this.stream.isTTY && width !== null ? fitProgress(p, width) : formatProgress(p);
    if (this.stream.isTTY) this.rewrite(line);
    else this.stream.write(`${line}\n`);
  }

  /** The terminal's width in columns, when the stream tells it. */
  private width(): number | null {
    const columns = this.stream.columns;
    return typeof columns === 'number' && columns > 0 ? columns : null;
  }

  /**
   * The line in place, padded over what is left of the previous one, but never past the terminal's width (after the
   * terminal was narrowed, the padding alone wrapped).
   */
  private rewrite(line: string): void {
    const room = (this.width() ?? Infinity) - 1;
    this.stream.write(`\r${line}${' '.repeat(Math.max(0, Math.min(this.lastLength, room) - line.length))}`);
    this.lastLength = line.length;
  }

  /**
   * A phase between generations that shows nothing else (a validation of the mean, often longer than a generation):
   * in place of the line on a terminal, until the next update; a line of its own otherwise.
   */
  status(text: string): void {
    if (!this.stream.isTTY) { this.stream.write(`${text}\n`); return; }
    const width = this.width();
    this.rewrite(width !== null ? cutToWidth(text, width) : text);
    this.statusShown = true;
  }

  /** Ends the in-place line on a terminal, with the latest generation's figures rather than a finished status. */
  done(): void {
    if (this.stream.isTTY && this.statusShown && this.last) this.update(this.last);
    if (this.stream.isTTY && this.lastLength > 0) this.stream.write('\n');
    this.lastLength = 0;
  }
}
