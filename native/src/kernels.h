// The kernel table: one instance per SIMD path (isa_scalar.cc, isa_avx2.cc, isa_avx512.cc), all compiled from
// the same generic source (kernels_impl.inc) over a different vector type. Arguments are already validated by
// the N-API layer (addon.cc): pointers cover the sizes given, counts are non-negative.
#pragma once
#include <cstdint>

namespace namm {

/** C[M,N] (+)= A·B where A[i,k] = a[i·rsA + k·csA], B[k,j] = b[k·rsB + j·csB] and C[i,j] = c[i·ldc + j]. */
struct GemmArgs {
  const float* a;
  const float* b;
  float* c;
  int64_t M, K, N;
  int64_t rsA, csA, rsB, csB;
  int64_t ldc;  // ≥ N
  bool accumulate;
  // Packed weights (A·Bᵀ only): when bq is set, B's rows are W's rows [N, K] in format bFormat, bRowBytes bytes
  // each (b is then unused). Every value is widened to float32 exactly as the format's conversion does, and the
  // arithmetic is the float32 path's on those values (packed_formats.h).
  const uint8_t* bq;
  int bFormat;
  int64_t bRowBytes;
};

struct AttentionArgs {
  const float* q;  // [nQ, nHeads, headDim]
  int64_t nQ, nHeads, nKvHeads, headDim;
  const float* const* keys;    // per KV head, [lens[h], headDim]
  const float* const* values;  // per KV head, [lens[h], headDim]
  const int32_t* lens;         // per KV head, each ≥ nQ
  float scale;
  float* out;            // [nQ, nHeads, headDim]
  float* const* probs;   // null, or per KV head [nQ, lens[h]]
  bool probsBf16;        // probs as a bfloat16 model's: each head's rounded to bf16, then their mean rounded again
  uint16_t* const* probs16;  // null, or (instead of probs, with probsBf16) per KV head [nQ, lens[h]] bf16 bit patterns
  const int32_t* firstRow;   // null (every query sees row 0 on), or [nKvHeads, nQ]: the first row each query sees
};

struct KernelTable {
  const char* name;
  void (*gemm)(const GemmArgs& g, int threads);
  void (*rms_norm)(float* out, const float* x, const float* weight, int64_t rows, int64_t dim, double eps, int threads);
  void (*layer_norm)(float* out, const float* x, const float* weight, const float* bias, int64_t rows, int64_t dim,
                     double eps, int threads);
  void (*rope)(float* x, int64_t rows, int64_t nHeads, int64_t headDim, const int32_t* positions, const float* invFreq,
               int64_t half, bool interleaved, int threads);
  void (*silu_mul)(float* out, const float* gate, const float* up, int64_t n, int threads);
  void (*gelu_tanh)(float* out, const float* x, int64_t n, int threads);
  void (*gelu_erf)(float* out, const float* x, int64_t n, int threads);
  void (*softmax)(float* x, int64_t rows, int64_t cols, int threads);
  void (*add)(float* out, const float* a, const float* b, int64_t n, int threads);
  void (*add_bias)(float* x, const float* bias, int64_t rows, int64_t cols, int threads);
  void (*attention)(const AttentionArgs& a, int threads);
  /**
   * Floats of scratch that attention needs per thread for this shape (maxLen: the longest lens[h]; probs16: bf16
   * probabilities), or −1 when its size in bytes does not fit in 64 bits.
   */
  int64_t (*attention_scratch_floats)(int64_t nQ, int64_t nHeads, int64_t nKvHeads, int64_t headDim, int64_t maxLen,
                                      bool probs16);
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n, int threads);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n, int threads);
  void (*q8_0_to_f32)(const uint8_t* src, float* dst, int64_t n, int threads);
  /** Causal GQA self-attention over T positions for training: out [T,nHeads,hd], lse [T,nHeads]. */
  void (*train_attention_forward)(float* out, double* lse, const float* q, const float* k, const float* v, int64_t T,
                                  int64_t nHeads, int64_t nKvHeads, int64_t headDim, float scale, int threads);
  /** Its backward: dq, dk, dv overwritten from dout and the forward's out and lse. */
  void (*train_attention_backward)(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                                   const float* v, const float* out, const double* lse, int64_t T, int64_t nHeads,
                                   int64_t nKvHeads, int64_t headDim, float scale, int threads);
  /** Float64 symmetric eigendecomposition in place (eigenvectors as rows); −1 or the non-converged index. */
  int64_t (*symmetric_eigen)(double* a, int64_t n, double* values, int threads);
  /** Training rows (kernels_train_rows.inc). Softmax cross-entropy fused with its backward, in place; targets −1 ignored. */
  void (*cross_entropy)(float* logits, const int32_t* targets, int64_t T, int64_t V, float gradScale, double* rowLoss,
                        int threads);
  void (*silu_mul_backward)(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n,
                            int threads);
  void (*gelu_tanh_backward)(float* dx, const float* dout, const float* x, int64_t n, int threads);
  void (*rms_norm_train)(float* out, double* rstd, const float* x, const float* w, int64_t rows, int64_t dim, double eps,
                         int threads);
  /** dx is added into; dw accumulates. */
  void (*rms_norm_backward)(float* dx, float* dw, const float* dy, const float* x, const float* w, const double* rstd,
                            int64_t rows, int64_t dim, int threads);
  void (*layer_norm_train)(float* out, double* mean, double* rstd, const float* x, const float* w, const float* b,
                           int64_t rows, int64_t dim, double eps, int threads);
  /** dx is added into; dw and db accumulate. */
  void (*layer_norm_backward)(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                              const double* mean, const double* rstd, int64_t rows, int64_t dim, int threads);
};

const KernelTable& scalar_kernels();
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();

}  // namespace namm
