// QuantizeLinear (float32 -> int8 / uint8) and DequantizeLinear (int8 / uint8 -> float32) with constant scales and
// zero points, per tensor or per axis: the bytes of the reference kernels (ops/quantize.cpp), vectorised. An int8
// network's input quantization and its last dequantization run here. Quantization divides (as the reference does:
// a multiplication by the reciprocal would round differently), rounds half to even and saturates.
// com.microsoft QLinearAdd with constant per-tensor parameters and numpy broadcasting (a quantized bias added to a
// QLinearMatMul's rows): the reference's float arithmetic, (a - za) * sa/sc + (b - zb) * sb/sc, rounded the same way.
#include <algorithm>
#include <limits>

#include "backends/cpu/broadcast.h"
#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/kernels.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

// A real value in quantization steps -> round half to even -> + zero point -> saturate; NaN -> the zero point
// (quantize_round in quant/formats.h).
template <class Q>
INFERA_CPU_INLINE Q to_quantized(float steps, float zero_point) {
  constexpr float lo = float(std::numeric_limits<Q>::min()), hi = float(std::numeric_limits<Q>::max());
  // Beyond +-512 every 8-bit result saturates whatever the zero point; bounding the value there first keeps the
  // rounding trick below exact and maps infinities to the limits.
  constexpr float kBound = 512.0f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds |v| < 2^22 to an integer, ties to even
  const float bounded = std::min(std::max(steps == steps ? steps : 0.0f, -kBound), kBound);
  const float shifted = (bounded + kRoundMagic) - kRoundMagic + zero_point;
  return Q(int32_t(std::min(std::max(shifted, lo), hi)));
}

// x / scale, quantized.
template <class Q>
struct QuantizeBody {
  INFERA_CPU_INLINE static void run(const void* in, void* out, int64_t n, float scale, float zero_point) {
    const float* x = static_cast<const float*>(in);
    Q* y = static_cast<Q*>(out);
    for (int64_t i = 0; i < n; ++i) y[i] = to_quantized<Q>(x[i] / scale, zero_point);
  }
};

// (q - zero point) * scale: the difference is exact in float, as the reference's integer one.
template <class Q>
struct DequantizeBody {
  INFERA_CPU_INLINE static void run(const void* in, void* out, int64_t n, float scale, float zero_point) {
    const Q* x = static_cast<const Q*>(in);
    float* y = static_cast<float*>(out);
    for (int64_t i = 0; i < n; ++i) y[i] = (float(x[i]) - zero_point) * scale;
  }
};

using ConvertFn = void (*)(const void*, void*, int64_t, float, float);

template <template <class> class Body>
ConvertFn convert_fn(DType quantized, Isa isa) {
  if (quantized == DType::UInt8) return variant<Body<uint8_t>, const void*, void*, int64_t, float, float>(isa);
  return variant<Body<int8_t>, const void*, void*, int64_t, float, float>(isa);
}

// The data seen as rows x row_size around the quantization axis: row r uses parameter (r % channels). Per tensor:
// one channel.
class ConvertKernel final : public CpuKernel {
 public:
  ConvertKernel(const char* what, ConvertFn fn, size_t in_size, size_t out_size, std::vector<float> scales,
                std::vector<float> zero_points, int64_t row_size)
      : CpuKernel(what),
        fn_(fn),
        in_size_(in_size),
        out_size_(out_size),
        scales_(std::move(scales)),
        zero_points_(std::move(zero_points)),
        row_size_(row_size) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const auto* x = static_cast<const char*>(inputs[0]->raw());
    auto* y = static_cast<char*>(outputs[0]->raw());
    const int64_t n = inputs[0]->numel();
    if (scales_.size() == 1) {
      parallel_elements(n, [&](int64_t b, int64_t e) {
        fn_(x + b * int64_t(in_size_), y + b * int64_t(out_size_), e - b, scales_[0], zero_points_[0]);
      });
      return;
    }
    const int64_t channels = int64_t(scales_.size());
    parallel_ranges(row_size_ ? n / row_size_ : 0, row_size_, [&](int64_t first, int64_t last) {
      for (int64_t r = first; r < last; ++r) {
        const size_t c = size_t(r % channels);
        const int64_t at = r * row_size_;
        fn_(x + at * int64_t(in_size_), y + at * int64_t(out_size_), row_size_, scales_[c], zero_points_[c]);
      }
    });
  }

 private:
  ConvertFn fn_;
  size_t in_size_, out_size_;
  std::vector<float> scales_, zero_points_;
  int64_t row_size_;
};

