// GridSample: samples X [N, C, d1..dr] at the normalized positions of grid [N, D1..Dr, r] (r = 2 in opset 16, any
// r from opset 20). Each output point is a weighted sum of input pixels, separable per spatial dimension: one tap
// (nearest), two (linear) or four (cubic) per dimension.
#include <cmath>

#include "ops/elementwise.h"

namespace infera {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Padding { Zeros, Border, Reflection };

struct GridSampleConfig {
  Mode mode;
  Padding padding;
  bool align_corners;
};

GridSampleConfig read_config(const OpContext& ctx) {
  const Node& n = ctx.node();
  GridSampleConfig cfg{};
  const std::string mode = n.attr_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
  if (mode == "nearest") cfg.mode = Mode::Nearest;
  else if (mode == "bilinear" || mode == "linear") cfg.mode = Mode::Linear;
  else if (mode == "bicubic" || mode == "cubic") cfg.mode = Mode::Cubic;
  else ctx.fail("unknown mode '" + mode + "'");
  const std::string padding = n.attr_string("padding_mode", "zeros");
  if (padding == "zeros") cfg.padding = Padding::Zeros;
  else if (padding == "border") cfg.padding = Padding::Border;
  else if (padding == "reflection") cfg.padding = Padding::Reflection;
  else ctx.fail("unknown padding_mode '" + padding + "'");
  cfg.align_corners = n.attr_int("align_corners", 0) != 0;
  return cfg;
}

bool infer_grid_sample(OpContext& ctx) {
  read_config(ctx);
  const Shape& x = ctx.shape(0);
  const Shape& grid = ctx.shape(1);
  if (x.size() < 3) ctx.fail("X must have rank >= 3");
  const size_t r = x.size() - 2;
  if (ctx.opset() < 20 && r != 2) ctx.fail("opset " + std::to_string(ctx.opset()) + " samples 2-D images only");
  if (grid.size() != r + 2 || grid[0] != x[0] || grid.back() != int64_t(r))
    ctx.fail("grid has shape " + shape_str(grid) + ", expected [N, D1..D" + std::to_string(r) + ", " +
             std::to_string(r) + "]");
  if (!dtype_is_float(ctx.dtype(1))) ctx.fail("grid must be a float tensor");
  if (!dtype_in(ctx.dtype(0), kNumericTypes)) ctx.fail("X must be numeric");
  Shape out = {x[0], x[1]};
  out.insert(out.end(), grid.begin() + 1, grid.end() - 1);
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

// Reflects x by the nearer border until it lies in [lo, hi].
double reflect(double x, double lo, double hi) {
  const double range = hi - lo;
  if (range <= 0) return lo;
  if (x < lo) {
    const double dx = lo - x;
    const int64_t k = int64_t(dx / range);
    const double r = dx - double(k) * range;
    return k % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    const double dx = x - hi;
    const int64_t k = int64_t(dx / range);
    const double r = dx - double(k) * range;
    return k % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

// Keys' cubic convolution weights (alpha = -0.75) for taps at offsets -1, 0, 1, 2 from floor(x); t = x - floor(x).
void cubic_weights(double t, double w[4]) {
  constexpr double a = -0.75;
  auto near = [](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };          // |d| <= 1
  auto far = [](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  w[0] = far(t + 1);
  w[1] = near(t);
  w[2] = near(1 - t);
  w[3] = far(2 - t);
}

// The taps of one spatial dimension: input index (-1: a zero from padding) and weight.
struct Taps {
  int count = 0;
  int64_t index[4];
  double weight[4];
};

Taps dimension_taps(const GridSampleConfig& cfg, double normalized, int64_t size, int spatial_rank) {
  const double lo = cfg.align_corners ? 0.0 : -0.5;
  const double hi = cfg.align_corners ? double(size - 1) : double(size) - 0.5;
  double x = cfg.align_corners ? (normalized + 1) / 2 * double(size - 1) : ((normalized + 1) * double(size) - 1) / 2;
  if (cfg.mode == Mode::Nearest) x = spatial_rank == 3 ? std::round(x) : std::nearbyint(x);
  if (x < lo || x > hi) {
    if (cfg.padding == Padding::Border) x = std::clamp(x, 0.0, double(size - 1));
    if (cfg.padding == Padding::Reflection) x = reflect(x, lo, hi);
  }
  Taps taps;
  int64_t first;
  if (cfg.mode == Mode::Nearest) {
    taps.count = 1;
    first = int64_t(x);
    taps.weight[0] = 1;
  } else {
    const double fl = std::floor(x);
    const double t = x - fl;
    if (cfg.mode == Mode::Linear) {
      taps.count = 2;
      first = int64_t(fl);
      taps.weight[0] = 1 - t;
      taps.weight[1] = t;
    } else {
      taps.count = 4;
      first = int64_t(fl) - 1;
      cubic_weights(t, taps.weight);
    }
  }
  for (int k = 0; k < taps.count; ++k) {
    int64_t i = first + k;
    if (i < 0 || i >= size) {
      if (cfg.padding == Padding::Zeros) i = -1;
      else if (cfg.padding == Padding::Border) i = std::clamp<int64_t>(i, 0, size - 1);
      else i = std::clamp<int64_t>(int64_t(reflect(double(i), lo, hi)), 0, size - 1);
    }
    taps.index[k] = i;
  }
  return taps;
}

void grid_sample(OpContext& ctx) {
  const GridSampleConfig cfg = read_config(ctx);
  const Tensor& x = ctx.input(0);
  const Tensor& grid_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  const int r = x.rank() - 2;
  const int64_t batch = x.dim(0), channels = x.dim(1);
  const Shape spatial(x.shape().begin() + 2, x.shape().end());
  const std::vector<int64_t> strides = contiguous_strides(spatial);
  const int64_t in_plane = shape_numel(spatial);
  const int64_t out_points = shape_numel(Shape(grid_t.shape().begin() + 1, grid_t.shape().end() - 1));
  std::vector<double> grid(size_t(grid_t.numel()));
  for (int64_t i = 0; i < grid_t.numel(); ++i) grid[size_t(i)] = grid_t.as_double(i);

  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<Taps> taps(static_cast<size_t>(r));
    std::vector<int64_t> offsets;  // the input offsets and weights of the current output point
    std::vector<double> weights;
    std::vector<int> counter(static_cast<size_t>(r));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t p = 0; p < out_points; ++p) {
        const double* g = grid.data() + (n * out_points + p) * r;
        for (int d = 0; d < r; ++d) taps[size_t(d)] = dimension_taps(cfg, g[r - 1 - d], spatial[size_t(d)], r);
        offsets.clear();
        weights.clear();
        std::fill(counter.begin(), counter.end(), 0);
        for (bool more = true; more;) {  // every combination of one tap per dimension
          int64_t off = 0;
          double w = 1;
          for (int d = 0; d < r && off >= 0; ++d) {
            const int64_t i = taps[size_t(d)].index[counter[size_t(d)]];
            off = i < 0 ? -1 : off + i * strides[size_t(d)];
            w *= taps[size_t(d)].weight[counter[size_t(d)]];
          }
          if (off >= 0) {
            offsets.push_back(off);
            weights.push_back(w);
          }
          more = false;
          for (int d = r; d-- > 0;) {
            if (++counter[size_t(d)] < taps[size_t(d)].count) {
              more = true;
              break;
            }
            counter[size_t(d)] = 0;
          }
        }
        for (int64_t c = 0; c < channels; ++c) {
          const T* plane = px + (n * channels + c) * in_plane;
          double acc = 0;
          for (size_t k = 0; k < offsets.size(); ++k) acc += weights[k] * double(compute_t<T>(plane[offsets[k]]));
          py[(n * channels + c) * out_points + p] = convert<T>(acc);
        }
      }
  });
}

Cost grid_sample_cost(const OpContext& ctx) {
  const int r = ctx.rank(0) - 2;
  const std::string mode = ctx.node().attr_string("mode", "linear");
  const double taps_per_dim = mode == "nearest" ? 1 : (mode == "bicubic" || mode == "cubic") ? 4 : 2;
  return elementwise_cost(ctx, 2.0 * std::pow(taps_per_dim, r));
}

}  // namespace

void register_grid_sample_ops(OpTable& t) {
  t.add({.name = "GridSample", .infer = infer_grid_sample, .compute = grid_sample, .cost = grid_sample_cost});
}

}  // namespace infera
