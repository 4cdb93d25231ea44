/**
 * An exclusive run lock on an output folder: `namm train` and `namm evolve` hold one for their whole run, so that a
 * second process started on the same folder (twice the same command, or a --resume while the run still goes) fails
 * at once instead of removing the first one's temporary files and interleaving checkpoints and logs.
 *
 * The lock is the file `run.lock` in the folder, created atomically (open with 'wx') and holding JSON: the pid,
 * hostname and start time of its holder (and what identifies that process across pid reuse). It is removed when the
 * run ends (normally or with an error), at process exit, and, by a small guardian process, when the holder dies of
 * a signal (SIGINT, SIGTERM, even SIGKILL), which ends it just as it would without the lock. A lock left anyway by
 * a process that no longer runs (a crash of the machine, a killed guardian) is taken over with a one-line note; one
 * held by a live process, or by another host (which cannot be checked), is refused with how to proceed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { makeFolders, processRuns } from './files.js';

export const RUN_LOCK_FILE = 'run.lock';

/** What a run folder holds besides its lock and the temporary files of writers (a missing folder holds nothing). */
export function runFolderEntries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((name) => name !== RUN_LOCK_FILE && !(name.startsWith('.') && name.includes('.tmp-')));
}

/** What a lock file holds. */
export interface RunLockInfo {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  started: string;
  /** The command holding it ("namm train"), for the messages of others. */
  command?: string;
  /** Linux: the boot id and the process's start time in clock ticks, so that a reboot or a reused pid is seen. */
  bootId?: string;
  procStart?: string;
  /** Random: tells this holder's file from a later one of the same pid. */
  token: string;
}

export interface RunLock {
  /** The folder, as given, and the lock file in it. */
  readonly dir: string;
  readonly path: string;
  readonly info: RunLockInfo;
  /** Whether this lock is still held (release not yet called). */
  readonly held: boolean;
  /** Removes the lock file (if it is still this lock's) and any folders the lock had to create that stayed empty. Idempotent. */
  release(): void;
}

export interface AcquireRunLockOptions {
  /** The command taking the lock, named in other processes' refusals (e.g. "namm train"). */
  command?: string;
  /** Receives the one-line note when a stale lock is taken over (default: a line on stderr). */
  onNote?: (line: string) => void;
  /** What the folder is, for errors of its creation (default "output folder"). */
  what?: string;
  /**
   * How a refused user continues the holder's run once it has ended, in the refusal (default "with --resume to
   * continue its run"; `namm eval` resumes without a flag).
   */
  resumeHint?: string;
}

/** A refusal: the folder is locked by a live (or uncheckable) process. */
export class RunLockedError extends Error {
  constructor(message: string, readonly dir: string, readonly holder: RunLockInfo | null) {
    super(message);
    this.name = 'RunLockedError';
  }
}

/** The locks this process holds, by absolute lock-file path. */
const held = new Map<string, HeldLock>();

/**
 * Takes the run lock of `dir` (created, with missing folders above it, if absent) or throws RunLockedError. A stale
 * lock (its process is gone) is taken over, with a note through `onNote`.
 */
export function acquireRunLock(dir: string, opts: AcquireRunLockOptions = {}): RunLock {
  const what = opts.what ?? 'output folder';
  // An empty path would lock (and make) the current folder.
  if (typeof dir !== 'string' || dir.trim() === '') throw new TypeError(`the ${what} must be a path, got ${JSON.stringify(dir)}`);
  const abs = resolve(dir);
  const createdTop = topmostMissing(abs);
  makeFolders(dir, what);
  const path = join(dir, RUN_LOCK_FILE), absPath = resolve(path);
  const info: RunLockInfo = {
    pid: process.pid, hostname: hostname(), started: new Date().toISOString(),
    ...(opts.command ? { command: opts.command } : {}),
    ...optional('bootId', bootId()), ...optional('procStart', procStartOf(process.pid)),
    token: randomBytes(8).toString('hex'),
  };
  const content = JSON.stringify(info) + '\n';
  const note = opts.onNote ?? ((line: string) => { process.stderr.write(`${line}\n`); });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (tryCreate(path, content)) {
        const created = createdTop ? { from: abs, to: createdTop } : null;
        const lock = new HeldLock(dir, path, absPath, info, content, created, startGuardian(resolve(path), info.token, created));
        held.set(absPath, lock);
        installExitHook();
        return lock;
      }
      const found = readLock(path);
      if (found === null) continue; // released meanwhile: try again
      if (found.info === null) {
        throw new RunLockedError(`${dir} is locked by ${path}, which does not hold a readable run lock; if no run is using ${dir}, remove ${path} and start again`, dir, null);
      }
      const token = found.info.token;
      if ([...held.values()].some((l) => l.info.token === token)) throw refusal(dir, path, found.info, 'this process');
      const state = liveness(found.info);
      if (state !== 'gone') throw refusal(dir, path, found.info, state, opts.resumeHint);
      if (removeIfUnchanged(path, found.raw)) {
        note(`note: taking over the stale run lock ${path} of process ${found.info.pid}${found.info.command ? ` (${found.info.command})` : ''}, started ${found.info.started}, which no longer runs`);
      }
    }
    throw new Error(`cannot take the run lock ${path}: other processes keep creating and removing it`);
  } catch (err) {
    removeEmptyFolders(abs, createdTop);
    throw err;
  }
}

