/** The run lock of an output folder (src/util/run-lock.ts), against real second processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { acquireRunLock, readRunLock, RUN_LOCK_FILE, RunLockedError } from '../../src/util/run-lock.js';
import { deadPid, holdLock } from './run-lock-holder.js';
import { tempDir } from '../helpers/temp.js';

/** Waits until `path` is gone (the guardian of a holder that died removes its lock a moment later); false: it stayed. */
async function gone(path: string, ms = 5000): Promise<boolean> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 20))) if (!existsSync(path)) return true;
  return false;
}

function withDir(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = tempDir('namm-lock-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

test('the lock file is made atomically with pid, hostname and start time, and removed on release', withDir((dir) => {
  for (const bad of ['', '  ']) assert.throws(() => acquireRunLock(bad), /the output folder must be a path, got/, 'never the current folder');
  const lock = acquireRunLock(dir, { command: 'test' });
  const info = JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(info.pid, process.pid);
  assert.equal(info.hostname, hostname());
  assert.ok(Math.abs(Date.parse(String(info.started)) - Date.now()) < 60_000);
  assert.equal(info.command, 'test');
  assert.equal(lock.held, true);
  // A second lock in this process is refused too.
  assert.throws(() => acquireRunLock(dir), (e: Error) => e instanceof RunLockedError && /is in use by another run: this process holds its lock/.test(e.message));
  lock.release();
  lock.release(); // idempotent
  assert.equal(lock.held, false);
  assert.deepEqual(readdirSync(dir), []);
}));

test('a live lock of another process refuses at once, naming the folder, its pid and what to do; SIGTERM frees it', withDir(async (dir) => {
  const holder = await holdLock(dir, 'namm evolve');
  try {
    assert.throws(() => acquireRunLock(dir), (e: Error) => {
      assert.ok(e instanceof RunLockedError);
      assert.ok(e.message.includes(`${dir} is in use by another run: process ${holder.pid} (namm evolve) on ${hostname()}`), e.message);
      assert.ok(e.message.includes(`kill ${holder.pid}`) && e.message.includes('--resume'), e.message);
      return true;
    });
    assert.equal(readRunLock(dir)?.pid, holder.pid, 'the refusal left the holder\'s lock alone');
  } finally {
    const end = await holder.stop('SIGTERM');
    assert.equal(end.signal, 'SIGTERM', 'SIGTERM still ends the process by the signal');
  }
  assert.ok(await gone(join(dir, RUN_LOCK_FILE)), 'SIGTERM released the lock');
  acquireRunLock(dir).release();
}));

test('Ctrl-C (SIGINT) removes the lock and still ends the process by SIGINT', withDir(async (dir) => {
  const out = join(dir, 'made', 'by-lock');
  const holder = await holdLock(out);
  assert.ok(existsSync(join(out, RUN_LOCK_FILE)));
  const end = await holder.stop('SIGINT');
  assert.equal(end.signal, 'SIGINT');
  assert.equal(end.code, null);
  assert.ok(await gone(join(out, RUN_LOCK_FILE)));
  // The guardian removes the lock file, then the folders it made: wait for the second step too.
  assert.ok(await gone(join(dir, 'made')), 'the folders the lock made stayed empty, and went with it');
  assert.deepEqual(readdirSync(dir), []);
}));

test('even a SIGKILLed holder leaves no lock behind (its guardian removes it)', withDir(async (dir) => {
  const holder = await holdLock(dir);
  assert.equal(readRunLock(dir)?.pid, holder.pid);
  assert.equal((await holder.stop('SIGKILL')).signal, 'SIGKILL');
  assert.ok(await gone(join(dir, RUN_LOCK_FILE)));
  acquireRunLock(dir).release();
}));

test('a stale lock (a pid that does not exist, or this process\'s own pid from an earlier life) is taken over with a one-line note', withDir((dir) => {
  const notes: string[] = [];
  const pid = deadPid();
  writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z', command: 'namm train' }) + '\n');
  const lock = acquireRunLock(dir, { onNote: (l) => notes.push(l) });
  assert.equal(notes.length, 1);
  assert.match(notes[0]!, new RegExp(`^note: taking over the stale run lock .*${RUN_LOCK_FILE} of process ${pid} \\(namm train\\), started 2020-01-01T00:00:00.000Z, which no longer runs$`));
  assert.equal(readRunLock(dir)?.pid, process.pid);
  lock.release();

  // A container restarted after a kill often gives the new process the old one's pid.
  writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: process.pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z' }) + '\n');
  const again = acquireRunLock(dir, { onNote: (l) => notes.push(l) });
  assert.match(notes[1]!, new RegExp(`of process ${process.pid}, started 2020-01-01T00:00:00.000Z, which no longer runs$`));
  again.release();
  assert.deepEqual(readdirSync(dir), []);
}));

test('a lock held by another thread of this process is refused, not taken over as stale (two jobs in worker_threads both ran in one folder)', withDir(async (dir) => {
  const { Worker } = await import('node:worker_threads');
  // The worker takes the lock, says so, and releases it when told.
  const code = `(async () => {
    const { parentPort, workerData } = require('node:worker_threads');
    (await import(workerData.tsx)).register();
    const { acquireRunLock } = await import(workerData.lock);
    const lock = acquireRunLock(workerData.dir, { command: 'worker job' });
    parentPort.postMessage('locked');
    parentPort.once('message', () => { lock.release(); parentPort.postMessage('released'); });
  })().catch((err) => require('node:worker_threads').parentPort.postMessage('error: ' + err.message));`;
  const worker = new Worker(code, { eval: true, workerData: { dir, tsx: import.meta.resolve('tsx/esm/api'), lock: import.meta.resolve('../../src/util/run-lock.ts') } });
  const next = () => new Promise<string>((r) => worker.once('message', r));
  try {
    assert.equal(await next(), 'locked');
    const notes: string[] = [];
    assert.throws(() => acquireRunLock(dir, { onNote: (l) => notes.push(l) }), (e: Error) => e instanceof RunLockedError
      && new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another run: another thread of this process \\(worker job\\), started [^ ]+, holds its lock .*${RUN_LOCK_FILE}; wait for that run to end`).test(e.message));
    assert.deepEqual(notes, []);
    assert.equal(readRunLock(dir)?.command, 'worker job');
    worker.postMessage('release');
    assert.equal(await next(), 'released');
    acquireRunLock(dir).release();
    // Without a process start time (not Linux), a lock of this pid taken since this process started is its own.
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: process.pid, hostname: hostname(), started: new Date().toISOString(), token: 'x' }) + '\n');
    assert.throws(() => acquireRunLock(dir), /another thread of this process, started .*if no thread of this process runs there any more, remove/);
  } finally {
    await worker.terminate();
  }
}));

test('a lock of another host, or an unreadable one, is refused with how to proceed; an existing folder is kept', withDir((dir) => {
  const path = join(dir, RUN_LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: 1, hostname: `not-${hostname()}`, started: '2020-01-01T00:00:00.000Z' }));
  assert.throws(() => acquireRunLock(dir), new RegExp(`process 1 on not-.*if it no longer runs, remove ${path} and start again`));
  writeFileSync(path, 'garbage');
  assert.throws(() => acquireRunLock(dir), new RegExp(`does not hold a readable run lock; if no run is using .*, remove ${path}`));
  assert.equal(readFileSync(path, 'utf8'), 'garbage');
  rmSync(path);
  mkdirSync(join(dir, 'kept'));
  acquireRunLock(join(dir, 'kept')).release();
  assert.deepEqual(readdirSync(dir), ['kept']);
}));
