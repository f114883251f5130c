// Activation functions: Relu, Sigmoid and its relatives, the ELU family, Gelu, PRelu, Clip, Shrink.
// Attributes are float; they are converted to the compute type so that float64 inputs compute in double.
#include "ops/activation_math.h"
#include "ops/activation_node.h"
#include "ops/elementwise.h"

namespace infera {
namespace {

float attr(const OpContext& ctx, const char* name, float dflt) { return ctx.node().attr_float(name, dflt); }

// log(1 + exp(x)) without overflow for large x.
template <class C>
C softplus_of(C x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

void relu(OpContext& ctx) {
  map_input(ctx, numeric_visitor,
            [](auto x) { return x > 0 ? x : decltype(x)(0); });
}

void sigmoid(OpContext& ctx) { map_float(ctx, [](auto x) { return sigmoid_of(x); }); }

void hard_sigmoid(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 0.2f), beta = attr(ctx, "beta", 0.5f);
  map_float(ctx, [=](auto x) {
    using C = decltype(x);
    return hard_sigmoid_of(x, C(alpha), C(beta));
  });
}

void hard_swish(OpContext& ctx) { map_float(ctx, [](auto x) { return hard_swish_of(x); }); }

void softplus(OpContext& ctx) { map_float(ctx, [](auto x) { return softplus_of(x); }); }
void softsign(OpContext& ctx) { map_float(ctx, [](auto x) { return x / (decltype(x)(1) + std::fabs(x)); }); }
void mish(OpContext& ctx) { map_float(ctx, [](auto x) { return x * std::tanh(softplus_of(x)); }); }

void elu(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 1.0f);
  map_float(ctx, [=](auto x) { return x < 0 ? decltype(x)(alpha) * std::expm1(x) : x; });
}

void celu(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 1.0f);
  if (alpha == 0) ctx.fail("alpha must not be 0");
  map_float(ctx, [=](auto x) {
    using C = decltype(x);
    return x > 0 ? x : C(alpha) * std::expm1(x / C(alpha));
  });
}

void selu(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 1.67326319217681884765625f);
  const float gamma = attr(ctx, "gamma", 1.05070102214813232421875f);
  map_float(ctx, [=](auto x) {
    using C = decltype(x);
    return C(gamma) * (x > 0 ? x : C(alpha) * std::expm1(x));
  });
}

void leaky_relu(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 0.01f);
  map_float(ctx, [=](auto x) { return x < 0 ? decltype(x)(alpha) * x : x; });
}

void thresholded_relu(OpContext& ctx) {
  const float alpha = attr(ctx, "alpha", 1.0f);
  map_float(ctx, [=](auto x) {
    using C = decltype(x);
    return x > C(alpha) ? x : C(0);
  });
}

bool infer_gelu(OpContext& ctx) {
  const std::string approximate = ctx.node().attr_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh") ctx.fail("unknown approximate mode '" + approximate + "'");
  return infer_unary<kFloatTypes>(ctx);
}

void gelu(OpContext& ctx) {
  if (ctx.node().attr_string("approximate", "none") == "tanh") map_float(ctx, [](auto x) { return gelu_tanh_of(x); });
  else map_float(ctx, [](auto x) { return gelu_erf_of(x); });
}

// Slope broadcasts to X in one direction only: the output has X's shape. Before opset 7 a 1-D slope as long as
// X's channel dimension holds one slope per channel (PyTorch's export), whatever X's trailing dimension is.
Shape slope_shape(const OpContext& ctx) {
  const Shape& s = ctx.shape(1);
  const Shape& x = ctx.shape(0);
  if (ctx.opset() >= 7 || s.size() != 1 || x.size() < 2 || s[0] != x[1] || s[0] == 1) return s;
  Shape per_channel(x.size(), 1);
  per_channel[1] = s[0];
  return per_channel;
}

bool infer_prelu(OpContext& ctx) {
  require_dtype(ctx, 0, kNumericTypes);
  require_same_dtype(ctx, 0, 1);
  if (broadcast_shapes(ctx, {ctx.shape(0), slope_shape(ctx)}) != ctx.shape(0))
    ctx.fail("slope of shape " + shape_str(ctx.shape(1)) + " does not broadcast to input shape " +
             shape_str(ctx.shape(0)));
  ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  return true;
}

void prelu(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& slope = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    const T* ps = slope.data<T>();
    T* py = y.data<T>();
    broadcast_loop<2>(x.shape(), {x.shape(), slope_shape(ctx)}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      const C v = C(px[off[0]]);
      py[i] = v < 0 ? convert<T>(C(ps[off[1]]) * v) : px[off[0]];
    });
  });
}

}  // namespace

