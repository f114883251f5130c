// QDQ fusion on a hand-built residual block written the way quantizers write it (QuantizeLinear / DequantizeLinear
// around Conv, Add, MaxPool, GlobalAveragePool, Flatten): which integer ops it becomes, what it computes, and why a
// Q or DQ that cannot fuse stays.
//
// The fused graph against the unfused QDQ graph, both on the reference kernels: the QDQ graph computes each
// convolution in float on dequantized values and rounds once, at its Q; the fused graph accumulates exactly in
// integers and rounds at the same places. The two differ only by float rounding in the QDQ graph's own sum, which
// can move a value across a rounding boundary: at most one quantization step at any Q, and a step that reaches the
// output moves it by one output step (rarely more, when two steps in a row fall the same way). The test requires
// every output within 2 steps of the output grid and almost all identical.
#include "model_builder.h"
#include "passes/pipeline.h"
#include "runtime/compiled_graph.h"
#include "runtime/executor.h"

namespace infera {
namespace {

using namespace harness;

constexpr float kOutScale = 0.02f;

Tensor int8_weights(Shape shape, unsigned seed) {
  Tensor t(DType::Int8, std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-127, 127);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = int8_t(dist(gen));
  return t;
}

struct QdqBuilder : ModelBuilder {
  QdqBuilder() : ModelBuilder(13) {}
  int names = 0;
  // Q then DQ of `x` with (scale, zero point): the fake quantization of an activation. Returns the DQ output.
  std::string qdq(const std::string& x, float scale, uint8_t zp) {
    const std::string k = std::to_string(names++);
    init("s" + k, Tensor::scalar<float>(scale));
    init("z" + k, Tensor::scalar<uint8_t>(zp));
    node("QuantizeLinear", {x, "s" + k, "z" + k}, {x + "_q"});
    node("DequantizeLinear", {x + "_q", "s" + k, "z" + k}, {x + "_dq"});
    return x + "_dq";
  }
  // Conv with int8 per-channel weights and an int32 bias, each read through DequantizeLinear.
  std::string conv(const std::string& x, float x_scale, const std::string& y, int64_t in, int64_t out, unsigned seed,
                   int64_t kernel) {
    std::vector<float> ws;
    for (int64_t c = 0; c < out; ++c) ws.push_back(0.004f + 0.0005f * float(c % 5));
    std::vector<float> bs;
    std::vector<int32_t> b;
    for (int64_t c = 0; c < out; ++c) bs.push_back(x_scale * ws[size_t(c)]), b.push_back(int32_t(c * 37 % 200) - 100);
    init(y + "_w", int8_weights({out, in, kernel, kernel}, seed));
    init(y + "_ws", Tensor::from_vector<float>({out}, ws));
    init(y + "_wz", Tensor(DType::Int8, {out}));
    init(y + "_b", Tensor::from_vector<int32_t>({out}, b));
    init(y + "_bs", Tensor::from_vector<float>({out}, bs));
    init(y + "_bz", Tensor(DType::Int32, {out}));
    node("DequantizeLinear", {y + "_w", y + "_ws", y + "_wz"}, {y + "_wf"}, {{"axis", int_attr(0)}});
    node("DequantizeLinear", {y + "_b", y + "_bs", y + "_bz"}, {y + "_bf"}, {{"axis", int_attr(0)}});
    const int64_t pad = kernel / 2;
    node("Conv", {x, y + "_wf", y + "_bf"}, {y}, {{"pads", ints_attr({pad, pad, pad, pad})}});
    return y;
  }
};

// x -> Q/DQ -> conv1 -> Relu -> Q/DQ -> conv2 -> Q/DQ -> Add(conv1 branch) -> Relu -> Q/DQ -> MaxPool -> Q/DQ
//   -> GlobalAveragePool -> Q/DQ -> Flatten -> y
// conv2 reads r1 and adds it: its output must not overwrite r1 while it still reads it.
Model residual_block() {
  QdqBuilder b;
  b.input("x", {1, 6, 9, 9});
  const std::string x = b.qdq("x", 0.03f, 128);
  b.conv(x, 0.03f, "c1", 6, 8, 1, 3);
  b.node("Relu", {"c1"}, {"r1"});
  const std::string r1 = b.qdq("r1", 0.05f, 0);
  b.conv(r1, 0.05f, "c2", 8, 8, 2, 3);  // reads r1, which is also its residual
  const std::string c2 = b.qdq("c2", 0.06f, 120);
  b.node("Add", {c2, r1}, {"sum"});
  b.node("Relu", {"sum"}, {"r2"});
  const std::string r2 = b.qdq("r2", 0.07f, 0);
  b.node("MaxPool", {r2}, {"p"}, {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}});
  const std::string p = b.qdq("p", 0.07f, 0);
  b.node("GlobalAveragePool", {p}, {"g"});
  const std::string g = b.qdq("g", kOutScale, 10);
  b.node("Flatten", {g}, {"y"});
  b.output("y");
  return b.m;
}

// The input x: random values in [-3, 3].
std::map<std::string, Tensor> image(const Shape& shape = {1, 6, 9, 9}, unsigned seed = 5) {
  Tensor x = random_tensor(shape, seed);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] *= 3.0f;
  return {{"x", x}};
}

