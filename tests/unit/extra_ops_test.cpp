// Recurrent, loss, detection, grid-sampling, signal and linear-algebra kernels on cases ONNX's data covers thinly:
// variable sequence lengths in both directions, the batch-major layout, ignored and out-of-range targets,
// data-dependent output shapes, padding modes, transform round trips and singular matrices.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

namespace {

Tensor floats(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }

}  // namespace

// With W = 1, R = 0 and Relu, an RNN copies relu(x); steps past a sequence's length give zeros in Y and leave Y_h
// at the last valid step (the first step, for the reverse direction).
TEST(Rnn, SequenceLengthsInBothDirections) {
  const Tensor x = floats({3, 2, 1}, {1, -4, 2, 5, 3, 6});  // [seq, batch, input]
  const Tensor w = floats({2, 1, 1}, {1, 1});
  const Tensor r = floats({2, 1, 1}, {0, 0});
  const Tensor lens = Tensor::from_vector<int32_t>({2}, {3, 1});
  auto out = run_all("RNN", {x, w, r, Tensor(), lens},
                 {{"direction", string_attr("bidirectional")}, {"hidden_size", int_attr(1)},
                  {"activations", strings_attr({"Relu", "Relu"})}},
                 14, {"y", "y_h"});
  // Y is [seq, dir, batch, hidden].
  expect_near(out[0], {1, 0, 1, 0, 2, 0, 2, 0, 3, 0, 3, 0}, 1e-5f);
  expect_near(out[1], {3, 0, 1, 0}, 1e-5f);
}

// layout = 1 is the same computation on batch-major tensors.
TEST(Lstm, BatchMajorLayoutMatchesSequenceMajor) {
  const int64_t seq = 3, batch = 2, in = 4, hid = 3;
  const Tensor x = random_tensor({seq, batch, in}, 1);
  const Tensor w = random_tensor({1, 4 * hid, in}, 2);
  const Tensor r = random_tensor({1, 4 * hid, hid}, 3);
  const Tensor b = random_tensor({1, 8 * hid}, 4);
  const Tensor h0 = random_tensor({1, batch, hid}, 5);
  auto seq_major = run_all("LSTM", {x, w, r, b, Tensor(), h0}, {{"hidden_size", int_attr(hid)}}, 14, {"y", "y_h", "y_c"});
  Tensor xt(DType::Float32, {batch, seq, in});
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t k = 0; k < in; ++k)
        xt.data<float>()[(n * seq + t) * in + k] = x.data<float>()[(t * batch + n) * in + k];
  const Tensor h0t = h0.reshaped({batch, 1, hid});  // one direction: same bytes
  auto batch_major = run_all("LSTM", {xt, w, r, b, Tensor(), h0t}, {{"hidden_size", int_attr(hid)}, {"layout", int_attr(1)}},
                         14, {"y", "y_h", "y_c"});
  ASSERT_EQ(batch_major[0].shape(), (Shape{batch, seq, 1, hid}));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t j = 0; j < hid; ++j)
        EXPECT_NEAR(batch_major[0].data<float>()[(n * seq + t) * hid + j],
                    seq_major[0].data<float>()[(t * batch + n) * hid + j], 1e-6f);
  for (int k = 1; k < 3; ++k)
    for (int64_t i = 0; i < batch * hid; ++i)
      EXPECT_NEAR(batch_major[size_t(k)].data<float>()[i], seq_major[size_t(k)].data<float>()[i], 1e-6f);
}

Tensor to_half(const Tensor& t) {
  std::vector<float16> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(float16(t.data<float>()[i]));
  return Tensor::from_vector<float16>(t.shape(), v);
}

