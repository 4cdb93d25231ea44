// The AVX2 + FMA (+ F16C) path: 8 floats per register, a 6×16 GEMM micro-tile (12 accumulators + 2 B registers
// + 1 broadcast of the 16 YMM registers). Compiled for that ISA only inside the target region below, and only
// run when the CPU reports all three extensions, so the binary stays portable.
#include "isa_common.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace namm {
namespace avx2 {

#include "avx_transpose.h"
#include "simd_exp.h"

struct V {
  using R = __m256;
  static constexpr const char* kName = "avx2";
  static constexpr int W = 8, MR = 6, NRV = 2;
  static constexpr bool kTranspose8 = true, kF16 = true;
  // load_u4x32 / load_q5x32 / load_q6x32: a k-quant run of 32 values at once, its fields cut out with byte operations;
  // bits16: Q5_0/Q5_1 values W at a time; load_q2x32 / load_q3x32 / load_lut16x32: the runs of Q2_K, Q3_K, IQ4_XS
  static constexpr bool kQuant32 = true;
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float v) { return _mm256_set1_ps(v); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R load_bf16(const uint16_t* p) {  // W bfloat16 values (bit patterns) widened exactly
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  }
  static R load_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static R load_i8(const int8_t* p) {  // W signed bytes, exactly
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static R load_q4(const uint8_t* p, int shift) {  // ((p[i] >> shift) & 15) − 8 for W bytes, exactly
    const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m256i q = _mm256_and_si256(_mm256_srl_epi32(b, _mm_cvtsi32_si128(shift)), _mm256_set1_epi32(15));
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8)));
  }
  static __m256i bytes_u32(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
  static __m256i field(__m256i b, int shift, int mask) {
    return _mm256_and_si256(_mm256_srl_epi32(b, _mm_cvtsi32_si128(shift)), _mm256_set1_epi32(mask));
  }
  static R load_u4(const uint8_t* p, int shift) { return _mm256_cvtepi32_ps(field(bytes_u32(p), shift, 15)); }  // (p[i] >> shift) & 15
  static R load_q5(const uint8_t* ql, int shift, const uint8_t* qh, int bit) {  // nibble | bit << 4
    const __m256i lo = field(bytes_u32(ql), shift, 15), hi = field(bytes_u32(qh), bit, 1);
    return _mm256_cvtepi32_ps(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)));
  }
  static R load_q6(const uint8_t* ql, int shift, const uint8_t* qh, int hshift) {  // (nibble | 2 bits << 4) − 32
    const __m256i lo = field(bytes_u32(ql), shift, 15), hi = field(bytes_u32(qh), hshift, 3);
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32)));
  }
  // 32 bytes, one value each, into 4 registers (bytes 0–7, 8–15, 16–23, 24–31) as floats, exactly: unsigned bytes, or
  // signed ones with `sign`.
  template <bool sign>
  static void widen_x32(__m256i q, R (&out)[4]) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i part[4] = {lo, _mm_unpackhi_epi64(lo, lo), hi, _mm_unpackhi_epi64(hi, hi)};
    for (int i = 0; i < 4; i++) out[i] = _mm256_cvtepi32_ps(sign ? _mm256_cvtepi8_epi32(part[i]) : _mm256_cvtepu8_epi32(part[i]));
  }
  // (p[i] >> shift) & mask for 32 bytes. The shift runs in 16-bit lanes: the bits it brings into a low byte from the
  // high one land at 8 − shift and above, outside every mask used here (shift + width ≤ 8).
  static __m256i field_x32(const uint8_t* p, int shift, int mask) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_and_si256(_mm256_srl_epi16(b, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(static_cast<char>(mask)));
  }
  static float half1(uint16_t h) { return _cvtsh_ss(h); }  // one float16 widened by the F16C unit (exact)
  static R bits16(uint8_t byte) {  // lane i: 16 where bit i of `byte` is set, else 0 (Q5_0/Q5_1's fifth bits)
    const __m256i m = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i hit = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(byte), m), m);
    return _mm256_cvtepi32_ps(_mm256_and_si256(hit, _mm256_set1_epi32(16)));
  }
  static void load_u4x32(const uint8_t* p, int shift, R (&out)[4]) { widen_x32<false>(field_x32(p, shift, 15), out); }
  static void load_q5x32(const uint8_t* ql, int shift, const uint8_t* qh, int bit, R (&out)[4]) {
    widen_x32<false>(_mm256_or_si256(field_x32(ql, shift, 15), _mm256_slli_epi16(field_x32(qh, bit, 1), 4)), out);
  }
  static void load_q6x32(const uint8_t* ql, int shift, const uint8_t* qh, int hshift, R (&out)[4]) {
    const __m256i q = _mm256_or_si256(field_x32(ql, shift, 15), _mm256_slli_epi16(field_x32(qh, hshift, 3), 4));
    widen_x32<true>(_mm256_sub_epi8(q, _mm256_set1_epi8(32)), out);
  }
  // The low-bit super-blocks: a Q2_K run ((p[i] >> shift) & 3), a Q3_K run (that | bit `bit` of hm[i] << 2, less 4,
  // signed) and an IQ4_XS sub-block (table[nibble]: the low nibbles of 16 bytes, then their high ones), 32 values each.
  static void load_q2x32(const uint8_t* p, int shift, R (&out)[4]) { widen_x32<false>(field_x32(p, shift, 3), out); }
  static void load_q3x32(const uint8_t* ql, int shift, const uint8_t* hm, int bit, R (&out)[4]) {
    const __m256i q = _mm256_or_si256(field_x32(ql, shift, 3), _mm256_slli_epi16(field_x32(hm, bit, 1), 2));
    widen_x32<true>(_mm256_sub_epi8(q, _mm256_set1_epi8(4)), out);
  }
  static void load_lut16x32(const uint8_t* q16, const int8_t* table, R (&out)[4]) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q16)), m = _mm_set1_epi8(15);
    const __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    const __m256i t = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
    widen_x32<true>(_mm256_shuffle_epi8(t, idx), out);
  }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static void hsum4(R a, R b, R c, R d, float* out) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));  // per lane: a b c d partial sums
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
  }
  static float hmax(R v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // exp building blocks (simd_exp.h)
  static R floor(R v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static R pow2i(R n) {
    __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  /**
   * 2^n from t = n + 1.5·2^23 (n integral in [−127, 127], as the addition of that constant leaves it): the low
   * mantissa bits of t hold n, shifted into the exponent field and biased; n = −127 gives exactly 0.
   */
  static R pow2_rounded(R t) {
    const __m256i b = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(b, _mm256_set1_epi32(127 << 23)));
  }
  static R clamp(R x, R lo, R hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }  // NaN x stays NaN
  static R select_lt(R x, R c, R a, R b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, c, _CMP_LT_OQ)); }
  static R select_gt(R x, R c, R a, R b) { return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, c, _CMP_GT_OQ)); }
  static R exp(R x) { return cephes_exp<V>(x); }
  static R sqrt(R v) { return _mm256_sqrt_ps(v); }
  static R rsqrt(R v) { return _mm256_rsqrt_ps(v); }  // ~12 bits

  static void transpose8(const float* src, int64_t lds, float* dst, int64_t ldd) { transpose8x8(src, lds, dst, ldd); }
  static void f16(const uint16_t* src, float* dst) {
    _mm256_storeu_ps(dst, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))));
  }
};

#include "kernels_impl.inc"
#include "namm_kernels.inc"

}  // namespace avx2

const KernelTable& avx2_kernels() { return avx2::kTable; }
const NammKernelTable& avx2_namm_kernels() { return avx2::kNammTable; }

}  // namespace namm

#pragma GCC pop_options

#else  // not x86: the dispatcher never selects this path
namespace namm {
const KernelTable& avx2_kernels() { return scalar_kernels(); }
const NammKernelTable& avx2_namm_kernels() { return scalar_namm_kernels(); }
}  // namespace namm
#endif
