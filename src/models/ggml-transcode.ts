/**
 * ggml block formats that namm reads from GGUF files but has no kernels of its own for: Q3_K and IQ4_NL are rewritten
 * into formats it has kernels for (Q6_K and Q8_0) holding exactly the same values, and Q2_K and IQ4_XS are widened to
 * float32. Values are those of ggml's own float32 conversion, bit for bit (test/fixtures/ggml-reference.json holds
 * gguf-py's widening of random blocks of every format).
 *
 * Why the rewrites are exact: a Q3_K value is d·(s − 32)·q with a float16 d, a 6-bit scale s per 16 values and a
 * 3-bit q − 4, and a Q6_K value is d·s'·(q' − 32) with a float16 d, an int8 scale s' per 16 values and a 6-bit q', so
 * s' = s − 32 and q' = q + 28 give the same products (the float16 d is kept as it is). An IQ4_NL value is d·t[q]
 * with a float16 d per 32 values and t a fixed table of 16 int8 values, which is a Q8_0 value with the int8 t[q].
 * Q2_K (two scales per 16 values, a multiple and an offset) and IQ4_XS (a 6-bit scale times the table) have no such
 * image among the packed formats.
 */
import { halfToFloat } from '../tensor/js.js';

/** Bytes of one 256-value super-block of Q2_K, Q3_K and IQ4_XS, and of one 32-value IQ4_NL block. */
export const Q2_K_BYTES = 84, Q3_K_BYTES = 110, IQ4_XS_BYTES = 136, IQ4_NL_BYTES = 18;
const Q6_K_BYTES = 210, Q8_0_BYTES = 34;

/** The 16 values a 4-bit index of IQ4_NL and IQ4_XS stands for (ggml's kvalues_iq4nl). */
export const IQ4_TABLE: Readonly<Int8Array> = Int8Array.of(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);

function half(src: Uint8Array, o: number): number {
  return halfToFloat(src[o]! | (src[o + 1]! << 8));
}

function wholeBlocks(src: Uint8Array, blocks: number, size: number, what: string): void {
  if (!Number.isSafeInteger(blocks) || blocks < 0 || src.length < blocks * size) {
    throw new RangeError(`${what}: ${blocks} blocks need ${blocks * size} bytes, got ${src.length}`);
  }
}

/**
 * Q3_K super-block (110 bytes: 32 bytes of high bits, 64 of two-bit lows, 12 of 6-bit scales, float16 d): value v
 * has low bits (qs[32·⌊v/128⌋ + v mod 32] >> 2·(⌊v/32⌋ mod 4)) & 3, less 4 unless bit ⌊v/32⌋ of hmask[v mod 32] is
 * set, and scale g = ⌊v/16⌋: low nibble (scales[g mod 8] >> 4·⌊g/8⌋) & 15, top bits (scales[8 + g mod 4] >> 2·⌊g/4⌋)
 * & 3, less 32.
 */
function q3kValue(src: Uint8Array, o: number, v: number): number {
  const l = v & 31, j = v >> 5;
  const low = (src[o + 32 + 32 * (v >> 7) + l]! >> (2 * (j & 3))) & 3;
  return low - ((src[o + l]! >> j) & 1 ? 0 : 4);
}

function q3kScale(src: Uint8Array, o: number, g: number): number {
  const s = o + 96;
  return (((src[s + (g & 7)]! >> (4 * (g >> 3))) & 15) | (((src[s + 8 + (g & 3)]! >> (2 * (g >> 2))) & 3) << 4)) - 32;
}

/** `blocks` Q3_K super-blocks rewritten as Q6_K super-blocks with the same 256 values each. */
export function q3kToQ6k(src: Uint8Array, blocks: number): Uint8Array {
  wholeBlocks(src, blocks, Q3_K_BYTES, 'Q3_K');
  const out = new Uint8Array(blocks * Q6_K_BYTES);
  for (let b = 0; b < blocks; b++) {
    const i = b * Q3_K_BYTES, o = b * Q6_K_BYTES;
    for (let v = 0; v < 256; v++) {
      // Q6_K's value v = 128n + 32g + l: low nibble in ql[64n + 32(g mod 2) + l] (the high one for g ≥ 2), top two
      // bits at 2g in qh[32n + l], minus 32.
      const q = q3kValue(src, i, v) + 32, n = v >> 7, g = (v >> 5) & 3, l = v & 31;
      out[o + 64 * n + 32 * (g & 1) + l] |= (q & 15) << (g >= 2 ? 4 : 0);
      out[o + 128 + 32 * n + l] |= (q >> 4) << (2 * g);
    }
    for (let g = 0; g < 16; g++) out[o + 192 + g] = q3kScale(src, i, g) & 0xff;
    out[o + 208] = src[i + 108]!;
    out[o + 209] = src[i + 109]!;
  }
  return out;
}

