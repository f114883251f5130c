// Normalisation: BatchNormalization (inference), InstanceNormalization, LayerNormalization, GroupNormalization
// and MeanVarianceNormalization. Statistics are accumulated in double.
#include <cmath>

#include "ops/helpers.h"

namespace infera {

namespace {

void require_float(const OpContext& ctx, int i) {
  if (!dtype_is_float(ctx.dtype(i)))
    ctx.fail("input " + std::to_string(i) + " has type " + std::string(dtype_name(ctx.dtype(i))) +
             ", a float type is required");
}

// The values of a small parameter tensor (scale, bias, mean...) as doubles.
std::vector<double> doubles(const Tensor& t) {
  std::vector<double> v(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[size_t(i)] = t.as_double(i);
  return v;
}

// A parameter tensor of shape `shape` broadcast (unidirectionally) to `target`, as doubles.
std::vector<double> broadcast_doubles(const OpContext& ctx, const Tensor& t, const Shape& target) {
  if (broadcast_shapes(ctx, {t.shape(), target}) != target)
    ctx.fail("parameter of shape " + shape_str(t.shape()) + " does not broadcast to " + shape_str(target));
  std::vector<double> v(size_t(shape_numel(target)));
  broadcast_loop<1>(target, {t.shape()}, [&](int64_t i, const std::array<int64_t, 1>& off) {
    v[size_t(i)] = t.as_double(off[0]);
  });
  return v;
}

// Normalises each of `runs` contiguous runs of `size` elements to zero mean and unit variance, then applies
// affine(run, j, normalized). Writes each run's mean and 1/sqrt(var + epsilon) when asked (LayerNormalization).
template <class Affine>
void normalize_runs(const Tensor& x, Tensor& y, int64_t runs, int64_t size, double epsilon, Affine affine,
                    Tensor* mean_out = nullptr, Tensor* inv_std_out = nullptr) {
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < runs; ++r) {
      const T* in = px + r * size;
      double mean = 0, var = 0;
      for (int64_t j = 0; j < size; ++j) mean += double(in[j]);
      mean = size ? mean / double(size) : 0.0;
      for (int64_t j = 0; j < size; ++j) var += (double(in[j]) - mean) * (double(in[j]) - mean);
      var = size ? var / double(size) : 0.0;
      const double inv_std = 1.0 / std::sqrt(var + epsilon);
      for (int64_t j = 0; j < size; ++j) py[r * size + j] = T(compute_t<T>(affine(r, j, (double(in[j]) - mean) * inv_std)));
      if (mean_out)
        visit_float(mean_out->dtype(), [&](auto stat_tag) {
          using S = typename decltype(stat_tag)::type;
          mean_out->data<S>()[r] = S(compute_t<S>(mean));
          inv_std_out->data<S>()[r] = S(compute_t<S>(inv_std));
        });
    }
  });
}

Cost normalization_cost(const OpContext& ctx) { return elementwise_cost(ctx, 6.0); }

// BatchNormalization, inference only: per-channel (or, with spatial=0 before opset 9, per-activation)
// y = (x - mean) / sqrt(var + epsilon) * scale + bias.
bool infer_batch_norm(OpContext& ctx) {
  require_float(ctx, 0);
  if (ctx.opset() >= 14 && ctx.node().attr_int("training_mode", 0) != 0)
    ctx.fail("training_mode=1 is not supported (inference only)");
  if (ctx.opset() < 7 && ctx.node().has_attr("is_test") && ctx.node().attr_int("is_test", 0) == 0)
    ctx.fail("training mode (is_test=0) is not supported (inference only)");
  for (int i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) ctx.fail("training outputs (running / saved statistics) are not supported");
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(ctx.shape(0)));
  const bool per_activation = ctx.opset() < 9 && ctx.node().attr_int("spatial", 1) == 0;
  const int64_t params =
      per_activation ? shape_numel(Shape(ctx.shape(0).begin() + 1, ctx.shape(0).end())) : ctx.shape(0)[1];
  for (int i = 1; i <= 4; ++i) {
    require_float(ctx, i);
    if (shape_numel(ctx.shape(i)) != params)
      ctx.fail("parameter " + std::to_string(i) + " of shape " + shape_str(ctx.shape(i)) + " must have " +
               std::to_string(params) + " elements");
  }
  return infer_same_as_input(ctx);
}

