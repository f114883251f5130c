// Softmax, LogSoftmax and Hardmax along one axis (opset >= 13) or over the input coerced to 2-D at that axis
// (opset < 13); the losses built on them (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss); Dropout in
// inference mode.
#include <cmath>

#include "ops/helpers.h"

namespace infera {

namespace {

// The input as `outer` independent slices of `length` elements spaced `stride` apart (slice i, element j at
// (i / stride) * length * stride + i % stride + j * stride).
struct SliceLayout {
  int64_t outer = 0, length = 0, stride = 1;
};

SliceLayout slice_layout(const OpContext& ctx) {
  const Shape& shape = ctx.shape(0);
  const bool coerce_2d = ctx.opset() < 13;
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", coerce_2d ? 1 : -1), ctx.rank(0));
  int64_t before = 1, at = 1, after = 1;
  for (int d = 0; d < ctx.rank(0); ++d) (d < axis ? before : d == axis ? at : after) *= shape[size_t(d)];
  if (coerce_2d) return {before, at * after, 1};
  return {before * after, at, after};
}

bool infer_softmax(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  slice_layout(ctx);
  return infer_same_as_input(ctx);
}

enum class Normalizer { Softmax, LogSoftmax, Hardmax };

// Normalises every slice of x (laid out as `s` says) into y.
template <Normalizer kind, class T>
void normalize_slices(const T* px, T* py, const SliceLayout& s) {
  using C = compute_t<T>;
  std::vector<C> row(size_t(s.length));
  for (int64_t i = 0; i < s.outer && s.length > 0; ++i) {
    const int64_t base = (i / s.stride) * s.length * s.stride + i % s.stride;
    for (int64_t j = 0; j < s.length; ++j) row[size_t(j)] = C(px[base + j * s.stride]);
    int64_t argmax = 0;
    for (int64_t j = 1; j < s.length; ++j)
      if (row[size_t(j)] > row[size_t(argmax)]) argmax = j;
    const C max = row[size_t(argmax)];
    if constexpr (kind == Normalizer::Hardmax) {
      for (int64_t j = 0; j < s.length; ++j) py[base + j * s.stride] = T(C(j == argmax ? 1 : 0));
    } else {
      C sum = 0;
      for (C& v : row) {
        v = std::exp(v - max);
        sum += v;
      }
      if constexpr (kind == Normalizer::Softmax) {
        for (int64_t j = 0; j < s.length; ++j) py[base + j * s.stride] = T(row[size_t(j)] / sum);
      } else {
        const C log_sum = std::log(sum);
        for (int64_t j = 0; j < s.length; ++j) py[base + j * s.stride] = T(C(px[base + j * s.stride]) - max - log_sum);
      }
    }
  }
}

template <Normalizer kind>
void compute_softmax(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    normalize_slices<kind>(x.data<T>(), y.data<T>(), slice_layout(ctx));
  });
}

Cost softmax_cost(const OpContext& ctx) { return elementwise_cost(ctx, 5.0); }

// Dropout is the identity at inference. The optional mask is all ones: of the input's type before opset 10, bool
// from then on.
bool infer_dropout(OpContext& ctx) {
  if (ctx.opset() < 7 && ctx.node().has_attr("is_test") && ctx.node().attr_int("is_test", 0) == 0)
    ctx.fail("training mode (is_test=0) is not supported");
  if (ctx.has_input(2)) {
    const Tensor* training = ctx.value(2);
    if (!training) return false;
    if (training->numel() != 1) ctx.fail("training_mode must be a scalar");
    // Training with ratio 0 drops nothing and stays deterministic; any other ratio is random.
    const Tensor* ratio = ctx.value(1);
    if (training->as_int(0) != 0 && ctx.has_input(1) && !ratio) return false;
    if (training->as_int(0) != 0 && !(ratio && ratio->numel() == 1 && ratio->as_double(0) == 0.0))
      ctx.fail("training_mode=1 (random dropout) is not supported");
  }
  ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  ctx.set_output(1, ctx.opset() < 10 ? ctx.dtype(0) : DType::Bool, ctx.shape(0));
  return true;
}

