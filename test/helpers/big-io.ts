/**
 * Node's I/O calls, mocked to keep Node's limit of 2³¹ − 1 bytes a call (fs.writeSync and FileHandle.write:
 * "The value of "length" is out of range"; a hash update: "data is too long") but to skip the work on large
 * buffers: a writer of 2 GiB is tested with a zero-filled array that is never touched (no memory), and no 2 GiB
 * reaches the disk or the hash. Calls of up to `small` bytes run as they are. What a large call would have written is
 * not written (the file comes out short) and what it would have hashed is hashed as its length, so a test checks
 * that the writer gets through and how it cut its calls, not the file.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { mock } from 'node:test';

export const NODE_IO_LIMIT = 2 ** 31 - 1;

export interface BigIo {
  /** The length of every write and hash update, in order. */
  lengths: number[];
  restore(): void;
}

export async function mockBigIo(small = 1 << 20): Promise<BigIo> {
  const lengths: number[] = [];
  const tooLong = (n: number) => new RangeError(`The value of "length" is out of range. It must be >= 0 && <= ${NODE_IO_LIMIT}. Received ${n}`);
  const writeSync = fs.writeSync as (...a: unknown[]) => number;
  mock.method(fs, 'writeSync', (...args: unknown[]) => {
    const [, buf, off, len] = args;
    const n = ArrayBuffer.isView(buf) ? (typeof len === 'number' ? len : buf.byteLength - (typeof off === 'number' ? off : 0)) : String(buf).length;
    lengths.push(n);
    if (n > NODE_IO_LIMIT) throw tooLong(n);
    return n > small ? n : writeSync(...args);
  });
  syncBuiltinESMExports();
  const probe = await fs.promises.open('/dev/null', 'r');
  const handleProto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<{ bytesWritten: number; buffer: unknown }> };
  await probe.close();
  const write = handleProto.write;
  mock.method(handleProto, 'write', function (this: unknown, ...args: unknown[]) {
    const [buf, off, len] = args;
    const n = ArrayBuffer.isView(buf) ? (typeof len === 'number' ? len : buf.byteLength - (typeof off === 'number' ? off : 0)) : String(buf).length;
    lengths.push(n);
    if (n > NODE_IO_LIMIT) return Promise.reject(tooLong(n));
    return n > small ? Promise.resolve({ bytesWritten: n, buffer: buf }) : write.apply(this, args);
  });
  const hashProto = Object.getPrototypeOf(createHash('sha256')) as { update: (...a: unknown[]) => unknown };
  const update = hashProto.update;
  mock.method(hashProto, 'update', function (this: unknown, data: unknown, ...rest: unknown[]) {
    const n = ArrayBuffer.isView(data) ? data.byteLength : String(data).length;
    lengths.push(n);
    if (n > NODE_IO_LIMIT) throw new Error('data is too long');
    return n > small ? update.call(this, `<${n} bytes>`) : update.call(this, data, ...rest);
  });
  return {
    lengths,
    restore() {
      mock.restoreAll();
      syncBuiltinESMExports();
    },
  };
}
