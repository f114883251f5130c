// Calibration: the histogram scheme (exact merging when the range widens, folding), each method on synthetic
// distributions with known answers, and statistics collected from a model over a data set.
#include "quant/calibrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "infera/tensor_io.h"
#include "model_builder.h"

namespace infera {
namespace {

using harness::ModelBuilder;

TensorHistogram histogram_of(const std::vector<float>& values, int bins = 2048) {
  TensorHistogram h;
  h.add(values.data(), int64_t(values.size()), bins);
  return h;
}

TensorRange range_of(const TensorHistogram& h, CalibrationMethod method, bool symmetric, double percentile = 99.99) {
  CalibrationOptions o;
  o.method = method;
  o.symmetric = symmetric;
  o.percentile = percentile;
  return choose_range(h, o);
}

// `n` samples of N(0, 1), or of a Laplace distribution with scale 1, plus `outliers` values at +-40.
std::vector<float> samples(int n, int outliers, bool laplace = false) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::exponential_distribution<float> exponential(1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = laplace ? (i % 2 ? 1.0f : -1.0f) * exponential(rng) : normal(rng);
  for (int i = 0; i < outliers; ++i) v.push_back(i % 2 ? 40.0f : -40.0f);
  return v;
}

TEST(CalibrateHistogram, WideningMergesBinsAndPreservesCountsExactly) {
  std::mt19937 rng(1);
  std::vector<float> all;
  TensorHistogram h;
  for (auto [lo, hi] : {std::pair{-1.0f, 1.0f}, {-10.0f, 30.0f}, {-100.0f, 5.0f}, {-0.5f, 0.5f}}) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> batch(1000);
    for (float& x : batch) x = dist(rng);
    h.add(batch.data(), int64_t(batch.size()), 256);
    all.insert(all.end(), batch.begin(), batch.end());
    EXPECT_LE(h.counts.size(), 256u);
  }
  EXPECT_EQ(h.total(), 4000);
  EXPECT_LE(h.first_bin * h.bin_width, h.min);
  EXPECT_GE(double(h.first_bin + int64_t(h.counts.size())) * h.bin_width, h.max);
  EXPECT_GE(h.counts.size(), 128u) << "after widening at least half the bins stay in use";
  // Binning everything at once on the final grid gives the same counts: merging lost nothing.
  TensorHistogram direct;
  direct.bin_width = h.bin_width;
  direct.first_bin = h.first_bin;
  direct.counts.assign(h.counts.size(), 0);
  direct.add(all.data(), int64_t(all.size()), 256);
  EXPECT_EQ(direct.counts, h.counts);
  EXPECT_EQ(direct.bin_width, h.bin_width);
}

TEST(CalibrateHistogram, ZerosNonFiniteAndFolding) {
  TensorHistogram h = histogram_of({0.0f, 0.0f, NAN, INFINITY});
  EXPECT_EQ(h.total(), 2);
  EXPECT_EQ(h.zeros, 2);
  EXPECT_EQ(h.nonfinite, 2);
  TensorRange r = range_of(h, CalibrationMethod::Entropy, false);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_EQ(r.max, 0.0f);
  // Zeros seen before the first non-zero value keep their count when the grid is set up.
  std::vector<float> more = {-1.5f, 1.5f, -1.2f, 1.2f};
  h.add(more.data(), 4, 64);
  EXPECT_EQ(h.total(), 6);
  EXPECT_EQ(h.counts[size_t(-h.first_bin)], 2) << "the zeros, in bin 0";
  std::vector<int64_t> folded = h.folded();
  EXPECT_EQ(std::accumulate(folded.begin(), folded.end(), int64_t(0)), 6);
  EXPECT_EQ(folded[0], 2);
  EXPECT_EQ(folded[size_t(1.2 / h.bin_width)], 2) << "-1.2 and 1.2 fold into one bin";
}

TEST(CalibrateMethods, MinMaxIsExactAndIncludesZero) {
  TensorHistogram h = histogram_of({-3.5f, 0.25f, 7.0f});
  TensorRange r = range_of(h, CalibrationMethod::MinMax, false);
  EXPECT_EQ(r.min, -3.5f);
  EXPECT_EQ(r.max, 7.0f);
  r = range_of(h, CalibrationMethod::MinMax, true);
  EXPECT_EQ(r.min, -7.0f);
  EXPECT_EQ(r.max, 7.0f);
  r = range_of(histogram_of({1.0f, 2.0f}), CalibrationMethod::MinMax, false);
  EXPECT_EQ(r.min, 0.0f) << "0 must be representable";
  EXPECT_EQ(r.max, 2.0f);
}

TEST(CalibrateMethods, PercentileOnUniform) {
  std::vector<float> v;
  for (int i = -100000; i <= 100000; ++i) v.push_back(float(i) / 100000.0f);  // uniform on [-1, 1]
  TensorHistogram h = histogram_of(v);
  TensorRange r = range_of(h, CalibrationMethod::Percentile, false, 99.0);  // 0.5 % cut from each tail
  EXPECT_NEAR(r.min, -0.99, 1e-3);
  EXPECT_NEAR(r.max, 0.99, 1e-3);
  r = range_of(h, CalibrationMethod::Percentile, true, 98.0);  // 98 % of |x| below 0.98
  EXPECT_NEAR(r.max, 0.98, 1e-3);
  EXPECT_EQ(r.min, -r.max);
  r = range_of(h, CalibrationMethod::Percentile, false, 100.0);
  EXPECT_EQ(r.min, -1.0f);
  EXPECT_EQ(r.max, 1.0f);
}

TEST(CalibrateMethods, EntropyAndMseClipOutliersAndKeepTheBulk) {
  // Entropy: 20 outliers among 200,000 values. MSE weighs each value's squared error, so far outliers are worth
  // clipping only when rare enough that they cost less than the coarser step of keeping them: 2 in a million.
  TensorHistogram for_entropy = histogram_of(samples(200000, 20));
  TensorHistogram for_mse = histogram_of(samples(1000000, 2));
  for (CalibrationMethod m : {CalibrationMethod::Entropy, CalibrationMethod::Mse}) {
    for (bool symmetric : {true, false}) {
      TensorRange r = range_of(m == CalibrationMethod::Entropy ? for_entropy : for_mse, m, symmetric);
      SCOPED_TRACE(std::string(calibration_method_name(m)) + (symmetric ? " symmetric" : " asymmetric"));
      EXPECT_GT(r.max, 3.0f) << "keeps the bulk of N(0, 1)";
      EXPECT_LT(r.max, 20.0f) << "clips the outliers at 40";
      EXPECT_LT(r.min, -3.0f);
      EXPECT_GT(r.min, -20.0f);
      if (symmetric) EXPECT_EQ(r.min, -r.max);
    }
  }
}

TEST(CalibrateMethods, MseOnLaplaceClipsAtTheKnownOptimum) {
  // For 8 bits and a Laplace distribution of scale b the MSE-optimal clipping is about 9.9 b (Banner et al., ACIQ),
  // below the largest of a million samples (about 13 b).
  TensorHistogram h = histogram_of(samples(1000000, 0, true));
  TensorRange r = range_of(h, CalibrationMethod::Mse, true);
  EXPECT_NEAR(r.max, 9.9, 1.0);
  EXPECT_LT(r.max, std::max(-h.min, h.max) - 1.0);
}

TEST(CalibrateMethods, OneSignedTensorsStartAtZero) {
  std::vector<float> v = samples(200000, 20);
  for (float& x : v) x = std::max(x, 0.0f);  // as after ReLU: half exact zeros
  TensorHistogram h = histogram_of(v);
  EXPECT_GT(h.zeros, 90000);
  for (CalibrationMethod m : {CalibrationMethod::Percentile, CalibrationMethod::Entropy}) {
    TensorRange r = range_of(h, m, false);
    SCOPED_TRACE(calibration_method_name(m));
    EXPECT_EQ(r.min, 0.0f);
    EXPECT_GT(r.max, 3.0f);
    EXPECT_LT(r.max, 12.0f);
  }
}

TEST(CalibrateMethods, ParseNames) {
  EXPECT_EQ(parse_calibration_method("entropy"), CalibrationMethod::Entropy);
  EXPECT_STREQ(calibration_method_name(CalibrationMethod::Mse), "mse");
  EXPECT_THROW(parse_calibration_method("kl"), Error);
}

class CalibrateModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("infera-calib-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// x [4,1,1,2] -> Conv (1x1, weight 1) -> c -> Relu -> r -> Mul 2 -> y. Conv+Relu is fused by the graph passes;
// probing c must still see the values before the Relu.
TEST_F(CalibrateModel, CollectsStatisticsOverRealSamplesOnly) {
  ModelBuilder b;
  b.input("x", {4, 1, 1, 2})
      .init("w", Tensor::from_vector<float>({1, 1, 1, 1}, {1.0f}))
      .init("two", Tensor::scalar<float>(2.0f))
      .node("Conv", {"x", "w"}, {"c"})
      .node("Relu", {"c"}, {"r"})
      .node("Mul", {"r", "two"}, {"y"})
      .output("y");
  // Six samples: the second batch of 4 holds 2 real samples and 2 rows of padding.
  for (int i = 0; i < 6; ++i)
    write_npy((dir_ / ("s" + std::to_string(i) + ".npy")).string(),
              Tensor::from_vector<float>({1, 1, 2}, {float(i) - 3.0f, float(i) * 0.5f}));
  Dataset data = Dataset::open(dir_.string(), {});
  CalibrationOptions options;
  options.progress = false;
  options.threads = 1;
  CalibrationStats stats = collect_statistics(b.m, {"x", "c", "r", "y"}, data, options);
  EXPECT_EQ(stats.samples, 6);
  EXPECT_EQ(stats.tensors.at("x").total(), 12) << "padding rows are not counted";
  EXPECT_EQ(stats.tensors.at("x").min, -3.0);
  EXPECT_EQ(stats.tensors.at("x").max, 2.5);
  EXPECT_EQ(stats.tensors.at("c").min, -3.0) << "the Conv output before the fused Relu";
  EXPECT_EQ(stats.tensors.at("r").min, 0.0);
  EXPECT_EQ(stats.tensors.at("y").max, 5.0);
  EXPECT_EQ(stats.tensors.at("r").zeros, 5);  // -3, -2, -1, 0 and 0 * 0.5
  std::map<std::string, TensorRange> ranges = choose_ranges(stats, options);
  EXPECT_EQ(ranges.at("y").max, 5.0f);
  // Every sample once more, with a limit of 3: only the first batch, partly.
  options.max_samples = 3;
  EXPECT_EQ(collect_statistics(b.m, {"x"}, data, options).tensors.at("x").total(), 6);
  EXPECT_THROW(collect_statistics(b.m, {"nonexistent"}, data, options), Error);
}

}  // namespace
}  // namespace infera
