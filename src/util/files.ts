/**
 * Output files that never lose data: a file is written whole to a temporary file beside it and renamed over the
 * target only once complete (so an error or a kill mid-way leaves the old file, or none, never a cut-off one), and
 * commands refuse to overwrite what exists unless asked to, with messages that name the real paths.
 */
import { appendFileSync, closeSync, existsSync, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, readSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Why `path` cannot be written to as a file, or null: a folder there, something that is not a regular file (a device,
 * a FIFO, a socket: the rename that puts a file in place would replace it, and as root `--out /dev/null --force`
 * replaced /dev/null with a plain file), or no folder to hold it. A symbolic link is followed (writeFileVia writes
 * the file it points to).
 */
function fileTargetProblem(path: string): string | null {
  if (path.trim() === '') return 'an empty path';
  const st = statSafe(path);
  if (st?.isDirectory()) return `${path} is a folder, not a file`;
  if (st && !st.isFile()) {
    const kind = st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket' : 'not a regular file';
    return `${path} is ${kind}; namm writes its files whole beside the target and renames them into place, so it writes only to regular files`;
  }
  const dir = dirname(linkTarget(path));
  if (!existsSync(dir)) return `the folder ${dir} does not exist`;
  if (!statSync(dir).isDirectory()) return `${dir} is not a folder`;
  return null;
}

/**
 * The file a whole-file write of `path` replaces, once `path` can be written as one (fileTargetProblem): through a
 * symbolic link, the file it names (the rename replaced the link with a file and left that file as it was).
 */
export function writeTarget(path: string): string {
  const problem = fileTargetProblem(path);
  if (problem) throw new Error(`cannot write ${path}: ${problem}`);
  return linkTarget(path);
}

/** This machine in temporary file names (a hash of its host name), so that a cleanup only judges its own pids. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
/** When this process started (ms since the epoch): its own files cannot be older. */
const PROCESS_START_MS = Date.now() - process.uptime() * 1000;

/**
 * Removes the temporary files beside `path` that writers on this machine left when they were killed (Ctrl-C, a
 * crash) and that will never be renamed: those named with a pid that no longer runs, and those named with this
 * process's own pid but last written before it started (an earlier process that had the same pid, as a container's
 * often does; a newer one may be a worker thread's write in progress). Files of other hosts and of live processes
 * are left alone. Names without a host tag (`.NAME.tmp-PID-HEX`, what the checkpoint writer used before it took
 * this scheme) cannot tell a pid of this machine from one of another sharing the folder, so one is removed only
 * when its pid is not running here and it was last written before this process started.
 */
export function removeDeadWritersFiles(path: string): void {
  const dir = dirname(resolve(path)), prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length), file = join(dir, name);
    const m = /^(\d+)-([0-9a-f]{8})-[0-9a-f]{8}$/.exec(rest);
    if (m) {
      if (m[2] !== HOST_TAG) continue;
      const pid = Number(m[1]);
      const stale = pid === process.pid ? Number(statSafe(file)?.mtimeMs ?? Infinity) < PROCESS_START_MS : !processRuns(pid);
      if (stale) rmSync(file, { force: true });
      continue;
    }
    const old = /^(\d+)-[0-9a-f]{8}$/.exec(rest);
    if (old && Number(old[1]) !== process.pid && !processRuns(Number(old[1])) && Number(statSafe(file)?.mtimeMs ?? Infinity) < PROCESS_START_MS) {
      rmSync(file, { force: true });
    }
  }
}

/**
 * A fresh temporary file name beside `path` (`.NAME.tmp-PID-HOST-HEX`), the one name scheme of every writer, so
 * that removeDeadWritersFiles recognises what any of them left.
 */
export function tempFileFor(path: string): string {
  return join(dirname(resolve(path)), `.${basename(path)}.tmp-${process.pid}-${HOST_TAG}-${randomBytes(4).toString('hex')}`);
}

/** Whether a process with this pid runs on this machine (as any user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * A new folder in the system's temporary folder, `PREFIX<pid>-XXXXXX`, removed when the process exits (an error
 * included). A signal ends the process without that (a Ctrl-C left one behind per run): such folders of this user,
 * whose process no longer runs, are removed here first. `dir` is for tests (default: the system's temporary folder).
 */
