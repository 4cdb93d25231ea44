/**
 * The run lock of `namm evolve` and runEvolution (src/util/run-lock.ts): a second run on a folder that a live run
 * holds is refused before any work (before the model loads, before the first run's temporary files are removed); a
 * stale lock is taken over with a note; the lock goes with the run's end, also an error's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEvolution } from '../../src/evolve/loop.js';
import { evolveNamm, UNFINISHED_EVOLUTION_MARKER } from '../../src/evolve/namm-evolution.js';
import { readRunLock, RUN_LOCK_FILE } from '../../src/util/run-lock.js';
import { deadPid, holdLock } from '../util/run-lock-holder.js';
import { MODEL, withTempDir, writeTinyCurriculum } from './namm-helpers.js';

const CLI_CHILD = fileURLToPath(new URL('./namm-cli-child.ts', import.meta.url));
const sphere = async (pop: Float32Array[]) => ({ fitness: pop.map((x) => -x.reduce((s, v) => s + (v - 1) ** 2, 0)) });

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_CHILD, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function staleLock(dir: string): number {
  const pid = deadPid();
  writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), started: '2020-01-01T00:00:00.000Z', command: 'namm evolve' }) + '\n');
  return pid;
}

test('namm evolve on a folder that a live run holds is refused at once, before the model loads', { timeout: 60000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  const out = join(dir, 'run');
  const holder = await holdLock(out, 'namm evolve');
  try {
    // A model that does not exist: had it been loaded first, its error would be the one seen.
    const missing = join(dir, 'no-such-model');
    for (const resume of [false, true]) {
      await assert.rejects(evolveNamm({ curriculum: config, model: missing, out, resume, progress: false }), (e: Error) => {
        assert.ok(e.message.includes(`${out} is in use by another run: process ${holder.pid} (namm evolve)`), e.message);
        assert.ok(e.message.includes(`kill ${holder.pid}`) && e.message.includes('--resume'), e.message);
        return true;
      });
    }
    const cli = await runCli(['--config', config, '--model', MODEL, '--out', out, '--resume']);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, new RegExp(`^namm: .*run is in use by another run: process ${holder.pid} \\(namm evolve\\) on .* holds its lock .*run\\.lock; wait for it to end or stop it \\(kill ${holder.pid}\\)`, 'm'));
    assert.deepEqual(readdirSync(out), [RUN_LOCK_FILE], 'nothing was written');
    assert.equal(readRunLock(out)?.pid, holder.pid);
  } finally {
    await holder.stop('SIGKILL');
  }
}));

test('namm evolve takes over a stale lock with a note on stderr, and an error ends the run without its lock', { timeout: 60000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  const out = join(dir, 'run');
  mkdirSync(out);
  const pid = staleLock(out);
  const cli = await runCli(['--config', config, '--model', join(dir, 'no-such-model'), '--out', out]);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, new RegExp(`^note: taking over the stale run lock .*run\\.lock of process ${pid} \\(namm evolve\\), started 2020-01-01T00:00:00.000Z, which no longer runs$`, 'm'));
  assert.match(cli.stderr, /^namm: .*no-such-model/m, 'then the run went on, to the model');
  assert.ok(!existsSync(join(out, RUN_LOCK_FILE)), 'the failed run removed its lock');
}));

test('runEvolution: a live run\'s lock refuses a second run before it removes that run\'s temporary files', () => withTempDir(async (dir) => {
  const holder = await holdLock(dir, 'runEvolution');
  const inFlight = join(dir, `.checkpoint.bin.tmp-${holder.pid}-0a1b2c3d`);
  writeFileSync(inFlight, 'a checkpoint being written');
  try {
    await assert.rejects(runEvolution({ dir, dim: 3, generations: 2, evaluate: sphere, progress: false, resume: true }),
      new RegExp(`is in use by another run: process ${holder.pid} \\(runEvolution\\)`));
    assert.ok(existsSync(inFlight), 'the live run\'s temporary file is left alone');
    assert.deepEqual(readdirSync(dir).sort(), [inFlight.slice(dir.length + 1), RUN_LOCK_FILE].sort());
  } finally {
    await holder.stop('SIGKILL');
  }
}));

test('runEvolution holds the lock while it runs, takes over a stale one, and releases it at a normal end and on an error', () => withTempDir(async (dir) => {
  staleLock(dir);
  const pids: (number | undefined)[] = [], second: Promise<unknown>[] = [];
  await runEvolution({
    dir, dim: 3, generations: 2, progress: false, cmaOptions: { popSize: 4 },
    evaluate: async (pop) => {
      pids.push(readRunLock(dir)?.pid);
      second.push(runEvolution({ dir, dim: 3, generations: 2, evaluate: sphere, progress: false, resume: true }).then(() => null, (e: unknown) => e));
      return sphere(pop);
    },
  });
  assert.deepEqual(pids, [process.pid, process.pid]);
  for (const p of second) assert.match(String(await p), /is in use by another run: this process holds its lock/);
  assert.ok(!existsSync(join(dir, RUN_LOCK_FILE)), 'gone after a normal end');
  await assert.rejects(runEvolution({ dir, dim: 3, generations: 4, resume: true, progress: false, cmaOptions: { popSize: 4 }, evaluate: async () => { throw new Error('evaluation failed'); } }), /evaluation failed/);
  assert.ok(!existsSync(join(dir, RUN_LOCK_FILE)), 'gone after an error');
}));

test('a new evolution refuses a folder holding other files, --resume refuses one holding no run, and a run stopped before its first checkpoint starts over', { timeout: 60000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  // A model that does not exist: a run accepted by the folder checks fails there, after them.
  const missing = join(dir, 'no-such-model');
  const notes = join(dir, 'notes');
  mkdirSync(notes);
  writeFileSync(join(notes, 'log.jsonl'), 'my notes\n');
  writeFileSync(join(notes, 'evolved.namm'), 'an earlier result');
  // They were overwritten by the new run's log.jsonl and evolved.namm (exit 0).
  for (const resume of [false, true]) {
    await assert.rejects(evolveNamm({ curriculum: config, model: missing, out: notes, resume, progress: false }),
      resume ? /resume \(--resume\): .*notes holds no evolution run \(no checkpoint\.bin\); a new run drops --resume$/
        : /notes already holds files \(evolved\.namm, log\.jsonl\) and no evolution checkpoint; a new run needs an empty or new folder/);
  }
  assert.deepEqual(readdirSync(notes).sort(), ['evolved.namm', 'log.jsonl']);
  assert.equal(readFileSync(join(notes, 'log.jsonl'), 'utf8'), 'my notes\n');
  // A training run's folder (its checkpoint.bin too) is named as such, not offered resume, which could not read it.
  const trained = join(dir, 'trained');
  mkdirSync(trained);
  const { writeCheckpointFile } = await import('../../src/evolve/checkpoint.js');
  await writeCheckpointFile(join(trained, 'checkpoint.bin'), Buffer.from(JSON.stringify({ format: 'namm-train/1', step: 2 })));
  await assert.rejects(evolveNamm({ curriculum: config, model: missing, out: trained, progress: false }), /trained holds a namm train run \(its checkpoint\.bin is a training checkpoint\); use a new directory$/);
  // --resume on a mistyped folder started a new run there.
  const typo = join(dir, 'run-typo');
  const cli = await runCli(['--config', config, '--model', MODEL, '--out', typo, '--resume']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /^namm: resume \(--resume\): .*run-typo holds no evolution run \(no checkpoint\.bin\); a new run drops --resume \(is the folder mistyped\?\)$/m);
  assert.ok(!existsSync(typo), 'no folder is left behind');
  // A run stopped before its first checkpoint left its marker beside its files: a new run (or --resume) starts over.
  const stopped = join(dir, 'stopped');
  mkdirSync(stopped);
  for (const f of [UNFINISHED_EVOLUTION_MARKER, 'curriculum.json', 'log.jsonl', 'members.jsonl']) writeFileSync(join(stopped, f), '');
  for (const resume of [false, true]) {
    const lines: string[] = [];
    await assert.rejects(evolveNamm({ curriculum: config, model: missing, out: stopped, resume, progress: { write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WritableStream }),
      /no-such-model/);
    assert.match(lines.join(''), /stopped holds a run that stopped before its first generation ended; starting over in it/);
  }
}));

test('namm evolve killed in its first seconds (before its model has loaded) leaves its marker: the same command with --resume starts over', { timeout: 60000 }, () => withTempDir(async (dir) => {
  const config = await writeTinyCurriculum(dir);
  const out = join(dir, 'early');
  const marker = join(out, UNFINISHED_EVOLUTION_MARKER);
  // A model whose config.json is a FIFO with no writer: its load never ends, so the run is killed while loading it.
  const stuck = join(dir, 'stuck-model');
  mkdirSync(stuck);
  execFileSync('mkfifo', [join(stuck, 'config.json')]);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_CHILD, '--config', config, '--model', stuck, '--out', out], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 2000 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(marker), 'the marker outlives the kill');
  const missing = join(dir, 'no-such-model');
  const lines: string[] = [];
  await assert.rejects(evolveNamm({ curriculum: config, model: missing, out, resume: true, progress: { write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WritableStream }), /no-such-model/);
  assert.match(lines.join(''), /early holds a run that stopped before its first generation ended; starting over in it/);
  // A fresh run refused before it began (here: its model) leaves no folder, marker or not.
  const refused = join(dir, 'refused');
  await assert.rejects(evolveNamm({ curriculum: config, model: missing, out: refused, progress: false }), /no-such-model/);
  assert.ok(!existsSync(refused), 'no folder is left behind');
}));
