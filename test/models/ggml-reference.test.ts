/**
 * Every ggml weight format namm reads, widened by namm against ggml's own Python package: random blocks of each
 * format and the float32 values gguf-py's `gguf.quants.dequantize` gave them (test/fixtures/ggml-reference.json,
 * written by scripts/ggml-reference-fixture.py). Bit for bit: the TypeScript widening of the packed formats, and the
 * native GEMM and one-row products reading the packed matrices on every SIMD path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NativeBackend } from '../../src/tensor/native.js';
import { PACKED_FORMATS, PackedMatrix, unpackMatrix, type PackedFormat } from '../../src/tensor/packed.js';
import { simdPaths, skipNative } from '../tensor/native-fixtures.js';

interface Entry { format: string; values: number; bytes: string; float32: string }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/ggml-reference.json', import.meta.url), 'utf8')) as { source: string; formats: Entry[] };

function decode(e: Entry): { bytes: Uint8Array; want: Float32Array } {
  const bytes = new Uint8Array(Buffer.from(e.bytes, 'base64'));
  const f = Buffer.from(e.float32, 'base64');
  const want = new Float32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
  assert.equal(want.length, e.values);
  return { bytes, want };
}

/** The matrix [1, values] namm holds for a fixture entry. */
function held(e: Entry, bytes: Uint8Array): PackedMatrix {
  assert.ok((PACKED_FORMATS as readonly string[]).includes(e.format), `no packed format ${e.format}`);
  return new PackedMatrix(e.format as PackedFormat, 1, e.values, bytes);
}

/** Index of the first value whose float32 bits differ (−1: none); with `signedZeros` false, −0 matches +0. */
function firstDifference(a: Float32Array, b: Float32Array, signedZeros = true): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && (signedZeros || a[i] !== 0 || b[i] !== 0)) return i;
  return x.length === y.length ? -1 : Math.min(x.length, y.length);
}

test('the fixture covers every format namm reads from GGUF files', () => {
  assert.match(fixture.source, /gguf-py/);
  assert.deepEqual(
    fixture.formats.map((e) => e.format).sort(),
    ['bf16', 'f16', 'iq4_nl', 'iq4_xs', 'q2_k', 'q3_k', 'q4_0', 'q4_1', 'q4_k', 'q5_0', 'q5_1', 'q5_k', 'q6_k', 'q8_0'],
  );
});

for (const e of fixture.formats) {
  test(`${e.format}: namm widens gguf-py's blocks to its values, bit for bit`, () => {
    const { bytes, want } = decode(e);
    const got = unpackMatrix(held(e, bytes));
    const i = firstDifference(got, want);
    assert.equal(i, -1, i < 0 ? '' : `value ${i}: ${got[i]} against gguf-py's ${want[i]}`);
    // The fixture is not degenerate: mostly non-zero values, of both signs.
    assert.ok(want.filter((v) => v > 0).length > e.values / 8 && want.filter((v) => v < 0).length > e.values / 8, 'values of both signs');
  });
}

/**
 * The entry with its non-finite values (f16 and bf16 hold ±inf and NaN) replaced by +0 in both the packed bytes and
 * the expected values: a product by the identity multiplies every value by 0 but one, and 0·inf is NaN. Every other
 * value of the entry is still checked (these were skipped whole before).
 */
function finiteOnly(e: Entry, d: { bytes: Uint8Array; want: Float32Array }): { bytes: Uint8Array; want: Float32Array } {
  if (d.want.every(Number.isFinite)) return d;
  assert.ok(e.format === 'f16' || e.format === 'bf16', `${e.format}: non-finite values in a block format`);
  const bytes = d.bytes.slice(), want = d.want.slice();
  assert.equal(bytes.length, 2 * want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isFinite(want[i])) continue;
    bytes[2 * i] = bytes[2 * i + 1] = 0;
    want[i] = 0;
  }
  return { bytes, want };
}

test('native GEMM and one-row products on the packed matrices read gguf-py\'s values, every SIMD path', { skip: skipNative }, () => {
  for (const simd of simdPaths()) for (const e of fixture.formats) {
    const native = new NativeBackend({ simd, threads: 2 });
    const { bytes, want } = finiteOnly(e, decode(e));
    const m = held(e, bytes);
    // A = identity [K, K]: row i of A·Wᵀ is value i of W's one row (one product by 1, the rest by 0, added exactly;
    // a −0 comes out +0, as any sum with a +0 does).
    const K = e.values, a = new Float32Array(K * K);
    for (let i = 0; i < K; i++) a[i * K + i] = 1;
    const c = new Float32Array(K);
    native.matmulABt(a, m, c, K, K, 1);
    const i = firstDifference(c, want, false);
    assert.equal(i, -1, i < 0 ? '' : `${simd} ${e.format} value ${i}: ${c[i]} against gguf-py's ${want[i]}`);
    // One row of A at a time (the one-row kernel of decoding, which widens in its own way): row i of the identity.
    const one = new Float32Array(1);
    for (let v = 0; v < K; v++) {
      native.matmulABt(a.subarray(v * K, (v + 1) * K), m, one, 1, K, 1);
      if (one[0] !== want[v]) assert.fail(`${simd} ${e.format} value ${v} (one-row product): ${one[0]} against gguf-py's ${want[v]}`);
    }
  }
});