export function makeTemporaryFolder(prefix: string, dir = tmpdir()): string {
  const own = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)-`);
  let entries: string[] = [];
  try { entries = readdirSync(dir); } catch { /* nothing to clean */ }
  // Only this user's folders, and a cleanup that fails is no error: in a shared /tmp, another user's left-over
  // folder made every such run fail with EACCES.
  const uid = process.getuid?.();
  for (const name of entries) {
    const m = own.exec(name);
    if (!m || Number(m[1]) === process.pid || processRuns(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      if (uid !== undefined && lstatSync(path).uid !== uid) continue;
      rmSync(path, { recursive: true, force: true });
    } catch { /* left for its owner */ }
  }
  const folder = mkdtempSync(join(dir, `${prefix}${process.pid}-`));
  process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

/**
 * Writes `path` through `write(tmp)`, which must create the whole file at `tmp`; the temporary file is fsynced and
 * renamed over `path`. On any error the temporary file is removed (`path` keeps what it held), and a file-system
 * error names `path`, not the temporary. Temporary files of `path` left by killed writers are removed first.
 */
export function writeFileVia(path: string, write: (tmp: string) => void): void {
  const target = writeTarget(path);
  removeDeadWritersFiles(target);
  const tmp = tempFileFor(target);
  try {
    write(tmp);
    const fd = openSync(tmp, 'r+');
    try {
      keepModeOf(target, fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err, tmp);
  }
}

/**
 * Gives the file open as `fd`, about to be renamed over `target`, the mode of the file there (and, as root, its owner
 * and group): a 0600 file became 0644, a new file's default, after a `--force` or a `calibrate` in place.
 */
export function keepModeOf(target: string, fd: number): void {
  const st = statSafe(target);
  if (!st?.isFile()) return;
  // The owner first: a change of owner clears the set-id bits that the mode then sets again.
  if (process.getuid?.() === 0) {
    try { fchownSync(fd, Number(st.uid), Number(st.gid)); } catch { /* a file system without owners */ }
  }
  try { fchmodSync(fd, Number(st.mode) & 0o7777); } catch { /* a file system without modes */ }
}

/**
 * Refuses, naming `path`, a file target whose folder takes no new file (a read-only file system, no permission):
 * checked before a long job whose result goes there, rather than when the job's work is done.
 */
export function checkWritable(path: string): void {
  const target = writeTarget(path);
  const tmp = tempFileFor(target);
  try {
    closeSync(openSync(tmp, 'wx'));
  } catch (err) {
    throw writeError(path, err, tmp);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Errors of a write whose message names no file: a full disk or quota, a file too large, an I/O error. */
const WRITE_FAILURES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);

/**
 * An error met writing `path`, named by it where it is the file system's: one about the temporary file `tmp` (its
 * name replaced by `path`), one a write gives whatever the file (ENOSPC, …), or, without `tmp` (an append to `path`
 * itself), any with a system call. The writer's own errors (bad data, an input it could not read) as they were.
 */
export function writeError(path: string, err: unknown, tmp?: string): unknown {
  const message = String((err as Error)?.message ?? err);
  const e = err as NodeJS.ErrnoException;
  // A writer's own refusal that names the file it was given (the temporary one: "GGUF writer (….tmp): the
  // tokenizer …") is no failure to write: it names the target instead, without "cannot write", which read as a disk
  // or permission problem.
  if (tmp !== undefined && err instanceof Error && e.code === undefined && e.syscall === undefined && message.includes(tmp)) {
    err.message = message.split(tmp).join(path);
    return err;
  }
  const system = tmp === undefined ? typeof e?.syscall === 'string' : message.includes(tmp) || WRITE_FAILURES.has(String(e?.code));
  if (!system || message.startsWith(`cannot write ${path}`)) return err;
  return new Error(`cannot write ${path}: ${tmp === undefined ? message : message.split(tmp).join(path)}`, { cause: err });
}

/**
 * Appends `text` and a newline to `file` (a log line); a write that fails (a full disk) is undone, so that no cut
 * line is left, and its error names the file.
 */
export function appendLineSync(file: string, text: string): void {
  const size = Number(statSafe(file)?.size ?? 0);
  try {
    appendFileSync(file, text + '\n');
  } catch (err) {
    try { truncateSync(file, size); } catch { /* the error below says what failed */ }
    throw writeError(file, err);
  }
}

/** An input of a command that the user did not name (a model file's folder), with why it is read. */
export interface ImpliedInput {
  path: string;
  /** Said after the path in a refusal, e.g. "the folder of --from x.safetensors, whose config.json is read". */
  why: string;
}

/**
 * Refuses an output path that exists (unless `force`) or that is, or lies inside, one of `inputs` (always: a
 * command must not overwrite what it is reading). `flag` names the option that allows overwriting. With `file`, also
 * one that cannot be written as a file (a folder there, no folder to hold it), which writeFileVia would refuse only
 * once the command's work is done.
 */
export function checkOutputPath(path: string, opts: { force?: boolean; inputs?: (string | ImpliedInput)[]; flag?: string; file?: boolean } = {}): void {
  // `-` reads as standard output to a Unix user; a file named "-" was written in its place without a word.
  if (path === '-') throw new Error('cannot write to -: outputs are files, written whole and atomically, not standard output (write ./- for a file named "-")');
  if (opts.file) {
    const problem = fileTargetProblem(path);
    if (problem) throw new Error(`cannot write ${path}: ${problem}`);
  }
  const target = canonical(path);
  for (const given of opts.inputs ?? []) {
    const input = typeof given === 'string' ? given : given.path, why = typeof given === 'string' ? '' : ` (${given.why})`;
    const src = canonical(input);
    const rel = relative(src, target);
    const inside = rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel) && statSafe(src)?.isDirectory();
    if (rel === '') throw new Error(`${path} would overwrite the input ${input}${why}; write somewhere else`);
    if (inside) throw new Error(`${path} lies inside the input folder ${input}${why}; write somewhere else`);
  }
  if (existsSync(path) && !opts.force) throw new Error(`${path} exists; pass ${opts.flag ?? '--force'} to overwrite it`);
}

/** Whether two paths name the same file: the same inode where both exist (links too), else the same resolved path. */
export function samePath(a: string, b: string): boolean {
  const sa = statSafe(a), sb = statSafe(b);
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return canonical(a) === canonical(b);
}

/** The absolute path a chain of symbolic links at `path` ends at (itself when it is none; a dangling link's target). */
export function linkTarget(path: string): string {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let st;
    try { st = lstatSync(p); } catch { return p; }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new Error(`cannot write ${path}: too many levels of symbolic links`);
}

function statSafe(path: string): ReturnType<typeof statSync> | null {
  try { return statSync(path); } catch { return null; }
}

/**
 * Refuses, in a run's folder, any of `names` that is there but is neither a file nor a folder (a FIFO, a device, a
 * socket): a run reads its own files on resume, and opening a FIFO with no writer blocked the process for good.
 */
export function refuseNonRegularRunFiles(dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, name), st = statSafe(path);
    if (st && !st.isFile() && !st.isDirectory()) throw new Error(`${path} is not a regular file (a FIFO, a device or a socket); a run's own files must be`);
  }
}

