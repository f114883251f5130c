// Quantized matrix products (QLinearMatMul, MatMulInteger) and the com.microsoft quantized operators that int8
// models use between them (QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu, QLinearConcat,
// QLinearGlobalAveragePool, QLinearAveragePool). Integer products accumulate exactly; real-valued rescaling is
// done in float, as ONNX Runtime does, then rounded half to even and saturated.
#include <array>
#include <cmath>

#include "ops/conv_geometry.h"
#include "ops/gemm_kernel.h"
#include "ops/quantize.h"

namespace infera {

void register_qlinear_conv_ops(OpTable& t);  // qlinear_conv.cpp

namespace {

void check_quantized8(const OpContext& ctx, int i, const char* what) {
  if (ctx.dtype(i) != DType::Int8 && ctx.dtype(i) != DType::UInt8)
    ctx.fail(std::string(what) + " must be int8 or uint8, got " + std::string(dtype_name(ctx.dtype(i))));
}

void check_zero_point_type(const OpContext& ctx, int zp, int data) {
  if (ctx.has_input(zp) && ctx.dtype(zp) != ctx.dtype(data))
    ctx.fail("zero point type " + std::string(dtype_name(ctx.dtype(zp))) + " differs from its data type " +
             std::string(dtype_name(ctx.dtype(data))));
}

// ---- matrix products ----

// numpy matmul geometry: a vector operand becomes a matrix (A: 1 x K, B: K x 1) and the batch dims broadcast.
struct MatMulGeometry {
  Shape a, b;   // operand shapes as matrices (batch... x rows x cols)
  Shape batch;  // broadcast batch dims
  Shape out;
  int64_t m = 0, k = 0, n = 0;
  Shape a_batch() const { return Shape(a.begin(), a.end() - 2); }
  Shape b_batch() const { return Shape(b.begin(), b.end() - 2); }
};

MatMulGeometry matmul_geometry(const OpContext& ctx, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) ctx.fail("matrix product operands must have rank >= 1");
  MatMulGeometry g;
  g.a = a.size() == 1 ? Shape{1, a[0]} : a;
  g.b = b.size() == 1 ? Shape{b[0], 1} : b;
  g.m = g.a[g.a.size() - 2];
  g.k = g.a.back();
  g.n = g.b.back();
  if (g.b[g.b.size() - 2] != g.k) ctx.fail("inner dims differ: " + shape_str(a) + " times " + shape_str(b));
  g.batch = broadcast_shapes(ctx, {g.a_batch(), g.b_batch()});
  g.out = g.batch;
  if (a.size() > 1) g.out.push_back(g.m);
  if (b.size() > 1) g.out.push_back(g.n);
  return g;
}

// A parameter given per row of A (rows) or per column of B (!rows): a scalar, a 1-D tensor of M (N) values, or an
// N-D tensor shaped like the operand with the summed dim (K) set to 1. Returns it without that dim, checked to
// broadcast onto the operand's batch... x M (batch... x N).
Shape line_param_shape(const OpContext& ctx, int i, const Shape& operand, bool rows, const char* what) {
  Shape lines = operand;
  lines.erase(lines.end() - (rows ? 1 : 2));
  Shape p = ctx.shape(i);
  if (p.size() >= 2) {
    const size_t summed = p.size() - (rows ? 1 : 2);
    if (p[summed] != 1)
      ctx.fail(std::string(what) + " of shape " + shape_str(ctx.shape(i)) + " must have 1 in dim " +
               std::to_string(summed));
    p.erase(p.begin() + std::ptrdiff_t(summed));
  }
  bool fits = p.size() <= lines.size();
  for (size_t d = 0; fits && d < p.size(); ++d) {
    const int64_t target = lines[lines.size() - p.size() + d];
    fits = p[d] == 1 || p[d] == target;
  }
  if (!fits)
    ctx.fail(std::string(what) + " of shape " + shape_str(ctx.shape(i)) + " does not fit an operand of shape " +
             shape_str(operand) + (rows ? " (per row)" : " (per column)"));
  return p;
}

// The parameter expanded to one value per row (column) of every matrix of the operand; `dflt` when absent.
template <class V>
std::vector<V> line_params(const OpContext& ctx, int i, const Shape& operand, bool rows, const char* what, V dflt) {
  Shape lines = operand;
  lines.erase(lines.end() - (rows ? 1 : 2));
  std::vector<V> v(size_t(shape_numel(lines)), dflt);
  if (!ctx.has_input(i)) return v;
  const Shape p = line_param_shape(ctx, i, operand, rows, what);
  const Tensor& t = ctx.input(i);
  broadcast_loop<1>(lines, {p}, [&](int64_t j, const std::array<int64_t, 1>& off) {
    if constexpr (std::is_integral_v<V>)
      v[size_t(j)] = V(t.as_int(off[0]));
    else
      v[size_t(j)] = V(t.as_double(off[0]));
  });
  return v;
}

// For every output matrix: sum_k (A[m][k] - a_zp[row]) * (B[k][n] - b_zp[col]), handed to
// fn(output batch, A batch, B batch, M x N products).
template <class Acc, class Fn>
void integer_matmul(const MatMulGeometry& g, const Tensor& a, const std::vector<int64_t>& a_zp, const Tensor& b,
                    const std::vector<int64_t>& b_zp, Fn fn) {
  const int64_t m = g.m, k = g.k, n = g.n;
  std::vector<Acc> a_centered(size_t(a.numel())), b_centered(size_t(b.numel())), product(size_t(m * n));
  visit_quantized8(a.dtype(), [&](auto tag) {
    const auto* p = a.data<typename decltype(tag)::type>();
    for (int64_t i = 0; i < a.numel(); ++i) a_centered[size_t(i)] = Acc(p[i]) - Acc(a_zp[size_t(i / k)]);
  });
  visit_quantized8(b.dtype(), [&](auto tag) {
    const auto* p = b.data<typename decltype(tag)::type>();
    for (int64_t i = 0; i < b.numel(); ++i)
      b_centered[size_t(i)] = Acc(p[i]) - Acc(b_zp[size_t(i / (k * n) * n + i % n)]);
  });
  broadcast_loop<2>(g.batch, {g.a_batch(), g.b_batch()}, [&](int64_t ob, const std::array<int64_t, 2>& off) {
    gemm<Acc>(false, false, m, n, k, Acc(1), a_centered.data() + off[0] * m * k, k, b_centered.data() + off[1] * k * n,
              n, Acc(0), product.data(), n);
    fn(ob, off[0], off[1], product.data());
  });
}

Cost matmul_cost(const OpContext& ctx, int b) {
  Cost c = default_cost(ctx);
  if (!ctx.input_type(0).shape_known || !ctx.input_type(b).shape_known) return c;
  const MatMulGeometry g = matmul_geometry(ctx, ctx.shape(0), ctx.shape(b));
  c.flops = 2.0 * double(shape_numel(g.batch)) * double(g.m) * double(g.n) * double(g.k);
  c.matrix = {shape_numel(g.batch), g.m, g.n, g.k};
  return c;
}

// MatMulInteger: (A, B, a_zero_point?, b_zero_point?) -> int32.
bool infer_matmul_integer(OpContext& ctx) {
  check_quantized8(ctx, 0, "A");
  check_quantized8(ctx, 1, "B");
  check_zero_point_type(ctx, 2, 0);
  check_zero_point_type(ctx, 3, 1);
  const MatMulGeometry g = matmul_geometry(ctx, ctx.shape(0), ctx.shape(1));
  if (ctx.has_input(2)) line_param_shape(ctx, 2, g.a, true, "a_zero_point");
  if (ctx.has_input(3)) line_param_shape(ctx, 3, g.b, false, "b_zero_point");
  ctx.set_output(0, DType::Int32, g.out);
  return true;
}

void matmul_integer(OpContext& ctx) {
  const MatMulGeometry g = matmul_geometry(ctx, ctx.shape(0), ctx.shape(1));
  const auto a_zp = line_params<int64_t>(ctx, 2, g.a, true, "a_zero_point", 0);
  const auto b_zp = line_params<int64_t>(ctx, 3, g.b, false, "b_zero_point", 0);
  int32_t* y = ctx.output(0).data<int32_t>();
  const int64_t mn = g.m * g.n;
  with_accumulator(g.k, [&](auto acc_tag) {
    using Acc = typename decltype(acc_tag)::type;
    integer_matmul<Acc>(g, ctx.input(0), a_zp, ctx.input(1), b_zp,
                        [&](int64_t ob, int64_t, int64_t, const Acc* product) {
                          for (int64_t i = 0; i < mn; ++i) y[ob * mn + i] = int32_t(product[i]);
                        });
  });
}

Cost matmul_integer_cost(const OpContext& ctx) { return matmul_cost(ctx, 1); }

// QLinearMatMul: (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point).
bool infer_qlinear_matmul(OpContext& ctx) {
  check_quantized8(ctx, 0, "a");
  check_quantized8(ctx, 3, "b");
  check_zero_point_type(ctx, 2, 0);
  check_zero_point_type(ctx, 5, 3);
  const MatMulGeometry g = matmul_geometry(ctx, ctx.shape(0), ctx.shape(3));
  line_param_shape(ctx, 1, g.a, true, "a_scale");
  line_param_shape(ctx, 4, g.b, false, "b_scale");
  if (ctx.has_input(2)) line_param_shape(ctx, 2, g.a, true, "a_zero_point");
  if (ctx.has_input(5)) line_param_shape(ctx, 5, g.b, false, "b_zero_point");
  check_scalar_param(ctx, 6, "y_scale");
  check_scalar_param(ctx, 7, "y_zero_point");
  const DType out = ctx.has_input(7) ? ctx.dtype(7) : ctx.dtype(0);
  if (out != DType::Int8 && out != DType::UInt8) ctx.fail("y_zero_point must be int8 or uint8");
  ctx.set_output(0, out, g.out);
  return true;
}

void qlinear_matmul(OpContext& ctx) {
  const MatMulGeometry g = matmul_geometry(ctx, ctx.shape(0), ctx.shape(3));
  const auto a_scale = line_params<float>(ctx, 1, g.a, true, "a_scale", 1.0f);
  const auto a_zp = line_params<int64_t>(ctx, 2, g.a, true, "a_zero_point", 0);
  const auto b_scale = line_params<float>(ctx, 4, g.b, false, "b_scale", 1.0f);
  const auto b_zp = line_params<int64_t>(ctx, 5, g.b, false, "b_zero_point", 0);
  const float y_scale = scalar_scale(ctx, 6);
  const int64_t y_zp = scalar_zero_point(ctx, 7);
  Tensor& y = ctx.output(0);
  const int64_t m = g.m, n = g.n;
  visit_quantized8(y.dtype(), [&](auto qtag) {
    using Q = typename decltype(qtag)::type;
    Q* py = y.data<Q>();
    with_accumulator(g.k, [&](auto acc_tag) {
      using Acc = typename decltype(acc_tag)::type;
      integer_matmul<Acc>(g, ctx.input(0), a_zp, ctx.input(3), b_zp,
                          [&](int64_t ob, int64_t ab, int64_t bb, const Acc* product) {
                            Q* out = py + ob * m * n;
                            const float* col_scale = b_scale.data() + bb * n;
                            for (int64_t r = 0; r < m; ++r) {
                              const float row_scale = a_scale[size_t(ab * m + r)];
                              for (int64_t c = 0; c < n; ++c) {
                                const float multiplier = row_scale * col_scale[c] / y_scale;
                                out[r * n + c] = quantize_round<Q>(float(product[r * n + c]) * multiplier, y_zp);
                              }
                            }
                          });
    });
  });
}

Cost qlinear_matmul_cost(const OpContext& ctx) { return matmul_cost(ctx, 3); }

// ---- com.microsoft elementwise operators (per-tensor scales and zero points) ----

struct QParam {
  float scale = 1;
  int64_t zp = 0;
};
QParam qparam(const OpContext& ctx, int scale, int zp) {
  return {scalar_scale(ctx, scale), scalar_zero_point(ctx, zp)};
}

void check_qparams(const OpContext& ctx, int data, int scale, int zp) {
  check_scalar_param(ctx, scale, "scale");
  check_scalar_param(ctx, zp, "zero point");
  check_zero_point_type(ctx, zp, data);
}

// QLinearAdd / QLinearMul: (A, A_scale, A_zero_point?, B, B_scale, B_zero_point?, C_scale, C_zero_point?).
bool infer_qlinear_binary(OpContext& ctx) {
  check_quantized8(ctx, 0, "A");
  if (ctx.dtype(3) != ctx.dtype(0)) ctx.fail("A and B types differ");
  check_qparams(ctx, 0, 1, 2);
  check_qparams(ctx, 3, 4, 5);
  check_qparams(ctx, 0, 6, 7);
  ctx.set_output(0, ctx.dtype(0), broadcast_shapes(ctx, {ctx.shape(0), ctx.shape(3)}));
  return true;
}

// combine(a, b, c) returns the function from the centered integers (a - a_zp, b - b_zp) to the real result
// divided by C's scale.
template <class Combine>
void qlinear_binary(OpContext& ctx, Combine combine) {
  const QParam pa = qparam(ctx, 1, 2), pb = qparam(ctx, 4, 5), pc = qparam(ctx, 6, 7);
  const auto fn = combine(pa, pb, pc);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  Tensor& y = ctx.output(0);
  visit_quantized8(a.dtype(), [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const Q* xa = a.data<Q>();
    const Q* xb = b.data<Q>();
    Q* py = y.data<Q>();
    const int32_t a_zp = int32_t(pa.zp), b_zp = int32_t(pb.zp);
    broadcast_loop<2>(y.shape(), {a.shape(), b.shape()}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      py[i] = quantize_round<Q>(fn(int32_t(xa[off[0]]) - a_zp, int32_t(xb[off[1]]) - b_zp), pc.zp);
    });
  });
}

