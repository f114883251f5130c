#include "analysis/cpu_peak.h"

#include <cpuid.h>
#include <cstdint>
#include <immintrin.h>
#include <omp.h>

#include "analysis/best_rate.h"

namespace infera {

namespace {

// Each kernel runs `reps` rounds of one multiply-add instruction on each of 12 independent accumulators: enough
// chains to cover the latency (4-5 cycles) times the ports (2) of current x86 vector units. The result is returned
// so that the loop cannot be optimised away.
constexpr int kAccumulators = 12;

// fp32: acc * 0.9999 + 0.001 stays near 10, so the values never overflow nor turn subnormal.
constexpr float kScale = 0.9999f;
constexpr float kOffset = 0.001f;

// Horizontal sums through memory: GCC 12's _mm512_reduce_* intrinsics warn about their own undefined upper halves.
__attribute__((target("avx512f"))) float lane_sum(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}

__attribute__((target("avx512f"))) int32_t lane_sum(__m512i v) {
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, v);
  int32_t total = 0;
  for (int32_t x : lanes) total += x;
  return total;
}

__attribute__((target("avx2"))) float lane_sum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float total = 0;
  for (float x : lanes) total += x;
  return total;
}

__attribute__((target("avx2"))) int32_t lane_sum(__m256i v) {
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), v);
  int32_t total = 0;
  for (int32_t x : lanes) total += x;
  return total;
}

__attribute__((target("avx512f"))) float fp32_fma_avx512(long reps) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 scale = _mm512_set1_ps(kScale), offset = _mm512_set1_ps(kOffset);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_fmadd_ps(acc[i], scale, offset);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return lane_sum(sum);
}

__attribute__((target("avx2,fma"))) float fp32_fma_avx2(long reps) {
  __m256 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 scale = _mm256_set1_ps(kScale), offset = _mm256_set1_ps(kOffset);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_fmadd_ps(acc[i], scale, offset);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm256_add_ps(sum, acc[i]);
  return lane_sum(sum);
}

// Without FMA a multiply and an add do the same 2 FLOPs.
float fp32_scalar(long reps) {
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

// bf16: vdpbf16ps multiplies 32 bf16 pairs and adds them, in pairs, into 16 fp32 lanes. Operands of 1/64 (0x3c80)
// add 2^-11 per round: after 10^8 rounds a lane holds about 5 * 10^4, far from overflow.
__attribute__((target("avx512f,avx512bf16"))) float bf16_dot_avx512(long reps) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh operand = (__m512bh)_mm512_set1_epi16(0x3c80);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], operand, operand);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return lane_sum(sum);
}

// int8: vpdpbusd multiplies 64 u8 x s8 pairs and adds them, in fours, into 16 int32 lanes. int32 lanes wrap
// around harmlessly; the value only has to exist.
__attribute__((target("avx512f,avx512vnni"))) float int8_dot_avx512vnni(long reps) {
  __m512i acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  }
  __m512i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  return float(lane_sum(sum));
}

__attribute__((target("avx2,avxvnni"))) float int8_dot_avxvnni(long reps) {
  __m256i acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_dpbusd_avx_epi32(acc[i], a, b);
  }
  __m256i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm256_add_epi32(sum, acc[i]);
  return float(lane_sum(sum));
}

// Before VNNI, int8 GEMMs (oneDNN's included) use vpmaddubsw (u8 x s8 -> pairs summed to s16), vpmaddwd (s16 pairs
// -> s32) and vpaddd: three instructions for 32 multiply-adds.
__attribute__((target("avx2"))) float int8_dot_avx2(long reps) {
  __m256i acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm256_set1_epi32(i);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (long r = 0; r < reps; ++r) {
#pragma GCC unroll 12
    for (int i = 0; i < kAccumulators; ++i)
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
  }
  __m256i sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm256_add_epi32(sum, acc[i]);
  return float(lane_sum(sum));
}

struct PeakKernel {
  float (*run)(long reps) = nullptr;
  double ops_per_instruction = 0;  // per accumulator step: 2 x multiply-adds
  const char* isa = "";
};

// AVX-VNNI (CPUID leaf 7, sub-leaf 1, EAX bit 4): clang 14's __builtin_cpu_supports does not know the name.
bool has_avx_vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1u);
}

PeakKernel widest_kernel(CpuPrecision precision) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  switch (precision) {
    case CpuPrecision::fp32:
      if (avx512) return {fp32_fma_avx512, 2 * 16, "avx512f"};
      if (avx2 && __builtin_cpu_supports("fma")) return {fp32_fma_avx2, 2 * 8, "avx2+fma"};
      return {fp32_scalar, 2, "scalar"};
    case CpuPrecision::bf16:
      if (avx512 && __builtin_cpu_supports("avx512bf16")) return {bf16_dot_avx512, 2 * 32, "avx512_bf16"};
      return {};
    case CpuPrecision::int8:
      if (avx512 && __builtin_cpu_supports("avx512vnni")) return {int8_dot_avx512vnni, 2 * 64, "avx512_vnni"};
      if (avx2 && has_avx_vnni()) return {int8_dot_avxvnni, 2 * 32, "avx_vnni"};
      if (avx2) return {int8_dot_avx2, 2 * 32, "avx2"};
      return {};
  }
  return {};
}

// Operations per second of one thread running `kernel` for about `seconds`; a chunk of 2^14 rounds takes ~50 us
// at peak.
double thread_ops_per_second(const PeakKernel& kernel, double seconds, volatile float& sink) {
  constexpr long kRepsPerChunk = 1 << 14;
  return best_rate([&] { sink = sink + kernel.run(kRepsPerChunk); },
                   double(kRepsPerChunk) * kAccumulators * kernel.ops_per_instruction, seconds);
}

}  // namespace

CpuPeak measure_cpu_peak(CpuPrecision precision, int threads, double seconds_per_thread) {
  const PeakKernel kernel = widest_kernel(precision);
  const int requested = threads > 0 ? threads : omp_get_max_threads();
  if (kernel.run == nullptr) return {0, requested, ""};
  double total_ops_per_second = 0;
  int ran = 0;
#pragma omp parallel num_threads(requested) reduction(+ : total_ops_per_second, ran)
  {
    volatile float sink = 0;  // a volatile store keeps each round's result alive
    total_ops_per_second += thread_ops_per_second(kernel, seconds_per_thread, sink);
    ran += 1;
  }
  return {total_ops_per_second / 1e9, ran, kernel.isa};
}

Fp32Peak measure_fp32_peak(int threads, double seconds_per_thread) {
  const CpuPeak peak = measure_cpu_peak(CpuPrecision::fp32, threads, seconds_per_thread);
  return {peak.gops, peak.threads, peak.isa};
}

}  // namespace infera
