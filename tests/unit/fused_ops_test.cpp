// The fused ops' reference kernels against the unfused composition of ai.onnx ops.
#include <cmath>

#include "op_harness.h"

namespace infera {
namespace {

using namespace harness;

const char* kInfera = "infera";

Tensor apply(const std::string& op, const Tensor& x, Attrs attrs = {}) { return run(op, {x}, std::move(attrs)); }

void expect_same(const Tensor& got, const Tensor& want, float tol = 1e-5f) {
  ASSERT_EQ(got.shape(), want.shape());
  expect_near(got, values_of<float>(want), tol);
}

TEST(FusedOps, ConvWithBiasResidualAndRelu) {
  const Tensor x = random_tensor({1, 4, 6, 5}, 1), w = random_tensor({6, 2, 3, 3}, 2), b = random_tensor({6}, 3);
  const Attrs conv_attrs = {{"group", int_attr(2)}, {"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 1})}};
  const Tensor conv = run("Conv", {x, w, b}, conv_attrs);
  const Tensor z = random_tensor(conv.shape(), 4);
  Attrs fused_attrs = conv_attrs;
  fused_attrs["activation"] = string_attr("Relu");
  const Tensor fused = run("FusedConv", {x, w, b, z}, fused_attrs, 1, kInfera);
  expect_same(fused, apply("Relu", run("Add", {conv, z})));
}

TEST(FusedOps, ConvRejectsZOfAnotherShape) {
  const Tensor x = random_tensor({1, 2, 4, 4}, 1), w = random_tensor({3, 2, 3, 3}, 2);
  EXPECT_THROW(run("FusedConv", {x, w, Tensor(), random_tensor({1, 3, 4, 4}, 3)}, {}, 1, kInfera), Error);
}

TEST(FusedOps, EveryActivationMatchesItsOnnxOp) {
  const Tensor a = random_tensor({3, 5}, 5), b = random_tensor({5, 4}, 6), c = random_tensor({4}, 7);
  const Tensor gemm = run("Gemm", {a, b, c}, {{"alpha", float_attr(1.5f)}, {"beta", float_attr(0.5f)}});
  struct Case {
    std::string name;
    std::vector<float> params;
    Tensor want;
  };
  const Tensor sig = apply("Sigmoid", gemm);
  const std::vector<Case> cases = {
      {"Relu", {}, apply("Relu", gemm)},
      {"Clip", {-0.5f, 0.5f}, run("Clip", {gemm, Tensor::scalar<float>(-0.5f), Tensor::scalar<float>(0.5f)})},
      {"Sigmoid", {}, sig},
      {"HardSigmoid", {0.3f, 0.4f}, apply("HardSigmoid", gemm, {{"alpha", float_attr(0.3f)}, {"beta", float_attr(0.4f)}})},
      {"HardSwish", {}, apply("HardSwish", gemm)},
      {"LeakyRelu", {0.2f}, apply("LeakyRelu", gemm, {{"alpha", float_attr(0.2f)}})},
      {"Tanh", {}, apply("Tanh", gemm)},
      {"SiLU", {}, run("Mul", {gemm, sig})},
      {"Gelu", {}, apply("Gelu", gemm)},
      {"GeluTanh", {}, apply("Gelu", gemm, {{"approximate", string_attr("tanh")}})},
  };
  for (const Case& k : cases) {
    Attrs attrs = {{"alpha", float_attr(1.5f)}, {"beta", float_attr(0.5f)}, {"activation", string_attr(k.name)}};
    if (!k.params.empty()) attrs["activation_params"] = floats_attr(k.params);
    SCOPED_TRACE(k.name);
    expect_same(run("FusedGemm", {a, b, c}, attrs, 1, kInfera), k.want);
  }
}

TEST(FusedOps, UnknownActivationFails) {
  const Tensor a = random_tensor({2, 2}, 1);
  EXPECT_THROW(run("FusedGemm", {a, a}, {{"activation", string_attr("Swish")}}, 1, kInfera), Error);
  EXPECT_THROW(run("FusedGemm", {a, a}, {{"activation", string_attr("Clip")}}, 1, kInfera), Error);  // no bounds
}

TEST(FusedOps, MatMulBroadcastsBatchAndAddsBias) {
  const Tensor a = random_tensor({2, 3, 5}, 1), b = random_tensor({5, 4}, 2), bias = random_tensor({4}, 3);
  const Tensor want = apply("Tanh", run("Add", {run("MatMul", {a, b}), bias}));
  expect_same(run("FusedMatMul", {a, b, bias}, {{"activation", string_attr("Tanh")}}, 1, kInfera), want);
  EXPECT_THROW(run("FusedMatMul", {a, b, random_tensor({5}, 4)}, {}, 1, kInfera), Error);
}

TEST(FusedOps, SkipLayerNormalizationReturnsNormAndSum) {
  const Tensor x = random_tensor({2, 3, 8}, 1), skip = random_tensor({2, 3, 8}, 2), bias = random_tensor({8}, 3);
  const Tensor gamma = random_tensor({8}, 4), beta = random_tensor({8}, 5);
  const Tensor sum = run("Add", {run("Add", {x, skip}), bias});
  const Tensor want = run("LayerNormalization", {sum, gamma, beta}, {{"epsilon", float_attr(1e-3f)}});
  const std::vector<Tensor> got = run_all("SkipLayerNormalization", {x, skip, gamma, beta, bias},
                                          {{"epsilon", float_attr(1e-3f)}}, 1, {"y", "s"}, kInfera);
  expect_same(got[0], want);
  expect_same(got[1], sum);
}

// softmax(scale * Q_h K_h^T + mask) V_h per head, written with the ai.onnx ops the way PyTorch exports it.
Tensor unfused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, int64_t heads,
                         float scale) {
  auto split = [&](const Tensor& t, std::vector<int64_t> perm) {
    const Shape s = t.shape();
    Tensor r = run("Reshape", {t, Tensor::from_vector<int64_t>({4}, {s[0], s[1], heads, s[2] / heads})});
    return run("Transpose", {r}, {{"perm", ints_attr(perm)}});
  };
  Tensor scores = run("MatMul", {split(q, {0, 2, 1, 3}), split(k, {0, 2, 3, 1})});
  scores = run("Mul", {scores, Tensor::scalar<float>(scale)});
  if (mask.defined()) scores = run("Add", {scores, mask});
  Tensor y = run("MatMul", {run("Softmax", {scores}, {{"axis", int_attr(-1)}}), split(v, {0, 2, 1, 3})});
  y = run("Transpose", {y}, {{"perm", ints_attr({0, 2, 1, 3})}});
  return run("Reshape", {y, Tensor::from_vector<int64_t>({3}, {q.dim(0), q.dim(1), -1})});
}

TEST(FusedOps, AttentionWithMaskAndDefaultScale) {
  const Tensor q = random_tensor({2, 3, 8}, 1), k = random_tensor({2, 5, 8}, 2), v = random_tensor({2, 5, 8}, 3);
  Tensor mask = random_tensor({2, 1, 1, 5}, 4);
  const Tensor got = run("Attention", {q, k, v, mask}, {{"num_heads", int_attr(2)}}, 1, kInfera);
  expect_same(got, unfused_attention(q, k, v, mask, 2, 0.5f));  // 1 / sqrt(head size 4)
  const Tensor unmasked = run("Attention", {q, k, v}, {{"num_heads", int_attr(4)}, {"scale", float_attr(0.3f)}}, 1, kInfera);
  expect_same(unmasked, unfused_attention(q, k, v, Tensor(), 4, 0.3f));
}

TEST(FusedOps, AttentionRejectsBadHeadsAndMask) {
  const Tensor q = random_tensor({1, 3, 6}, 1);
  EXPECT_THROW(run("Attention", {q, q, q}, {{"num_heads", int_attr(4)}}, 1, kInfera), Error);
  EXPECT_THROW(run("Attention", {q, q, q, random_tensor({1, 1, 2, 3}, 2)}, {{"num_heads", int_attr(2)}}, 1, kInfera),
               Error);
}

TEST(FusedOps, CostsAddTheEpilogue) {
  const Tensor a = random_tensor({4, 8}, 1), b = random_tensor({8, 16}, 2);
  Node plain, fused;
  for (Node* n : {&plain, &fused}) {
    n->name = "n";
    n->inputs = {"a", "b"};
    n->outputs = {"y"};
  }
  plain.op_type = "MatMul";
  fused.op_type = "FusedMatMul";
  fused.domain = kInfera;
  fused.attrs["activation"] = string_attr("Relu");
  auto cost = [&](Node& n) {
    n.def = op_table().find(n.domain, n.op_type);
    OpContext ctx(n, {{DType::Float32, a.shape(), true}, {DType::Float32, b.shape(), true}}, {nullptr, nullptr});
    EXPECT_TRUE(n.def->infer(ctx));
    return n.def->cost(ctx).flops;
  };
  EXPECT_DOUBLE_EQ(cost(fused), cost(plain) + 4 * 16);
}

}  // namespace
}  // namespace infera