void qlinear_add(OpContext& ctx) {
  qlinear_binary(ctx, [](QParam a, QParam b, QParam c) {
    const float ra = a.scale / c.scale, rb = b.scale / c.scale;
    return [=](int32_t x, int32_t y) { return ra * float(x) + rb * float(y); };
  });
}

void qlinear_mul(OpContext& ctx) {
  qlinear_binary(ctx, [](QParam a, QParam b, QParam c) {
    const float r = a.scale * b.scale / c.scale;
    return [=](int32_t x, int32_t y) { return r * float(x * y); };
  });
}

// The result of dequantize -> f -> quantize for each of the 256 values of an 8-bit type, indexed by its bits.
template <class Q, class F>
std::array<Q, 256> lookup_table(QParam in, QParam out, F f) {
  std::array<Q, 256> table;
  for (int bits = 0; bits < 256; ++bits) {
    const float x = in.scale * float(int64_t(Q(uint8_t(bits))) - in.zp);
    table[size_t(bits)] = quantize_round<Q>(f(x) / out.scale, out.zp);
  }
  return table;
}

template <class Q>
void apply_table(const std::array<Q, 256>& table, const Q* x, Q* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = table[uint8_t(x[i])];
}

// QLinearSigmoid / QLinearLeakyRelu: (X, X_scale, X_zero_point?, Y_scale, Y_zero_point?).
bool infer_qlinear_unary(OpContext& ctx) {
  check_quantized8(ctx, 0, "X");
  check_qparams(ctx, 0, 1, 2);
  check_qparams(ctx, 0, 3, 4);
  return infer_same_as_input(ctx);
}

