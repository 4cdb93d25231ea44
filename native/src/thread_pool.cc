#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NAMM_PAUSE() _mm_pause()
#else
#define NAMM_PAUSE() std::this_thread::yield()
#endif

namespace namm {

// Spinning a little before sleeping keeps back-to-back kernel calls (a decode step is dozens of them) from
// paying a futex wake-up each; a short bound keeps an idle pool from burning a core shared with other work.
static constexpr int kSpinIterations = 4000;

// Joining a job: a worker counts itself in `entry` before touching the job, and the caller closes `entry` once
// every task has been taken. The caller then waits only for the workers that actually joined, so a worker that
// the OS has not scheduled yet (a busy machine) never delays a job it had no part in; it finds the job closed
// and goes back to waiting.
//   entry = (sequence << kSeqShift) | kClosed? | joined
static constexpr uint64_t kJoinedMask = 0xffff;
static constexpr uint64_t kClosed = uint64_t(1) << 16;
static constexpr int kSeqShift = 17;

struct ThreadPool::Impl {
  std::mutex use;  // held by the caller for the duration of one job
  std::mutex m;
  std::condition_variable wake, done;
  std::vector<std::thread> workers;
  // (sequence << 16) | helpers: workers with index < helpers may join job `sequence`. One word, so a worker never
  // pairs a new job's helper count with an old sequence number.
  std::atomic<uint64_t> job{0};
  std::atomic<uint64_t> entry{0};
  std::atomic<int> finished{0};  // joined workers that are done with the current job
  std::atomic<int64_t> next{0};
  int64_t n = 0;
  TaskFn fn = nullptr;
  void* ctx = nullptr;

  void work(int slot) {
    for (;;) {
      int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) break;
      fn(ctx, i, slot);
    }
  }

  /** Counts this worker into job `seq` unless that job is closed or already replaced by a newer one. */
  bool join(uint64_t seq) {
    uint64_t e = entry.load(std::memory_order_acquire);
    for (;;) {
      if ((e >> kSeqShift) != seq || (e & kClosed)) return false;
      if (entry.compare_exchange_weak(e, e + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
    }
  }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = job.load(std::memory_order_acquire);
      for (int s = 0; g == seen && s < kSpinIterations; s++) {
        NAMM_PAUSE();
        g = job.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lk(m);
        wake.wait(lk, [&] { return job.load(std::memory_order_acquire) != seen; });
        g = job.load(std::memory_order_acquire);
      }
      seen = g;
      if (index >= static_cast<int>(g & 0xffff) || !join(g >> 16)) continue;
      work(index + 1);
      finished.fetch_add(1, std::memory_order_acq_rel);
      std::lock_guard<std::mutex> lk(m);
      done.notify_one();
    }
  }
};

ThreadPool& ThreadPool::global() {
  // Deliberately never destroyed: workers may still be parked in wait() when the process exits.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

ThreadPool::Impl* ThreadPool::impl() {
  static Impl* state = new Impl();
  return state;
}

void ThreadPool::run(int threads, int64_t n, TaskFn fn, void* ctx) {
  Impl* s = impl();
  std::unique_lock<std::mutex> busy(s->use, std::try_to_lock);
  if (!busy.owns_lock() || threads <= 1) {
    for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
    return;
  }
  // Slots are indexes into per-slot arrays of kMaxThreads entries, and helpers must fit the 16-bit field of
  // `job`: a caller that asks for more threads gets kMaxThreads, so no slot is ever out of range.
  int helpers = std::min(threads, kMaxThreads) - 1;
  if (n - 1 < helpers) helpers = static_cast<int>(n - 1);
  while (static_cast<int>(s->workers.size()) < helpers) {
    int index = static_cast<int>(s->workers.size());
    s->workers.emplace_back([s, index] { s->worker_loop(index); });
    s->workers.back().detach();
  }
  {
    std::lock_guard<std::mutex> lk(s->m);
    s->fn = fn;
    s->ctx = ctx;
    s->n = n;
    s->next.store(0, std::memory_order_relaxed);
    s->finished.store(0, std::memory_order_relaxed);
    const uint64_t seq = (s->job.load(std::memory_order_relaxed) >> 16) + 1;
    s->entry.store(seq << kSeqShift, std::memory_order_relaxed);
    s->job.store((seq << 16) | static_cast<uint64_t>(helpers), std::memory_order_release);
  }
  s->wake.notify_all();
  s->work(0);
  // Every task is taken: close the job to latecomers and wait only for the workers that joined.
  const int joined = static_cast<int>(s->entry.fetch_or(kClosed, std::memory_order_acq_rel) & kJoinedMask);
  for (int spin = 0; s->finished.load(std::memory_order_acquire) != joined && spin < kSpinIterations; spin++)
    NAMM_PAUSE();
  if (s->finished.load(std::memory_order_acquire) != joined) {
    std::unique_lock<std::mutex> lk(s->m);
    s->done.wait(lk, [&] { return s->finished.load(std::memory_order_acquire) == joined; });
  }
}

int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int c = CPU_COUNT(&set);
    if (c > 0) return c;
  }
#endif
  unsigned h = std::thread::hardware_concurrency();
  return h > 0 ? static_cast<int>(h) : 1;
}

int default_threads() { return std::min(available_cores(), kMaxThreads); }

}  // namespace namm
