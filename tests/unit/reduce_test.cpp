// Reductions, ArgMax/ArgMin, CumSum, TopK and Resize/Upsample: edge cases ONNX's conformance data misses.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

namespace {

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

TEST(Reduce, SumIntegersOverNegativeAxesInput) {
  Tensor x = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = OpCall("ReduceSum", 13, {x, i64({1}, {-1})}).i("keepdims", 0)()[0];
  EXPECT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{6, 15}));
}

TEST(Reduce, AxesAttributeBeforeOpset18AndInputFrom18) {
  Tensor x = f32({2, 2}, {1, 2, 3, 5});
  Tensor a = OpCall("ReduceMean", 13, {x}).ints("axes", {0})()[0];
  Tensor b = OpCall("ReduceMean", 18, {x, i64({1}, {0})})()[0];
  EXPECT_EQ(a.shape(), (Shape{1, 2}));
  EXPECT_EQ(values_of<float>(a), (std::vector<float>{2, 3.5f}));
  EXPECT_EQ(values_of<float>(b), values_of<float>(a));
}

TEST(Reduce, EmptyAxesReduceAllOrPassThrough) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  Tensor all = OpCall("ReduceSum", 13, {x}).i("keepdims", 0)()[0];
  EXPECT_EQ(all.shape(), Shape{});
  EXPECT_EQ(values_of<float>(all)[0], 10.f);
  Tensor same = OpCall("ReduceSum", 13, {x, i64({0}, {})}).i("noop_with_empty_axes", 1)()[0];
  EXPECT_EQ(same.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<float>(same), values_of<float>(x));
}

