// Pooling over sliding windows (AveragePool, MaxPool, LpPool), over whole planes (GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool), across channels (LRN), and MaxPool's inverse (MaxUnpool).
#include <cmath>
#include <limits>

#include "ops/conv_geometry.h"
#include "ops/helpers.h"

namespace infera {

namespace {

// The window of every output position of one plane, computed once and reused for all N x C planes: the input
// positions it covers inside the image (CSR: offsets[begin[o] .. begin[o+1])), and how many of its positions lie
// inside the padded input (the divisor of AveragePool with count_include_pad).
struct PoolWindows {
  std::vector<int64_t> begin;
  std::vector<int64_t> offsets;
  std::vector<int64_t> padded_count;
};

PoolWindows pool_windows(const ConvGeometry& g) {
  const int n = g.spatial_rank();
  const int64_t out_size = g.out_size();
  const std::vector<int64_t> in_strides = contiguous_strides(g.in_spatial);
  PoolWindows w;
  w.begin.reserve(size_t(out_size + 1));
  w.padded_count.reserve(size_t(out_size));
  w.begin.push_back(0);
  const size_t rank = g.kernel.size();
  std::vector<int64_t> opos(rank, 0), first(rank), k_lo(rank), k_hi(rank), k(rank);
  for (int64_t o = 0; o < out_size; ++o) {
    int64_t padded = 1;
    bool empty = false;
    for (size_t d = 0; d < rank; ++d) {
      // Kernel taps k hit input position first + k * dilation; the valid ones form a contiguous range.
      first[d] = opos[d] * g.strides[d] - g.pads_begin[d];
      const int64_t dil = g.dilations[d];
      k_lo[d] = first[d] >= 0 ? 0 : (-first[d] + dil - 1) / dil;
      k_hi[d] = std::min(g.kernel[d], g.in_spatial[d] > first[d] ? (g.in_spatial[d] - first[d] + dil - 1) / dil : 0);
      const int64_t pad_lo = first[d] + g.pads_begin[d] >= 0 ? 0 : (-(first[d] + g.pads_begin[d]) + dil - 1) / dil;
      const int64_t limit = g.in_spatial[d] + g.pads_end[d] - first[d];
      const int64_t pad_hi = std::min(g.kernel[d], limit > 0 ? (limit + dil - 1) / dil : 0);
      padded *= std::max<int64_t>(0, pad_hi - pad_lo);
      empty = empty || k_lo[d] >= k_hi[d];
    }
    w.padded_count.push_back(padded);
    if (!empty) {
      k = k_lo;
      for (;;) {
        int64_t offset = 0;
        for (size_t d = 0; d < rank; ++d) offset += (first[d] + k[d] * g.dilations[d]) * in_strides[d];
        w.offsets.push_back(offset);
        int d = n - 1;
        for (; d >= 0; --d) {
          if (++k[size_t(d)] < k_hi[size_t(d)]) break;
          k[size_t(d)] = k_lo[size_t(d)];
        }
        if (d < 0) break;
      }
    }
    w.begin.push_back(int64_t(w.offsets.size()));
    for (int d = n - 1; d >= 0; --d) {
      if (++opos[size_t(d)] < g.out_spatial[size_t(d)]) break;
      opos[size_t(d)] = 0;
    }
  }
  return w;
}

ConvGeometry pool_geometry(const OpContext& ctx) {
  const std::vector<int64_t> kernel = ctx.node().attr_ints("kernel_shape");
  if (kernel.empty()) ctx.fail("kernel_shape attribute is required");
  return window_geometry(ctx, ctx.shape(0), kernel, ctx.node().attr_int("ceil_mode", 0) != 0);
}

bool infer_pool(OpContext& ctx) {
  const ConvGeometry g = pool_geometry(ctx);
  const bool max_pool = ctx.node().op_type == "MaxPool";
  const DType t = ctx.dtype(0);
  if (!dtype_is_float(t) && !(max_pool && dtype_is_int8(t)))
    ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
  if (ctx.node().attr_int("storage_order", 0) != 0 && ctx.node().attr_int("storage_order", 0) != 1)
    ctx.fail("storage_order must be 0 or 1");
  ctx.set_output(0, t, g.output_shape());
  ctx.set_output(1, DType::Int64, g.output_shape());
  return true;
}

// Index of a row-major offset within a plane, renumbered column-major (MaxPool's storage_order = 1).
int64_t column_major_index(int64_t offset, const Shape& dims) {
  int64_t index = 0, stride = 1;
  std::vector<int64_t> coords(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    coords[d] = offset % dims[d];
    offset /= dims[d];
  }
  for (size_t d = 0; d < dims.size(); ++d) {
    index += coords[d] * stride;
    stride *= dims[d];
  }
  return index;
}

void max_pool(OpContext& ctx) {
  const ConvGeometry g = pool_geometry(ctx);
  const PoolWindows w = pool_windows(g);
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t* indices = ctx.has_output(1) ? ctx.output(1).data<int64_t>() : nullptr;
  const bool column_major = ctx.node().attr_int("storage_order", 0) == 1;
  const int64_t planes = g.batch * g.in_channels, in_size = g.in_size(), out_size = g.out_size();
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = px + p * in_size;
      for (int64_t o = 0; o < out_size; ++o) {
        C best = std::numeric_limits<C>::lowest();
        int64_t best_offset = 0;
        for (int64_t j = w.begin[size_t(o)]; j < w.begin[size_t(o + 1)]; ++j) {
          const C v = C(plane[w.offsets[size_t(j)]]);
          if (v > best || j == w.begin[size_t(o)]) {
            best = v;
            best_offset = w.offsets[size_t(j)];
          }
        }
        py[p * out_size + o] = T(best);
        if (indices)
          indices[p * out_size + o] =
              p * in_size + (column_major ? column_major_index(best_offset, g.in_spatial) : best_offset);
      }
    }
  });
}