/** The absolute path with symbolic links resolved as far as the path exists. */
function canonical(path: string): string {
  const abs = resolve(path);
  let head = abs, tail = '';
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) return abs;
    tail = tail ? join(basename(head), tail) : basename(head);
    head = up;
  }
  const real = realpathSync(head);
  return tail ? join(real, tail) : real;
}

/**
 * A text file's contents (a prompt, a task file: up to 1 GiB, see readFileLimited), with errors that name it (`what`:
 * "prompt file") where Node's would not (a folder).
 */
export function readTextFile(path: string, what = 'file'): string {
  // An empty path (`--text ""`, an unset shell variable) read as "text file  does not exist".
  if (path === '') throw new Error(`${what}: the path is empty`);
  const st = statSafe(path);
  if (!st) throw new Error(`${what} ${path} does not exist`);
  if (st.isDirectory()) throw new Error(`${what} ${path} is a folder, not a file`);
  return stripBom(decodeUtf8(readFileLimited(path, 1024 * MiB, what), `${what} ${path}`));
}

/**
 * The offset of the first byte that does not begin a well-formed UTF-8 sequence (a lead byte whose sequence is cut
 * short or ill-formed, or a stray continuation byte), or −1: one pass, as Unicode's table of well-formed sequences
 * (no overlong forms, surrogates or code points past U+10FFFF).
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  for (let i = 0; i < n;) {
    const c = b[i]!;
    if (c < 0x80) { i++; continue; }
    // The sequence's length and the range its second byte must fall in; later bytes are 0x80..0xBF.
    let len: number, lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
    else return i;
    if (i + len > n) return i;
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += len;
  }
  return -1;
}

/**
 * The bytes as UTF-8 text. Bytes that are not UTF-8 (a Latin-1 or UTF-16 file) read as U+FFFD, as Node reads them,
 * but with the NAMM_NOT_UTF8 warning naming the first one: the text a model was given had silently lost them.
 */
export function decodeUtf8(bytes: Buffer, what: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  const at = firstInvalidUtf8(bytes);
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  process.emitWarning(`${what} is not valid UTF-8 (byte ${at} is 0x${bytes[at]!.toString(16).padStart(2, '0')}${utf16 ? '; it begins with a UTF-16 byte-order mark' : ''}): its invalid bytes read as U+FFFD; convert it to UTF-8 first (e.g. iconv -f latin1 -t utf-8)`, { code: 'NAMM_NOT_UTF8' });
  return bytes.toString('utf8');
}

/** readTextFile, or standard input for `-` (`cat doc.txt | namm generate --prompt-file - …`); `./-` is a file. */
export function readTextInput(path: string, what = 'file'): string {
  if (path !== '-') return readTextFile(path, what);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 20);
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A non-blocking pipe with nothing yet: wait a little rather than spin.
      if (code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); continue; }
      if (code === 'EOF') break;
      throw new Error(`${what} -: cannot read standard input (${(err as Error).message})`);
    }
    if (n === 0) break;
    total += n;
    if (total > 1024 * MiB) throw new Error(`${what} -: standard input holds more than 1 GiB`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return stripBom(decodeUtf8(Buffer.concat(chunks), `${what} -`));
}

