// The oneDNN float kernels on bf16 values (the Cast writer's models, run with AVX512-BF16 where the CPU has it):
// convolutions, Gemm/MatMul and pooling against the fp32 reference kernels within the bound below; Cast and the
// elementwise kernels against the reference kernels bit for bit; a whole bf16 graph against the same graph on the
// reference kernels; fp16, which this CPU cannot compute, declined.
//
// The bound. Inputs are drawn in fp32 and rounded to bf16, so the fp32 reference computes on exactly the values the
// bf16 kernel reads. A product of two bf16 values is exact in fp32 (8-bit significands), so both sides sum the same
// n products (n = C/group * kernel size, + bias, + residual) in fp32, in different orders: each sum lies within
// n * 2^-24 * S of the exact one, S = sum of the terms' magnitudes (the reference run on |x|, |w|, |b|, |z|). The
// kernel then rounds once to bf16, within 2^-8 relative. Activations (Relu, Clip) do not widen a difference. So
//   |bf16 kernel - fp32 reference| <= 2^-8 * |reference| + (2n + 2) * 2^-24 * S   (rounding, then both sums' error).
#include <oneapi/dnnl/dnnl.hpp>

#include <cmath>
#include <cstring>

#include "dnnl_harness.h"
#include "model_builder.h"
#include "runtime/compiled_graph.h"

namespace infera {
namespace {

using namespace harness;

// A tensor of float32 values converted to `type` (bf16 or fp16) with round-to-nearest-even, and back.
Tensor converted(const Tensor& t, DType type) {
  if (!t.defined() || t.dtype() == type) return t;
  Tensor out(type, t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = float(t.as_double(i));
    if (type == DType::Float32) out.data<float>()[i] = v;
    else if (type == DType::BFloat16) out.data<bfloat16>()[i] = bfloat16(v);
    else out.data<float16>()[i] = float16(v);
  }
  return out;
}
Tensor rounded_to_bf16(const Tensor& t) { return converted(converted(t, DType::BFloat16), DType::Float32); }

// Uniform values in [-scale, scale), exactly representable in bf16.
Tensor bf16_values(Shape shape, unsigned seed, float scale = 1.f) {
  return rounded_to_bf16(values(std::move(shape), seed, scale));
}

Tensor magnitudes(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor out = t.clone();
  for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] = std::fabs(out.data<float>()[i]);
  return out;
}

using Ran = DnnlRun;

// The case with every float input in `type`.
Case in_type(Case c, DType type) {
  for (Tensor& t : c.inputs)
    if (t.defined() && dtype_is_float(t.dtype())) t = converted(t, type);
  return c;
}

// got (bf16) within the header's bound of the fp32 case's reference; `terms` is n.
void expect_within_bf16_bound(const Tensor& got, const Case& fp32, int64_t terms) {
  const Tensor want = fp32.reference()[0];
  Case abs_case = fp32;
  for (Tensor& t : abs_case.inputs) t = magnitudes(t);
  abs_case.attrs.erase("activation");
  abs_case.attrs.erase("activation_params");
  const Tensor sums = abs_case.reference()[0];
  ASSERT_EQ(got.dtype(), DType::BFloat16);
  ASSERT_EQ(got.shape(), want.shape());
  const double accumulation = double(2 * terms + 2) * std::ldexp(1.0, -24);
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.as_double(i), bound = std::ldexp(std::fabs(w), -8) + accumulation * sums.as_double(i);
    const double excess = std::fabs(got.as_double(i) - w) - bound;
    if (!(excess <= worst_excess)) worst_excess = std::isnan(excess) ? INFINITY : excess, worst = i;
  }
  EXPECT_EQ(worst, -1) << "element " << worst << ": got " << got.as_double(worst) << ", want " << want.as_double(worst)
                       << ", beyond the bound by " << worst_excess;
}

// Runs the bf16 form of an fp32 case on oneDNN and checks the bound. oneDNN must take it with a fast (not its
// reference) implementation; a product (`dot_products`) with AVX512-BF16's where the CPU has it.
Ran check(const Case& fp32, int64_t terms, bool dot_products = true) {
  SCOPED_TRACE(fp32.op);
  const Ran r = run_dnnl(in_type(fp32, DType::BFloat16));
  if (r.kernel.empty()) {
    ADD_FAILURE() << fp32.op << ": oneDNN declined the bf16 node";
    return r;
  }
  EXPECT_EQ(r.kernel.find("ref"), std::string::npos) << r.kernel;
  if (dot_products && dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16) {
    EXPECT_NE(r.kernel.find("bf16"), std::string::npos) << r.kernel;
  }
  expect_within_bf16_bound(r.plain, fp32, terms);
  return r;
}

