/** The plain progress lines (no terminal): the ETA of a display made after its first unit of work finished. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress } from '../../src/cli/progress.js';

function lines(run: () => void): string[] {
  const out: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => { out.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try { run(); } finally { process.stderr.write = write; }
  return out;
}

test('a progress display started after its first step counts that step\'s time (the first line read "ETA 0s")', { skip: process.stderr.isTTY ? 'stderr is a terminal here' : false }, () => {
  // One step of ten done, which took 2 s: nine more take ~18 s.
  const [line] = lines(() => createProgress(10, 'train', Date.now() - 2000).update(1, { loss: 1.5 }));
  assert.match(line!, /^train 1\/10 · ETA (17|18|19)s · loss 1\.5\n$/);
  // Without a start time, the display's own creation is the start.
  const [fresh] = lines(() => createProgress(4, 'eval').update(0));
  assert.equal(fresh, 'eval 0/4 · ETA ?\n');
});

test('a terminal bar leaves the terminal as it was, fits its width, and stopAllProgress lets a failed command exit', { timeout: 60000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  // A child whose stderr claims to be a terminal draws the bar, then fails as a command does: main.ts's error path
  // stops every bar. Without that the bar's redraw timer kept the process alive for ever (a `namm eval` under a
  // terminal that failed mid-run never returned).
  const child = `
    process.stderr.isTTY = true; process.stderr.columns = 60;
    const { createProgress, stopAllProgress } = await import('./src/cli/progress.ts');
    const bar = createProgress(10, 'eval');
    bar.update(3, { task: 'passkey'.repeat(20) });
    await new Promise((r) => setTimeout(r, 150));
    stopAllProgress();
    process.exitCode = 1;`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.signal, null, 'the child ended by itself, not by the timeout');
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes('eval ['), r.stderr);
  // Neither the hidden cursor nor "no line wrap" (a Ctrl-C, which ends the process at once, left both behind).
  assert.ok(!/\x1b\[\?(25|7)[lh]/.test(r.stderr), JSON.stringify(r.stderr.slice(0, 200)));
  for (const frame of r.stderr.split(/\x1b\[1G|\n/)) assert.ok(frame.replace(/\x1b\[[0-9;]*[A-Za-z]|\x1b7|\x1b8/g, '').length < 60, JSON.stringify(frame));
});
