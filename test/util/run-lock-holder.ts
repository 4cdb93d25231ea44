/** A real second process holding a folder's run lock (run-lock-child.ts), for the tests of the lock and its users. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readRunLock, RUN_LOCK_FILE } from '../../src/util/run-lock.js';

const CHILD = fileURLToPath(new URL('./run-lock-child.ts', import.meta.url));

export interface LockHolder {
  pid: number;
  child: ChildProcess;
  /**
   * Sends `signal` and resolves with how the process ended, once its lock is released: a killed holder's guardian
   * renames the lock aside and removes it a moment after the holder's end, and a folder removed meanwhile would
   * gain that entry under the removal (ENOTEMPTY).
   */
  stop(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts a process that takes the run lock of `dir` and holds it until stopped; resolves once it holds it. */
export function holdLock(dir: string, command = 'lock-holder'): Promise<LockHolder> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^locked (\d+)$/m.exec(stdout);
      if (!m) return;
      const pid = Number(m[1]);
      resolve({ pid, child, stop: async (signal) => { child.kill(signal); const end = await ended; await released(dir, pid); return end; } });
    });
    void ended.then((e) => reject(new Error(`the lock holder ended (${e.code ?? e.signal}) without the lock: ${stdout}${e.stderr}`)));
  });
}

/** The pid of a process that has ended (and so, barring a quick reuse, names no process). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  return r.pid!;
}

/** Waits (at most 10 s) until `dir` holds no lock of `pid` and no lock being moved aside by its guardian. */
async function released(dir: string, pid: number): Promise<void> {
  const aside = `${RUN_LOCK_FILE}.released-`;
  for (let t = 0; t < 200; t++) {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; } // the folder itself went (the guardian removes those it made)
    if (readRunLock(dir)?.pid !== pid && !names.some((n) => n.startsWith(aside))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
