// Quantized operators and control flow: rounding ties and saturation, per-axis / blocked / per-row parameters,
// padding with the zero point, the com.microsoft operators, and Loop / If run through a session (scope capture,
// zero trips, bad structure) — cases ONNX's test data covers thinly or not at all.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <limits>

#include "infera/infera.h"
#include "ops/op.h"
#include "op_harness.h"

using namespace infera;
using namespace infera::harness;

namespace {

Tensor run_ms(const std::string& op, const std::vector<Tensor>& inputs, Attrs attrs = {}) {
  return run(op, inputs, std::move(attrs), 1, "com.microsoft");
}

template <class T>
Tensor vec(std::vector<T> v) {
  return Tensor::from_vector<T>({int64_t(v.size())}, v);
}

const Tensor kNone;

}  // namespace

TEST(QuantizeLinear, RoundsHalfToEvenAndSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = vec<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 200.f, -200.f, nan});
  Tensor y = run("QuantizeLinear", {x, Tensor::scalar<float>(1.f), Tensor::scalar<int8_t>(0)});
  EXPECT_EQ(values_of<int8_t>(y), (std::vector<int8_t>{0, 2, 2, 0, -2, -2, 127, -128, 0}));
  // x / scale rounds before the zero point is added: 1.5 -> 2 (+1), 2.5 -> 2 (+1).
  y = run("QuantizeLinear", {vec<float>({3.f, 5.f}), Tensor::scalar<float>(2.f), Tensor::scalar<int8_t>(1)});
  EXPECT_EQ(values_of<int8_t>(y), (std::vector<int8_t>{3, 3}));
}

TEST(QuantizeLinear, DefaultsToUint8WithoutZeroPoint) {
  Tensor y = run("QuantizeLinear", {vec<float>({-3.f, 254.5f, 255.5f, 1000.f}), Tensor::scalar<float>(1.f)});
  ASSERT_EQ(y.dtype(), DType::UInt8);
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{0, 254, 255, 255}));
}

TEST(QuantizeLinear, PerAxisWithNegativeAxis) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = run("QuantizeLinear", {x, vec<float>({1, 2, 4}), vec<uint8_t>({0, 10, 20})}, {{"axis", int_attr(-1)}}, 13);
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{1, 11, 21, 4, 12, 22}));
}

TEST(QuantizeLinear, BlockedRoundTrip) {
  Tensor x = Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor scale = Tensor::from_vector<float>({2, 2}, {1, 2, 4, 8});
  Attrs attrs{{"axis", int_attr(1)}, {"block_size", int_attr(2)}};
  Tensor q = run("QuantizeLinear", {x, scale}, attrs);
  EXPECT_EQ(values_of<uint8_t>(q), (std::vector<uint8_t>{1, 2, 2, 2, 1, 2, 1, 1}));
  Tensor d = run("DequantizeLinear", {q, scale}, attrs);
  EXPECT_EQ(values_of<float>(d), (std::vector<float>{1, 2, 4, 4, 4, 8, 8, 8}));
  // The blocked scale must be the data's shape with the axis divided by the block size (rounded up).
  EXPECT_THROW(run("QuantizeLinear", {x, Tensor::from_vector<float>({2, 3}, {1, 1, 1, 1, 1, 1})}, attrs), Error);
  // Before opset 21 there is no blocking, so a 2-D scale is an error.
  EXPECT_THROW(run("QuantizeLinear", {x, scale}, attrs, 19), Error);
}

TEST(QuantizeLinear, RejectsBadScales) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(run("QuantizeLinear", {x, vec<float>({1, 2})}, {}, 10), Error);  // per-axis needs opset 13
  EXPECT_THROW(run("QuantizeLinear", {x, vec<float>({1, 2, 3})}, {}, 13), Error);
  EXPECT_THROW(run("QuantizeLinear", {x, vec<float>({1, 2}), vec<uint8_t>({0})}, {}, 13), Error);
  EXPECT_THROW(run("QuantizeLinear", {x, vec<float>({1, 2})}, {{"axis", int_attr(2)}}, 13), Error);
}

