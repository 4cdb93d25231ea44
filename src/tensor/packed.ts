/**
 * Packed weight matrices: a linear layer's weights `W [rows = out, cols = in]` kept in a compact storage format
 * (the one a GGUF or safetensors file stores them in) instead of being widened to float32 at load. The GEMM
 * (`Backend.matmulABt`) widens the rows it reads on the fly, so a model takes about the bytes of its file:
 * Q2_K ~0.33 bytes a weight, Q3_K ~0.43, IQ4_XS ~0.53, Q4_K ~0.56, Q4_0 and IQ4_NL ~0.56, Q6_K ~0.82, Q8_0 ~1.06,
 * F16/BF16 2, against 4 for float32.
 *
 * Every format widens exactly as ggml's own conversion does (f16 and bf16 to the same float32; Q8_0, Q4_0, Q5_0,
 * Q3_K, Q6_K, IQ4_XS and IQ4_NL values are products of a float16 scale and small integers, exact in float32; Q4_1,
 * Q5_1, Q2_K, Q4_K and Q5_K add an offset, rounding once, at the sum; test/fixtures/ggml-reference.json checks each
 * against ggml's own Python package), so a packed matrix holds precisely the values its float32 widening would, and
 * the native GEMM multiplies them in the same order (its k blocks are whole 32-value blocks whenever K is, see
 * plan_gemm): a packed model's logits equal those of the same file loaded as float32, bit for bit.
 *
 * Rows are self-contained (block formats block along a row), which is what lets a kernel widen any row range.
 */
import { halfToFloat } from './js.js';
import { argError, checkArg } from '../util/args.js';

export const PACKED_FORMATS = [
  'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k', 'q4_1', 'q5_0', 'q5_1', 'q2_k', 'q3_k', 'iq4_xs', 'iq4_nl',
] as const;
export type PackedFormat = (typeof PACKED_FORMATS)[number];

/** The format codes of the native addon (native/src/packed_formats.h). */
export const PACKED_FORMAT_CODE: Readonly<Record<PackedFormat, number>> = {
  f16: 1, bf16: 2, q8_0: 3, q4_0: 4, q4_k: 5, q5_k: 6, q6_k: 7, q4_1: 8, q5_0: 9, q5_1: 10, q2_k: 11, q3_k: 12, iq4_xs: 13,
  iq4_nl: 14,
};

/** Values per block (a row holds whole blocks) and bytes per block. */
const BLOCK: Readonly<Record<PackedFormat, [values: number, bytes: number]>> = {
  f16: [1, 2], bf16: [1, 2], q8_0: [32, 34], q4_0: [32, 18],
  // ggml's k-quants: super-blocks of 256 values (block_q4_K, block_q5_K, block_q6_K).
  q4_k: [256, 144], q5_k: [256, 176], q6_k: [256, 210],
  // The other 32-value blocks llama.cpp falls back to for rows that are not whole super-blocks.
  q4_1: [32, 20], q5_0: [32, 22], q5_1: [32, 24],
  // The low-bit super-blocks of llama.cpp's Q2_K, Q3_K_S/M/L and IQ4_XS files (block_q2_K, block_q3_K, block_iq4_xs).
  q2_k: [256, 84], q3_k: [256, 110], iq4_xs: [256, 136],
  // IQ4_NL: 32-value blocks of IQ4_XS's table (llama.cpp's IQ4_NL files, and its fallback in IQ4_XS ones).
  iq4_nl: [32, 18],
};

/** The 16 values a 4-bit index of IQ4_XS (and IQ4_NL) stands for (ggml's kvalues_iq4nl). */
export const IQ4_TABLE: Readonly<Int8Array> = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

/** Values per block (a row length is a multiple of it): 256 for k-quants and IQ4_XS, 32 for the other quantised ones, else 1. */
export function packedBlockValues(format: PackedFormat): number {
  return BLOCK[format][0];
}

