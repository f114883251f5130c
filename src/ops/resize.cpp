// Resize (opsets 10-19) and the deprecated Upsample (7-9): nearest, N-linear and cubic interpolation over any set
// of axes. Every axis is resampled independently: an output coordinate maps back to an input coordinate
// (coordinate_transformation_mode), which picks input taps and their weights; N-dimensional interpolation is the
// product of the per-axis weights, applied one axis at a time.
#include <cmath>
#include <limits>

#include "ops/helpers.h"

namespace infera {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Coord {
  HalfPixel,
  HalfPixelSymmetric,
  PytorchHalfPixel,
  AlignCorners,
  Asymmetric,
  TfHalfPixelForNN,
  TfCropAndResize
};
// Legacy: Upsample and Resize-10, which had no nearest_mode: floor when upsampling, ceil when downsampling.
enum class Rounding { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Legacy };

struct ResizeParams {
  Mode mode = Mode::Nearest;
  Coord coord = Coord::Asymmetric;
  Rounding rounding = Rounding::Legacy;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0;
  std::vector<int> axes;      // the axes that scales, sizes and roi describe
  std::vector<double> scales;  // per input axis
  Shape out_shape;
};

// Which inputs hold roi, scales and sizes (-1: none); Upsample-7 has its scales as an attribute.
struct ResizeInputs {
  int roi = -1, scales = -1, sizes = -1;
};

ResizeInputs resize_inputs(const OpContext& ctx) {
  if (ctx.node().op_type == "Upsample") return {.scales = ctx.opset() >= 9 ? 1 : -1};
  if (ctx.opset() < 11) return {.scales = 1};
  return {.roi = 1, .scales = 2, .sizes = 3};
}

Mode parse_mode(const OpContext& ctx, bool legacy) {
  const std::string m = ctx.node().attr_string("mode", "nearest");
  if (m == "nearest") return Mode::Nearest;
  if (m == "linear") return Mode::Linear;
  if (m == "cubic" && !legacy) return Mode::Cubic;
  ctx.fail("unsupported mode '" + m + "'");
}

Coord parse_coord(const OpContext& ctx) {
  const std::string c = ctx.node().attr_string("coordinate_transformation_mode", "half_pixel");
  if (c == "half_pixel") return Coord::HalfPixel;
  if (c == "half_pixel_symmetric" && ctx.opset() >= 19) return Coord::HalfPixelSymmetric;
  if (c == "pytorch_half_pixel") return Coord::PytorchHalfPixel;
  if (c == "align_corners") return Coord::AlignCorners;
  if (c == "asymmetric") return Coord::Asymmetric;
  if (c == "tf_half_pixel_for_nn" && ctx.opset() < 13) return Coord::TfHalfPixelForNN;
  if (c == "tf_crop_and_resize") return Coord::TfCropAndResize;
  ctx.fail("unsupported coordinate_transformation_mode '" + c + "'");
}

Rounding parse_rounding(const OpContext& ctx) {
  const std::string n = ctx.node().attr_string("nearest_mode", "round_prefer_floor");
  if (n == "round_prefer_floor") return Rounding::RoundPreferFloor;
  if (n == "round_prefer_ceil") return Rounding::RoundPreferCeil;
  if (n == "floor") return Rounding::Floor;
  if (n == "ceil") return Rounding::Ceil;
  ctx.fail("unsupported nearest_mode '" + n + "'");
}

// A float list from an optional input (empty when absent or empty). Returns false when its value is not known.
bool float_list_input(const OpContext& ctx, int i, std::vector<double>& out) {
  out.clear();
  if (i < 0 || !ctx.has_input(i)) return true;
  const Tensor* v = ctx.value(i);
  if (!v) return false;
  if (!dtype_is_float(v->dtype())) ctx.fail("input " + std::to_string(i) + " must be a float tensor");
  for (int64_t k = 0; k < v->numel(); ++k) out.push_back(v->as_double(k));
  return true;
}

// Reads attributes and the scales/sizes values into p. Returns false when the output shape depends on a value that
// is not known yet.
bool resize_params(const OpContext& ctx, ResizeParams& p) {
  const bool upsample = ctx.node().op_type == "Upsample";
  const bool legacy = upsample || ctx.opset() < 11;
  const int rank = ctx.rank(0);
  if (rank == 0) ctx.fail("input must have rank >= 1");
  p.mode = parse_mode(ctx, legacy);
  if (!legacy) {
    p.coord = parse_coord(ctx);
    p.rounding = parse_rounding(ctx);
    p.cubic_a = ctx.node().attr_float("cubic_coeff_a", -0.75f);
    p.exclude_outside = ctx.node().attr_int("exclude_outside", 0) != 0;
    p.extrapolation_value = ctx.node().attr_float("extrapolation_value", 0.0f);
  }
  p.axes.clear();
  if (ctx.opset() >= 18 && !upsample) {
    p.antialias = ctx.node().attr_int("antialias", 0) != 0;
    p.axes = normalize_axes(ctx, ctx.node().attr_ints("axes"), rank);
    std::vector<bool> seen(size_t(rank), false);
    for (int a : p.axes) {
      if (seen[size_t(a)]) ctx.fail("axis " + std::to_string(a) + " is repeated in axes");
      seen[size_t(a)] = true;
    }
  }
  if (p.axes.empty())
    for (int d = 0; d < rank; ++d) p.axes.push_back(d);
  if (p.antialias && p.mode == Mode::Nearest) ctx.fail("antialias is not supported with mode nearest");

  const ResizeInputs in = resize_inputs(ctx);
  std::vector<double> scales;
  std::vector<int64_t> sizes;
  if (upsample && ctx.opset() < 9) {
    for (float s : ctx.node().attr_floats("scales")) scales.push_back(s);
  } else if (!float_list_input(ctx, in.scales, scales)) {
    return false;
  }
  if (in.sizes >= 0 && !int_list_input(ctx, in.sizes, sizes)) return false;
  if (!scales.empty() && !sizes.empty()) ctx.fail("only one of scales and sizes may be given");
  if (scales.empty() && sizes.empty()) ctx.fail("one of scales and sizes is required");
  const size_t count = scales.empty() ? sizes.size() : scales.size();
  if (count != p.axes.size())
    ctx.fail((scales.empty() ? "sizes" : "scales") + std::string(" has ") + std::to_string(count) +
             " values, expected " + std::to_string(p.axes.size()));

  const Shape& in_shape = ctx.shape(0);
  p.scales.assign(size_t(rank), 1.0);
  p.out_shape = in_shape;
  if (!scales.empty()) {
    for (size_t i = 0; i < count; ++i) {
      if (!(scales[i] > 0) || !std::isfinite(scales[i])) ctx.fail("scales must be positive");
      const int a = p.axes[i];
      p.scales[size_t(a)] = scales[i];
      p.out_shape[size_t(a)] = int64_t(std::floor(double(in_shape[size_t(a)]) * scales[i]));
    }
  } else {
    for (size_t i = 0; i < count; ++i) {
      if (sizes[i] < 0) ctx.fail("sizes must be non-negative");
      const int a = p.axes[i];
      if (in_shape[size_t(a)] == 0 && sizes[i] != 0) ctx.fail("cannot resize an empty axis to a non-empty size");
      p.out_shape[size_t(a)] = sizes[i];
      p.scales[size_t(a)] = in_shape[size_t(a)] == 0 ? 1.0 : double(sizes[i]) / double(in_shape[size_t(a)]);
    }
    const std::string policy =
        ctx.opset() >= 18 ? ctx.node().attr_string("keep_aspect_ratio_policy", "stretch") : "stretch";
    if (policy == "not_larger" || policy == "not_smaller") {
      double scale = p.scales[size_t(p.axes[0])];
      for (int a : p.axes)
        scale = policy == "not_larger" ? std::min(scale, p.scales[size_t(a)]) : std::max(scale, p.scales[size_t(a)]);
      for (int a : p.axes) {
        p.scales[size_t(a)] = scale;
        p.out_shape[size_t(a)] = int64_t(std::floor(scale * double(in_shape[size_t(a)]) + 0.5));
      }
    } else if (policy != "stretch") {
      ctx.fail("unsupported keep_aspect_ratio_policy '" + policy + "'");
    }
  }
  return true;
}

// The crop window [start, end] (fractions of the input) for each input axis: input roi, laid out as all starts
// then all ends over the resized axes; the whole axis elsewhere.
void crop_window(const OpContext& ctx, const ResizeParams& p, std::vector<double>& start, std::vector<double>& end) {
  const size_t rank = size_t(ctx.rank(0));
  start.assign(rank, 0.0);
  end.assign(rank, 1.0);
  std::vector<double> roi;
  float_list_input(ctx, resize_inputs(ctx).roi, roi);
  if (roi.empty()) return;
  if (roi.size() != 2 * p.axes.size())
    ctx.fail("roi has " + std::to_string(roi.size()) + " values, expected " + std::to_string(2 * p.axes.size()));
  for (size_t i = 0; i < p.axes.size(); ++i) {
    start[size_t(p.axes[i])] = roi[i];
    end[size_t(p.axes[i])] = roi[p.axes.size() + i];
  }
}

// How one output axis reads its input axis: for output coordinate x, taps first[x] .. first[x+1]-1 (clamped input
// indices and weights); outside[x] means the point falls outside the crop window (extrapolation_value).
struct AxisTaps {
  std::vector<int64_t> first, index;
  std::vector<double> weight;
  std::vector<bool> outside;
  bool identity = true;  // every output coordinate reads exactly its own input coordinate
};

// The input coordinate that output coordinate x maps to, following the reference implementation: the resized
// length is taken as the unrounded scale * in_len.
double source_coordinate(const ResizeParams& p, double x, double scale, int64_t in_len, int64_t out_len,
                         double roi_start, double roi_end) {
  const double in = double(in_len), out = scale * in;
  switch (p.coord) {
    case Coord::HalfPixel: return (x + 0.5) / scale - 0.5;
    case Coord::HalfPixelSymmetric: {
      const double offset = in / 2 * (1 - double(out_len) / out);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case Coord::PytorchHalfPixel: return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coord::AlignCorners: return out_len > 1 ? x * (in - 1) / (out - 1) : 0.0;
    case Coord::Asymmetric: return x / scale;
    case Coord::TfHalfPixelForNN: return (x + 0.5) / scale;
    case Coord::TfCropAndResize:
      if (out_len > 1) return roi_start * (in - 1) + x * (roi_end - roi_start) * (in - 1) / (out - 1);
      return 0.5 * (roi_start + roi_end) * (in - 1);
  }
  return 0;
}

double cubic_kernel(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

AxisTaps axis_taps(const ResizeParams& p, int64_t in_len, int64_t out_len, double scale, double roi_start,
                   double roi_end) {
  AxisTaps t;
  t.first.push_back(0);
  // Antialiasing stretches the kernel by 1/scale when downsampling.
  const double kernel_scale = p.antialias ? std::min(scale, 1.0) : 1.0;
  const double reach = p.mode == Mode::Cubic ? 2.0 : 1.0;  // kernel support radius in input pixels at scale 1
  const int64_t lo = p.mode == Mode::Nearest ? 0 : int64_t(std::floor(-reach / kernel_scale)) + 1;
  const int64_t hi = p.mode == Mode::Nearest ? 1 : 1 - lo;
  std::vector<double> w;
  for (int64_t x = 0; x < out_len; ++x) {
    const double src = source_coordinate(p, double(x), scale, in_len, out_len, roi_start, roi_end);
    const bool outside = p.coord == Coord::TfCropAndResize && (src < 0 || src > double(in_len - 1));
    t.outside.push_back(outside);
    if (outside) {
      t.identity = false;
      t.first.push_back(int64_t(t.index.size()));
      continue;
    }
    // src = base + ratio with ratio in (0, 1]: an integral src is reached from the tap on its left.
    const double fl = std::floor(src);
    const int64_t base = fl == src ? int64_t(fl) - 1 : int64_t(fl);
    const double ratio = src - double(base);
    w.clear();
    if (p.mode == Mode::Nearest) {
      int64_t pick = base + 1;
      if (p.rounding == Rounding::Legacy) {
        pick = int64_t(scale < 1 ? std::ceil(src) : std::floor(src));
      } else if (ratio < 1) {
        const bool down = p.rounding == Rounding::Floor || (p.rounding == Rounding::RoundPreferFloor && ratio <= 0.5) ||
                          (p.rounding == Rounding::RoundPreferCeil && ratio < 0.5);
        pick = down ? base : base + 1;
      }
      t.index.push_back(std::clamp<int64_t>(pick, 0, in_len - 1));
      t.weight.push_back(1.0);
    } else {
      double sum = 0;
      for (int64_t i = lo; i <= hi; ++i) {
        const double d = (double(i) - ratio) * kernel_scale;
        double v = p.mode == Mode::Linear ? std::max(0.0, 1 - std::fabs(d)) : cubic_kernel(d, p.cubic_a);
        if (p.exclude_outside && (base + i < 0 || base + i >= in_len)) v = 0;
        w.push_back(v);
        sum += v;
      }
      for (int64_t i = lo; i <= hi; ++i) {
        const double v = sum != 0 ? w[size_t(i - lo)] / sum : 0.0;
        if (v == 0) continue;
        t.index.push_back(std::clamp<int64_t>(base + i, 0, in_len - 1));
        t.weight.push_back(v);
      }
    }
    const int64_t n = int64_t(t.index.size()) - t.first.back();
    if (n != 1 || t.index.back() != x || t.weight.back() != 1.0) t.identity = false;
    t.first.push_back(int64_t(t.index.size()));
  }
  if (in_len != out_len) t.identity = false;
  return t;
}

std::vector<AxisTaps> all_axis_taps(const OpContext& ctx, const ResizeParams& p) {
  std::vector<double> start, end;
  if (p.coord == Coord::TfCropAndResize) crop_window(ctx, p, start, end);
  std::vector<AxisTaps> taps;
  for (int d = 0; d < ctx.rank(0); ++d)
    taps.push_back(axis_taps(p, ctx.shape(0)[size_t(d)], p.out_shape[size_t(d)], p.scales[size_t(d)],
                             start.empty() ? 0.0 : start[size_t(d)], end.empty() ? 1.0 : end[size_t(d)]));
  return taps;
}


// Nearest: every output element copies one input element (or is the extrapolation value); no arithmetic, so any
// type works and values stay exact.
template <class T>
void resample_nearest(const Tensor& x, Tensor& y, const std::vector<AxisTaps>& taps, T fill) {
  const size_t r = size_t(x.rank());
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  std::vector<std::vector<int64_t>> offset(r);  // per axis and output coordinate: input offset, or -1 when outside
  for (size_t d = 0; d < r; ++d)
    for (size_t k = 0; k < taps[d].outside.size(); ++k)
      offset[d].push_back(taps[d].outside[k] ? -1 : taps[d].index[size_t(taps[d].first[k])] * in_strides[d]);
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const int64_t inner = y.dim(int(r - 1));
  const std::vector<int64_t>& last = offset[r - 1];
  std::vector<int64_t> counter(r - 1, 0);
  for (int64_t row = 0, rows = y.numel() / inner; row < rows; ++row) {
    int64_t base = 0;
    bool outside = false;
    for (size_t d = 0; d + 1 < r; ++d) {
      const int64_t o = offset[d][size_t(counter[d])];
      outside = outside || o < 0;
      base += o;
    }
    T* out = py + row * inner;
    for (int64_t i = 0; i < inner; ++i) out[i] = outside || last[size_t(i)] < 0 ? fill : px[base + last[size_t(i)]];
    for (size_t d = r - 1; d-- > 0;) {
      if (++counter[d] < y.dim(int(d))) break;
      counter[d] = 0;
    }
  }
}

// Linear and cubic: one weighted pass per resized axis, in double.
template <class T>
void resample_weighted(const Tensor& x, Tensor& y, const std::vector<AxisTaps>& taps, double fill) {
  const T* px = x.data<T>();
  std::vector<double> cur(size_t(x.numel()));
  for (size_t i = 0; i < cur.size(); ++i) cur[i] = double(compute_t<T>(px[i]));
  Shape shape = x.shape();
  for (size_t d = 0; d < shape.size(); ++d) {
    const AxisTaps& t = taps[d];
    if (t.identity) continue;
    const int64_t in_len = shape[d], out_len = y.dim(int(d));
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < d; ++k) outer *= shape[k];
    for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
    std::vector<double> next(size_t(outer * out_len * inner), 0.0);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < out_len; ++k) {
        double* dst = next.data() + (o * out_len + k) * inner;
        if (t.outside[size_t(k)]) {
          std::fill(dst, dst + inner, fill);
          continue;
        }
        for (int64_t j = t.first[size_t(k)]; j < t.first[size_t(k) + 1]; ++j) {
          const double* src = cur.data() + (o * in_len + t.index[size_t(j)]) * inner;
          const double w = t.weight[size_t(j)];
          for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
        }
      }
    }
    cur = std::move(next);
    shape[d] = out_len;
  }
  T* py = y.data<T>();
  for (size_t i = 0; i < cur.size(); ++i) py[i] = convert<T, double>(cur[i]);
}

