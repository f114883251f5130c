// infera quantize's writer: the nodes and initializers it writes for each precision, the accuracy of what it
// stores, --exclude, the opset upgrade, and that infera runs the result close to the fp32 model.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "infera/session.h"
#include "quant/formats.h"
#include "quant/quantizer.h"

namespace infera {
namespace {

// Small ONNX models written directly as protobuf, the form the quantizer edits.
struct ProtoModel {
  onnx::ModelProto m;
  explicit ProtoModel(int64_t opset) {
    m.set_ir_version(8);
    m.set_producer_name("quantizer_test");
    auto* o = m.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
    m.mutable_graph()->set_name("g");
  }
  ProtoModel& input(const std::string& name, const Shape& shape) {
    auto* v = m.mutable_graph()->add_input();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(int32_t(DType::Float32));
    for (int64_t d : shape) t->mutable_shape()->add_dim()->set_dim_value(d);
    return *this;
  }
  ProtoModel& output(const std::string& name) {
    auto* v = m.mutable_graph()->add_output();
    v->set_name(name);
    v->mutable_type()->mutable_tensor_type()->set_elem_type(int32_t(DType::Float32));
    return *this;
  }
  ProtoModel& init(const std::string& name, const Shape& shape, const std::vector<float>& values) {
    auto* t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(int32_t(DType::Float32));
    for (int64_t d : shape) t->add_dims(d);
    t->set_raw_data(values.data(), values.size() * sizeof(float));
    return *this;
  }
  ProtoModel& init_random(const std::string& name, const Shape& shape, float scale, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
    for (float& x : v) x = dist(rng);
    return init(name, shape, v);
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                        const std::string& name) {
    auto* n = m.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& s : ins) n->add_input(s);
    for (auto& s : outs) n->add_output(s);
    return *n;
  }
  std::string bytes() const { return m.SerializeAsString(); }
};

void attr_int(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void attr_ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

// Conv -> Relu -> Conv -> Add (residual) -> GlobalAveragePool -> Flatten -> Gemm, with `extra` activations also
// made graph outputs (to read their ranges from an fp32 run).
ProtoModel small_cnn(const std::vector<std::string>& extra = {}) {
  ProtoModel p(13);
  p.input("x", {2, 3, 8, 8});
  p.init_random("w1", {8, 3, 3, 3}, 0.3f, 1).init_random("b1", {8}, 0.1f, 2);
  p.init_random("w2", {8, 8, 3, 3}, 0.2f, 3).init_random("b2", {8}, 0.1f, 4);
  p.init_random("w3", {10, 8}, 0.5f, 5).init_random("b3", {10}, 0.1f, 6);
  attr_ints(p.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1"), "pads", {1, 1, 1, 1});
  p.node("Relu", {"c1"}, {"r1"}, "relu1");
  attr_ints(p.node("Conv", {"r1", "w2", "b2"}, {"c2"}, "conv2"), "pads", {1, 1, 1, 1});
  p.node("Add", {"c2", "r1"}, {"s"}, "add");
  p.node("GlobalAveragePool", {"s"}, {"g"}, "gap");
  p.node("Flatten", {"g"}, {"f"}, "flatten");
  attr_int(p.node("Gemm", {"f", "w3", "b3"}, {"y"}, "fc"), "transB", 1);
  p.output("y");
  for (const auto& e : extra) p.output(e);
  return p;
}

Tensor random_input(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<Tensor> run(const std::string& bytes, const Tensor& x, bool fast_backends = true) {
  SessionOptions options;
  options.fast_backends = fast_backends;
  Session s = Session::load_from_memory(bytes.data(), bytes.size(), options);
  return s.run({{s.inputs()[0].name, x}});
}

// Min-max ranges of every activation of small_cnn, from fp32 runs on a few random inputs (computed once).
const std::map<std::string, TensorRange>& cnn_ranges() {
  static const std::map<std::string, TensorRange> ranges = [] {
    const std::vector<std::string> tensors = {"x", "c1", "r1", "c2", "s", "g", "f"};
    std::map<std::string, TensorRange> r;
    const std::string bytes = small_cnn(tensors).bytes();
    for (unsigned seed = 0; seed < 2; ++seed) {
      const std::vector<Tensor> outs = run(bytes, random_input({2, 3, 8, 8}, 100 + seed));
      for (size_t k = 0; k < tensors.size(); ++k)
        for (int64_t i = 0; i < outs[k + 1].numel(); ++i) {
          const float v = outs[k + 1].data<float>()[i];
          r[tensors[k]].min = std::min(r[tensors[k]].min, v);
          r[tensors[k]].max = std::max(r[tensors[k]].max, v);
        }
    }
    return r;
  }();
  return ranges;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

int count_ops(const onnx::ModelProto& m, const std::string& op) {
  return int(std::count_if(m.graph().node().begin(), m.graph().node().end(),
                           [&](const onnx::NodeProto& n) { return n.op_type() == op; }));
}

const onnx::NodeProto& node_named(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& n : m.graph().node())
    if (n.name() == name) return n;
  throw Error("no node " + name);
}

const onnx::NodeProto* producer(const onnx::ModelProto& m, const std::string& value) {
  for (const auto& n : m.graph().node())
    for (const auto& o : n.output())
      if (o == value) return &n;
  return nullptr;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return t;
  throw Error("no initializer " + name);
}

template <class T>
std::vector<T> values(const onnx::TensorProto& t) {
  std::vector<T> v(t.raw_data().size() / sizeof(T));
  std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(T));
  return v;
}

int64_t attr_of(const onnx::NodeProto& n, const std::string& name, int64_t dflt) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return dflt;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return d;
}

float max_abs(const Tensor& a) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data<float>()[i]));
  return m;
}

