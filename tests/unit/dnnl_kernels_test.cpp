// The oneDNN backend's kernels against the reference kernels (the op table's compute): convolutions of every rank
// and geometry with fused activations and residuals (in place and not), chains through oneDNN's blocked layouts
// converted back with to_plain, Gemm/MatMul in every operand form, pooling, channel concatenation, and the nodes
// the backend must decline. Every output must lie within 1e-5 of the reference output's largest magnitude.
#include <cstring>

#include "dnnl_harness.h"

namespace infera {
namespace {

using namespace harness;

constexpr float kTolerance = 1e-5f;

// A value as a kernel holds it: `storage` has its bytes in `layout`, `value` is the same value plain.
struct Stored {
  Tensor value;
  Tensor storage;
  Layout layout;
};

Tensor copy_of(const Tensor& storage, const Layout& layout) {
  Tensor copy = allocate({storage.dtype(), storage.shape(), true}, layout);
  std::memcpy(copy.raw(), storage.raw(), layout.plain() ? storage.nbytes() : layout.bytes);
  return copy;
}

struct Ran {
  std::unique_ptr<Kernel> kernel;
  Stored output;
};

// Compiles the case on oneDNN (which must accept it) and runs it on `storage` (default: the case's plain inputs;
// their layouts are the case's `layouts`). With `inplace` >= 0 output 0 is written over a copy of that input's
// storage, as the runtime does when the kernel's inplace_input allows it.
Ran run_kernel(const Case& c, std::vector<Tensor> storage = {}, int inplace = -1) {
  if (storage.empty()) storage = c.inputs;
  const Node node = c.node();
  const std::vector<TensorType> types = c.output_types();
  Ran r;
  r.kernel = dnnl().compile(c.request(node, types));
  if (!r.kernel) {
    ADD_FAILURE() << c.op << ": oneDNN declined";
    return r;
  }
  r.output.layout = r.kernel->output_layout(0);
  if (inplace >= 0) {
    EXPECT_EQ(r.kernel->inplace_input(0), inplace) << c.op << ": the kernel does not allow writing over input " << inplace;
    storage[size_t(inplace)] = copy_of(storage[size_t(inplace)], c.layouts.at(size_t(inplace)));
    r.output.storage = storage[size_t(inplace)];
  } else {
    r.output.storage = allocate(types[0], r.output.layout);
  }
  std::vector<const Tensor*> ins;
  for (const Tensor& t : storage) ins.push_back(t.defined() ? &t : nullptr);
  r.kernel->run(ins, {&r.output.storage});
  r.output.value = to_plain(r.output.storage, r.output.layout);
  return r;
}

Stored stored(Ran r) { return r.output; }

// |got - want| <= tol * (want's largest magnitude), everywhere; NaN where want is finite fails.
void expect_close(const Tensor& got, const Tensor& want, float tol = kTolerance) {
  ASSERT_EQ(got.shape(), want.shape());
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double scale = 0, worst = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::fabs(double(w[i])));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = std::fabs(double(g[i]) - double(w[i]));
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d, at = i;
  }
  EXPECT_LE(worst, tol * std::max(scale, 1e-30)) << "largest difference at element " << at << ": got "
                                                << (at >= 0 ? g[at] : 0) << ", want " << (at >= 0 ? w[at] : 0)
                                                << " (largest magnitude " << scale << ")";
}

void check(const Case& c, float tol = kTolerance) {
  SCOPED_TRACE(c.domain + " " + c.op);
  const Tensor want = c.reference()[0];
  expect_close(run_kernel(c).output.value, want, tol);
}

bool declines(const Case& c) {
  const Node node = c.node();
  std::unique_ptr<Kernel> kernel;
  EXPECT_NO_THROW(kernel = dnnl().compile(c.request(node, c.output_types()))) << c.op;
  return kernel == nullptr;
}

Attrs with(Attrs attrs, const std::string& name, Attribute value) {
  attrs[name] = std::move(value);
  return attrs;
}

