/**
 * Packed weights (src/tensor/packed.ts, native/src/kernels_gemm.inc): the widening of every format against the
 * loaders' conversion kernels and hand-worked values, and A·Wᵀ with W packed against the float32 product with the
 * widened matrix — bit-identical on the native backend (every SIMD path, 1 and 2 threads) and on the TypeScript
 * one, and the two backends against each other; misuse gives clear errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { halfToFloat, JsBackend } from '../../src/tensor/js.js';
import { NativeBackend } from '../../src/tensor/native.js';
import {
  PackedMatrix, packedRowBytes, packedValueAt, unpackMatrix, unpackRows, type PackedFormat,
} from '../../src/tensor/packed.js';
import { packMatrix, quantizeQ4_0 } from '../../src/models/pack.js';
import { Rng } from '../../src/util/rng.js';
import { randomQ8_0, randomU16 } from '../helpers/random-arrays.js';
import { assertClose, assertGuardIntact, gemmAbsScale, randomF32, simdPaths, skipNative } from './native-fixtures.js';

const js = new JsBackend();
const FORMATS: PackedFormat[] = ['f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k', 'iq4_xs', 'iq4_nl'];
/** The 256-value super-block formats: bytes per super-block and the offsets of their float16 factors. */
const SUPER_BLOCKS: Partial<Record<PackedFormat, [size: number, halves: number[]]>> = {
  q4_k: [144, [0, 2]], q5_k: [176, [0, 2]], q6_k: [210, [208]], q2_k: [84, [80, 82]], q3_k: [110, [108]], iq4_xs: [136, [0]],
};
const K_QUANTS = new Set<PackedFormat>(Object.keys(SUPER_BLOCKS) as PackedFormat[]);
/** Formats only the GGUF reader widens (no loader kernel to compare with): checked on hand-worked blocks (Q4_1, Q5_0,
 * Q5_1) or against gguf-py (IQ4_NL, test/models/ggml-reference.test.ts). */
const OTHER_BLOCKS = new Set<PackedFormat>(['q4_1', 'q5_0', 'q5_1', 'iq4_nl'] as PackedFormat[]);
/** A moderate finite float16 (exponent field 5..20: about 2^-10 .. 2^5), either sign, as its two bytes. */
function moderateHalf(rng: Rng, bytes: Uint8Array, at: number): void {
  const h = ((rng.int(2) << 15) | ((5 + rng.int(16)) << 10) | rng.int(1024)) >>> 0;
  bytes[at] = h & 0xff; bytes[at + 1] = h >> 8;
}

/** Random bytes of a matrix in `format`: any 16-bit pattern (f16/bf16), or blocks with moderate finite scales. */
function randomPacked(rng: Rng, format: PackedFormat, rows: number, cols: number): PackedMatrix {
  const n = rows * cols;
  if (format === 'f16' || format === 'bf16') return new PackedMatrix(format, rows, cols, new Uint8Array(randomU16(rng, n).buffer));
  if (format === 'q8_0') return new PackedMatrix(format, rows, cols, randomQ8_0(rng, n / 32));
  if (OTHER_BLOCKS.has(format)) {
    const size = format === 'q4_1' ? 20 : format === 'q5_0' ? 22 : format === 'iq4_nl' ? 18 : 24;
    const bytes = new Uint8Array((n / 32) * size).map(() => rng.int(256));
    for (let b = 0; b < n / 32; b++) {
      moderateHalf(rng, bytes, b * size);
      if (format === 'q4_1' || format === 'q5_1') moderateHalf(rng, bytes, b * size + 2);
    }
    return new PackedMatrix(format, rows, cols, bytes);
  }
  const superBlock = SUPER_BLOCKS[format];
  if (superBlock) {
    // Any bytes are a valid super-block of these formats; only its float16 factors are kept moderate.
    const [size, halves] = superBlock;
    const bytes = new Uint8Array((n / 256) * size).map(() => rng.int(256));
    for (let b = 0; b < n / 256; b++) for (const o of halves) moderateHalf(rng, bytes, b * size + o);
    return new PackedMatrix(format, rows, cols, bytes);
  }
  const bytes = new Uint8Array((n / 32) * 18);
  for (let b = 0; b < n / 32; b++) {
    const scale = ((rng.int(2) << 15) | ((5 + rng.int(16)) << 10) | rng.int(1024)) >>> 0;
    bytes[b * 18] = scale & 0xff; bytes[b * 18 + 1] = scale >> 8;
    for (let j = 0; j < 16; j++) bytes[b * 18 + 2 + j] = rng.int(256);
  }
  return new PackedMatrix(format, rows, cols, bytes);
}