// QLinearAdd's parameters: A's and B's scale over C's, and the three zero points.
struct QAddParams {
  float ra = 1, rb = 1, za = 0, zb = 0, zc = 0;
};

// One row of QLinearAdd: A and B advance along it (stride 1) or stay put (stride 0).
template <class Q, int a_stride, int b_stride>
struct QAddRow {
  INFERA_CPU_INLINE static void run(const void* a, const void* b, void* y, int64_t n, const QAddParams* p) {
    const Q* pa = static_cast<const Q*>(a);
    const Q* pb = static_cast<const Q*>(b);
    Q* py = static_cast<Q*>(y);
    for (int64_t i = 0; i < n; ++i) {
      const float va = p->ra * (float(pa[i * a_stride]) - p->za), vb = p->rb * (float(pb[i * b_stride]) - p->zb);
      py[i] = to_quantized<Q>(va + vb, p->zc);
    }
  }
};

using QAddFn = void (*)(const void*, const void*, void*, int64_t, const QAddParams*);

template <class Q>
QAddFn qadd_fn(Isa isa, int64_t a_stride, int64_t b_stride) {
  if (a_stride && b_stride)
    return variant<QAddRow<Q, 1, 1>, const void*, const void*, void*, int64_t, const QAddParams*>(isa);
  if (a_stride) return variant<QAddRow<Q, 1, 0>, const void*, const void*, void*, int64_t, const QAddParams*>(isa);
  if (b_stride) return variant<QAddRow<Q, 0, 1>, const void*, const void*, void*, int64_t, const QAddParams*>(isa);
  return variant<QAddRow<Q, 0, 0>, const void*, const void*, void*, int64_t, const QAddParams*>(isa);
}

class QLinearAddKernel final : public CpuKernel {
 public:
  QLinearAddKernel(QAddFn fn, QAddParams params, StridedRows<2> rows)
      : CpuKernel("qlinearadd"), fn_(fn), params_(params), rows_(std::move(rows)) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const auto* a = static_cast<const uint8_t*>(inputs[0]->raw());
    const auto* b = static_cast<const uint8_t*>(inputs[3]->raw());
    auto* y = static_cast<uint8_t*>(outputs[0]->raw());
    const int64_t inner = rows_.inner;
    parallel_ranges(rows_.rows(), inner, [&](int64_t first, int64_t last) {
      for (int64_t row = first; row < last; ++row) {
        const std::array<int64_t, 2> off = rows_.row_offsets(row);
        fn_(a + off[0], b + off[1], y + row * inner, inner, &params_);
      }
    });
  }

 private:
  QAddFn fn_;
  QAddParams params_;
  StridedRows<2> rows_;
};

// A constant scalar scale (type float32) or zero point (type `type`) at input i. An absent zero point is 0; an
// absent scale is not allowed.
bool scalar_param(const KernelRequest& r, size_t i, DType type, float& value) {
  if (!r.has_input(i)) return type != DType::Float32;
  const Tensor* t = r.inputs[i].constant;
  if (!t || t->numel() != 1 || t->dtype() != type) return false;
  value = float(t->as_double(0));
  return true;
}