template <class F>
void qlinear_unary(OpContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_quantized8(x.dtype(), [&](auto tag) {
    using Q = typename decltype(tag)::type;
    apply_table(lookup_table<Q>(qparam(ctx, 1, 2), qparam(ctx, 3, 4), f), x.data<Q>(), y.data<Q>(), x.numel());
  });
}

void qlinear_sigmoid(OpContext& ctx) {
  qlinear_unary(ctx, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
}

void qlinear_leaky_relu(OpContext& ctx) {
  const float alpha = ctx.node().attr_float("alpha", 0.01f);
  qlinear_unary(ctx, [alpha](float v) { return v >= 0 ? v : alpha * v; });
}

// QLinearConcat: (Y_scale, Y_zero_point, then X, X_scale, X_zero_point for each input); every input is
// requantized to the output's parameters.
int concat_input_count(const OpContext& ctx) {
  if (ctx.num_inputs() < 5 || (ctx.num_inputs() - 2) % 3 != 0)
    ctx.fail("inputs must be Y_scale, Y_zero_point and one or more (X, X_scale, X_zero_point) triples");
  return (ctx.num_inputs() - 2) / 3;
}

bool infer_qlinear_concat(OpContext& ctx) {
  const int count = concat_input_count(ctx);
  if (!ctx.node().has_attr("axis")) ctx.fail("missing attribute 'axis'");
  check_quantized8(ctx, 2, "X");
  check_qparams(ctx, 2, 0, 1);
  Shape out = ctx.shape(2);
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), int(out.size()));
  out[size_t(axis)] = 0;
  for (int j = 0; j < count; ++j) {
    const int x = 2 + 3 * j;
    if (ctx.dtype(x) != ctx.dtype(2)) ctx.fail("input types differ");
    check_qparams(ctx, x, x + 1, x + 2);
    const Shape& s = ctx.shape(x);
    for (size_t d = 0; d < out.size(); ++d)
      if (s.size() != out.size() || (int(d) != axis && s[d] != out[d]))
        ctx.fail("input shapes " + shape_str(ctx.shape(2)) + " and " + shape_str(s) + " differ outside axis " +
                 std::to_string(axis));
    out[size_t(axis)] += s[size_t(axis)];
  }
  ctx.set_output(0, ctx.dtype(2), out);
  return true;
}