TEST(DequantizeLinear, Int16AndInt32) {
  Tensor y = run("DequantizeLinear",
                 {vec<int16_t>({-32768, 32767}), Tensor::scalar<float>(0.5f), Tensor::scalar<int16_t>(-1)});
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{-16383.5f, 16384.f}));
  y = run("DequantizeLinear", {vec<int32_t>({100000, -7}), Tensor::scalar<float>(0.25f)}, {}, 13);
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{25000.f, -1.75f}));
  EXPECT_THROW(run("DequantizeLinear", {vec<float>({1.f}), Tensor::scalar<float>(1.f)}), Error);
}

TEST(DynamicQuantizeLinear, ScaleAndZeroPointCoverZero) {
  const std::vector<std::string> outs = {"y", "y_scale", "y_zero_point"};
  Tensor x = vec<float>({-1.f, 0.f, 1.f, 2.f});
  std::vector<Tensor> y = run_all("DynamicQuantizeLinear", {x}, {}, 11, outs);
  EXPECT_EQ(values_of<uint8_t>(y[0]), (std::vector<uint8_t>{0, 85, 170, 255}));
  EXPECT_FLOAT_EQ(y[1].data<float>()[0], 3.f / 255.f);
  EXPECT_EQ(y[2].data<uint8_t>()[0], 85);
  // All zeros: no division by a zero scale.
  Tensor zeros(DType::Float32, {3});
  EXPECT_EQ(values_of<uint8_t>(run_all("DynamicQuantizeLinear", {zeros}, {}, 11, outs)[0]), (std::vector<uint8_t>{0, 0, 0}));
}

TEST(MatMulInteger, PerRowAndPerColumnZeroPoints) {
  Tensor a = Tensor::from_vector<uint8_t>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<uint8_t>({2, 2}, {5, 6, 7, 8});
  Tensor y = run("MatMulInteger", {a, b, vec<uint8_t>({1, 2}), vec<uint8_t>({5, 6})}, {}, 10);
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{2, 2, 4, 4}));
  // Signed A times unsigned B, with vector operands (numpy promotion): shape [] result.
  y = run("MatMulInteger", {vec<int8_t>({-128, 127}), vec<uint8_t>({255, 255})}, {}, 10);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{-255}));
  EXPECT_THROW(run("MatMulInteger", {a, Tensor::from_vector<uint8_t>({3, 1}, {1, 1, 1})}, {}, 10), Error);
  EXPECT_THROW(run("MatMulInteger", {a, b, vec<uint8_t>({1, 2, 3})}, {}, 10), Error);
}

TEST(QLinearMatMul, PerColumnScaleRoundsHalfToEven) {
  Tensor a = Tensor::from_vector<uint8_t>({1, 2}, {2, 4});
  Tensor b = Tensor::from_vector<uint8_t>({2, 2}, {1, 1, 1, 1});
  // acc = 6 in both columns; 6 * 0.5 * 1 / 2 = 1.5 -> 2, 6 * 0.5 * 3 / 2 = 4.5 -> 4; plus 10.
  Tensor y = run("QLinearMatMul",
                 {a, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(0), b, vec<float>({1, 3}),
                  vec<uint8_t>({0, 0}), Tensor::scalar<float>(2.f), Tensor::scalar<uint8_t>(10)},
                 {}, 10);
  EXPECT_EQ(y.shape(), (Shape{1, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{12, 14}));
}

TEST(ConvInteger, PaddingIsTheZeroPoint) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor w = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor y = run("ConvInteger", {x, w, Tensor::scalar<uint8_t>(1)}, {{"pads", ints_attr({1, 1, 1, 1})}}, 10);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(values_of<int32_t>(y), (std::vector<int32_t>{0, 1, 1, 2, 6, 4, 2, 5, 3}));
}

TEST(QLinearConv, PerChannelScalesAndBias) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 1, 2}, {3, 5});
  Tensor w = Tensor::from_vector<int8_t>({2, 1, 1, 1}, {1, -1});
  // Channel 0: ([2, 4] + 1) * 0.5 = [1.5, 2.5] -> [2, 2]; channel 1: ([-2, -4] + 2) * 0.25 = [0, -0.5] -> [0, 0].
  Tensor y = run("QLinearConv",
                 {x, Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(1), w, vec<float>({0.5f, 0.25f}),
                  vec<int8_t>({0, 0}), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(100), vec<int32_t>({1, 2})},
                 {}, 10);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{102, 102, 100, 100}));
  EXPECT_THROW(run("QLinearConv",
                   {x, Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(1), w, vec<float>({0.5f, 0.25f, 1.f}),
                    vec<int8_t>({0, 0}), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(100)},
                   {}, 10),
               Error);
}