void batch_norm(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const std::vector<double> scale = doubles(ctx.input(1)), bias = doubles(ctx.input(2)),
                            mean = doubles(ctx.input(3)), var = doubles(ctx.input(4));
  const double epsilon = ctx.node().attr_float("epsilon", 1e-5f);
  const int64_t channels = x.dim(1), inner = channels ? x.numel() / (x.dim(0) * channels) : 0;
  const bool per_activation = int64_t(scale.size()) != channels;  // one parameter per (channel, position)
  const int64_t params = int64_t(scale.size());
  std::vector<double> mul(scale.size()), add(scale.size());
  for (size_t i = 0; i < scale.size(); ++i) {
    mul[i] = scale[i] / std::sqrt(var[i] + epsilon);
    add[i] = bias[i] - mean[i] * mul[i];
  }
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t run = 0; run < x.dim(0) * channels; ++run) {
      const int64_t c = run % channels;
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t p = per_activation ? (c * inner + i) % params : c;
        py[run * inner + i] = T(C(double(px[run * inner + i]) * mul[size_t(p)] + add[size_t(p)]));
      }
    }
  });
}

// InstanceNormalization: every (n, c) plane normalised, then per-channel scale and bias.
bool infer_instance_norm(OpContext& ctx) {
  for (int i = 0; i < 3; ++i) require_float(ctx, i);
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(ctx.shape(0)));
  for (int i = 1; i < 3; ++i)
    if (ctx.shape(i) != Shape{ctx.shape(0)[1]})
      ctx.fail("scale and bias must have shape [" + std::to_string(ctx.shape(0)[1]) + "], got " +
               shape_str(ctx.shape(i)));
  return infer_same_as_input(ctx);
}

void instance_norm(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<double> scale = doubles(ctx.input(1)), bias = doubles(ctx.input(2));
  const int64_t channels = x.dim(1), runs = x.dim(0) * channels, size = runs ? x.numel() / runs : 0;
  normalize_runs(x, ctx.output(0), runs, size, ctx.node().attr_float("epsilon", 1e-5f),
                 [&](int64_t r, int64_t, double v) { return v * scale[size_t(r % channels)] + bias[size_t(r % channels)]; });
}

// LayerNormalization: normalised over the dims from `axis` on; Scale and B broadcast to those dims. Mean and
// InvStdDev have X's shape with the normalised dims set to 1, in the stash_type.
bool infer_layer_norm(OpContext& ctx) {
  require_float(ctx, 0);
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", -1), ctx.rank(0));
  const Shape normalized(ctx.shape(0).begin() + axis, ctx.shape(0).end());
  for (int i = 1; i < 3; ++i)
    if (ctx.has_input(i) && broadcast_shapes(ctx, {ctx.shape(i), normalized}) != normalized)
      ctx.fail("input " + std::to_string(i) + " of shape " + shape_str(ctx.shape(i)) + " does not broadcast to " +
               shape_str(normalized));
  const DType stash = DType(ctx.node().attr_int("stash_type", 1));
  if (!dtype_is_float(stash)) ctx.fail("stash_type must be a float type");
  Shape stat_shape = ctx.shape(0);
  std::fill(stat_shape.begin() + axis, stat_shape.end(), 1);
  ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  ctx.set_output(1, stash, stat_shape);
  ctx.set_output(2, stash, stat_shape);
  return true;
}

void layer_norm(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", -1), x.rank());
  const Shape normalized(x.shape().begin() + axis, x.shape().end());
  const int64_t size = shape_numel(normalized), runs = size ? x.numel() / size : 0;
  const std::vector<double> scale = broadcast_doubles(ctx, ctx.input(1), normalized);
  const std::vector<double> bias =
      ctx.has_input(2) ? broadcast_doubles(ctx, ctx.input(2), normalized) : std::vector<double>(size_t(size), 0.0);
  Tensor* mean = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  Tensor* inv_std = ctx.has_output(2) ? &ctx.output(2) : nullptr;
  Tensor mean_scratch, inv_std_scratch;  // when only one of the two statistics is requested
  if (mean || inv_std) {
    const TensorType& stat = ctx.output_type(1);
    if (!mean) mean = &(mean_scratch = Tensor(stat.dtype, stat.shape));
    if (!inv_std) inv_std = &(inv_std_scratch = Tensor(stat.dtype, stat.shape));
  }
  normalize_runs(
      x, ctx.output(0), runs, size, ctx.node().attr_float("epsilon", 1e-5f),
      [&](int64_t, int64_t j, double v) { return v * scale[size_t(j)] + bias[size_t(j)]; }, mean, inv_std);
}