void qlinear_concat(OpContext& ctx) {
  const int count = concat_input_count(ctx);
  Tensor& y = ctx.output(0);
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), y.rank());
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= y.dim(d);
  const int64_t out_row = outer ? y.numel() / outer : 0;
  const QParam out = qparam(ctx, 0, 1);
  visit_quantized8(y.dtype(), [&](auto tag) {
    using Q = typename decltype(tag)::type;
    Q* py = y.data<Q>();
    int64_t column = 0;
    for (int j = 0; j < count; ++j) {
      const int i = 2 + 3 * j;
      const Tensor& x = ctx.input(i);
      const auto table = lookup_table<Q>(qparam(ctx, i + 1, i + 2), out, [](float v) { return v; });
      const int64_t row = outer ? x.numel() / outer : 0;
      for (int64_t o = 0; o < outer; ++o) apply_table(table, x.data<Q>() + o * row, py + o * out_row + column, row);
      column += row;
    }
  });
}

// ---- com.microsoft pooling: (X, x_scale, x_zero_point?, y_scale, y_zero_point?), NCHW or channels_last ----

bool channels_last(const OpContext& ctx) { return ctx.node().attr_int("channels_last", 0) != 0; }

// The input shape as N x C x spatial, whatever its layout.
Shape nchw_shape(const OpContext& ctx, const Shape& x) {
  if (x.size() < 3) ctx.fail("input must have rank >= 3 (N, C and spatial dims), got " + shape_str(x));
  if (!channels_last(ctx)) return x;
  Shape s{x[0], x.back()};
  s.insert(s.end(), x.begin() + 1, x.end() - 1);
  return s;
}