// Conv(x, w[, b]) with the weights (and bias) constant.
Case conv(Tensor x, Tensor w, Tensor b, Attrs attrs = {}, const std::string& op = "Conv") {
  std::vector<Tensor> inputs{std::move(x), std::move(w)};
  if (b.defined()) inputs.push_back(std::move(b));
  return Case{op, inputs, std::move(attrs), 21, {"y"}, {1, 2}, op == "Conv" ? "" : "infera"};
}

TEST(DnnlKernels, BackendIsFirst) { EXPECT_EQ(dnnl().name(), "dnnl"); }

TEST(DnnlKernels, ConvGeometries) {
  // 1-D, strided, asymmetric pads.
  check(conv(values({2, 5, 13}, 1), values({17, 5, 3}, 2), values({17}, 3),
             {{"strides", ints_attr({2})}, {"pads", ints_attr({1, 2})}}));
  // 2-D first layer: 3 channels in, plain source.
  check(conv(values({1, 3, 11, 9}, 4), values({5, 3, 3, 3}, 5), {}));
  // 2-D strides, dilations, explicit asymmetric pads.
  check(conv(values({1, 17, 10, 7}, 6), values({32, 17, 3, 2}, 7), values({32}, 8),
             {{"strides", ints_attr({2, 1})}, {"dilations", ints_attr({2, 1})}, {"pads", ints_attr({1, 0, 2, 1})}}));
  check(conv(values({2, 32, 6, 5}, 9), values({3, 32, 1, 1}, 10), values({3}, 11)));
  // 3-D.
  check(conv(values({1, 5, 5, 6, 7}, 12), values({17, 5, 3, 1, 2}, 13), values({17}, 14),
             {{"strides", ints_attr({1, 2, 1})}, {"pads", ints_attr({1, 0, 1, 1, 0, 0})}}));
  check(conv(values({1, 32, 4, 5, 3}, 15), values({32, 32, 2, 2, 2}, 16), {}, {{"dilations", ints_attr({2, 1, 1})}}));
}

TEST(DnnlKernels, ConvAutoPad) {
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    SCOPED_TRACE(mode);
    const Attrs attrs = {{"auto_pad", string_attr(mode)}, {"strides", ints_attr({2, 2})}};
    check(conv(values({1, 17, 8, 9}, 20), values({17, 17, 4, 3}, 21), values({17}, 22), attrs));
    check(conv(values({1, 5, 9, 10}, 23), values({3, 5, 3, 3}, 24), {}, attrs));
    check(conv(values({1, 3, 7}, 25), values({5, 3, 2}, 26), {}, {{"auto_pad", string_attr(mode)}}));
  }
}

