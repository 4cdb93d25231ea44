/**
 * Crash-safe checkpoint files. `writeFileAtomic` writes to a temp file in the same directory, fsyncs it, renames
 * it over the target and fsyncs the directory, so after a crash at any moment the target holds either the old or
 * the new content, never a mix. Checkpoint files add a frame (magic, length, SHA-256) so that a file damaged some
 * other way (copied half, edited, disk error) is rejected with a clear message instead of resuming from garbage.
 *
 * Frame: "NAMMCKP1" | u32 LE format version (1) | u32 LE reserved (0) | f64 LE payload length | 32-byte SHA-256
 * of the payload | payload.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, promises as fs, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IO_PIECE, keepModeOf, MiB, readFileLimited, removeDeadWritersFiles, tempFileFor, updateHash, writeError, writeTarget } from '../util/files.js';
import { checkArg } from '../util/args.js';

const MAGIC = 'NAMMCKP1';
/** The first bytes of a run checkpoint (train's or evolve's checkpoint.bin, a best-state file, a token cache). */
export const RUN_CHECKPOINT_MAGIC = MAGIC;

/**
 * What to say where a run checkpoint is given in place of a model or a .namm policy (its first bytes, "NAMM", are
 * also a .namm file's magic).
 */
export const RUN_CHECKPOINT_HINT = 'a namm train or evolve run checkpoint, which only --resume reads: a training run\'s model is its --out folder (config.json, model.safetensors), an evolution\'s policy the evolved.namm (or stage-*.namm) in its folder';
const VERSION = 1;
const HEADER_BYTES = 8 + 4 + 4 + 8 + 32;

/** The largest checkpoint file read back (one buffer): what a run writes must stay below it, or it could not resume. */
export const MAX_CHECKPOINT_BYTES = 3 * 1024 * MiB;

/** Marks temp files of `writeFileAtomic`, so stale ones from a killed writer can be recognised and removed. */
export const TEMP_MARKER = '.tmp-';

/**
 * Atomically replaces `path` with `data` (temp file + fsync + rename + directory fsync). `data` may be a list of
 * chunks, written back to back, so large states need not be concatenated in memory first.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string | Uint8Array[]): Promise<void> {
  checkArg('writeFileAtomic', 'path', path, 'path');
  // Checked before the temporary file exists: a string chunk was written at file position 0 (over earlier chunks),
  // and a wider typed array wrote .length bytes of its .byteLength.
  if (typeof data !== 'string') for (const chunk of Array.isArray(data) ? data : [data]) checkByteChunk(chunk, 'writeFileAtomic');
  // A folder or a device there is refused, and a symbolic link written through, as every other file namm writes.
  const target = writeTarget(path);
  const dir = dirname(target);
  // What a killed writer of this target left is removed first (a training run's checkpoint.bin is its size).
  removeDeadWritersFiles(target);
  const tmp = tempFileFor(target);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(tmp, 'w', 0o644);
  } catch (err) {
    throw writeError(path, err, tmp);
  }
  try {
    if (Array.isArray(data)) {
      for (const chunk of data) {
        // In writes of at most IO_PIECE: a training run's checkpoint is one chunk, 2 to 3 GiB from ~179M parameters.
        for (let off = 0; off < chunk.length;) off += (await handle.write(chunk, off, Math.min(chunk.length - off, IO_PIECE))).bytesWritten;
      }
    } else {
      await handle.writeFile(data);
    }
    keepModeOf(target, handle.fd);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw writeError(path, err, tmp);
  }
  try {
    await handle.close();
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw writeError(path, err, tmp);
  }
  await syncDirectory(dir);
}

/** Refuses anything but bytes (a Uint8Array or Buffer): other views would be written or hashed by element count. */
function checkByteChunk(chunk: unknown, where: string): void {
  if (!(chunk instanceof Uint8Array)) {
    const kind = chunk === null ? 'null' : ArrayBuffer.isView(chunk) ? chunk.constructor.name : typeof chunk;
    throw new TypeError(`${where}: data must be a Uint8Array (or a list of them), got ${kind}; pass a typed array's bytes as new Uint8Array(a.buffer, a.byteOffset, a.byteLength)`);
  }
}

/** fsync a directory so a rename in it is durable; platforms that cannot (Windows) are skipped silently. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close();
  }
}

/** Removes temp files that a killed `writeFileAtomic` left next to `path`; returns how many it removed. */
export async function removeStaleTempFiles(path: string): Promise<number> {
  const dir = dirname(path), prefix = `.${basename(path)}${TEMP_MARKER}`;
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(prefix)) { await fs.rm(join(dir, name), { force: true }); removed++; }
  }
  return removed;
}