// float16 runs through the float kernel: the results agree to half precision, in both GRU reset variants.
TEST(Gru, HalfPrecisionMatchesFloat) {
  const int64_t hid = 3;
  const Tensor x = random_tensor({4, 2, 5}, 11), w = random_tensor({2, 3 * hid, 5}, 12);
  const Tensor r = random_tensor({2, 3 * hid, hid}, 13), b = random_tensor({2, 6 * hid}, 14);
  for (int64_t lbr : {0, 1}) {
    const std::map<std::string, Attribute> attrs = {{"hidden_size", int_attr(hid)}, {"linear_before_reset", int_attr(lbr)},
                                                    {"direction", string_attr("bidirectional")}};
    auto full = run_all("GRU", {x, w, r, b}, attrs, 14, {"y", "y_h"});
    auto half = run_all("GRU", {to_half(x), to_half(w), to_half(r), to_half(b)}, attrs, 14, {"y", "y_h"});
    ASSERT_EQ(half[0].dtype(), DType::Float16);
    for (int64_t i = 0; i < full[0].numel(); ++i)
      EXPECT_NEAR(float(half[0].data<float16>()[i]), full[0].data<float>()[i], 1e-2f);
  }
}

TEST(Rnn, BadShapesAndSequenceLengthsFail) {
  const Tensor x = floats({2, 1, 1}, {1, 2});
  const Tensor w = floats({1, 1, 1}, {1});
  EXPECT_THROW(run_all("RNN", {x, w, floats({1, 1, 2}, {0, 0})}, {{"hidden_size", int_attr(1)}}), Error);
  EXPECT_THROW(run_all("RNN", {x, w, floats({1, 1, 1}, {0}), Tensor(), Tensor::from_vector<int32_t>({1}, {3})},
                   {{"hidden_size", int_attr(1)}}),
               Error);
  EXPECT_THROW(run_all("GRU", {x, floats({1, 3, 1}, {1, 1, 1}), floats({1, 3, 1}, {0, 0, 0})},
                   {{"activations", strings_attr({"Nope", "Tanh"})}}),
               Error);
}

// Ignored targets contribute nothing to the sum and nothing to the mean's denominator.
TEST(Loss, IgnoreIndexAndWeights) {
  const Tensor x = floats({3, 2}, {-1, -2, -3, -4, -5, -6});
  const Tensor target = Tensor::from_vector<int64_t>({3}, {1, -1, 0});
  const Tensor weight = floats({2}, {2, 3});
  auto mean = run_all("NegativeLogLikelihoodLoss", {x, target, weight}, {{"ignore_index", int_attr(-1)}});
  expect_near(mean[0], {(2 * 3 + 5 * 2) / 5.0f}, 1e-5f);
  auto none = run_all("NegativeLogLikelihoodLoss", {x, target, weight},
                  {{"ignore_index", int_attr(-1)}, {"reduction", string_attr("none")}});
  expect_near(none[0], {6, 0, 10}, 1e-5f);
  EXPECT_THROW(run_all("NegativeLogLikelihoodLoss", {x, target, weight}), Error);  // -1 is out of range here
}

TEST(Loss, SoftmaxCrossEntropyOfUniformScoresIsLogC) {
  const Tensor scores = floats({2, 4, 1}, std::vector<float>(8, 0.5f));
  const Tensor labels = Tensor::from_vector<int32_t>({2, 1}, {0, 3});
  auto out = run_all("SoftmaxCrossEntropyLoss", {scores, labels}, {}, 13, {"loss", "log_prob"});
  expect_near(out[0], {std::log(4.0f)}, 1e-5f);
  expect_near(out[1], std::vector<float>(8, -std::log(4.0f)), 1e-5f);
}

TEST(Detection, NonMaxSuppressionShapeDependsOnData) {
  const Tensor boxes = floats({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 5, 1, 6});
  const Tensor scores = floats({1, 1, 3}, {0.9f, 0.8f, 0.7f});
  const Tensor max_out = Tensor::scalar<int64_t>(10);
  const Tensor iou = Tensor::scalar<float>(0.5f);
  auto res = run_node("NonMaxSuppression", {boxes, scores, max_out, iou}, {});
  EXPECT_FALSE(res.shapes_known);
  ASSERT_EQ(res.outputs[0].shape(), (Shape{2, 3}));
  const int64_t* sel = res.outputs[0].data<int64_t>();
  EXPECT_EQ(sel[2], 0);
  EXPECT_EQ(sel[5], 2);
  auto none = run_all("NonMaxSuppression", {boxes, scores});  // max_output_boxes_per_class defaults to 0
  EXPECT_EQ(none[0].shape(), (Shape{0, 3}));
}

