// The N-API surface: a `Kernels` class whose instances hold a SIMD path and a thread count and expose every
// entry of the Backend interface (src/tensor/backend.ts). Every method validates its arguments completely before
// any kernel runs; the kernels themselves (kernels_impl.inc) trust what they are given.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "cpu.h"
#include "kernels.h"
#include "namm_kernels.h"
#include "packed_formats.h"
#include "thread_pool.h"

namespace namm {

static const KernelTable& table_for(Simd s) {
  switch (s) {
    case Simd::Avx512: return avx512_kernels();
    case Simd::Avx2: return avx2_kernels();
    case Simd::Scalar: break;
  }
  return scalar_kernels();
}

class Kernels : public Napi::ObjectWrap<Kernels> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Kernels",
                       {
                           InstanceAccessor<&Kernels::GetThreads, &Kernels::SetThreads>("threads"),
                           InstanceAccessor<&Kernels::GetSimd>("simd"),
                           InstanceMethod<&Kernels::ForceSimd>("forceSimd"),
                           InstanceMethod<&Kernels::MatmulABt>("matmulABt"),
                           InstanceMethod<&Kernels::MatmulABtPacked>("matmulABtPacked"),
                           InstanceMethod<&Kernels::MatmulAB>("matmulAB"),
                           InstanceMethod<&Kernels::MatmulAtB>("matmulAtB"),
                           InstanceMethod<&Kernels::RmsNorm>("rmsNorm"),
                           InstanceMethod<&Kernels::LayerNorm>("layerNorm"),
                           InstanceMethod<&Kernels::Rope>("rope"),
                           InstanceMethod<&Kernels::SiluMul>("siluMul"),
                           InstanceMethod<&Kernels::Gelu>("gelu"),
                           InstanceMethod<&Kernels::Softmax>("softmax"),
                           InstanceMethod<&Kernels::Add>("add"),
                           InstanceMethod<&Kernels::AddBias>("addBias"),
                           InstanceMethod<&Kernels::Attention>("attention"),
                           InstanceMethod<&Kernels::F16ToF32>("f16ToF32"),
                           InstanceMethod<&Kernels::Bf16ToF32>("bf16ToF32"),
                           InstanceMethod<&Kernels::Q8_0ToF32>("q8_0ToF32"),
                           InstanceMethod<&Kernels::TrainAttentionForward>("trainAttentionForward"),
                           InstanceMethod<&Kernels::TrainAttentionBackward>("trainAttentionBackward"),
                           InstanceMethod<&Kernels::SymmetricEigen>("symmetricEigen"),
                           InstanceMethod<&Kernels::CrossEntropy>("crossEntropy"),
                           InstanceMethod<&Kernels::SiluMulBackward>("siluMulBackward"),
                           InstanceMethod<&Kernels::GeluTanhBackward>("geluTanhBackward"),
                           InstanceMethod<&Kernels::RmsNormTrain>("rmsNormTrain"),
                           InstanceMethod<&Kernels::RmsNormBackward>("rmsNormBackward"),
                           InstanceMethod<&Kernels::LayerNormTrain>("layerNormTrain"),
                           InstanceMethod<&Kernels::LayerNormBackward>("layerNormBackward"),
                           InstanceMethod<&Kernels::StftAccumulate>("stftAccumulate"),
                           InstanceMethod<&Kernels::StftAccumulateFrames>("stftAccumulateFrames"),
                           InstanceMethod<&Kernels::BamScores>("bamScores"),
                           InstanceMethod<&Kernels::NammFeatures>("nammFeatures"),
                           InstanceMethod<&Kernels::GatherRows>("gatherRows"),
                           InstanceMethod<&Kernels::CompactRows>("compactRows"),
                       });
  }

  explicit Kernels(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Kernels>(info), simd_(best_simd()), threads_(default_threads()) {}

 private:
  Simd simd_;
  int threads_;

  /** stftAccumulate(prev, cur, ld, rows, weight, acc): NAMM spectrogram frame (namm_kernels.h). */
  Napi::Value StftAccumulate(const Napi::CallbackInfo& info);
  /** stftAccumulateFrames(prev, prevLd, next, nextLd, frames, rows, weights, acc[, last, lastLd]): consecutive frames. */
  Napi::Value StftAccumulateFrames(const Napi::CallbackInfo& info);
  /** bamScores(x, n, params, out): NAMM BAM scores (namm_kernels.h). */
  Napi::Value BamScores(const Napi::CallbackInfo& info);
  /** nammFeatures(acc, n, nOld, oldEma, decay, positions, table, norm, raw, features): closes a window. */
  Napi::Value NammFeatures(const Napi::CallbackInfo& info);
  /** gatherRows(src, srcPlane, dst, dstPlane, planes, width, keep, k): rows `keep` of every plane. */
  Napi::Value GatherRows(const Napi::CallbackInfo& info);
  Napi::Value CompactRows(const Napi::CallbackInfo& info);

  const KernelTable& k() const { return table_for(simd_); }

  Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), threads_); }

  void SetThreads(const Napi::CallbackInfo& info, const Napi::Value& v) {
    const double t = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(t >= 1 && t <= kMaxThreads && t == std::floor(t)))
      throw Napi::RangeError::New(info.Env(), "threads must be an integer from 1 to " + std::to_string(kMaxThreads));
    threads_ = static_cast<int>(t);
  }

  Napi::Value GetSimd(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), simd_name(simd_)); }

  /** forceSimd('scalar' | 'avx2' | 'avx512' | 'auto'): a test hook; refuses a path this CPU cannot run. */
  Napi::Value ForceSimd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "forceSimd expects 'scalar', 'avx2', 'avx512' or 'auto'");
    const std::string want = info[0].As<Napi::String>().Utf8Value();
    Simd s;
    if (want == "auto") s = best_simd();
    else if (want == "scalar") s = Simd::Scalar;
    else if (want == "avx2") s = Simd::Avx2;
    else if (want == "avx512") s = Simd::Avx512;
    else throw Napi::RangeError::New(env, "unknown SIMD path '" + want + "' (expected scalar, avx2, avx512 or auto)");
    if (!simd_supported(s))
      throw Napi::Error::New(env, "this CPU cannot run the " + want + " kernels (best available: " +
                                      simd_name(best_simd()) + ")");
    simd_ = s;
    return Napi::String::New(env, simd_name(simd_));
  }

  // --- GEMM -------------------------------------------------------------------------------------------------

  enum class Layout { ABt, AB, AtB };

  void Gemm(const Napi::CallbackInfo& info, Layout layout) {
    Napi::Env env = info.Env();
    const int64_t M = count_arg(info[3], "M"), K = count_arg(info[4], "K"), N = count_arg(info[5], "N");
    GemmArgs g{};
    g.a = f32_arg(info[0], "a", checked_mul(env, M, K)).data;
    g.b = f32_arg(info[1], "b", checked_mul(env, K, N)).data;
    g.c = f32_arg(info[2], "c", checked_mul(env, M, N)).data;
    g.M = M;
    g.K = K;
    g.N = N;
    g.ldc = N;
    g.accumulate = optional_bool_arg(info[6], "accumulate");
    // C is written while A and B are still being read (by other threads too): an overlap would give results that
    // depend on the blocking and the thread count.
    refuse_overlap(env, {span("c", g.c, M * N)}, {span("a", g.a, M * K), span("b", g.b, K * N)});
    switch (layout) {
      case Layout::ABt: g.rsA = K, g.csA = 1, g.rsB = 1, g.csB = K; break;
      case Layout::AB: g.rsA = K, g.csA = 1, g.rsB = N, g.csB = 1; break;
      case Layout::AtB: g.rsA = 1, g.csA = M, g.rsB = N, g.csB = 1; break;
    }
    k().gemm(g, threads_);
  }
  Napi::Value MatmulABt(const Napi::CallbackInfo& info) { Gemm(info, Layout::ABt); return info.Env().Undefined(); }
  Napi::Value MatmulAB(const Napi::CallbackInfo& info) { Gemm(info, Layout::AB); return info.Env().Undefined(); }

  /**
   * matmulABtPacked(a, w, format, c, M, K, N[, accumulate]): C[M,N] (+)= A·Wᵀ with W [N, K] held packed (a
   * Uint8Array of N rows in `format`: 1 f16, 2 bf16, 3 Q8_0, 4 Q4_0, 5 Q4_K, 6 Q5_K, 7 Q6_K, 8 Q4_1, 9 Q5_0,
   * 10 Q5_1, 11 Q2_K, 12 Q3_K, 13 IQ4_XS, 14 IQ4_NL; packed_formats.h).
   */
  Napi::Value MatmulABtPacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t M = count_arg(info[4], "M"), K = count_arg(info[5], "K"), N = count_arg(info[6], "N");
    const double f = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
    const int format = f == std::floor(f) && f >= 1 && f <= kPackedFormats ? static_cast<int>(f) : 0;
    if (!format)
      throw Napi::RangeError::New(env, "format must be 1 (f16), 2 (bf16), 3 (Q8_0), 4 (Q4_0), 5 (Q4_K), 6 (Q5_K), 7 (Q6_K), 8 (Q4_1), 9 (Q5_0), 10 (Q5_1), 11 (Q2_K), 12 (Q3_K), 13 (IQ4_XS) or 14 (IQ4_NL)");
    const int64_t per = packed_block_values(format);
    if (K % per != 0)
      throw Napi::RangeError::New(env, "K (" + std::to_string(K) + ") must be a multiple of the format's block of " +
                                           std::to_string(per) + " values");
    GemmArgs g{};
    g.bRowBytes = checked_mul(env, K / per, packed_block_bytes(format));
    g.a = f32_arg(info[0], "a", checked_mul(env, M, K)).data;
    g.bq = u8_arg(info[1], "w", checked_mul(env, N, g.bRowBytes)).data;
    g.c = f32_arg(info[3], "c", checked_mul(env, M, N)).data;
    g.bFormat = format;
    g.M = M, g.K = K, g.N = N, g.ldc = N;
    g.rsA = K, g.csA = 1, g.rsB = 1, g.csB = K;
    g.accumulate = optional_bool_arg(info[7], "accumulate");
    refuse_overlap(env, {span("c", g.c, M * N)}, {span("a", g.a, M * K), span("w", g.bq, N * g.bRowBytes)});
    k().gemm(g, threads_);
    return env.Undefined();
  }
  Napi::Value MatmulAtB(const Napi::CallbackInfo& info) { Gemm(info, Layout::AtB); return info.Env().Undefined(); }

  // --- norms, RoPE, activations, element-wise ------------------------------------------------------------------

  Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[3], "rows"), dim = count_arg(info[4], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* x = f32_arg(info[1], "x", n).data;
    float* out = f32_arg(info[0], "out", n).data;
    float* w = f32_arg(info[2], "weight", dim).data;
    const double eps = finite_arg(info[5], "eps");
    // out may be x itself (each row's sum of squares is taken before the row is written), but no other overlap:
    // out shifted by a row would normalise rows that another thread has already written.
    refuse_overlap(env, {span("out", out, n)}, {span("x", x, n), span("weight", w, dim)}, true);
    k().rms_norm(out, x, w, rows, dim, eps, threads_);
    return env.Undefined();
  }

  Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[4], "rows"), dim = count_arg(info[5], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* x = f32_arg(info[1], "x", n).data;
    float* out = f32_arg(info[0], "out", n).data;
    float* w = f32_arg(info[2], "weight", dim).data;
    float* b = f32_arg(info[3], "bias", dim).data;
    const double eps = finite_arg(info[6], "eps");
    refuse_overlap(env, {span("out", out, n)}, {span("x", x, n), span("weight", w, dim), span("bias", b, dim)}, true);
    k().layer_norm(out, x, w, b, rows, dim, eps, threads_);
    return env.Undefined();
  }

  Napi::Value Rope(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[1], "rows"), nHeads = count_arg(info[2], "nHeads"),
                  headDim = count_arg(info[3], "headDim");
    const int64_t n = checked_mul(env, checked_mul(env, rows, nHeads), headDim);
    float* x = f32_arg(info[0], "x", n).data;
    const int32_t* positions = i32_arg(info[4], "positions", rows).data;
    Buffer<float> invFreq = f32_arg(info[5], "invFreq", 0);
    const int64_t half = static_cast<int64_t>(invFreq.length);
    if (2 * half > headDim)
      throw Napi::RangeError::New(env, "invFreq has " + std::to_string(half) + " entries, more than headDim/2 = " +
                                           std::to_string(headDim / 2.0));
    const std::string layout = info[6].IsString() ? info[6].As<Napi::String>().Utf8Value() : std::string();
    if (layout != "half" && layout != "interleaved")
      throw Napi::TypeError::New(env, "unknown RoPE layout (expected 'half' or 'interleaved')");
    refuse_overlap(env, {span("x", x, n)}, {span("positions", positions, rows), span("invFreq", invFreq.data, half)});
    k().rope(x, rows, nHeads, headDim, positions, invFreq.data, half, layout == "interleaved", threads_);
    return env.Undefined();
  }

  Napi::Value SiluMul(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[3], "n");
    float* out = f32_arg(info[0], "out", n).data;
    float* gate = f32_arg(info[1], "gate", n).data;
    float* up = f32_arg(info[2], "up", n).data;
    refuse_overlap(info.Env(), {span("out", out, n)}, {span("gate", gate, n), span("up", up, n)}, true);
    k().silu_mul(out, gate, up, n, threads_);
    return info.Env().Undefined();
  }

  Napi::Value Gelu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t n = count_arg(info[2], "n");
    float* out = f32_arg(info[0], "out", n).data;
    float* x = f32_arg(info[1], "x", n).data;
    refuse_overlap(env, {span("out", out, n)}, {span("x", x, n)}, true);
    const std::string kind = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
    if (kind == "tanh") k().gelu_tanh(out, x, n, threads_);
    else if (kind == "erf") k().gelu_erf(out, x, n, threads_);
    else throw Napi::TypeError::New(env, "unknown GELU kind (expected 'tanh' or 'erf')");
    return env.Undefined();
  }

  Napi::Value Softmax(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[1], "rows"), cols = count_arg(info[2], "cols");
    float* x = f32_arg(info[0], "x", checked_mul(env, rows, cols)).data;
    if (rows == 0 || cols == 0) return env.Undefined();  // nothing to normalise (and no 2^53 empty rows to walk)
    k().softmax(x, rows, cols, threads_);
    return env.Undefined();
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[3], "n");
    float* out = f32_arg(info[0], "out", n).data;
    float* a = f32_arg(info[1], "a", n).data;
    float* b = f32_arg(info[2], "b", n).data;
    refuse_overlap(info.Env(), {span("out", out, n)}, {span("a", a, n), span("b", b, n)}, true);
    k().add(out, a, b, n, threads_);
    return info.Env().Undefined();
  }

  Napi::Value AddBias(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[2], "rows"), cols = count_arg(info[3], "cols");
    float* x = f32_arg(info[0], "x", checked_mul(env, rows, cols)).data;
    float* bias = f32_arg(info[1], "bias", cols).data;
    if (rows == 0 || cols == 0) return env.Undefined();  // nothing to add (and no 2^53 empty rows to walk)
    refuse_overlap(env, {span("x", x, rows * cols)}, {span("bias", bias, cols)});
    k().add_bias(x, bias, rows, cols, threads_);
    return env.Undefined();
  }

  // --- attention -----------------------------------------------------------------------------------------------

  Napi::Value Attention(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "attention expects an AttentionArgs object");
    Napi::Object o = info[0].As<Napi::Object>();
    // Phase 1: read every property (getters may run JS code). Phase 2 below takes pointers and runs no JS, so
    // no buffer can be detached or swapped between its check and its use.
    Napi::Value vq = o.Get("q"), vnQ = o.Get("nQ"), vnHeads = o.Get("nHeads"), vnKv = o.Get("nKvHeads"),
                vhd = o.Get("headDim"), vkeys = o.Get("keys"), vvalues = o.Get("values"), vlens = o.Get("lens"),
                vscale = o.Get("scale"), vout = o.Get("out"), vprobs = o.Get("probs"),
                vbf16 = o.Get("probsBf16"), vfirst = o.Get("firstRow");
    const int64_t nQ = count_arg(vnQ, "nQ"), nHeads = count_arg(vnHeads, "nHeads"),
                  nKvHeads = count_arg(vnKv, "nKvHeads"), headDim = count_arg(vhd, "headDim");
    if (nKvHeads == 0 || nHeads == 0 || nHeads % nKvHeads != 0)
      throw Napi::RangeError::New(env, "nHeads (" + std::to_string(nHeads) + ") must be a positive multiple of nKvHeads (" +
                                           std::to_string(nKvHeads) + ")");
    if (headDim == 0) throw Napi::RangeError::New(env, "headDim must be a positive integer, got 0");
    // lens first: it bounds nKvHeads by real memory before any per-head array is walked.
    i32_arg(vlens, "lens", nKvHeads);
    const bool hasProbs = !vprobs.IsUndefined();
    if (!vbf16.IsUndefined() && !vbf16.IsBoolean()) throw Napi::TypeError::New(env, "probsBf16 must be a boolean");
    const bool probsBf16 = !vbf16.IsUndefined() && vbf16.As<Napi::Boolean>().Value();
    if (!vkeys.IsArray()) throw Napi::TypeError::New(env, "keys must be an array of Float32Array, one per KV head");
    if (!vvalues.IsArray()) throw Napi::TypeError::New(env, "values must be an array of Float32Array, one per KV head");
    const uint32_t nKeys = vkeys.As<Napi::Array>().Length(), nValues = vvalues.As<Napi::Array>().Length();
    if (nKeys < nKvHeads || nValues < nKvHeads)
      throw Napi::RangeError::New(env, "keys and values need one array per KV head (" + std::to_string(nKvHeads) +
                                           "), got " + std::to_string(nKeys) + " and " + std::to_string(nValues));
    if (hasProbs && !vprobs.IsArray())
      throw Napi::TypeError::New(env, "probs must be an array of Float32Array, one per KV head");
    if (hasProbs && vprobs.As<Napi::Array>().Length() < nKvHeads)
      throw Napi::RangeError::New(env, "probs needs one array per KV head (" + std::to_string(nKvHeads) + "), got " +
                                           std::to_string(vprobs.As<Napi::Array>().Length()));
    std::vector<Napi::Value> kv, vv, pv;
    Napi::Array keysArr = vkeys.As<Napi::Array>(), valuesArr = vvalues.As<Napi::Array>();
    for (int64_t h = 0; h < nKvHeads; h++) {
      kv.push_back(keysArr.Get(static_cast<uint32_t>(h)));
      vv.push_back(valuesArr.Get(static_cast<uint32_t>(h)));
      if (hasProbs) pv.push_back(vprobs.As<Napi::Array>().Get(static_cast<uint32_t>(h)));
    }

    // Phase 2: types, sizes and pointers.
    AttentionArgs a{};
    const int32_t* lensIn = i32_arg(vlens, "lens", nKvHeads).data;
    // Private copies: a shared lens array could change under the kernel after it was checked.
    std::vector<int32_t> lens(lensIn, lensIn + nKvHeads);
    const int64_t maxLen = std::max<int64_t>(0, *std::max_element(lens.begin(), lens.end()));
    // probs holds Float32Arrays, or Uint16Arrays that receive the bf16 probabilities' bit patterns (probsBf16).
    const bool packed = hasProbs && nKvHeads > 0 && pv[0].IsTypedArray() &&
                        pv[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
    auto outOfMemory = [&] {
      // The scratch holds every query row of a group against the longest cache.
      return Napi::RangeError::New(env, "attention: out of memory for the scratch of " + std::to_string(nQ) +
                                            " queries × " + std::to_string(nHeads / nKvHeads) +
                                            " heads per group against caches of up to " + std::to_string(maxLen) +
                                            " rows");
    };
    // The scratch size depends on the shape alone. One whose size does not even fit in 64 bits (2^31 query heads
    // per KV head against 2^31 rows) is refused before any buffer is checked, so a caller need not allocate
    // gigabytes of inputs to learn that.
    if (k().attention_scratch_floats(nQ, nHeads, nKvHeads, headDim, maxLen, packed) < 0) throw outOfMemory();
    const int64_t qn = checked_mul(env, checked_mul(env, nQ, nHeads), headDim);
    a.q = f32_arg(vq, "q", qn).data;
    a.out = f32_arg(vout, "out", qn).data;
    a.scale = static_cast<float>(finite_arg(vscale, "scale"));
    std::vector<const float*> keys(nKvHeads), values(nKvHeads);
    if (packed && !probsBf16)
      throw Napi::RangeError::New(env, "probs as Uint16Array (bf16 bit patterns) need probsBf16: true");
    std::vector<float*> probs(hasProbs && !packed ? nKvHeads : 0);
    std::vector<uint16_t*> probs16(packed ? nKvHeads : 0);
    for (int64_t h = 0; h < nKvHeads; h++) {
      const int64_t len = lens[h];
      const std::string hs = "[" + std::to_string(h) + "]";
      if (len < nQ)
        throw Napi::RangeError::New(env, "lens" + hs + " = " + std::to_string(len) + " is smaller than the chunk (" +
                                             std::to_string(nQ) + " queries)");
      keys[h] = f32_arg(kv[h], ("keys" + hs).c_str(), checked_mul(env, len, headDim)).data;
      values[h] = f32_arg(vv[h], ("values" + hs).c_str(), checked_mul(env, len, headDim)).data;
      if (packed) probs16[h] = u16_arg(pv[h], ("probs" + hs).c_str(), checked_mul(env, nQ, len)).data;
      else if (hasProbs) probs[h] = f32_arg(pv[h], ("probs" + hs).c_str(), checked_mul(env, nQ, len)).data;
    }
    {
      // The outputs are written while other tasks still read keys and values: an overlap would make the result
      // depend on the thread count. out may be q itself (a task reads its queries before it writes their rows), not
      // q shifted. Per-head spans carry their head as an index (named "keys[h]" only in an error).
      const Span qSpan = span("q", a.q, qn);
      refuse_overlap(env, {span("out", a.out, qn)}, {qSpan}, true, "attention: ");
      std::vector<Span> outs{span("out", a.out, qn)}, ins;
      outs.reserve(static_cast<size_t>(1 + (hasProbs ? nKvHeads : 0)));
      ins.reserve(static_cast<size_t>(2 * nKvHeads));
      for (int64_t h = 0; h < nKvHeads; h++) {
        const int64_t kvn = lens[h] * headDim, pn = nQ * lens[h];
        ins.push_back(span("keys", keys[h], kvn, h));
        ins.push_back(span("values", values[h], kvn, h));
        if (hasProbs) outs.push_back(packed ? span("probs", probs16[h], pn, h) : span("probs", probs[h], pn, h));
      }
      refuse_overlap_range(env, outs.data() + 1, outs.data() + outs.size(), &qSpan, &qSpan + 1, false, "attention: ");
      refuse_overlap(env, outs, ins, false, "attention: ");
    }
    a.nQ = nQ;
    a.nHeads = nHeads;
    a.nKvHeads = nKvHeads;
    a.headDim = headDim;
    a.keys = keys.data();
    a.values = values.data();
    a.lens = lens.data();
    a.probs = hasProbs && !packed ? probs.data() : nullptr;
    a.probs16 = packed ? probs16.data() : nullptr;
    a.probsBf16 = probsBf16;
    // firstRow: a private copy (as lens), each entry within its query's causal horizon.
    std::vector<int32_t> firstRow;
    if (!vfirst.IsUndefined()) {
      firstRow = i32_copy(vfirst, "firstRow", checked_mul(env, nKvHeads, nQ));
      for (int64_t h = 0; h < nKvHeads; h++)
        for (int64_t i = 0; i < nQ; i++) {
          const int64_t f = firstRow[h * nQ + i], last = lens[h] - nQ + i;
          if (f < 0 || f > last)
            throw Napi::RangeError::New(env, "firstRow[" + std::to_string(h * nQ + i) + "] = " + std::to_string(f) +
                                                 " (KV head " + std::to_string(h) + ", query " + std::to_string(i) +
                                                 ") must be within 0.." + std::to_string(last) +
                                                 ", the rows that query can see");
        }
    }
    a.firstRow = firstRow.empty() ? nullptr : firstRow.data();
    try {
      k().attention(a, threads_);
    } catch (const std::bad_alloc&) {
      // Any other bad_alloc in the addon becomes a plain JS Error through NODE_ADDON_API_CPP_EXCEPTIONS_ALL.
      throw outOfMemory();
    }
    return env.Undefined();
  }

  // --- weight formats ------------------------------------------------------------------------------------------

  Napi::Value F16ToF32(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[2], "n");
    const uint16_t* src = u16_arg(info[0], "src", n).data;
    float* dst = f32_arg(info[1], "dst", n).data;
    // Never in place: a float is two halves wide, so any overlap overwrites halves that are still to be read.
    refuse_overlap(info.Env(), {span("dst", dst, n)}, {span("src", src, n)});
    k().f16_to_f32(src, dst, n, threads_);
    return info.Env().Undefined();
  }

  Napi::Value Bf16ToF32(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[2], "n");
    const uint16_t* src = u16_arg(info[0], "src", n).data;
    float* dst = f32_arg(info[1], "dst", n).data;
    refuse_overlap(info.Env(), {span("dst", dst, n)}, {span("src", src, n)});
    k().bf16_to_f32(src, dst, n, threads_);
    return info.Env().Undefined();
  }

  Napi::Value Q8_0ToF32(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t n = count_arg(info[2], "n");
    if (n % 32 != 0)
      throw Napi::RangeError::New(env, "Q8_0 holds blocks of 32 values; n = " + std::to_string(n) +
                                           " is not a multiple of 32");
    const uint8_t* src = u8_arg(info[0], "src", checked_mul(env, n / 32, 34)).data;
    float* dst = f32_arg(info[1], "dst", n).data;
    refuse_overlap(env, {span("dst", dst, n)}, {span("src", src, n / 32 * 34)});
    k().q8_0_to_f32(src, dst, n, threads_);
    return env.Undefined();
  }
  // --- training attention (whole sequence, causal, GQA) --------------------------------------------------------

  /** The shape arguments shared by the forward and the backward (same words as src/train/ops/attention.ts). */
  struct TrainShape {
    int64_t T, nHeads, nKvHeads, headDim, qn, kvn;
    float scale;
  };
  static TrainShape train_shape(const Napi::CallbackInfo& info, int first) {
    Napi::Env env = info.Env();
    TrainShape s{};
    s.T = count_arg(info[first], "T");
    s.nHeads = count_arg(info[first + 1], "nHeads");
    s.nKvHeads = count_arg(info[first + 2], "nKvHeads");
    s.headDim = count_arg(info[first + 3], "headDim");
    if (!(s.nKvHeads > 0 && s.nHeads % s.nKvHeads == 0))
      throw Napi::RangeError::New(env, "nHeads (" + std::to_string(s.nHeads) + ") must be a multiple of nKvHeads (" +
                                           std::to_string(s.nKvHeads) + ")");
    s.scale = static_cast<float>(finite_arg(info[first + 4], "scale"));
    s.qn = checked_mul(env, checked_mul(env, s.T, s.nHeads), s.headDim);
    s.kvn = checked_mul(env, checked_mul(env, s.T, s.nKvHeads), s.headDim);
    return s;
  }

  /** trainAttentionForward(out, lse, q, k, v, T, nHeads, nKvHeads, headDim, scale); lse is a Float64Array. */
  Napi::Value TrainAttentionForward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const TrainShape s = train_shape(info, 5);
    float* out = f32_arg(info[0], "out", s.qn).data;
    double* lse = f64_arg(info[1], "lse", checked_mul(env, s.T, s.nHeads)).data;
    const float* q = f32_arg(info[2], "q", s.qn).data;
    const float* kk = f32_arg(info[3], "k", s.kvn).data;
    const float* v = f32_arg(info[4], "v", s.kvn).data;
    refuse_overlap(env, {span("out", out, s.qn), span("lse", lse, s.T * s.nHeads)},
                   {span("q", q, s.qn), span("k", kk, s.kvn), span("v", v, s.kvn)});
    k().train_attention_forward(out, lse, q, kk, v, s.T, s.nHeads, s.nKvHeads, s.headDim, s.scale, threads_);
    return env.Undefined();
  }

  /** trainAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, T, nHeads, nKvHeads, headDim, scale). */
  Napi::Value TrainAttentionBackward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const TrainShape s = train_shape(info, 9);
    float* dq = f32_arg(info[0], "dq", s.qn).data;
    float* dk = f32_arg(info[1], "dk", s.kvn).data;
    float* dv = f32_arg(info[2], "dv", s.kvn).data;
    const float* dout = f32_arg(info[3], "dout", s.qn).data;
    const float* q = f32_arg(info[4], "q", s.qn).data;
    const float* kk = f32_arg(info[5], "k", s.kvn).data;
    const float* v = f32_arg(info[6], "v", s.kvn).data;
    const float* out = f32_arg(info[7], "out", s.qn).data;
    const double* lse = f64_arg(info[8], "lse", checked_mul(env, s.T, s.nHeads)).data;
    refuse_overlap(env, {span("dq", dq, s.qn), span("dk", dk, s.kvn), span("dv", dv, s.kvn)},
                   {span("dout", dout, s.qn), span("q", q, s.qn), span("k", kk, s.kvn), span("v", v, s.kvn),
                    span("out", out, s.qn), span("lse", lse, s.T * s.nHeads)});
    k().train_attention_backward(dq, dk, dv, dout, q, kk, v, out, lse, s.T, s.nHeads, s.nKvHeads, s.headDim, s.scale,
                                 threads_);
    return env.Undefined();
  }

  // --- float64 symmetric eigendecomposition (CMA-ES) -----------------------------------------------------------

  /**
   * crossEntropy(logits, targets, T, V, gradScale, rowLoss): as crossEntropyForwardBackward in
   * src/train/ops/cross-entropy.ts, with each row's loss in rowLoss (Float64Array, 0 for ignored rows).
   */
  Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t T = count_arg(info[2], "T"), V = count_arg(info[3], "V");
    float* logits = f32_arg(info[0], "logits", checked_mul(env, T, V)).data;
    const std::vector<int32_t> targetsCopy = i32_copy(info[1], "targets", T);
    const int32_t* targets = targetsCopy.data();
    const float gradScale = static_cast<float>(finite_arg(info[4], "gradScale"));
    double* rowLoss = f64_arg(info[5], "rowLoss", T).data;
    for (int64_t t = 0; t < T; t++) {
      if (targets[t] != -1 && (targets[t] < 0 || targets[t] >= V))
        throw Napi::RangeError::New(env, "target " + std::to_string(targets[t]) + " at row " + std::to_string(t) +
                                             " is outside the vocabulary (0.." + std::to_string(V - 1) +
                                             ") and is not IGNORE (-1)");
    }
    if (V == 0 && T > 0) throw Napi::RangeError::New(env, "V must be at least 1");
    refuse_overlap(env, {span("logits", logits, T * V), span("rowLoss", rowLoss, T)}, {});
    k().cross_entropy(logits, targets, T, V, gradScale, rowLoss, threads_);
    return env.Undefined();
  }

  /** siluMulBackward(dgate, dup, dout, gate, up, n): the backward of siluMul. */
  Napi::Value SiluMulBackward(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[5], "n");
    float* dgate = f32_arg(info[0], "dgate", n).data;
    float* dup = f32_arg(info[1], "dup", n).data;
    const float* dout = f32_arg(info[2], "dout", n).data;
    const float* gate = f32_arg(info[3], "gate", n).data;
    const float* up = f32_arg(info[4], "up", n).data;
    // Element-wise: an output may be one of the inputs itself (every input of a register is read before it is written).
    refuse_overlap(info.Env(), {span("dgate", dgate, n), span("dup", dup, n)},
                   {span("dout", dout, n), span("gate", gate, n), span("up", up, n)}, true);
    k().silu_mul_backward(dgate, dup, dout, gate, up, n, threads_);
    return info.Env().Undefined();
  }

  /** geluTanhBackward(dx, dout, x, n): dx = dout·gelu'(x), GELU's tanh form. */
  Napi::Value GeluTanhBackward(const Napi::CallbackInfo& info) {
    const int64_t n = count_arg(info[3], "n");
    float* dx = f32_arg(info[0], "dx", n).data;
    const float* dout = f32_arg(info[1], "dout", n).data;
    const float* x = f32_arg(info[2], "x", n).data;
    refuse_overlap(info.Env(), {span("dx", dx, n)}, {span("dout", dout, n), span("x", x, n)}, true);
    k().gelu_tanh_backward(dx, dout, x, n, threads_);
    return info.Env().Undefined();
  }

  /** rmsNormTrain(out, rstd, x, weight, rows, dim, eps): RMSNorm saving 1/rms per row in rstd (Float64Array). */
  Napi::Value RmsNormTrain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[4], "rows"), dim = count_arg(info[5], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* out = f32_arg(info[0], "out", n).data;
    double* rstd = f64_arg(info[1], "rstd", rows).data;
    const float* x = f32_arg(info[2], "x", n).data;
    const float* w = f32_arg(info[3], "weight", dim).data;
    const double eps = finite_arg(info[6], "eps");
    refuse_overlap(env, {span("out", out, n), span("rstd", rstd, rows)}, {span("x", x, n), span("weight", w, dim)}, true);
    k().rms_norm_train(out, rstd, x, w, rows, dim, eps, threads_);
    return env.Undefined();
  }

  /** rmsNormBackward(dx, dw, dy, x, weight, rstd, rows, dim): dx added into, dw accumulated. */
  Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[6], "rows"), dim = count_arg(info[7], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* dx = f32_arg(info[0], "dx", n).data;
    float* dw = f32_arg(info[1], "dw", dim).data;
    const float* dy = f32_arg(info[2], "dy", n).data;
    const float* x = f32_arg(info[3], "x", n).data;
    const float* w = f32_arg(info[4], "weight", dim).data;
    const double* rstd = f64_arg(info[5], "rstd", rows).data;
    // dx is read and written element by element after the row's dot product, while dy and x are read again: no
    // aliasing at all.
    refuse_overlap(env, {span("dx", dx, n), span("dw", dw, dim)},
                   {span("dy", dy, n), span("x", x, n), span("weight", w, dim), span("rstd", rstd, rows)});
    k().rms_norm_backward(dx, dw, dy, x, w, rstd, rows, dim, threads_);
    return env.Undefined();
  }

  /** layerNormTrain(out, mean, rstd, x, weight, bias, rows, dim, eps): LayerNorm saving μ and 1/σ per row (Float64Array). */
  Napi::Value LayerNormTrain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[6], "rows"), dim = count_arg(info[7], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* out = f32_arg(info[0], "out", n).data;
    double* mean = f64_arg(info[1], "mean", rows).data;
    double* rstd = f64_arg(info[2], "rstd", rows).data;
    const float* x = f32_arg(info[3], "x", n).data;
    const float* w = f32_arg(info[4], "weight", dim).data;
    const float* b = f32_arg(info[5], "bias", dim).data;
    const double eps = finite_arg(info[8], "eps");
    refuse_overlap(env, {span("out", out, n), span("mean", mean, rows), span("rstd", rstd, rows)},
                   {span("x", x, n), span("weight", w, dim), span("bias", b, dim)}, true);
    k().layer_norm_train(out, mean, rstd, x, w, b, rows, dim, eps, threads_);
    return env.Undefined();
  }

  /** layerNormBackward(dx, dw, db, dy, x, weight, mean, rstd, rows, dim): dx added into, dw and db accumulated. */
  Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t rows = count_arg(info[8], "rows"), dim = count_arg(info[9], "dim");
    const int64_t n = checked_mul(env, rows, dim);
    float* dx = f32_arg(info[0], "dx", n).data;
    float* dw = f32_arg(info[1], "dw", dim).data;
    float* db = f32_arg(info[2], "db", dim).data;
    const float* dy = f32_arg(info[3], "dy", n).data;
    const float* x = f32_arg(info[4], "x", n).data;
    const float* w = f32_arg(info[5], "weight", dim).data;
    const double* mean = f64_arg(info[6], "mean", rows).data;
    const double* rstd = f64_arg(info[7], "rstd", rows).data;
    refuse_overlap(env, {span("dx", dx, n), span("dw", dw, dim), span("db", db, dim)},
                   {span("dy", dy, n), span("x", x, n), span("weight", w, dim), span("mean", mean, rows), span("rstd", rstd, rows)});
    k().layer_norm_backward(dx, dw, db, dy, x, w, mean, rstd, rows, dim, threads_);
    return env.Undefined();
  }

  /** symmetricEigen(a, n, values): as symmetricEigenInPlace in src/evolve/eigen.ts. */
  Napi::Value SymmetricEigen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t n = count_arg(info[1], "n");
    if (n < 1) throw Napi::RangeError::New(env, "symmetricEigen: n must be a positive integer, got 0");
    double* a = f64_arg(info[0], "a", checked_mul(env, n, n)).data;
    double* values = f64_arg(info[2], "values", n).data;
    // The QL iteration writes the eigenvalues while the matrix (the eigenvectors) is still being transformed.
    refuse_overlap(env, {span("values", values, n)}, {span("a", a, n * n)}, false, "symmetricEigen: ");
    for (int64_t i = 0; i < n * n; i++)
      if (!std::isfinite(a[i]))
        throw Napi::RangeError::New(env, "symmetricEigen: matrix entry " + std::to_string(i) + " is " +
                                             (std::isnan(a[i]) ? "NaN" : a[i] > 0 ? "Infinity" : "-Infinity"));
    const int64_t failed = k().symmetric_eigen(a, n, values, threads_);
    if (failed >= 0)
      throw Napi::Error::New(env, "symmetricEigen: QL iteration did not converge for eigenvalue " +
                                      std::to_string(failed) + " of " + std::to_string(n));
    return env.Undefined();
  }
};