struct Quantized {
  std::string bytes;
  onnx::ModelProto proto;
  QuantizeReport report;
};

Quantized quantize_cnn(const QuantizeOptions& options) {
  Quantized q;
  std::map<std::string, TensorRange> ranges;  // exactly the ones the quantizer asks for
  for (const std::string& t : tensors_to_calibrate(small_cnn().bytes(), "cnn", "", options))
    ranges[t] = cnn_ranges().at(t);
  q.bytes = quantize_model(small_cnn().bytes(), "cnn", "", options, ranges, &q.report);
  q.proto = parse(q.bytes);
  return q;
}

TEST(Quantizer, Int8PlacesPairsOnActivationInputsAndStoresInt8Weights) {
  QuantizeOptions options;
  const Quantized q = quantize_cnn(options);
  // Activations paired: x, r1 (Relu output read by conv2 and add), c2, f (Gemm input), g (Flatten input) and s
  // (GlobalAveragePool input): the chain Add -> pool -> Flatten feeds the Gemm.
  EXPECT_EQ(count_ops(q.proto, "QuantizeLinear"), 6);
  // The pair follows the Relu, whose range starts at 0: zero point 0, so the QuantizeLinear saturates at 0 as the
  // Relu clips, and the Relu, read by nothing else, is left out.
  EXPECT_EQ(count_ops(q.proto, "Relu"), 0);
  EXPECT_EQ(q.report.quantized.size(), 6u);  // conv1, conv2, add, gap, flatten, fc
  EXPECT_EQ(q.report.quantized_ops.at("Conv"), 2);
  // conv2 reads dequantized activations, weight and bias.
  const onnx::NodeProto& conv2 = node_named(q.proto, "conv2");
  for (int j = 0; j < 3; ++j) EXPECT_EQ(producer(q.proto, conv2.input(j))->op_type(), "DequantizeLinear") << j;
  const onnx::NodeProto& wdq = *producer(q.proto, conv2.input(1));
  EXPECT_EQ(initializer(q.proto, wdq.input(0)).data_type(), int32_t(DType::Int8));
  EXPECT_EQ(initializer(q.proto, wdq.input(1)).dims_size(), 0);  // per tensor
  const onnx::NodeProto& bdq = *producer(q.proto, conv2.input(2));
  EXPECT_EQ(initializer(q.proto, bdq.input(0)).data_type(), int32_t(DType::Int32));
  // Activations are uint8 with the zero point inside the range; the original fp32 weights are gone.
  const onnx::NodeProto& xq = *producer(q.proto, producer(q.proto, node_named(q.proto, "conv1").input(0))->input(0));
  EXPECT_EQ(xq.op_type(), "QuantizeLinear");
  EXPECT_EQ(initializer(q.proto, xq.input(2)).data_type(), int32_t(DType::UInt8));
  EXPECT_THROW(initializer(q.proto, "w2"), Error);
  EXPECT_EQ(q.report.opset_after, 13);
  EXPECT_LT(q.report.weight_bytes_after, q.report.weight_bytes_before / 2);
}

