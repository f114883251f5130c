// The mixed-precision search on a fake evaluator (the fewest layers kept, the budget respected, ties), the
// sensitivity ranking, and the sweep's Pareto front.
#include "quant/mixed_precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>

#include "quant/sweep.h"

namespace infera {
namespace {

// A model whose top-1 count is `low` until `needed` layers are kept, then `high`; counts the evaluations.
struct StepModel {
  int64_t needed, low, high;
  int calls = 0;
  int64_t operator()(int64_t kept) {
    ++calls;
    return kept >= needed ? high : low;
  }
};

TEST(MixedPrecisionSearch, FindsTheFewestLayersOnAMonotoneModel) {
  for (int64_t needed = 1; needed <= 54; ++needed) {
    StepModel model{needed, 400, 413};
    KeptSearch s = search_fewest_kept(54, 412, std::ref(model));
    EXPECT_EQ(s.kept, needed);
    // k = 0, then doubling to the first k >= needed, then bisection: about 2 log2(needed) + 2.
    EXPECT_LE(model.calls, 2 * int(std::ceil(std::log2(double(needed)))) + 2) << needed;
    EXPECT_EQ(int(s.trials.size()), model.calls);
  }
}

TEST(MixedPrecisionSearch, FullModelWithinBudgetCostsOneEvaluation) {
  StepModel model{5, 412, 413};
  KeptSearch s = search_fewest_kept(54, 412, std::ref(model));
  EXPECT_EQ(s.kept, 0);
  ASSERT_EQ(s.trials.size(), 1u);
  EXPECT_TRUE(s.trials[0].within);
}

TEST(MixedPrecisionSearch, DropEqualToTheBudgetIsWithinIt) {
  // fp32 413 of 500; 0.2 pt of 500 is exactly one sample: 412 is within, 411 is not.
  EXPECT_EQ(min_correct_within(413, 500, 0.2), 412);
  EXPECT_EQ(min_correct_within(413, 500, 0.5), 411);  // 2.5 samples: at most 2 lost
  EXPECT_EQ(min_correct_within(413, 500, 0.1), 413);
  EXPECT_EQ(min_correct_within(413, 500, 0.0), 413);
  StepModel exact{3, 411, 412};
  EXPECT_EQ(search_fewest_kept(54, min_correct_within(413, 500, 0.2), std::ref(exact)).kept, 3);
}

TEST(MixedPrecisionSearch, EveryAnswerWasMeasuredToMeetTheBudget) {
  // Not monotone: keeping 3 meets the budget, 4..5 do not, 6 and more do.
  auto correct = [](int64_t kept) -> int64_t { return kept == 3 || kept >= 6 ? 100 : 90; };
  KeptSearch s = search_fewest_kept(10, 100, correct);
  ASSERT_GE(s.kept, 0);
  EXPECT_EQ(correct(s.kept), 100);
  bool measured = false;
  for (const KeptTrial& t : s.trials) measured |= t.kept == s.kept && t.within;
  EXPECT_TRUE(measured);
  for (const KeptTrial& t : s.trials)
    if (t.within) EXPECT_GE(t.kept, s.kept) << "a smaller count was measured to pass";
}

TEST(MixedPrecisionSearch, NoCountMeetsTheBudget) {
  StepModel never{100, 10, 10};
  KeptSearch s = search_fewest_kept(6, 11, std::ref(never));
  EXPECT_EQ(s.kept, -1);
  EXPECT_EQ(s.trials.back().kept, 6);  // tried keeping every layer before giving up
}

TEST(MixedPrecisionRanking, MostSensitiveFirstTiesKeepGraphOrder) {
  std::vector<LayerSensitivity> layers = {
      {"a", "Conv", 0.01}, {"b", "Conv", 0.2}, {"c", "Conv", 0.01}, {"d", "MatMul", 0.2}, {"e", "Add", 0}};
  std::vector<LayerSensitivity> ranked = rank_by_sensitivity(layers);
  std::vector<std::string> order;
  for (const LayerSensitivity& l : ranked) order.push_back(l.node);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "d", "a", "c", "e"}));
  EXPECT_TRUE(std::isinf(ranked.back().output_sqnr_db()));
  EXPECT_NEAR(ranked.front().output_sqnr_db(), 6.9897, 1e-3);
}

TEST(SweepPareto, MarksTheNonDominatedPoints) {
  // (top-1, latency ms)
  std::vector<bool> front = pareto_front({{0.826, 10.0},   // fp32: most accurate
                                          {0.826, 40.0},   // fp16: as accurate, slower: dominated
                                          {0.824, 3.0},    // int8: fastest
                                          {0.800, 3.5},    // worse and slower than int8: dominated
                                          {0.825, 5.0},    // in between: on the front
                                          {0.824, 3.0}});  // equal to int8: both on the front
  EXPECT_EQ(front, (std::vector<bool>{true, false, true, false, true, true}));
}

TEST(SweepVariants, CoverEveryPrecisionAndMethodOnce) {
  std::vector<SweepVariant> v = sweep_variants();
  ASSERT_EQ(v.size(), 12u);  // fp32, fp16, bf16, 4 methods x 2 granularities, int4-weight
  EXPECT_FALSE(v[0].quantized);
  std::set<std::string> stems;
  for (const SweepVariant& x : v) stems.insert(x.file_stem());
  EXPECT_EQ(stems.size(), v.size());
  EXPECT_TRUE(stems.count("int8-entropy-per-channel"));
}

}  // namespace
}  // namespace infera
