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
   * f = 0..16. prev/cur are query-major blocks (sample m of row r at m·ld + r); acc is float64 in tiles of 16
   * rows, row r bin f at ((r / 16)·17 + f)·16 + r % 16 (namm_acc_size(ld) values).
   */
  void (*stft_accumulate)(const float* prev, const float* cur, int64_t ld, int64_t rows, float weight, double* acc,
                          int threads);
  /** BAM scores of n tokens: x [n, 25], params [4172] (flat layout above), out [n]. */
  void (*bam_scores)(const float* x, int64_t n, const float* params, float* out, int threads);
};

const NammKernelTable& scalar_namm_kernels();
const NammKernelTable& avx2_namm_kernels();
const NammKernelTable& avx512_namm_kernels();

}  // namespace namm