// Flatten only moves values: its output is quantized as its input is, whatever range was calibrated for it, so that
// it runs on the quantized bytes (a MaxPool the same: its outputs are some of its inputs).
TEST(Quantizer, ValueMovingOpsKeepTheirInputsQuantization) {
  QuantizeOptions options;
  std::map<std::string, TensorRange> ranges;
  for (const std::string& t : tensors_to_calibrate(small_cnn().bytes(), "cnn", "", options))
    ranges[t] = cnn_ranges().at(t);
  ranges.at("f").max *= 3;
  const onnx::ModelProto m = parse(quantize_model(small_cnn().bytes(), "cnn", "", options, ranges));
  auto scale_of = [&](const std::string& value) {
    for (const auto& n : m.graph().node())
      if (n.op_type() == "QuantizeLinear" && n.input(0) == value) return values<float>(initializer(m, n.input(1)));
    return std::vector<float>{};
  };
  ASSERT_EQ(scale_of("f").size(), 1u);
  EXPECT_EQ(scale_of("f"), scale_of("g"));
}

TEST(Quantizer, Int8PerChannelWeightsDequantizeWithinHalfAStep) {
  QuantizeOptions options;
  options.per_channel = true;
  const Quantized q = quantize_cnn(options);
  const onnx::ModelProto original = small_cnn().m;
  const onnx::NodeProto& dq = *producer(q.proto, node_named(q.proto, "conv2").input(1));
  EXPECT_EQ(attr_of(dq, "axis", 1), 0);
  const auto codes = values<int8_t>(initializer(q.proto, dq.input(0)));
  const auto scales = values<float>(initializer(q.proto, dq.input(1)));
  const auto w = values<float>(initializer(original, "w2"));
  ASSERT_EQ(scales.size(), 8u);  // one per output channel
  ASSERT_EQ(codes.size(), w.size());
  const size_t per_channel = w.size() / 8;
  for (size_t c = 0; c < 8; ++c) {
    float absmax = 0;
    for (size_t k = 0; k < per_channel; ++k) absmax = std::max(absmax, std::fabs(w[c * per_channel + k]));
    EXPECT_FLOAT_EQ(scales[c], absmax / 127);
    for (size_t k = 0; k < per_channel; ++k) {
      const size_t e = c * per_channel + k;
      EXPECT_LE(std::fabs(codes[e] * scales[c] - w[e]), scales[c] * 0.5f * 1.0001f) << e;
      EXPECT_GE(codes[e], -127);
    }
  }
  // Bias: int32 with scale = input scale x weight scale, per channel.
  const onnx::NodeProto& bdq = *producer(q.proto, node_named(q.proto, "conv2").input(2));
  const auto bias_scales = values<float>(initializer(q.proto, bdq.input(1)));
  const onnx::NodeProto& xdq = *producer(q.proto, node_named(q.proto, "conv2").input(0));
  const float x_scale = values<float>(initializer(q.proto, xdq.input(1)))[0];
  ASSERT_EQ(bias_scales.size(), 8u);
  for (size_t c = 0; c < 8; ++c) EXPECT_FLOAT_EQ(bias_scales[c], x_scale * scales[c]);
  // Gemm with transB: channels along axis 0 of the [N, K] weight.
  EXPECT_EQ(attr_of(*producer(q.proto, node_named(q.proto, "fc").input(1)), "axis", 1), 0);
}