std::vector<Tensor> run_reference(Model m, const std::map<std::string, Tensor>& in = image()) {
  ModelPlan plan(m, true);
  Executor exec(m, plan);
  return exec.run(m.graph, std::unordered_map<std::string, Tensor>(in.begin(), in.end()));
}

std::map<std::string, int> op_counts(const Model& m) {
  std::map<std::string, int> counts;
  for (const Node& n : m.graph.nodes) ++counts[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
  return counts;
}

Model optimized(Model m) {
  optimize_graph(m, {{"x", {1, 6, 9, 9}}});
  return m;
}

TEST(QdqFusion, ResidualBlockBecomesIntegerOps) {
  const Model m = optimized(residual_block());
  auto ops = op_counts(m);
  EXPECT_EQ(ops["QLinearConv"], 1) << "conv1 (its Relu absorbed by the zero point 0)";
  EXPECT_EQ(ops["infera.FusedQLinearConv"], 1) << "conv2 with the residual Add and its Relu";
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["com.microsoft.QLinearGlobalAveragePool"], 1);
  EXPECT_EQ(ops["QuantizeLinear"], 1) << "only the input's";
  EXPECT_EQ(ops["DequantizeLinear"], 1) << "only the output's";
  EXPECT_EQ(ops["Conv"] + ops["Relu"] + ops["Add"], 0);
  for (const Node& n : m.graph.nodes)
    if (n.op_type == "MaxPool") EXPECT_EQ(n.inputs[0], "r2_q") << "MaxPool runs on the quantized bytes";
}

TEST(QdqFusion, FusedGraphMatchesTheQdqGraphWithinOneStep) {
  const std::vector<Tensor> want = run_reference(residual_block());
  const std::vector<Tensor> got = run_reference(optimized(residual_block()));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].shape(), want[0].shape());
  int exact = 0;
  for (int64_t i = 0; i < want[0].numel(); ++i) {
    const double steps = std::fabs(got[0].as_double(i) - want[0].as_double(i)) / kOutScale;
    EXPECT_LE(steps, 2.001) << "element " << i;
    exact += steps < 1e-3;
  }
  EXPECT_GE(exact, want[0].numel() - 1);
}

// The compiled model (oneDNN integer kernels, int8 layouts between them) gives what the reference kernels give for
// the fused graph, to one step.
TEST(QdqFusion, CompiledIntegerKernelsMatchTheFusedReference) {
  const Model m = residual_block();
  CompiledGraph fast(m, {{"x", {1, 6, 9, 9}}}, SessionOptions{});
  const std::vector<Tensor> got = fast.run(image());
  const std::vector<Tensor> want = run_reference(optimized(residual_block()));
  for (int64_t i = 0; i < want[0].numel(); ++i)
    EXPECT_LE(std::fabs(got[0].as_double(i) - want[0].as_double(i)), kOutScale * 1.001) << "element " << i;
  int int8_steps = 0;
  for (const LayerProfile& l : fast.report().steps)
    int8_steps += l.backend == "dnnl" && l.precision == "int8" && l.op_type.find("QLinearConv") != std::string::npos;
  EXPECT_EQ(int8_steps, 2) << "both convolutions on oneDNN's integer kernels";
}