bool clip_bounds(const Node& clip, const KnownInput& constant, float& lo, float& hi) {
  lo = -std::numeric_limits<float>::max();
  hi = std::numeric_limits<float>::max();
  if (clip.opset < 11) {
    lo = clip.attr_float("min", lo);
    hi = clip.attr_float("max", hi);
    return true;
  }
  for (size_t i = 1; i < 3 && i < clip.inputs.size(); ++i) {
    if (clip.inputs[i].empty()) continue;
    const Tensor* bound = constant(i);
    if (!bound || bound->numel() != 1) return false;
    (i == 1 ? lo : hi) = float(bound->as_double(0));
  }
  return true;
}

bool fused_activation_of(const Node& n, const KnownInput& constant, FusedActivation& act) {
  if (!n.domain.empty() || n.inputs.empty()) return false;
  const std::string& op = n.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") {
    act = {op, {}};
  } else if (op == "LeakyRelu") {
    act = {op, {n.attr_float("alpha", 0.01f)}};
  } else if (op == "HardSigmoid") {
    act = {op, {n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f)}};
  } else if (op == "Gelu") {
    act = {n.attr_string("approximate", "none") == "tanh" ? "GeluTanh" : "Gelu", {}};
  } else if (op == "Clip") {
    act = {op, {0, 0}};
    return clip_bounds(n, constant, act.params[0], act.params[1]);
  } else {
    return false;
  }
  return true;
}

namespace {

// Before opset 11 the bounds are attributes; from 11 they are optional scalar inputs of the input's type.
bool infer_clip(OpContext& ctx) {
  require_dtype(ctx, 0, ctx.opset() >= 12 ? kNumericTypes : kFloatTypes);
  if (ctx.opset() >= 11) {
    for (int i = 1; i < std::min(ctx.num_inputs(), 3); ++i) {
      if (!ctx.has_input(i)) continue;
      require_same_dtype(ctx, 0, i);
      if (shape_numel(ctx.shape(i)) != 1) ctx.fail("bound input " + std::to_string(i) + " must be a scalar");
    }
  }
  ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  return true;
}

void clip(OpContext& ctx) {
  visit_numeric(ctx.dtype(0), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
    if (ctx.opset() < 11) {
      lo = C(attr(ctx, "min", -std::numeric_limits<float>::max()));
      hi = C(attr(ctx, "max", std::numeric_limits<float>::max()));
    } else {
      if (ctx.has_input(1)) lo = C(ctx.input(1).data<T>()[0]);
      if (ctx.num_inputs() > 2 && ctx.has_input(2)) hi = C(ctx.input(2).data<T>()[0]);
    }
    // Raising to lo before lowering to hi gives hi everywhere when lo > hi, as ONNX specifies; NaN passes.
    map_elements<T>(ctx.input(0), ctx.output(0), [=](C x) {
      const C v = x < lo ? lo : x;
      return v > hi ? hi : v;
    });
  });
}

void shrink(OpContext& ctx) {
  const float lambd = attr(ctx, "lambd", 0.5f), bias = attr(ctx, "bias", 0.0f);
  map_input(ctx, numeric_visitor, [=](auto x) {
    using W = std::conditional_t<std::is_integral_v<decltype(x)>, double, decltype(x)>;
    const W v = W(x);
    return v < W(-lambd) ? v + W(bias) : v > W(lambd) ? v - W(bias) : W(0);
  });
}

}  // namespace

void register_activation_ops(OpTable& t) {
  constexpr auto infer_float = infer_unary<kFloatTypes>;
  t.add({.name = "Relu", .infer = infer_unary<kSignedNumericTypes>, .compute = relu});
  t.add({.name = "Sigmoid", .infer = infer_float, .compute = sigmoid});
  t.add({.name = "HardSigmoid", .infer = infer_float, .compute = hard_sigmoid});
  t.add({.name = "HardSwish", .infer = infer_float, .compute = hard_swish});
  t.add({.name = "Softplus", .infer = infer_float, .compute = softplus});
  t.add({.name = "Softsign", .infer = infer_float, .compute = softsign});
  t.add({.name = "Mish", .infer = infer_float, .compute = mish});
  t.add({.name = "Elu", .infer = infer_float, .compute = elu});
  t.add({.name = "Celu", .infer = infer_float, .compute = celu});
  t.add({.name = "Selu", .infer = infer_float, .compute = selu});
  t.add({.name = "LeakyRelu", .infer = infer_float, .compute = leaky_relu});
  t.add({.name = "ThresholdedRelu", .infer = infer_float, .compute = thresholded_relu});
  t.add({.name = "Gelu", .infer = infer_gelu, .compute = gelu});
  t.add({.name = "PRelu", .infer = infer_prelu, .compute = prelu});
  t.add({.name = "Clip", .infer = infer_clip, .compute = clip});
  t.add({.name = "Shrink", .infer = infer_unary<kNumericTypes>, .compute = shrink});
}

}  // namespace infera
