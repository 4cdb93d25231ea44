/** A progress display for long CLI jobs: a bar on a terminal, a plain line every few seconds otherwise. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/** The terminal bars still drawn: each one's redraw timer keeps the process alive until it is stopped. */
const active = new Set<Progress>();

/**
 * Stops every bar still drawn (the command's error path: a bar left running after a failure kept the process alive
 * with its message printed, and the command never returned).
 */
export function stopAllProgress(): void {
  for (const p of [...active]) p.stop();
}

/**
 * `startedAt` (Date.now() milliseconds): when the work counted by `done` began, for a display made after its first
 * unit finished (training makes it at its first step, whose time the ETA would otherwise leave out: the first line
 * read "ETA 0s").
 */
export function createProgress(total: number, label: string, startedAt?: number): Progress {
  if (process.stderr.isTTY) {
    // The terminal's state is left alone (no hidden cursor, line wrapping on): a Ctrl-C, which ends the process at
    // once, left the cursor hidden and wrapping off. The line is cut to the terminal's width instead, so it never wraps.
    const format = `${label} [{bar}] {value}/{total} {percentage}% · ETA {eta_formatted} · {status}`;
    const bar = new cliProgress.SingleBar({
      format: (options: cliProgress.Options, params: cliProgress.Params, payload: Record<string, unknown>) => {
        const line = cliProgress.Format.Formatter({ ...options, format }, params, payload);
        return line.length < params.maxWidth ? line : `${line.slice(0, Math.max(0, params.maxWidth - 2))}…`;
      },
      stream: process.stderr, hideCursor: false, linewrap: true, clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { status: '' });
    const entry = {
      update: (done: number, fields?: Record<string, string | number>) => bar.update(done, { status: fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' · ') : '' }),
      stop: () => { active.delete(entry); bar.stop(); },
    };
    active.add(entry);
    return entry;
  }
  const t0 = startedAt ?? Date.now();
  let last = 0;
  return {
    update(done, fields) {
      const now = Date.now();
      if (now - last < 5000 && done < total) return;
      last = now;
      const eta = done > 0 ? ((now - t0) / done) * (total - done) / 1000 : NaN;
      const extra = fields ? ' · ' + Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' · ') : '';
      process.stderr.write(`${label} ${done}/${total} · ETA ${Number.isFinite(eta) ? eta.toFixed(0) + 's' : '?'}${extra}\n`);
    },
    stop() { /* nothing to clear */ },
  };
}
