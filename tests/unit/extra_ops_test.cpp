// Recurrent, loss, detection, grid-sampling, signal and linear-algebra kernels on cases ONNX's data covers thinly:
// variable sequence lengths in both directions, the batch-major layout, ignored and out-of-range targets,
// data-dependent output shapes, padding modes, transform round trips and singular matrices.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "ops/op.h"

using namespace infera;

namespace {

Attribute integer(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}
Attribute text(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}
Attribute texts(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::Strings;
  a.strings = std::move(v);
  return a;
}

struct RunResult {
  bool shapes_known;
  std::vector<Tensor> outputs;
};

// Runs one node as the executor does. An undefined input tensor is an omitted input; an empty output name an
// omitted output.
RunResult run_node(const std::string& op, const std::vector<Tensor>& inputs, std::map<std::string, Attribute> attrs,
                   int opset = 21, std::vector<std::string> outputs = {"y"}) {
  Node node;
  node.name = "n";
  node.op_type = op;
  node.opset = opset;
  node.attrs = std::move(attrs);
  node.outputs = std::move(outputs);
  std::vector<TensorType> types;
  std::vector<const Tensor*> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool present = inputs[i].defined();
    node.inputs.push_back(present ? "x" + std::to_string(i) : "");
    types.push_back(present ? TensorType{inputs[i].dtype(), inputs[i].shape(), true} : TensorType{});
    values.push_back(present ? &inputs[i] : nullptr);
  }
  const OpDef* def = op_table().find("", op);
  if (!def) throw Error("no op " + op);
  node.def = def;
  OpContext ctx(node, types, values);
  const bool known = def->infer(ctx);
  def->compute(ctx);
  for (int i = 0; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) ctx.output(i);
  return {known, ctx.outputs()};
}

std::vector<Tensor> run(const std::string& op, const std::vector<Tensor>& inputs,
                        std::map<std::string, Attribute> attrs = {}, int opset = 21,
                        std::vector<std::string> outputs = {"y"}) {
  return run_node(op, inputs, std::move(attrs), opset, std::move(outputs)).outputs;
}

Tensor floats(Shape shape, std::vector<float> v) { return Tensor::from_vector<float>(std::move(shape), v); }

Tensor random_tensor(Shape shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = dist(rng);
  return floats(std::move(shape), v);
}

void expect_near(const Tensor& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.numel(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got.data<float>()[i], want[i], tol) << "element " << i;
}

}  // namespace

// With W = 1, R = 0 and Relu, an RNN copies relu(x); steps past a sequence's length give zeros in Y and leave Y_h
// at the last valid step (the first step, for the reverse direction).
TEST(Rnn, SequenceLengthsInBothDirections) {
  const Tensor x = floats({3, 2, 1}, {1, -4, 2, 5, 3, 6});  // [seq, batch, input]
  const Tensor w = floats({2, 1, 1}, {1, 1});
  const Tensor r = floats({2, 1, 1}, {0, 0});
  const Tensor lens = Tensor::from_vector<int32_t>({2}, {3, 1});
  auto out = run("RNN", {x, w, r, Tensor(), lens},
                 {{"direction", text("bidirectional")}, {"hidden_size", integer(1)},
                  {"activations", texts({"Relu", "Relu"})}},
                 14, {"y", "y_h"});
  // Y is [seq, dir, batch, hidden].
  expect_near(out[0], {1, 0, 1, 0, 2, 0, 2, 0, 3, 0, 3, 0});
  expect_near(out[1], {3, 0, 1, 0});
}

// layout = 1 is the same computation on batch-major tensors.
TEST(Lstm, BatchMajorLayoutMatchesSequenceMajor) {
  const int64_t seq = 3, batch = 2, in = 4, hid = 3;
  const Tensor x = random_tensor({seq, batch, in}, 1);
  const Tensor w = random_tensor({1, 4 * hid, in}, 2);
  const Tensor r = random_tensor({1, 4 * hid, hid}, 3);
  const Tensor b = random_tensor({1, 8 * hid}, 4);
  const Tensor h0 = random_tensor({1, batch, hid}, 5);
  auto seq_major = run("LSTM", {x, w, r, b, Tensor(), h0}, {{"hidden_size", integer(hid)}}, 14, {"y", "y_h", "y_c"});
  Tensor xt(DType::Float32, {batch, seq, in});
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t k = 0; k < in; ++k)
        xt.data<float>()[(n * seq + t) * in + k] = x.data<float>()[(t * batch + n) * in + k];
  const Tensor h0t = h0.reshaped({batch, 1, hid});  // one direction: same bytes
  auto batch_major = run("LSTM", {xt, w, r, b, Tensor(), h0t}, {{"hidden_size", integer(hid)}, {"layout", integer(1)}},
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
    const std::map<std::string, Attribute> attrs = {{"hidden_size", integer(hid)}, {"linear_before_reset", integer(lbr)},
                                                    {"direction", text("bidirectional")}};
    auto full = run("GRU", {x, w, r, b}, attrs, 14, {"y", "y_h"});
    auto half = run("GRU", {to_half(x), to_half(w), to_half(r), to_half(b)}, attrs, 14, {"y", "y_h"});
    ASSERT_EQ(half[0].dtype(), DType::Float16);
    for (int64_t i = 0; i < full[0].numel(); ++i)
      EXPECT_NEAR(float(half[0].data<float16>()[i]), full[0].data<float>()[i], 1e-2f);
  }
}

