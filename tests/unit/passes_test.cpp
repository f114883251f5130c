// Graph passes on small hand-built graphs: each rewrite happens (op counts after), and the optimized graph computes
// what the original did (same outputs through the reference executor). PassesRealModels does the same on real
// models named in INFERA_PASSES_MODELS (skipped when unset; see the test).
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "onnx/import.h"
#include "model_builder.h"
#include "op_harness.h"
#include "passes/pipeline.h"
#include "runtime/executor.h"

namespace infera {
namespace {

using namespace harness;

using Builder = ModelBuilder;

std::vector<Tensor> run_model(Model& m, const std::map<std::string, Tensor>& inputs) {
  ModelPlan plan(m, /*strict=*/true);
  Executor exec(m, plan);
  return exec.run(m.graph, std::unordered_map<std::string, Tensor>(inputs.begin(), inputs.end()));
}

int count_ops(const Model& m, const std::string& op) {
  int n = 0;
  for (const Node& node : m.graph.nodes) n += (node.domain.empty() ? "" : node.domain + ".") + node.op_type == op;
  return n;
}

const Node* find_op(const Model& m, const std::string& op) {
  for (const Node& node : m.graph.nodes)
    if (node.op_type == op) return &node;
  return nullptr;
}

int rewrites(const std::vector<PassCount>& stats, const std::string& pass) {
  int n = 0;
  for (const PassCount& s : stats) n += s.pass == pass ? s.rewrites : 0;
  return n;
}

// Largest |a - b| over all outputs, relative to the largest |a| (at least 1).
double max_relative_difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double diff = 0, scale = 1;
  EXPECT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size() && k < b.size(); ++k) {
    EXPECT_EQ(a[k].shape(), b[k].shape()) << "output " << k;
    if (a[k].shape() != b[k].shape()) return INFINITY;
    for (int64_t i = 0; i < a[k].numel(); ++i) {
      scale = std::max(scale, std::fabs(a[k].as_double(i)));
      diff = std::max(diff, std::fabs(a[k].as_double(i) - b[k].as_double(i)));
    }
  }
  return diff / scale;
}

std::map<std::string, Tensor> random_inputs(const Model& m, const std::map<std::string, Shape>& shapes) {
  std::map<std::string, Tensor> inputs;
  unsigned seed = 1;
  for (const ValueInfo& v : m.graph.inputs) {
    const Shape s = resolve_input_shape(v, shapes);
    if (v.dtype == DType::Float32) {
      inputs[v.name] = random_tensor(s, seed++);
    } else {  // integer inputs (token ids, masks, types): 0 and 1, valid for each
      Tensor t(v.dtype, s);
      for (int64_t i = 0; i < t.numel(); ++i)
        if (v.dtype == DType::Int64) t.data<int64_t>()[i] = (i * 7 + 3) % 5 == 0 ? 0 : 1;
      inputs[v.name] = t;
    }
  }
  return inputs;
}

struct Optimized {
  Model model;
  std::vector<PassCount> stats;
  double difference = 0;
};

// Optimizes a copy of `m` for its inputs' shapes and compares outputs before and after.
Optimized optimize_and_compare(const Model& m, const std::map<std::string, Tensor>& inputs) {
  Model before = m;
  Optimized o{m, {}, 0};
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();
  o.stats = optimize_graph(o.model, shapes);
  const std::vector<Tensor> want = run_model(before, inputs), got = run_model(o.model, inputs);
  o.difference = max_relative_difference(want, got);
  return o;
}

Optimized check(Builder& b, double tol = 1e-5) {
  std::map<std::string, Shape> shapes;
  Optimized o = optimize_and_compare(b.m, random_inputs(b.m, shapes));
  EXPECT_LE(o.difference, tol);
  for (const ValueInfo& out : b.m.graph.outputs) {  // the outputs keep their names, in order
    bool kept = false;
    for (const ValueInfo& v : o.model.graph.outputs) kept = kept || v.name == out.name;
    EXPECT_TRUE(kept) << out.name;
  }
  return o;
}

Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({int64_t(v.size())}, v); }
Tensor scalar(float v) { return Tensor::scalar<float>(v); }

