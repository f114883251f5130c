// The oneDNN integer kernels against the reference kernels (QLinearConv, QLinearMatMul, infera.FusedQLinearConv,
// whose reference is QLinearConv then com.microsoft QLinearAdd, infera.QuantizedGemm and infera.QuantizedConv, float
// results, and QuantizeLinear on values in oneDNN's layouts): odd sizes,
// per-tensor and per-channel weight scales, u8 and s8 activations, zero points != 0, weights with zero points,
// saturation, depthwise and strided convolutions, and chains through oneDNN's int8 layouts. Both sides accumulate
// exactly in int32, form the requantization factor x_scale * w_scale / y_scale alike and round half to even before
// adding the output zero point, so the bytes are identical. (Without the kernels' explicit rounding step oneDNN
// rounds after adding the zero point, and an exact tie moves by one step: the fused residual's FMA could do the same,
// so that check alone allows one step on 1 %.)
#include <cstring>

#include "dnnl_harness.h"
#include "backends/dnnl/dnnl_common.h"

namespace infera {
namespace {

using namespace harness;

// Uniform integers in [lo, hi] of an 8-bit type.
Tensor quantized(Shape shape, unsigned seed, DType type, int lo, int hi) {
  Tensor t(type, std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (type == DType::UInt8) t.data<uint8_t>()[i] = uint8_t(dist(gen));
    else t.data<int8_t>()[i] = int8_t(dist(gen));
  }
  return t;
}

Tensor scalar_of(DType type, int v) {
  return type == DType::UInt8 ? Tensor::scalar<uint8_t>(uint8_t(v)) : Tensor::scalar<int8_t>(int8_t(v));
}

std::vector<float> positive(size_t n, unsigned seed, float base) {
  std::vector<float> v;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(0.5f, 1.5f);
  for (size_t i = 0; i < n; ++i) v.push_back(base * dist(gen));
  return v;
}

using Output = DnnlRun;

// The case on oneDNN, which must accept it.
Output accepted(const Case& c, std::vector<Tensor> storage = {}) {
  Output out = run_dnnl(c, std::move(storage));
  if (out.kernel.empty()) ADD_FAILURE() << c.op << ": oneDNN declined";
  return out;
}

// Every byte within `steps` of the reference, and at most `share` of them different.
void expect_near_exact(const Tensor& got, const Tensor& want, int64_t steps = 0, double share = 0) {
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.dtype(), want.dtype());
  int64_t worst = 0, differ = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int64_t d = std::abs(got.as_int(i) - want.as_int(i));
    worst = std::max(worst, d);
    differ += d != 0;
  }
  EXPECT_LE(worst, steps) << "largest difference in steps";
  EXPECT_LE(double(differ), share * double(want.numel())) << differ << " of " << want.numel() << " differ";
}

Output check(const Case& c) {
  SCOPED_TRACE(c.domain + " " + c.op);
  const Output out = accepted(c);
  if (out.storage.defined()) expect_near_exact(out.plain, c.reference()[0]);
  return out;
}