// GroupNormalization: channels split into num_groups groups normalised together. Scale and bias are per group
// in opset 18 and per channel from opset 21; the parameter length tells which.
bool infer_group_norm(OpContext& ctx) {
  for (int i = 0; i < 3; ++i) require_float(ctx, i);
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(ctx.shape(0)));
  const int64_t groups = ctx.node().attr_int("num_groups", 0), channels = ctx.shape(0)[1];
  if (groups < 1 || channels % groups != 0)
    ctx.fail("num_groups " + std::to_string(groups) + " must be positive and divide the channels " +
             std::to_string(channels));
  for (int i = 1; i < 3; ++i)
    if (ctx.shape(i) != Shape{channels} && ctx.shape(i) != Shape{groups})
      ctx.fail("scale and bias must have shape [" + std::to_string(channels) + "] or [" + std::to_string(groups) +
               "], got " + shape_str(ctx.shape(i)));
  return infer_same_as_input(ctx);
}

void group_norm(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<double> scale = doubles(ctx.input(1)), bias = doubles(ctx.input(2));
  const int64_t groups = ctx.node().attr_int("num_groups", 0), channels = x.dim(1);
  const int64_t runs = x.dim(0) * groups, size = runs ? x.numel() / runs : 0;
  const int64_t plane = channels ? size * groups / channels : 0;
  const bool per_channel = int64_t(scale.size()) == channels;
  normalize_runs(x, ctx.output(0), runs, size, ctx.node().attr_float("epsilon", 1e-5f),
                 [&](int64_t r, int64_t j, double v) {
                   const int64_t group = r % groups;
                   const size_t p = size_t(per_channel ? group * (channels / groups) + (plane ? j / plane : 0) : group);
                   return v * scale[p] + bias[p];
                 });
}

// MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) over `axes` (default N, H, W), as its ONNX
// function body defines it.
std::vector<int> mvn_axes(const OpContext& ctx) {
  return normalize_axes(ctx, ctx.node().attr_ints("axes", {0, 2, 3}), ctx.rank(0));
}

bool infer_mvn(OpContext& ctx) {
  require_float(ctx, 0);
  mvn_axes(ctx);
  return infer_same_as_input(ctx);
}

void mvn(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  Shape stat_shape = x.shape();
  for (int a : mvn_axes(ctx)) stat_shape[size_t(a)] = 1;
  const int64_t count = shape_numel(stat_shape) ? x.numel() / shape_numel(stat_shape) : 0;
  const size_t stats = size_t(shape_numel(stat_shape));
  std::vector<double> sum(stats, 0.0), square_sum(stats, 0.0);
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    broadcast_loop<1>(x.shape(), {stat_shape}, [&](int64_t i, const std::array<int64_t, 1>& off) {
      const double v = double(px[i]);
      sum[size_t(off[0])] += v;
      square_sum[size_t(off[0])] += v * v;
    });
    std::vector<double> mean(stats), inv(stats);
    for (size_t s = 0; s < stats; ++s) {
      mean[s] = sum[s] / double(count);
      inv[s] = 1.0 / (std::sqrt(std::max(0.0, square_sum[s] / double(count) - mean[s] * mean[s])) + 1e-9);
    }
    broadcast_loop<1>(x.shape(), {stat_shape}, [&](int64_t i, const std::array<int64_t, 1>& off) {
      py[i] = T(compute_t<T>((double(px[i]) - mean[size_t(off[0])]) * inv[size_t(off[0])]));
    });
  });
}

}  // namespace

void register_normalization_ops(OpTable& t) {
  t.add({.name = "BatchNormalization", .infer = infer_batch_norm, .compute = batch_norm, .cost = normalization_cost});
  t.add({.name = "InstanceNormalization", .infer = infer_instance_norm, .compute = instance_norm,
         .cost = normalization_cost});
  t.add({.name = "LayerNormalization", .infer = infer_layer_norm, .compute = layer_norm, .cost = normalization_cost});
  t.add({.name = "GroupNormalization", .infer = infer_group_norm, .compute = group_norm, .cost = normalization_cost});
  t.add({.name = "MeanVarianceNormalization", .infer = infer_mvn, .compute = mvn, .cost = normalization_cost});
}

}  // namespace infera