TEST(QLinearAdd, BroadcastsAndSaturates) {
  Tensor a = Tensor::from_vector<uint8_t>({2, 1}, {10, 20});  // real 0, 5
  Tensor b = vec<uint8_t>({0, 128, 255});                     // real -128, 0, 127
  Tensor y =
      run_ms("QLinearAdd", {a, Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(10), b, Tensor::scalar<float>(1.f),
                            Tensor::scalar<uint8_t>(128), Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(128)});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{0, 128, 255, 5, 133, 255}));
}

TEST(QLinearGlobalAveragePool, ChannelsLastAndFirst) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  const Tensor one = Tensor::scalar<float>(1.f), zero = Tensor::scalar<uint8_t>(0);
  Tensor y = run_ms("QLinearGlobalAveragePool", {x, one, zero, one, zero}, {{"channels_last", int_attr(1)}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{2, 25}));  // 2.5 -> 2
  y = run_ms("QLinearGlobalAveragePool", {x, one, zero, one, zero});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{8, 19}));
}

TEST(QLinearAveragePool, CountIncludePad) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor zero = Tensor::scalar<uint8_t>(0);
  Attrs attrs{{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}};
  Tensor y =
      run_ms("QLinearAveragePool", {x, Tensor::scalar<float>(1.f), zero, Tensor::scalar<float>(0.25f), zero}, attrs);
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{4, 8, 12, 16}));
  attrs["count_include_pad"] = int_attr(1);
  y = run_ms("QLinearAveragePool", {x, Tensor::scalar<float>(1.f), zero, Tensor::scalar<float>(0.25f), zero}, attrs);
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(QLinearConcat, RequantizesEachInput) {
  Tensor y =
      run_ms("QLinearConcat",
             {Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0), Tensor::from_vector<uint8_t>({1, 1}, {7}),
              Tensor::scalar<float>(1.f), Tensor::scalar<uint8_t>(0), Tensor::from_vector<uint8_t>({1, 2}, {3, 6}),
              Tensor::scalar<float>(0.5f), Tensor::scalar<uint8_t>(1)},
             {{"axis", int_attr(-1)}});
  EXPECT_EQ(values_of<uint8_t>(y), (std::vector<uint8_t>{7, 1, 2}));  // (3-1)*0.5 = 1, (6-1)*0.5 = 2.5 -> 2
}

// ---- control flow, through a session ----

namespace {

void set_type(onnx::ValueInfoProto* v, const std::string& name, int elem_type, std::vector<int64_t> dims) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

void add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + outs[0]);
  for (auto& i : ins) n->add_input(i);
  for (auto& o : outs) n->add_output(o);
}

// Loop(M, cond, x) whose body adds the outer initializer `step` to x and also emits the sum as a scan output. Its
// condition output is its condition input, or the negation when `body_stops`.
onnx::ModelProto loop_model(bool with_trip_count, bool with_cond, bool body_stops = false) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(16);
  auto* g = m.mutable_graph();
  g->set_name("main");
  set_type(g->add_input(), "M", onnx::TensorProto::INT64, {});
  set_type(g->add_input(), "cond", onnx::TensorProto::BOOL, {});
  set_type(g->add_input(), "x", onnx::TensorProto::FLOAT, {1});
  auto* step = g->add_initializer();
  step->set_name("step");
  step->set_data_type(onnx::TensorProto::FLOAT);
  step->add_dims(1);
  step->add_float_data(2.f);
  auto* loop = g->add_node();
  loop->set_op_type("Loop");
  loop->set_name("loop");
  loop->add_input(with_trip_count ? "M" : "");
  loop->add_input(with_cond ? "cond" : "");
  loop->add_input("x");
  loop->add_output("x_final");
  loop->add_output("sums");
  auto* attr = loop->add_attribute();
  attr->set_name("body");
  attr->set_type(onnx::AttributeProto::GRAPH);
  auto* body = attr->mutable_g();
  body->set_name("body");
  set_type(body->add_input(), "i", onnx::TensorProto::INT64, {});
  set_type(body->add_input(), "cond_in", onnx::TensorProto::BOOL, {});
  set_type(body->add_input(), "x_in", onnx::TensorProto::FLOAT, {1});
  add_node(body, "Add", {"x_in", "step"}, {"x_out"});
  add_node(body, "Add", {"x_out", "step"}, {"scan_out"});
  if (body_stops) add_node(body, "Not", {"cond_in"}, {"cond_out"});
  set_type(body->add_output(), body_stops ? "cond_out" : "cond_in", onnx::TensorProto::BOOL, {});
  set_type(body->add_output(), "x_out", onnx::TensorProto::FLOAT, {1});
  set_type(body->add_output(), "scan_out", onnx::TensorProto::FLOAT, {1});
  set_type(g->add_output(), "x_final", onnx::TensorProto::FLOAT, {1});
  set_type(g->add_output(), "sums", onnx::TensorProto::FLOAT, {});
  return m;
}

