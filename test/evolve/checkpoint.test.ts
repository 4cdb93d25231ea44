import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { frameCheckpoint, readCheckpointFile, removeStaleTempFiles, unframeCheckpoint, writeCheckpointFile, writeFileAtomic } from '../../src/evolve/checkpoint.js';
import { IO_PIECE } from '../../src/util/files.js';
import { mockBigIo, NODE_IO_LIMIT } from '../helpers/big-io.js';

test('writeFileAtomic replaces the file and leaves no temp file behind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  try {
    const path = join(dir, 'a.bin');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    assert.deepEqual([...(await readFile(path))], [1, 2, 3]);
    assert.deepEqual(await readdir(dir), ['a.bin']);
    // Chunks that are not bytes are refused and the file keeps its content (a string chunk was written at offset 0,
    // over the chunks before it; a Float32Array wrote a quarter of its bytes, and its checkpoint failed its checksum).
    await assert.rejects(writeFileAtomic(path, [Uint8Array.from([9]), 'bb' as never]), /writeFileAtomic: data must be a Uint8Array .* got string/);
    await assert.rejects(writeFileAtomic(path, [new Uint16Array([1, 2]) as never]), /got Uint16Array/);
    await assert.rejects(writeCheckpointFile(path, new Float32Array([1, 2, 3]) as never), /writeCheckpointFile: data must be a Uint8Array .* got Float32Array/);
    assert.deepEqual([...(await readFile(path))], [1, 2, 3]);
    assert.deepEqual(await readdir(dir), ['a.bin']);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('writeFileAtomic writes through a symbolic link and refuses a folder by name, as writeFileVia does', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  try {
    await mkdir(join(dir, 'store'));
    await writeFile(join(dir, 'store', 'real.bin'), 'old\n');
    await symlink(join('store', 'real.bin'), join(dir, 'link.bin'));
    // The rename replaced the link with a file, and the file it named stayed "old".
    await writeCheckpointFile(join(dir, 'link.bin'), Uint8Array.from([1, 2]));
    assert.ok((await lstat(join(dir, 'link.bin'))).isSymbolicLink(), 'still a link');
    assert.deepEqual([...(await readCheckpointFile(join(dir, 'link.bin')))], [1, 2]);
    assert.deepEqual(await readdir(join(dir, 'store')), ['real.bin']);
    await mkdir(join(dir, 'x'));
    // The rename's EISDIR named the temporary file.
    await assert.rejects(writeFileAtomic(join(dir, 'x'), 'data'), (err: Error) => /^cannot write .*\/x: .*x is a folder, not a file$/.test(err.message) && !err.message.includes('.tmp-'));
    assert.deepEqual((await readdir(dir)).sort(), ['link.bin', 'store', 'x']);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('checkpoint frame round-trips, and damaged files give clear errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  try {
    const path = join(dir, 'c.bin');
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
    await writeCheckpointFile(path, payload);
    assert.deepEqual(Buffer.from(await readCheckpointFile(path)), Buffer.from(payload));

    const framed = frameCheckpoint(payload);
    await writeFile(path, framed.subarray(0, framed.length - 10));
    await assert.rejects(readCheckpointFile(path), /truncated \(payload 990 of 1000 bytes\)/);
    await writeFile(path, framed.subarray(0, 20));
    await assert.rejects(readCheckpointFile(path), /truncated/);
    const flipped = framed.slice(); flipped[framed.length - 1] ^= 1;
    await writeFile(path, flipped);
    await assert.rejects(readCheckpointFile(path), /corrupt \(SHA-256 mismatch\)/);
    await writeFile(path, Buffer.from('hello world, this is not a checkpoint at all. '.repeat(3)));
    await assert.rejects(readCheckpointFile(path), /bad magic/);
    await assert.rejects(readCheckpointFile(join(dir, 'missing.bin')), /cannot read/);
    // A payload past what readCheckpointFile takes is not written (chunks of zero pages the OS never backs).
    const big = [new Uint8Array(2 ** 31), new Uint8Array(2 ** 30)];
    await assert.rejects(writeCheckpointFile(join(dir, 'big.bin'), big), /^RangeError: writeCheckpointFile: .*big\.bin would hold 3221225528 bytes, more than a checkpoint can \(3072 MiB\) to be read back$/);
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('big')), []);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('a checkpoint of one chunk past 2 GiB is written and checked in pieces (a ~180M-parameter training run failed at its first save)', async () => {
  // Node takes at most 2^31 − 1 bytes a write or hash update; a training checkpoint is one chunk of 12 bytes a
  // parameter. The mocks keep that limit but skip the work, so the untouched 2 GiB costs no memory or disk.
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  const payload = new Uint8Array(2 ** 31 + 8);
  const framed = new Uint8Array(56 + payload.length);
  const io = await mockBigIo();
  try {
    await writeCheckpointFile(join(dir, 'c.bin'), payload);
    assert.ok(Math.max(...io.lengths) <= NODE_IO_LIMIT, `calls of ${Math.max(...io.lengths)} bytes`);
    framed.set(Buffer.from('NAMMCKP1', 'latin1'), 0);
    const view = new DataView(framed.buffer);
    view.setUint32(8, 1, true);
    view.setFloat64(16, payload.length, true);
    const hash = createHash('sha256');
    for (let off = 0; off < payload.length; off += IO_PIECE) hash.update(framed.subarray(56 + off, 56 + Math.min(off + IO_PIECE, payload.length)));
    framed.set(hash.digest(), 24);
    io.lengths.length = 0;
    assert.equal(unframeCheckpoint(framed).length, payload.length);
    assert.ok(Math.max(...io.lengths) <= NODE_IO_LIMIT, `calls of ${Math.max(...io.lengths)} bytes`);
  } finally {
    io.restore();
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic removes what a killed writer of the same target left, and names its own file as writeFileVia does', async () => {
  // Training checkpoints are written with writeFileAtomic; its leftovers (named without the host tag that
  // writeFileVia's cleanup looks for) stayed through every later write.
  const { spawnSync } = await import('node:child_process');
  const { utimesSync } = await import('node:fs');
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const target = join(dir, 'checkpoint.bin');
    const past = new Date(Date.now() - process.uptime() * 1000 - 60_000);
    const untagged = join(dir, `.checkpoint.bin.tmp-${dead}-deadbeef`);
    await writeFile(untagged, 'half');
    utimesSync(untagged, past, past);
    await writeFileAtomic(target, 'one');
    assert.deepEqual(await readdir(dir), ['checkpoint.bin']);
    // A file in the scheme writeFileAtomic now uses (host tag included), of a writer that no longer runs.
    const { tempFileFor } = await import('../../src/util/files.js');
    const tagged = tempFileFor(target).replace(`.tmp-${process.pid}-`, `.tmp-${dead}-`);
    await writeFile(tagged, 'half');
    await writeFileAtomic(target, 'two');
    assert.deepEqual(await readdir(dir), ['checkpoint.bin']);
    assert.equal(await readFile(target, 'utf8'), 'two');
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('removeStaleTempFiles removes only the temp files of that target', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-'));
  try {
    await writeFile(join(dir, '.c.bin.tmp-123-abcd'), 'x');
    await writeFile(join(dir, '.other.bin.tmp-1-ff'), 'x');
    await writeFile(join(dir, 'c.bin'), 'keep');
    assert.equal(await removeStaleTempFiles(join(dir, 'c.bin')), 1);
    assert.deepEqual((await readdir(dir)).sort(), ['.other.bin.tmp-1-ff', 'c.bin']);
  } finally { await rm(dir, { recursive: true, force: true }); }
});

test('a FIFO where a checkpoint or a run log goes is refused at once (opening it blocked the process for good)', async () => {
  const { execFileSync, spawn, spawnSync } = await import('node:child_process');
  const { readFileLimited } = await import('../../src/util/files.js');
  const dir = await mkdtemp(join(tmpdir(), 'namm-ckpt-fifo-'));
  try {
    const fifo = join(dir, 'checkpoint.bin');
    execFileSync('mkfifo', [fifo]);
    // In a child with a time limit: a regression blocks in open(), where no timer of this process could end it.
    const script = `import { readCheckpointFile } from ${JSON.stringify(new URL('../../src/evolve/checkpoint.ts', import.meta.url).href)};
      try { await readCheckpointFile(${JSON.stringify(fifo)}); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.stdout.trim(), `checkpoint ${fifo}: cannot read (${fifo} is not a regular file (a FIFO, a device or a socket), so not a checkpoint)`, r.stderr);
    // Inputs may still be pipes: a FIFO with a writer reads as a file does.
    const writer = spawn('sh', ['-c', `printf hi > ${fifo}`]);
    assert.equal(readFileLimited(fifo, 1024, 'prompt').toString(), 'hi');
    await new Promise((r) => writer.on('exit', r));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('evolve and train refuse a FIFO among their run files (curriculum.json, tokenizer.json, …) before reading any', async () => {
  const { execFileSync, spawnSync } = await import('node:child_process');
  const dir = await mkdtemp(join(tmpdir(), 'namm-run-fifo-'));
  try {
    const evolveOut = join(dir, 'evolve'), trainOut = join(dir, 'train');
    await mkdir(evolveOut);
    await mkdir(trainOut);
    execFileSync('mkfifo', [join(evolveOut, 'curriculum.json')]);
    execFileSync('mkfifo', [join(trainOut, 'tokenizer.json')]);
    const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    // In a child with a time limit: a regression blocks in open(), where no timer of this process could end it.
    const script = `import { evolveNamm } from ${url('../../src/evolve/namm-evolution.ts')};
      import { runTraining } from ${url('../../src/train/trainer.ts')};
      import { parseTrainConfig } from ${url('../../src/train/config.ts')};
      const config = parseTrainConfig({ name: 't', model: { arch: 'llama', hiddenSize: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, intermediateSize: 16, maxPositions: 64 }, tokenizer: { vocabSize: 300 }, training: { steps: 1, tokensPerStep: 64 } }, 't');
      import { MODEL, tinyCurriculum } from ${url('./namm-helpers.ts')};
      for (const run of [() => evolveNamm({ curriculum: tinyCurriculum(), model: MODEL, out: ${JSON.stringify(evolveOut)}, resume: true, progress: false }),
                         () => runTraining({ config, outDir: ${JSON.stringify(trainOut)}, resume: true })]) {
        try { await run(); console.log('ran'); } catch (e) { console.log(e.message); }
      }`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `${join(evolveOut, 'curriculum.json')} is not a regular file (a FIFO, a device or a socket); a run's own files must be`,
      `${join(trainOut, 'tokenizer.json')} is not a regular file (a FIFO, a device or a socket); a run's own files must be`,
    ], r.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
