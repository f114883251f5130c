// Shape-manipulation, data-movement, constant and gather/scatter ops: edge cases ONNX's conformance data misses.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

namespace {

Tensor ints(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor floats(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor iota_f(Shape s) {
  Tensor t(DType::Float32, std::move(s));
  for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = float(k);
  return t;
}
}  // namespace

TEST(ShapeOps, ReshapeZeroAndMinusOneIsAView) {
  Tensor x = iota_f({2, 3, 4});
  Tensor y = OpCall("Reshape", 14, {x, ints({3}, {0, -1, 2})})()[0];
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(y.raw(), x.raw());
  EXPECT_EQ(OpCall("Reshape", 14, {Tensor(DType::Float32, {0, 3}), ints({2}, {3, 0})}).i("allowzero", 1)()[0].shape(),
            (Shape{3, 0}));
  EXPECT_THROW(OpCall("Reshape", 14, {x, ints({2}, {-1, -1})})(), Error);
  EXPECT_THROW(OpCall("Reshape", 14, {x, ints({2}, {5, -1})})(), Error);
}

TEST(ShapeOps, InferenceWaitsForUnknownValues) {
  OpCall reshape("Reshape", 14, {iota_f({2, 3}), ints({1}, {-1})});
  EXPECT_FALSE(reshape.infer({}).shapes_known);
  auto [ok, out] = reshape.infer({1});
  EXPECT_TRUE(ok);
  EXPECT_EQ(out[0].shape, (Shape{6}));
  EXPECT_FALSE(OpCall("NonZero", 13, {iota_f({3})}).infer({0}).shapes_known);
}

// The chain exporters emit for "x.view(x.size(0), -1)": Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
TEST(ShapeOps, ShapeSubgraphEvaluates) {
  Tensor x = iota_f({2, 3, 4});
  Tensor shape = OpCall("Shape", 15, {x})()[0];
  Tensor batch = OpCall("Gather", 13, {shape, Tensor::scalar<int64_t>(0)})()[0];
  Tensor batch1 = OpCall("Unsqueeze", 13, {batch, ints({1}, {0})})()[0];
  Tensor target = OpCall("Concat", 13, {batch1, ints({1}, {-1})}).i("axis", 0)()[0];
  EXPECT_EQ(values_of<int64_t>(target), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(OpCall("Reshape", 13, {x, target})()[0].shape(), (Shape{2, 12}));
  EXPECT_EQ(values_of<int64_t>(OpCall("Shape", 15, {x}).i("start", -2).i("end", 10)()[0]), (std::vector<int64_t>{3, 4}));
}

TEST(ShapeOps, SqueezeUnsqueezeAxes) {
  Tensor x = iota_f({1, 3, 1});
  EXPECT_EQ(OpCall("Squeeze", 13, {x})()[0].shape(), (Shape{3}));
  EXPECT_EQ(OpCall("Squeeze", 11, {x}).ints("axes", {-1})()[0].shape(), (Shape{1, 3}));
  EXPECT_THROW(OpCall("Squeeze", 13, {x, ints({1}, {1})})(), Error);
  EXPECT_EQ(OpCall("Unsqueeze", 13, {x, ints({2}, {-1, 0})})()[0].shape(), (Shape{1, 1, 3, 1, 1}));
  EXPECT_THROW(OpCall("Unsqueeze", 13, {x, ints({2}, {0, 0})})(), Error);
}

TEST(ShapeOps, ExpandBroadcastsBothWays) {
  Tensor y = OpCall("Expand", 13, {floats({3, 1}, {1, 2, 3}), ints({2}, {1, 2})})()[0];
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{1, 1, 2, 2, 3, 3}));
  EXPECT_THROW(OpCall("Expand", 13, {floats({3}, {1, 2, 3}), ints({1}, {2})})(), Error);
}

TEST(Layout, TransposeAndTileMoveBools) {
  Tensor b = Tensor::from_vector<bool>({2, 3}, {true, false, false, false, true, true});
  EXPECT_EQ(values_of<bool>(OpCall("Transpose", 13, {b})()[0]), (std::vector<bool>{true, false, false, true, false, true}));
  Tensor t = OpCall("Tile", 13, {b, ints({2}, {1, 2})})()[0];
  EXPECT_EQ(t.shape(), (Shape{2, 6}));
  EXPECT_EQ(values_of<bool>(t)[3], true);
  EXPECT_THROW(OpCall("Transpose", 13, {b}).ints("perm", {0, 0})(), Error);
}

TEST(Layout, TriluWithLargeK) {
  Tensor x = iota_f({2, 3});
  EXPECT_EQ(values_of<float>(OpCall("Trilu", 14, {x, Tensor::scalar<int64_t>(INT64_MAX)})()[0]),
            (std::vector<float>{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(values_of<float>(OpCall("Trilu", 14, {x, Tensor::scalar<int64_t>(-1)}).i("upper", 0)()[0]),
            (std::vector<float>{0, 0, 0, 3, 0, 0}));
}

TEST(ConcatSplit, SplitNumOutputsUneven) {
  auto out = OpCall("Split", 18, {iota_f({5})}, 3).i("num_outputs", 3)();
  EXPECT_EQ(out[0].shape(), (Shape{2}));
  EXPECT_EQ(values_of<float>(out[2]), (std::vector<float>{4}));
  EXPECT_THROW(OpCall("Split", 13, {iota_f({5}), ints({2}, {2, 2})}, 2)(), Error);
  Tensor c = OpCall("Concat", 13, {iota_f({2, 0}), iota_f({2, 2})}).i("axis", -1)()[0];
  EXPECT_EQ(values_of<float>(c), (std::vector<float>{0, 1, 2, 3}));
}

TEST(SlicePad, SliceNegativeStepsAndExtremeEnds) {
  Tensor x = iota_f({5});
  Tensor rev = OpCall("Slice", 13, {x, ints({1}, {-1}), ints({1}, {INT64_MIN}), Tensor(), ints({1}, {-2})})()[0];
  EXPECT_EQ(values_of<float>(rev), (std::vector<float>{4, 2, 0}));
  Tensor tail = OpCall("Slice", 13, {x, ints({1}, {3}), ints({1}, {INT64_MAX})})()[0];
  EXPECT_EQ(values_of<float>(tail), (std::vector<float>{3, 4}));
  EXPECT_EQ(OpCall("Slice", 13, {x, ints({1}, {4}), ints({1}, {1})})()[0].numel(), 0);
  EXPECT_THROW(OpCall("Slice", 13, {x, ints({1}, {0}), ints({1}, {1}), ints({1}, {0}), ints({1}, {0})})(), Error);
}

TEST(SlicePad, PadModesAndCropping) {
  Tensor x = floats({4}, {1, 2, 3, 4});
  auto pad = [&](const char* mode, std::vector<int64_t> pads, int opset = 19) {
    return values_of<float>(OpCall("Pad", opset, {x, ints({2}, std::move(pads))}).s("mode", mode)()[0]);
  };
  EXPECT_EQ(pad("reflect", {2, 1}), (std::vector<float>{3, 2, 1, 2, 3, 4, 3}));
  EXPECT_EQ(pad("edge", {1, -2}), (std::vector<float>{1, 1, 2}));
  EXPECT_EQ(pad("wrap", {1, 2}), (std::vector<float>{4, 1, 2, 3, 4, 1, 2}));
  EXPECT_EQ(pad("constant", {-1, 1}), (std::vector<float>{2, 3, 4, 0}));
  EXPECT_THROW(pad("wrap", {1, 1}, 18), Error);
  EXPECT_THROW(pad("constant", {-3, -2}), Error);
  Tensor axes_pad = OpCall("Pad", 18, {iota_f({2, 2}), ints({2}, {1, 0}), floats({}, {9}), ints({1}, {-1})})()[0];
  EXPECT_EQ(values_of<float>(axes_pad), (std::vector<float>{9, 0, 1, 9, 2, 3}));
}

TEST(Constant, RangeAndConstantOfShape) {
  EXPECT_EQ(values_of<int32_t>(OpCall("Range", 11, {Tensor::scalar<int32_t>(10), Tensor::scalar<int32_t>(3),
                                               Tensor::scalar<int32_t>(-3)})()[0]),
            (std::vector<int32_t>{10, 7, 4}));
  EXPECT_EQ(OpCall("Range", 11, {Tensor::scalar(1.0f), Tensor::scalar(0.0f), Tensor::scalar(1.0f)})()[0].numel(), 0);
  EXPECT_THROW(OpCall("Range", 11, {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(3), Tensor::scalar<int64_t>(0)})(),
               Error);
  EXPECT_EQ(values_of<float>(OpCall("EyeLike", 9, {iota_f({2, 2})}).i("k", INT64_MIN)()[0]), (std::vector<float>(4, 0)));
  OpCall fill("ConstantOfShape", 9, {ints({2}, {2, 3})});
  fill.attr("value", tensor_attr(Tensor::from_vector<int32_t>({1}, {7})));
  EXPECT_EQ(values_of<int32_t>(fill()[0]), (std::vector<int32_t>(6, 7)));
}

TEST(GatherScatter, IndicesAreCheckedAndWrapped) {
  Tensor x = iota_f({3, 2});
  EXPECT_EQ(values_of<float>(OpCall("Gather", 13, {x, ints({1}, {-1})})()[0]), (std::vector<float>{4, 5}));
  EXPECT_THROW(OpCall("Gather", 13, {x, ints({1}, {3})})(), Error);
  EXPECT_THROW(OpCall("GatherElements", 13, {x, ints({1, 1}, {-4})})(), Error);
  Tensor nd = OpCall("GatherND", 13, {x, ints({3, 1}, {1, -1, 0})}).i("batch_dims", 1)()[0];
  EXPECT_EQ(values_of<float>(nd), (std::vector<float>{1, 3, 4}));
}

TEST(GatherScatter, ScatterReductions) {
  Tensor data = Tensor::from_vector<int32_t>({3}, {5, 5, 5});
  Tensor upd = Tensor::from_vector<int32_t>({3}, {9, 1, 7});
  Tensor y = OpCall("ScatterElements", 18, {data, ints({3}, {0, 0, -1}), upd}).s("reduction", "max")()[0];
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{9, 5, 7}));
  EXPECT_THROW(OpCall("ScatterElements", 16, {data, ints({3}, {0, 0, 1}), upd}).s("reduction", "max")(), Error);
  Tensor nd = OpCall("ScatterND", 16, {data, ints({2, 1}, {-1, -1}), Tensor::from_vector<int32_t>({2}, {2, 3})})
                  .s("reduction", "mul")()[0];
  EXPECT_EQ(values_of<int32_t>(nd), (std::vector<int32_t>{5, 5, 30}));
  EXPECT_THROW(OpCall("ScatterND", 16, {data, ints({1, 1}, {3}), Tensor::from_vector<int32_t>({1}, {1})})(), Error);
}

TEST(Indexing, OneHotUniqueNonZero) {
  Tensor oh = OpCall("OneHot", 11, {ints({2}, {-1, 5}), Tensor::scalar<int64_t>(3), floats({2}, {0, 1})}).i("axis", 0)()[0];
  EXPECT_EQ(oh.shape(), (Shape{3, 2}));
  EXPECT_EQ(values_of<float>(oh), (std::vector<float>{0, 0, 0, 0, 1, 0}));
  auto u = OpCall("Unique", 11, {floats({2, 3}, {1, 0, 1, 1, 0, 1})}, 4).i("axis", 1).i("sorted", 0)();
  EXPECT_EQ(u[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<float>(u[0]), (std::vector<float>{1, 0, 1, 0}));
  EXPECT_EQ(values_of<int64_t>(u[2]), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(values_of<int64_t>(u[3]), (std::vector<int64_t>{2, 1}));
  auto nan = OpCall("Unique", 11, {floats({3}, {NAN, 1, NAN})}, 4)();
  EXPECT_EQ(nan[0].numel(), 2);
  EXPECT_EQ(values_of<int64_t>(nan[3]), (std::vector<int64_t>{1, 2}));
  Tensor nz = OpCall("NonZero", 13, {Tensor::from_vector<bool>({2, 2}, {false, true, true, false})})()[0];
  EXPECT_EQ(values_of<int64_t>(nz), (std::vector<int64_t>{0, 1, 1, 0}));
}
