// The CPU backend's kernels against the reference kernels (the op table's compute), for every ISA variant this
// machine runs: odd sizes, broadcasting, negative axes, edge values, threading and in-place outputs.
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_kernel.h"
#include "backend_harness.h"
#include "ops/helpers.h"

namespace infera {
namespace {

using namespace harness;

std::unique_ptr<Kernel> compile_cpu(const Case& c, const Node& node, std::vector<TensorType> types) {
  return cpu_backend().compile(c.request(node, std::move(types)));
}

// Runs the case on the CPU backend (which must accept it); `inplace` hands output 0 input 0's storage.
std::vector<Tensor> run_cpu(const Case& c, std::vector<TensorType> types = {}, bool inplace = false) {
  const Node node = c.node();
  if (types.empty()) types = c.output_types();
  std::unique_ptr<Kernel> kernel = compile_cpu(c, node, types);
  if (!kernel) {
    ADD_FAILURE() << c.op << ": the CPU backend declined";
    return {};
  }
  std::vector<const Tensor*> ins;
  std::vector<Tensor> inputs = c.inputs;
  if (inplace) inputs[0] = inputs[0].clone();
  for (const Tensor& t : inputs) ins.push_back(t.defined() ? &t : nullptr);
  std::vector<Tensor> outs(types.size());
  std::vector<Tensor*> out_ptrs;
  for (size_t i = 0; i < types.size(); ++i) {
    if (node.outputs[i].empty()) {
      out_ptrs.push_back(nullptr);
      continue;
    }
    outs[i] = inplace && i == 0 ? inputs[0] : Tensor(types[i].dtype, types[i].shape);
    out_ptrs.push_back(&outs[i]);
  }
  kernel->run(ins, out_ptrs);
  return outs;
}

bool declines(const Case& c) { return compile_cpu(c, c.node(), c.output_types()) == nullptr; }

void expect_close(const Tensor& got, const Tensor& want, float tol = 2e-5f) {
  ASSERT_EQ(got.shape(), want.shape());
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (std::isnan(w[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << "element " << i << " got " << g[i];
    } else if (std::isinf(w[i])) {
      EXPECT_EQ(g[i], w[i]) << "element " << i;
    } else {
      EXPECT_NEAR(g[i], w[i], tol * std::max(1.0f, std::fabs(w[i]))) << "element " << i;
    }
  }
}

// Runs the case under every ISA variant this CPU supports and compares every output with the reference.
void check(const Case& c, float tol = 2e-5f) {
  const std::vector<Tensor> want =
      run_node(c.op, c.inputs, c.attrs, c.opset, c.outputs, c.domain).outputs;
  for (cpu::Isa isa : {cpu::Isa::Portable, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    cpu::force_isa(isa);
    if (cpu::active_isa() != isa) continue;
    SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " " + c.op);
    const std::vector<Tensor> got = run_cpu(c);
    for (size_t i = 0; i < got.size(); ++i)
      if (!c.outputs[i].empty()) expect_close(got[i], want[i], tol);
  }
  cpu::reset_isa();
}

Tensor ints(Shape shape, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(shape), v); }

TEST(CpuKernels, BinaryBroadcastingMatchesReference) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1, 7, 17}, {1, 7, 17}}, {{3, 5, 1023}, {1023}}, {{2, 3, 5, 7}, {3, 1, 1}}, {{4, 1, 6}, {1, 5, 1}},
      {{17}, {}},               {{}, {17}},             {{1}, {2, 3}},             {{2, 1, 40000}, {2, 3, 1}},
      {{1, 1}, {1}}};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"})
    for (const auto& [a, b] : shapes) check({op, {values(a, 1, 3.0f, true), values(b, 2, 3.0f, true)}});
}

TEST(CpuKernels, BinaryInPlaceAndLargeSameShape) {
  const Tensor a = values({3, 70001}, 3), b = values({3, 70001}, 4);
  const Tensor want = run("Mul", {a, b});
  Case c{"Mul", {a, b}};
  expect_close(run_cpu(c, {}, true)[0], want);
  EXPECT_EQ(compile_cpu(c, c.node(), c.output_types())->inplace_input(0), 0);
}

TEST(CpuKernels, PowSquareOnlyForConstantTwo) {
  check({"Pow", {values({5, 33}, 5, 4.0f, true), Tensor::scalar<float>(2.0f)}, {}, 15, {"y"}, {1}});
  EXPECT_TRUE(declines({"Pow", {values({5}, 5), Tensor::scalar<float>(3.0f)}, {}, 15, {"y"}, {1}}));
  EXPECT_TRUE(declines({"Pow", {values({5}, 5), Tensor::scalar<float>(2.0f)}}));  // exponent not constant
}

