/**
 * loss.svg for a training run: the training loss of every step (thin, light), its moving average (bold) and the
 * validation loss (dots), against tokens seen (millions) or the step. Reads the trainer's train-log.jsonl:
 * step lines `{"step":N,"loss":x,"lr":..,"tokens_seen":..,...}` and validation lines `{"step":N,"validation_loss":x}`.
 */
import { renderLineChart, type ChartPoint } from '../util/chart.js';
import { MiB, readFileLimited } from '../util/files.js';
import { checkArg, checkArgOptions } from '../util/args.js';

/** One line of train-log.jsonl (a non-finite loss is written by JSON.stringify as null). */
export interface TrainLogLine {
  step: number;
  loss?: number | null;
  lr?: number;
  tokens_seen?: number;
  validation_loss?: number | null;
  [key: string]: unknown;
}

export interface LossPlotOptions {
  /** Steps in the moving average (default 20; at most a fifth of the steps logged). */
  window?: number;
  /** The x axis: 'tokens' (millions; the default where every step line has tokens_seen) or 'step'. */
  x?: 'tokens' | 'step';
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The lines of a train-log.jsonl text; `source` names the file in errors ("source:line: why"). Blank lines are
 * skipped, and so is a last line without its newline that does not parse (a write still in progress).
 */
export function parseTrainLog(text: string, source = 'train-log.jsonl'): TrainLogLine[] {
  const out: TrainLogLine[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      if (i === lines.length - 1) return; // unterminated last line: being appended right now
      throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: not a train-log line (not an object)`);
    const o = v as Record<string, unknown>;
    if (!isNum(o.step)) throw new Error(`${where}: not a train-log line (no numeric "step")`);
    for (const key of ['loss', 'validation_loss', 'tokens_seen', 'lr']) {
      if (key in o && o[key] !== null && typeof o[key] !== 'number') throw new Error(`${where}: "${key}" is not a number`);
    }
    out.push(o as TrainLogLine);
  });
  return out;
}

/** The lines of a run's train-log.jsonl (see parseTrainLog). */
export function readTrainLog(path: string): TrainLogLine[] {
  checkArg('readTrainLog', 'path', path, 'path');
  return parseTrainLog(readFileLimited(path, 1024 * MiB, 'log').toString('utf8'), path);
}

/**
 * Centred moving average over `window` points. Near the start the window narrows symmetrically, so the curve
 * follows the steep early descent and starts on the data (a trailing average lags above it); near the end it keeps
 * its past half and loses its future one, so the latest value stays an average and not one noisy step.
 */
function movingAverage(points: readonly ChartPoint[], window: number): ChartPoint[] {
  const prefix = [0];
  for (const p of points) prefix.push(prefix[prefix.length - 1]! + p[1]);
  const before = Math.floor((window - 1) / 2), after = window - 1 - before, n = points.length;
  return points.map((p, i) => {
    const lo = i - Math.min(before, i), hi = i + Math.min(after, i, n - 1 - i);
    return [p[0], (prefix[hi + 1]! - prefix[lo]!) / (hi - lo + 1)];
  });
}

/** The SVG text of the loss curves of a train log. */
export function renderLossSvg(logLines: readonly TrainLogLine[], title = 'training loss', options: LossPlotOptions = {}): string {
  checkArg('renderLossSvg', 'logLines', logLines, 'array', 'an array of train-log lines (readTrainLog)');
  logLines.forEach((l, i) => checkArg('renderLossSvg', `logLines[${i}]`, l, 'object', 'a train-log line { step, loss | validation_loss, … }'));
  checkArgOptions('renderLossSvg', options, ['window', 'x']);
  // A resumed run appends again from its checkpoint's step: a step at or before an earlier one supersedes the
  // lines logged after it by the interrupted run.
  const train: TrainLogLine[] = [], val: TrainLogLine[] = [];
  const supersede = (list: TrainLogLine[], step: number) => { while (list.length && list[list.length - 1]!.step >= step) list.pop(); };
  for (const l of logLines) {
    if ('validation_loss' in l) { supersede(val, l.step); val.push(l); } else if ('loss' in l) { supersede(train, l.step); supersede(val, l.step); train.push(l); }
  }
  const tokensAt = new Map(train.filter((l) => isNum(l.tokens_seen)).map((l) => [l.step, l.tokens_seen!]));
  const byTokens = options.x !== 'step' && train.length > 0 && tokensAt.size === train.length && val.every((l) => tokensAt.has(l.step));
  const x = (step: number) => (byTokens ? tokensAt.get(step)! / 1e6 : step);
  const loss = train.filter((l) => isNum(l.loss)).map((l): ChartPoint => [x(l.step), l.loss!]);
  // A window longer than a fifth of the run would flatten it: short runs get a shorter one.
  const window = Math.max(1, Math.min(Math.floor(options.window ?? 20), Math.floor(loss.length / 5)));
  const validation = val.filter((l) => isNum(l.validation_loss)).map((l): ChartPoint => [x(l.step), l.validation_loss!]);
  return renderLineChart({
    title, xLabel: byTokens ? 'tokens seen (millions)' : 'step', yLabel: 'loss (nats/token)', emptyText: 'no data',
    series: [
      { label: 'training loss', points: loss, color: '#1f77b4', width: 1, opacity: 0.3 },
      { label: window > 1 ? `mean of ${window} steps` : 'loss (too few steps to average)', points: movingAverage(loss, window), color: '#1f77b4', width: 2.4 },
      { label: 'validation loss', points: validation, color: '#d62728', width: 1.2, markers: true },
    ],
  });
}