// A classifier head as ONNX Runtime's quantizer writes it: GlobalAveragePool -> Relu -> Q/DQ (the pair after the
// activation) -> Flatten -> Q/DQ -> Gemm(transB, per-channel int8 weights, float bias), whose result stays float.
Model classifier_head() {
  QdqBuilder b;
  b.input("x", {1, 6, 9, 9});
  const std::string x = b.qdq("x", 0.03f, 128);
  b.node("GlobalAveragePool", {x}, {"g"});
  b.node("Relu", {"g"}, {"r"});
  const std::string r = b.qdq("r", 0.01f, 0);
  b.node("Flatten", {r}, {"f"});
  const std::string f = b.qdq("f", 0.01f, 0);
  std::vector<float> ws, c;
  for (int k = 0; k < 10; ++k) ws.push_back(0.003f + 0.001f * float(k % 4)), c.push_back(0.25f * float(k) - 1.0f);
  b.init("w", int8_weights({10, 6}, 7));
  b.init("ws", Tensor::from_vector<float>({10}, ws));
  b.init("wz", Tensor(DType::Int8, {10}));
  b.init("c", Tensor::from_vector<float>({10}, c));
  b.node("DequantizeLinear", {"w", "ws", "wz"}, {"wf"}, {{"axis", int_attr(0)}});
  b.node("Gemm", {f, "wf", "c"}, {"y"}, {{"transB", int_attr(1)}});
  b.output("y");
  return b.m;
}

TEST(QdqFusion, ClassifierHeadRunsOnIntegers) {
  const Model m = optimized(classifier_head());
  auto ops = op_counts(m);
  EXPECT_EQ(ops["com.microsoft.QLinearGlobalAveragePool"], 1) << "with the Relu in its saturation";
  EXPECT_EQ(ops["infera.QuantizedGemm"], 1);
  EXPECT_EQ(ops["Gemm"] + ops["Relu"] + ops["DequantizeLinear"], 0);
  // The pool rounds once where the QDQ graph rounds at the Relu's Q: one step of r (0.01) moves y by at most
  // 0.01 * max|w| * 6 = 0.006 * 127 * 6 * 0.01.
  const std::vector<Tensor> want = run_reference(classifier_head());
  const std::vector<Tensor> fused = run_reference(m);
  for (int64_t i = 0; i < want[0].numel(); ++i)
    EXPECT_NEAR(fused[0].as_double(i), want[0].as_double(i), 0.046) << "element " << i;
  // oneDNN's integer product with the float bias as a post-op, against the fused graph's reference kernels.
  CompiledGraph fast(classifier_head(), {{"x", {1, 6, 9, 9}}}, SessionOptions{});
  const std::vector<Tensor> got = fast.run(image());
  for (int64_t i = 0; i < want[0].numel(); ++i) EXPECT_NEAR(got[0].as_double(i), fused[0].as_double(i), 1e-5);
  bool integer_gemm = false;
  for (const LayerProfile& l : fast.report().steps)
    integer_gemm = integer_gemm || (l.op_type == "infera.QuantizedGemm" && l.backend == "dnnl");
  EXPECT_TRUE(integer_gemm);
}

// A Relu before a Q whose zero point is not the type's minimum changes values the saturation keeps: it cannot be
// absorbed, and the Q says why. A Q after an op without an integer form (Sigmoid) says so too.
TEST(QdqFusion, UnfusedQuantizeLinearSaysWhy) {
  QdqBuilder b;
  b.input("x", {1, 6, 5, 5});
  const std::string x = b.qdq("x", 0.03f, 128);
  b.conv(x, 0.03f, "c", 6, 4, 3, 3);
  b.node("Relu", {"c"}, {"r"});
  const std::string r = b.qdq("r", 0.05f, 20);
  b.node("Sigmoid", {r}, {"s"});
  const std::string s = b.qdq("s", 0.004f, 0);
  b.node("Identity", {s}, {"y"});
  b.output("y");
  const Model m = optimized(b.m);
  std::map<std::string, std::string> reasons;
  for (const Node& n : m.graph.nodes)
    if (n.has_attr("unfused_reason")) reasons[n.outputs[0]] = n.attr_string("unfused_reason", "");
  EXPECT_NE(reasons["r_q"].find("Relu is not absorbed"), std::string::npos) << reasons["r_q"];
  EXPECT_NE(reasons["s_q"].find("Sigmoid"), std::string::npos) << reasons["s_q"];
  EXPECT_NE(reasons["r_dq"].find("Sigmoid"), std::string::npos) << reasons["r_dq"];
  EXPECT_EQ(op_counts(m)["QLinearConv"], 0);
}

