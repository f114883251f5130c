#include "analysis/cpu_peak.h"

#include <gtest/gtest.h>

namespace infera {
namespace {

// Not a timing target (the machine is shared): the result must only be a plausible rate from the threads asked for.
TEST(CpuPeak, OneThreadGivesAPlausibleRate) {
  Fp32Peak peak = measure_fp32_peak(1, 0.02);
  EXPECT_EQ(peak.threads, 1);
  EXPECT_FALSE(peak.isa.empty());
  EXPECT_GT(peak.gflops, 0.5);    // even a scalar loop on a slow core does more
  EXPECT_LT(peak.gflops, 2000.0);  // no single core does 2 TFLOP/s of fp32
}

TEST(CpuPeak, RunsTheRequestedThreadCount) {
  Fp32Peak peak = measure_fp32_peak(2, 0.02);
  EXPECT_EQ(peak.threads, 2);
  EXPECT_GT(peak.gflops, 0.5);
}

}  // namespace
}  // namespace infera
