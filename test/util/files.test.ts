/** Output folders: created level by level, with errors that name the path, and never a hang (Node's recursive mkdir under /proc). */
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { firstInvalidUtf8, makeFolders, MiB, IO_PIECE, readFileLimited, readTextFile } from '../../src/util/files.js';
import { readNammCheckpoint } from '../../src/memory/namm/checkpoint.js';
import { loadMemoryTrace } from '../../src/memory/matched.js';
import { tempDir } from '../helpers/temp.js';

test('makeFolders: creates missing levels, accepts an existing folder, refuses a file in the way', () => {
  const root = tempDir('namm-folders-');
  try {
    const deep = join(root, 'a', 'b', 'c');
    makeFolders(deep);
    assert.ok(statSync(deep).isDirectory());
    makeFolders(deep); // already there: nothing to do
    writeFileSync(join(root, 'file'), 'x');
    assert.throws(() => makeFolders(join(root, 'file', 'sub'), 'output folder'), /cannot create the output folder .*file[/\\]sub: .*file is a file, not a folder/);
    assert.throws(() => makeFolders(join(root, 'file')), /is a file, not a folder/);
    assert.throws(() => makeFolders('  '), /an empty path/);
    assert.equal(existsSync(join(root, 'file', 'sub')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('makeFolders: a place where no folder can be made is a clear error, not a hang', { skip: !existsSync('/proc/self') }, () => {
  // Node 20's mkdir({ recursive: true }) loops forever here; one level at a time gives ENOENT at once.
  assert.throws(() => makeFolders('/proc/namm-no-such/out', 'output folder'), /cannot create the output folder \/proc\/namm-no-such\/out: .*ENOENT/);
});

test('readFileLimited: whole files up to the limit; a folder, a larger file or an endless device is an error', () => {
  const root = tempDir('namm-read-');
  try {
    const p = join(root, 'f.json');
    writeFileSync(p, 'x'.repeat(1000));
    assert.equal(readFileLimited(p, 1000, 'config').length, 1000);
    assert.throws(() => readFileLimited(p, 999, 'config'), /holds 1000 bytes, more than a config can/);
    assert.throws(() => readFileLimited(root, 1000, 'config'), /is a folder, not a config/);
    assert.throws(() => readFileLimited(join(root, 'missing'), 1000, 'config'), /ENOENT/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('readFileLimited reads in pieces of at most IO_PIECE, below readSync\'s 2^31 − 1 (a 2–3 GiB checkpoint was written but refused on resume)', { skip: !existsSync('/dev/zero') }, () => {
  assert.ok(IO_PIECE <= 2 ** 31 - 1);
  const root = tempDir('namm-read-');
  // Every length asked of readSync (a 2 GiB file to show it would fill 2 GiB of memory; a small piece shows the same).
  const lengths: number[] = [];
  const readSync = fs.readSync;
  mock.method(fs, 'readSync', (...args: unknown[]) => { lengths.push(args[3] as number); return (readSync as (...a: unknown[]) => number)(...args); });
  syncBuiltinESMExports();
  try {
    const p = join(root, 'f.bin');
    const data = Buffer.from(Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7919) & 255));
    writeFileSync(p, data);
    for (const piece of [1, 999, 4096, 10_000, 10_001]) {
      lengths.length = 0;
      assert.deepEqual(readFileLimited(p, 10_000, 'checkpoint', true, piece), data);
      assert.ok(lengths.length > 0 && lengths.every((n) => n <= piece), `piece ${piece}: reads of ${lengths.join(', ')} bytes`);
    }
    lengths.length = 0;
    assert.throws(() => readFileLimited('/dev/zero', 1 * MiB, 'trace', false, 1000), /\/dev\/zero goes on past 1 MiB/);
    assert.ok(lengths.every((n) => n <= 1000));
  } finally {
    mock.restoreAll();
    syncBuiltinESMExports();
    rmSync(root, { recursive: true, force: true });
  }
});

test('readers of namm\'s files stop at their limit on a device that never ends (they filled memory before)', { skip: !existsSync('/dev/zero') }, async () => {
  assert.throws(() => readFileLimited('/dev/zero', 4 * MiB, 'trace'), /\/dev\/zero goes on past 4 MiB, more than a trace can hold/);
  assert.throws(() => readNammCheckpoint('/dev/zero'), /cannot read NAMM checkpoint \/dev\/zero: .*goes on past 16 MiB/);
  assert.throws(() => loadMemoryTrace('/dev/zero'), /cannot read memory trace \/dev\/zero: .*goes on past 512 MiB/);
  assert.throws(() => readTextFile('/dev/zero', 'prompt file'), /\/dev\/zero goes on past 1024 MiB, more than a prompt file can hold/);
  assert.throws(() => readTextFile('', 'text file'), /^Error: text file: the path is empty$/);
});

test('writeFileVia removes the temporary files of writers that were killed, and leaves those of live ones', async () => {
  const { spawn } = await import('node:child_process');
  const { readdirSync, readFileSync, utimesSync } = await import('node:fs');
  const { writeFileVia } = await import('../../src/util/files.js');
  const dir = tempDir('namm-tmpfiles-');
  const target = join(dir, 'out.json');
  // A writer stopped in the middle of its file: it prints the temporary path and waits.
  const writer = async () => {
    const code = `import { writeFileSync } from 'node:fs'; import { writeFileVia } from ${JSON.stringify(join(process.cwd(), 'src/util/files.ts'))};
      writeFileVia(${JSON.stringify(target)}, (tmp) => { writeFileSync(tmp, 'half'); console.log(tmp); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tmp = await new Promise<string>((res, rej) => {
      let out = '';
      child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) res(out.trim()); });
      child.on('exit', (c) => rej(new Error(`writer exited with ${c}`)));
    });
    return { child, tmp };
  };
  const killed = await writer(), live = await writer();
  try {
    killed.child.kill('SIGKILL');
    await new Promise((r) => killed.child.once('exit', r));
    assert.ok(existsSync(killed.tmp) && existsSync(live.tmp));
    // Another host's file and one named as older versions named them, with the killed writer's pid: never judged.
    const pid = killed.child.pid!;
    const foreign = join(dir, `.out.json.tmp-${pid}-0123abcd-89abcdef`), old = join(dir, `.out.json.tmp-${pid}-89abcdef`);
    writeFileSync(foreign, 'x');
    writeFileSync(old, 'x');
    // Files named with this process's pid: one written before it started (an earlier process with the same pid)
    // goes, one written since (say a worker thread's, in progress) stays.
    const tag = killed.tmp.slice(killed.tmp.lastIndexOf('.tmp-') + 5).split('-')[1];
    const ownOld = join(dir, `.out.json.tmp-${process.pid}-${tag}-00000001`), ownNew = join(dir, `.out.json.tmp-${process.pid}-${tag}-00000002`);
    writeFileSync(ownOld, 'x');
    writeFileSync(ownNew, 'x');
    const past = new Date(Date.now() - process.uptime() * 1000 - 60_000);
    utimesSync(ownOld, past, past);
    // An untagged name (the checkpoint writer's before it took the tagged scheme) of a pid not running here and
    // last written before this process started goes (one written since, `old` above, may be another host's).
    const oldPast = join(dir, `.out.json.tmp-${pid}-0badf00d`);
    writeFileSync(oldPast, 'x');
    utimesSync(oldPast, past, past);
    writeFileVia(target, (tmp) => writeFileSync(tmp, '{}'));
    assert.ok(!existsSync(oldPast), 'an old-format file of a dead pid, from before this process, is gone');
    assert.equal(readFileSync(target, 'utf8'), '{}');
    assert.ok(!existsSync(killed.tmp), 'the killed writer\'s file is gone');
    assert.ok(existsSync(live.tmp), 'the live writer\'s file stays');
    assert.deepEqual(readdirSync(dir).sort(), [live.tmp, foreign, old, ownNew].map((p) => p.slice(dir.length + 1)).concat('out.json').sort());
  } finally {
    live.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileVia writes through a symbolic link, and refuses a target that is not a regular file', async () => {
  const { writeFileVia, checkOutputPath } = await import('../../src/util/files.js');
  const { execFileSync } = await import('node:child_process');
  const { lstatSync, readFileSync, symlinkSync, mkdirSync } = await import('node:fs');
  const dir = tempDir('namm-target-');
  try {
    // A link (relative, through a second link) to a file: the file gets the new contents, the links stay links.
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'x.txt'), 'old');
    symlinkSync(join('real', 'x.txt'), join(dir, 'a.txt'));
    symlinkSync('a.txt', join(dir, 'b.txt'));
    writeFileVia(join(dir, 'b.txt'), (tmp) => writeFileSync(tmp, 'new'));
    assert.equal(readFileSync(join(dir, 'real', 'x.txt'), 'utf8'), 'new');
    assert.ok(lstatSync(join(dir, 'a.txt')).isSymbolicLink() && lstatSync(join(dir, 'b.txt')).isSymbolicLink());
    // A dangling link: the file it names is created.
    symlinkSync(join('real', 'y.txt'), join(dir, 'c.txt'));
    writeFileVia(join(dir, 'c.txt'), (tmp) => writeFileSync(tmp, 'made'));
    assert.equal(readFileSync(join(dir, 'real', 'y.txt'), 'utf8'), 'made');
    // A FIFO (as a device such as /dev/null with --force, as root) was renamed over and became a plain file.
    let fifo: string | null = join(dir, 'pipe');
    try { execFileSync('mkfifo', [fifo]); } catch { fifo = null; }
    if (fifo) {
      const refusal = /^Error: cannot write .*pipe: .*pipe is a FIFO \(named pipe\); namm writes its files whole beside the target and renames them into place, so it writes only to regular files$/;
      assert.throws(() => writeFileVia(fifo!, (tmp) => writeFileSync(tmp, 'x')), refusal);
      assert.throws(() => checkOutputPath(fifo!, { force: true, file: true }), refusal);
      assert.ok(lstatSync(fifo).isFIFO());
    }
    if (existsSync('/dev/null')) {
      assert.throws(() => checkOutputPath('/dev/null', { force: true, file: true }), /\/dev\/null is a character device/);
      assert.ok(statSync('/dev/null').isCharacterDevice());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readTextFile drops a leading byte-order mark (fed to a model as three byte tokens); task files read past it', async () => {
  const { readJsonl } = await import('../../src/tasks/longbench.js');
  const dir = tempDir('namm-bom-');
  try {
    const bom = '\uFEFF';
    writeFileSync(join(dir, 'p.txt'), `${bom}Once upon a time`);
    assert.equal(readTextFile(join(dir, 'p.txt')), 'Once upon a time');
    writeFileSync(join(dir, 'q.txt'), `Once ${bom}upon`);
    assert.equal(readTextFile(join(dir, 'q.txt')), `Once ${bom}upon`, 'only a leading mark is one');
    const record = { input: 'q', context: 'c', answers: ['a'], length: 1, dataset: 'toy', language: 'en', all_classes: null, _id: 'x' };
    writeFileSync(join(dir, 'r.jsonl'), `${bom}${JSON.stringify(record)}\n`);
    assert.deepEqual(readJsonl(join(dir, 'r.jsonl')), [record]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeTemporaryFolder: a folder of this process, and those a killed process left behind are removed first', async () => {
  const { mkdirSync, existsSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { spawnSync } = await import('node:child_process');
  const { makeTemporaryFolder } = await import('../../src/util/files.js');
  const dir = tempDir('namm-tmpf-');
  try {
    // A process that has exited: its folder is stale (a Ctrl-C ends a run without its exit hook).
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    mkdirSync(join(dir, `namm-traces-${deadPid}-abc123`));
    mkdirSync(join(dir, `namm-traces-${process.pid}-live01`)); // this process's: kept
    mkdirSync(join(dir, 'namm-tracesX-1-other'));             // another prefix: kept
    const made = makeTemporaryFolder('namm-traces-', dir);
    assert.ok(existsSync(made) && made.startsWith(join(dir, `namm-traces-${process.pid}-`)), made);
    assert.ok(!existsSync(join(dir, `namm-traces-${deadPid}-abc123`)), 'the stale folder went');
    assert.ok(existsSync(join(dir, `namm-traces-${process.pid}-live01`)));
    assert.ok(existsSync(join(dir, 'namm-tracesX-1-other')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeTemporaryFolder leaves other users\' left-over folders alone, and a cleanup that fails is no error (EACCES in a shared /tmp failed every run)', async () => {
  const { chownSync, mkdirSync, existsSync, rmSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const { makeTemporaryFolder } = await import('../../src/util/files.js');
  const dir = tempDir('namm-tmpf-');
  const deadPid = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  try {
    // Another user's (only root can make one here): kept.
    if (process.getuid?.() === 0) {
      const theirs = join(dir, `namm-traces-${deadPid}-theirs`);
      mkdirSync(theirs);
      chownSync(theirs, 65534, 65534);
      makeTemporaryFolder('namm-traces-', dir);
      assert.ok(existsSync(theirs), 'another user\'s folder stays');
      rmSync(theirs, { recursive: true });
    }
    // A removal that fails (what a non-root user meets on another user's folder).
    const stuck = join(dir, `namm-traces-${deadPid}-stuck`);
    mkdirSync(stuck);
    const rmSyncReal = fs.rmSync;
    mock.method(fs, 'rmSync', (path: string, opts?: object) => {
      if (path === stuck) throw Object.assign(new Error(`EACCES: permission denied, unlink '${stuck}/x'`), { code: 'EACCES' });
      return rmSyncReal(path, opts);
    });
    syncBuiltinESMExports();
    try {
      const made = makeTemporaryFolder('namm-traces-', dir);
      assert.ok(existsSync(made) && existsSync(stuck));
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileVia and writeFileAtomic keep the mode of the file they replace, and as root its owner (a 0600 file became 0644)', { skip: process.platform === 'win32' }, async () => {
  const { chmodSync, chownSync, rmSync, readFileSync } = await import('node:fs');
  const { writeFileVia } = await import('../../src/util/files.js');
  const { writeFileAtomic } = await import('../../src/evolve/checkpoint.js');
  const dir = tempDir('namm-mode-');
  try {
    const p = join(dir, 'policy.namm');
    writeFileSync(p, 'old');
    for (const mode of [0o600, 0o755, 0o640]) {
      chmodSync(p, mode);
      writeFileVia(p, (tmp) => writeFileSync(tmp, 'via'));
      assert.equal(statSync(p).mode & 0o7777, mode, `writeFileVia over a file of mode ${mode.toString(8)}`);
      await writeFileAtomic(p, 'atomic');
      assert.equal(statSync(p).mode & 0o7777, mode, `writeFileAtomic over a file of mode ${mode.toString(8)}`);
    }
    assert.equal(readFileSync(p, 'utf8'), 'atomic');
    if (process.getuid?.() === 0) {
      chownSync(p, 65534, 65534);
      writeFileVia(p, (tmp) => writeFileSync(tmp, 'via'));
      assert.deepEqual([statSync(p).uid, statSync(p).gid], [65534, 65534]);
    }
    // A new file takes the default mode, as before.
    writeFileVia(join(dir, 'new.txt'), (tmp) => writeFileSync(tmp, 'x'));
    writeFileSync(join(dir, 'plain.txt'), 'x');
    assert.equal(statSync(join(dir, 'new.txt')).mode, statSync(join(dir, 'plain.txt')).mode);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full disk or a read-only folder is named by the file being written; the writer\'s own errors stay as they were', { skip: process.platform !== 'linux' }, async () => {
  const { appendLineSync, checkWritable, writeFileVia } = await import('../../src/util/files.js');
  const { writeFileAtomic } = await import('../../src/evolve/checkpoint.js');
  const dir = tempDir('namm-full-');
  const target = join(dir, 'out.json');
  // /dev/full fails every write with ENOSPC, whose message names no file.
  assert.throws(() => writeFileVia(target, () => writeFileSync('/dev/full', 'x')), new RegExp(`^Error: cannot write ${target}: ENOSPC: no space left on device, write$`));
  assert.throws(() => appendLineSync('/dev/full', '{}'), /^Error: cannot write \/dev\/full: ENOSPC: no space left on device, write$/);
  await assert.rejects(writeFileAtomic('/sys/namm-test.bin', 'x'), /^Error: cannot write \/sys\/namm-test\.bin: EACCES: permission denied, open '\/sys\/namm-test\.bin'$/);
  assert.throws(() => writeFileVia(target, () => { throw new RangeError('bad data'); }), /^RangeError: bad data$/);
  // One that names the temporary file it was given names the target, and is no "cannot write" (a format's limit read
  // as a disk problem).
  assert.throws(() => writeFileVia(target, (tmp) => { throw new RangeError(`writer (${tmp}): cannot say this`); }), new RegExp(`^RangeError: writer \\(${target}\\): cannot say this$`));
  // Checked before a long job: a folder that takes no new file (sysfs refuses even root).
  assert.throws(() => checkWritable('/sys/namm-test.namm'), /^Error: cannot write \/sys\/namm-test\.namm: EACCES/);
  checkWritable(target);
  assert.deepEqual(readdirSync(dir), [], 'the probe leaves nothing');
});

test('a text file that is not UTF-8 reads with U+FFFD and the NAMM_NOT_UTF8 warning naming its first bad byte', async () => {
  const dir = tempDir('namm-utf8-');
  const warnings: Error[] = [];
  const listen = (w: Error) => warnings.push(w);
  process.on('warning', listen);
  try {
    writeFileSync(join(dir, 'latin1.txt'), Buffer.from('café au lait', 'latin1'));
    assert.equal(readTextFile(join(dir, 'latin1.txt'), 'prompt file'), 'caf\uFFFD au lait');
    writeFileSync(join(dir, 'ok.txt'), 'café ☃ 🙂');
    assert.equal(readTextFile(join(dir, 'ok.txt'), 'prompt file'), 'café ☃ 🙂');
    writeFileSync(join(dir, 'cut.txt'), Buffer.concat([Buffer.from('ab ☃'), Buffer.from([0xe2, 0x98, 0x41])]));
    assert.equal(readTextFile(join(dir, 'cut.txt'), 'prompt file'), 'ab ☃\uFFFDA');
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listen);
    rmSync(dir, { recursive: true, force: true });
  }
  const ours = warnings.filter((w) => (w as Error & { code?: string }).code === 'NAMM_NOT_UTF8').map((w) => w.message);
  assert.equal(ours.length, 2, ours.join('; '));
  assert.match(ours[0]!, /^prompt file .*latin1\.txt is not valid UTF-8 \(byte 3 is 0xe9\): its invalid bytes read as U\+FFFD; convert it to UTF-8 first/);
  assert.match(ours[1]!, /cut\.txt is not valid UTF-8 \(byte 6 is 0xe2\)/);
});

test('firstInvalidUtf8 agrees with the WHATWG decoder on where well-formed UTF-8 ends (random bytes near the edges)', () => {
  const fatal = (b: Uint8Array, stream: boolean) => {
    try { new TextDecoder('utf-8', { fatal: true }).decode(b, { stream }); return true; } catch { return false; }
  };
  // The oracle: the longest prefix that decodes with a character cut at its end allowed, then back to where that
  // character began.
  const oracle = (b: Uint8Array) => {
    if (fatal(b, false)) return -1;
    let p = 0;
    while (p < b.length && fatal(b.subarray(0, p + 1), true)) p++;
    while (p > 0 && !fatal(b.subarray(0, p), false)) p--;
    return p;
  };
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
  for (let t = 0; t < 3000; t++) {
    const b = Uint8Array.from({ length: 1 + Math.floor(next() * 8) }, () => interesting[Math.floor(next() * interesting.length)]!);
    assert.equal(firstInvalidUtf8(b), oracle(b), `bytes ${Buffer.from(b).toString('hex')}`);
  }
  assert.equal(firstInvalidUtf8(Buffer.from('café ☃ 🙂')), -1);
});
