// The CPU backend's QuantizeLinear / DequantizeLinear and com.microsoft QLinearAdd against the reference kernels,
// byte for byte, under every ISA variant this CPU runs: halves (round half to even), saturation, NaN and infinities,
// per tensor and per axis, uint8 and int8, broadcasting, odd sizes and sizes that split across threads.
#include <cmath>
#include <cstring>
#include <limits>

#include "backend_harness.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_kernel.h"

namespace infera {
namespace {

using namespace harness;

// The case's output from the CPU backend (which must take it); an undefined tensor when it declines.
Tensor run_cpu(const Case& c) {
  const Node node = c.node();
  const std::vector<TensorType> types = c.output_types();
  std::unique_ptr<Kernel> kernel = cpu_backend().compile(c.request(node, types));
  if (!kernel) return Tensor();
  Tensor out(types[0].dtype, types[0].shape);
  std::vector<const Tensor*> ins;
  for (const Tensor& t : c.inputs) ins.push_back(t.defined() ? &t : nullptr);
  kernel->run(ins, {&out});
  return out;
}

void expect_same_bytes(const Case& c) {
  const Tensor want = c.reference()[0];
  for (cpu::Isa isa : {cpu::Isa::Portable, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    cpu::force_isa(isa);
    if (cpu::active_isa() != isa) continue;
    SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " " + c.op + " " + shape_str(c.inputs[0].shape()));
    const Tensor got = run_cpu(c);
    ASSERT_TRUE(got.defined()) << "the CPU backend declined";
    ASSERT_EQ(got.dtype(), want.dtype());
    ASSERT_EQ(got.shape(), want.shape());
    const auto* g = static_cast<const unsigned char*>(got.raw());
    const auto* w = static_cast<const unsigned char*>(want.raw());
    const size_t size = size_t(want.numel()) * dtype_size(want.dtype());
    for (size_t i = 0; i < size; ++i)
      if (g[i] != w[i]) {
        ADD_FAILURE() << "byte " << i << ": got " << int(g[i]) << ", want " << int(w[i]);
        break;
      }
  }
  cpu::reset_isa();
}

// Values around every rounding boundary of `scale` (k/2 * scale, ties included) and beyond the 8-bit range, with
// NaN and infinities.
Tensor awkward_floats(Shape shape, float scale, unsigned seed) {
  Tensor t = values(std::move(shape), seed, 300.0f * scale, true);
  float* p = t.data<float>();
  for (int64_t i = 11; i < t.numel(); i += 3) p[i] = float(int64_t(i % 801) - 400) * 0.5f * scale;
  for (int64_t i = 13; i < t.numel(); i += 29) p[i] = (i % 2 ? 1e30f : -1e30f);
  return t;
}

Tensor quantized(DType type, Shape shape, unsigned seed) {
  Tensor t(type, shape);
  const Tensor r = values(std::move(shape), seed, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int v = int(std::floor((r.data<float>()[i] + 1.0f) * 127.99f));
    if (type == DType::UInt8)
      t.data<uint8_t>()[i] = uint8_t(v);
    else
      t.data<int8_t>()[i] = int8_t(v - 128);
  }
  return t;
}

Tensor zero_points(DType type, std::vector<int64_t> v) {
  Tensor t(type, {int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) {
    if (type == DType::UInt8)
      t.data<uint8_t>()[i] = uint8_t(v[i]);
    else
      t.data<int8_t>()[i] = int8_t(v[i]);
  }
  return t;
}

Tensor scalar_zero_point(DType type, int64_t v) {
  return type == DType::UInt8 ? Tensor::scalar<uint8_t>(uint8_t(v)) : Tensor::scalar<int8_t>(int8_t(v));
}

TEST(QuantizeKernels, PerTensorMatchesReferenceBitExact) {
  for (DType type : {DType::UInt8, DType::Int8}) {
    const int64_t zp = type == DType::UInt8 ? 131 : -7;
    for (int64_t n : {1, 17, 4099, 70001}) {
      const float scale = 0.0173f;
      const Tensor x = awkward_floats({n}, scale, unsigned(n));
      expect_same_bytes({"QuantizeLinear", {x, Tensor::scalar<float>(scale), scalar_zero_point(type, zp)}, {}, 13,
                         {"y"}, {1, 2}});
      expect_same_bytes({"DequantizeLinear", {quantized(type, {n}, unsigned(n)), Tensor::scalar<float>(scale),
                                              scalar_zero_point(type, zp)}, {}, 13, {"y"}, {1, 2}});
    }
  }
  // No zero point: uint8 with zero point 0, where every negative value saturates.
  const Tensor x = awkward_floats({3, 1001}, 0.5f, 3);
  expect_same_bytes({"QuantizeLinear", {x, Tensor::scalar<float>(0.5f)}, {}, 13, {"y"}, {1}});
}

// A quantized bias added to a product's rows (anomaly-ae), per-channel and scalar operands, the same shape; scales
// that send part of the sums beyond the 8-bit range.
TEST(QuantizeKernels, QLinearAddMatchesReferenceBitExact) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{217, 128}, {128}}, {{2, 3, 5, 7}, {3, 1, 1}}, {{3, 1001}, {3, 1001}}, {{17}, {}}, {{}, {5, 9}}};
  for (DType type : {DType::UInt8, DType::Int8})
    for (const auto& [a, b] : shapes) {
      const bool u = type == DType::UInt8;
      expect_same_bytes({"QLinearAdd",
                         {quantized(type, a, 1), Tensor::scalar<float>(0.031f), scalar_zero_point(type, u ? 120 : -3),
                          quantized(type, b, 2), Tensor::scalar<float>(0.017f), scalar_zero_point(type, u ? 140 : 9),
                          Tensor::scalar<float>(0.029f), scalar_zero_point(type, u ? 100 : 4)},
                         {}, 1, {"y"}, {1, 2, 4, 5, 6, 7}, "com.microsoft"});
    }
}