// The NAMM policy kernels (namm_kernels.h / namm_kernels.inc): a table of their own, chosen with the same SIMD path.
static const NammKernelTable& namm_table_for(Simd s) {
  switch (s) {
    case Simd::Avx512: return avx512_namm_kernels();
    case Simd::Avx2: return avx2_namm_kernels();
    case Simd::Scalar: break;
  }
  return scalar_namm_kernels();
}

Napi::Value Kernels::StftAccumulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t ld = count_arg(info[2], "ld"), rows = count_arg(info[3], "rows");
  if (rows > ld)
    throw Napi::RangeError::New(env, "stftAccumulate: rows (" + std::to_string(rows) + ") exceed the row stride ld (" +
                                         std::to_string(ld) + ")");
  const double weight = finite_arg(info[4], "weight");
  const float* prev = f32_arg(info[0], "prev", checked_mul(env, kNammHop, ld)).data;
  const float* cur = f32_arg(info[1], "cur", checked_mul(env, kNammHop, ld)).data;
  float* acc = f32_arg(info[5], "acc", namm_acc_size(ld)).data;
  refuse_overlap(env, {span("acc", acc, namm_acc_size(ld))},
                 {span("prev", prev, kNammHop * ld), span("cur", cur, kNammHop * ld)}, false, "stftAccumulate: ");
  namm_table_for(simd_).stft_accumulate(prev, cur, ld, rows, static_cast<float>(weight), acc, threads_);
  return env.Undefined();
}