Shape layout_shape(const OpContext& ctx, int64_t n, int64_t c, const std::vector<int64_t>& spatial) {
  Shape s{n};
  if (!channels_last(ctx)) s.push_back(c);
  s.insert(s.end(), spatial.begin(), spatial.end());
  if (channels_last(ctx)) s.push_back(c);
  return s;
}

void check_qlinear_pool_params(const OpContext& ctx) {
  check_quantized8(ctx, 0, "X");
  check_qparams(ctx, 0, 1, 2);
  check_qparams(ctx, 0, 3, 4);
}

bool infer_qlinear_global_average_pool(OpContext& ctx) {
  check_qlinear_pool_params(ctx);
  const Shape x = nchw_shape(ctx, ctx.shape(0));
  ctx.set_output(0, ctx.dtype(0), layout_shape(ctx, x[0], x[1], std::vector<int64_t>(x.size() - 2, 1)));
  return true;
}

void qlinear_global_average_pool(OpContext& ctx) {
  const Shape shape = nchw_shape(ctx, ctx.shape(0));
  const int64_t batch = shape[0], channels = shape[1];
  const int64_t size = shape_numel(Shape(shape.begin() + 2, shape.end()));
  const bool last = channels_last(ctx);
  const QParam in = qparam(ctx, 1, 2), out = qparam(ctx, 3, 4);
  const float multiplier = size ? in.scale / (out.scale * float(size)) : 0.0f;
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_quantized8(x.dtype(), [&](auto tag) {
    using Q = typename decltype(tag)::type;
    const Q* px = x.data<Q>();
    Q* py = y.data<Q>();
    // int32 partial sums over at most 2^23 positions (8-bit values cannot overflow them), added into int64 totals.
    constexpr int64_t kBlock = int64_t(1) << 23;
    std::vector<int64_t> sums(static_cast<size_t>(channels));
    std::vector<int32_t> part(static_cast<size_t>(channels));
    for (int64_t b = 0; b < batch; ++b) {
      const Q* image = px + b * channels * size;
      std::fill(sums.begin(), sums.end(), 0);
      for (int64_t p0 = 0; p0 < size; p0 += kBlock) {
        const int64_t p1 = std::min(size, p0 + kBlock);
        std::fill(part.begin(), part.end(), 0);
        if (last) {  // channels are contiguous: sum them position by position
          for (int64_t p = p0; p < p1; ++p)
            for (int64_t c = 0; c < channels; ++c) part[size_t(c)] += image[p * channels + c];
        } else {
          for (int64_t c = 0; c < channels; ++c)
            for (int64_t p = p0; p < p1; ++p) part[size_t(c)] += image[c * size + p];
        }
        for (int64_t c = 0; c < channels; ++c) sums[size_t(c)] += part[size_t(c)];
      }
      for (int64_t c = 0; c < channels; ++c)
        py[b * channels + c] = quantize_round<Q>(float(sums[size_t(c)] - in.zp * size) * multiplier, out.zp);
    }
  });
}