TEST(QuantizeKernels, PerAxisMatchesReferenceBitExact) {
  for (DType type : {DType::UInt8, DType::Int8}) {
    const Tensor scales = Tensor::from_vector<float>({5}, {0.01f, 0.5f, 3.0f, 1e-4f, 0.07f});
    const Tensor zps =
        type == DType::UInt8 ? zero_points(type, {0, 255, 128, 3, 77}) : zero_points(type, {0, -128, 127, 5, -9});
    for (int64_t axis : {1, -1, 0}) {
      Shape shape = {2, 5, 7};
      if (axis == -1) shape = {3, 2, 5};
      if (axis == 0) shape = {5, 3, 1031};
      const Tensor x = awkward_floats(shape, 0.05f, unsigned(axis + 5));
      expect_same_bytes({"QuantizeLinear", {x, scales, zps}, {{"axis", int_attr(axis)}}, 13, {"y"}, {1, 2}});
      expect_same_bytes({"DequantizeLinear", {quantized(type, shape, unsigned(axis + 9)), scales, zps},
                         {{"axis", int_attr(axis)}}, 13, {"y"}, {1, 2}});
    }
  }
}

TEST(QuantizeKernels, DeclinesWhatOnlyTheReferenceRuns) {
  const Tensor x = values({4, 8}, 1);
  const Tensor scale = Tensor::scalar<float>(0.1f);
  // Scale known only at run time.
  EXPECT_FALSE(run_cpu({"QuantizeLinear", {x, scale, Tensor::scalar<uint8_t>(3)}, {}, 13, {"y"}, {2}}).defined());
  // Blocked quantization (opset 21).
  const Tensor blocked_scale = Tensor::from_vector<float>({4, 2}, {1, 1, 1, 1, 1, 1, 1, 1});
  const Attrs blocked = {{"axis", int_attr(1)}, {"block_size", int_attr(4)}};
  EXPECT_FALSE(run_cpu({"QuantizeLinear", {x, blocked_scale, Tensor()}, blocked, 21, {"y"}, {1}}).defined());
  // 16-bit and int32 data.
  EXPECT_FALSE(run_cpu({"QuantizeLinear", {x, scale, Tensor::scalar<int16_t>(0)}, {}, 21, {"y"}, {1, 2}}).defined());
  EXPECT_FALSE(run_cpu({"DequantizeLinear", {Tensor::from_vector<int32_t>({2}, {1, 2}), scale}, {}, 13, {"y"}, {1}})
                   .defined());
}

}  // namespace
}  // namespace infera