TEST(CpuKernels, UnaryMatchReference) {
  for (int64_t n : {1, 7, 1023, 40000}) {
    const Tensor x = values({n}, unsigned(n), 6.0f, true);
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Erf", "Sqrt", "Reciprocal", "Neg", "Abs", "HardSwish"})
      check({op, {x}}, 1e-5f);
    check({"LeakyRelu", {x}, {{"alpha", float_attr(0.1f)}}});
    check({"HardSigmoid", {x}, {{"alpha", float_attr(0.3f)}, {"beta", float_attr(0.4f)}}});
    check({"Clip", {x, Tensor::scalar<float>(-1.0f), Tensor::scalar<float>(2.0f)}, {}, 13, {"y"}, {1, 2}});
    check({"Clip", {x}, {}, 13});
    check({"Clip", {x}, {{"min", float_attr(0.5f)}}, 6});
  }
}

TEST(CpuKernels, GeluMatchesReferenceAbsolutely) {
  // Both compute 1 + erf(x / sqrt 2) in float, which cancels for negative x: compare in absolute terms.
  const Tensor x = values({3, 3071}, 9, 8.0f);
  for (const char* mode : {"none", "tanh"}) {
    const Tensor want = run("Gelu", {x}, {{"approximate", string_attr(mode)}}, 20);
    const Tensor got = run_cpu({"Gelu", {x}, {{"approximate", string_attr(mode)}}, 20})[0];
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 2e-6f);
  }
}

TEST(CpuKernels, UnaryRunsInPlace) {
  const Tensor x = values({50000}, 10, 3.0f);
  expect_close(run_cpu({"Tanh", {x}}, {}, true)[0], run("Tanh", {x}));
}

TEST(CpuKernels, SoftmaxMatchesReference) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    check({op, {values({2, 3, 17, 128}, 11, 10.0f)}});
    check({op, {values({3, 1023}, 12, 30.0f)}, {{"axis", int_attr(-1)}}});
    check({op, {values({5, 1}, 13)}});
    check({op, {values({2, 3, 4}, 14)}, {{"axis", int_attr(1)}}, 11});  // opset < 13: flattened at axis
    check({op, {values({200, 301}, 15, 5.0f)}});                          // threaded
    EXPECT_TRUE(declines({op, {values({2, 3, 4}, 14)}, {{"axis", int_attr(1)}}, 13}));
  }
  Tensor with_nan = values({2, 9}, 16);
  with_nan.data<float>()[4] = kNaN;
  check({"Softmax", {with_nan}});
}

// Inference BatchNormalization with constant parameters: 2-D (after a Gemm: rows of channels) and 4-D, on every ISA.
// mul and add are formed in double as the reference forms them, so the results are the reference's to the bit.
TEST(CpuKernels, BatchNormMatchesReference) {
  for (const Shape& x : std::vector<Shape>{{217, 128}, {3, 5}, {2, 7, 9, 11}, {1, 3, 40000}}) {
    const int64_t c = x[1];
    Tensor var = values({c}, 14, 2.0f, true);
    for (int64_t i = 0; i < c; ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]);
    check({"BatchNormalization", {values(x, 10, 4.0f, true), values({c}, 11), values({c}, 12), values({c}, 13), var},
           {{"epsilon", float_attr(1e-3f)}}, 15, {"y"}, {1, 2, 3, 4}},
          0.0f);
  }
  const Shape x{2, 3};  // parameters that are graph inputs: the reference runs it
  EXPECT_TRUE(declines({"BatchNormalization", {values(x, 1), values({3}, 2), values({3}, 3), values({3}, 4),
                                                values({3}, 5)}, {}, 15}));
}

TEST(CpuKernels, LayerNormMatchesReference) {
  const Tensor x = values({2, 7, 768}, 20, 3.0f);
  check({"LayerNormalization", {x, values({768}, 21), values({768}, 22)}}, 1e-4f);
  check({"LayerNormalization", {x, values({768}, 21)}}, 1e-4f);
  check({"LayerNormalization", {x, values({7, 768}, 23), values({7, 768}, 24)}, {{"axis", int_attr(-2)}}}, 1e-4f);
  check({"LayerNormalization", {values({3, 17}, 25), values({17}, 26), values({17}, 27)},
         {{"epsilon", float_attr(1e-3f)}}, 17, {"y", "mean", "inv_std"}},
        1e-4f);
}

