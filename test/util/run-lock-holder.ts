/** A real second process holding a folder's run lock (run-lock-child.ts), for the tests of the lock and its users. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./run-lock-child.ts', import.meta.url));

export interface LockHolder {
  pid: number;
  child: ChildProcess;
  /** Sends `signal` and resolves with how the process ended. */
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
      if (m) resolve({ pid: Number(m[1]), child, stop: (signal) => { child.kill(signal); return ended; } });
    });
    void ended.then((e) => reject(new Error(`the lock holder ended (${e.code ?? e.signal}) without the lock: ${stdout}${e.stderr}`)));
  });
}

/** The pid of a process that has ended (and so, barring a quick reuse, names no process). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  return r.pid!;
}