TEST(Passes, ShapeSubgraphFoldsSoReshapeGetsAConstantShape) {
  Builder b;
  b.input("x", {2, 3, 4})
      .init("zero", ints({0}))
      .init("minus_one", ints({-1}))
      .node("Shape", {"x"}, {"shape"})
      .node("Gather", {"shape", "zero"}, {"batch"}, {{"axis", int_attr(0)}})
      .node("Concat", {"batch", "minus_one"}, {"target"}, {{"axis", int_attr(0)}})
      .node("Reshape", {"x", "target"}, {"flat"})
      .node("Relu", {"flat"}, {"y"})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(o.model.graph.nodes.size(), 2u);
  EXPECT_EQ(rewrites(o.stats, "fold_constants"), 3);
  const Node* reshape = find_op(o.model, "Reshape");
  ASSERT_NE(reshape, nullptr);
  ASSERT_TRUE(o.model.graph.initializers.count(reshape->inputs[1]));
  EXPECT_EQ(o.model.graph.initializers.at(reshape->inputs[1]).to_int_vector(), (std::vector<int64_t>{2, -1}));
}

TEST(Passes, BigWeightTransposeFoldsButBigExpandDoesNot) {
  Builder b;
  b.input("x", {2, 300})
      .init("w", random_tensor({300, 300}, 2))  // 90,000 elements: over static analysis's fold limit
      .init("one", scalar(1.0f))
      .init("big", ints({400, 400}))
      .node("Transpose", {"w"}, {"wt"})
      .node("MatMul", {"x", "wt"}, {"y"})
      .node("Expand", {"one", "big"}, {"ones"})
      .node("ReduceSum", {"ones"}, {"total"}, {{"keepdims", int_attr(0)}})
      .output("y")
      .output("total");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "Transpose"), 0);
  EXPECT_EQ(count_ops(o.model, "Expand"), 1);  // would make a 160,000-element constant out of one
}

TEST(Passes, IdentitiesGoAndGraphOutputsKeepTheirNames) {
  Builder b(11);
  b.input("x", {2, 3, 4})
      .init("same", ints({2, 3, 4}))
      .init("no_pads", ints({0, 0, 0, 0, 0, 0}))
      .node("Identity", {"x"}, {"a"})
      .node("Dropout", {"a"}, {"b"}, {{"ratio", float_attr(0.5f)}})
      .node("Cast", {"b"}, {"c"}, {{"to", int_attr(1)}})
      .node("Reshape", {"c", "same"}, {"d"})
      .node("Transpose", {"d"}, {"e"}, {{"perm", ints_attr({0, 1, 2})}})
      .node("Pad", {"e", "no_pads"}, {"f"})
      .node("Relu", {"f"}, {"g"})
      .node("Identity", {"g"}, {"y"})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(rewrites(o.stats, "remove_identities"), 7);
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  EXPECT_EQ(o.model.graph.nodes[0].op_type, "Relu");
  EXPECT_EQ(o.model.graph.nodes[0].inputs[0], "x");
  EXPECT_EQ(o.model.graph.nodes[0].outputs[0], "y");
}

TEST(Passes, IdentityBetweenGraphInputAndOutputStays) {
  Builder b;
  b.input("x", {3}).node("Identity", {"x"}, {"y"}).node("Dropout", {"x"}, {"z", "mask"}).output("y").output("z");
  b.m.graph.outputs.push_back(ValueInfo{"mask", DType::Bool, {}, false});  // the mask is read: Dropout stays
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "Identity"), 1);
  EXPECT_EQ(count_ops(o.model, "Dropout"), 1);
}

TEST(Passes, DeadNodesAndUnreadInitializersGo) {
  Builder b;
  b.input("x", {4})
      .init("unused_weight", random_tensor({8}, 1))
      .init("w", random_tensor({4}, 2))
      .node("Mul", {"x", "w"}, {"dead1"})
      .node("Exp", {"dead1"}, {"dead2"})
      .node("Relu", {"x"}, {"y"})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(rewrites(o.stats, "remove_dead_nodes"), 2);
  EXPECT_TRUE(o.model.graph.initializers.empty());
}