ConvGeometry average_pool_geometry(const OpContext& ctx) {
  return window_geometry(ctx, nchw_shape(ctx, ctx.shape(0)), ctx.node().attr_ints("kernel_shape"),
                         ctx.node().attr_int("ceil_mode", 0) != 0);
}

bool infer_qlinear_average_pool(OpContext& ctx) {
  check_qlinear_pool_params(ctx);
  if (!ctx.node().has_attr("kernel_shape")) ctx.fail("missing attribute 'kernel_shape'");
  const ConvGeometry g = average_pool_geometry(ctx);
  ctx.set_output(0, ctx.dtype(0), layout_shape(ctx, g.batch, g.in_channels, g.out_spatial));
  return true;
}

// The input positions (flat spatial offsets) each output position averages, and the divisor of each average;
// the same for every image and channel.
struct PoolWindows {
  std::vector<int64_t> offsets;
  std::vector<int64_t> first;  // offsets of output position p: [first[p], first[p + 1])
  std::vector<float> divisor;
};

PoolWindows pool_windows(const ConvGeometry& g, bool count_include_pad) {
  const int n = g.spatial_rank();
  const std::vector<int64_t> in_strides = contiguous_strides(g.in_spatial);
  PoolWindows w;
  std::vector<int64_t> opos(size_t(n), 0), kpos(size_t(n), 0);
  for (int64_t p = 0; p < g.out_size(); ++p) {
    w.first.push_back(int64_t(w.offsets.size()));
    int64_t padded = 0;
    std::fill(kpos.begin(), kpos.end(), 0);
    for (int64_t k = 0; k < g.kernel_size(); ++k) {
      bool inside = true, in_padding = true;
      int64_t offset = 0;
      for (size_t d = 0; d < size_t(n); ++d) {
        const int64_t i = opos[d] * g.strides[d] - g.pads_begin[d] + kpos[d] * g.dilations[d];
        inside = inside && i >= 0 && i < g.in_spatial[d];
        in_padding = in_padding && i >= -g.pads_begin[d] && i < g.in_spatial[d] + g.pads_end[d];
        offset += i * in_strides[d];
      }
      if (inside) w.offsets.push_back(offset);
      padded += in_padding;
      for (int d = n - 1; d >= 0 && ++kpos[size_t(d)] == g.kernel[size_t(d)]; --d) kpos[size_t(d)] = 0;
    }
    const int64_t valid = int64_t(w.offsets.size()) - w.first.back();
    w.divisor.push_back(float(std::max<int64_t>(count_include_pad ? padded : valid, 1)));
    for (int d = n - 1; d >= 0 && ++opos[size_t(d)] == g.out_spatial[size_t(d)]; --d) opos[size_t(d)] = 0;
  }
  w.first.push_back(int64_t(w.offsets.size()));
  return w;
}

