// One persistent pool of worker threads for the whole process. Kernels split their work into tasks and call
// parallel_for; the calling thread always takes part, so threads = 1 runs inline with no synchronisation at all
// (several JS worker_threads, each with threads = 1, then run kernels truly in parallel).
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

namespace namm {

/** task(index, slot): slot is unique among the threads running this job (0 = the caller), < threads. */
using TaskFn = void (*)(void* ctx, int64_t index, int slot);

class ThreadPool {
 public:
  static ThreadPool& global();
  /**
   * Runs fn(ctx, i, slot) for every i in [0, n) on up to `threads` threads (the caller included) and returns
   * when all are done. If another thread is already using the pool, the job runs inline on the caller instead
   * of waiting, so concurrent callers are safe and never deadlock.
   */
  void run(int threads, int64_t n, TaskFn fn, void* ctx);

 private:
  ThreadPool() = default;
  struct Impl;
  Impl* impl();
};

/** Hardware threads available to this process (affinity-aware), at least 1. */
int available_cores();

/** Upper bound on backend.threads (per-slot scratch arrays have this many entries). */
constexpr int kMaxThreads = 256;

/**
 * The default thread count: the available cores, but at most kMaxThreads. A machine with more CPUs (a
 * dual-socket server easily has 300) would otherwise get a default that its own setter refuses, and kernels
 * would index their per-slot arrays past the end.
 */
int default_threads();

template <class F>
void parallel_for(int threads, int64_t n, F&& f) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1) {
    for (int64_t i = 0; i < n; i++) f(i, 0);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  ThreadPool::global().run(threads, n, [](void* ctx, int64_t i, int slot) { (*static_cast<Fn*>(ctx))(i, slot); },
                           const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace namm