TEST(Passes, ConvBatchNormFoldsIntoConvWeights) {
  Builder b;
  b.input("x", {1, 4, 5, 5})
      .init("w", random_tensor({6, 2, 3, 3}, 1))
      .init("bias", random_tensor({6}, 2))
      .init("scale", random_tensor({6}, 3))
      .init("shift", random_tensor({6}, 4))
      .init("mean", random_tensor({6}, 5))
      .init("var", run("Abs", {random_tensor({6}, 6)}))
      .node("Conv", {"x", "w", "bias"}, {"c"}, {{"group", int_attr(2)}})
      .node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"}, {{"epsilon", float_attr(1e-3f)}})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(rewrites(o.stats, "fold_conv_batchnorm"), 1);
  EXPECT_EQ(count_ops(o.model, "BatchNormalization"), 0);
  EXPECT_EQ(count_ops(o.model, "Conv"), 1);
}

TEST(Passes, ConvTransposeBatchNormFoldsPerOutputChannel) {
  Builder b;
  b.input("x", {1, 4, 3, 3})
      .init("w", random_tensor({4, 3, 2, 2}, 1))  // [C_in, C_out / group, kh, kw], group 2: 6 output channels
      .init("scale", random_tensor({6}, 3))
      .init("shift", random_tensor({6}, 4))
      .init("mean", random_tensor({6}, 5))
      .init("var", run("Abs", {random_tensor({6}, 6)}))
      .node("ConvTranspose", {"x", "w"}, {"c"}, {{"group", int_attr(2)}, {"strides", ints_attr({2, 2})}})
      .node("BatchNormalization", {"c", "scale", "shift", "mean", "var"}, {"y"})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "BatchNormalization"), 0);
}

TEST(Passes, ConvBatchNormStaysWhenTheConvOutputIsReadTwice) {
  Builder b;
  b.input("x", {1, 2, 4, 4})
      .init("w", random_tensor({2, 2, 1, 1}, 1))
      .init("p", random_tensor({2}, 2))
      .init("var", run("Abs", {random_tensor({2}, 3)}))
      .node("Conv", {"x", "w"}, {"c"})
      .node("BatchNormalization", {"c", "p", "p", "p", "var"}, {"y"})
      .node("Relu", {"c"}, {"z"})
      .output("y")
      .output("z");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "BatchNormalization"), 1);
}

TEST(Passes, MatMulAddBecomesGemmOrFusedMatMul) {
  Builder b;
  b.input("a2", {3, 5})
      .input("a3", {2, 3, 5})
      .input("b_dyn", {5, 4})
      .init("b", random_tensor({5, 4}, 1))
      .init("bias", random_tensor({4}, 2))
      .node("MatMul", {"a2", "b_dyn"}, {"p2"})
      .node("Add", {"bias", "p2"}, {"y2"})
      .node("MatMul", {"a3", "b"}, {"p3"})
      .node("Add", {"p3", "bias"}, {"y3"})
      .node("MatMul", {"a3", "b_dyn"}, {"q3"})  // B not constant: no FusedMatMul
      .node("Add", {"q3", "bias"}, {"z3"})
      .output("y2")
      .output("y3")
      .output("z3");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "Gemm"), 1);
  EXPECT_EQ(count_ops(o.model, "infera.FusedMatMul"), 1);
  EXPECT_EQ(count_ops(o.model, "MatMul"), 1);
  EXPECT_EQ(o.model.opsets.count("infera"), 1u);
}