// Averages the dequantized values (zero-point-centered integers times the scale) and quantizes the average.
void qlinear_average_pool(OpContext& ctx) {
  const ConvGeometry g = average_pool_geometry(ctx);
  const PoolWindows windows = pool_windows(g, ctx.node().attr_int("count_include_pad", 0) != 0);
  const bool last = channels_last(ctx);
  const int64_t channels = g.in_channels, in_size = g.in_size(), out_size = g.out_size();
  const int64_t in_channel_stride = last ? 1 : in_size, in_position_stride = last ? channels : 1;
  const int64_t out_channel_stride = last ? 1 : out_size, out_position_stride = last ? channels : 1;
  const QParam in = qparam(ctx, 1, 2), out = qparam(ctx, 3, 4);
  const float ratio = in.scale / out.scale;
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_quantized8(x.dtype(), [&](auto tag) {
    using Q = typename decltype(tag)::type;
    for (int64_t b = 0; b < g.batch; ++b)
      for (int64_t c = 0; c < channels; ++c) {
        const Q* plane = x.data<Q>() + b * channels * in_size + c * in_channel_stride;
        Q* out_plane = y.data<Q>() + b * channels * out_size + c * out_channel_stride;
        for (int64_t p = 0; p < out_size; ++p) {
          int64_t sum = 0;
          for (int64_t j = windows.first[size_t(p)]; j < windows.first[size_t(p) + 1]; ++j)
            sum += int64_t(plane[windows.offsets[size_t(j)] * in_position_stride]) - in.zp;
          out_plane[p * out_position_stride] =
              quantize_round<Q>(float(sum) * ratio / windows.divisor[size_t(p)], out.zp);
        }
      }
  });
}

Cost qlinear_average_pool_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  int64_t window = 1;
  for (int64_t k : ctx.node().attr_ints("kernel_shape")) window *= k;
  c.flops *= double(window);
  return c;
}

Cost qlinear_global_average_pool_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  c.flops = type_bytes(ctx.input_type(0));  // one add per (one-byte) input element
  return c;
}

}  // namespace

void register_qlinear_ops(OpTable& t) {
  t.add(
      {.name = "MatMulInteger", .infer = infer_matmul_integer, .compute = matmul_integer, .cost = matmul_integer_cost});
  t.add(
      {.name = "QLinearMatMul", .infer = infer_qlinear_matmul, .compute = qlinear_matmul, .cost = qlinear_matmul_cost});
  constexpr std::string_view ms = "com.microsoft";
  t.add({.name = "QLinearAdd", .infer = infer_qlinear_binary, .compute = qlinear_add, .domain = ms});
  t.add({.name = "QLinearMul", .infer = infer_qlinear_binary, .compute = qlinear_mul, .domain = ms});
  t.add({.name = "QLinearSigmoid", .infer = infer_qlinear_unary, .compute = qlinear_sigmoid, .domain = ms});
  t.add({.name = "QLinearLeakyRelu", .infer = infer_qlinear_unary, .compute = qlinear_leaky_relu, .domain = ms});
  t.add({.name = "QLinearConcat", .infer = infer_qlinear_concat, .compute = qlinear_concat, .domain = ms});
  t.add({.name = "QLinearGlobalAveragePool",
         .infer = infer_qlinear_global_average_pool,
         .compute = qlinear_global_average_pool,
         .cost = qlinear_global_average_pool_cost,
         .domain = ms});
  t.add({.name = "QLinearAveragePool",
         .infer = infer_qlinear_average_pool,
         .compute = qlinear_average_pool,
         .cost = qlinear_average_pool_cost,
         .domain = ms});
  register_qlinear_conv_ops(t);
}

}  // namespace infera
