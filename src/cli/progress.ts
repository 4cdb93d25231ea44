/** A progress display for long CLI jobs: a bar on a terminal, a plain line every few seconds otherwise. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * `startedAt` (Date.now() milliseconds): when the work counted by `done` began, for a display made after its first
 * unit finished (training makes it at its first step, whose time the ETA would otherwise leave out: the first line
 * read "ETA 0s").
 */
export function createProgress(total: number, label: string, startedAt?: number): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {value}/{total} {percentage}% · ETA {eta_formatted} · {status}`,
      stream: process.stderr, hideCursor: true, clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { status: '' });
    return {
      update: (done, fields) => bar.update(done, { status: fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(' · ') : '' }),
      stop: () => bar.stop(),
    };
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