TEST(Passes, ActivationsFuseIntoConvGemmAndMatMul) {
  Builder b(13);
  b.input("x", {1, 3, 6, 6})
      .input("a", {4, 8})
      .init("w", random_tensor({4, 3, 3, 3}, 1))
      .init("g", random_tensor({8, 5}, 2))
      .init("m", random_tensor({8, 6}, 3))
      .init("zero", scalar(0.0f))
      .init("six", scalar(0.5f))
      .node("Conv", {"x", "w"}, {"c"})
      .node("Clip", {"c", "zero", "six"}, {"y1"})
      .node("Gemm", {"a", "g"}, {"gm"})
      .node("LeakyRelu", {"gm"}, {"y2"}, {{"alpha", float_attr(0.2f)}})
      .node("MatMul", {"a", "m"}, {"mm"})
      .node("Sigmoid", {"mm"}, {"sig"})
      .node("Mul", {"sig", "mm"}, {"y3"})
      .output("y1")
      .output("y2")
      .output("y3");
  Optimized o = check(b);
  EXPECT_EQ(rewrites(o.stats, "fuse_activation"), 3);
  const Node* conv = find_op(o.model, "FusedConv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->attr_string("activation", ""), "Clip");
  EXPECT_EQ(conv->attr_floats("activation_params"), (std::vector<float>{0.0f, 0.5f}));
  ASSERT_NE(find_op(o.model, "FusedGemm"), nullptr);
  EXPECT_EQ(find_op(o.model, "FusedGemm")->attr_string("activation", ""), "LeakyRelu");
  ASSERT_NE(find_op(o.model, "FusedMatMul"), nullptr);
  EXPECT_EQ(find_op(o.model, "FusedMatMul")->attr_string("activation", ""), "SiLU");
  EXPECT_EQ(o.model.graph.nodes.size(), 3u);
}

TEST(Passes, ResidualBlockBecomesOneFusedConvWithZ) {
  Builder b;
  b.input("x", {1, 4, 5, 5})
      .init("w", random_tensor({4, 4, 3, 3}, 1))
      .init("bias", random_tensor({4}, 2))
      .init("p", random_tensor({4}, 3))
      .init("var", run("Abs", {random_tensor({4}, 4)}))
      .node("Conv", {"x", "w", "bias"}, {"c"}, {{"pads", ints_attr({1, 1, 1, 1})}})
      .node("BatchNormalization", {"c", "p", "p", "p", "var"}, {"bn"})
      .node("Add", {"x", "bn"}, {"sum"})
      .node("Relu", {"sum"}, {"y"})
      .output("y");
  Optimized o = check(b);
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  const Node& conv = o.model.graph.nodes[0];
  EXPECT_EQ(conv.op_type, "FusedConv");
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[3], "x");
  EXPECT_EQ(conv.attr_string("activation", ""), "Relu");
}

// A network that clips each convolution's output, then adds the residual and clips again (mobilenetv2-12 from the
// ONNX zoo): the first Clip applies before Z, the second after.
TEST(Passes, ClippedConvThenResidualKeepsBothClips) {
  Builder b;
  b.input("x", {1, 4, 5, 5})
      .init("w", random_tensor({4, 4, 3, 3}, 1))
      .init("lo", scalar(-0.2f))
      .init("hi", scalar(0.3f))
      .init("six", scalar(0.4f))
      .node("Conv", {"x", "w"}, {"c"}, {{"pads", ints_attr({1, 1, 1, 1})}})
      .node("Clip", {"c", "lo", "hi"}, {"clipped"})
      .node("Add", {"clipped", "x"}, {"sum"})
      .node("Clip", {"sum", "lo", "six"}, {"y"})
      .output("y");
  Optimized o = check(b);  // the same outputs before and after the passes
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  const Node& conv = o.model.graph.nodes[0];
  EXPECT_EQ(conv.op_type, "FusedConv");
  ASSERT_EQ(conv.inputs.size(), 4u);
  EXPECT_EQ(conv.inputs[3], "x");
  EXPECT_EQ(conv.attr_string("conv_activation", ""), "Clip");
  EXPECT_EQ(conv.attr_floats("conv_activation_params"), (std::vector<float>{-0.2f, 0.3f}));
  EXPECT_EQ(conv.attr_floats("activation_params"), (std::vector<float>{-0.2f, 0.4f}));
}

TEST(Passes, ConvAddWithBroadcastOperandIsNotResidual) {
  Builder b;
  b.input("x", {1, 2, 4, 4})
      .init("w", random_tensor({2, 2, 1, 1}, 1))
      .init("per_channel", random_tensor({1, 2, 1, 1}, 2))
      .node("Conv", {"x", "w"}, {"c"})
      .node("Add", {"c", "per_channel"}, {"y"})
      .output("y");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "Add"), 1);
}

