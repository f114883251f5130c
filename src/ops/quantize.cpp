// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear: conversions between real tensors and quantized tensors
// (integers from int4 to int16, 8-bit floats from opset 19) with a scale and zero point, per tensor, per axis
// (opset 13) or per block along an axis (opset 21). The element conversions are those of quant/formats.h.
#include "ops/quantize.h"

#include <algorithm>
#include <type_traits>

namespace infera {
namespace {

// How the scale / zero point tensors map onto the data, seen as outer x dim x inner around the axis: one pair for
// everything, one per index along the axis, or one per block of `block` indices along the axis (the scale then has
// the data's shape with that dim divided by the block size, rounded up).
struct QuantLayout {
  int64_t outer = 1, dim = 1, inner = 0;
  int64_t block = 0;  // > 0 for blocked quantization
  bool per_tensor = true;

  // fn(first element, element count, parameter index of the first element, parameter index step (0 or 1)).
  template <class F>
  void for_each_run(F&& fn) const {
    if (per_tensor) {
      fn(int64_t(0), inner, int64_t(0), int64_t(0));
      return;
    }
    const int64_t blocks = block ? (dim + block - 1) / block : dim;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t d = 0; d < dim; ++d) {
        const int64_t first = (o * dim + d) * inner;
        if (block)
          fn(first, inner, (o * blocks + d / block) * inner, int64_t(1));
        else
          fn(first, inner, d, int64_t(0));
      }
  }
};

QuantLayout quant_layout(const OpContext& ctx, int data, int scale, int zero_point) {
  const Shape& x = ctx.shape(data);
  const Shape& s = ctx.shape(scale);
  if (ctx.has_input(zero_point) && ctx.shape(zero_point) != s &&
      !(shape_numel(s) == 1 && shape_numel(ctx.shape(zero_point)) == 1))  // a scalar and a [1] are both per-tensor
    ctx.fail("zero point shape " + shape_str(ctx.shape(zero_point)) + " differs from scale shape " + shape_str(s));
  const int64_t block = ctx.opset() >= 21 ? ctx.node().attr_int("block_size", 0) : 0;
  if (block < 0) ctx.fail("block_size must be >= 0, got " + std::to_string(block));
  QuantLayout l;
  if (block == 0 && s.size() <= 1 && shape_numel(s) == 1) {
    l.inner = shape_numel(x);
    return l;
  }
  if (ctx.opset() < 13) ctx.fail("scale must be a scalar before opset 13, got shape " + shape_str(s));
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 1), int(x.size()));
  l.per_tensor = false;
  l.dim = x[size_t(axis)];
  l.inner = 1;
  for (int i = 0; i < axis; ++i) l.outer *= x[size_t(i)];
  for (size_t i = size_t(axis) + 1; i < x.size(); ++i) l.inner *= x[i];
  if (block == 0) {
    if (s.size() != 1 || s[0] != l.dim)
      ctx.fail("per-axis scale must be 1-D of length " + std::to_string(l.dim) + " (axis " + std::to_string(axis) +
               " of " + shape_str(x) + "), got shape " + shape_str(s));
    return l;
  }
  l.block = block;
  Shape expected = x;
  expected[size_t(axis)] = (l.dim + block - 1) / block;
  if (s != expected)
    ctx.fail("blocked scale must have shape " + shape_str(expected) + " for block_size " + std::to_string(block) +
             ", got " + shape_str(s));
  return l;
}

// The zero point of every scale, in the quantized type Q; an absent zero point is 0 (+0 for the 8-bit floats).
template <class Q>
std::vector<Q> zero_points(const OpContext& ctx, int i, size_t count) {
  if (!ctx.has_input(i)) return std::vector<Q>(count, Q{});
  const Q* p = ctx.input(i).data<Q>();
  return std::vector<Q>(p, p + count);
}

// Real-valued inputs of QuantizeLinear: the float types, and int32 (allowed up to opset 19).
template <class F>
void visit_quantize_input(DType t, F&& f) {
  if (t == DType::Int32)
    f(TypeTag<int32_t>{});
  else
    visit_float(t, std::forward<F>(f));
}

DType quantize_output_type(const OpContext& ctx) {
  const int64_t attr = ctx.opset() >= 21 ? ctx.node().attr_int("output_dtype", 0) : 0;
  if (ctx.has_input(2)) {
    if (attr != 0 && DType(attr) != ctx.dtype(2))
      ctx.fail("output_dtype " + std::to_string(attr) + " differs from the zero point type " +
               std::string(dtype_name(ctx.dtype(2))));
    return ctx.dtype(2);
  }
  return attr == 0 ? DType::UInt8 : DType(attr);
}

// Cast's rule for out-of-range values in 8-bit floats (opset 19); integers always saturate.
bool saturate_attr(const OpContext& ctx) { return ctx.opset() < 19 || ctx.node().attr_int("saturate", 1) != 0; }