/** Bytes of one row of `cols` values in `format`; a RangeError when cols is not whole blocks. */
export function packedRowBytes(format: PackedFormat, cols: number): number {
  if (!Object.hasOwn(BLOCK, format)) throw new RangeError(`unknown packed format "${String(format)}" (expected ${PACKED_FORMATS.join(', ')})`);
  const [values, bytes] = BLOCK[format];
  if (!Number.isSafeInteger(cols) || cols < 0) throw new RangeError(`a packed row length must be a non-negative integer, got ${cols}`);
  if (cols % values !== 0) throw new RangeError(`${format} rows hold blocks of ${values} values; ${cols} is not a multiple of ${values}`);
  return (cols / values) * bytes;
}

/** A weight matrix `[rows, cols]` held in a packed format (see the module comment). Immutable by convention. */
export class PackedMatrix {
  /** Bytes per row. */
  readonly rowBytes: number;

  constructor(readonly format: PackedFormat, readonly rows: number, readonly cols: number, readonly bytes: Uint8Array) {
    if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`a packed matrix needs a non-negative integer row count, got ${rows}`);
    this.rowBytes = packedRowBytes(format, cols);
    if (!(bytes instanceof Uint8Array)) throw new TypeError('a packed matrix holds its bytes in a Uint8Array');
    if (bytes.length !== rows * this.rowBytes) {
      throw new RangeError(`a ${rows}×${cols} ${format} matrix takes ${rows * this.rowBytes} bytes, got ${bytes.length}`);
    }
  }

  /** Values held (rows · cols). */
  get length(): number { return this.rows * this.cols; }
  get byteLength(): number { return this.bytes.length; }
}

/** What a linear layer's weight can be: float32 `[out, in]` or packed. */
export type Weight = Float32Array | PackedMatrix;

export function isPackedMatrix(x: unknown): x is PackedMatrix {
  return x instanceof PackedMatrix;
}

/**
 * Widens rows [r0, r1) of a packed matrix into `out` (row-major, `(r1 − r0)·cols` values from `outOffset`): the
 * TypeScript twin of the native kernels' on-the-fly widening, value for value.
 */
export function unpackRows(m: PackedMatrix, r0: number, r1: number, out: Float32Array, outOffset = 0): void {
  if (!(m instanceof PackedMatrix)) throw argError('unpackRows', 'm', 'a PackedMatrix', m);
  checkArg('unpackRows', 'out', out, 'Float32Array');
  if (!Number.isSafeInteger(r0) || !Number.isSafeInteger(r1) || r0 < 0 || r1 < r0 || r1 > m.rows) {
    throw new RangeError(`rows [${r0}, ${r1}) are not inside the matrix's ${m.rows} rows`);
  }
  const n = (r1 - r0) * m.cols;
  if (!Number.isSafeInteger(outOffset) || outOffset < 0 || outOffset + n > out.length) {
    throw new RangeError(`the output holds ${out.length} values, ${outOffset + n} needed`);
  }
  const src = m.bytes, base = r0 * m.rowBytes;
  switch (m.format) {
    case 'f16':
      for (let i = 0; i < n; i++) out[outOffset + i] = halfToFloat(src[base + 2 * i]! | (src[base + 2 * i + 1]! << 8));
      return;
    case 'bf16': {
      // bfloat16 is the top half of a float32: place the bits (−0 survives; a NaN stays NaN, though JavaScript
      // need not keep its payload).
      const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
      for (let i = 0; i < n; i++) {
        bits[0] = (src[base + 2 * i]! | (src[base + 2 * i + 1]! << 8)) << 16;
        out[outOffset + i] = f[0]!;
      }
      return;
    }
    case 'q8_0':
      for (let b = 0; b < n / 32; b++) {
        const o = base + b * 34;
        const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
        for (let j = 0; j < 32; j++) {
          const u = src[o + 2 + j]!;
          out[outOffset + b * 32 + j] = d * (u > 127 ? u - 256 : u);
        }
      }
      return;
    case 'q4_0':
      for (let b = 0; b < n / 32; b++) {
        const o = base + b * 18;
        const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
        for (let j = 0; j < 16; j++) {
          const q = src[o + 2 + j]!;
          out[outOffset + b * 32 + j] = d * ((q & 15) - 8);
          out[outOffset + b * 32 + j + 16] = d * ((q >> 4) - 8);
        }
      }
      return;
    case 'q4_1':
    case 'q5_0':
    case 'q5_1':
      for (let b = 0; b < n / 32; b++) widenQ41Q5(src, base + b * BLOCK[m.format][1], m.format, out, outOffset + b * 32);
      return;
    case 'q4_k':
    case 'q5_k':
      for (let b = 0; b < n / 256; b++) widenQ45K(src, base + b * BLOCK[m.format][1], m.format === 'q5_k', out, outOffset + b * 256);
      return;
    case 'iq4_nl':
      for (let b = 0; b < n / 32; b++) widenIq4Nl(src, base + b * 18, out, outOffset + b * 32);
      return;
    case 'q6_k':
    case 'q2_k':
    case 'q3_k':
    case 'iq4_xs': {
      const widen = SUPER_BLOCK_WIDENERS[m.format], size = BLOCK[m.format][1];
      for (let b = 0; b < n / 256; b++) widen(src, base + b * size, out, outOffset + b * 256);
      return;
    }
    default:
      throw new RangeError(`unknown packed format "${String(m.format)}" (expected ${PACKED_FORMATS.join(', ')})`);
  }
}