// x * 0.5 * (1 + erf(x / sqrt 2)) as PyTorch 1.13 exports nn.GELU(), after a projection.
void add_erf_gelu(Builder& b, const std::string& x, const std::string& y) {
  b.init(x + "_sqrt2", scalar(1.4142135381698608f)).init(x + "_one", scalar(1.0f)).init(x + "_half", scalar(0.5f));
  b.node("Div", {x, x + "_sqrt2"}, {x + "_div"})
      .node("Erf", {x + "_div"}, {x + "_erf"})
      .node("Add", {x + "_erf", x + "_one"}, {x + "_add"})
      .node("Mul", {x, x + "_add"}, {x + "_mul"})
      .node("Mul", {x + "_mul", x + "_half"}, {y});
}

TEST(Passes, ErfGeluFusesIntoTheProjectionOrBecomesGelu) {
  Builder b(14);
  b.input("x", {2, 3, 8}).init("w", random_tensor({8, 16}, 1)).init("bias", random_tensor({16}, 2));
  b.node("MatMul", {"x", "w"}, {"mm"}).node("Add", {"bias", "mm"}, {"h"});
  add_erf_gelu(b, "h", "y1");
  add_erf_gelu(b, "x", "y2");  // on a graph input: a standalone Gelu
  b.output("y1").output("y2");
  Optimized o = check(b);
  EXPECT_EQ(rewrites(o.stats, "fuse_gelu"), 2);
  ASSERT_NE(find_op(o.model, "FusedMatMul"), nullptr);
  EXPECT_EQ(find_op(o.model, "FusedMatMul")->attr_string("activation", ""), "Gelu");
  EXPECT_EQ(count_ops(o.model, "Gelu"), 1);
  EXPECT_EQ(o.model.graph.nodes.size(), 2u);
}

TEST(Passes, TanhGeluBecomesGeluTanh) {
  Builder b(14);
  b.input("x", {3, 4})
      .init("three", scalar(3.0f))
      .init("kappa", scalar(0.044715f))
      .init("beta", scalar(0.7978845834732056f))
      .init("one", scalar(1.0f))
      .init("half", scalar(0.5f))
      .node("Pow", {"x", "three"}, {"cube"})
      .node("Mul", {"kappa", "cube"}, {"kc"})
      .node("Add", {"x", "kc"}, {"inner"})
      .node("Mul", {"beta", "inner"}, {"scaled"})
      .node("Tanh", {"scaled"}, {"t"})
      .node("Add", {"one", "t"}, {"a"})
      .node("Mul", {"x", "half"}, {"hx"})
      .node("Mul", {"hx", "a"}, {"y"})
      .output("y");
  Optimized o = check(b);
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  EXPECT_EQ(o.model.graph.nodes[0].op_type, "Gelu");
  EXPECT_EQ(o.model.graph.nodes[0].attr_string("approximate", ""), "tanh");
}

TEST(Passes, TanhGeluWithCubeAsProductsFusesIntoGemm) {  // how PyTorch 1.13 exports gelu(approximate="tanh")
  Builder b(14);
  b.input("a", {3, 4})
      .init("w", random_tensor({4, 5}, 1))
      .init("kappa", scalar(0.044715f))
      .init("beta", scalar(0.7978845834732056f))
      .init("one", scalar(1.0f))
      .init("half", scalar(0.5f))
      .node("Gemm", {"a", "w"}, {"x"})
      .node("Mul", {"x", "x"}, {"sq"})
      .node("Mul", {"x", "sq"}, {"cube"})
      .node("Mul", {"kappa", "cube"}, {"kc"})
      .node("Add", {"x", "kc"}, {"inner"})
      .node("Mul", {"beta", "inner"}, {"scaled"})
      .node("Tanh", {"scaled"}, {"t"})
      .node("Add", {"one", "t"}, {"a1"})
      .node("Mul", {"x", "a1"}, {"xa"})
      .node("Mul", {"half", "xa"}, {"y"})
      .output("y");
  Optimized o = check(b);
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  EXPECT_EQ(o.model.graph.nodes[0].op_type, "FusedGemm");
  EXPECT_EQ(o.model.graph.nodes[0].attr_string("activation", ""), "GeluTanh");
}

