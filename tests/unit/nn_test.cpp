// Neural-network kernels (conv, pooling, normalisation, matmul/gemm, einsum, softmax) on cases ONNX's own data
// covers thinly: grouped / dilated / padded convolutions against a naive reference, broadcasting matmuls,
// ceil-mode pooling, partial optional outputs, and bad inputs that must fail cleanly.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "ops/gemm_kernel.h"
#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

namespace {

// Direct 2-D convolution, the textbook loop nest.
std::vector<float> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t group,
                                std::vector<int64_t> stride, std::vector<int64_t> dil, std::vector<int64_t> pads,
                                Shape out) {
  std::vector<float> y(size_t(shape_numel(out)));
  const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3), M = w.dim(0), KH = w.dim(2), KW = w.dim(3);
  const int64_t cg = C / group, mg = M / group;
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  for (int64_t n = 0; n < out[0]; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < out[2]; ++oh)
        for (int64_t ow = 0; ow < out[3]; ++ow) {
          double acc = b.defined() ? b.data<float>()[m] : 0.0;
          const int64_t g = m / mg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * stride[0] - pads[0] + kh * dil[0], iw = ow * stride[1] - pads[1] + kw * dil[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(px[((n * C + g * cg + c) * H + ih) * W + iw]) * pw[((m * cg + c) * KH + kh) * KW + kw];
              }
          y[size_t(((n * M + m) * out[2] + oh) * out[3] + ow)] = float(acc);
        }
  return y;
}

}  // namespace

TEST(Gemm, MatchesNaiveProductWithTransposesAndScaling) {
  const int64_t m = 7, n = 301, k = 263;  // crosses the kernel's block and row-group boundaries
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = random_tensor({m * k}, 1), b = random_tensor({k * n}, 2), c = random_tensor({m * n}, 3);
      std::vector<float> want(size_t(m * n));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < k; ++p)
            acc += double(a.data<float>()[ta ? p * m + i : i * k + p]) * b.data<float>()[tb ? j * k + p : p * n + j];
          want[size_t(i * n + j)] = float(0.5 * acc + 2.0 * c.data<float>()[i * n + j]);
        }
      gemm<float>(ta, tb, m, n, k, 0.5f, a.data<float>(), ta ? m : k, b.data<float>(), tb ? k : n, 2.0f,
                  c.data<float>(), n);
      expect_near(c, want, 1e-3f);
    }
}

TEST(Conv, GroupedDilatedAsymmetricPaddingMatchesNaive) {
  Tensor x = random_tensor({2, 4, 7, 6}, 4), w = random_tensor({6, 2, 3, 2}, 5), b = random_tensor({6}, 6);
  std::vector<Tensor> y = run_all("Conv", {x, w, b},
                              {{"group", int_attr(2)}, {"strides", ints_attr({2, 1})}, {"dilations", ints_attr({1, 2})},
                               {"pads", ints_attr({1, 0, 2, 1})}});
  // H: floor((7 + 1 + 2 - 3) / 2) + 1 = 4; W: (6 + 0 + 1 - 3) + 1 = 5 with the dilated kernel spanning 3
  ASSERT_EQ(y[0].shape(), (Shape{2, 6, 4, 5}));
  expect_near(y[0], naive_conv2d(x, w, b, 2, {2, 1}, {1, 2}, {1, 0}, {2, 6, 4, 5}));
}

TEST(Conv, PointwiseAndSameLowerPadding) {
  Tensor x = random_tensor({1, 3, 5, 5}, 7), w1 = random_tensor({4, 3, 1, 1}, 8);
  expect_near(run("Conv", {x, w1}), naive_conv2d(x, w1, Tensor(), 1, {1, 1}, {1, 1}, {0, 0}, {1, 4, 5, 5}));
  Tensor w = random_tensor({2, 3, 4, 4}, 9);
  std::vector<Tensor> y = run_all("Conv", {x, w}, {{"auto_pad", string_attr("SAME_LOWER")}, {"strides", ints_attr({2, 2})}});
  ASSERT_EQ(y[0].shape(), (Shape{1, 2, 3, 3}));
  // total padding (3-1)*2+4-5 = 3 per dim; SAME_LOWER puts 2 at the beginning
  expect_near(y[0], naive_conv2d(x, w, Tensor(), 1, {2, 2}, {1, 1}, {2, 2}, {1, 2, 3, 3}));
}