/**
 * One Q4_1 (20 bytes: d, m, 16 bytes of nibbles), Q5_0 (22: d, 32 fifth bits, nibbles) or Q5_1 (24: d, m, fifth bits,
 * nibbles) block. Value j takes the low nibble of byte j (j < 16) or the high nibble of byte j − 16, plus 16 when bit j
 * of the fifth bits is set; Q5_0's value is d·(q − 16), the others' d·q + m (d·q exact: one rounding, at the sum).
 */
function widenQ41Q5(src: Uint8Array, o: number, format: 'q4_1' | 'q5_0' | 'q5_1', out: Float32Array, at: number): void {
  const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
  const m = format === 'q5_0' ? 0 : halfToFloat(src[o + 2]! | (src[o + 3]! << 8));
  const qhAt = format === 'q5_0' ? o + 2 : o + 4;
  const qh = format === 'q4_1' ? 0 : (src[qhAt]! | (src[qhAt + 1]! << 8) | (src[qhAt + 2]! << 16) | (src[qhAt + 3]! << 24)) >>> 0;
  const qs = format === 'q4_1' ? o + 4 : format === 'q5_0' ? o + 6 : o + 8;
  for (let j = 0; j < 32; j++) {
    const q = ((j < 16 ? src[qs + j]! : src[qs + j - 16]! >> 4) & 15) | (((qh >>> j) & 1) << 4);
    out[at + j] = format === 'q5_0' ? d * (q - 16) : d * q + m;
  }
}

/**
 * Scale and min (6 bits each) of sub-block j (0..7) of a Q4_K/Q5_K super-block, from its 12 packed bytes at `o`:
 * sub-blocks 0–3 in the low 6 bits of bytes j and j + 4; 4–7 in the nibbles of byte j + 4 with their top two bits in
 * the high bits of bytes j − 4 (scale) and j (min).
 */
export function kScaleMin(src: Uint8Array, o: number, j: number): [scale: number, min: number] {
  if (j < 4) return [src[o + j]! & 63, src[o + j + 4]! & 63];
  return [(src[o + j + 4]! & 15) | ((src[o + j - 4]! >> 6) << 4), (src[o + j + 4]! >> 4) | ((src[o + j]! >> 6) << 4)];
}

/**
 * One Q4_K (144 bytes: d, dmin, 12 scale bytes, 128 bytes of nibbles) or Q5_K (176 bytes: the same with 32 bytes
 * of fifth bits before the nibbles) super-block. Sub-block s (32 values) takes nibble half s mod 2 of bytes
 * 32·⌊s/2⌋ …; Q5_K adds 16 where bit s of the value's qh byte is set. Value = d·sc·q − dmin·m: d·sc, dmin·m and
 * their product with q are exact in float32, so the one rounding is the subtraction's (as here: exact in float64,
 * then rounded once, or within half a float32 ulp of an exact float32 value when the two are far apart).
 */
