/** Seeded random inputs for kernel tests: every array comes from an Rng, so a failing case replays exactly. */
import { Rng } from '../../src/util/rng.js';

/** n standard-normal values times `scale`, rounded to float32. */
export function randomF32(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** n values uniform in [lo, hi), rounded to float32. */
export function uniformF32(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.float();
  return a;
}

/** n random 16-bit patterns (every f16/bf16 class appears: normals, subnormals, ±0, ±∞, NaN). */
export function randomU16(rng: Rng, n: number): Uint16Array {
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.nextU32() & 0xffff;
  return a;
}

/** nBlocks random GGML Q8_0 blocks: a finite f16 scale of moderate size, then 32 random int8 quants. */
export function randomQ8_0(rng: Rng, nBlocks: number): Uint8Array {
  const a = new Uint8Array(nBlocks * 34);
  for (let b = 0; b < nBlocks; b++) {
    // Exponent field 5..20 (scales ≈ 2^-10 .. 2^5), any mantissa, either sign.
    const scaleBits = ((rng.int(2) << 15) | ((5 + rng.int(16)) << 10) | rng.int(1024)) >>> 0;
    a[b * 34] = scaleBits & 0xff; a[b * 34 + 1] = scaleBits >> 8;
    for (let i = 0; i < 32; i++) a[b * 34 + 2 + i] = rng.int(256);
  }
  return a;
}

/** A copy, so an in-place kernel can be run twice on the same input. */
export function copyF32(a: Float32Array): Float32Array {
  return new Float32Array(a);
}