Session load(const onnx::ModelProto& m) {
  std::string bytes = m.SerializeAsString();
  return Session::load_from_memory(bytes.data(), bytes.size(), {}, "test.onnx");
}

std::map<std::string, Tensor> loop_inputs(int64_t trips, bool cond) {
  return {{"M", Tensor::scalar<int64_t>(trips)},
          {"cond", Tensor::scalar<bool>(cond)},
          {"x", Tensor::from_vector<float>({1}, {1.f})}};
}

}  // namespace

TEST(Loop, CarriesValuesAndStacksScanOutputs) {
  Session s = load(loop_model(true, true));
  auto out = s.run(loop_inputs(3, true));
  EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{7.f}));
  EXPECT_EQ(out[1].shape(), (Shape{3, 1}));
  EXPECT_EQ(values_of<float>(out[1]), (std::vector<float>{5.f, 7.f, 9.f}));
}

TEST(Loop, ZeroTripsGiveInitialValuesAndEmptyScans) {
  Session s = load(loop_model(true, true));
  for (auto inputs : {loop_inputs(0, true), loop_inputs(5, false), loop_inputs(-1, true)}) {
    auto out = s.run(inputs);
    EXPECT_EQ(values_of<float>(out[0]), (std::vector<float>{1.f}));
    EXPECT_EQ(out[1].shape(), (Shape{0, 1}));
  }
}

TEST(Loop, ForLoopIgnoresBodyConditionAndEndlessLoopFails) {
  // The body's condition output ends a while loop after one trip, but a for loop (no cond input) ignores it.
  EXPECT_EQ(values_of<float>(load(loop_model(true, true, true)).run(loop_inputs(5, true))[0]), (std::vector<float>{3.f}));
  Session s = load(loop_model(true, false, true));
  EXPECT_EQ(values_of<float>(s.run(loop_inputs(2, true))[0]), (std::vector<float>{5.f}));
  Session endless = load(loop_model(false, false));
  EXPECT_THROW(endless.run(loop_inputs(2, true)), Error);
}

TEST(If, RunsTheChosenBranchWithOuterScope) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("main");
  set_type(g->add_input(), "c", onnx::TensorProto::BOOL, {});
  set_type(g->add_input(), "a", onnx::TensorProto::FLOAT, {2});
  auto* n = g->add_node();
  n->set_op_type("If");
  n->set_name("if");
  n->add_input("c");
  n->add_output("y");
  for (const char* branch : {"then_branch", "else_branch"}) {
    auto* attr = n->add_attribute();
    attr->set_name(branch);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* b = attr->mutable_g();
    b->set_name(branch);
    add_node(b, std::string(branch) == "then_branch" ? "Add" : "Mul", {"a", "a"}, {"r"});
    set_type(b->add_output(), "r", onnx::TensorProto::FLOAT, {2});
  }
  set_type(g->add_output(), "y", onnx::TensorProto::FLOAT, {2});
  Session s = load(m);
  const Tensor a = Tensor::from_vector<float>({2}, {3.f, 4.f});
  EXPECT_EQ(values_of<float>(s.run({{"c", Tensor::scalar<bool>(true)}, {"a", a}})[0]), (std::vector<float>{6.f, 8.f}));
  EXPECT_EQ(values_of<float>(s.run({{"c", Tensor::scalar<bool>(false)}, {"a", a}})[0]), (std::vector<float>{9.f, 16.f}));
  EXPECT_THROW(s.run({{"c", Tensor(DType::Bool, {2})}, {"a", a}}), Error);
}