function widenQ45K(src: Uint8Array, o: number, five: boolean, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o]! | (src[o + 1]! << 8)), dmin = halfToFloat(src[o + 2]! | (src[o + 3]! << 8));
  const qh = o + 16, qs = o + (five ? 48 : 16);
  for (let s = 0; s < 8; s++) {
    const [sc, mn] = kScaleMin(src, o + 4, s);
    const d1 = d * sc, m1 = dmin * mn, shift = (s & 1) * 4, row = qs + 32 * (s >> 1);
    for (let l = 0; l < 32; l++) {
      let q = (src[row + l]! >> shift) & 15;
      if (five && (src[qh + l]! >> s) & 1) q += 16;
      out[at + 32 * s + l] = d1 * q - m1;
    }
  }
}

/**
 * One Q6_K super-block (210 bytes: 128 bytes of low nibbles, 64 of two-bit highs, 16 int8 scales, then d). Value v
 * = 128n + 32g + l (half n, group g, lane l): low nibble g ≥ 2 of ql[64n + 32(g mod 2) + l], high bits 2g.. of
 * qh[32n + l], q − 32, scale sc[8n + 2g + ⌊l/16⌋]; value = (d·sc)·q, exact (at most 23 significant bits).
 */
function widenQ6K(src: Uint8Array, o: number, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o + 208]! | (src[o + 209]! << 8));
  for (let n = 0; n < 2; n++) {
    for (let g = 0; g < 4; g++) {
      for (let l = 0; l < 32; l++) {
        const lo = (src[o + 64 * n + 32 * (g & 1) + l]! >> (g >= 2 ? 4 : 0)) & 15;
        const hi = (src[o + 128 + 32 * n + l]! >> (2 * g)) & 3;
        const u = src[o + 192 + 8 * n + 2 * g + (l >> 4)]!;
        out[at + 128 * n + 32 * g + l] = d * (u > 127 ? u - 256 : u) * ((lo | (hi << 4)) - 32);
      }
    }
  }
}

/**
 * One Q2_K super-block (84 bytes: 16 scale bytes, 64 bytes of two-bit values, float16 d and dmin): value v =
 * 128h + 32j + l (half h, shift j, lane l) is d·(sc & 15)·q − dmin·(sc >> 4), sc = scales[⌊v/16⌋], q = (qs[32h + l]
 * >> 2j) & 3. Both products are exact in float32, so the one rounding is the difference's, as ggml's.
 */
function widenQ2K(src: Uint8Array, o: number, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o + 80]! | (src[o + 81]! << 8)), dmin = halfToFloat(src[o + 82]! | (src[o + 83]! << 8));
  for (let v = 0; v < 256; v++) {
    const sc = src[o + (v >> 4)]!;
    const q = (src[o + 16 + 32 * (v >> 7) + (v & 31)]! >> (2 * ((v >> 5) & 3))) & 3;
    out[at + v] = d * (sc & 15) * q - dmin * (sc >> 4);
  }
}

/**
 * One Q3_K super-block (110 bytes: 32 bytes of high bits, 64 of two-bit lows, 12 of 6-bit scales, float16 d): value
 * v = 128h + 32j + l is d·(s − 32)·(q − 4), exact in float32, with q = ((qs[32h + l] >> 2j) & 3) + 4·(bit 4h + j of
 * hmask[l]) and the scale s of group g = ⌊v/16⌋: low nibble (scales[g mod 8] >> 4·⌊g/8⌋) & 15, top bits
 * (scales[8 + g mod 4] >> 2·⌊g/4⌋) & 3.
 */