bool infer_quantize(OpContext& ctx) {
  const DType out = quantize_output_type(ctx);
  if (!is_quantized_type(out))
    ctx.fail("quantizing to type " + std::to_string(int(out)) +
             " is not supported (int4, uint4, int8, uint8, int16, uint16, 8-bit floats)");
  if (!dtype_is_float(ctx.dtype(1))) ctx.fail("scale must be a float tensor");
  if (!dtype_is_float(ctx.dtype(0)) && ctx.dtype(0) != DType::Int32)
    ctx.fail("input type " + std::string(dtype_name(ctx.dtype(0))) + " cannot be quantized");
  quant_layout(ctx, 0, 1, 2);
  ctx.set_output(0, out, ctx.shape(0));
  return true;
}

void quantize(OpContext& ctx) {
  const QuantLayout layout = quant_layout(ctx, 0, 1, 2);
  const Tensor& x = ctx.input(0);
  const std::vector<double> scale = double_values(ctx.input(1));
  const bool saturate = saturate_attr(ctx);
  Tensor& y = ctx.output(0);
  visit_quantized(y.dtype(), [&](auto qtag) {
    using Q = typename decltype(qtag)::type;
    const std::vector<Q> zp = zero_points<Q>(ctx, 2, scale.size());
    Q* py = y.data<Q>();
    visit_quantize_input(x.dtype(), [&](auto xtag) {
      using T = typename decltype(xtag)::type;
      using C = std::conditional_t<std::is_same_v<T, double>, double, float>;  // x / scale in x's precision
      const T* px = x.data<T>();
      layout.for_each_run([&](int64_t first, int64_t count, int64_t p, int64_t step) {
        for (int64_t i = 0; i < count; ++i, p += step)
          py[first + i] = quantize_scaled<Q>(C(px[first + i]) / C(scale[size_t(p)]), zp[size_t(p)], saturate);
      });
    });
  });
}

bool infer_dequantize(OpContext& ctx) {
  const DType in = ctx.dtype(0);
  if (!is_quantized_type(in) && in != DType::Int32)
    ctx.fail("input type " + std::string(dtype_name(in)) + " cannot be dequantized");
  if (ctx.has_input(2) && ctx.dtype(2) != in)
    ctx.fail("zero point type " + std::string(dtype_name(ctx.dtype(2))) + " differs from input type " +
             std::string(dtype_name(in)));
  if (!dtype_is_float(ctx.dtype(1))) ctx.fail("scale must be a float tensor");
  quant_layout(ctx, 0, 1, 2);
  ctx.set_output(0, ctx.dtype(1), ctx.shape(0));
  return true;
}

void dequantize(OpContext& ctx) {
  const QuantLayout layout = quant_layout(ctx, 0, 1, 2);
  const Tensor& x = ctx.input(0);
  const std::vector<double> scale = double_values(ctx.input(1));
  Tensor& y = ctx.output(0);
  visit_float(y.dtype(), [&](auto ytag) {
    using T = typename decltype(ytag)::type;
    using C = compute_t<T>;
    T* py = y.data<T>();
    auto run = [&](auto xtag) {
      using X = typename decltype(xtag)::type;
      const X* px = x.data<X>();
      const std::vector<X> zp = zero_points<X>(ctx, 2, scale.size());
      layout.for_each_run([&](int64_t first, int64_t count, int64_t p, int64_t step) {
        for (int64_t i = 0; i < count; ++i, p += step)
          py[first + i] =
              T(C(quantized_value(px[first + i]) - quantized_value(zp[size_t(p)])) * C(scale[size_t(p)]));
      });
    };
    if (x.dtype() == DType::Int32)
      run(TypeTag<int32_t>{});
    else
      visit_quantized(x.dtype(), run);
  });
}

bool infer_dynamic_quantize(OpContext& ctx) {
  if (ctx.dtype(0) != DType::Float32) ctx.fail("input must be float32");
  ctx.set_output(0, DType::UInt8, ctx.shape(0));
  ctx.set_output(1, DType::Float32, {});
  ctx.set_output(2, DType::UInt8, {});
  return true;
}

// Scale and zero point map [min(x, 0), max(x, 0)] onto [0, 255]; a constant-zero input gets scale 1, as in
// ONNX Runtime, instead of dividing by zero.
void dynamic_quantize(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const float* px = x.data<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
  const uint8_t zp = quantize_round<uint8_t>(-lo / scale, 0);
  uint8_t* py = ctx.output(0).data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = quantize_round<uint8_t>(px[i] / scale, zp);
  ctx.output(1).data<float>()[0] = scale;
  ctx.output(2).data<uint8_t>()[0] = zp;
}

}  // namespace

void register_quantize_ops(OpTable& t) {
  t.add({.name = "QuantizeLinear", .infer = infer_quantize, .compute = quantize});
  t.add({.name = "DequantizeLinear", .infer = infer_dequantize, .compute = dequantize});
  t.add({.name = "DynamicQuantizeLinear", .infer = infer_dynamic_quantize, .compute = dynamic_quantize});
}

}  // namespace infera
