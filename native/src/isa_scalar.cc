// The portable path: plain C++ (the compiler may still auto-vectorise with the baseline ISA, e.g. SSE2).
// It is the only path on non-x86 CPUs and the fallback on x86 CPUs without AVX2.
#include "isa_common.h"

namespace namm {
namespace scalar {

struct V {
  using R = float;
  static constexpr const char* kName = "scalar";
  static constexpr int W = 1, MR = 4, NRV = 4;
  static constexpr bool kTranspose8 = false, kF16 = false;
  static constexpr bool kQuant32 = false;  // no load_*x32 (see isa_avx2.cc)
  static R zero() { return 0.f; }
  static R set1(float v) { return v; }
  static R load(const float* p) { return *p; }
  static R load_bf16(const uint16_t* p) { return bf16_to_float(*p); }
  static R load_f16(const uint16_t* p) { return half_to_float(*p); }
  static float half1(uint16_t h) { return half_to_float(h); }
  static R load_i8(const int8_t* p) { return static_cast<float>(*p); }
  static R load_q4(const uint8_t* p, int shift) { return static_cast<float>(((*p >> shift) & 15) - 8); }
  static R load_u4(const uint8_t* p, int shift) { return static_cast<float>((*p >> shift) & 15); }
  static R load_q5(const uint8_t* ql, int shift, const uint8_t* qh, int bit) {
    return static_cast<float>(((*ql >> shift) & 15) | (((*qh >> bit) & 1) << 4));
  }
  static R load_q6(const uint8_t* ql, int shift, const uint8_t* qh, int hshift) {
    return static_cast<float>((((*ql >> shift) & 15) | (((*qh >> hshift) & 3) << 4)) - 32);
  }
  static void store(float* p, R v) { *p = v; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R max(R a, R b) { return a > b ? a : b; }
  static R clamp(R x, R lo, R hi) { return x < lo ? lo : x > hi ? hi : x; }  // NaN x stays NaN
  static R select_lt(R x, R c, R a, R b) { return x < c ? a : b; }
  static R select_gt(R x, R c, R a, R b) { return x > c ? a : b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static float hsum(R v) { return v; }
  static float hmax(R v) { return v; }
  static void hsum4(R a, R b, R c, R d, float* out) { out[0] = a, out[1] = b, out[2] = c, out[3] = d; }
  static R exp(R v) { return std::exp(v); }
  static R sqrt(R v) { return std::sqrt(v); }
  static R rsqrt(R v) { return 1.f / std::sqrt(v); }
  static void transpose8(const float*, int64_t, float*, int64_t) {}
  static void f16(const uint16_t*, float*) {}
};

#include "kernels_impl.inc"
#include "namm_kernels.inc"

}  // namespace scalar

const KernelTable& scalar_kernels() { return scalar::kTable; }
const NammKernelTable& scalar_namm_kernels() { return scalar::kNammTable; }

}  // namespace namm
