// Which SIMD instruction sets this CPU (and its OS) can run, detected once at load time.
#pragma once

namespace namm {

enum class Simd { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, the set the AVX2 kernels are compiled for
  bool avx512 = false;  // AVX-512 F/BW/DQ/VL + the AVX2 set
};

const CpuFeatures& cpu_features();
/** Best path this CPU runs. */
Simd best_simd();
bool simd_supported(Simd s);
const char* simd_name(Simd s);

}  // namespace namm