// Constant float32 scales and zero points of `quantized` type, one per tensor or one per index along `axis`: as
// the reference reads them (ops/quantize.cpp). False for what only the reference runs (blocked, run-time values).
bool constant_params(const KernelRequest& r, DType quantized, std::vector<float>& scales,
                     std::vector<float>& zero_points, int64_t& row_size) {
  const Shape& x = r.inputs[0].type.shape;
  const Tensor* s = r.inputs.size() > 1 ? r.inputs[1].constant : nullptr;
  if (!s || s->dtype() != DType::Float32 || s->numel() < 1 || r.node.attr_int("block_size", 0) != 0) return false;
  const bool has_zero_point = r.has_input(2);
  const Tensor* z = has_zero_point ? r.inputs[2].constant : nullptr;
  if (has_zero_point && (!z || z->dtype() != quantized || z->numel() != s->numel())) return false;
  row_size = shape_numel(x);
  if (s->numel() > 1 || s->rank() > 1) {
    const int64_t rank = int64_t(x.size());
    int64_t axis = r.node.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    if (r.node.opset < 13 || s->rank() != 1 || axis < 0 || axis >= rank || x[size_t(axis)] != s->numel())
      return false;
    row_size = 1;
    for (int64_t d = axis + 1; d < rank; ++d) row_size *= x[size_t(d)];
  }
  for (int64_t c = 0; c < s->numel(); ++c) {
    scales.push_back(s->data<float>()[c]);
    zero_points.push_back(z ? float(z->as_int(c)) : 0.0f);
  }
  return true;
}

}  // namespace

std::unique_ptr<Kernel> compile_quantize(const KernelRequest& r) {
  if (r.inputs.size() < 2 || r.outputs.size() != 1) return nullptr;
  const bool quantize = r.node.op_type == "QuantizeLinear";
  const DType quantized = quantize ? r.outputs[0].dtype : r.inputs[0].type.dtype;
  if (!dtype_is_int8(quantized) || !is_plain(r, 0, quantize ? DType::Float32 : quantized) ||
      (!quantize && r.outputs[0].dtype != DType::Float32))
    return nullptr;
  std::vector<float> scales, zero_points;
  int64_t row_size = 0;
  if (!constant_params(r, quantized, scales, zero_points, row_size)) return nullptr;
  const Isa isa = active_isa();
  const size_t wide = sizeof(float), narrow = 1;
  if (quantize)
    return std::make_unique<ConvertKernel>("quantize", convert_fn<QuantizeBody>(quantized, isa), wide, narrow,
                                           std::move(scales), std::move(zero_points), row_size);
  return std::make_unique<ConvertKernel>("dequantize", convert_fn<DequantizeBody>(quantized, isa), narrow, wide,
                                         std::move(scales), std::move(zero_points), row_size);
}

std::unique_ptr<Kernel> compile_qlinear_add(const KernelRequest& r) {
  if (r.inputs.size() < 7 || r.outputs.size() != 1) return nullptr;
  const DType type = r.inputs[0].type.dtype;
  if (!dtype_is_int8(type) || !is_plain(r, 0, type) || !is_plain(r, 3, type) || r.outputs[0].dtype != type)
    return nullptr;
  float sa = 1, sb = 1, sc = 1;
  QAddParams p;
  if (!scalar_param(r, 1, DType::Float32, sa) || !scalar_param(r, 2, type, p.za) ||
      !scalar_param(r, 4, DType::Float32, sb) || !scalar_param(r, 5, type, p.zb) ||
      !scalar_param(r, 6, DType::Float32, sc) || !scalar_param(r, 7, type, p.zc))
    return nullptr;
  p.ra = sa / sc;  // as the reference forms them (ops/qlinear.cpp)
  p.rb = sb / sc;
  StridedRows<2> rows = broadcast_rows<2>(r.outputs[0].shape, {r.inputs[0].type.shape, r.inputs[3].type.shape});
  const Isa isa = active_isa();
  const auto [as, bs] = rows.inner_stride;
  const QAddFn fn = type == DType::UInt8 ? qadd_fn<uint8_t>(isa, as, bs) : qadd_fn<int8_t>(isa, as, bs);
  return std::make_unique<QLinearAddKernel>(fn, p, std::move(rows));
}

}  // namespace infera::cpu
