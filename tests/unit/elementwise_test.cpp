// Elementwise, activation, comparison, variadic and cast operators: edge values and rules ONNX's test data leaves
// out (rounding ties, integer overflow and division by zero, legacy broadcasting, bad types).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "infera/infera.h"
#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

TEST(Unary, RoundHalvesToEven) {
  Tensor y = run("Round", {Tensor::from_vector<float>({6}, {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.6f})});
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{0, 2, 2, -0.0f, -2, 3}));
}

TEST(Unary, AbsAndNegOfIntegersWrapAtTheMinimum) {
  const int8_t lo = std::numeric_limits<int8_t>::min();
  EXPECT_EQ(values_of<int8_t>(run("Abs", {Tensor::from_vector<int8_t>({2}, {-3, lo})})), (std::vector<int8_t>{3, lo}));
  EXPECT_EQ(values_of<int8_t>(run("Neg", {Tensor::from_vector<int8_t>({2}, {-3, lo})})), (std::vector<int8_t>{3, lo}));
}

TEST(Unary, IsInfHonoursDirection) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor x = Tensor::from_vector<float>({3}, {inf, -inf, 1.0f});
  Tensor y = run("IsInf", {x}, {{"detect_negative", int_attr(0)}});
  EXPECT_EQ(values_of<bool>(y), (std::vector<bool>{true, false, false}));
}

TEST(Unary, RejectsUnsupportedTypes) {
  EXPECT_THROW(run("Sqrt", {Tensor::from_vector<int32_t>({1}, {4})}), Error);
  EXPECT_THROW(run("Not", {Tensor::from_vector<float>({1}, {1})}), Error);
}

TEST(Binary, BroadcastsBothWays) {
  Tensor a = Tensor::from_vector<float>({2, 1}, {10, 20});
  Tensor b = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  Tensor y = run("Add", {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{11, 12, 13, 21, 22, 23}));
}

TEST(Binary, LegacyBroadcastAlignsAtAxis) {
  Tensor a(DType::Float32, {2, 3, 2});
  Tensor b = Tensor::from_vector<float>({3}, {1, 2, 3});
  Tensor y = run("Add", {a, b}, {{"broadcast", int_attr(1)}, {"axis", int_attr(1)}}, 6);
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(Binary, IntegerDivisionEdgeCases) {
  const int32_t lo = std::numeric_limits<int32_t>::min();
  Tensor y = run("Div", {Tensor::from_vector<int32_t>({2}, {lo, -7}), Tensor::from_vector<int32_t>({2}, {-1, 2})});
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{lo, -3}));
  EXPECT_THROW(run("Div", {Tensor::from_vector<int32_t>({1}, {1}), Tensor::from_vector<int32_t>({1}, {0})}), Error);
  EXPECT_THROW(run("Add", {Tensor::from_vector<int32_t>({1}, {1}), Tensor::from_vector<int64_t>({1}, {1})}), Error);
}

TEST(Binary, ModTakesTheSignOfTheDivisorUnlessFmod) {
  Tensor a = Tensor::from_vector<int32_t>({4}, {-4, 4, -4, 7});
  Tensor b = Tensor::from_vector<int32_t>({4}, {3, -3, -3, -1});
  EXPECT_EQ(values_of<int32_t>(run("Mod", {a, b})), (std::vector<int32_t>{2, -2, -1, 0}));
  EXPECT_EQ(values_of<int32_t>(run("Mod", {a, b}, {{"fmod", int_attr(1)}})), (std::vector<int32_t>{-1, 1, -1, 0}));
  Tensor fa = Tensor::from_vector<float>({1}, {-4.5f}), fb = Tensor::from_vector<float>({1}, {2.0f});
  EXPECT_EQ(values_of<float>(run("Mod", {fa, fb}, {{"fmod", int_attr(1)}})), (std::vector<float>{-0.5f}));
}

TEST(Binary, PowMixesTypes) {
  Tensor y = run("Pow", {Tensor::from_vector<float>({2}, {2, 3}), Tensor::from_vector<int64_t>({2}, {3, -1})});
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_FLOAT_EQ(y.data<float>()[0], 8.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 1.0f / 3.0f);
  Tensor base = Tensor::from_vector<int32_t>({3}, {3, 2, -1});
  Tensor yi = run("Pow", {base, Tensor::from_vector<int32_t>({3}, {4, -1, -3})});
  EXPECT_EQ(values_of<int32_t>(yi), (std::vector<int32_t>{81, 0, -1}));
}

TEST(Binary, BitShiftPastTheWidthGivesZero) {
  Tensor a = Tensor::from_vector<uint8_t>({2}, {1, 255});
  Tensor b = Tensor::from_vector<uint8_t>({2}, {7, 8});
  EXPECT_EQ(values_of<uint8_t>(run("BitShift", {a, b}, {{"direction", string_attr("LEFT")}})),
            (std::vector<uint8_t>{128, 0}));
  EXPECT_THROW(run("BitShift", {a, b}, {{"direction", string_attr("UP")}}), Error);
}

