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
