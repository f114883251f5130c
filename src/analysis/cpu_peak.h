// This CPU's fp32 peak, measured: how many FLOP/s a tight loop of independent fused multiply-adds reaches. It is the
// yardstick for "percent of peak" in benchmarks and, later, the measured number in a device description.
#pragma once

#include <string>

namespace infera {

struct Fp32Peak {
  double gflops = 0;  // all threads together; one FMA lane counts as 2 FLOPs
  int threads = 0;    // threads that ran the loop
  std::string isa;    // instruction set of the loop: "avx512f", "avx2+fma" or "scalar"
};

// Runs the FMA loop for about `seconds_per_thread` on each of `threads` OpenMP threads (<= 0: all of them) with
// the widest FMA this CPU has, chosen at run time.
Fp32Peak measure_fp32_peak(int threads, double seconds_per_thread = 0.2);

inline double measure_fp32_peak_gflops(int threads) { return measure_fp32_peak(threads).gflops; }

}  // namespace infera