function widenQ3K(src: Uint8Array, o: number, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o + 108]! | (src[o + 109]! << 8));
  for (let g = 0; g < 16; g++) {
    const s = ((src[o + 96 + (g & 7)]! >> (4 * (g >> 3))) & 15) | (((src[o + 104 + (g & 3)]! >> (2 * (g >> 2))) & 3) << 4);
    const dl = d * (s - 32);
    for (let v = 16 * g; v < 16 * g + 16; v++) {
      const l = v & 31, j = v >> 5;
      const q = ((src[o + 32 + 32 * (v >> 7) + l]! >> (2 * (j & 3))) & 3) + 4 * ((src[o + l]! >> j) & 1);
      out[at + v] = dl * (q - 4);
    }
  }
}

/**
 * One IQ4_XS super-block (136 bytes: float16 d, 16 bits of scale tops, 4 bytes of scale nibbles, 128 of 4-bit
 * indices): sub-block s (32 values) has scale ls = nibble s mod 2 of scales_l[⌊s/2⌋] | bits 2s, 2s+1 of scales_h << 4,
 * and its value j is d·(ls − 32)·t[q], t = IQ4_TABLE, q the low nibble of qs[16s + j] (j < 16) or the high one of
 * qs[16s + j − 16]: exact in float32.
 */
function widenIq4Xs(src: Uint8Array, o: number, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o]! | (src[o + 1]! << 8)), high = src[o + 2]! | (src[o + 3]! << 8);
  for (let s = 0; s < 8; s++) {
    const ls = ((src[o + 4 + (s >> 1)]! >> (4 * (s & 1))) & 15) | (((high >> (2 * s)) & 3) << 4);
    const dl = d * (ls - 32);
    for (let j = 0; j < 32; j++) {
      const byte = src[o + 8 + 16 * s + (j & 15)]!;
      out[at + 32 * s + j] = dl * IQ4_TABLE[j < 16 ? byte & 15 : byte >> 4]!;
    }
  }
}

/** One IQ4_NL block (18 bytes: float16 d, 16 bytes of 4-bit indices): value j is d·t[q], t = IQ4_TABLE, q as IQ4_XS's. */
function widenIq4Nl(src: Uint8Array, o: number, out: Float32Array, at: number): void {
  const d = halfToFloat(src[o]! | (src[o + 1]! << 8));
  for (let j = 0; j < 16; j++) {
    const byte = src[o + 2 + j]!;
    out[at + j] = d * IQ4_TABLE[byte & 15]!;
    out[at + j + 16] = d * IQ4_TABLE[byte >> 4]!;
  }
}

/** Widens the super-block at byte `o` of `src` into out[at .. at + 256). */
type BlockWidener = (src: Uint8Array, o: number, out: Float32Array, at: number) => void;

/** The super-block formats widened by one function each, block by block (Q4_K/Q5_K share widenQ45K above). */
const SUPER_BLOCK_WIDENERS: Readonly<Record<'q6_k' | 'q2_k' | 'q3_k' | 'iq4_xs', BlockWidener>> = {
  q6_k: widenQ6K, q2_k: widenQ2K, q3_k: widenQ3K, iq4_xs: widenIq4Xs,
};

/** Value `index` (row-major) of a packed matrix, widened as unpackRows does. */
export function packedValueAt(m: PackedMatrix, index: number): number {
  if (!Number.isSafeInteger(index) || index < 0 || index >= m.length) throw new RangeError(`index ${index} is not inside the matrix's ${m.length} values`);
  const per = packedBlockValues(m.format);
  const row = Math.floor(index / m.cols), col = index % m.cols, start = col - (col % per);
  const block = new Float32Array(per);
  // One block of the row, widened: a sub-matrix view of that block's bytes.
  const bytesPer = BLOCK[m.format][1], at = row * m.rowBytes + (start / per) * bytesPer;
  unpackRows(new PackedMatrix(m.format, 1, per, m.bytes.subarray(at, at + bytesPer)), 0, 1, block);
  return block[col - start]!;
}

/** The whole matrix widened to float32 (row-major `[rows, cols]`). */
export function unpackMatrix(m: PackedMatrix): Float32Array {
  if (!(m instanceof PackedMatrix)) throw argError('unpackMatrix', 'm', 'a PackedMatrix', m);
  const out = new Float32Array(m.rows * m.cols);
  unpackRows(m, 0, m.rows, out);
  return out;
}
