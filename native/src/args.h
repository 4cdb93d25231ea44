// Argument checks for the N-API entry points. Each throws a JavaScript TypeError (wrong type) or RangeError
// (wrong size or value) with a message naming the argument, in the same words as src/tensor/validate.ts, so no
// kernel ever sees a pointer that does not cover the sizes it is given.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace namm {

template <class T>
struct Buffer {
  T* data;
  size_t length;
};

/** A non-negative integer count (a JS number ≤ 2^53 − 1). */
int64_t count_arg(const Napi::Value& v, const char* name);
/** A finite JS number: TypeError when not a number, RangeError when NaN or infinite. */
double finite_arg(const Napi::Value& v, const char* name);
/** a · b, throwing a RangeError if it overflows (then no buffer could hold it anyway). */
int64_t checked_mul(Napi::Env env, int64_t a, int64_t b);

/** A Float32Array with at least `need` elements. */
Buffer<float> f32_arg(const Napi::Value& v, const char* name, int64_t need);
Buffer<double> f64_arg(const Napi::Value& v, const char* name, int64_t need);
Buffer<uint16_t> u16_arg(const Napi::Value& v, const char* name, int64_t need);
Buffer<uint8_t> u8_arg(const Napi::Value& v, const char* name, int64_t need);
Buffer<int32_t> i32_arg(const Napi::Value& v, const char* name, int64_t need);
/**
 * The first `need` values of an Int32Array, copied: indices that are checked and then used to address memory must
 * not change in between (a SharedArrayBuffer can be written by another thread while a kernel runs).
 */
std::vector<int32_t> i32_copy(const Napi::Value& v, const char* name, int64_t need);
/**
 * Whether `aCount` elements of `aSize` bytes from a and `bCount` of `bSize` from b share a byte (an empty range
 * shares none): the check for outputs that must not overlap an input.
 */
bool overlaps(const void* a, int64_t aCount, size_t aSize, const void* b, int64_t bCount, size_t bSize);

/** A buffer argument as the range a kernel touches (`count` elements of `size` bytes from `data`), named for errors. */
struct Span {
  const char* name;
  const void* data;
  int64_t count;
  size_t size;
  /** ≥ 0: the span is `name[index]` (one of several per KV head), named so in an error without a string per call. */
  int64_t index = -1;
};
template <class T>
Span span(const char* name, const T* data, int64_t count, int64_t index = -1) {
  return Span{name, data, count, sizeof(T), index};
}
/**
 * Throws a RangeError "<prefix><output> must not overlap <input>" when an output shares a byte with an input or with
 * another output. A kernel writes its outputs while other registers, rows or threads still read its inputs, so an
 * overlap would give results that depend on the SIMD width, the blocking and the thread count. With `inPlace`, an
 * output may be exactly one of the inputs (the same first byte, element type and length), which the element-wise
 * and row kernels allow because they read every value of a register or a row before they write it there; any other
 * overlap is refused ("... unless it is <input> itself"). src/tensor/validate.ts refuses the same in the same words.
 */
void refuse_overlap(Napi::Env env, std::initializer_list<Span> outputs, std::initializer_list<Span> inputs,
                    bool inPlace = false, const char* prefix = "");
/** The same for lists built at run time (one span per KV head). */
void refuse_overlap(Napi::Env env, const std::vector<Span>& outputs, const std::vector<Span>& inputs,
                    bool inPlace = false, const char* prefix = "");
/** The same over two ranges of spans, [outBegin, outEnd) and [inBegin, inEnd). */
void refuse_overlap_range(Napi::Env env, const Span* outBegin, const Span* outEnd, const Span* inBegin, const Span* inEnd,
                          bool inPlace, const char* prefix);
/** undefined / null → false, else it must be a boolean. */
bool optional_bool_arg(const Napi::Value& v, const char* name);

}  // namespace namm