Napi::Value Kernels::StftAccumulateFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t prevLd = count_arg(info[1], "prevLd"), nextLd = count_arg(info[3], "nextLd");
  const int64_t frames = count_arg(info[4], "frames");
  const std::vector<int32_t> rowsCopy = i32_copy(info[5], "rows", frames);
  const int32_t* rows = rowsCopy.data();
  const float* weights = f32_arg(info[6], "weights", frames).data;
  int64_t maxRows = 0;
  for (int64_t t = 0; t < frames; t++) {
    const int64_t limit = t == 0 ? std::min(prevLd, nextLd) : nextLd;
    if (rows[t] < 0 || rows[t] > limit)
      throw Napi::RangeError::New(env, "stftAccumulateFrames: rows[" + std::to_string(t) + "] must be an integer in [0, " +
                                           std::to_string(limit) + "], got " + std::to_string(rows[t]));
    if (!std::isfinite(weights[t]))
      throw Napi::RangeError::New(env, "stftAccumulateFrames: weights[" + std::to_string(t) + "] must be finite");
    maxRows = std::max<int64_t>(maxRows, rows[t]);
  }
  const float* prev = f32_arg(info[0], "prev", checked_mul(env, kNammHop, prevLd)).data;
  // next: a Float32Array, or a Uint16Array of bfloat16 bit patterns (packed bf16 attention taps).
  const int64_t nextNeed = checked_mul(env, checked_mul(env, kNammHop, frames), nextLd);
  const bool packed = info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  if (!packed && !(info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array))
    throw Napi::TypeError::New(env, "next must be a Float32Array or a Uint16Array");
  const uint16_t* next16 = packed ? u16_arg(info[2], "next", nextNeed).data : nullptr;
  const float* next = packed ? nullptr : f32_arg(info[2], "next", nextNeed).data;
  float* acc = f32_arg(info[7], "acc", namm_acc_size(maxRows)).data;
  // acc gains each row block's frames while other blocks (other threads) still read prev, next and weights.
  const Span weightsSpan = span("weights", weights, frames);
  refuse_overlap(env, {span("acc", acc, namm_acc_size(maxRows))},
                 {span("prev", prev, kNammHop * prevLd), packed ? span("next", next16, nextNeed) : span("next", next, nextNeed),
                  weightsSpan},
                 false, "stftAccumulateFrames: ");
  // Optional: last, lastLd — where the last block's rows < max rows[t] go (float32, stride lastLd ≥ those rows).
  float* last = nullptr;
  int64_t lastLd = 0;
  if (info.Length() > 8 && !info[8].IsUndefined() && !info[8].IsNull()) {
    lastLd = count_arg(info[9], "lastLd");
    if (lastLd < maxRows)
      throw Napi::RangeError::New(env, "stftAccumulateFrames: lastLd (" + std::to_string(lastLd) + ") is below the rows written (" +
                                           std::to_string(maxRows) + ")");
    const Buffer<float> out = f32_arg(info[8], "last", checked_mul(env, kNammHop, lastLd));
    last = out.data;
    // A block writes its rows of `last` while other blocks still read every frame's weight.
    refuse_overlap(env, {span("last", last, kNammHop * lastLd)},
                   {packed ? span("next", next16, nextNeed) : span("next", next, nextNeed), weightsSpan}, false,
                   "stftAccumulateFrames: ");
  }
  // The kernel writes each row block's part of `last` as soon as that block is done, while other blocks still
  // read prev and add into acc. That is safe for last = prev itself (same start, same stride: a block writes only
  // its own rows); any other overlap with prev or acc would change what later blocks read (and depend on the
  // thread count). Those go through a private copy written to `last` at the end, as the TypeScript twin does.
  std::vector<float> staged;
  float* lastOut = last;
  int64_t lastOutLd = lastLd;
  if (last && maxRows > 0) {
    const int64_t lastSpan = (kNammHop - 1) * lastLd + maxRows;
    const bool samePrev = last == prev && lastLd == prevLd;
    if ((!samePrev && overlaps(last, lastSpan, sizeof(float), prev, checked_mul(env, kNammHop, prevLd), sizeof(float))) ||
        overlaps(last, lastSpan, sizeof(float), acc, namm_acc_size(maxRows), sizeof(float))) {
      staged.assign(static_cast<size_t>(kNammHop * maxRows), 0.f);
      lastOut = staged.data();
      lastOutLd = maxRows;
    }
  }
  if (packed) namm_table_for(simd_).stft_accumulate_frames_bf16(prev, prevLd, next16, nextLd, frames, rows, weights, acc, lastOut, lastOutLd, threads_);
  else namm_table_for(simd_).stft_accumulate_frames(prev, prevLd, next, nextLd, frames, rows, weights, acc, lastOut, lastOutLd, threads_);
  if (!staged.empty())
    for (int64_t m = 0; m < kNammHop; m++)
      std::memmove(last + m * lastLd, staged.data() + m * maxRows, static_cast<size_t>(maxRows) * sizeof(float));
  return env.Undefined();
}