Case conv(Tensor x, Tensor w, Tensor b, Attrs attrs = {}, const std::string& op = "Conv") {
  std::vector<Tensor> inputs{std::move(x), std::move(w)};
  if (b.defined()) inputs.push_back(std::move(b));
  return Case{op, inputs, std::move(attrs), 22, {"y"}, {1, 2}, op == "Conv" ? "" : "infera"};
}

TEST(DnnlBf16, ConvGeometries) {
  const Attrs pads{{"pads", ints_attr({1, 1, 1, 1})}};
  check(conv(bf16_values({1, 5, 9, 7}, 1), bf16_values({7, 5, 3, 3}, 2), bf16_values({7}, 3), pads), 5 * 9 + 1);
  check(conv(bf16_values({2, 19, 11, 10}, 4), bf16_values({33, 19, 3, 2}, 5, 0.3f), {},
             {{"strides", ints_attr({2, 1})}, {"pads", ints_attr({0, 1, 2, 0})}}),
        19 * 6);
  check(conv(bf16_values({1, 64, 14, 14}, 6), bf16_values({256, 64, 1, 1}, 7, 0.2f), bf16_values({256}, 8)), 64 + 1);
  check(conv(bf16_values({1, 32, 9, 8}, 9), bf16_values({32, 1, 3, 3}, 10), bf16_values({32}, 11),
             {{"group", int_attr(32)}, {"pads", ints_attr({1, 1, 1, 1})}}),
        9 + 1);
  check(conv(bf16_values({1, 3, 23, 21}, 12, 2.f), bf16_values({16, 3, 7, 7}, 13, 0.2f), bf16_values({16}, 14),
             {{"strides", ints_attr({2, 2})}, {"pads", ints_attr({3, 3, 3, 3})}}),
        3 * 49 + 1);  // a first layer: few input channels, plain source
}

// A bf16 convolution's output in oneDNN's layout feeds the next one, which adds it back as the fused residual
// (oneDNN's sum post-op, accumulated in fp32 before the one rounding) under a Relu.
TEST(DnnlBf16, FusedResidualChainThroughLayouts) {
  const Attrs pads{{"pads", ints_attr({1, 1, 1, 1})}};
  const Ran first = check(conv(bf16_values({1, 16, 8, 7}, 20), bf16_values({32, 16, 3, 3}, 21, 0.3f),
                               bf16_values({32}, 22), pads),
                          16 * 9 + 1);
  ASSERT_FALSE(first.kernel.empty());
  const Tensor t = converted(first.plain, DType::Float32);  // the value the next node reads, exactly
  Case fused{"FusedConv", {t, bf16_values({32, 32, 1, 1}, 23, 0.3f), bf16_values({32}, 24), t},
             {{"activation", string_attr("Relu")}}, 22, {"y"}, {1, 2}, "infera"};
  fused.layouts = {first.layout, {}, {}, first.layout};
  std::vector<Tensor> storage = in_type(fused, DType::BFloat16).inputs;
  storage[0] = storage[3] = first.storage;
  const Ran got = run_dnnl(in_type(fused, DType::BFloat16), storage);
  ASSERT_FALSE(got.kernel.empty()) << "oneDNN declined the fused bf16 node";
  expect_within_bf16_bound(got.plain, fused, 32 + 2);
}

TEST(DnnlBf16, GemmAndMatMul) {
  // Gemm: alpha 0.5 is folded into the packed bf16 weights exactly (a power of two), beta * C into the fp32 bias.
  Case gemm{"Gemm", {bf16_values({3, 67}, 30), bf16_values({45, 67}, 31), bf16_values({45}, 32)},
            {{"transB", int_attr(1)}, {"alpha", float_attr(0.5f)}, {"beta", float_attr(2.f)}}, 22, {"y"}, {1, 2}};
  check(gemm, 67 + 1);
  Case matmul{"MatMul", {bf16_values({2, 5, 130}, 33), bf16_values({130, 24}, 34)}, {}, 22, {"y"}, {1}};
  check(matmul, 130);
}