TEST(Conv, RejectsInconsistentShapes) {
  Tensor x = random_tensor({1, 4, 5, 5}, 1);
  EXPECT_THROW(run_all("Conv", {x, random_tensor({2, 3, 3, 3}, 2)}), Error);                        // channels
  EXPECT_THROW(run_all("Conv", {x, random_tensor({3, 2, 3, 3}, 2)}, {{"group", int_attr(2)}}), Error);  // M % group
  EXPECT_THROW(run_all("Conv", {x, random_tensor({2, 4, 7, 7}, 2)}), Error);                        // kernel too big
  EXPECT_THROW(run_all("Conv", {x, random_tensor({2, 4, 3, 3}, 2), random_tensor({3}, 3)}), Error);  // bias length
  EXPECT_THROW(run_all("Conv", {x, random_tensor({2, 4, 3, 3}, 2)}, {{"strides", ints_attr({0, 1})}}), Error);
}

TEST(ConvTranspose, IsTheAdjointOfConv) {
  // <Conv(u), v> == <u, ConvTranspose(v)> for the same weights and geometry.
  const std::map<std::string, Attribute> attrs{{"group", int_attr(2)},
                                               {"strides", ints_attr({2, 3})},
                                               {"dilations", ints_attr({2, 1})},
                                               {"pads", ints_attr({1, 2, 0, 1})}};
  Tensor u = random_tensor({1, 4, 9, 8}, 11), w = random_tensor({6, 2, 3, 3}, 12);
  Tensor cu = run("Conv", {u, w}, attrs);
  Tensor v = random_tensor(cu.shape(), 13);
  std::map<std::string, Attribute> t_attrs = attrs;
  Tensor ctv = run("ConvTranspose", {v, w}, t_attrs);
  // ConvTranspose's natural size may fall short of u's by the rows Conv's stride skipped; pad with output_padding
  const int64_t pad_h = u.dim(2) - ctv.dim(2), pad_w = u.dim(3) - ctv.dim(3);
  t_attrs["output_padding"] = ints_attr({pad_h, pad_w});
  ctv = run("ConvTranspose", {v, w}, t_attrs);
  ASSERT_EQ(ctv.shape(), u.shape());
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < cu.numel(); ++i) lhs += double(cu.data<float>()[i]) * v.data<float>()[i];
  for (int64_t i = 0; i < u.numel(); ++i) rhs += double(u.data<float>()[i]) * ctv.data<float>()[i];
  EXPECT_NEAR(lhs, rhs, 1e-3);
}

TEST(MatMul, PromotesVectorsAndBroadcastsBatches) {
  Tensor v = Tensor::from_vector<float>({3}, {1, 2, 3});
  Tensor m = Tensor::from_vector<float>({2, 3, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 1, 1});
  Tensor y = run("MatMul", {v, m});
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  expect_near(y, {4, 5, 5, 7});
  Tensor a = random_tensor({2, 1, 2, 3}, 1), b = random_tensor({3, 3, 4}, 2);
  Tensor z = run("MatMul", {a, b});
  ASSERT_EQ(z.shape(), (Shape{2, 3, 2, 4}));
  // element [1, 2, 1, 3] = a[1, 0, 1, :] . b[2, :, 3]
  double want = 0;
  for (int p = 0; p < 3; ++p) want += double(a.data<float>()[1 * 6 + 1 * 3 + p]) * b.data<float>()[2 * 12 + p * 4 + 3];
  EXPECT_NEAR(z.data<float>()[((1 * 3 + 2) * 2 + 1) * 4 + 3], want, 1e-5);
  EXPECT_THROW(run_all("MatMul", {random_tensor({2, 3}, 1), random_tensor({2, 3}, 2)}), Error);
  EXPECT_THROW(run_all("MatMul", {random_tensor({2, 2, 3}, 1), random_tensor({3, 3, 4}, 2)}), Error);
}