/** A matrix of moderate finite values (f16/bf16 from random floats; block formats with moderate scales), for products. */
function finitePacked(rng: Rng, format: PackedFormat, rows: number, cols: number): PackedMatrix {
  if (format === 'f16' || format === 'bf16') return packMatrix(randomF32(rng, rows * cols).subarray(0, rows * cols), rows, cols, format)!;
  return randomPacked(rng, format, rows, cols);
}

describe('packed formats: widening', () => {
  it('each format widens exactly as the loaders convert it (the f16, bf16 and Q8_0 kernels; Q4_0 written out from its layout)', () => {
    const rng = new Rng('packed/widen');
    for (const format of FORMATS.filter((f) => !K_QUANTS.has(f) && !OTHER_BLOCKS.has(f))) {
      const m = randomPacked(rng, format, 3, 64);
      const want = new Float32Array(3 * 64);
      if (format === 'f16') js.f16ToF32(new Uint16Array(m.bytes.buffer), want, want.length);
      if (format === 'bf16') js.bf16ToF32(new Uint16Array(m.bytes.buffer), want, want.length);
      if (format === 'q8_0') js.q8_0ToF32(m.bytes, want, want.length);
      if (format === 'q4_0') {
        // Written out from the layout (q4_0ToF32 now widens through unpackRows itself): value j = d·((q[j] & 15) − 8),
        // value j + 16 = d·((q[j] >> 4) − 8).
        for (let b = 0; b < want.length / 32; b++) {
          const d = halfToFloat(m.bytes[b * 18]! | (m.bytes[b * 18 + 1]! << 8));
          for (let j = 0; j < 16; j++) {
            want[b * 32 + j] = d * ((m.bytes[b * 18 + 2 + j]! & 15) - 8);
            want[b * 32 + j + 16] = d * ((m.bytes[b * 18 + 2 + j]! >> 4) - 8);
          }
        }
      }
      const got = unpackMatrix(m);
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${format}[${i}]: ${got[i]} vs ${want[i]}`);
      // A row range lands at the offset given, and single values match.
      const part = new Float32Array(2 + 64).fill(7);
      unpackRows(m, 1, 2, part, 2);
      assert.deepEqual([...part.subarray(0, 2)], [7, 7]);
      for (let j = 0; j < 64; j++) assert.ok(Object.is(part[2 + j], want[64 + j]));
      for (const i of [0, 31, 32, 63, 64, 100, 191]) assert.ok(Object.is(packedValueAt(m, i), want[i]), `${format} value ${i}`);
    }
  });

  it('k-quants widen as ggml lays them out: hand-worked super-blocks of Q4_K, Q5_K and Q6_K', () => {
    const at = (b: Uint8Array, o: number, h: number) => { b[o] = h & 0xff; b[o + 1] = h >> 8; };
    // Q4_K and Q5_K: d = 0.5, dmin = 0.25. Sub-block 0: scale 3, min 2 (low 6 bits of bytes 0 and 4). Sub-block 1:
    // scale 0 (byte 1 & 63), min 1 (byte 5 & 63). Sub-block 5: scale (byte 9 & 15) | (byte 1 >> 6) << 4 = 10 + 16,
    // min (byte 9 >> 4) | (byte 5 >> 6) << 4 = 7 + 32.
    for (const five of [false, true]) {
      const b = new Uint8Array(five ? 176 : 144);
      at(b, 0, 0x3800); at(b, 2, 0x3400);
      b[4 + 0] = 3; b[4 + 4] = 2; b[4 + 1] = 0x40; b[4 + 5] = 0x81; b[4 + 9] = 0x7a;
      const qs = five ? 48 : 16;
      b[qs + 0] = 0x0f; // value 0: low nibble 15 (sub-block 0); value 32: high nibble 0 (sub-block 1)
      b[qs + 64 + 3] = 0xc0; // value 4·32 + 3: low nibble 0 (sub-block 4); value 5·32 + 3: high nibble 12 (sub-block 5)
      if (five) { b[16 + 0] = 1; b[16 + 3] = 1 << 5; } // Q5_K: +16 for value 0 (bit 0 of qh[0]) and value 163 (bit 5 of qh[3])
      const v = unpackMatrix(new PackedMatrix(five ? 'q5_k' : 'q4_k', 1, 256, b));
      // value = d·sc·q − dmin·m
      assert.equal(v[0], five ? 0.5 * 3 * 31 - 0.25 * 2 : 0.5 * 3 * 15 - 0.25 * 2);
      assert.equal(v[32], -0.25);
      assert.equal(v[131], 0);
      assert.equal(v[163], five ? 0.5 * 26 * 28 - 0.25 * 39 : 0.5 * 26 * 12 - 0.25 * 39);
    }
    // Q6_K: d = 0.5 (bytes 208–209), int8 scales at 192. Value 0: ql[0] & 15 = 5, qh[0] & 3 = 2 → 37 − 32 = 5, scale
    // sc[0] = 2. Value 241 (half 1, group 3, lane 17): ql[64 + 32 + 17] >> 4 = 9, (qh[32 + 17] >> 6) & 3 = 1 → 25 − 32
    // = −7, scale sc[8 + 2·3 + 1] = −3. Value 1: q = 0 − 32, scale 2.
    const b = new Uint8Array(210);
    at(b, 208, 0x3800);
    b[192] = 2; b[192 + 15] = 0xfd;
    b[0] = 0x05; b[128] = 0b10; b[113] = 0x90; b[128 + 49] = 0x40;
    const v = unpackMatrix(new PackedMatrix('q6_k', 1, 256, b));
    assert.deepEqual([v[0], v[1], v[241]], [0.5 * 2 * 5, 0.5 * 2 * -32, 0.5 * -3 * -7]);
  });

  it('Q4_1, Q5_0 and Q5_1 widen as ggml lays them out: hand-worked blocks', () => {
    const at = (b: Uint8Array, o: number, h: number) => { b[o] = h & 0xff; b[o + 1] = h >> 8; };
    // d = 0.5, m = −1 (0xbc00). Byte 0 = 0x3c: value 0 takes its low nibble 12, value 16 its high nibble 3. Fifth bits
    // (Q5_*): bit 0 and bit 16 set (+16 for values 0 and 16), bit 5 clear.
    const q41 = new Uint8Array(20); at(q41, 0, 0x3800); at(q41, 2, 0xbc00); q41[4] = 0x3c;
    const v41 = unpackMatrix(new PackedMatrix('q4_1' as PackedFormat, 1, 32, q41));
    assert.deepEqual([v41[0], v41[16], v41[5]], [0.5 * 12 - 1, 0.5 * 3 - 1, -1]);
    const q50 = new Uint8Array(22); at(q50, 0, 0x3800); q50[2] = 1; q50[4] = 1; q50[6] = 0x3c;
    const v50 = unpackMatrix(new PackedMatrix('q5_0' as PackedFormat, 1, 32, q50));
    assert.deepEqual([v50[0], v50[16], v50[5]], [0.5 * (28 - 16), 0.5 * (19 - 16), 0.5 * -16]);
    const q51 = new Uint8Array(24); at(q51, 0, 0x3800); at(q51, 2, 0xbc00); q51[4] = 1; q51[6] = 1; q51[8] = 0x3c;
    const v51 = unpackMatrix(new PackedMatrix('q5_1' as PackedFormat, 1, 32, q51));
    assert.deepEqual([v51[0], v51[16], v51[5]], [0.5 * 28 - 1, 0.5 * 19 - 1, -1]);
  });

  it('Q4_0 quantises as ggml: hand-worked block', () => {
    // The largest magnitude is −4 (sign kept): d = −4/−8 = 0.5, 1/d = 2; q = min(15, trunc(x·2 + 8.5)).
    const x = new Float32Array(32);
    x[0] = -4; x[1] = 1; x[2] = 0.3; x[16] = 3.9; x[17] = -0.26;
    const b = quantizeQ4_0(x);
    assert.equal(b.length, 18);
    assert.equal(b[0]! | (b[1]! << 8), 0x3800, 'scale 0.5 as float16');
    // byte j = q(x_j) | q(x_{j+16}) << 4: q(−4) = 0, q(3.9) = trunc(16.3) → 15; q(1) = 10, q(−0.26) = trunc(7.98) = 7;
    // q(0.3) = trunc(9.1) = 9, q(0) = 8.
    assert.equal(b[2], 0 | (15 << 4));
    assert.equal(b[3], 10 | (7 << 4));
    assert.equal(b[4], 9 | (8 << 4));
    assert.equal(b[5], 8 | (8 << 4));
    const back = unpackMatrix(new PackedMatrix('q4_0', 1, 32, b));
    assert.deepEqual([back[0], back[1], back[2], back[3], back[16], back[17]], [-4, 1, 0.5, 0, 3.5, -0.5]);
    // An all-zero block: d = 0 / −8 = −0 (as ggml), every value ±0.
    assert.ok(unpackMatrix(new PackedMatrix('q4_0', 1, 32, quantizeQ4_0(new Float32Array(32)))).every((v) => v === 0));
  });

  it('packMatrix rounds f16/bf16 to nearest and quantises Q8_0; rows of the wrong length are left to the caller (null)', () => {
    const x = Float32Array.from([1, -2.5, 65504, 1 / 3, 0, -0, 1e-8, 3]);
    assert.deepEqual([...unpackMatrix(packMatrix(x, 2, 4, 'f16')!)], [1, -2.5, 65504, Math.fround(0.333251953125), 0, -0, Math.fround(5.960464477539063e-8 * 0), 3].map((v, i) => (i === 6 ? 0 : v)));
    assert.equal(unpackMatrix(packMatrix(x, 2, 4, 'bf16')!)[3], 0.333984375);
    assert.equal(packMatrix(x, 2, 4, 'q8_0'), null, 'rows of 4 values are not whole Q8_0 blocks');
    const y = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 4);
    const q = unpackMatrix(packMatrix(y, 1, 32, 'q8_0')!);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(q[i]! - y[i]!) <= 4 / 127 / 2 + 1e-6, `q8_0 value ${i}`);
  });

  it('a value a format cannot hold is refused, naming the matrix, not turned into infinities or NaN', () => {
    const x = new Float32Array(64);
    x[1] = 1e5; x[40] = 6e5;
    assert.throws(() => packMatrix(x, 2, 32, 'f16', 'weight "w"'), /weight "w" holds 100000 \(value 1\), beyond what f16 can hold \(it would become Infinity\)/);
    assert.throws(() => packMatrix(Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? 6e5 : 1)), 1, 32, 'q4_0'), /matrix holds .* beyond what q4_0 can hold/);
    x[1] = 0; x[40] = 0;
    assert.ok(packMatrix(x, 2, 32, 'f16'));
    assert.throws(() => packMatrix(x, 2, 32, 'q4_k'), /cannot convert to "q4_k"/);
  });

  it('bad shapes and formats are refused with clear errors', () => {
    assert.throws(() => new PackedMatrix('q8_0', 2, 48, new Uint8Array(0)), /blocks of 32 values; 48 is not a multiple of 32/);
    assert.throws(() => new PackedMatrix('q4_0', 2, 32, new Uint8Array(35)), /2×32 q4_0 matrix takes 36 bytes, got 35/);
    assert.throws(() => new PackedMatrix('q9' as PackedFormat, 1, 32, new Uint8Array(0)), /unknown packed format "q9"/);
    assert.throws(() => new PackedMatrix('f16', -1, 2, new Uint8Array(0)), /non-negative integer row count/);
    assert.equal(packedRowBytes('q8_0', 64), 68);
    const m = new PackedMatrix('f16', 2, 2, new Uint8Array(8));
    assert.throws(() => unpackRows(m, 1, 3, new Float32Array(8)), /rows \[1, 3\) are not inside/);
    assert.throws(() => unpackRows(m, 0, 2, new Float32Array(3)), /output holds 3 values, 4 needed/);
    assert.throws(() => packedValueAt(m, 4), /index 4 is not inside/);
  });
});

/** Shapes (M, K, N): one row (the GEMV path), odd sizes, and blocks past KC = 256 and NR. */
const SHAPES: [number, number, number][] = [
  [1, 32, 1], [1, 64, 7], [1, 512, 300], [1, 1024, 70], [2, 32, 3], [5, 96, 33], [7, 256, 17], [13, 288, 40], [64, 512, 48], [130, 768, 70], [40, 800, 33], [20, 960, 24],
];
/** f16/bf16 only: K not a multiple of 32 (and of the vector width). */
const HALF_SHAPES: [number, number, number][] = [[1, 37, 19], [1, 5, 1], [3, 1, 50], [6, 13, 29], [40, 300, 33]];
/** k-quants: K whole super-blocks of 256. */
const K_SHAPES: [number, number, number][] = [[1, 256, 7], [1, 512, 300], [2, 256, 3], [5, 768, 33], [64, 512, 48], [13, 1024, 40]];
const shapesFor = (format: PackedFormat, all: boolean) => K_QUANTS.has(format) ? K_SHAPES
  : [...(all ? SHAPES : SHAPES.slice(0, 7)), ...(format.endsWith('16') ? HALF_SHAPES : [])];

function productCase(rng: Rng, format: PackedFormat, M: number, K: number, N: number) {
  const a = randomF32(rng, M * K), w = finitePacked(rng, format, N, K);
  const wide = unpackMatrix(w);
  return { a, w, wide, c0: randomF32(rng, M * N) };
}

describe('A·Wᵀ with W packed: the TypeScript backend', () => {
  it('equals the float32 product with the widened matrix exactly, with and without accumulate', () => {
    const rng = new Rng('packed/js');
    for (const format of FORMATS) {
      for (const [M, K, N] of shapesFor(format, false)) {
        for (const acc of [false, true]) {
          const { a, w, wide, c0 } = productCase(rng, format, M, K, N);
          const got = c0.slice(), want = c0.slice();
          js.matmulABt(a, w, got, M, K, N, acc);
          js.matmulABt(a, wide, want, M, K, N, acc);
          assert.deepEqual(got, want, `${format} ${M}x${K}x${N} acc=${acc}`);
        }
      }
    }
  });

  it('refuses a matrix of another shape, short buffers and an output over the weights', () => {
    const w = new PackedMatrix('q8_0', 3, 32, new Uint8Array(3 * 34));
    assert.throws(() => js.matmulABt(new Float32Array(32), w, new Float32Array(4), 1, 32, 4), /packed weight is 3×32, but N×K = 4×32/);
    assert.throws(() => js.matmulABt(new Float32Array(31), w, new Float32Array(3), 1, 32, 3), /a holds 31 values but 32 are needed/);
    assert.throws(() => js.matmulABt(new Float32Array(32), w, new Float32Array(2), 1, 32, 3), /c holds 2 values but 3 are needed/);
    const shared = new ArrayBuffer(3 * 34 + 16);
    const wb = new PackedMatrix('q8_0', 3, 32, new Uint8Array(shared, 0, 3 * 34));
    assert.throws(() => js.matmulABt(new Float32Array(32), wb, new Float32Array(shared, 96, 3), 1, 32, 3), /c must not overlap w/);
    // The fields are readonly to TypeScript only: an altered matrix is refused, not read as garbage.
    const bent = (field: string, value: unknown) => Object.defineProperty(new PackedMatrix('q8_0', 3, 32, new Uint8Array(3 * 34)), field, { value });
    assert.throws(() => js.matmulABt(new Float32Array(32), bent('format', 'iq1_s'), new Float32Array(3), 1, 32, 3), /unknown packed format "iq1_s"/);
    assert.throws(() => js.matmulABt(new Float32Array(32), bent('bytes', new Uint8Array(10)), new Float32Array(3), 1, 32, 3), /w\.bytes holds 10 values but 102 are needed/);
    assert.throws(() => unpackRows(bent('format', 'iq1_s'), 0, 1, new Float32Array(32)), /unknown packed format "iq1_s"/);
  });
});

/**
 * The cases of the native test, made once: each SIMD path and thread count is checked on the same inputs against
 * the same TypeScript result (computing that twin anew for each of the six runs took most of the test's time).
 */
let nativeCases: { format: PackedFormat; M: number; K: number; N: number; acc: boolean; a: Float32Array; w: PackedMatrix; wide: Float32Array; c0: Float32Array; twin: Float32Array; scale: Float64Array }[] | null = null;
function packedNativeCases() {
  if (nativeCases) return nativeCases;
  const rng = new Rng('packed/native');
  nativeCases = [];
  for (const format of FORMATS) {
    for (const [M, K, N] of shapesFor(format, true)) {
      for (const acc of [false, true]) {
        const { a, w, wide, c0 } = productCase(rng, format, M, K, N);
        const twin = c0.slice();
        js.matmulABt(a, w, twin, M, K, N, acc);
        const scale = gemmAbsScale(a, wide, M, K, N, K, 1, 1, K);
        if (acc) for (let i = 0; i < M * N; i++) scale[i] = scale[i]! + Math.abs(c0[i]!);
        nativeCases.push({ format, M, K, N, acc, a, w, wide, c0, twin, scale });
      }
    }
  }
  return nativeCases;
}

describe('A·Wᵀ with W packed: the native backend', { skip: skipNative }, () => {
  for (const simd of simdPaths()) {
    for (const threads of [1, 2]) {
      it(`${simd}, ${threads} thread(s): equals its own float32 product with the widened matrix bit for bit, and the TypeScript twin within float32 rounding`, () => {
        const nb = new NativeBackend({ simd, threads });
        for (const { format, M, K, N, acc, a, w, wide, c0, twin, scale } of packedNativeCases()) {
          const got = c0.slice(), same = c0.slice();
          nb.matmulABt(a, w, got, M, K, N, acc);
          nb.matmulABt(a, wide, same, M, K, N, acc);
          const what = `${format} ${M}x${K}x${N} acc=${acc}`;
          assert.deepEqual(got, same, what);
          assertGuardIntact(what, got, M * N);
          assertClose(what, got, twin, M * N, 1e-5, 1e-30, scale);
        }
      });
    }
  }

  it('refuses a matrix of another shape, short buffers, an output over the weights and bad raw arguments', () => {
    const nb = new NativeBackend({ threads: 1 });
    const w = new PackedMatrix('q4_0', 3, 32, new Uint8Array(3 * 18));
    assert.throws(() => nb.matmulABt(new Float32Array(64), w, new Float32Array(3), 1, 64, 3), /packed weight is 3×32, but N×K = 3×64/);
    assert.throws(() => nb.matmulABt(new Float32Array(31), w, new Float32Array(3), 1, 32, 3), /a/);
    const shared = new ArrayBuffer(3 * 18 + 14);
    const wb = new PackedMatrix('q4_0', 3, 32, new Uint8Array(shared, 0, 3 * 18));
    assert.throws(() => nb.matmulABt(new Float32Array(32), wb, new Float32Array(shared, 52, 3), 1, 32, 3), /c must not overlap w/);
    // The addon's own checks, below the TypeScript wrapper.
    const k = (nb as unknown as { k: { matmulABtPacked: (...args: unknown[]) => void } }).k;
    const a = new Float32Array(64), c = new Float32Array(4);
    assert.throws(() => k.matmulABtPacked(a, new Uint8Array(68), 15, c, 1, 64, 1), /format must be 1 \(f16\), 2 \(bf16\), 3 \(Q8_0\), 4 \(Q4_0\), 5 \(Q4_K\), 6 \(Q5_K\), 7 \(Q6_K\), 8 \(Q4_1\), 9 \(Q5_0\), 10 \(Q5_1\), 11 \(Q2_K\), 12 \(Q3_K\), 13 \(IQ4_XS\) or 14 \(IQ4_NL\)/);
    assert.throws(() => k.matmulABtPacked(a, new Uint8Array(144), 5, c, 1, 64, 1), /K \(64\) must be a multiple of the format's block of 256 values/);
    assert.throws(() => k.matmulABtPacked(a, new Uint8Array(68), 3, c, 1, 48, 1), /K \(48\) must be a multiple of the format's block of 32 values/);
    assert.throws(() => k.matmulABtPacked(a, new Uint8Array(67), 3, c, 1, 64, 1), /w/);
    assert.throws(() => k.matmulABtPacked(a, new Float32Array(17), 3, c, 1, 64, 1), /w/);
  });
});
