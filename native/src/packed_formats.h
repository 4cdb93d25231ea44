// Weight formats a matrix can stay in while the GEMM reads it (Backend.matmulABt with a PackedMatrix): each row of
// W [N, K] is self-contained, so a kernel can widen any row range to float32 on the fly. Codes as in
// src/tensor/packed.ts.
#pragma once
#include <cstdint>

namespace namm {

enum PackedFormat : int {
  kPackedF16 = 1, kPackedBf16 = 2, kPackedQ8_0 = 3, kPackedQ4_0 = 4,
  kPackedQ4_K = 5, kPackedQ5_K = 6, kPackedQ6_K = 7,  // ggml k-quants: super-blocks of 256 values
  kPackedQ4_1 = 8, kPackedQ5_0 = 9, kPackedQ5_1 = 10,  // 32-value blocks with an offset and/or a fifth bit
  kPackedQ2_K = 11, kPackedQ3_K = 12, kPackedIQ4_XS = 13,  // low-bit super-blocks of 256 values
  kPackedIQ4_NL = 14,  // 32-value blocks: a float16 scale times a table of 16 int8 values
};
constexpr int kPackedFormats = 14;

/** Values per block (a row is whole blocks) and bytes per block; 0 for an unknown code. */
inline int packed_block_values(int format) {
  switch (format) {
    case kPackedF16: case kPackedBf16: return 1;
    case kPackedQ8_0: case kPackedQ4_0: case kPackedQ4_1: case kPackedQ5_0: case kPackedQ5_1: case kPackedIQ4_NL: return 32;
    case kPackedQ4_K: case kPackedQ5_K: case kPackedQ6_K: case kPackedQ2_K: case kPackedQ3_K: case kPackedIQ4_XS: return 256;
  }
  return 0;
}
inline int packed_block_bytes(int format) {
  switch (format) {
    case kPackedF16: case kPackedBf16: return 2;
    case kPackedQ8_0: return 34;  // f16 scale + 32 int8
    case kPackedQ4_0: return 18;  // f16 scale + 16 bytes of two 4-bit values
    case kPackedQ4_K: return 144;  // d, dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
    case kPackedQ5_K: return 176;  // as Q4_K plus 32 bytes of fifth bits
    case kPackedQ6_K: return 210;  // 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales, d
    case kPackedQ4_1: return 20;   // d, m, 16 bytes of nibbles
    case kPackedQ5_0: return 22;   // d, 32 fifth bits, 16 bytes of nibbles
    case kPackedQ5_1: return 24;   // d, m, 32 fifth bits, 16 bytes of nibbles
    case kPackedQ2_K: return 84;   // 16 bytes of 4-bit scales and mins, 64 bytes of 2-bit values, d, dmin
    case kPackedQ3_K: return 110;  // 32 bytes of high bits, 64 of 2-bit lows, 12 of 6-bit scales, d
    case kPackedIQ4_XS: return 136;  // d, 16 bits of scale tops, 4 bytes of scale nibbles, 128 bytes of 4-bit indices
    case kPackedIQ4_NL: return 18;   // d, 16 bytes of 4-bit indices
  }
  return 0;
}

}  // namespace namm