// On the reference kernels (what the writer must get right) and on the fast path (integer kernels fusing the pairs).
TEST(Quantizer, Int8ModelRunsCloseToFp32) {
  for (bool per_channel : {false, true}) {
    QuantizeOptions options;
    options.per_channel = per_channel;
    const Quantized q = quantize_cnn(options);
    const Tensor x = random_input({2, 3, 8, 8}, 7);
    const Tensor ref = run(small_cnn().bytes(), x)[0];
    for (bool fast : {false, true}) {
      const Tensor out = run(q.bytes, x, fast)[0];
      // 8-bit activations and weights through three layers: a few percent of the output range.
      EXPECT_LT(max_abs_diff(out, ref), 0.05f * max_abs(ref)) << "per_channel " << per_channel << " fast " << fast;
      EXPECT_GT(max_abs_diff(out, ref), 0.0f);  // it is quantized
    }
  }
}

TEST(Quantizer, SymmetricActivationsAreInt8WithZeroPointZero) {
  QuantizeOptions options;
  options.symmetric_activations = true;
  const Quantized q = quantize_cnn(options);
  for (const auto& n : q.proto.graph().node()) {
    if (n.op_type() != "QuantizeLinear") continue;
    const onnx::TensorProto& zp = initializer(q.proto, n.input(2));
    EXPECT_EQ(zp.data_type(), int32_t(DType::Int8));
    EXPECT_EQ(values<int8_t>(zp)[0], 0);
  }
  // int8 with zero point 0 keeps negative values the Relu removes: the Relu stays.
  EXPECT_EQ(count_ops(q.proto, "Relu"), 1);
}

TEST(Quantizer, ExcludedNodesStayFp32) {
  QuantizeOptions options;
  options.exclude = {"conv2", "y"};  // by node name, and the Gemm by its output
  const Quantized q = quantize_cnn(options);
  const onnx::NodeProto& conv2 = node_named(q.proto, "conv2");
  EXPECT_EQ(conv2.input(1), "w2");
  EXPECT_EQ(initializer(q.proto, "w2").data_type(), int32_t(DType::Float32));
  EXPECT_EQ(node_named(q.proto, "fc").input(1), "w3");
  EXPECT_EQ(q.report.excluded, (std::vector<std::string>{"conv2", "fc"}));
  // The Add still reads conv2's output through a pair (it feeds nothing quantized now, so it is not quantized).
  EXPECT_EQ(producer(q.proto, node_named(q.proto, "add").input(0))->op_type(), "Conv");
  options.exclude = {"no_such_node"};
  EXPECT_THROW(quantize_cnn(options), Error);
}

TEST(Quantizer, MissingRangeAndQuantizedInputFail) {
  QuantizeOptions options;
  EXPECT_THROW(quantize_model(small_cnn().bytes(), "cnn", "", options, {}), Error);
  const Quantized q = quantize_cnn(options);
  EXPECT_THROW(quantize_model(q.bytes, "q", "", options, {}), Error);
}

TEST(Quantizer, Fp8UsesFloat8ZeroPointsAndOpset19) {
  QuantizeOptions options;
  options.precision = QuantPrecision::Fp8E4M3;
  options.per_channel = true;
  const Quantized q = quantize_cnn(options);
  EXPECT_EQ(q.report.opset_after, 19);
  EXPECT_EQ(q.report.quantized_ops.count("Add"), 0u);  // only the weighted ops
  const onnx::NodeProto& dq = *producer(q.proto, node_named(q.proto, "conv1").input(1));
  EXPECT_EQ(initializer(q.proto, dq.input(0)).data_type(), int32_t(DType::Float8E4M3FN));
  EXPECT_EQ(initializer(q.proto, dq.input(2)).data_type(), int32_t(DType::Float8E4M3FN));
  // Weights within half an fp8 step (3 mantissa bits: 1/16 relative) of the originals, above the subnormals.
  const auto codes = values<uint8_t>(initializer(q.proto, dq.input(0)));
  const auto scales = values<float>(initializer(q.proto, dq.input(1)));
  const auto w = values<float>(initializer(small_cnn().m, "w1"));
  const size_t per_channel = w.size() / scales.size();
  for (size_t e = 0; e < w.size(); ++e) {
    const float s = scales[e / per_channel];
    const float back = float8_e4m3fn::to_float(codes[e]) * s;
    EXPECT_LE(std::fabs(back - w[e]), std::max(std::fabs(w[e]) / 16, s * 0.0079f)) << e;
  }
  EXPECT_EQ(node_named(q.proto, "conv1").input(2), "b1");  // the bias stays fp32: no int32 accumulator to add it to
}