TEST(DnnlKernels, ConvGroups) {
  check(conv(values({1, 34, 7, 9}, 30), values({32, 17, 3, 3}, 31), values({32}, 32),
             {{"group", int_attr(2)}, {"pads", ints_attr({1, 1, 1, 1})}}));
  check(conv(values({1, 10, 7, 9}, 33), values({6, 5, 3, 3}, 34), {}, {{"group", int_attr(2)}}));
  const Attrs depthwise = {{"group", int_attr(17)}, {"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 1})}};
  check(conv(values({1, 17, 9, 8}, 35), values({17, 1, 3, 3}, 36), values({17}, 37), depthwise));
  check(conv(values({1, 17, 9, 8}, 38), values({34, 1, 3, 3}, 39), {}, depthwise));  // channel multiplier 2
  check(conv(values({2, 32, 9, 8}, 40), values({32, 1, 3, 3}, 41), values({32}, 42),
             {{"group", int_attr(32)}, {"pads", ints_attr({1, 1, 1, 1})}}));
}

struct Activation {
  const char* name;
  std::vector<float> params;
};

const std::vector<Activation> kActivations = {
    {"Relu", {}},      {"LeakyRelu", {0.13f}}, {"LeakyRelu", {}},        {"Clip", {-0.5f, 0.7f}},
    {"Sigmoid", {}},   {"Tanh", {}},           {"SiLU", {}},             {"HardSwish", {}},
    {"HardSigmoid", {0.3f, 0.45f}},            {"HardSigmoid", {}},      {"Gelu", {}},
    {"GeluTanh", {}}};

Attrs activation_attrs(const Activation& a, Attrs attrs = {}) {
  attrs["activation"] = string_attr(a.name);
  if (!a.params.empty()) attrs["activation_params"] = floats_attr(a.params);
  return attrs;
}

TEST(DnnlKernels, FusedConvActivations) {
  const Tensor x = values({1, 17, 7, 9}, 50), w = values({32, 17, 3, 3}, 51, 0.3f), b = values({32}, 52);
  const Tensor x5 = values({2, 5, 6, 7}, 53, 2.0f), w5 = values({5, 5, 3, 1}, 54), b5 = values({5}, 55);
  for (const Activation& a : kActivations) {
    SCOPED_TRACE(a.name);
    check(conv(x, w, b, activation_attrs(a, {{"pads", ints_attr({1, 1, 1, 1})}}), "FusedConv"));
    check(conv(x5, w5, {}, activation_attrs(a, {{"strides", ints_attr({1, 2})}}), "FusedConv"));
  }
}

// Conv → (FusedConv | depthwise Conv | pools | Concat), the first output in oneDNN's blocked layout.
struct Chain {
  Tensor x = values({1, 5, 11, 9}, 70), w = values({32, 5, 3, 3}, 71), b = values({32}, 72);
  Attrs attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  Tensor reference = run("Conv", {x, w, b}, attrs);
  Stored first = stored(run_kernel(conv(x, w, b, attrs)));

  // The case reading the first conv's output at `input`: `storage` gets it in its layout, the case (what the
  // reference reads) its reference value.
  Case reading_first(Case c, int input, std::vector<Tensor>& storage) const {
    storage = c.inputs;
    storage[size_t(input)] = first.storage;
    c.inputs[size_t(input)] = reference;
    c.layouts.resize(c.inputs.size());
    c.layouts[size_t(input)] = first.layout;
    return c;
  }
  void check_next(const Case& next, int input = 0) const {
    SCOPED_TRACE(next.op + " after a conv writing " + first.layout.name);
    std::vector<Tensor> storage;
    const Case c = reading_first(next, input, storage);
    const Tensor want = c.reference()[0];
    expect_close(run_kernel(c, storage).output.value, want);
  }
};

// FusedConv(x, w, b, z) with z arriving plain (not of the output's layout), then, behind a blocked convolution, in
// the output's layout (made by a convolution of the same output shape): both written over in place and not. With
// and without the convolution's own activation before z (Conv -> Clip -> Add -> Clip: two clips with different
// bounds in one post-op chain, which oneDNN 2.6 computes wrongly unless they use different algorithms).
TEST(DnnlKernels, FusedConvResidual) {
  const Chain chain;
  for (bool conv_activation : {false, true}) for (int64_t channels : {5, 16, 17, 32}) {
    Attrs attrs = conv_activation ? activation_attrs({"Clip", {-0.3f, 2.5f}}, {{"pads", ints_attr({1, 1, 1, 1})}})
                                  : activation_attrs({"Relu", {}}, {{"pads", ints_attr({1, 1, 1, 1})}});
    if (conv_activation) {
      attrs["conv_activation"] = string_attr("Clip");
      attrs["conv_activation_params"] = floats_attr({-0.5f, 0.7f});
    }
    SCOPED_TRACE("channels " + std::to_string(channels) + (conv_activation ? ", Clip before z" : ""));
    const Tensor x = values({2, 16, 20, 20}, 60), w = values({channels, 16, 3, 3}, 61), b = values({channels}, 62);
    const Tensor z_plain = values({2, channels, 20, 20}, 63, 4.0f);
    check({"FusedConv", {x, w, b, z_plain}, attrs, 1, {"y"}, {1, 2}, "infera"});
    check({"FusedConv", {x, w, Tensor(), z_plain}, attrs, 1, {"y"}, {1}, "infera"});

    std::vector<Tensor> z_storage, storage;
    const Case z_conv = chain.reading_first(conv(Tensor(), values({channels, 32, 1, 1}, 64), {}), 0, z_storage);
    const Stored z = stored(run_kernel(z_conv, z_storage));
    Case fused = chain.reading_first(
        {"FusedConv", {Tensor(), values({channels, 32, 3, 3}, 65, 0.3f), values({channels}, 66), z_conv.reference()[0]},
         attrs, 1, {"y"}, {1, 2}, "infera"},
        0, storage);
    fused.layouts[3] = z.layout;
    storage[3] = z.storage;
    const Tensor want = fused.reference()[0];
    Ran separate = run_kernel(fused, storage);
    expect_close(separate.output.value, want);
    if (!separate.kernel) continue;
    SCOPED_TRACE("in place, layout " + z.layout.name);
    ASSERT_EQ(separate.kernel->output_layout(0).name, z.layout.name);
    expect_close(run_kernel(fused, storage, 3).output.value, want);
  }
  // A plain output that may overwrite a plain residual.
  const Tensor x = values({1, 3, 7}, 67), w = values({3, 3, 3}, 68);
  Case plain{"FusedConv", {x, w, Tensor(), values({1, 3, 5}, 69)}, {}, 1, {"y"}, {1}, "infera", {{}, {}, {}, {}}};
  Ran r = run_kernel(plain);
  expect_close(r.output.value, plain.reference()[0]);
  if (r.kernel && r.kernel->inplace_input(0) == 3) expect_close(run_kernel(plain, {}, 3).output.value, plain.reference()[0]);
}

TEST(DnnlKernels, ChainsThroughBlockedLayouts) {
  const Chain chain;
  EXPECT_FALSE(chain.first.layout.plain()) << "32 output channels: oneDNN was expected to choose a blocked layout";
  expect_close(chain.first.value, chain.reference);
  const Tensor w2 = values({17, 32, 3, 3}, 73, 0.3f), b2 = values({17}, 74);
  chain.check_next(conv(Tensor(), w2, b2, activation_attrs({"Relu", {}}, {{"strides", ints_attr({2, 2})}}), "FusedConv"));
  chain.check_next(conv(Tensor(), w2, {}, {{"auto_pad", string_attr("SAME_UPPER")}}));
  chain.check_next(conv(Tensor(), values({32, 1, 3, 3}, 75), {}, {{"group", int_attr(32)}}));
  chain.check_next({"FusedConv", {values({1, 32, 11, 9}, 76), values({32, 32, 1, 1}, 77), Tensor(), Tensor()},
                    activation_attrs({"Clip", {-0.2f, 0.3f}}), 1, {"y"}, {1}, "infera"},
                   3);  // the blocked value as the residual
  chain.check_next({"MaxPool", {Tensor()}, {{"kernel_shape", ints_attr({3, 2})}, {"strides", ints_attr({2, 2})},
                                            {"pads", ints_attr({1, 0, 1, 1})}}});
  chain.check_next({"AveragePool", {Tensor()}, {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}}});
  chain.check_next({"GlobalAveragePool", {Tensor()}});
  chain.check_next({"GlobalMaxPool", {Tensor()}});
}

TEST(DnnlKernels, ConcatOfBlockedValues) {
  const Chain chain;
  const Stored second = stored(run_kernel(conv(chain.x, values({17, 5, 3, 3}, 80), {}, chain.attrs)));
  const Tensor second_reference = run("Conv", {chain.x, values({17, 5, 3, 3}, 80)}, chain.attrs);
  const Tensor plain = values({1, 3, 11, 9}, 81);
  const Attrs axis = {{"axis", int_attr(1)}};
  struct Input {
    Tensor reference;
    Stored value;
  };
  const std::vector<std::vector<Input>> concats = {
      {{chain.reference, chain.first}, {second_reference, second}},
      {{second_reference, second}, {plain, {plain, plain, {}}}, {chain.reference, chain.first}},
      {{chain.reference, chain.first}, {chain.reference, chain.first}}};
  for (const auto& inputs : concats) {
    Case c{"Concat", {}, axis};
    std::vector<Tensor> storage;
    for (const Input& in : inputs) {
      c.inputs.push_back(in.reference);
      c.layouts.push_back(in.value.layout);
      storage.push_back(in.value.storage);
    }
    SCOPED_TRACE(std::to_string(inputs.size()) + " inputs");
    expect_close(run_kernel(c, storage).output.value, c.reference()[0]);
  }
  EXPECT_TRUE(declines({"Concat", {plain, plain}, axis}));  // nothing blocked: the CPU backend's copy
}

TEST(DnnlKernels, Gemm) {
  const Tensor a = values({7, 13}, 90), at = values({13, 7}, 91), b = values({13, 5}, 92), bt = values({5, 13}, 93);
  const Tensor c_row = values({5}, 94), c_matrix_row = values({1, 5}, 95), c_scalar = Tensor::scalar<float>(0.75f);
  for (int64_t trans_a : {0, 1})
    for (int64_t trans_b : {0, 1}) {
      SCOPED_TRACE("transA " + std::to_string(trans_a) + " transB " + std::to_string(trans_b));
      const Tensor& lhs = trans_a ? at : a;
      const Tensor& rhs = trans_b ? bt : b;
      const Attrs attrs = {{"transA", int_attr(trans_a)}, {"transB", int_attr(trans_b)}};
      const Attrs scaled = with(with(attrs, "alpha", float_attr(0.7f)), "beta", float_attr(1.3f));
      for (const Tensor* bias : {&c_row, &c_matrix_row, &c_scalar}) {
        check({"Gemm", {lhs, rhs, *bias}, attrs, 13, {"y"}, {1, 2}});
        check({"Gemm", {lhs, rhs, *bias}, scaled, 13, {"y"}, {1, 2}});
      }
      check({"Gemm", {lhs, rhs}, scaled, 13, {"y"}, {1}});
      check({"Gemm", {lhs, rhs, c_row}, attrs, 13, {"y"}, {2}});  // B not constant
      check({"Gemm", {lhs, rhs, c_row}, with(attrs, "beta", float_attr(0.0f)), 13, {"y"}, {1, 2}});
    }
  for (const Activation& act : kActivations) {
    SCOPED_TRACE(act.name);
    check({"FusedGemm", {a, bt, c_row}, activation_attrs(act, {{"transB", int_attr(1)}, {"alpha", float_attr(2.0f)}}),
           1, {"y"}, {1, 2}, "infera"});
  }
}

TEST(DnnlKernels, MatMul) {
  const Tensor b = values({13, 5}, 100), bias = values({5}, 101);
  for (const Shape& a : {Shape{7, 13}, Shape{2, 3, 13}, Shape{2, 1, 3, 13}, Shape{1, 13}}) {
    SCOPED_TRACE("A " + shape_str(a));
    check({"MatMul", {values(a, 102), b}, {}, 13, {"y"}, {1}});
    check({"FusedMatMul", {values(a, 102), b, bias}, activation_attrs({"GeluTanh", {}}), 1, {"y"}, {1, 2}, "infera"});
  }
  // Batched with broadcasting both ways; B not constant.
  const std::vector<std::pair<Shape, Shape>> batched = {{{2, 3, 7, 13}, {3, 13, 5}}, {{3, 7, 13}, {2, 1, 13, 5}},
                                                        {{1, 7, 13}, {4, 13, 5}},    {{7, 13}, {2, 13, 5}},
                                                        {{4, 7, 13}, {13, 5}},       {{2, 1, 7, 13}, {1, 3, 13, 5}}};
  for (const auto& [a, bs] : batched) {
    SCOPED_TRACE("A " + shape_str(a) + " B " + shape_str(bs));
    check({"MatMul", {values(a, 103), values(bs, 104)}, {}, 13});
    check({"FusedMatMul", {values(a, 103), values(bs, 104), bias}, activation_attrs({"Relu", {}}), 1, {"y"}, {2},
           "infera"});
  }
  check({"MatMul", {values({3, 7, 13}, 105), values({3, 13, 5}, 106)}, {}, 13, {"y"}, {1}});  // constant 3-D B
}

TEST(DnnlKernels, Pools) {
  const Tensor x = values({2, 5, 11, 9}, 110), x17 = values({1, 17, 10, 9}, 111);
  check({"MaxPool", {x}, {{"kernel_shape", ints_attr({3, 2})}, {"strides", ints_attr({2, 1})},
                          {"pads", ints_attr({1, 0, 1, 1})}}});
  check({"MaxPool", {x17}, {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})},
                            {"ceil_mode", int_attr(1)}}});
  check({"MaxPool", {x17}, {{"kernel_shape", ints_attr({2, 3})}, {"dilations", ints_attr({2, 1})},
                            {"pads", ints_attr({1, 1, 0, 1})}}});
  check({"MaxPool", {values({1, 5, 13}, 112)}, {{"kernel_shape", ints_attr({3})}, {"strides", ints_attr({2})}}});
  check({"MaxPool", {values({1, 3, 5, 6, 7}, 113)}, {{"kernel_shape", ints_attr({2, 2, 2})},
                                                     {"strides", ints_attr({2, 1, 2})},
                                                     {"pads", ints_attr({1, 0, 0, 0, 1, 1})}}});
  for (int64_t include : {0, 1}) {
    SCOPED_TRACE("count_include_pad " + std::to_string(include));
    check({"AveragePool", {x17}, {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})},
                                  {"pads", ints_attr({1, 1, 0, 1})}, {"count_include_pad", int_attr(include)}}});
    check({"AveragePool", {values({1, 5, 12}, 114)}, {{"kernel_shape", ints_attr({4})}, {"pads", ints_attr({2, 1})},
                                                      {"count_include_pad", int_attr(include)}}});
  }
  // ceil_mode that adds no partial window: the same as floor.
  check({"AveragePool", {values({1, 5, 9, 9}, 115)}, {{"kernel_shape", ints_attr({3, 3})},
                                                      {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}}});
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"})
    for (const Shape& s : {Shape{2, 17, 7, 9}, Shape{1, 5, 4, 5, 3}, Shape{3, 32, 11}}) {
      SCOPED_TRACE(std::string(op) + " " + shape_str(s));
      check({op, {values(s, 116)}});
    }
}

