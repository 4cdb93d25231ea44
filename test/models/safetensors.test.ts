import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, f32ToF16, f32ToBf16 } from '../../src/models/safetensors.js';
import { tempDir } from '../helpers/temp.js';

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = tempDir('namm-st-');
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

/** A file with the given header object and `dataBytes` zero bytes of data. */
function rawFile(path: string, header: unknown, dataBytes: number, headerText?: string): void {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
}

test('writes and reads F32 / F16 / BF16 tensors (bytes checked by hand)', withDir((dir) => {
  const p = join(dir, 'a.safetensors');
  const values = new Float32Array([1, -2, 0.5, 65504, 1e-8, 3.140625]);
  writeSafetensors(p, new Map([
    ['f32', { dtype: 'F32' as const, shape: [2, 3], data: values }],
    ['f16', { dtype: 'F16' as const, shape: [6], data: values }],
    ['bf16', { dtype: 'BF16' as const, shape: [3, 2], data: values }],
  ]), { note: 'hi' });
  const buf = readFileSync(p);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data section 8-byte aligned');
  const header = JSON.parse(buf.subarray(8, 8 + n).toString());
  assert.deepEqual(header.f16, { dtype: 'F16', shape: [6], data_offsets: [24, 36] });
  // 1.0 in half is 0x3c00, -2.0 is 0xc000; in bfloat16 1.0 is 0x3f80.
  assert.equal(buf.readUInt16LE(8 + n + 24), 0x3c00);
  assert.equal(buf.readUInt16LE(8 + n + 26), 0xc000);
  assert.equal(buf.readUInt16LE(8 + n + 36), 0x3f80);
  const r = readSafetensors(p);
  assert.deepEqual(r.metadata, { note: 'hi' });
  assert.deepEqual(r.tensors.get('f32')!.data, values);
  assert.deepEqual(r.tensors.get('f32')!.shape, [2, 3]);
  // Values exactly representable in half come back exactly; 1e-8 underflows to the nearest subnormal (0).
  assert.deepEqual([...r.tensors.get('f16')!.data], [1, -2, 0.5, 65504, 0, 3.140625]);
  // bfloat16 keeps 8 mantissa bits: 3.140625 → 3.140625, 65504 → 65536 (round to nearest even).
  assert.deepEqual([...r.tensors.get('bf16')!.data].slice(0, 4), [1, -2, 0.5, 65536]);
  assert.equal(r.tensors.get('bf16')!.data[5], 3.140625);
}));

test('f32 → half / bfloat16 rounding matches IEEE round-to-nearest-even', () => {
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // halfway between 1 and next half: ties to even (1.0)
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // halfway, odd below: rounds up
  assert.equal(f32ToF16(65520), 0x7c00); // rounds past the largest half: inf
  assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16(-0), 0x8000);
  assert.equal(f32ToF16(NaN) & 0x7c00, 0x7c00);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
});