/** The lock `dir` holds now (null: none, or unreadable). */
export function readRunLock(dir: string): RunLockInfo | null {
  return readLock(join(dir, RUN_LOCK_FILE))?.info ?? null;
}

class HeldLock implements RunLock {
  #held = true;
  constructor(
    readonly dir: string, readonly path: string, private readonly absPath: string, readonly info: RunLockInfo,
    private readonly content: string, private readonly created: { from: string; to: string } | null,
    private readonly guardian: ChildProcess | null,
  ) {}

  get held(): boolean { return this.#held; }

  release(): void {
    if (!this.#held) return;
    this.#held = false;
    held.delete(this.absPath);
    try {
      // Only this lock's own file: never one that another process took over (it thought this one gone).
      if (readFileSync(this.path, 'utf8') === this.content) unlinkSync(this.path);
    } catch { /* gone already */ }
    if (this.created) removeEmptyFolders(this.created.from, this.created.to);
    this.guardian?.stdin?.destroy(); // the guardian finds the lock gone and ends
    if (held.size === 0) removeExitHook();
  }
}

function tryCreate(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`cannot create the run lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    writeSync(fd, content);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* nothing to undo */ }
    throw new Error(`cannot write the run lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  closeSync(fd);
  return true;
}

/**
 * The lock file's text and what it says (info null: not a lock, after waiting a moment for a holder that has
 * created but not yet written it), or null when there is no file.
 */
function readLock(path: string): { raw: string; info: RunLockInfo | null } | null {
  let raw = '';
  for (let tries = 0; tries < 20; tries++) {
    try {
      raw = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read the run lock ${path}: ${(err as Error).message}`, { cause: err });
    }
    const info = parseInfo(raw);
    if (info) return { raw, info };
    // Created a moment ago and not yet written: wait for it (only a young file can be that).
    if (Date.now() - mtimeMs(path) > 2000) break;
    sleepMs(50);
  }
  return { raw, info: null };
}

function parseInfo(raw: string): RunLockInfo | null {
  try {
    const v = JSON.parse(raw) as Partial<RunLockInfo> | null;
    if (v && Number.isSafeInteger(v.pid) && v.pid! > 0 && typeof v.hostname === 'string' && typeof v.started === 'string') return v as RunLockInfo;
  } catch { /* not JSON (yet) */ }
  return null;
}

/** When this process started (ms since the epoch): a lock it took cannot be older. */
const PROCESS_START_MS = Date.now() - process.uptime() * 1000;

/**
 * Whether the lock's process still runs: 'gone' (no such process on this host, the host rebooted since, or its pid
 * now belongs to a later process), 'alive', 'other host' (cannot be checked from here), or 'another thread' (this
 * process, in a worker thread: each thread has its own list of held locks).
 */
function liveness(info: RunLockInfo): 'gone' | 'alive' | 'other host' | 'another thread' {
  if (info.hostname !== hostname()) return 'other host';
  const boot = bootId();
  if (info.bootId && boot && info.bootId !== boot) return 'gone';
  // Not held by this thread (checked before): a lock naming this process's pid is another thread's (two jobs of a
  // library user in worker_threads; the second took the first's lock over as stale, and both ran in one folder), or
  // an earlier process's (a container restarted after a kill often gives its new process the old one's pid). The
  // same start time since boot tells them apart where Linux gives it, else a lock taken since this process started.
  if (info.pid === process.pid) {
    const start = procStartOf(process.pid);
    const ours = info.procStart && start ? info.procStart === start : Date.parse(info.started) >= PROCESS_START_MS;
    return ours ? 'another thread' : 'gone';
  }
  if (!processRuns(info.pid)) return 'gone';
  const start = procStartOf(info.pid);
  if (info.procStart && start && start !== info.procStart) return 'gone';
  return 'alive';
}

function refusal(dir: string, path: string, h: RunLockInfo, state: 'alive' | 'other host' | 'this process' | 'another thread', resumeHint = 'with --resume to continue its run'): RunLockedError {
  const who = state === 'this process'
    ? 'this process'
    : state === 'another thread'
      ? `another thread of this process${h.command ? ` (${h.command})` : ''}, started ${h.started},`
      : `process ${h.pid}${h.command ? ` (${h.command})` : ''} on ${h.hostname}, started ${h.started}`;
  const how = state === 'this process'
    ? 'wait for that run to end, or use another folder'
    : state === 'another thread'
      ? `wait for that run to end, or use another folder; if no thread of this process runs there any more, remove ${path} and start again`
      : state === 'other host'
        ? `let that run end, or use another folder; if it no longer runs, remove ${path} and start again`
        : `wait for it to end or stop it (kill ${h.pid}), then start again (${resumeHint}), or use another folder`;
  return new RunLockedError(`${dir} is in use by another run: ${who} holds its lock ${path}; ${how}`, dir, h);
}

/**
 * Removes the stale lock file whose text is `raw`: renamed aside first (atomic, so of two processes taking over the
 * same stale lock only one removes it) and checked to be that lock; a newer lock moved by mistake is put back.
 */
function removeIfUnchanged(path: string, raw: string): boolean {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`cannot take over the stale run lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  let moved = '';
  try { moved = readFileSync(aside, 'utf8'); } catch { /* read as a mismatch */ }
  if (moved === raw) {
    unlinkSync(aside);
    return true;
  }
  try { linkSync(aside, path); } catch { /* a newer lock is there already */ }
  try { unlinkSync(aside); } catch { /* gone */ }
  return false;
}

// ---- release on exit, and on a death by any signal ---------------------------------------------------------------

let exitHook = false;

function releaseAll(): void {
  for (const lock of [...held.values()]) lock.release();
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', releaseAll);
}

function removeExitHook(): void {
  if (!exitHook) return;
  exitHook = false;
  process.removeListener('exit', releaseAll);
}

/**
 * The guardian: a small process in a session of its own (so a Ctrl-C at the terminal does not reach it) whose stdin
 * is a pipe from the holder. The pipe closes when the holder releases the lock or dies, however it dies (SIGINT,
 * SIGTERM, SIGKILL, a crash); the guardian then removes the lock file if it is still this holder's, and the folders
 * the lock made if they stayed empty. The holder itself installs no signal handler: a signal ends it exactly as it
 * would without the lock (a Ctrl-C at once, even in the middle of long synchronous work, with exit status 130).
 */
const GUARDIAN = `
process.title = 'namm run-lock guardian';
const fs = require('node:fs'), path = require('node:path');
const [lockPath, token, from, to] = process.argv.slice(1);
let done = false;
function cleanup() {
  if (done) return;
  done = true;
  // Moved aside before it is read (as removeIfUnchanged does), so that a lock another run has just put there in
  // its place is put back rather than removed.
  const aside = lockPath + '.released-' + process.pid;
  let mine = false;
  try { fs.renameSync(lockPath, aside); } catch { process.exit(0); }
  try { mine = JSON.parse(fs.readFileSync(aside, 'utf8')).token === token; } catch {}
  if (!mine) { try { fs.linkSync(aside, lockPath); } catch {} }
  try { fs.unlinkSync(aside); } catch {}
  if (mine) {
    if (to) for (let d = from; ; d = path.dirname(d)) {
      try { fs.rmdirSync(d); } catch { break; }
      if (d === to || path.dirname(d) === d) break;
    }
  }
  process.exit(0);
}
process.stdin.on('end', cleanup).on('close', cleanup).on('error', cleanup).resume();
`;

function startGuardian(lockPath: string, token: string, created: { from: string; to: string } | null): ChildProcess | null {
  try {
    const child = spawn(process.execPath, ['-e', GUARDIAN, lockPath, token, created?.from ?? '', created?.to ?? ''], {
      detached: true, stdio: ['pipe', 'ignore', 'ignore'], windowsHide: true,
      // Plain JavaScript: none of the holder's loaders or options (NODE_OPTIONS="--import tsx") are needed.
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    child.on('error', () => undefined); // could not start: a lock left by a killed holder is then taken over as stale
    child.stdin!.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return child;
  } catch {
    return null;
  }
}

// ---- small helpers ----------------------------------------------------------------------------------------------

function optional<K extends string>(key: K, value: string | null): { [k in K]?: string } {
  return (value ? { [key]: value } : {}) as { [k in K]?: string };
}

/** The topmost folder of `abs` and its parents that does not exist yet (null: `abs` exists). */
function topmostMissing(abs: string): string | null {
  let top: string | null = null, head = abs;
  while (!existsSync(head)) {
    top = head;
    const up = dirname(head);
    if (up === head) break;
    head = up;
  }
  return top;
}

/** Removes `from` and its parents up to `to` while they are empty (those the lock created; a refused run leaves none). */
function removeEmptyFolders(from: string, to: string | null): void {
  if (!to) return;
  for (let d = from; ; d = dirname(d)) {
    try { rmdirSync(d); } catch { return; }
    if (d === to || dirname(d) === d) return;
  }
}

function bootId(): string | null {
  try { return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null; } catch { return null; }
}

/** Linux: the process's start time since boot (clock ticks, field 22 of /proc/PID/stat), or null. */
function procStartOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function mtimeMs(path: string): number {
  try { return statSync(path).mtimeMs; } catch { return 0; }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