TEST(Rnn, BadShapesAndSequenceLengthsFail) {
  const Tensor x = floats({2, 1, 1}, {1, 2});
  const Tensor w = floats({1, 1, 1}, {1});
  EXPECT_THROW(run("RNN", {x, w, floats({1, 1, 2}, {0, 0})}, {{"hidden_size", integer(1)}}), Error);
  EXPECT_THROW(run("RNN", {x, w, floats({1, 1, 1}, {0}), Tensor(), Tensor::from_vector<int32_t>({1}, {3})},
                   {{"hidden_size", integer(1)}}),
               Error);
  EXPECT_THROW(run("GRU", {x, floats({1, 3, 1}, {1, 1, 1}), floats({1, 3, 1}, {0, 0, 0})},
                   {{"activations", texts({"Nope", "Tanh"})}}),
               Error);
}

// Ignored targets contribute nothing to the sum and nothing to the mean's denominator.
TEST(Loss, IgnoreIndexAndWeights) {
  const Tensor x = floats({3, 2}, {-1, -2, -3, -4, -5, -6});
  const Tensor target = Tensor::from_vector<int64_t>({3}, {1, -1, 0});
  const Tensor weight = floats({2}, {2, 3});
  auto mean = run("NegativeLogLikelihoodLoss", {x, target, weight}, {{"ignore_index", integer(-1)}});
  expect_near(mean[0], {(2 * 3 + 5 * 2) / 5.0f});
  auto none = run("NegativeLogLikelihoodLoss", {x, target, weight},
                  {{"ignore_index", integer(-1)}, {"reduction", text("none")}});
  expect_near(none[0], {6, 0, 10});
  EXPECT_THROW(run("NegativeLogLikelihoodLoss", {x, target, weight}), Error);  // -1 is out of range here
}

TEST(Loss, SoftmaxCrossEntropyOfUniformScoresIsLogC) {
  const Tensor scores = floats({2, 4, 1}, std::vector<float>(8, 0.5f));
  const Tensor labels = Tensor::from_vector<int32_t>({2, 1}, {0, 3});
  auto out = run("SoftmaxCrossEntropyLoss", {scores, labels}, {}, 13, {"loss", "log_prob"});
  expect_near(out[0], {std::log(4.0f)});
  expect_near(out[1], std::vector<float>(8, -std::log(4.0f)));
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
  auto none = run("NonMaxSuppression", {boxes, scores});  // max_output_boxes_per_class defaults to 0
  EXPECT_EQ(none[0].shape(), (Shape{0, 3}));
}

TEST(Detection, ReverseSequenceBatchMajorAndBadLengths) {
  const Tensor x = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  auto out = run("ReverseSequence", {x, Tensor::from_vector<int64_t>({2}, {3, 2})},
                 {{"batch_axis", integer(0)}, {"time_axis", integer(1)}});
  const std::vector<int32_t> want = {3, 2, 1, 5, 4, 6};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(out[0].data<int32_t>()[i], want[i]);
  EXPECT_THROW(run("ReverseSequence", {x, Tensor::from_vector<int64_t>({2}, {4, 1})},
                   {{"batch_axis", integer(0)}, {"time_axis", integer(1)}}),
               Error);
}

// A 1x2 image sampled left of its border: zeros padding fades out, border padding repeats the edge pixel, and
// reflection mirrors about the edge.
TEST(GridSample, PaddingModesOutsideTheImage) {
  const Tensor x = floats({1, 1, 1, 2}, {10, 20});
  const Tensor grid = floats({1, 1, 1, 2}, {-1.5f, 0});  // x = -1.5 -> pixel coordinate -1 (align_corners = 0)
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", text("zeros")}}, 16)[0], {0});
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", text("border")}}, 16)[0], {10});
  expect_near(run("GridSample", {x, grid}, {{"padding_mode", text("reflection")}}, 16)[0], {10});
  const Tensor far = floats({1, 1, 1, 2}, {-2.0f, 0});  // pixel -1.5 reflects to 0.5: halfway between the pixels
  expect_near(run("GridSample", {x, far}, {{"padding_mode", text("reflection")}}, 16)[0], {15});
  EXPECT_THROW(run("GridSample", {x, floats({1, 1, 1, 3}, {0, 0, 0})}, {}, 16), Error);
}

// DFT of a real signal then the inverse DFT gives the signal back; the opset-20 axis input accepts negative values.
TEST(Signal, DftRoundTripWithAxisInput) {
  const Tensor x = random_tensor({2, 5, 1}, 7);
  const Tensor axis = Tensor::scalar<int64_t>(-2);
  auto spectrum = run("DFT", {x, Tensor(), axis}, {}, 20);
  ASSERT_EQ(spectrum[0].shape(), (Shape{2, 5, 2}));
  auto back = run("DFT", {spectrum[0], Tensor(), axis}, {{"inverse", integer(1)}}, 20);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_NEAR(back[0].data<float>()[2 * i], x.data<float>()[i], 1e-5f);
    EXPECT_NEAR(back[0].data<float>()[2 * i + 1], 0.0f, 1e-5f);
  }
  auto padded = run("DFT", {x, Tensor::scalar<int64_t>(8)}, {{"onesided", integer(1)}}, 17);
  EXPECT_EQ(padded[0].shape(), (Shape{2, 5, 2}));  // axis attribute defaults to 1: 8 / 2 + 1 bins
}

TEST(Signal, SymmetricWindowEndsAtZero) {
  auto w = run("HannWindow", {Tensor::scalar<int64_t>(5)}, {{"periodic", integer(0)}}, 17);
  expect_near(w[0], {0, 0.5f, 1, 0.5f, 0});
}

TEST(Linalg, DetOfBatchWithSingularAndPivotedMatrices) {
  const Tensor x = floats({3, 2, 2}, {1, 2, 2, 4, 0, 1, 1, 0, 3, 1, 4, 2});
  expect_near(run("Det", {x})[0], {0, -1, 2});
  EXPECT_THROW(run("Det", {floats({2, 3}, {1, 2, 3, 4, 5, 6})}), Error);
}