// A residual network as infera's own quantizer writes it (quant/qdq_writer.cpp): the residual stream stays float, so
// each block's last convolution has no Q after it and its Add and Relu run on floats:
//   x -> Q/DQ -> conv1 -> Add(x) -> Relu -> r -> Q/DQ -> conv2 -> Add(r) -> Relu -> y
// Each convolution becomes infera.QuantizedConv (integer product, float result) with the Add as its residual Z and
// the Relu as its activation; the compiled graph keeps r in oneDNN's layout from conv1 through its quantization to
// conv2 and the residual.
Model float_residual_blocks() {
  QdqBuilder b;
  b.input("x", {1, 8, 9, 9});
  const std::string x = b.qdq("x", 0.03f, 128);
  b.conv(x, 0.03f, "c1", 8, 8, 3, 3);
  b.node("Add", {"c1", "x"}, {"sum1"});
  b.node("Relu", {"sum1"}, {"r"});
  const std::string r = b.qdq("r", 0.04f, 0);
  b.conv(r, 0.04f, "c2", 8, 8, 4, 1);
  b.node("Add", {"r", "c2"}, {"sum2"});
  b.node("Relu", {"sum2"}, {"y"});
  b.output("y");
  return b.m;
}

std::map<std::string, Tensor> float_image() { return image({1, 8, 9, 9}, 6); }

TEST(QdqFusion, FloatResidualBlocksRunAsQuantizedConvs) {
  Model m = float_residual_blocks();
  optimize_graph(m, {{"x", {1, 8, 9, 9}}});
  auto ops = op_counts(m);
  EXPECT_EQ(ops["infera.QuantizedConv"], 2);
  EXPECT_EQ(ops["Conv"] + ops["Add"] + ops["Relu"] + ops["DequantizeLinear"], 0);
  EXPECT_EQ(ops["QuantizeLinear"], 2) << "x's and r's";
  for (const Node& n : m.graph.nodes)
    if (n.op_type == "QuantizedConv") {
      ASSERT_EQ(n.inputs.size(), 8u);
      EXPECT_FALSE(n.inputs[7].empty()) << n.name << ": the residual";
      EXPECT_EQ(n.attr_string("activation", ""), "Relu") << n.name;
    }
  // The fused graph computes what the QDQ graph computes (both dequantize, then convolve in float), to float
  // rounding; the compiled one accumulates in int32, so r can fall on the other side of a rounding boundary of its
  // quantization: one step of r (0.04) at one input of conv2 moves an output by at most 0.04 * 0.006 * 127.
  const Tensor want = run_reference(float_residual_blocks(), float_image())[0];
  const Tensor fused = run_reference(m, float_image())[0];
  CompiledGraph fast(float_residual_blocks(), {{"x", {1, 8, 9, 9}}}, SessionOptions{});
  const Tensor got = fast.run(float_image())[0];
  ASSERT_EQ(got.shape(), want.shape());
  int off = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.as_double(i);
    EXPECT_NEAR(fused.as_double(i), w, 1e-5 * std::max(1.0, std::fabs(w))) << "element " << i;
    EXPECT_NEAR(got.as_double(i), w, 0.031) << "element " << i;
    off += std::fabs(got.as_double(i) - w) > 1e-4 * std::max(1.0, std::fabs(w));
  }
  EXPECT_LE(off, want.numel() / 20) << "rounding-boundary cases are rare";
  std::map<std::string, std::string> backend;
  int conversions = 0;
  for (const LayerProfile& l : fast.report().steps) {
    backend[l.op_type] = l.backend;
    conversions += l.op_type == "LayoutToPlain";
  }
  EXPECT_EQ(backend["infera.QuantizedConv"], "dnnl");
  EXPECT_EQ(backend["QuantizeLinear"], "dnnl") << "r is quantized in oneDNN's layout";
  EXPECT_LE(conversions, 1) << "only the graph output goes back to plain";
}

}  // namespace
}  // namespace infera