// MatMul [K=80, N=6] and Gemm with transB [N=5, K=6] for int4-weight.
ProtoModel small_mlp(const std::vector<std::string>& = {}) {
  ProtoModel p(17);
  p.input("x", {3, 80});
  p.init_random("w1", {80, 6}, 0.2f, 11).init_random("w2", {5, 6}, 0.4f, 12).init_random("b2", {5}, 0.1f, 13);
  p.node("MatMul", {"x", "w1"}, {"h"}, "mm");
  p.node("Relu", {"h"}, {"r"}, "relu");
  attr_int(p.node("Gemm", {"r", "w2", "b2"}, {"y"}, "fc"), "transB", 1);
  p.output("y");
  return p;
}

TEST(Quantizer, Int4WeightsInBlocksAlongK) {
  QuantizeOptions options;
  options.precision = QuantPrecision::Int4Weight;
  options.block_size = 32;
  QuantizeReport report;
  const std::string bytes = quantize_model(small_mlp().bytes(), "mlp", "", options, {}, &report);
  const onnx::ModelProto q = parse(bytes);
  EXPECT_EQ(report.opset_after, 21);
  EXPECT_EQ(q.ir_version(), 10);
  EXPECT_EQ(count_ops(q, "QuantizeLinear"), 0);  // activations stay fp32
  const onnx::NodeProto& dq = *producer(q, node_named(q, "mm").input(1));
  EXPECT_EQ(attr_of(dq, "axis", 1), 0);
  EXPECT_EQ(attr_of(dq, "block_size", 0), 32);
  const onnx::TensorProto& packed = initializer(q, dq.input(0));
  EXPECT_EQ(packed.data_type(), int32_t(DType::Int4));
  EXPECT_EQ(packed.raw_data().size(), 80u * 6 / 2);
  const onnx::TensorProto& scale = initializer(q, dq.input(1));
  EXPECT_EQ(std::vector<int64_t>(scale.dims().begin(), scale.dims().end()), (std::vector<int64_t>{3, 6}));
  std::vector<int4> codes(80 * 6);
  unpack_int4<int4>(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(packed.raw_data().data()),
                                             packed.raw_data().size()),
                    codes);
  const auto scales = values<float>(scale);
  const auto w = values<float>(initializer(small_mlp().m, "w1"));
  for (size_t k = 0; k < 80; ++k)
    for (size_t n = 0; n < 6; ++n) {
      const float s = scales[(k / 32) * 6 + n];
      EXPECT_LE(std::fabs(codes[k * 6 + n].value * s - w[k * 6 + n]), s * 0.5f * 1.0001f);
      EXPECT_GE(codes[k * 6 + n].value, -7);
    }
  // Gemm with transB: K is axis 1 of [N, K].
  EXPECT_EQ(attr_of(*producer(q, node_named(q, "fc").input(1)), "axis", 0), 1);
  EXPECT_EQ(node_named(q, "fc").input(2), "b2");  // the bias stays fp32
}

TEST(Quantizer, Fp16ConvertsInsideAndCastsAtTheEdges) {
  QuantizeOptions options;
  options.precision = QuantPrecision::Fp16;
  QuantizeReport report;
  const std::string bytes = quantize_model(small_cnn().bytes(), "cnn", "", options, {}, &report);
  const onnx::ModelProto q = parse(bytes);
  EXPECT_EQ(count_ops(q, "Cast"), 2);  // x in, y out
  EXPECT_EQ(q.graph().output(0).name(), "y");
  EXPECT_EQ(producer(q, "y")->op_type(), "Cast");
  for (const auto& t : q.graph().initializer()) EXPECT_EQ(t.data_type(), int32_t(DType::Float16)) << t.name();
  EXPECT_EQ(report.quantized.size(), 7u);
  const Tensor x = random_input({2, 3, 8, 8}, 9);
  const Tensor ref = run(small_cnn().bytes(), x)[0];
  const Tensor out = run(bytes, x)[0];
  EXPECT_EQ(out.dtype(), DType::Float32);
  EXPECT_LT(max_abs_diff(out, ref), 3e-3f * max_abs(ref));
}