// PyTorch's LayerNorm before opset 17, over the last axis of `x`.
void add_layer_norm(Builder& b, const std::string& x, const std::string& y, int64_t size) {
  b.init(x + "_two", scalar(2.0f)).init(x + "_eps", scalar(1e-5f));
  b.init(x + "_gamma", random_tensor({size}, 7)).init(x + "_beta", random_tensor({size}, 8));
  b.node("ReduceMean", {x}, {x + "_mean"}, {{"axes", ints_attr({-1})}})
      .node("Sub", {x, x + "_mean"}, {x + "_d"})
      .node("Pow", {x + "_d", x + "_two"}, {x + "_sq"})
      .node("ReduceMean", {x + "_sq"}, {x + "_var"}, {{"axes", ints_attr({-1})}})
      .node("Add", {x + "_var", x + "_eps"}, {x + "_ve"})
      .node("Sqrt", {x + "_ve"}, {x + "_std"})
      .node("Div", {x + "_d", x + "_std"}, {x + "_n"})
      .node("Mul", {x + "_n", x + "_gamma"}, {x + "_g"})
      .node("Add", {x + "_g", x + "_beta"}, {y});
}

TEST(Passes, DecomposedLayerNormBecomesLayerNormalization) {
  Builder b(14);
  b.input("x", {2, 3, 8});
  add_layer_norm(b, "x", "y", 8);
  b.output("y");
  Optimized o = check(b);
  ASSERT_EQ(o.model.graph.nodes.size(), 1u);
  EXPECT_EQ(o.model.graph.nodes[0].op_type, "LayerNormalization");
  EXPECT_FLOAT_EQ(o.model.graph.nodes[0].attr_float("epsilon", 0), 1e-5f);
}

TEST(Passes, ResidualAddBeforeLayerNormBecomesSkipLayerNormalization) {
  Builder b(14);
  b.input("x", {2, 3, 8}).input("r", {2, 3, 8}).node("Add", {"x", "r"}, {"s"});
  add_layer_norm(b, "s", "y", 8);
  b.node("Relu", {"s"}, {"z"});  // the sum is read again: output 1 of SkipLayerNormalization
  b.output("y").output("z");
  Optimized o = check(b);
  const Node* skip = find_op(o.model, "SkipLayerNormalization");
  ASSERT_NE(skip, nullptr);
  ASSERT_EQ(skip->outputs.size(), 2u);
  EXPECT_EQ(skip->outputs[1], "s");
  EXPECT_EQ(count_ops(o.model, "Add"), 0);
}

// One BERT self-attention block as PyTorch exports it: batch 2, sequence 5, 2 heads of 4.
Builder bert_attention(bool with_mask) {
  Builder b(14);
  b.input("x", {2, 5, 8}).input("mask", {2, 1, 1, 5}).init("split", ints({2, 5, 2, 4})).init("merge", ints({2, 5, 8}));
  b.init("sqrt_d", scalar(2.0f));
  for (const char* p : {"q", "k", "v"}) {
    const std::string s = p;
    b.init(s + "_w", random_tensor({8, 8}, unsigned(s[0]))).init(s + "_b", random_tensor({8}, unsigned(s[0]) + 1));
    b.node("MatMul", {"x", s + "_w"}, {s + "_mm"}).node("Add", {s + "_b", s + "_mm"}, {s})
        .node("Reshape", {s, "split"}, {s + "_heads"});
  }
  b.node("Transpose", {"q_heads"}, {"qh"}, {{"perm", ints_attr({0, 2, 1, 3})}})
      .node("Transpose", {"k_heads"}, {"kt"}, {{"perm", ints_attr({0, 2, 3, 1})}})
      .node("Transpose", {"v_heads"}, {"vh"}, {{"perm", ints_attr({0, 2, 1, 3})}})
      .node("MatMul", {"qh", "kt"}, {"scores"})
      .node("Div", {"scores", "sqrt_d"}, {"scaled"});
  if (with_mask) b.node("Add", {"scaled", "mask"}, {"masked"});
  b.node("Softmax", {with_mask ? "masked" : "scaled"}, {"probs"}, {{"axis", int_attr(-1)}})
      .node("MatMul", {"probs", "vh"}, {"ctx"})
      .node("Transpose", {"ctx"}, {"ctx_t"}, {{"perm", ints_attr({0, 2, 1, 3})}})
      .node("Reshape", {"ctx_t", "merge"}, {"y"})
      .output("y");
  return b;
}