/**
 * The text without a leading byte-order mark (U+FEFF), which editors on Windows often write: it was fed to a model
 * as three byte tokens, and a JSON-lines file failed on its first line with an invisible character in the error.
 */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Creates the folder `path` and any missing folders above it, one level at a time (Node 20's recursive mkdir never
 * returns on some file systems, /proc among them, where every level gives ENOENT). Errors name `path` and `what`
 * (e.g. "output folder"); a file where a folder should be is refused.
 */
export function makeFolders(path: string, what = 'folder'): void {
  if (path.trim() === '') throw new Error(`cannot create the ${what}: an empty path`);
  // As for output files (checkOutputPath): `-` reads as standard output, and a folder named "-" was made instead.
  if (path === '-') throw new Error(`cannot use - as the ${what}: outputs are files in a folder, not standard output (write ./- for a folder named "-")`);
  const abs = resolve(path);
  const missing: string[] = [];
  let head = abs;
  for (;;) {
    const st = statSafe(head);
    if (st) {
      if (!st.isDirectory()) throw new Error(`cannot create the ${what} ${path}: ${head} is a file, not a folder`);
      break;
    }
    missing.push(head);
    const up = dirname(head);
    if (up === head) break;
    head = up;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSafe(dir)?.isDirectory()) continue; // made meanwhile
      throw new Error(`cannot create the ${what} ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Size limits of the files namm reads whole (far above any real one, far below what would exhaust memory). */
export const MiB = 2 ** 20;

/**
 * The most one read, write or hash update takes: Node refuses a length past 2³¹ − 1 (`readSync` and `writeSync`:
 * "The value of "length" is out of range"; a hash: "data is too long"), and a checkpoint or a tensor can be larger.
 */
export const IO_PIECE = 1 << 30;

/** Writes all of `bytes` at the file's current position, in writes of at most IO_PIECE bytes. */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, IO_PIECE));
}

/** Feeds all of `bytes` to `hash`, in updates of at most IO_PIECE bytes; returns `hash`. */
export function updateHash(hash: Hash, bytes: Uint8Array): Hash {
  for (let off = 0; off < bytes.length; off += IO_PIECE) hash.update(bytes.subarray(off, off + IO_PIECE));
  return hash;
}

/**
 * A file's bytes, read whole but never past `maxBytes`: a device or pipe that never ends (/dev/zero named as a
 * trace, say) or a wrong file of many gigabytes is an error, not a process that fills memory. Pipes and process
 * substitutions (`<(…)`) still work, unless `regular` (a run's own files: checkpoints, logs) refuses anything but a
 * regular file: opening a FIFO with no writer there blocked the process for good. Errors say what the file was
 * meant to be (`what`). `piece`, the most one read asks for, is for tests.
 */
export function readFileLimited(path: string, maxBytes: number, what: string, regular = false, piece = IO_PIECE): Buffer {
  const st = statSafe(path);
  if (st?.isDirectory()) throw new Error(`${path} is a folder, not a ${what}`);
  if (regular && st && !st.isFile()) throw new Error(`${path} is not a regular file (a FIFO, a device or a socket), so not a ${what}`);
  if (st?.isFile() && st.size > maxBytes) throw new Error(`${path} holds ${st.size} bytes, more than a ${what} can (${Math.round(maxBytes / MiB)} MiB)`);
  const fd = openSync(path, 'r');
  try {
    if (fstatSync(fd).isDirectory()) throw new Error(`${path} is a folder, not a ${what}`);
    const parts: Buffer[] = [];
    let total = 0;
    // A regular file into one buffer of its size (+1, to see that it ends), a pipe or device in doubling chunks.
    // Each buffer is filled by reads of at most `piece` bytes: Node refuses one read past 2³¹ − 1 bytes, and
    // checkpoints of 2 to 3 GiB could not be read back to resume.
    let chunk = st?.isFile() ? Number(st.size) + 1 : 64 * 1024;
    for (let ended = false; !ended;) {
      const buf = Buffer.allocUnsafe(Math.min(chunk, maxBytes + 1 - total));
      chunk = Math.min(2 * chunk, 16 * MiB);
      let n = 0;
      while (n < buf.length) {
        const got = readSync(fd, buf, n, Math.min(buf.length - n, piece), null);
        if (got === 0) { ended = true; break; }
        n += got;
      }
      if (n === 0) break;
      parts.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new Error(`${path} goes on past ${Math.round(maxBytes / MiB)} MiB, more than a ${what} can hold`);
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  } finally {
    closeSync(fd);
  }
}
