#include "analysis/cpu_peak.h"

#include <chrono>
#include <immintrin.h>
#include <omp.h>

namespace infera {

namespace {

// Each kernel runs `reps` rounds of one FMA on each of 12 independent accumulators: enough chains to cover the FMA
// latency (4 cycles) times the FMA ports (2) of current x86 cores. acc * 0.9999 + 0.001 stays near 10, so the values
// never overflow nor turn subnormal. The sum is returned so that the loop cannot be optimised away.
constexpr int kAccumulators = 12;
constexpr float kScale = 0.9999f;
constexpr float kOffset = 0.001f;

__attribute__((target("avx512f"))) float fma_rounds_avx512(long reps) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 scale = _mm512_set1_ps(kScale), offset = _mm512_set1_ps(kOffset);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, offset);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) float fma_rounds_avx2(long reps) {
  __m256 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 scale = _mm256_set1_ps(kScale), offset = _mm256_set1_ps(kOffset);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, offset);
  }
  alignas(32) float lanes[8];
  __m256 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm256_add_ps(sum, acc[i]);
  _mm256_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

// Without FMA a multiply and an add do the same 2 FLOPs.
float fma_rounds_scalar(long reps) {
  float acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = float(i);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = acc[i] * kScale + kOffset;
  }
  float total = 0;
  for (float v : acc) total += v;
  return total;
}

struct FmaKernel {
  float (*run)(long reps);
  int lanes;  // floats per register
  const char* isa;
};

FmaKernel widest_fma_kernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {fma_rounds_avx512, 16, "avx512f"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {fma_rounds_avx2, 8, "avx2+fma"};
  return {fma_rounds_scalar, 1, "scalar"};
}

// FLOP/s of one thread running `kernel` for about `seconds`. The clock is read between chunks of ~50 us at peak,
// so reading it costs nothing measurable.
double thread_flops_per_second(const FmaKernel& kernel, double seconds, volatile float& sink) {
  using clock = std::chrono::steady_clock;
  constexpr long kRepsPerChunk = 1 << 14;
  sink = sink + kernel.run(kRepsPerChunk);  // warm-up: page in the code, let the clock settle on the vector unit
  long chunks = 0;
  const auto start = clock::now();
  double elapsed = 0;
  do {
    sink = sink + kernel.run(kRepsPerChunk);
    ++chunks;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  } while (elapsed < seconds);
  const double flops = double(chunks) * kRepsPerChunk * kAccumulators * kernel.lanes * 2.0;
  return flops / elapsed;
}

}  // namespace

Fp32Peak measure_fp32_peak(int threads, double seconds_per_thread) {
  const FmaKernel kernel = widest_fma_kernel();
  const int requested = threads > 0 ? threads : omp_get_max_threads();
  double total_flops_per_second = 0;
  int ran = 0;
  volatile float sink = 0;
#pragma omp parallel num_threads(requested) reduction(+ : total_flops_per_second, ran)
  {
    volatile float thread_sink = 0;
    total_flops_per_second += thread_flops_per_second(kernel, seconds_per_thread, thread_sink);
    ran += 1;
    sink = thread_sink;
  }
  return {total_flops_per_second / 1e9, ran, kernel.isa};
}

}  // namespace infera