struct ConvSpec {
  Shape x, w;
  DType x_type = DType::UInt8, w_type = DType::Int8, y_type = DType::UInt8;
  int x_zp = 0, w_zp = 0, y_zp = 0;
  bool per_channel = true, bias = true;
  float y_scale = 0.05f;
  Attrs attrs = {};
};

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?) with every parameter constant.
Case qconv(const ConvSpec& s, unsigned seed) {
  const int64_t m = s.w[0];
  const bool xu = s.x_type == DType::UInt8, wu = s.w_type == DType::UInt8;
  Tensor x = quantized(s.x, seed, s.x_type, xu ? 0 : -128, xu ? 255 : 127);
  // Weights centered on their zero point stay within int8 (the kernel's condition for taking them).
  Tensor w = quantized(s.w, seed + 1, s.w_type, std::max(wu ? 0 : -128, s.w_zp - 100), std::min(wu ? 255 : 127, s.w_zp + 100));
  const std::vector<float> ws = positive(s.per_channel ? size_t(m) : 1, seed + 2, 0.01f);
  Tensor w_scale = s.per_channel ? Tensor::from_vector<float>({m}, ws) : Tensor::scalar<float>(ws[0]);
  Tensor w_zp = s.per_channel ? Tensor(s.w_type, {m}) : scalar_of(s.w_type, s.w_zp);
  for (int64_t c = 0; c < w_zp.numel(); ++c) {
    if (wu) w_zp.data<uint8_t>()[c] = uint8_t(s.w_zp);
    else w_zp.data<int8_t>()[c] = int8_t(s.w_zp);
  }
  std::vector<Tensor> in{x, Tensor::scalar<float>(0.02f), scalar_of(s.x_type, s.x_zp), w, w_scale, w_zp,
                         Tensor::scalar<float>(s.y_scale), scalar_of(s.y_type, s.y_zp)};
  if (s.bias) {
    Tensor b(DType::Int32, {m});
    for (int64_t c = 0; c < m; ++c) b.data<int32_t>()[c] = int32_t((c * 7919 + seed) % 4001) - 2000;
    in.push_back(b);
  }
  return Case{"QLinearConv", in, s.attrs, 21, {"y"}, {1, 2, 3, 4, 5, 6, 7, 8}};
}

TEST(DnnlInt8, ConvPerChannelU8WithZeroPoints) {
  ConvSpec s{{1, 5, 9, 7}, {7, 5, 3, 3}};
  s.x_zp = 131;
  s.y_zp = 17;
  s.attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  const Output out = check(qconv(s, 1));
  EXPECT_NE(out.kernel.find("jit"), std::string::npos) << out.kernel;
}

TEST(DnnlInt8, ConvPerTensorS8StridedAsymmetricPads) {
  ConvSpec s{{2, 6, 11, 10}, {9, 6, 3, 2}, DType::Int8, DType::Int8, DType::Int8};
  s.x_zp = -3;
  s.y_zp = 5;
  s.per_channel = false;
  s.attrs = {{"strides", ints_attr({2, 1})}, {"pads", ints_attr({0, 1, 2, 0})}};
  check(qconv(s, 2));
}

TEST(DnnlInt8, ConvDepthwiseAndUint8WeightsWithZeroPoint) {
  ConvSpec s{{1, 12, 8, 9}, {12, 1, 3, 3}};
  s.w_type = DType::UInt8;
  s.w_zp = 140;
  s.x_zp = 3;
  s.attrs = {{"group", int_attr(12)}, {"pads", ints_attr({1, 1, 1, 1})}};
  check(qconv(s, 3));
}

TEST(DnnlInt8, ConvSaturatesBothWays) {
  ConvSpec s{{1, 16, 5, 5}, {3, 16, 1, 1}};
  s.y_scale = 0.0005f;  // most outputs leave [0, 255]
  s.y_zp = 128;
  const Case c = qconv(s, 4);
  const Tensor want = c.reference()[0];
  int low = 0, high = 0;
  for (int64_t i = 0; i < want.numel(); ++i) low += want.data<uint8_t>()[i] == 0, high += want.data<uint8_t>()[i] == 255;
  EXPECT_GT(low, 0);
  EXPECT_GT(high, 0);
  check(c);
}

// Weights whose centered values leave int8 cannot go to oneDNN (it takes no weight zero point): the node is left
// to the reference kernel.
TEST(DnnlInt8, ConvDeclinesWeightsThatDoNotCenterIntoInt8) {
  ConvSpec s{{1, 4, 5, 5}, {3, 4, 3, 3}};
  s.w_type = DType::UInt8;
  s.w_zp = 0;
  Case c = qconv(s, 5);
  c.inputs[3].data<uint8_t>()[0] = 250;
  const Node node = c.node();
  EXPECT_EQ(dnnl().compile(c.request(node, c.output_types())), nullptr);
}