TEST(Activation, ClipBoundsByOpset) {
  Tensor x = Tensor::from_vector<float>({3}, {-5, 0.5f, 5});
  Tensor y6 = run("Clip", {x}, {{"min", float_attr(-1)}, {"max", float_attr(1)}}, 6);
  EXPECT_EQ(values_of<float>(y6), (std::vector<float>{-1, 0.5f, 1}));
  Tensor y13 = run("Clip", {x, Tensor(), Tensor::scalar<float>(0)}, {}, 13);
  EXPECT_EQ(values_of<float>(y13), (std::vector<float>{-5, 0, 0}));
  Tensor xi = Tensor::from_vector<int8_t>({3}, {-100, 3, 100});
  Tensor yi = run("Clip", {xi, Tensor::scalar<int8_t>(5), Tensor::scalar<int8_t>(2)}, {}, 13);  // min > max
  EXPECT_EQ(values_of<int8_t>(yi), (std::vector<int8_t>{2, 2, 2}));
}

TEST(Activation, PReluSlopeBroadcastsOneWayOnly) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {-1, 2, -3, 4});
  Tensor slope = Tensor::from_vector<float>({2}, {0.5f, 0.25f});
  EXPECT_EQ(values_of<float>(run("PRelu", {x, slope})), (std::vector<float>{-0.5f, 2, -1.5f, 4}));
  EXPECT_THROW(run("PRelu", {Tensor::from_vector<float>({2}, {1, 2}), Tensor(DType::Float32, {2, 2})}), Error);
}

TEST(Activation, SoftplusDoesNotOverflow) {
  Tensor y = run("Softplus", {Tensor::from_vector<float>({2}, {1000, -1000})});
  EXPECT_FLOAT_EQ(y.data<float>()[0], 1000.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 0.0f);
}

TEST(Activation, GeluApproximations) {
  Tensor x = Tensor::from_vector<double>({1}, {1.0});
  EXPECT_NEAR(run("Gelu", {x}, {}, 20).data<double>()[0], 0.8413447460685429, 1e-12);
  Tensor tanh = run("Gelu", {x}, {{"approximate", string_attr("tanh")}}, 20);
  EXPECT_NEAR(tanh.data<double>()[0], 0.8411919906082768, 1e-12);
}

TEST(Logical, WhereBroadcastsThreeWays) {
  Tensor cond = Tensor::from_vector<bool>({2, 1}, {true, false});
  Tensor x = Tensor::from_vector<int64_t>({1, 2}, {1, 2});
  Tensor y = Tensor::scalar<int64_t>(9);
  Tensor out = run("Where", {cond, x, y});
  EXPECT_EQ(out.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<int64_t>(out), (std::vector<int64_t>{1, 2, 9, 9}));
}

TEST(Logical, ComparisonsGiveBool) {
  Tensor y = run("GreaterOrEqual", {Tensor::from_vector<uint16_t>({3}, {1, 2, 3}), Tensor::scalar<uint16_t>(2)});
  EXPECT_EQ(y.dtype(), DType::Bool);
  EXPECT_EQ(values_of<bool>(y), (std::vector<bool>{false, true, true}));
}

TEST(Variadic, MaxPropagatesNaNAndMeanBroadcasts) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor y = run("Max", {Tensor::from_vector<float>({2}, {nan, 1}), Tensor::from_vector<float>({2}, {0, nan})});
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  EXPECT_TRUE(std::isnan(y.data<float>()[1]));
  Tensor m = run("Mean", {Tensor::from_vector<float>({2}, {1, 3}), Tensor::scalar<float>(5),
                          Tensor(DType::Float32, {2, 1})});
  EXPECT_EQ(m.shape(), (Shape{2, 2}));
  EXPECT_EQ(values_of<float>(m), (std::vector<float>{2, 8.0f / 3, 2, 8.0f / 3}));
}

TEST(Cast, FloatToIntegerTruncatesAndSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({5}, {-2.7f, 2.7f, nan, 1e20f, -1e20f});
  Tensor y = run("Cast", {x}, {{"to", int_attr(int64_t(DType::Int32))}});
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{-2, 2, 0, std::numeric_limits<int32_t>::max(),
                                                         std::numeric_limits<int32_t>::min()}));
  Tensor b = run("Cast", {x}, {{"to", int_attr(int64_t(DType::Bool))}});
  EXPECT_EQ(values_of<bool>(b), (std::vector<bool>{true, true, true, true, true}));
  EXPECT_THROW(run("Cast", {x}, {{"to", int_attr(int64_t(DType::String))}}), Error);
}

TEST(Cast, CastLikeRoundsToHalf) {
  Tensor y = run("CastLike", {Tensor::from_vector<double>({1}, {1.0 + 1.0 / 4096}), Tensor(DType::Float16, {0})});
  EXPECT_EQ(y.dtype(), DType::Float16);
  EXPECT_EQ(float(y.data<float16>()[0]), 1.0f);  // a tie rounds to the even neighbour
}
