// The vectorised math of the CPU backend (src/backends/cpu/vec_math.h) against the std:: functions, over a dense
// sweep that includes large magnitudes, signed zeros, infinities and NaN. Called here as scalar code (the portable
// form); the ISA variants run the same source and are compared with the reference kernels in cpu_kernels_test.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/vec_math.h"

namespace infera::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Every float between -limit and limit with a fine step near 0, plus special values.
std::vector<float> sweep(float limit) {
  std::vector<float> xs = {0.0f, -0.0f, kInf, -kInf, 1e-30f, -1e-30f, 1e-7f, -1e-7f, limit, -limit};
  for (float x = 1e-6f; x < limit; x *= 1.0001f) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  return xs;
}

// Relative error, with results below FLT_MIN (denormals) compared in absolute terms.
template <class F, class G>
double max_relative_error(const std::vector<float>& xs, F approx, G exact) {
  double worst = 0;
  for (float x : xs) {
    const float want = exact(x), got = approx(x);
    if (std::isnan(want) || std::isinf(want)) {
      EXPECT_TRUE(std::isnan(want) ? std::isnan(got) : got == want) << "x = " << x << " got " << got;
      continue;
    }
    const double denom = std::max<double>(std::fabs(want), std::numeric_limits<float>::min());
    const double err = std::fabs(double(got) - double(want)) / denom;
    EXPECT_LE(err, 1e-5) << "x = " << x << " got " << got << " want " << want;
    worst = std::max(worst, err);
  }
  return worst;
}

TEST(CpuMath, ExpMatchesStd) {
  EXPECT_LE(max_relative_error(sweep(120.0f), exp_approx, [](float x) { return std::exp(x); }), 1e-6);
  EXPECT_TRUE(std::isnan(exp_approx(std::nanf(""))));
  EXPECT_EQ(exp_approx(89.0f), kInf);
  EXPECT_EQ(exp_approx(-kInf), 0.0f);
}

TEST(CpuMath, TanhMatchesStd) {
  EXPECT_LE(max_relative_error(sweep(50.0f), tanh_approx, [](float x) { return std::tanh(x); }), 1e-6);
  EXPECT_TRUE(std::isnan(tanh_approx(std::nanf(""))));
  EXPECT_EQ(tanh_approx(kInf), 1.0f);
  EXPECT_EQ(tanh_approx(-kInf), -1.0f);
}

TEST(CpuMath, ErfMatchesStd) {
  EXPECT_LE(max_relative_error(sweep(20.0f), erf_approx, [](float x) { return std::erf(x); }), 2e-6);
  EXPECT_TRUE(std::isnan(erf_approx(std::nanf(""))));
  EXPECT_EQ(erf_approx(kInf), 1.0f);
}

TEST(CpuMath, SigmoidMatchesStd) {
  auto exact = [](float x) { return float(1.0 / (1.0 + std::exp(-double(x)))); };
  EXPECT_LE(max_relative_error(sweep(100.0f), sigmoid_approx, exact), 1e-6);
  EXPECT_TRUE(std::isnan(sigmoid_approx(std::nanf(""))));
}

TEST(CpuMath, GeluMatchesDefinitionInAbsoluteTerms) {
  // 1 + erf(x) cancels for negative x in any float formula, the reference's included: compare absolutely.
  for (float x : sweep(30.0f)) {
    if (std::isinf(x)) continue;
    const double exact = 0.5 * x * (1.0 + std::erf(double(x) / std::sqrt(2.0)));
    EXPECT_NEAR(gelu_erf(x), exact, 1e-6 * std::max(1.0, std::fabs(exact))) << "x = " << x;
    const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * double(x) * x * x);
    const double exact_tanh = 0.5 * x * (1.0 + std::tanh(u));
    EXPECT_NEAR(gelu_tanh(x), exact_tanh, 1e-6 * std::max(1.0, std::fabs(exact_tanh))) << "x = " << x;
  }
}

}  // namespace
}  // namespace infera::cpu
