// Per-thread, 64-byte aligned scratch memory that grows on demand and is reused across calls (packing buffers,
// attention scores). thread_local, so kernels running at once on different threads never share it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace namm {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  /** At least `count` floats, 64-byte aligned; contents are unspecified. */
  float* floats(size_t count) {
    // A count this large would wrap the byte count below around to a small allocation.
    if (count > (SIZE_MAX - 63) / sizeof(float)) throw std::bad_alloc();
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    if (bytes > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      void* p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
      data_ = p;
      capacity_ = bytes;
    }
    return static_cast<float*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace namm

namespace namm {

/**
 * Scratch for one parallel job: one buffer per slot, all allocated by the calling thread before the job starts
 * (an allocation failure then surfaces as a JS exception instead of terminating inside a worker).
 */
class Workspace {
 public:
  static constexpr int kMaxSlots = 256;
  /** Every slot in [0, slots) gets at least `count` floats. */
  void reserve(int slots, size_t count) {
    for (int s = 0; s < slots && s < kMaxSlots; s++) ptr_[s] = buf_[s].floats(count);
  }
  float* get(int slot) const { return ptr_[slot]; }

 private:
  AlignedBuffer buf_[kMaxSlots];
  float* ptr_[kMaxSlots] = {};
};

}  // namespace namm