TEST(Passes, BertSelfAttentionBecomesAttention) {
  for (bool with_mask : {true, false}) {
    SCOPED_TRACE(with_mask ? "masked" : "unmasked");
    Builder b = bert_attention(with_mask);
    Optimized o = check(b);
    const Node* attention = find_op(o.model, "Attention");
    ASSERT_NE(attention, nullptr);
    EXPECT_EQ(attention->attr_int("num_heads", 0), 2);
    EXPECT_FLOAT_EQ(attention->attr_float("scale", 0), 0.5f);
    EXPECT_EQ(attention->inputs.size(), with_mask ? 4u : 3u);
    EXPECT_EQ(count_ops(o.model, "infera.FusedMatMul"), 3);
    EXPECT_EQ(o.model.graph.nodes.size(), 4u);
  }
}

TEST(Passes, TransposesMergeAndCancelAroundElementwiseOps) {
  Builder b;
  b.input("x", {2, 3, 4})
      .init("two", scalar(2.0f))
      .node("Transpose", {"x"}, {"t1"}, {{"perm", ints_attr({1, 0, 2})}})
      .node("Transpose", {"t1"}, {"t2"}, {{"perm", ints_attr({0, 2, 1})}})  // merged: one Transpose
      .node("Transpose", {"x"}, {"u1"}, {{"perm", ints_attr({2, 0, 1})}})
      .node("Mul", {"u1", "two"}, {"u2"})
      .node("Transpose", {"u2"}, {"u3"}, {{"perm", ints_attr({1, 2, 0})}})  // undoes u1: both go
      .output("t2")
      .output("u3");
  Optimized o = check(b);
  EXPECT_EQ(count_ops(o.model, "Transpose"), 1);
  EXPECT_EQ(rewrites(o.stats, "fuse_transposes"), 2);
}

TEST(Passes, NoFusionOptionKeepsToExactCleanUps) {
  Builder b = bert_attention(true);
  Model m = b.m;
  std::vector<PassCount> stats = optimize_graph(m, {}, OptimizeOptions{.fuse = false});
  EXPECT_EQ(count_ops(m, "infera.Attention"), 0);
  EXPECT_EQ(m.opsets.count("infera"), 0u);
  for (const PassCount& s : stats) EXPECT_TRUE(s.pass.rfind("fuse_", 0) != 0 || s.pass == "fuse_transposes") << s.pass;
}

// Real models: INFERA_PASSES_MODELS="path[|input=1x128|...];path2..." runs each before and after the passes on
// random inputs (integer inputs 0/1) and prints the rewrites and the largest relative output difference.
TEST(PassesRealModels, OutputsMatchBeforeAndAfter) {
  const char* spec = std::getenv("INFERA_PASSES_MODELS");
  if (!spec) GTEST_SKIP() << "set INFERA_PASSES_MODELS to check real models";
  std::stringstream models(spec);
  std::string entry;
  while (std::getline(models, entry, ';')) {
    std::stringstream parts(entry);
    std::string path, shape_spec;
    std::getline(parts, path, '|');
    std::map<std::string, Shape> shapes;
    while (std::getline(parts, shape_spec, '|')) {
      const size_t eq = shape_spec.find('=');
      Shape s;
      std::stringstream dims(shape_spec.substr(eq + 1));
      for (std::string d; std::getline(dims, d, 'x');) s.push_back(std::stoll(d));
      shapes[shape_spec.substr(0, eq)] = s;
    }
    Model m = import_model_file(path);
    const size_t nodes_before = m.graph.nodes.size();
    Optimized o = optimize_and_compare(m, random_inputs(m, shapes));
    std::string summary;
    for (const PassCount& s : o.stats)
      if (s.rewrites) summary += " " + s.pass + "=" + std::to_string(s.rewrites);
    std::map<std::string, int> ops;
    for (const Node& n : o.model.graph.nodes) ++ops[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
    std::string hist;
    for (const auto& [op, c] : ops) hist += " " + op + ":" + std::to_string(c);
    std::printf("%s: %zu -> %zu nodes, max relative difference %.3g\n  rewrites:%s\n  ops:%s\n", path.c_str(),
                nodes_before, o.model.graph.nodes.size(), o.difference, summary.c_str(), hist.c_str());
    EXPECT_LE(o.difference, 1e-4) << path;
  }
}

}  // namespace
}  // namespace infera
