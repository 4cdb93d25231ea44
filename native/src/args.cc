#include "args.h"

#include <cmath>
#include <string>

namespace namm {

static std::string describe(const Napi::Value& v) {
  if (v.IsNumber()) {
    // Number → string through JS semantics ("NaN", "1.5", "-3") without running any user code.
    return v.ToString().Utf8Value();
  }
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsBigInt()) return "a bigint";
  return "an object";
}

int64_t count_arg(const Napi::Value& v, const char* name) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d >= 0 && d == std::floor(d) && d <= 9007199254740991.0) return static_cast<int64_t>(d);
  }
  throw Napi::RangeError::New(v.Env(), std::string(name) + " must be a non-negative integer, got " + describe(v));
}

double finite_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a number, got " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Napi::RangeError::New(v.Env(), std::string(name) + " must be finite, got " + describe(v));
  return d;
}

int64_t checked_mul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > 9007199254740991LL)
    throw Napi::RangeError::New(env, "sizes are too large: their product overflows");
  return r;
}

template <class T>
static Buffer<T> typed_arg(const Napi::Value& v, const char* name, int64_t need, napi_typedarray_type type,
                           const char* typeName) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be " + typeName);
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  const size_t length = a.ElementLength();
  if (need < 0 || static_cast<uint64_t>(need) > length)
    throw Napi::RangeError::New(v.Env(), std::string(name) + " holds " + std::to_string(length) + " values but " +
                                             std::to_string(need) + " are needed");
  return Buffer<T>{length ? a.Data() : nullptr, length};
}

Buffer<float> f32_arg(const Napi::Value& v, const char* name, int64_t need) {
  return typed_arg<float>(v, name, need, napi_float32_array, "a Float32Array");
}
Buffer<double> f64_arg(const Napi::Value& v, const char* name, int64_t need) {
  return typed_arg<double>(v, name, need, napi_float64_array, "a Float64Array");
}
Buffer<uint16_t> u16_arg(const Napi::Value& v, const char* name, int64_t need) {
  return typed_arg<uint16_t>(v, name, need, napi_uint16_array, "a Uint16Array");
}
Buffer<uint8_t> u8_arg(const Napi::Value& v, const char* name, int64_t need) {
  return typed_arg<uint8_t>(v, name, need, napi_uint8_array, "a Uint8Array");
}
Buffer<int32_t> i32_arg(const Napi::Value& v, const char* name, int64_t need) {
  return typed_arg<int32_t>(v, name, need, napi_int32_array, "an Int32Array");
}

std::vector<int32_t> i32_copy(const Napi::Value& v, const char* name, int64_t need) {
  const Buffer<int32_t> b = i32_arg(v, name, need);
  return std::vector<int32_t>(b.data, b.data + need);
}

bool overlaps(const void* a, int64_t aCount, size_t aSize, const void* b, int64_t bCount, size_t bSize) {
  if (aCount <= 0 || bCount <= 0 || !a || !b) return false;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(a), hi = lo + static_cast<uintptr_t>(aCount) * aSize;
  const uintptr_t blo = reinterpret_cast<uintptr_t>(b), bhi = blo + static_cast<uintptr_t>(bCount) * bSize;
  return lo < bhi && blo < hi;
}

namespace {
std::string span_name(const Span& s) {
  return s.index < 0 ? std::string(s.name) : std::string(s.name) + "[" + std::to_string(s.index) + "]";
}
}  // namespace

void refuse_overlap_range(Napi::Env env, const Span* outBegin, const Span* outEnd, const Span* inBegin, const Span* inEnd,
                          bool inPlace, const char* prefix) {
  for (const Span* o = outBegin; o != outEnd; o++) {
    for (const Span* in = inBegin; in != inEnd; in++) {
      if (!overlaps(o->data, o->count, o->size, in->data, in->count, in->size)) continue;
      // Only an output of the input's element type can be that input (rstd, float64, is never x, float32).
      const bool aliasable = inPlace && o->size == in->size;
      if (aliasable && o->data == in->data && o->count == in->count) continue;
      throw Napi::RangeError::New(env, std::string(prefix) + span_name(*o) + " must not overlap " + span_name(*in) +
                                           (aliasable ? " unless it is " + span_name(*in) + " itself" : ""));
    }
    // Two outputs in one place: which one is left there would depend on the order of the writes.
    for (const Span* p = outBegin; p != o; p++)
      if (overlaps(o->data, o->count, o->size, p->data, p->count, p->size))
        throw Napi::RangeError::New(env, std::string(prefix) + span_name(*o) + " must not overlap " + span_name(*p));
  }
}

void refuse_overlap(Napi::Env env, std::initializer_list<Span> outputs, std::initializer_list<Span> inputs, bool inPlace,
                    const char* prefix) {
  refuse_overlap_range(env, outputs.begin(), outputs.end(), inputs.begin(), inputs.end(), inPlace, prefix);
}

void refuse_overlap(Napi::Env env, const std::vector<Span>& outputs, const std::vector<Span>& inputs, bool inPlace,
                    const char* prefix) {
  refuse_overlap_range(env, outputs.data(), outputs.data() + outputs.size(), inputs.data(), inputs.data() + inputs.size(),
                       inPlace, prefix);
}

bool optional_bool_arg(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsBoolean()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace namm
