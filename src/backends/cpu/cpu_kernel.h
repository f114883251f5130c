// Shared machinery of the CPU kernels: ISA variants of a loop body, the thread split, request checks and the
// Kernel base class that reports which variant runs.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "backends/backend.h"

namespace infera::cpu {

enum class Isa { Portable, Avx2, Avx512 };

// The ISA kernels compile for: the best this CPU runs (detected once), unless a test forced a lower one.
Isa active_isa();
void force_isa(Isa isa);  // for tests: later compiles use `isa` (never higher than the CPU supports)
void reset_isa();
const char* isa_name(Isa isa);

// Loop bodies and the helpers they call are always inlined, so that each ISA variant gets its own copy.
#define INFERA_CPU_INLINE [[gnu::always_inline]] inline

// One loop body compiled three times, each vectorised for its target.
template <class Body>
struct Variants {
  template <class... A>
  [[gnu::target("avx512f,avx512dq,avx512bw,avx512vl,fma,prefer-vector-width=512")]] static void avx512(A... a) {
    Body::run(a...);
  }
  template <class... A>
  [[gnu::target("avx2,fma")]] static void avx2(A... a) {
    Body::run(a...);
  }
  template <class... A>
  static void portable(A... a) {
    Body::run(a...);
  }
};

template <class Body, class... A>
auto variant(Isa isa) -> void (*)(A...) {
  switch (isa) {
    case Isa::Avx512: return &Variants<Body>::template avx512<A...>;
    case Isa::Avx2: return &Variants<Body>::template avx2<A...>;
    case Isa::Portable: break;
  }
  return &Variants<Body>::template portable<A...>;
}

// Below this many elements of work an op runs on the calling thread: forking the pool costs more than it saves.
inline constexpr int64_t kParallelThreshold = 32 * 1024;

// Calls fn(begin, end) on contiguous ranges of [0, tasks) with a static split (the same split for a fixed thread
// count, so results never depend on scheduling). `work_per_task` (elements) decides whether to fork at all.
template <class F>
void parallel_ranges(int64_t tasks, int64_t work_per_task, F&& fn) {
  if (tasks <= 0) return;
  const int threads = omp_get_max_threads();
  if (threads <= 1 || tasks == 1 || tasks * work_per_task < kParallelThreshold || omp_in_parallel()) {
    fn(int64_t(0), tasks);
    return;
  }
  const int64_t parts = std::min<int64_t>(threads, tasks);
#pragma omp parallel for schedule(static) num_threads(int(parts))
  for (int64_t p = 0; p < parts; ++p) fn(tasks * p / parts, tasks * (p + 1) / parts);
}

// Splits n contiguous elements into aligned chunks for parallel_ranges: fn(begin, end) in elements.
template <class F>
void parallel_elements(int64_t n, F&& fn) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_ranges(chunks, kChunk, [&](int64_t b, int64_t e) { fn(b * kChunk, std::min(n, e * kChunk)); });
}

// Input i is present, plain and of dtype `dtype` with a known shape.
bool is_plain(const KernelRequest& r, size_t i, DType dtype);
// Every present input and every output is plain float32.
bool all_plain_float(const KernelRequest& r);
// The value of a constant integer input (int32/int64), or false when it is absent or not constant.
bool constant_ints(const KernelRequest& r, size_t i, std::vector<int64_t>& out);

// Base of every CPU kernel: describe() says "cpu <what> <isa>".
class CpuKernel : public Kernel {
 public:
  explicit CpuKernel(std::string what, Isa isa = active_isa()) : what_(std::move(what)), isa_(isa) {}
  std::string describe() const override { return "cpu " + what_ + " " + isa_name(isa_); }

 protected:
  Isa isa() const { return isa_; }

 private:
  std::string what_;
  Isa isa_;
};

}  // namespace infera::cpu