TEST(Reduce, EmptyReductionsGiveIdentityValues) {
  Tensor x(DType::Float32, {2, 0});
  auto reduce = [&](const char* op) { return values_of<float>(OpCall(op, 11, {x}).ints("axes", {1})()[0]); };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(reduce("ReduceSum"), (std::vector<float>{0, 0}));
  EXPECT_EQ(reduce("ReduceProd"), (std::vector<float>{1, 1}));
  EXPECT_EQ(reduce("ReduceMax"), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(reduce("ReduceMin"), (std::vector<float>{inf, inf}));
  EXPECT_EQ(reduce("ReduceLogSum"), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(reduce("ReduceLogSumExp"), (std::vector<float>{-inf, -inf}));
  EXPECT_EQ(reduce("ReduceL2"), (std::vector<float>{0, 0}));
  EXPECT_TRUE(std::isnan(reduce("ReduceMean")[0]));
  Tensor xi(DType::Int32, {0});
  EXPECT_EQ(values_of<int32_t>(OpCall("ReduceMax", 13, {xi})()[0])[0], std::numeric_limits<int32_t>::lowest());
}

TEST(Reduce, LogSumExpIsStableAndMaxPropagatesNaN) {
  Tensor big = f32({2}, {1000, 1000});
  EXPECT_NEAR(values_of<float>(OpCall("ReduceLogSumExp", 13, {big})()[0])[0], 1000 + std::log(2.0f), 1e-3);
  Tensor nan = f32({3}, {1, std::nanf(""), 3});
  EXPECT_TRUE(std::isnan(values_of<float>(OpCall("ReduceMax", 13, {nan})()[0])[0]));
}

TEST(Reduce, BadAxesFail) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(OpCall("ReduceSum", 13, {x, i64({2}, {1, -1})})(), Error);
  EXPECT_THROW(OpCall("ReduceMax", 13, {x}).ints("axes", {2})(), Error);
  EXPECT_THROW(OpCall("ReduceSum", 13, {Tensor::from_vector<bool>({1}, {true})})(), Error);
}

TEST(Reduce, UnknownAxesInputDefersShape) {
  OpCall r("ReduceSum", 13, {f32({2, 2}, {1, 2, 3, 4}), i64({1}, {0})});
  EXPECT_FALSE(r.infer({0}).shapes_known);
  EXPECT_TRUE(r.infer({0, 1}).shapes_known);
}

TEST(ArgReduce, TiesAndSelectLastIndex) {
  Tensor x = f32({2, 3}, {3, 1, 3, 2, 2, 0});
  Tensor first = OpCall("ArgMax", 13, {x}).i("axis", -1).i("keepdims", 0)()[0];
  Tensor last = OpCall("ArgMax", 13, {x}).i("axis", -1).i("keepdims", 0).i("select_last_index", 1)()[0];
  Tensor min_last = OpCall("ArgMin", 13, {x}).i("axis", 1).i("select_last_index", 1)()[0];
  EXPECT_EQ(first.dtype(), DType::Int64);
  EXPECT_EQ(values_of<int64_t>(first), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(values_of<int64_t>(last), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(min_last.shape(), (Shape{2, 1}));
  EXPECT_EQ(values_of<int64_t>(min_last), (std::vector<int64_t>{1, 2}));
  EXPECT_THROW(OpCall("ArgMax", 13, {Tensor(DType::Float32, {2, 0})}).i("axis", 1)(), Error);
}

TEST(CumSum, ExclusiveReverseAndBadAxis) {
  Tensor x = i64({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = OpCall("CumSum", 14, {x, Tensor::scalar<int32_t>(-1)}).i("exclusive", 1).i("reverse", 1)()[0];
  EXPECT_EQ(values_of<int64_t>(y), (std::vector<int64_t>{5, 3, 0, 11, 6, 0}));
  EXPECT_THROW(OpCall("CumSum", 14, {x, Tensor::scalar<int64_t>(2)})(), Error);
}

TEST(TopK, TiesTakeTheLowerIndexFirst) {
  Tensor x = f32({2, 4}, {1, 3, 3, 2, 5, 5, 5, 0});
  auto out = OpCall("TopK", 11, {x, i64({1}, {2})}, 2).i("axis", -1)();
  EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{3, 3, 5, 5}));
  EXPECT_EQ(values_of<int64_t>(out[1]), (std::vector<int64_t>{1, 2, 0, 1}));
  auto smallest = OpCall("TopK", 11, {x, i64({1}, {3})}, 2).i("largest", 0)();
  EXPECT_EQ(values_of<int64_t>(smallest[1]), (std::vector<int64_t>{0, 3, 1, 3, 0, 1}));
  auto legacy = OpCall("TopK", 1, {x}, 2).i("k", 1).i("axis", 0)();
  EXPECT_EQ(values_of<int64_t>(legacy[1]), (std::vector<int64_t>{1, 1, 1, 0}));
}

TEST(TopK, BadKFailsAndUnknownKDefersShape) {
  Tensor x = f32({2, 4}, {1, 3, 3, 2, 5, 5, 5, 0});
  EXPECT_THROW(OpCall("TopK", 11, {x, i64({1}, {5})}, 2)(), Error);
  EXPECT_THROW(OpCall("TopK", 11, {x, i64({1}, {-1})}, 2)(), Error);
  EXPECT_FALSE(OpCall("TopK", 11, {x, i64({1}, {2})}, 2).infer({0}).shapes_known);
}

TEST(Resize, UpsampleAndResize10UseAsymmetricLegacyNearest) {
  Tensor x = f32({1, 4}, {1, 2, 3, 4});
  Tensor up = OpCall("Upsample", 7, {x}).floats("scales", {1, 2})()[0];
  EXPECT_EQ(values_of<float>(up), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4}));
  // Downsampling rounds the source coordinate up: x / 0.6 = 1.67 reads element 2.
  Tensor down = OpCall("Resize", 10, {x, f32({2}, {1, 0.6f})})()[0];
  EXPECT_EQ(values_of<float>(down), (std::vector<float>{1, 3}));
  Tensor linear = OpCall("Resize", 10, {f32({1, 2}, {1, 3}), f32({2}, {1, 2})}).s("mode", "linear")()[0];
  EXPECT_EQ(values_of<float>(linear), (std::vector<float>{1, 2, 3, 3}));
}

TEST(Resize, AxesAndKeepAspectRatio) {
  Tensor x(DType::Float32, {1, 1, 2, 4});
  Tensor y = OpCall("Resize", 18, {x, Tensor(), Tensor(), i64({2}, {6, 6})})
                 .ints("axes", {-1, 2})
                 .s("keep_aspect_ratio_policy", "not_larger")()[0];
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 6}));
}

TEST(Resize, IntegersNearestExactAndLinearTruncated) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 2}, {10, 255});
  Tensor near = OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 2})}).s("coordinate_transformation_mode", "asymmetric")()[0];
  EXPECT_EQ(values_of<uint8_t>(near), (std::vector<uint8_t>{10, 10, 255, 255}));
  Tensor lin = OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 2})})
                   .s("mode", "linear")
                   .s("coordinate_transformation_mode", "asymmetric")()[0];
  EXPECT_EQ(values_of<uint8_t>(lin), (std::vector<uint8_t>{10, 132, 255, 255}));
}

TEST(Resize, BadArgumentsFailAndUnknownSizesDeferShape) {
  Tensor x(DType::Float32, {1, 2});
  EXPECT_THROW(OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 2}), i64({2}, {1, 4})})(), Error);
  EXPECT_THROW(OpCall("Resize", 13, {x})(), Error);
  EXPECT_THROW(OpCall("Resize", 13, {x, Tensor(), f32({1}, {2})})(), Error);
  EXPECT_THROW(OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 0})})(), Error);
  EXPECT_THROW(OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 2})}).s("mode", "bicubic")(), Error);
  EXPECT_THROW(OpCall("Resize", 13, {x, Tensor(), f32({2}, {1, 2})}).s("coordinate_transformation_mode", "half_pixel_symmetric")(), Error);
  EXPECT_FALSE(OpCall("Resize", 13, {x, Tensor(), Tensor(), i64({2}, {1, 4})}).infer({0}).shapes_known);
}

}  // namespace
