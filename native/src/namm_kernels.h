// The NAMM policy kernels (spec/namm.md §2–§3): the STFT-magnitude accumulation of the attention spectrogram and
// the BAM scorer. A table of their own, beside KernelTable, so the NAMM kernels live in their own files
// (namm_kernels.inc, compiled once per SIMD path by the isa_*.cc files) and never touch the shared table.
// Arguments are validated by the N-API layer (addon.cc); the kernels trust them.
#pragma once
#include <cstdint>

namespace namm {

/** Frame length, hop, one-sided bins and BAM sizes: fixed by the reference configuration. */
constexpr int kNammFft = 32, kNammHop = 16, kNammBins = 17;
/** Rows per accumulator tile: row r, bin f lives at ((r / 16)·17 + f)·16 + r % 16. */
constexpr int kNammAccBlock = 16;
/** Accumulator doubles for ld rows: whole tiles. */
constexpr int64_t namm_acc_size(int64_t ld) { return (ld + kNammAccBlock - 1) / kNammAccBlock * kNammBins * kNammAccBlock; }
constexpr int kBamDim = 25, kBamHidden = 32, kBamOut = 50;
/** Flat BAM parameter layout (src/memory/namm/params.ts): Wqkv, bqkv, Wo, bo, w, b. */
constexpr int kBamOffWqkv = 0, kBamOffBqkv = 2400, kBamOffWo = 2496, kBamOffBo = 4096, kBamOffW = 4146, kBamOffB = 4171;
constexpr int kBamParams = 4172;

struct NammKernelTable {
  /**
   * For rows r < rows: acc[r, f] += weight · |DFT_f(hann · [prev[0..16)·ld + r | cur[0..16)·ld + r])|,
   * f = 0..16. prev/cur are query-major blocks (sample m of row r at m·ld + r); acc is float32 in tiles of 16
   * rows, row r bin f at ((r / 16)·17 + f)·16 + r % 16 (namm_acc_size(ld) values).
   */
  void (*stft_accumulate)(const float* prev, const float* cur, int64_t ld, int64_t rows, float weight, float* acc,
                          int threads);
  /**
   * `frames` consecutive frames in one call, bit-identical to one stft_accumulate per frame in order: frame t is
   * [block t−1 | block t] where block −1 is prev (stride prevLd) and block t ≥ 0 starts at next + 16·t·nextLd
   * (stride nextLd); it adds weights[t]·|X| to rows r < rows[t] (rows[t] ≤ nextLd, and rows[0] ≤ prevLd).
   * When `last` is not null, the last block's rows r < max rows[t] are also written there (sample m of row r at
   * m·lastLd + r, as float32): the previous block of the next call. `last` may be `prev` itself (each row is read
   * before it is written), but must not overlap `next`.
   */
  void (*stft_accumulate_frames)(const float* prev, int64_t prevLd, const float* next, int64_t nextLd, int64_t frames,
                                 const int32_t* rows, const float* weights, float* acc, float* last, int64_t lastLd,
                                 int threads);
  /** The same with `next` as bfloat16 bit patterns (packed bf16 attention taps), widened exactly to float32. */
  void (*stft_accumulate_frames_bf16)(const float* prev, int64_t prevLd, const uint16_t* next, int64_t nextLd,
                                      int64_t frames, const int32_t* rows, const float* weights, float* acc,
                                      float* last, int64_t lastLd, int threads);
  /** BAM scores of n tokens: x [n, 25], params [4172] (flat layout above), out [n]. */
  void (*bam_scores)(const float* x, int64_t n, const float* params, float* out, int threads);
  /**
   * Closes a window for n rows: raw[k, f] = f32(decay·oldEma[k, f] + acc[k, f]) for k < nOld (float64 arithmetic,
   * one rounding) and acc[k, f] for the rest (acc in the tiled layout, each value read is reset to 0), and the
   * scorer input feat[k] = [table[(positions[n−1] − positions[k])·8 .. +8) | e_k] with
   * e_k[f] = f32((raw[k, f] − norm[f])·norm[17 + f]) when norm is given (mean then 1/σ, float64), else raw[k, f].
   * Recency indices are in range.
   */
  void (*features)(float* acc, int64_t n, int64_t nOld, const float* oldEma, double decay, const int32_t* positions,
                   const float* table, const double* norm, float* raw, float* feat);
  /** dst[p·dstPlane + i·width + c] = src[p·srcPlane + keep[i]·width + c], p < planes, i < k, c < width. */
  void (*gather_rows)(const float* src, int64_t srcPlane, float* dst, int64_t dstPlane, int64_t planes, int64_t width,
                      const int32_t* keep, int64_t k);
};

const NammKernelTable& scalar_namm_kernels();
const NammKernelTable& avx2_namm_kernels();
const NammKernelTable& avx512_namm_kernels();

}  // namespace namm