TEST(MatMul, IntegerTypesAndUnsupportedTypes) {
  Tensor a = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4}), b = Tensor::from_vector<int64_t>({2}, {5, -6});
  Tensor y = run("MatMul", {a, b});
  ASSERT_EQ(y.shape(), (Shape{2}));
  EXPECT_EQ(y.data<int64_t>()[0], -7);
  EXPECT_EQ(y.data<int64_t>()[1], -9);
  Tensor i8 = Tensor::from_vector<int8_t>({1, 1}, {1});
  EXPECT_THROW(run_all("MatMul", {i8, i8}), Error);
}

TEST(Gemm, BroadcastsCAndChecksIt) {
  Tensor a = Tensor::from_vector<float>({3, 2}, {1, 2, 3, 4, 5, 6});  // transA: op(A) is 2 x 3
  Tensor b = Tensor::from_vector<float>({1, 3}, {1, 1, 1});           // transB: op(B) is 3 x 1
  Tensor c = Tensor::from_vector<float>({2, 1}, {10, 20});
  Tensor y = run("Gemm", {a, b, c}, {{"transA", int_attr(1)}, {"transB", int_attr(1)}, {"alpha", float_attr(2)},
                                     {"beta", float_attr(0.5f)}});
  ASSERT_EQ(y.shape(), (Shape{2, 1}));
  expect_near(y, {2 * 9 + 5, 2 * 12 + 10});
  EXPECT_THROW(run_all("Gemm", {a, b, Tensor::from_vector<float>({3}, {1, 2, 3})}, {{"transA", int_attr(1)}, {"transB", int_attr(1)}}),
               Error);
}

TEST(Softmax, AxisSemanticsChangeAtOpset13) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {0, 0, 1000, 1000});  // large values must not overflow
  expect_near(run("Softmax", {x}, {}, 13), {0.5f, 0.5f, 0.5f, 0.5f});
  // opset 11, axis 0: the whole tensor is one row of 4
  expect_near(run("Softmax", {x}, {{"axis", int_attr(0)}}, 11), {0, 0, 0.5f, 0.5f});
  expect_near(run("Softmax", {x}, {{"axis", int_attr(-2)}}, 13), {0, 0, 1, 1});
  expect_near(run("Hardmax", {Tensor::from_vector<float>({3}, {2, 5, 5})}, {}, 13), {0, 1, 0});
  EXPECT_THROW(run_all("Softmax", {x}, {{"axis", int_attr(2)}}, 13), Error);
}

TEST(Pool, CeilModeDropsWindowsStartingInPaddingAndReportsIndices) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 3}, {1, 6, 3, 4, 5, 2});
  std::vector<Tensor> y = run_all("MaxPool", {x}, {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)},
                                               {"storage_order", int_attr(1)}},
                              12, {"y", "indices"});
  ASSERT_EQ(y[0].shape(), (Shape{1, 1, 1, 2}));
  expect_near(y[0], {6, 3});
  EXPECT_EQ(y[1].data<int64_t>()[0], 2);  // (0, 1) column-major in a 2 x 3 plane
  EXPECT_EQ(y[1].data<int64_t>()[1], 4);  // (0, 2)
  Tensor avg = run("AveragePool", {x}, {{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})},
                                        {"count_include_pad", int_attr(1)}, {"strides", ints_attr({2, 2})}});
  ASSERT_EQ(avg.shape(), (Shape{1, 1, 2, 2}));
  expect_near(avg, {0.25f, 9 / 4.0f, 1, 7 / 4.0f});
  EXPECT_THROW(run_all("MaxPool", {x}, {{"kernel_shape", ints_attr({3, 3})}}), Error);
}