/** Frames `payload` (one buffer, or chunks that together form it) and writes it atomically. */
export async function writeCheckpointFile(path: string, payload: Uint8Array | Uint8Array[]): Promise<void> {
  checkArg('writeCheckpointFile', 'path', path, 'path');
  const chunks = Array.isArray(payload) ? payload : [payload];
  for (const c of chunks) checkByteChunk(c, 'writeCheckpointFile');
  // Nothing is written that readCheckpointFile would refuse: a run would find out only when it resumed.
  const bytes = HEADER_BYTES + chunks.reduce((sum, c) => sum + c.length, 0);
  if (bytes > MAX_CHECKPOINT_BYTES) throw new RangeError(`writeCheckpointFile: ${path} would hold ${bytes} bytes, more than a checkpoint can (${MAX_CHECKPOINT_BYTES / MiB} MiB) to be read back`);
  await writeFileAtomic(path, [checkpointHeader(chunks), ...chunks]);
}

/** The framed file as one buffer (what `writeCheckpointFile` writes). */
export function frameCheckpoint(payload: Uint8Array): Uint8Array {
  return Buffer.concat([checkpointHeader([payload]), payload]);
}

function checkpointHeader(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, 0, true);
  view.setFloat64(16, chunks.reduce((s, c) => s + c.length, 0), true);
  const hash = createHash('sha256');
  for (const c of chunks) updateHash(hash, c);
  out.set(hash.digest(), 24);
  return out;
}

/** Reads a framed checkpoint and returns its payload, or throws a clear Error if it is missing or damaged. */
export async function readCheckpointFile(path: string): Promise<Uint8Array> {
  checkArg('readCheckpointFile', 'path', path, 'path');
  let bytes: Buffer;
  try {
    bytes = readFileLimited(path, MAX_CHECKPOINT_BYTES, 'checkpoint', true);
  } catch (err) {
    throw new Error(`checkpoint ${path}: cannot read (${(err as Error).message})`);
  }
  return unframeCheckpoint(bytes, path);
}

export function unframeCheckpoint(bytes: Uint8Array, name = 'checkpoint'): Uint8Array {
  if (bytes.length < HEADER_BYTES) throw new Error(`checkpoint ${name}: truncated (${bytes.length} bytes, header needs ${HEADER_BYTES})`);
  if (Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) throw new Error(`checkpoint ${name}: not a namm checkpoint (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) throw new Error(`checkpoint ${name}: format version ${version}, this namm reads ${VERSION}`);
  const length = view.getFloat64(16, true);
  const have = bytes.length - HEADER_BYTES;
  if (!Number.isInteger(length) || length < 0) throw new Error(`checkpoint ${name}: corrupt header (payload length ${length})`);
  if (have < length) throw new Error(`checkpoint ${name}: truncated (payload ${have} of ${length} bytes)`);
  if (have > length) throw new Error(`checkpoint ${name}: ${have - length} unexpected trailing bytes`);
  const payload = bytes.subarray(HEADER_BYTES);
  const digest = updateHash(createHash('sha256'), payload).digest();
  if (!digest.equals(Buffer.from(bytes.subarray(24, 56)))) throw new Error(`checkpoint ${name}: corrupt (SHA-256 mismatch)`);
  return payload;
}

/** The format an evolution run's checkpoint names (a training run's: TRAIN_CHECKPOINT_FORMAT, src/train/checkpoint.ts). */
export const EVOLUTION_CHECKPOINT_FORMAT = 'namm-evolution' as const;

/**
 * The `format` a framed checkpoint's payload names in its first bytes ("namm-train/1", "namm-evolution"), or null
 * when the file is not one or names none: enough to tell a training run's folder from an evolution run's, whose
 * checkpoints share the name `checkpoint.bin`, without reading a file of gigabytes.
 */
export function checkpointFormatOf(path: string): string | null {
  let head: Buffer;
  try {
    // Not a regular file (a FIFO there would block the open): none.
    if (!statSync(path).isFile()) return null;
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(4096);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  if (head.length < HEADER_BYTES || head.subarray(0, 8).toString('latin1') !== MAGIC) return null;
  return /"format":"([^"\\]{1,64})"/.exec(head.subarray(HEADER_BYTES).toString('latin1'))?.[1] ?? null;
}