// Average and Lp pooling: a sum of f(x) over each window, then a final transform of the sum and window size.
template <class Term, class Finish>
void sum_pool(OpContext& ctx, Term term, Finish finish) {
  const ConvGeometry g = pool_geometry(ctx);
  const PoolWindows w = pool_windows(g);
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t planes = g.batch * g.in_channels, in_size = g.in_size(), out_size = g.out_size();
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = px + p * in_size;
      for (int64_t o = 0; o < out_size; ++o) {
        C sum = 0;
        const int64_t b = w.begin[size_t(o)], e = w.begin[size_t(o + 1)];
        for (int64_t j = b; j < e; ++j) sum += term(C(plane[w.offsets[size_t(j)]]));
        py[p * out_size + o] = T(finish(sum, e - b, w.padded_count[size_t(o)]));
      }
    }
  });
}

void average_pool(OpContext& ctx) {
  const bool include_pad = ctx.node().attr_int("count_include_pad", 0) != 0;
  sum_pool(
      ctx, [](auto v) { return v; },
      [&](auto sum, int64_t valid, int64_t padded) {
        const int64_t count = include_pad ? padded : valid;
        return count ? sum / decltype(sum)(count) : decltype(sum)(0);
      });
}

// LpPool's p: a float attribute in opset 1, an int from opset 2.
double lp_norm_order(const OpContext& ctx) {
  return ctx.opset() < 2 ? double(ctx.node().attr_float("p", 2.0f)) : double(ctx.node().attr_int("p", 2));
}

void lp_pool(OpContext& ctx) {
  const double p = lp_norm_order(ctx);
  sum_pool(
      ctx, [&](auto v) { return decltype(v)(std::pow(std::abs(v), p)); },
      [&](auto sum, int64_t, int64_t) { return decltype(sum)(std::pow(sum, 1.0 / p)); });
}

Cost pool_cost(const OpContext& ctx) {
  const ConvGeometry g = pool_geometry(ctx);
  Cost c = elementwise_cost(ctx, 0);
  c.flops = double(g.batch) * double(g.in_channels) * double(g.out_size()) * double(g.kernel_size());
  return c;
}

bool infer_global_pool(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2 (N x C x spatial), got " + shape_str(ctx.shape(0)));
  Shape out = ctx.shape(0);
  std::fill(out.begin() + 2, out.end(), 1);
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

enum class GlobalPool { Average, Max, Lp };

template <GlobalPool kind>
void global_pool(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t planes = x.dim(0) * x.dim(1), size = planes ? x.numel() / planes : 0;
  const double p = kind == GlobalPool::Lp ? lp_norm_order(ctx) : 1.0;
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < planes; ++i) {
      const T* plane = px + i * size;
      C acc = kind == GlobalPool::Max ? -std::numeric_limits<C>::infinity() : C(0);
      for (int64_t j = 0; j < size; ++j) {
        const C v = C(plane[j]);
        if constexpr (kind == GlobalPool::Average) acc += v;
        if constexpr (kind == GlobalPool::Max) acc = std::max(acc, v);
        if constexpr (kind == GlobalPool::Lp) acc += C(std::pow(std::abs(v), p));
      }
      if constexpr (kind == GlobalPool::Average) acc = size ? acc / C(size) : C(0);
      if constexpr (kind == GlobalPool::Lp) acc = C(std::pow(acc, 1.0 / p));
      py[i] = T(acc);
    }
  });
}

Cost global_pool_cost(const OpContext& ctx) {
  Cost c = elementwise_cost(ctx, 0);
  c.flops = double(shape_numel(ctx.shape(0)));
  return c;
}