/** `blocks` IQ4_NL blocks rewritten as Q8_0 blocks with the same 32 values each (value j < 16: low nibble of byte j, else the high nibble of byte j − 16). */
export function iq4nlToQ8_0(src: Uint8Array, blocks: number): Uint8Array {
  wholeBlocks(src, blocks, IQ4_NL_BYTES, 'IQ4_NL');
  const out = new Uint8Array(blocks * Q8_0_BYTES);
  for (let b = 0; b < blocks; b++) {
    const i = b * IQ4_NL_BYTES, o = b * Q8_0_BYTES;
    out[o] = src[i]!;
    out[o + 1] = src[i + 1]!;
    for (let j = 0; j < 16; j++) {
      out[o + 2 + j] = IQ4_TABLE[src[i + 2 + j]! & 15]! & 0xff;
      out[o + 18 + j] = IQ4_TABLE[src[i + 2 + j]! >> 4]! & 0xff;
    }
  }
  return out;
}

/**
 * `blocks` Q2_K super-blocks (84 bytes: 16 scale bytes, 64 bytes of two-bit values, float16 d and dmin) widened to
 * float32: value v = d·(sc & 15)·q − dmin·(sc >> 4), sc = scales[⌊v/16⌋], q = (qs[32·⌊v/128⌋ + v mod 32] >>
 * 2·(⌊v/32⌋ mod 4)) & 3. Both products are exact in float32, so the one rounding is the difference's, as ggml's.
 */
export function widenQ2K(src: Uint8Array, blocks: number, out: Float32Array, at = 0): void {
  wholeBlocks(src, blocks, Q2_K_BYTES, 'Q2_K');
  for (let b = 0; b < blocks; b++) {
    const i = b * Q2_K_BYTES, d = half(src, i + 80), dmin = half(src, i + 82);
    for (let v = 0; v < 256; v++) {
      const sc = src[i + (v >> 4)]!;
      const q = (src[i + 16 + 32 * (v >> 7) + (v & 31)]! >> (2 * ((v >> 5) & 3))) & 3;
      out[at + 256 * b + v] = d * (sc & 15) * q - dmin * (sc >> 4);
    }
  }
}

/**
 * `blocks` IQ4_XS super-blocks (136 bytes: float16 d, 16 bits of scale tops, 4 bytes of scale nibbles, 128 of 4-bit
 * indices) widened to float32: sub-block s (32 values) has scale ls = nibble s mod 2 of scales_l[⌊s/2⌋] | bits 2s..2s+1
 * of scales_h << 4, and value j of it d·(ls − 32)·t[q], q the low nibble of qs[16s + j] (j < 16) or the high one of
 * qs[16s + j − 16]; the product is exact in float32.
 */
export function widenIq4Xs(src: Uint8Array, blocks: number, out: Float32Array, at = 0): void {
  wholeBlocks(src, blocks, IQ4_XS_BYTES, 'IQ4_XS');
  for (let b = 0; b < blocks; b++) {
    const i = b * IQ4_XS_BYTES, d = half(src, i), high = src[i + 2]! | (src[i + 3]! << 8);
    for (let s = 0; s < 8; s++) {
      const ls = ((src[i + 4 + (s >> 1)]! >> (4 * (s & 1))) & 15) | (((high >> (2 * s)) & 3) << 4);
      const dl = d * (ls - 32);
      for (let j = 0; j < 32; j++) {
        const byte = src[i + 8 + 16 * s + (j & 15)]!;
        out[at + 256 * b + 32 * s + j] = dl * IQ4_TABLE[j < 16 ? byte & 15 : byte >> 4]!;
      }
    }
  }
}