TEST(Detection, ReverseSequenceBatchMajorAndBadLengths) {
  const Tensor x = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run_all("ReverseSequence", {x, Tensor::from_vector<int64_t>({2}, {3, 2})},
                 {{"batch_axis", int_attr(0)}, {"time_axis", int_attr(1)}});
  const std::vector<int32_t> want = {3, 2, 1, 5, 4, 6};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(out[0].data<int32_t>()[i], want[i]);
  EXPECT_THROW(run_all("ReverseSequence", {x, Tensor::from_vector<int64_t>({2}, {4, 1})},
                   {{"batch_axis", int_attr(0)}, {"time_axis", int_attr(1)}}),
               Error);
}

// A 1x2 image sampled left of its border: zeros padding fades out, border padding repeats the edge pixel, and
// reflection mirrors about the edge.
TEST(GridSample, PaddingModesOutsideTheImage) {
  const Tensor x = floats({1, 1, 1, 2}, {10, 20});
  const Tensor grid = floats({1, 1, 1, 2}, {-1.5f, 0});  // x = -1.5 -> pixel coordinate -1 (align_corners = 0)
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", string_attr("zeros")}}, 16), {0}, 1e-5f);
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", string_attr("border")}}, 16), {10}, 1e-5f);
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", string_attr("reflection")}}, 16), {10}, 1e-5f);
  const Tensor far = floats({1, 1, 1, 2}, {-2.0f, 0});  // pixel -1.5 reflects to 0.5: halfway between the pixels
  expect_near(run("GridSample", {x, far}, {{"padding_mode", string_attr("reflection")}}, 16), {15}, 1e-5f);
  EXPECT_THROW(run_all("GridSample", {x, floats({1, 1, 1, 3}, {0, 0, 0})}, {}, 16), Error);
}

// DFT of a real signal then the inverse DFT gives the signal back; the opset-20 axis input accepts negative values.
TEST(Signal, DftRoundTripWithAxisInput) {
  const Tensor x = random_tensor({2, 5, 1}, 7);
  const Tensor axis = Tensor::scalar<int64_t>(-2);
  auto spectrum = run_all("DFT", {x, Tensor(), axis}, {}, 20);
  ASSERT_EQ(spectrum[0].shape(), (Shape{2, 5, 2}));
  auto back = run_all("DFT", {spectrum[0], Tensor(), axis}, {{"inverse", int_attr(1)}}, 20);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(back[0].data<float>()[2 * i], x.data<float>()[i], 1e-5f);
    EXPECT_NEAR(back[0].data<float>()[2 * i + 1], 0.0f, 1e-5f);
  }
  auto padded = run_all("DFT", {x, Tensor::scalar<int64_t>(8)}, {{"onesided", int_attr(1)}}, 17);
  EXPECT_EQ(padded[0].shape(), (Shape{2, 5, 2}));  // axis attribute defaults to 1: 8 / 2 + 1 bins
}

TEST(Signal, SymmetricWindowEndsAtZero) {
  auto w = run_all("HannWindow", {Tensor::scalar<int64_t>(5)}, {{"periodic", int_attr(0)}}, 17);
  expect_near(w[0], {0, 0.5f, 1, 0.5f, 0}, 1e-5f);
}

TEST(Linalg, DetOfBatchWithSingularAndPivotedMatrices) {
  const Tensor x = floats({3, 2, 2}, {1, 2, 2, 4, 0, 1, 1, 0, 3, 1, 4, 2});
  expect_near(run("Det", {x}), {0, -1, 2}, 1e-5f);
  EXPECT_THROW(run_all("Det", {floats({2, 3}, {1, 2, 3, 4, 5, 6})}), Error);
}