// LRN: x / (bias + alpha / size * sum of x^2 over the neighbouring channels)^beta.
bool infer_lrn(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(ctx.shape(0)));
  if (ctx.node().attr_int("size", 0) < 1) ctx.fail("size attribute must be positive");
  return infer_same_as_input(ctx);
}

void lrn(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t size = ctx.node().attr_int("size", 0);
  const double alpha = ctx.node().attr_float("alpha", 1e-4f), beta = ctx.node().attr_float("beta", 0.75f),
               bias = ctx.node().attr_float("bias", 1.0f);
  const int64_t batch = x.dim(0), channels = x.dim(1), inner = channels ? x.numel() / (batch * channels) : 0;
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          C square_sum = 0;
          for (int64_t k = std::max<int64_t>(0, c - before); k <= std::min(channels - 1, c + after); ++k) {
            const C v = C(px[(n * channels + k) * inner + i]);
            square_sum += v * v;
          }
          const int64_t at = (n * channels + c) * inner + i;
          py[at] = T(C(px[at]) / C(std::pow(bias + alpha / double(size) * double(square_sum), beta)));
        }
  });
}

Cost lrn_cost(const OpContext& ctx) { return elementwise_cost(ctx, 2.0 * double(ctx.node().attr_int("size", 1)) + 3); }

// MaxUnpool: scatters X into a zero tensor at the positions given by MaxPool's Indices, which are flat indices
// into the shape that inverts MaxPool's size rule. An output_shape input enlarges the output; the scattered block
// then sits at its origin (as in ONNX's reference implementation).
Shape unpooled_shape(const OpContext& ctx) {
  const std::vector<int64_t> kernel = ctx.node().attr_ints("kernel_shape");
  const int n = int(kernel.size());
  if (n == 0 || ctx.rank(0) != n + 2) ctx.fail("kernel_shape does not match the input's spatial rank");
  std::vector<int64_t> strides, dilations, pads_begin, pads_end;
  read_window_attributes(ctx, n, strides, dilations, pads_begin, pads_end);
  Shape out = ctx.shape(0);
  for (size_t d = 0; d < size_t(n); ++d)
    out[d + 2] = (out[d + 2] - 1) * strides[d] + kernel[d] - pads_begin[d] - pads_end[d];
  return out;
}

bool infer_max_unpool(OpContext& ctx) {
  if (ctx.dtype(1) != DType::Int64) ctx.fail("indices must be int64");
  if (ctx.shape(1) != ctx.shape(0)) ctx.fail("indices shape differs from input shape");
  Shape out = unpooled_shape(ctx);
  if (ctx.has_input(2)) {
    std::vector<int64_t> requested;
    if (!int_list_input(ctx, 2, requested)) return false;
    if (requested.size() != out.size()) ctx.fail("output_shape must have " + std::to_string(out.size()) + " values");
    out = requested;
  }
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void max_unpool(OpContext& ctx) {
  const Shape natural = unpooled_shape(ctx);
  const Tensor& x = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  Tensor& y = ctx.output(0);
  const std::vector<int64_t> out_strides = contiguous_strides(y.shape());
  const int64_t* idx = indices.data<int64_t>();
  const int64_t natural_size = shape_numel(natural);
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (idx[i] < 0 || idx[i] >= natural_size)
        ctx.fail("index " + std::to_string(idx[i]) + " is out of range for shape " + shape_str(natural));
      int64_t rest = idx[i], offset = 0;
      for (size_t d = natural.size(); d-- > 0;) {
        const int64_t coord = rest % natural[d];
        rest /= natural[d];
        if (coord >= y.dim(int(d))) ctx.fail("index " + std::to_string(idx[i]) + " falls outside output_shape");
        offset += coord * out_strides[d];
      }
      py[offset] = px[i];
    }
  });
}

}  // namespace

void register_pool_ops(OpTable& t) {
  t.add({.name = "MaxPool", .infer = infer_pool, .compute = max_pool, .cost = pool_cost});
  t.add({.name = "AveragePool", .infer = infer_pool, .compute = average_pool, .cost = pool_cost});
  t.add({.name = "LpPool", .infer = infer_pool, .compute = lp_pool, .cost = pool_cost});
  t.add({.name = "GlobalAveragePool", .infer = infer_global_pool, .compute = global_pool<GlobalPool::Average>,
         .cost = global_pool_cost});
  t.add({.name = "GlobalMaxPool", .infer = infer_global_pool, .compute = global_pool<GlobalPool::Max>,
         .cost = global_pool_cost});
  t.add({.name = "GlobalLpPool", .infer = infer_global_pool, .compute = global_pool<GlobalPool::Lp>,
         .cost = global_pool_cost});
  t.add({.name = "MaxUnpool", .infer = infer_max_unpool, .compute = max_unpool});
  t.add({.name = "LRN", .infer = infer_lrn, .compute = lrn, .cost = lrn_cost});
}

}  // namespace infera
