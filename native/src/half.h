// Exact scalar IEEE binary16 and bfloat16 → float32 conversions (the tails of the SIMD loops and the scalar path).
#pragma once
#include <cstdint>
#include <cstring>

namespace namm {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, frac = h & 0x3ffu;
  // inf, or NaN with its payload and the quiet bit set, as the F16C conversion of the SIMD paths does to a
  // signalling NaN (so a value widens the same in a loop's tail as in its body).
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | ((frac ? frac | 0x200u : 0u) << 13));
  if (exp != 0) return bits_to_float(sign | ((exp + 112u) << 23) | (frac << 13));
  if (frac == 0) return bits_to_float(sign);
  // Subnormal half: value = frac · 2^-24, exactly representable as a normal float.
  float v = static_cast<float>(frac) * 5.9604644775390625e-8f;
  return sign ? -v : v;
}

inline float bf16_to_float(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

/** x rounded to the nearest bfloat16 (ties to even), as a float; for finite x (attention probabilities). */
inline float round_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  return bits_to_float(u);
}

}  // namespace namm