TEST(LayerNormalization, SingleStatisticOutputAndBroadcastScale) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {1, 3, 2, 6});
  Tensor scale = Tensor::from_vector<float>({1}, {2});
  std::vector<Tensor> y = run_all("LayerNormalization", {x, scale}, {{"epsilon", float_attr(0)}}, 17, {"y", "", "inv_std"});
  expect_near(y[0], {-2, 2, -2, 2});
  ASSERT_EQ(y[2].shape(), (Shape{2, 1}));
  EXPECT_NEAR(y[2].data<float>()[0], 1.0f, 1e-6f);
  EXPECT_NEAR(y[2].data<float>()[1], 0.5f, 1e-6f);
}

TEST(BatchNormalization, TrainingModeFailsClearly) {
  Tensor x = random_tensor({1, 2, 2}, 1), p = Tensor::from_vector<float>({2}, {1, 1});
  EXPECT_THROW(run_all("BatchNormalization", {x, p, p, p, p}, {{"training_mode", int_attr(1)}}, 15), Error);
  expect_near(run("BatchNormalization", {x, p, p, p, p}, {{"epsilon", float_attr(0)}}, 15),
              {x.data<float>()[0], x.data<float>()[1], x.data<float>()[2], x.data<float>()[3]});
}

TEST(Einsum, ImplicitOutputDiagonalAndEllipsis) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  expect_near(run("Einsum", {a, a}, {{"equation", string_attr("ij,jk")}}), {7, 10, 15, 22});
  expect_near(run("Einsum", {a}, {{"equation", string_attr("ii")}}), {5});  // trace
  Tensor batch = Tensor::from_vector<float>({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  expect_near(run("Einsum", {batch}, {{"equation", string_attr("...ii->...i")}}), {1, 4, 5, 8});
  expect_near(run("Einsum", {batch, Tensor::from_vector<float>({2}, {1, 1})}, {{"equation", string_attr("...j,j")}}),
              {3, 7, 11, 15});
  EXPECT_THROW(run_all("Einsum", {a, a}, {{"equation", string_attr("ij,jk,kl")}}), Error);
  EXPECT_THROW(run_all("Einsum", {a}, {{"equation", string_attr("ijk")}}), Error);
  EXPECT_THROW(run_all("Einsum", {a, Tensor::from_vector<float>({3}, {1, 2, 3})}, {{"equation", string_attr("ij,j")}}), Error);
}

TEST(Dropout, InferenceIsIdentityWithTrueMask) {
  Tensor x = random_tensor({3}, 1);
  std::vector<Tensor> y = run_all("Dropout", {x, Tensor::scalar<float>(0.3f)}, {}, 13, {"y", "mask"});
  expect_near(y[0], {x.data<float>()[0], x.data<float>()[1], x.data<float>()[2]});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(y[1].data<bool>()[i]);
  EXPECT_THROW(run_all("Dropout", {x, Tensor::scalar<float>(0.3f), Tensor::scalar<bool>(true)}, {}, 13), Error);
}

TEST(SoftmaxCrossEntropyLoss, MeanSkipsIgnoredTargetsAndChecksRange) {
  Tensor scores = Tensor::from_vector<float>({2, 2}, {0, 0, 5, 5});  // log-probabilities are all log(1/2)
  Tensor labels = Tensor::from_vector<int64_t>({2}, {1, -1});
  std::vector<Tensor> y = run_all("SoftmaxCrossEntropyLoss", {scores, labels}, {{"ignore_index", int_attr(-1)}}, 13,
                              {"loss", "log_prob"});
  ASSERT_EQ(y[0].shape(), Shape{});
  EXPECT_NEAR(y[0].data<float>()[0], std::log(2.0f), 1e-6f);
  EXPECT_NEAR(y[1].data<float>()[3], -std::log(2.0f), 1e-6f);
  EXPECT_THROW(run_all("SoftmaxCrossEntropyLoss", {scores, Tensor::from_vector<int64_t>({2}, {1, 2})}, {}, 13), Error);
}