TEST(DnnlBf16, Pools) {
  const Tensor x = bf16_values({2, 16, 9, 8}, 40);
  const Attrs window{
      {"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}};
  // Max pooling selects: exact. Averages: a sum of n terms scaled by 1/n, within the same bound as a convolution.
  const Ran max = run_dnnl(in_type(Case{"MaxPool", {x}, window, 22}, DType::BFloat16));
  ASSERT_FALSE(max.kernel.empty());
  const Tensor want = converted(Case{"MaxPool", {x}, window, 22}.reference()[0], DType::BFloat16);
  EXPECT_EQ(std::memcmp(max.plain.raw(), want.raw(), want.nbytes()), 0);
  check(Case{"AveragePool", {x}, window, 22}, 9, false);
  check(Case{"GlobalAveragePool", {x}, {}, 22}, 9 * 8, false);
}

// A bf16 value in oneDNN's blocked layout, as a convolution leaves it (32 channels).
Ran blocked_bf16_value(unsigned seed) {
  const Case c = conv(bf16_values({1, 32, 5, 7}, seed), bf16_values({32, 32, 1, 1}, seed + 1, 0.3f), {});
  const Ran r = run_dnnl(in_type(c, DType::BFloat16));
  EXPECT_FALSE(r.layout.plain()) << "32 channels: oneDNN was expected to choose a blocked layout";
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Cast between fp32 and bf16 rounds to nearest even as the reference does, bit for bit, edge values included,
// except that AVX512-BF16's conversion (like its dot products) flushes subnormal inputs (|x| < 2^-126) to zero. The
// bf16 -> fp32 Cast reads a value in oneDNN's layout directly.
TEST(DnnlBf16, CastMatchesReferenceBitForBit) {
  Tensor x = values({1, 32, 5, 7}, 50, 3.f, true);
  const float edges[] = {1.00390625f /* a tie: 1 + 2^-8 */, 1.01171875f /* 1 + 3 * 2^-8 */, 3.4e38f, -3.4e38f,
                         1e-40f /* subnormal */, 65504.f};
  for (size_t k = 0; k < std::size(edges); ++k) x.data<float>()[k * 3 + 1] = edges[k];
  const Case to_bf16{"Cast", {x}, {{"to", int_attr(int64_t(DType::BFloat16))}}, 22};
  const Ran down = run_dnnl(to_bf16);
  ASSERT_FALSE(down.kernel.empty()) << "oneDNN declined the Cast";
  const Tensor want = to_bf16.reference()[0];
  for (int64_t i = 0; i < want.numel(); ++i) {
    const uint16_t got_bits = down.plain.data<bfloat16>()[i].bits, want_bits = want.data<bfloat16>()[i].bits;
    if (std::fpclassify(x.data<float>()[i]) == FP_SUBNORMAL) {
      EXPECT_TRUE(got_bits == want_bits || (got_bits & 0x7fff) == 0) << "element " << i;
    } else {
      EXPECT_EQ(got_bits, want_bits) << "element " << i << " (" << x.data<float>()[i] << ") by " << down.kernel;
    }
  }

  const Ran conv_out = blocked_bf16_value(51);
  Case to_fp32{"Cast", {conv_out.plain}, {{"to", int_attr(int64_t(DType::Float32))}}, 22};
  to_fp32.layouts = {conv_out.layout};
  const Ran up = run_dnnl(to_fp32, {conv_out.storage});
  ASSERT_FALSE(up.kernel.empty()) << "oneDNN declined the Cast from its layout";
  EXPECT_TRUE(up.layout.plain());
  EXPECT_TRUE(same_bits(up.plain, to_fp32.reference()[0])) << up.kernel;
}

// Add/Mul and activations between bf16 convolutions read and write their blocked layout, and round once as the
// reference kernels do: the same bits. fp32 and what oneDNN's binary cannot express are declined.
TEST(DnnlBf16, ElementwiseInTheConvolutionsLayout) {
  const Ran a = blocked_bf16_value(80), b = blocked_bf16_value(82);
  const Tensor channel_scale = converted(bf16_values({32, 1, 1}, 84), DType::BFloat16);
  const Tensor low = converted(Tensor::scalar<float>(-0.5f), DType::BFloat16);
  const Tensor high = converted(Tensor::scalar<float>(0.75f), DType::BFloat16);
  const std::vector<std::pair<Case, std::vector<Tensor>>> cases = {
      {Case{"Add", {a.plain, b.plain}, {}, 22, {"y"}, {}, "", {a.layout, b.layout}}, {a.storage, b.storage}},
      {Case{"Mul", {channel_scale, a.plain}, {}, 22, {"y"}, {0}, "", {{}, a.layout}}, {channel_scale, a.storage}},
      {Case{"Clip", {a.plain, low, high}, {}, 22, {"y"}, {1, 2}, "", {a.layout}}, {a.storage, low, high}},
      {Case{"Relu", {b.plain}, {}, 22, {"y"}, {}, "", {b.layout}}, {b.storage}},
  };
  for (const auto& [c, storage] : cases) {
    SCOPED_TRACE(c.op);
    const Ran got = run_dnnl(c, storage);
    ASSERT_FALSE(got.kernel.empty()) << "oneDNN declined";
    EXPECT_EQ(got.layout.name, a.layout.name) << got.kernel;
    EXPECT_TRUE(same_bits(got.plain, c.reference()[0])) << got.kernel;
  }
  EXPECT_TRUE(run_dnnl(Case{"Sub", {channel_scale, a.plain}, {}, 22}).kernel.empty()) << "Sub does not commute";
  EXPECT_TRUE(run_dnnl(Case{"Add", {values({2, 3}, 86), values({2, 3}, 87)}}).kernel.empty())
      << "fp32 is the CPU backend's";
}

// fp16 has no oneDNN kernel on a CPU without AVX512-FP16: the node stays on the reference kernel rather than on
// oneDNN's slower reference implementation.
TEST(DnnlBf16, Fp16ConvRunsOnAFastKernelOrIsDeclined) {
  const Case c = in_type(conv(bf16_values({1, 8, 6, 6}, 60), bf16_values({16, 8, 3, 3}, 61), {}), DType::Float16);
  const Ran r = run_dnnl(c);
  EXPECT_TRUE(r.kernel.empty() || r.kernel.find("ref") == std::string::npos) << r.kernel;
}

// A model as `infera quantize --precision bf16` writes it: Cast at the input, bf16 weights, Conv -> Relu -> Conv ->
// Add (residual) -> MaxPool -> Gemm, Cast back. Compiled with the passes and oneDNN (fused nodes, bf16 kernels,
// blocked layouts) against the reference kernels without passes, which round to bf16 after every node: the two
// differ by a few bf16 roundings carried through three layers, so within 2^-6 of the largest output.
TEST(DnnlBf16, CastWriterModelMatchesReferenceKernels) {
  ModelBuilder b(22);
  auto weights = [&](const std::string& name, Shape shape, unsigned seed, float scale) {
    b.init(name, converted(values(std::move(shape), seed, scale), DType::BFloat16));
  };
  weights("w1", {32, 5, 3, 3}, 70, 0.3f);
  weights("b1", {32}, 71, 1.f);
  weights("w2", {32, 32, 3, 3}, 72, 0.1f);
  weights("fc_w", {10, 32 * 6 * 5}, 73, 0.05f);
  weights("fc_b", {10}, 74, 1.f);
  const Attrs pads{{"pads", ints_attr({1, 1, 1, 1})}};
  b.input("x", {1, 5, 12, 10})
      .node("Cast", {"x"}, {"x16"}, {{"to", int_attr(int64_t(DType::BFloat16))}})
      .node("Conv", {"x16", "w1", "b1"}, {"c1"}, pads)
      .node("Relu", {"c1"}, {"r1"})
      .node("Conv", {"r1", "w2"}, {"c2"}, pads)
      .node("Add", {"c2", "r1"}, {"a"})
      .node("MaxPool", {"a"}, {"p"}, {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}})
      .node("Flatten", {"p"}, {"f"})
      .node("Gemm", {"f", "fc_w", "fc_b"}, {"y16"}, {{"transB", int_attr(1)}})
      .node("Cast", {"y16"}, {"y"}, {{"to", int_attr(int64_t(DType::Float32))}})
      .output("y");
  const std::map<std::string, Tensor> inputs{{"x", values({1, 5, 12, 10}, 75)}};
  const std::map<std::string, Shape> shapes{{"x", {1, 5, 12, 10}}};
  CompiledGraph fast(b.m, shapes, SessionOptions{});
  CompiledGraph reference(b.m, shapes, SessionOptions{.threads = 0, .optimize = false, .fast_backends = false});
  for (const LayerProfile& s : fast.report().steps) {
    if (s.op_type == "Flatten") continue;  // a view
    EXPECT_EQ(s.backend, "dnnl") << s.node << " (" << s.op_type << ") runs on " << s.kernel;
  }
  const Tensor got = fast.run(inputs)[0], want = reference.run(inputs)[0];
  ASSERT_EQ(got.shape(), want.shape());
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    scale = std::max(scale, std::fabs(want.as_double(i)));
    worst = std::max(worst, std::fabs(got.as_double(i) - want.as_double(i)));
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LE(worst, std::ldexp(scale, -6));
}

}  // namespace
}  // namespace infera
