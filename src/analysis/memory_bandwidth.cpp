#include "analysis/memory_bandwidth.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>
#include <memory>
#include <omp.h>

#include "analysis/best_rate.h"
#include "infera/error.h"

namespace infera {

namespace {

// Loops work on blocks of 512 bytes (8 AVX-512 registers); each thread's share is a whole number of pages.
constexpr size_t kBlock = 512;
constexpr size_t kPage = 4096;

// Reads: xor into 8 independent accumulators (1-cycle latency), so that the loads, not the arithmetic, limit.
__attribute__((target("avx512f"))) uint64_t read_avx512(const std::byte* p, size_t bytes) {
  __m512i acc[8];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  for (size_t off = 0; off < bytes; off += kBlock)
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      acc[i] = _mm512_xor_si512(acc[i], _mm512_load_si512(reinterpret_cast<const __m512i*>(p + off) + i));
  for (int i = 1; i < 8; ++i) acc[0] = _mm512_xor_si512(acc[0], acc[i]);
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, acc[0]);
  return lanes[0] ^ lanes[7];
}

__attribute__((target("avx2"))) uint64_t read_avx2(const std::byte* p, size_t bytes) {
  __m256i acc[8];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  for (size_t off = 0; off < bytes; off += kBlock)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      acc[i % 8] = _mm256_xor_si256(acc[i % 8], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + off) + i));
  for (int i = 1; i < 8; ++i) acc[0] = _mm256_xor_si256(acc[0], acc[i]);
  return uint64_t(_mm256_extract_epi64(acc[0], 0));
}

uint64_t read_scalar(const std::byte* p, size_t bytes) {
  uint64_t acc[8] = {};
  for (size_t off = 0; off < bytes; off += 64)
    for (int i = 0; i < 8; ++i) {
      uint64_t v;
      std::memcpy(&v, p + off + 8 * i, 8);
      acc[i] ^= v;
    }
  return acc[0] ^ acc[1] ^ acc[2] ^ acc[3] ^ acc[4] ^ acc[5] ^ acc[6] ^ acc[7];
}

__attribute__((target("avx512f"))) uint64_t copy_avx512(std::byte* dst, const std::byte* src, size_t bytes) {
  for (size_t off = 0; off < bytes; off += kBlock)
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i)
      _mm512_store_si512(reinterpret_cast<__m512i*>(dst + off) + i,
                         _mm512_load_si512(reinterpret_cast<const __m512i*>(src + off) + i));
  return uint64_t(dst[bytes - 1]);
}

__attribute__((target("avx2"))) uint64_t copy_avx2(std::byte* dst, const std::byte* src, size_t bytes) {
  for (size_t off = 0; off < bytes; off += kBlock)
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i)
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + off) + i,
                         _mm256_load_si256(reinterpret_cast<const __m256i*>(src + off) + i));
  return uint64_t(dst[bytes - 1]);
}

// memcpy would switch to non-temporal stores for large sizes, which kernels do not use: copy words instead.
uint64_t copy_scalar(std::byte* dst, const std::byte* src, size_t bytes) {
  for (size_t off = 0; off < bytes; off += 8) {
    uint64_t v;
    std::memcpy(&v, src + off, 8);
    std::memcpy(dst + off, &v, 8);
  }
  return uint64_t(dst[bytes - 1]);
}

struct StreamKernels {
  uint64_t (*read)(const std::byte*, size_t);
  uint64_t (*copy)(std::byte*, const std::byte*, size_t);
  const char* isa;
};

StreamKernels widest_stream_kernels() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {read_avx512, copy_avx512, "avx512f"};
  if (__builtin_cpu_supports("avx2")) return {read_avx2, copy_avx2, "avx2"};
  return {read_scalar, copy_scalar, "scalar"};
}

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte, FreeDeleter>;

Buffer allocate(size_t bytes) {
  Buffer b(static_cast<std::byte*>(std::aligned_alloc(kPage, bytes)));
  if (!b) throw Error("device probe: cannot allocate " + std::to_string(bytes >> 20) + " MiB for the bandwidth loop");
  return b;
}

// Bytes per second one thread moves through its share. Small shares (a cache level) are streamed several times
// per step, so that a step moves at least 1 MiB.
double thread_bytes_per_second(const StreamKernels& k, StreamKind kind, std::byte* src, std::byte* dst,
                               size_t share, double seconds, uint64_t& sink) {
  const size_t passes = std::max<size_t>(1, (size_t(1) << 20) / share);
  auto step = [&] {
    for (size_t i = 0; i < passes; ++i) sink ^= kind == StreamKind::read ? k.read(src, share) : k.copy(dst, src, share);
  };
  const double bytes_per_pass = kind == StreamKind::read ? double(share) : 2.0 * double(share);
  return best_rate(step, double(passes) * bytes_per_pass, seconds);
}

}  // namespace

Bandwidth measure_bandwidth(StreamKind kind, size_t working_set_bytes, int threads, double seconds_per_thread) {
  const StreamKernels kernels = widest_stream_kernels();
  const int requested = threads > 0 ? threads : omp_get_max_threads();
  const size_t buffers = kind == StreamKind::copy ? 2 : 1;
  const size_t share = std::max(kPage, working_set_bytes / buffers / size_t(requested) / kPage * kPage);
  const size_t bytes = share * size_t(requested);
  Buffer src = allocate(bytes);
  Buffer dst = kind == StreamKind::copy ? allocate(bytes) : Buffer();
  double total = 0;
  int ran = 0;
  volatile uint64_t sink = 0;
#pragma omp parallel num_threads(requested) reduction(+ : total, ran)
  {
    // Each thread touches its own share first, so that its pages sit on its NUMA node.
    const size_t offset = size_t(omp_get_thread_num()) * share;
    std::byte* my_src = src.get() + offset;
    std::byte* my_dst = dst ? dst.get() + offset : nullptr;
    std::memset(my_src, omp_get_thread_num() + 1, share);
    if (my_dst != nullptr) std::memset(my_dst, 0, share);
#pragma omp barrier
    uint64_t thread_sink = 0;
    total += thread_bytes_per_second(kernels, kind, my_src, my_dst, share, seconds_per_thread, thread_sink);
    ran += 1;
    sink = sink ^ thread_sink;
  }
  return {total, ran, kernels.isa};
}

}  // namespace infera