bool infer_resize(OpContext& ctx) {
  ResizeParams p;
  if (!resize_params(ctx, p)) return false;
  ctx.set_output(0, ctx.dtype(0), p.out_shape);
  return true;
}

void compute_resize(OpContext& ctx) {
  ResizeParams p;
  resize_params(ctx, p);
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const std::vector<AxisTaps> taps = all_axis_taps(ctx, p);
  if (p.mode == Mode::Nearest) {
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      resample_nearest<T>(x, y, taps, convert<T, double>(p.extrapolation_value));
    });
  } else {
    visit_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      resample_weighted<T>(x, y, taps, p.extrapolation_value);
    });
  }
}

// One FLOP per output element for nearest; 2 (linear) or 4 (cubic) taps per resized axis otherwise.
Cost resize_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const std::string mode = ctx.node().attr_string("mode", "nearest");
  const double taps = mode == "cubic" ? 4 : mode == "linear" ? 2 : 1;
  const Shape& out = ctx.output_type(0).shape;
  double per_element = 1;
  for (size_t d = 0; d < out.size(); ++d)
    if (out[d] != ctx.shape(0)[d]) per_element *= taps;
  c.flops = per_element * double(shape_numel(out));
  return c;
}

}  // namespace

void register_resize_ops(OpTable& t) {
  t.add({.name = "Resize", .infer = infer_resize, .compute = compute_resize, .cost = resize_cost});
  t.add({.name = "Upsample", .infer = infer_resize, .compute = compute_resize, .cost = resize_cost});
}

}  // namespace infera