// A convolution's int8 output in oneDNN's layout feeds the next convolution and the fused residual directly.
TEST(DnnlInt8, FusedResidualAndChainThroughLayouts) {
  ConvSpec first{{1, 8, 7, 6}, {16, 8, 3, 3}};
  first.x_zp = 120;
  first.attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  const Case a = qconv(first, 6);
  const Output t = check(a);

  ConvSpec second{{1, 16, 7, 6}, {16, 16, 1, 1}};
  second.y_zp = 100;
  Case b = qconv(second, 7);
  b.inputs[0] = t.plain;  // t's quantization: (0.05, 0)
  b.inputs[1] = Tensor::scalar<float>(first.y_scale);
  b.inputs[2] = scalar_of(DType::UInt8, first.y_zp);
  // FusedQLinearConv: the residual Z (= t) added with its own scale, then the output's scale and zero point (0: a
  // Relu absorbed into the saturation).
  Case fused = b;
  fused.op = "FusedQLinearConv";
  fused.domain = "infera";
  fused.inputs.insert(fused.inputs.end(), {t.plain, Tensor::scalar<float>(first.y_scale), scalar_of(DType::UInt8, 0),
                                           Tensor::scalar<float>(0.07f), scalar_of(DType::UInt8, 0)});
  fused.constants = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13};
  fused.layouts = {t.layout, {}, {}, {}, {}, {}, {}, {}, {}, t.layout};
  const Tensor want = fused.reference()[0];
  std::vector<Tensor> storage = fused.inputs;
  storage[0] = storage[9] = t.storage;
  const Output got = accepted(fused, storage);
  SCOPED_TRACE(got.kernel);
  expect_near_exact(got.plain, want, 1, 0.01);
}

// Max pooling selects values: on the quantized bytes it is exact, padding included.
TEST(DnnlInt8, MaxPoolOnQuantizedBytes) {
  for (DType type : {DType::UInt8, DType::Int8}) {
    const bool u = type == DType::UInt8;
    Case c{"MaxPool", {quantized({2, 5, 9, 8}, 11, type, u ? 0 : -128, u ? 255 : 127)},
           {{"kernel_shape", ints_attr({3, 3})}, {"strides", ints_attr({2, 2})}, {"pads", ints_attr({1, 1, 1, 1})}}, 12};
    const Output out = accepted(c);
    ASSERT_TRUE(out.plain.defined());
    EXPECT_EQ(std::memcmp(out.plain.raw(), c.reference()[0].raw(), out.plain.nbytes()), 0);
  }
}

// Small and model-sized products (an autoencoder layer: 217 rows, K 640, N 128), so that oneDNN's blocked and tail
// paths both run.
TEST(DnnlInt8, MatMulPerColumnU8AndS8) {
  for (const auto& [a_shape, n] : std::vector<std::pair<Shape, int64_t>>{{{3, 5, 19}, 13}, {{217, 640}, 128}, {{217, 128}, 8}, {{217, 8}, 128}})
    for (DType a_type : {DType::UInt8, DType::Int8}) {
      const bool u = a_type == DType::UInt8;
      const int64_t k = a_shape.back();
      Tensor a = quantized(a_shape, 8, a_type, u ? 0 : -128, u ? 255 : 127);
      Tensor b = quantized({k, n}, 9, DType::Int8, -127, 127);
      const std::vector<float> bs = positive(size_t(n), 10, 0.02f);
      Case c{"QLinearMatMul",
             {a, Tensor::scalar<float>(0.03f), scalar_of(a_type, u ? 140 : -7), b, Tensor::from_vector<float>({n}, bs),
              Tensor(DType::Int8, {n}), Tensor::scalar<float>(0.4f * float(k) / 19), scalar_of(a_type, u ? 90 : 3)},
             {}, 21, {"y"}, {1, 2, 3, 4, 5, 6, 7}};
      check(c);
    }
}