Napi::Value Kernels::NammFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = count_arg(info[1], "n"), nOld = count_arg(info[2], "nOld");
  if (nOld > n)
    throw Napi::RangeError::New(env, "nammFeatures: nOld (" + std::to_string(nOld) + ") exceeds n (" + std::to_string(n) + ")");
  float* acc = f32_arg(info[0], "acc", namm_acc_size(n)).data;
  const float* oldEma = f32_arg(info[3], "oldEma", checked_mul(env, nOld, kNammBins)).data;
  const double decay = finite_arg(info[4], "decay");
  const std::vector<int32_t> positionsCopy = i32_copy(info[5], "positions", n);
  const int32_t* positions = positionsCopy.data();
  constexpr int kRec = kBamDim - kNammBins;
  const Buffer<float> table = f32_arg(info[6], "table", kRec);
  const int64_t tableRows = static_cast<int64_t>(table.length) / kRec;
  const double* norm = nullptr;
  if (!info[7].IsNull() && !info[7].IsUndefined()) norm = f64_arg(info[7], "norm", 2 * kNammBins).data;
  float* raw = f32_arg(info[8], "raw", checked_mul(env, n, kNammBins)).data;
  float* feat = f32_arg(info[9], "features", checked_mul(env, n, kBamDim)).data;
  for (int64_t k = 0; k < n; k++) {
    const int64_t r = static_cast<int64_t>(positions[n - 1]) - positions[k];
    if (r < 0 || r >= tableRows)
      throw Napi::RangeError::New(env, "nammFeatures: recency " + std::to_string(r) + " of row " + std::to_string(k) +
                                           " is outside the table (0.." + std::to_string(tableRows - 1) + ")");
  }
  // acc is read and cleared, raw and features written, row by row while oldEma, the table and norm are read.
  refuse_overlap(env, {span("acc", acc, namm_acc_size(n)), span("raw", raw, n * kNammBins), span("features", feat, n * kBamDim)},
                 {span("oldEma", oldEma, nOld * kNammBins), span("table", table.data, static_cast<int64_t>(table.length)),
                  span("norm", norm, norm ? 2 * kNammBins : 0)},
                 false, "nammFeatures: ");
  namm_table_for(simd_).features(acc, n, nOld, oldEma, decay, positions, table.data, norm, raw, feat);
  return env.Undefined();
}

