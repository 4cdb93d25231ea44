// The AVX-512 path (F/BW/DQ/VL): 16 floats per register, a 12×32 GEMM micro-tile (24 accumulators of the 32 ZMM
// registers). Chosen at run time only on CPUs that report AVX-512. NOTE: the development machine (AMD EPYC Zen 3)
// has no AVX-512, so this path is compiled and built every time but has not been executed there; it shares every
// kernel with the tested AVX2 path (kernels_impl.inc) and differs only in the vector type below.
#include "isa_common.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace namm {
namespace avx512 {

#include "avx_transpose.h"
#include "simd_exp.h"

struct V {
  using R = __m512;
  static constexpr const char* kName = "avx512";
  static constexpr int W = 16, MR = 12, NRV = 2;
  static constexpr bool kTranspose8 = true, kF16 = true;
  static constexpr bool kQuant32 = false;  // no load_*x32 (see isa_avx2.cc)
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float v) { return _mm512_set1_ps(v); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static R load_bf16(const uint16_t* p) {  // W bfloat16 values (bit patterns) widened exactly
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
  }
  static R load_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static float half1(uint16_t h) { return _cvtsh_ss(h); }  // one float16 widened by the F16C unit (exact)
  static R load_i8(const int8_t* p) {  // W signed bytes, exactly
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static R load_q4(const uint8_t* p, int shift) {  // ((p[i] >> shift) & 15) − 8 for W bytes, exactly
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m512i q = _mm512_and_si512(_mm512_srl_epi32(b, _mm_cvtsi32_si128(shift)), _mm512_set1_epi32(15));
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(q, _mm512_set1_epi32(8)));
  }
  static __m512i bytes_u32(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m512i field(__m512i b, int shift, int mask) {
    return _mm512_and_si512(_mm512_srl_epi32(b, _mm_cvtsi32_si128(shift)), _mm512_set1_epi32(mask));
  }
  static R load_u4(const uint8_t* p, int shift) { return _mm512_cvtepi32_ps(field(bytes_u32(p), shift, 15)); }  // (p[i] >> shift) & 15
  static R load_q5(const uint8_t* ql, int shift, const uint8_t* qh, int bit) {  // nibble | bit << 4
    const __m512i lo = field(bytes_u32(ql), shift, 15), hi = field(bytes_u32(qh), bit, 1);
    return _mm512_cvtepi32_ps(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)));
  }
  static R load_q6(const uint8_t* ql, int shift, const uint8_t* qh, int hshift) {  // (nibble | 2 bits << 4) − 32
    const __m512i lo = field(bytes_u32(ql), shift, 15), hi = field(bytes_u32(qh), hshift, 3);
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_or_si512(lo, _mm512_slli_epi32(hi, 4)), _mm512_set1_epi32(32)));
  }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(R v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static __m256 fold(R v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); }
  static void hsum4(R a, R b, R c, R d, float* out) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(fold(a), fold(b)), _mm256_hadd_ps(fold(c), fold(d)));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
  }
  static float hmax(R v) {
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // exp building blocks (simd_exp.h)
  static R floor(R v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static R pow2i(R n) {
    __m512i e = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  /**
   * 2^n from t = n + 1.5·2^23 (n integral in [−127, 127], as the addition of that constant leaves it): the low
   * mantissa bits of t hold n, shifted into the exponent field and biased; n = −127 gives exactly 0.
   */
  static R pow2_rounded(R t) {
    const __m512i b = _mm512_slli_epi32(_mm512_castps_si512(t), 23);
    return _mm512_castsi512_ps(_mm512_add_epi32(b, _mm512_set1_epi32(127 << 23)));
  }
  static R clamp(R x, R lo, R hi) {
    // max/min return their second operand when either is NaN: keep x second so NaN propagates.
    return _mm512_min_ps(hi, _mm512_max_ps(lo, x));
  }
  static R select_lt(R x, R c, R a, R b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, c, _CMP_LT_OQ), b, a); }
  static R select_gt(R x, R c, R a, R b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, c, _CMP_GT_OQ), b, a); }
  static R exp(R x) { return cephes_exp<V>(x); }
  static R sqrt(R v) { return _mm512_sqrt_ps(v); }
  static R rsqrt(R v) { return _mm512_rsqrt14_ps(v); }  // ~14 bits

  // 8×8 blocks with AVX2 instructions: packing is not the bottleneck.
  static void transpose8(const float* src, int64_t lds, float* dst, int64_t ldd) { transpose8x8(src, lds, dst, ldd); }
  static void f16(const uint16_t* src, float* dst) {
    _mm512_storeu_ps(dst, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src))));
  }
};

#include "kernels_impl.inc"
#include "namm_kernels.inc"

}  // namespace avx512

const KernelTable& avx512_kernels() { return avx512::kTable; }
const NammKernelTable& avx512_namm_kernels() { return avx512::kNammTable; }

}  // namespace namm

#pragma GCC pop_options

#else  // not x86: the dispatcher never selects this path
namespace namm {
const KernelTable& avx512_kernels() { return scalar_kernels(); }
const NammKernelTable& avx512_namm_kernels() { return scalar_namm_kernels(); }
}  // namespace namm
#endif