// infera.SkipLayerNormalization against Add, Add, LayerNormalization run by the reference kernels.
TEST(CpuKernels, SkipLayerNormMatchesComposition) {
  const Tensor x = values({2, 5, 64}, 30), skip = values({2, 5, 64}, 31);
  const Tensor gamma = values({64}, 32), beta = values({64}, 33), bias = values({64}, 34);
  const Tensor sum = run("Add", {run("Add", {x, skip}), bias});
  const Tensor want = run("LayerNormalization", {sum, gamma, beta}, {{"epsilon", float_attr(1e-5f)}}, 17);
  const std::vector<TensorType> types = {{DType::Float32, x.shape(), true}, {DType::Float32, x.shape(), true}};
  cpu::force_isa(cpu::Isa::Portable);
  const std::vector<Tensor> portable = run_cpu(
      {"SkipLayerNormalization", {x, skip, gamma, beta, bias}, {}, 1, {"y", "s"}, {}, "infera"}, types);
  cpu::reset_isa();
  const std::vector<Tensor> got = run_cpu(
      {"SkipLayerNormalization", {x, skip, gamma, beta, bias}, {}, 1, {"y", "s"}, {}, "infera"}, types);
  for (const auto& out : {portable, got}) {
    expect_close(out[0], want, 1e-4f);
    expect_close(out[1], sum);
  }
  const std::vector<Tensor> no_sum =
      run_cpu({"SkipLayerNormalization", {x, skip, gamma}, {}, 1, {"y", ""}, {}, "infera"}, types);
  expect_close(no_sum[0], run("LayerNormalization", {run("Add", {x, skip}), gamma}, {}, 17), 1e-4f);
}

TEST(CpuKernels, ReductionsOverTrailingAxes) {
  const Tensor x = values({3, 5, 7, 9}, 40, 2.0f, true);
  const Tensor y = values({4, 6, 1023}, 41);
  for (int64_t keep : {0, 1}) {
    check({"ReduceMean", {y}, {{"axes", ints_attr({-1})}, {"keepdims", int_attr(keep)}}, 13});
    check({"ReduceSum", {y, ints({1}, {2})}, {{"keepdims", int_attr(keep)}}, 13, {"y"}, {1}}, 1e-4f);
    check({"ReduceMax", {x, ints({2}, {3, 2})}, {{"keepdims", int_attr(keep)}}, 18, {"y"}, {1}});
    check({"ReduceMean", {y}, {{"keepdims", int_attr(keep)}}, 13});  // all axes
  }
  EXPECT_TRUE(declines({"ReduceMean", {y}, {{"axes", ints_attr({1})}}, 13}));
  EXPECT_TRUE(declines({"ReduceSum", {y, ints({1}, {2})}, {}, 13}));  // axes not constant
  check({"GlobalAveragePool", {values({2, 3, 7, 9}, 42)}});
}

TEST(CpuKernels, TransposeMatchesReference) {
  const Tensor x = values({2, 3, 4, 5}, 50);
  for (std::vector<int64_t> perm : {std::vector<int64_t>{0, 2, 1, 3}, {0, 1, 3, 2}, {3, 2, 1, 0}, {1, 0, 3, 2}, {2, 3, 0, 1}})
    check({"Transpose", {x}, {{"perm", ints_attr(perm)}}});
  check({"Transpose", {x}});
  check({"Transpose", {values({37, 41}, 51)}});
  check({"Transpose", {values({1, 128, 12, 64}, 52)}, {{"perm", ints_attr({0, 2, 1, 3})}}});
  check({"Transpose", {values({1, 12, 64, 129}, 53)}, {{"perm", ints_attr({0, 1, 3, 2})}}});
}

TEST(CpuKernels, ConcatGatherSliceWhereExpand) {
  check({"Concat", {values({2, 3, 4}, 60), values({2, 5, 4}, 61)}, {{"axis", int_attr(1)}}});
  check({"Concat", {values({2, 3, 4}, 60), values({2, 3, 1}, 62), values({2, 3, 7}, 63)}, {{"axis", int_attr(-1)}}});
  const Tensor table = values({11, 6}, 64);
  check({"Gather", {table, ints({2, 3}, {0, -1, 5, 10, -11, 3})}});
  check({"Gather", {table, Tensor::from_vector<int32_t>({2}, {5, -2})}, {{"axis", int_attr(1)}}});
  EXPECT_THROW(run_cpu({"Gather", {table, ints({1}, {11})}}, {{DType::Float32, {1, 6}, true}}), Error);
  const Tensor x = values({5, 7, 9}, 65);
  check({"Slice", {x, ints({2}, {1, 2}), ints({2}, {4, 100})}, {}, 13, {"y"}, {1, 2}});
  check({"Slice", {x, ints({2}, {-1, 0}), ints({2}, {-100, 9}), ints({2}, {0, 2}), ints({2}, {-2, 3})}, {}, 13, {"y"},
         {1, 2, 3, 4}});
  check({"Slice", {x}, {{"starts", ints_attr({1})}, {"ends", ints_attr({3})}, {"axes", ints_attr({-1})}}, 9});
  EXPECT_TRUE(declines({"Slice", {x, ints({1}, {1}), ints({1}, {3})}, {}, 13}));  // not constant
  const Tensor cond = Tensor::from_vector<bool>({3, 1}, {true, false, true});
  check({"Where", {cond, values({3, 4}, 66), values({4}, 67)}});
  check({"Where", {Tensor::from_vector<bool>({2}, {false, true}), values({2}, 68), values({2}, 69)}});
  check({"Expand", {values({3, 1}, 70), ints({3}, {2, 3, 5})}, {}, 13, {"y"}, {1}});
}