/**
 * compactRows(data, width, keep, k): in place, row i ← row keep[i] for i < k (rows of `width` floats; keep strictly
 * ascending, so every row moves towards the front and none is overwritten before it has moved). Runs of
 * consecutive kept rows move with one memmove each.
 */
Napi::Value Kernels::CompactRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t width = count_arg(info[1], "width"), k = count_arg(info[3], "k");
  const std::vector<int32_t> keepCopy = i32_copy(info[2], "keep", k);
  const int32_t* keep = keepCopy.data();
  for (int64_t i = 0; i < k; i++) {
    if (keep[i] < i || (i > 0 && keep[i] <= keep[i - 1]))
      throw Napi::RangeError::New(env, "compactRows: keep must be strictly ascending non-negative rows; keep[" + std::to_string(i) +
                                           "] is " + std::to_string(keep[i]));
  }
  const int64_t rows = k > 0 ? int64_t(keep[k - 1]) + 1 : 0, need = checked_mul(env, rows, width);
  float* data = f32_arg(info[0], "data", need).data;
  // An optional second array of the same rows (a store's values beside its keys), compacted the same way.
  float* also = info.Length() > 4 && !info[4].IsUndefined() ? f32_arg(info[4], "also", need).data : nullptr;
  if (also) refuse_overlap(env, {span("also", also, need)}, {span("data", data, need)}, false, "compactRows: ");
  const auto compact = [&](float* d) {
    for (int64_t i = 0; i < k;) {
      int64_t j = i + 1;
      while (j < k && keep[j] == keep[j - 1] + 1) j++;  // a run of consecutive kept rows
      if (keep[i] != i) std::memmove(d + i * width, d + int64_t(keep[i]) * width, static_cast<size_t>((j - i) * width) * sizeof(float));
      i = j;
    }
  };
  if (!also) {
    compact(data);
  } else {
    // The two arrays on two threads once they are large enough to repay the hand-off (a layer's update at 4K tokens
    // moves ~0.3 MB per array): the moves are memory-bound, and one core does not use the bandwidth of two.
    parallel_for(need >= (int64_t(1) << 15) ? threads_ : 1, 2, [&](int64_t t, int) { compact(t == 0 ? data : also); });
  }
  return env.Undefined();
}