test('malformed files end in clear errors naming the file and the problem', withDir((dir) => {
  const p = join(dir, 'bad.safetensors');
  const ok = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };
  const cases: [string, () => void, RegExp][] = [
    ['shorter than 8 bytes', () => writeFileSync(p, Buffer.from([1, 2, 3])), /shorter than the 8-byte header length/],
    ['header length past EOF', () => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1n << 40n); writeFileSync(p, b); }, /header length 1099511627776 runs past the end of the file/],
    ['truncated header', () => { rawFile(p, ok, 16); writeFileSync(p, readFileSync(p).subarray(0, 30)); }, /runs past the end of the file/],
    ['not JSON', () => rawFile(p, null, 0, '{"w": {"dtype": NaN}}'), /header is not valid JSON/],
    ['JSON array', () => rawFile(p, [1, 2], 0), /header must be a JSON object/],
    ['unsupported dtype', () => rawFile(p, { w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16), /tensor "w" has dtype I64, which is not supported/],
    ['unknown dtype', () => rawFile(p, { w: { dtype: 'F31', shape: [2], data_offsets: [0, 8] } }, 8), /tensor "w" has unknown dtype "F31"/],
    ['dtype named like an object property', () => rawFile(p, { w: { dtype: 'toString', shape: [2], data_offsets: [0, 8] } }, 8), /tensor "w" has unknown dtype "toString"/],
    ['negative dim', () => rawFile(p, { w: { dtype: 'F32', shape: [-2, 2], data_offsets: [0, 16] } }, 16), /invalid shape \[-2,2\]/],
    ['fractional dim', () => rawFile(p, { w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, 8), /invalid shape \[1\.5\]/],
    ['null (NaN-like) dim', () => rawFile(p, { w: { dtype: 'F32', shape: [null, 2], data_offsets: [0, 8] } }, 8), /invalid shape \[null,2\]/],
    ['string dim', () => rawFile(p, { w: { dtype: 'F32', shape: ['4'], data_offsets: [0, 16] } }, 16), /invalid shape/],
    ['byte count mismatch', () => rawFile(p, { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 16), /needs 16 bytes but data_offsets cover 12/],
    ['offsets past the end', () => rawFile(p, { w: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 24] } }, 16), /run past the data section \(16 bytes\)/],
    ['reversed offsets', () => rawFile(p, { w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 16), /end before they begin/],
    ['overlapping tensors', () => rawFile(p, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 16), /"a" and "b" have overlapping byte ranges/],
    ['bad metadata', () => rawFile(p, { __metadata__: { a: 1 } }, 0), /__metadata__ value for "a" must be a string/],
    ['huge shape product', () => rawFile(p, { w: { dtype: 'F32', shape: [2 ** 40, 2 ** 12], data_offsets: [0, 16] } }, 16), /needs \d+ bytes but data_offsets cover 16/],
    // JSON.parse kept the second entry and dropped the first one's bytes; an escaped spelling is the same name.
    ['a tensor named twice', () => rawFile(p, null, 16, '{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}'), /header names "w" twice/],
    ['named twice, once escaped', () => rawFile(p, null, 16, '{"__metadata__": {"w": "x", "\\"w\\"": "y"}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "\\u0077": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}'), /header names "w" twice/],
    // Read with replacement characters, the name loaded and failed later as a missing weight.
    ['invalid UTF-8', () => {
      const json = Buffer.concat([Buffer.from('{"model.norm.w'), Buffer.from([0xff, 0xfe]), Buffer.from('ight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}')]);
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(8)]));
    }, /header is not valid UTF-8/],
  ];
  for (const [what, make, re] of cases) {
    make();
    assert.throws(() => readSafetensors(p), (e: Error) => re.test(e.message) && e.message.includes(p), what);
  }
}));

test('writeSafetensors: wrong data types and float16 overflow are refused before the file is touched', withDir((dir) => {
  const p = join(dir, 'a.safetensors');
  writeFileSync(p, 'the old file');
  // A Float64Array read back as other values, and a Uint8Array made an unreadable file (after truncating the old one).
  for (const data of [new Float64Array([1, 2]), new Uint8Array(2), [1, 2]]) {
    assert.throws(() => writeSafetensors(p, new Map([['w', { dtype: 'F32' as const, shape: [2], data: data as never }]])), /tensor "w" must hold a Float32Array/);
  }
  assert.throws(() => writeSafetensors(p, new Map([['w', { dtype: 'F16' as const, shape: [2], data: new Float32Array([1, 70000]) }]])),
    /tensor "w" holds 70000, beyond float16's range; write it as BF16 or F32/);
  assert.equal(readFileSync(p, 'utf8'), 'the old file');
  // 65,519 still rounds to 65,504, and infinities already in the tensor stay what they are.
  writeSafetensors(p, new Map([['w', { dtype: 'F16' as const, shape: [2], data: new Float32Array([65519, Infinity]) }]]));
  assert.deepEqual([...readSafetensors(p).tensors.get('w')!.data], [65504, Infinity]);
}));
