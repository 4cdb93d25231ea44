// Weight formats a matrix can stay in while the GEMM reads it (Backend.matmulABt with a PackedMatrix): each row of
// W [N, K] is self-contained, so a kernel can widen any row range to float32 on the fly. Codes as in
// src/tensor/packed.ts.
#pragma once
#include <cstdint>

namespace namm {

enum PackedFormat : int { kPackedF16 = 1, kPackedBf16 = 2, kPackedQ8_0 = 3, kPackedQ4_0 = 4 };

/** Values per block (a row is whole blocks) and bytes per block; 0 for an unknown code. */
inline int packed_block_values(int format) {
  switch (format) {
    case kPackedF16: case kPackedBf16: return 1;
    case kPackedQ8_0: case kPackedQ4_0: return 32;
  }
  return 0;
}
inline int packed_block_bytes(int format) {
  switch (format) {
    case kPackedF16: case kPackedBf16: return 2;
    case kPackedQ8_0: return 34;  // f16 scale + 32 int8
    case kPackedQ4_0: return 18;  // f16 scale + 16 bytes of two 4-bit values
  }
  return 0;
}

}  // namespace namm