// softmax(scale * Q_h K_h^T + mask) V_h per batch and head, written out plainly.
Tensor attention_by_definition(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor* mask, int64_t heads,
                               float scale) {
  const int64_t B = q.dim(0), Sq = q.dim(1), Sk = k.dim(1), hd = q.dim(2), d = hd / heads;
  Tensor y(DType::Float32, q.shape());
  const Shape scores_shape{B, heads, Sq, Sk};
  const std::vector<int64_t> ms = mask ? broadcast_strides(mask->shape(), scores_shape) : std::vector<int64_t>(4, 0);
  std::vector<double> row(static_cast<size_t>(Sk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          double s = 0;
          for (int64_t t = 0; t < d; ++t)
            s += double(q.data<float>()[(b * Sq + i) * hd + h * d + t]) * k.data<float>()[(b * Sk + j) * hd + h * d + t];
          s *= scale;
          if (mask) s += mask->data<float>()[b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]];
          row[size_t(j)] = s;
          max = std::max(max, s);
        }
        for (double& s : row) sum += (s = std::exp(s - max));
        for (int64_t t = 0; t < d; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j) acc += row[size_t(j)] / sum * v.data<float>()[(b * Sk + j) * hd + h * d + t];
          y.data<float>()[(b * Sq + i) * hd + h * d + t] = float(acc);
        }
      }
  return y;
}

TEST(CpuKernels, AttentionMatchesDefinition) {
  const Tensor q = values({2, 7, 24}, 80), k = values({2, 9, 24}, 81), v = values({2, 9, 24}, 82);
  const Tensor mask = values({2, 1, 1, 9}, 83, 5.0f);
  const std::vector<TensorType> types = {{DType::Float32, q.shape(), true}};
  const Attrs attrs = {{"num_heads", int_attr(3)}};
  expect_close(run_cpu({"Attention", {q, k, v}, attrs, 1, {"y"}, {}, "infera"}, types)[0],
               attention_by_definition(q, k, v, nullptr, 3, 1.0f / std::sqrt(8.0f)), 1e-5f);
  const Attrs scaled = {{"num_heads", int_attr(3)}, {"scale", float_attr(0.5f)}};
  expect_close(run_cpu({"Attention", {q, k, v, mask}, scaled, 1, {"y"}, {}, "infera"}, types)[0],
               attention_by_definition(q, k, v, &mask, 3, 0.5f), 1e-5f);
  const Tensor square_mask = values({7, 9}, 84, 5.0f);
  expect_close(run_cpu({"Attention", {q, k, v, square_mask}, scaled, 1, {"y"}, {}, "infera"}, types)[0],
               attention_by_definition(q, k, v, &square_mask, 3, 0.5f), 1e-5f);
}

TEST(CpuKernels, DeclinesWhatItDoesNotHandle) {
  EXPECT_TRUE(declines({"Relu", {Tensor::from_vector<int32_t>({2}, {1, -1})}}));
  EXPECT_TRUE(declines({"Add", {values({2}, 1), values({2}, 2)}, {{"broadcast", int_attr(1)}, {"axis", int_attr(0)}}, 6}));
  EXPECT_FALSE(declines({"Gelu", {values({2}, 1)}, {{"approximate", string_attr("tanh")}}, 20}));
  Case c{"Tanh", {values({2}, 1)}};
  const Node node = c.node();
  std::vector<ValueDesc> descs(1);
  descs[0].type = {DType::Float32, {2}, true};
  descs[0].layout.name = "nChw16c";
  descs[0].layout.native = std::make_shared<int>(0);
  EXPECT_EQ(cpu_backend().compile(KernelRequest{node, descs, c.output_types()}), nullptr);
}

TEST(CpuKernels, DescribeNamesTheVariant) {
  Case c{"Softmax", {values({2, 8}, 1)}};
  const std::string what = compile_cpu(c, c.node(), c.output_types())->describe();
  EXPECT_EQ(what, std::string("cpu softmax ") + cpu::isa_name(cpu::active_isa()));
}

}  // namespace
}  // namespace infera