// The float-output product (a quantized classifier): transB, per-column or per-tensor weight scales, A's zero point
// and a float C. The reference dequantizes then multiplies in float; oneDNN accumulates exactly in int32 and scales
// once, so the two differ by float rounding only.
TEST(DnnlInt8, QuantizedGemmWithFloatResult) {
  for (bool trans_b : {true, false})
    for (DType a_type : {DType::UInt8, DType::Int8}) {
      const bool u = a_type == DType::UInt8;
      const int64_t rows = 3, k = 1280, n = 37;
      Tensor a = quantized({rows, k}, 11, a_type, u ? 0 : -128, u ? 255 : 127);
      Tensor b = quantized(trans_b ? Shape{n, k} : Shape{k, n}, 12, DType::Int8, -127, 127);
      const std::vector<float> bs = positive(size_t(n), 13, 0.002f);
      Tensor b_scale = trans_b ? Tensor::from_vector<float>({n}, bs) : Tensor::scalar<float>(bs[0]);
      Tensor b_zp = trans_b ? Tensor(DType::Int8, {n}) : scalar_of(DType::Int8, 0);
      Case c{"QuantizedGemm",
             {a, Tensor::scalar<float>(0.03f), scalar_of(a_type, u ? 140 : -7), b, b_scale, b_zp,
              Tensor::from_vector<float>({n}, positive(size_t(n), 14, 1.0f))},
             {{"transB", int_attr(trans_b)}, {"axis", int_attr(trans_b ? 0 : 1)}}, 1, {"y"}, {1, 2, 3, 4, 5, 6},
             "infera"};
      SCOPED_TRACE(trans_b ? "transB" : "B [k, n]");
      const Output out = accepted(c);
      ASSERT_TRUE(out.storage.defined());
      EXPECT_NE(out.kernel.find("qmatmul"), std::string::npos) << out.kernel;
      const Tensor want = c.reference()[0];
      ASSERT_EQ(out.plain.shape(), want.shape());
      for (int64_t i = 0; i < want.numel(); ++i) {
        const float w = want.data<float>()[i];
        EXPECT_NEAR(out.plain.data<float>()[i], w, 1e-4f * std::max(1.0f, std::fabs(w)));
      }
    }
}

// The float-output convolution (a ResNet block's last convolution, whose residual Add stays float): per-channel or
// per-tensor weights, the input's zero point, a float bias, the residual Z and the activation as post-ops. The
// reference dequantizes and convolves in float; oneDNN accumulates exactly in int32 and scales once, so the two
// differ by float rounding only.
TEST(DnnlInt8, QuantizedConvWithFloatResidualAndActivation) {
  for (bool per_channel : {true, false})
    for (DType x_type : {DType::UInt8, DType::Int8}) {
      const bool u = x_type == DType::UInt8;
      const int64_t m = 24;
      Tensor x = quantized({1, 16, 9, 7}, 21, x_type, u ? 0 : -128, u ? 255 : 127);
      Tensor w = quantized({m, 16, 3, 3}, 22, DType::Int8, -127, 127);
      const std::vector<float> ws = positive(per_channel ? size_t(m) : 1, 23, 0.004f);
      Tensor w_scale = per_channel ? Tensor::from_vector<float>({m}, ws) : Tensor::scalar<float>(ws[0]);
      Tensor w_zp = per_channel ? Tensor(DType::Int8, {m}) : scalar_of(DType::Int8, 0);
      std::vector<float> bias = positive(size_t(m), 24, 0.5f);
      for (size_t c = 0; c < bias.size(); c += 2) bias[c] = -bias[c];
      Tensor z = random_tensor({1, m, 9, 7}, 25);
      Case c{"QuantizedConv",
             {x, Tensor::scalar<float>(0.03f), scalar_of(x_type, u ? 131 : -5), w, w_scale, w_zp,
              Tensor::from_vector<float>({m}, bias), z},
             {{"pads", ints_attr({1, 1, 1, 1})}, {"activation", string_attr("Clip")},
              {"activation_params", floats_attr({-1.5f, 4.0f})}},
             1, {"y"}, {1, 2, 3, 4, 5, 6}, "infera"};
      SCOPED_TRACE(std::string(per_channel ? "per channel " : "per tensor ") + (u ? "u8" : "s8"));
      const Output out = accepted(c);
      ASSERT_TRUE(out.storage.defined());
      EXPECT_NE(out.kernel.find("qconv"), std::string::npos) << out.kernel;
      const Tensor want = c.reference()[0];
      ASSERT_EQ(out.plain.shape(), want.shape());
      int clipped = 0;
      for (int64_t i = 0; i < want.numel(); ++i) {
        const float v = want.data<float>()[i];
        clipped += v == -1.5f || v == 4.0f;
        EXPECT_NEAR(out.plain.data<float>()[i], v, 1e-4f * std::max(1.0f, std::fabs(v))) << "element " << i;
      }
      EXPECT_GT(clipped, 0) << "the activation's bounds are reached";
    }
}

