/**
 * IQ4_NL, a ggml block format that namm reads from GGUF files but keeps no kernels of its own for: an IQ4_NL value is
 * a float16 scale d per 32 values times t[q], t a fixed table of 16 int8 values (IQ4_TABLE) and q a 4-bit index,
 * which is exactly a Q8_0 value with the int8 t[q]. So IQ4_NL matrices (llama.cpp's fallback in IQ4_XS files for rows
 * that are not whole 256-value super-blocks) are rewritten as Q8_0 as they are read, holding the same values (1.06
 * bytes a weight instead of 0.56; test/fixtures/ggml-reference.json checks them against ggml's own Python package).
 */
import { IQ4_TABLE } from '../tensor/packed.js';

/** Bytes of one 32-value IQ4_NL block. */
export const IQ4_NL_BYTES = 18;
const Q8_0_BYTES = 34;

/** `blocks` IQ4_NL blocks rewritten as Q8_0 blocks with the same 32 values each (value j < 16: low nibble of byte j, else the high nibble of byte j − 16). */
export function iq4nlToQ8_0(src: Uint8Array, blocks: number): Uint8Array {
  if (!Number.isSafeInteger(blocks) || blocks < 0 || src.length < blocks * IQ4_NL_BYTES) {
    throw new RangeError(`IQ4_NL: ${blocks} blocks need ${blocks * IQ4_NL_BYTES} bytes, got ${src.length}`);
  }
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