TEST(Quantizer, Fp16ExcludedNodeReadsFp32) {
  QuantizeOptions options;
  options.precision = QuantPrecision::Fp16;
  options.exclude = {"conv2"};
  const onnx::ModelProto q = parse(quantize_model(small_cnn().bytes(), "cnn", "", options, {}));
  const onnx::NodeProto& conv2 = node_named(q, "conv2");
  EXPECT_EQ(conv2.input(0), "r1");  // relu1's fp16 output cast back under its own name
  EXPECT_EQ(producer(q, "r1")->op_type(), "Cast");
  EXPECT_EQ(initializer(q, "w2").data_type(), int32_t(DType::Float32));
  EXPECT_EQ(producer(q, node_named(q, "add").input(0))->op_type(), "Cast");  // conv2's fp32 output into fp16
}

TEST(Quantizer, Bf16RaisesTheOpsetSoConvAcceptsIt) {
  QuantizeOptions options;
  options.precision = QuantPrecision::Bf16;
  QuantizeReport report;
  const onnx::ModelProto q = parse(quantize_model(small_cnn().bytes(), "cnn", "", options, {}, &report));
  EXPECT_EQ(report.opset_after, 22);
  EXPECT_EQ(initializer(q, "w1_bf16").data_type(), int32_t(DType::BFloat16));
}

// Nodes whose attributes became inputs on the way from opset 11 to 21 still compute the same.
TEST(Quantizer, OpsetUpgradeRewritesChangedNodes) {
  ProtoModel p(11);
  p.input("x", {2, 1, 4, 6});
  p.init_random("w", {6, 5}, 0.3f, 21);
  attr_ints(p.node("Squeeze", {"x"}, {"s"}, "squeeze"), "axes", {1});
  onnx::NodeProto& mean = p.node("ReduceMean", {"s"}, {"m"}, "mean");
  attr_ints(mean, "axes", {1});
  attr_int(mean, "keepdims", 0);
  p.node("MatMul", {"m", "w"}, {"h"}, "mm");
  attr_int(p.node("Softmax", {"h"}, {"sm"}, "softmax"), "axis", 1);
  attr_ints(p.node("Unsqueeze", {"sm"}, {"y"}, "unsqueeze"), "axes", {0});
  p.output("y");
  QuantizeOptions options;
  options.precision = QuantPrecision::Int4Weight;
  QuantizeReport report;
  const std::string bytes = quantize_model(p.bytes(), "upgrade", "", options, {}, &report);
  const onnx::ModelProto q = parse(bytes);
  EXPECT_EQ(report.opset_before, 11);
  EXPECT_EQ(report.opset_after, 21);
  for (const char* name : {"squeeze", "mean", "unsqueeze"}) {
    const onnx::NodeProto& n = node_named(q, name);
    EXPECT_EQ(n.input_size(), 2) << name;
    EXPECT_TRUE(std::none_of(n.attribute().begin(), n.attribute().end(),
                             [](const onnx::AttributeProto& a) { return a.name() == "axes"; }))
        << name;
  }
  EXPECT_EQ(attr_of(node_named(q, "softmax"), "axis", 0), -1);
  const Tensor x = random_input({2, 1, 4, 6}, 3);
  const Tensor ref = run(p.bytes(), x)[0];
  const Tensor out = run(bytes, x)[0];
  ASSERT_EQ(out.shape(), ref.shape());
  EXPECT_LT(max_abs_diff(out, ref), 0.05f);  // int4 weights: softmax probabilities move a little

  ProtoModel bad(11);  // a softmax over two axes has no opset-13 form
  bad.input("x", {2, 3, 4});
  bad.init_random("w", {4, 4}, 0.3f, 22);
  bad.node("MatMul", {"x", "w"}, {"h"}, "mm");
  attr_int(bad.node("Softmax", {"h"}, {"y"}, "softmax"), "axis", 1);
  bad.output("y");
  EXPECT_THROW(quantize_model(bad.bytes(), "bad", "", options, {}), Error);
}

}  // namespace
}  // namespace infera