// QuantizeLinear of a float value in oneDNN's layout (a residual stream between integer convolutions): the bytes of
// the reference, ties (x / scale = k + 0.5) and saturation included, in the layout the next convolution reads.
TEST(DnnlInt8, QuantizeInOneDnnLayoutMatchesTheReference) {
  const float scale = 0.25f;
  Tensor x(DType::Float32, {1, 16, 5, 3});
  std::mt19937 gen(31);
  std::uniform_real_distribution<float> dist(-80.0f, 80.0f);
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<float>()[i] = i % 3 == 0 ? scale * (float(i % 41) - 20.5f) : dist(gen);  // every third a tie
  // The value in oneDNN's nhwc layout, as a float QuantizedConv leaves it.
  const dnnl::memory::desc nhwc({1, 16, 5, 3}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc);
  const Layout layout = dnnl_backend::layout_of(nhwc, x.shape());
  Tensor stored = allocate(TensorType{DType::Float32, x.shape(), true}, layout);
  for (int64_t c = 0; c < 16; ++c)
    for (int64_t p = 0; p < 15; ++p) stored.data<float>()[p * 16 + c] = x.data<float>()[c * 15 + p];
  for (DType type : {DType::UInt8, DType::Int8}) {
    const bool u = type == DType::UInt8;
    Case c{"QuantizeLinear", {x, Tensor::scalar<float>(scale), scalar_of(type, u ? 128 : 3)}, {}, 21, {"y"}, {1, 2}};
    c.layouts = {layout};
    const Output out = accepted(c, {stored, c.inputs[1], c.inputs[2]});
    ASSERT_TRUE(out.storage.defined());
    EXPECT_EQ(out.layout.name, "acdb") << "stays in the convolution's layout";
    expect_near_exact(out.plain, c.reference()[0]);
  }
}

// The global average pool of an integer convolution's output, read in oneDNN's nhwc layout: the bytes of the
// reference on the plain value.
TEST(DnnlInt8, QLinearGlobalAveragePoolReadsNhwc) {
  for (DType type : {DType::UInt8, DType::Int8}) {
    const bool u = type == DType::UInt8;
    const Shape shape{2, 37, 7, 5};
    Tensor x = quantized(shape, 41, type, u ? 0 : -128, u ? 255 : 127);
    const dnnl::memory::desc nhwc(dnnl_backend::to_dims(shape), dnnl_backend::dnnl_type(type),
                                  dnnl::memory::format_tag::nhwc);
    const Layout layout = dnnl_backend::layout_of(nhwc, shape);
    Tensor stored = allocate(TensorType{type, shape, true}, layout);
    const int64_t c_count = shape[1], positions = shape[2] * shape[3];
    for (int64_t b = 0; b < shape[0]; ++b)
      for (int64_t c = 0; c < c_count; ++c)
        for (int64_t p = 0; p < positions; ++p)
          static_cast<uint8_t*>(stored.raw())[(b * positions + p) * c_count + c] =
              static_cast<const uint8_t*>(x.raw())[(b * c_count + c) * positions + p];
    Case c{"QLinearGlobalAveragePool",
           {x, Tensor::scalar<float>(0.05f), scalar_of(type, u ? 120 : -3), Tensor::scalar<float>(0.02f),
            scalar_of(type, u ? 7 : 2)},
           {}, 1, {"y"}, {1, 2, 3, 4}, "com.microsoft"};
    c.layouts = {layout};
    const Output out = accepted(c, {stored, c.inputs[1], c.inputs[2], c.inputs[3], c.inputs[4]});
    ASSERT_TRUE(out.storage.defined());
    expect_near_exact(out.plain, c.reference()[0]);
  }
}

}  // namespace
}  // namespace infera
