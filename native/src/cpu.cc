#include "cpu.h"

namespace namm {

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  // libgcc's __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state (XGETBV), so a CPU that has
  // the instructions under an OS that does not enable them is reported as lacking them.
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

Simd best_simd() {
  const CpuFeatures& f = cpu_features();
  return f.avx512 ? Simd::Avx512 : f.avx2 ? Simd::Avx2 : Simd::Scalar;
}

bool simd_supported(Simd s) {
  switch (s) {
    case Simd::Scalar: return true;
    case Simd::Avx2: return cpu_features().avx2;
    case Simd::Avx512: return cpu_features().avx512;
  }
  return false;
}

const char* simd_name(Simd s) {
  switch (s) {
    case Simd::Scalar: return "scalar";
    case Simd::Avx2: return "avx2";
    case Simd::Avx512: return "avx512";
  }
  return "unknown";
}

}  // namespace namm
