// This CPU's arithmetic peaks, measured: how many operations per second a tight loop of independent multiply-adds
// reaches with the widest instructions the CPU has (fp32 FMA, AVX512-BF16 dot products, VNNI int8 dot products).
// They are the yardstick for "percent of peak" in benchmarks and the measured peaks of the "this" device.
#pragma once

#include <string>

namespace infera {

enum class CpuPrecision { fp32, bf16, int8 };

struct CpuPeak {
  double gops = 0;   // billions of operations per second, all threads together; one multiply-add counts as 2
  int threads = 0;   // threads that ran the loop
  std::string isa;   // instruction of the loop: "avx512f vfmadd", "avx512_vnni vpdpbusd", ...; "" when none exists
  bool measured() const { return gops > 0; }
};

// Runs the loop for about `seconds_per_thread` on each of `threads` OpenMP threads (<= 0: all of them) with the
// widest instruction this CPU has for `precision`, chosen at run time. bf16 without AVX512-BF16 is not measured
// (such CPUs convert bf16 to fp32 and run at the fp32 rate): gops = 0 and isa = "".
CpuPeak measure_cpu_peak(CpuPrecision precision, int threads, double seconds_per_thread = 0.2);

struct Fp32Peak {
  double gflops = 0;  // all threads together; one FMA lane counts as 2 FLOPs
  int threads = 0;    // threads that ran the loop
  std::string isa;    // instruction set of the loop: "avx512f", "avx2+fma" or "scalar"
};

// measure_cpu_peak(CpuPrecision::fp32, ...) in the form `infera bench --peak` reports.
Fp32Peak measure_fp32_peak(int threads, double seconds_per_thread = 0.2);

inline double measure_fp32_peak_gflops(int threads) { return measure_fp32_peak(threads).gflops; }

}  // namespace infera