Napi::Value Kernels::GatherRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t srcPlane = count_arg(info[1], "srcPlane"), dstPlane = count_arg(info[3], "dstPlane");
  const int64_t planes = count_arg(info[4], "planes"), width = count_arg(info[5], "width"), k = count_arg(info[7], "k");
  const std::vector<int32_t> keepCopy = i32_copy(info[6], "keep", k);
  const int32_t* keep = keepCopy.data();
  int64_t maxKeep = -1;
  for (int64_t i = 0; i < k; i++) {
    if (keep[i] < 0) throw Napi::RangeError::New(env, "gatherRows: keep[" + std::to_string(i) + "] is negative");
    maxKeep = std::max<int64_t>(maxKeep, keep[i]);
  }
  const bool empty = planes == 0 || k == 0 || width == 0;
  // Planes that overlap in dst would be written over one another (and a huge count of them walked for nothing).
  if (!empty && planes > 1 && dstPlane < checked_mul(env, k, width))
    throw Napi::RangeError::New(env, "gatherRows: dstPlane (" + std::to_string(dstPlane) + ") must be at least k·width (" +
                                         std::to_string(k * width) + ") when planes > 1");
  const int64_t srcNeed = empty ? 0 : checked_mul(env, planes - 1, srcPlane) + checked_mul(env, maxKeep + 1, width);
  const int64_t dstNeed = empty ? 0 : checked_mul(env, planes - 1, dstPlane) + checked_mul(env, k, width);
  const float* src = f32_arg(info[0], "src", srcNeed).data;
  float* dst = f32_arg(info[2], "dst", dstNeed).data;
  refuse_overlap(env, {span("dst", dst, dstNeed)}, {span("src", src, srcNeed)}, false, "gatherRows: ");
  if (!empty) namm_table_for(simd_).gather_rows(src, srcPlane, dst, dstPlane, planes, width, keep, k);
  return env.Undefined();
}

Napi::Value Kernels::BamScores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = count_arg(info[1], "n");
  const float* x = f32_arg(info[0], "x", checked_mul(env, n, kBamDim)).data;
  const float* params = f32_arg(info[2], "params", kBamParams).data;
  float* out = f32_arg(info[3], "out", n).data;
  // Scores are written as row blocks finish while other blocks still read every row's features.
  refuse_overlap(env, {span("out", out, n)}, {span("x", x, n * kBamDim), span("params", params, kBamParams)}, false, "bamScores: ");
  namm_table_for(simd_).bam_scores(x, n, params, out, threads_);
  return env.Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Kernels", Kernels::Define(env));
  Napi::Array simd = Napi::Array::New(env);
  uint32_t i = 0;
  for (Simd s : {Simd::Scalar, Simd::Avx2, Simd::Avx512})
    if (simd_supported(s)) simd.Set(i++, Napi::String::New(env, simd_name(s)));
  exports.Set("availableSimd", simd);
  // The default thread count, so at most kMaxThreads even where the process may run on more CPUs.
  exports.Set("cores", Napi::Number::New(env, default_threads()));
  return exports;
}

NODE_API_MODULE(namm_native, Init)

}  // namespace namm