// Floor-mode windows that stop before the end padding (or before the last rows): the end padding is never read, so
// oneDNN computes these exactly; declining them sends common pools (2x2 stride 2 on odd sizes) to the reference.
TEST(DnnlKernels, AveragePoolWhoseLastWindowStopsShort) {
  const Chain chain;
  for (int64_t include : {0, 1}) {
    SCOPED_TRACE("count_include_pad " + std::to_string(include));
    check({"AveragePool", {values({1, 17, 10, 9}, 117)}, {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})},
                                                          {"pads", ints_attr({1, 1, 1, 1})}, {"count_include_pad", int_attr(include)}}});
    chain.check_next({"AveragePool", {Tensor()}, {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})},
                                                  {"count_include_pad", int_attr(include)}}});
  }
}

TEST(DnnlKernels, DeclinesWhatItDoesNotHandle) {
  const Tensor x = values({1, 5, 10, 9}, 120), w = values({3, 5, 3, 3}, 121);
  EXPECT_TRUE(declines({"Conv", {x, w}}));  // weights not constant
  EXPECT_TRUE(declines({"FusedConv", {x, w}, {}, 1, {"y"}, {}, "infera"}));
  EXPECT_TRUE(declines({"MaxPool", {x}, {{"kernel_shape", ints_attr({2, 2})}}, 12, {"y", "indices"}}));
  EXPECT_FALSE(declines({"MaxPool", {x}, {{"kernel_shape", ints_attr({2, 2})}}, 12, {"y", ""}}));
  EXPECT_TRUE(declines({"MatMul", {Tensor(DType::Int32, {7, 13}), Tensor(DType::Int32, {13, 5})}, {}, 13, {"y"}, {1}}));
  EXPECT_TRUE(declines({"Gemm", {Tensor(DType::Int64, {7, 13}), Tensor(DType::Int64, {13, 5})}, {}, 13, {"y"}, {1}}));
  // ceil_mode adding a partial last window: ONNX averages over the part inside the padded input, oneDNN otherwise.
  const Attrs ceil = {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"ceil_mode", int_attr(1)}};
  EXPECT_TRUE(declines({"AveragePool", {x}, ceil}));
  EXPECT_FALSE(declines({"MaxPool", {x}, ceil}));
  // Gemm with a full [M, N] C: not a bias vector.
  EXPECT_TRUE(declines({"Gemm", {values({7, 13}, 122), values({13, 5}, 123), values({7, 5}, 124)}, {}, 13, {"y"}, {1, 2}}));
}

}  // namespace
}  // namespace infera