void dropout(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.set_output_tensor(0, x);
  if (!ctx.has_output(1)) return;
  Tensor& mask = ctx.output(1);
  visit_dtype(mask.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::fill(mask.data<T>(), mask.data<T>() + mask.numel(), T(1));
  });
}

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: input N x C x d1..dk, integer target N x d1..dk,
// optional per-class weight. Each element's loss is -input[n, target, d...] * weight[target] (0 where target is
// ignore_index); reduction "none" keeps them, "sum" adds them, "mean" divides the sum by the summed weights.
bool infer_loss(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  if (ctx.dtype(1) != DType::Int32 && ctx.dtype(1) != DType::Int64) ctx.fail("target must be int32 or int64");
  const Shape& x = ctx.shape(0);
  Shape expected_target = x;
  if (x.size() < 2) ctx.fail("input must have rank >= 2 (N x C x ...), got " + shape_str(x));
  expected_target.erase(expected_target.begin() + 1);
  if (ctx.shape(1) != expected_target)
    ctx.fail("target shape " + shape_str(ctx.shape(1)) + " must be " + shape_str(expected_target));
  if (ctx.has_input(2) && ctx.shape(2) != Shape{x[1]})
    ctx.fail("weight shape " + shape_str(ctx.shape(2)) + " must be [" + std::to_string(x[1]) + "]");
  const std::string reduction = ctx.node().attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") ctx.fail("unknown reduction '" + reduction + "'");
  ctx.set_output(0, ctx.dtype(0), reduction == "none" ? expected_target : Shape{});
  ctx.set_output(1, ctx.dtype(0), x);  // SoftmaxCrossEntropyLoss's log_prob
  return true;
}

// The loss of log-probabilities (or NLL's input) `log_prob` of shape N x C x D into ctx.output(0).
template <class T>
void nll_loss(OpContext& ctx, const T* log_prob) {
  const Shape& x = ctx.shape(0);
  const Tensor& target = ctx.input(1);
  const Tensor* weight = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const bool has_ignore = ctx.node().has_attr("ignore_index");
  const int64_t ignore = ctx.node().attr_int("ignore_index", 0);
  const int64_t classes = x[1], inner = shape_numel(x) / std::max<int64_t>(1, x[0] * classes);
  const std::string reduction = ctx.node().attr_string("reduction", "mean");
  Tensor& y = ctx.output(0);
  T* py = y.data<T>();
  double total = 0, weight_sum = 0;
  for (int64_t i = 0; i < target.numel(); ++i) {
    const int64_t t = target.as_int(i);
    if (has_ignore && t == ignore) continue;
    if (t < 0 || t >= classes)
      ctx.fail("target " + std::to_string(t) + " is out of range for " + std::to_string(classes) + " classes");
    const double w = weight ? weight->as_double(t) : 1.0;
    const int64_t n = i / inner, d = i % inner;
    const double loss = -double(log_prob[(n * classes + t) * inner + d]) * w;
    if (reduction == "none") py[i] = T(compute_t<T>(loss));
    total += loss;
    weight_sum += w;
  }
  if (reduction == "sum") py[0] = T(compute_t<T>(total));
  if (reduction == "mean") py[0] = T(compute_t<T>(weight_sum != 0 ? total / weight_sum : 0.0));
}

void nll(OpContext& ctx) {
  visit_float(ctx.dtype(0), [&](auto tag) {
    using T = typename decltype(tag)::type;
    nll_loss<T>(ctx, ctx.input(0).data<T>());
  });
}

void softmax_cross_entropy(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor log_prob = ctx.has_output(1) ? ctx.output(1) : Tensor(x.dtype(), x.shape());
  const int64_t inner = x.numel() / std::max<int64_t>(1, x.dim(0) * x.dim(1));
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    normalize_slices<Normalizer::LogSoftmax>(x.data<T>(), log_prob.data<T>(), {x.dim(0) * inner, x.dim(1), inner});
    nll_loss<T>(ctx, log_prob.data<T>());
  });
}

}  // namespace

void register_softmax_ops(OpTable& t) {
  t.add({.name = "Softmax", .infer = infer_softmax, .compute = compute_softmax<Normalizer::Softmax>,
         .cost = softmax_cost});
  t.add({.name = "LogSoftmax", .infer = infer_softmax, .compute = compute_softmax<Normalizer::LogSoftmax>,
         .cost = softmax_cost});
  t.add({.name = "Hardmax", .infer = infer_softmax, .compute = compute_softmax<Normalizer::Hardmax>,
         .cost = softmax_cost});
  t.add({.name = "NegativeLogLikelihoodLoss", .infer = infer_loss, .compute = nll});
  t.add({.name = "SoftmaxCrossEntropyLoss", .infer = infer_loss, .compute = softmax_cross_entropy,
         .cost = softmax_cost});
  t.add({.name = "Dropout", .infer = infer_dropout, .compute = dropout});
}

}  // namespace infera
