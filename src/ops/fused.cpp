// The fused operators the graph passes emit (domain "infera"). Each reference kernel composes the op table's own
// kernels (Conv, Gemm, MatMul, LayerNormalization) through a nested OpContext and then applies the fused epilogue,
// so it is correct by construction; fast backends implement the same contract:
//   FusedConv(X, W, B?, Z?)       Y = act(conv_act(conv(X, W) + B) + Z), Z of Y's shape; all Conv attributes
//   FusedGemm(A, B, C?)           Y = act(alpha * A'B' + beta * C); Gemm's attributes
//   FusedMatMul(A, B, bias?)      Y = act(A @ B + bias), numpy MatMul, bias 1-D of length N
//   SkipLayerNormalization(X, Skip, gamma, beta?, bias?)   S = X + Skip (+ bias); Y = LN(S) * gamma + beta over the
//                                 last axis; optional output 1 = S
//   Attention(Q, K, V, mask?)     Y = concat over heads of softmax(scale * Q_h K_h^T + mask) V_h
// `activation` is one of Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh, SiLU, Gelu, GeluTanh
// ("" = none), with `activation_params`: Clip [min, max], LeakyRelu [alpha], HardSigmoid [alpha, beta].
// FusedConv's `conv_activation` / `conv_activation_params` (the same kinds) apply before the residual Z is added:
// a network that clips a convolution's output and then adds the residual (Conv -> Clip -> Add -> Clip).
#include <cmath>

#include "ops/activation_math.h"
#include "ops/helpers.h"
#include "ops/nested_call.h"

namespace infera {
namespace {

constexpr int kBaseOpset = 21;  // the base ops' semantics used here have not changed in any later opset

enum class Act { None, Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh, SiLU, Gelu, GeluTanh };

struct Activation {
  Act kind = Act::None;
  float a = 0, b = 0;  // the parameters, defaults filled in
};

// The activation named by attribute `attr` (and `attr`_params).
Activation parse_activation(const OpContext& ctx, const std::string& attr = "activation") {
  static const std::map<std::string, Act> kinds = {
      {"", Act::None},         {"Relu", Act::Relu},         {"Clip", Act::Clip},   {"Sigmoid", Act::Sigmoid},
      {"HardSigmoid", Act::HardSigmoid}, {"HardSwish", Act::HardSwish}, {"LeakyRelu", Act::LeakyRelu},
      {"Tanh", Act::Tanh},     {"SiLU", Act::SiLU},         {"Gelu", Act::Gelu},   {"GeluTanh", Act::GeluTanh}};
  const std::string name = ctx.node().attr_string(attr, "");
  auto it = kinds.find(name);
  if (it == kinds.end()) ctx.fail("unknown " + attr + " '" + name + "'");
  const std::vector<float> p = ctx.node().attr_floats(attr + "_params");
  Activation act{it->second};
  auto param = [&](size_t i, float dflt) { return i < p.size() ? p[i] : dflt; };
  switch (act.kind) {
    case Act::Clip:
      if (p.size() != 2) ctx.fail(attr + " Clip needs " + attr + "_params [min, max]");
      act.a = p[0];
      act.b = p[1];
      break;
    case Act::LeakyRelu: act.a = param(0, 0.01f); break;
    case Act::HardSigmoid:
      act.a = param(0, 0.2f);
      act.b = param(1, 0.5f);
      break;
    default: break;
  }
  return act;
}

template <class C>
C activate(const Activation& act, C x) {
  switch (act.kind) {
    case Act::None: return x;
    case Act::Relu: return x > 0 ? x : C(0);
    case Act::Clip: return std::min(std::max(x, C(act.a)), C(act.b));
    case Act::Sigmoid: return sigmoid_of(x);
    case Act::HardSigmoid: return hard_sigmoid_of(x, C(act.a), C(act.b));
    case Act::HardSwish: return hard_swish_of(x);
    case Act::LeakyRelu: return x < 0 ? C(act.a) * x : x;
    case Act::Tanh: return std::tanh(x);
    case Act::SiLU: return x * sigmoid_of(x);
    case Act::Gelu: return gelu_erf_of(x);
    case Act::GeluTanh: return gelu_tanh_of(x);
  }
  return x;
}

// The fused node's attributes less the fused ones, for its base op.
std::map<std::string, Attribute> base_attrs(const OpContext& fused, const std::map<std::string, Attribute>& overrides) {
  std::map<std::string, Attribute> attrs = fused.node().attrs;
  for (const char* a : {"activation", "activation_params", "conv_activation", "conv_activation_params", "num_heads",
                        "scale"})
    attrs.erase(a);
  for (const auto& [name, value] : overrides) attrs[name] = value;
  return attrs;
}

// The ai.onnx op `op_type` on the fused node's first `inputs` inputs, as they are.
NestedCall base_of(const OpContext& ctx, const char* op_type, int inputs) {
  std::vector<TensorType> types;
  std::vector<const Tensor*> values;
  for (int i = 0; i < inputs; ++i) {
    types.push_back(ctx.has_input(i) ? ctx.input_type(i) : TensorType{});
    values.push_back(ctx.value(i));
  }
  return NestedCall(ctx, "", op_type, kBaseOpset, base_attrs(ctx, {}), std::move(types), std::move(values));
}

// y = act(conv_act(y) + z) elementwise, z (optional) of y's shape.
void add_and_activate(const OpContext& ctx, Tensor& y, const Tensor* z) {
  const Activation act = parse_activation(ctx), before = parse_activation(ctx, "conv_activation");
  if (act.kind == Act::None && before.kind == Act::None && !z) return;
  visit_float(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* py = y.data<T>();
    const T* pz = z ? z->data<T>() : nullptr;
    for (int64_t i = 0; i < y.numel(); ++i)
      py[i] = T(activate<C>(act, activate<C>(before, C(py[i])) + (pz ? C(pz[i]) : C(0))));
  });
}

// The base op's cost plus one FLOP per output element for each of: the activations, the extra addend.
Cost fused_cost(const OpContext& ctx, NestedCall base, int extra_input) {
  Cost c = base.cost();
  const double n = type_bytes(ctx.output_type(0)) / double(std::max<size_t>(1, dtype_size(ctx.output_type(0).dtype)));
  for (const char* attr : {"activation", "conv_activation"})
    if (parse_activation(ctx, attr).kind != Act::None) c.flops += n;
  if (ctx.has_input(extra_input)) {
    c.flops += n;
    c.bytes_read += type_bytes(ctx.input_type(extra_input));
  }
  return c;
}

bool infer_fused_conv(OpContext& ctx) {
  parse_activation(ctx);
  NestedCall base = base_of(ctx, "Conv", 3);
  if (!base.infer()) return false;
  const TensorType y = base.output_type();
  if (ctx.has_input(3) && (ctx.dtype(3) != y.dtype || ctx.shape(3) != y.shape))
    ctx.fail("Z must have the output's type and shape " + shape_str(y.shape) + ", got " + shape_str(ctx.shape(3)));
  ctx.set_output(0, y.dtype, y.shape);
  return true;
}

void fused_conv(OpContext& ctx) {
  Tensor y = base_of(ctx, "Conv", 3).run();
  add_and_activate(ctx, y, ctx.has_input(3) ? &ctx.input(3) : nullptr);
  ctx.set_output_tensor(0, y);
}

Cost fused_conv_cost(const OpContext& ctx) { return fused_cost(ctx, base_of(ctx, "Conv", 3), 3); }

bool infer_fused_gemm(OpContext& ctx) {
  parse_activation(ctx);
  NestedCall base = base_of(ctx, "Gemm", 3);
  if (!base.infer()) return false;
  ctx.set_output(0, base.output_type().dtype, base.output_type().shape);
  return true;
}

void fused_gemm(OpContext& ctx) {
  Tensor y = base_of(ctx, "Gemm", 3).run();
  add_and_activate(ctx, y, nullptr);
  ctx.set_output_tensor(0, y);
}

Cost fused_gemm_cost(const OpContext& ctx) { return fused_cost(ctx, base_of(ctx, "Gemm", 3), -1); }

bool infer_fused_matmul(OpContext& ctx) {
  parse_activation(ctx);
  NestedCall base = base_of(ctx, "MatMul", 2);
  if (!base.infer()) return false;
  const TensorType y = base.output_type();
  if (ctx.has_input(2) && (ctx.dtype(2) != y.dtype || y.shape.empty() || ctx.shape(2) != Shape{y.shape.back()}))
    ctx.fail("bias must be 1-D of the output's last dimension, got " + shape_str(ctx.shape(2)));
  ctx.set_output(0, y.dtype, y.shape);
  return true;
}

void fused_matmul(OpContext& ctx) {
  Tensor y = base_of(ctx, "MatMul", 2).run();
  if (ctx.has_input(2)) {
    const Tensor& bias = ctx.input(2);
    visit_float(y.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* py = y.data<T>();
      const T* pb = bias.data<T>();
      const int64_t n = bias.numel();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = T(compute_t<T>(py[i]) + compute_t<T>(pb[i % n]));
    });
  }
  add_and_activate(ctx, y, nullptr);
  ctx.set_output_tensor(0, y);
}

Cost fused_matmul_cost(const OpContext& ctx) { return fused_cost(ctx, base_of(ctx, "MatMul", 2), 2); }

// SkipLayerNormalization: the sum S, then the base LayerNormalization over the last axis.
NestedCall skip_layer_norm_base(const OpContext& ctx, const Tensor* sum) {
  std::vector<TensorType> types = {ctx.input_type(0), ctx.input_type(2),
                                   ctx.has_input(3) ? ctx.input_type(3) : TensorType{}};
  std::vector<const Tensor*> values = {sum, ctx.value(2), ctx.value(3)};
  Attribute last_axis;
  last_axis.kind = Attribute::Kind::Int;
  last_axis.i = -1;
  return NestedCall(ctx, "", "LayerNormalization", kBaseOpset, base_attrs(ctx, {{"axis", last_axis}}), std::move(types),
                  std::move(values));
}

bool infer_skip_layer_norm(OpContext& ctx) {
  const Shape& x = ctx.shape(0);
  if (x.empty()) ctx.fail("X must have rank >= 1");
  if (ctx.dtype(1) != ctx.dtype(0) || broadcast_shapes(ctx, {x, ctx.shape(1)}) != x)
    ctx.fail("Skip of shape " + shape_str(ctx.shape(1)) + " does not broadcast to X's shape " + shape_str(x));
  if (ctx.has_input(4) && (ctx.dtype(4) != ctx.dtype(0) || ctx.shape(4) != Shape{x.back()}))
    ctx.fail("bias must be 1-D of X's last dimension, got " + shape_str(ctx.shape(4)));
  if (!skip_layer_norm_base(ctx, nullptr).infer()) return false;
  ctx.set_output(0, ctx.dtype(0), x);
  ctx.set_output(1, ctx.dtype(0), x);
  return true;
}

void skip_layer_norm(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& skip = ctx.input(1);
  Tensor sum(x.dtype(), x.shape());
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T *px = x.data<T>(), *ps = skip.data<T>();
    const T* pb = ctx.has_input(4) ? ctx.input(4).data<T>() : nullptr;
    const int64_t d = x.shape().back();
    T* out = sum.data<T>();
    broadcast_loop<2>(x.shape(), {x.shape(), skip.shape()}, [&](int64_t i, const std::array<int64_t, 2>& off) {
      out[i] = T(C(px[off[0]]) + C(ps[off[1]]) + (pb ? C(pb[i % d]) : C(0)));
    });
  });
  ctx.set_output_tensor(0, skip_layer_norm_base(ctx, &sum).run());
  if (ctx.has_output(1)) ctx.set_output_tensor(1, sum);
}

Cost skip_layer_norm_cost(const OpContext& ctx) {
  Cost c = skip_layer_norm_base(ctx, nullptr).cost();
  c.flops += 2 * type_bytes(ctx.output_type(0)) / double(std::max<size_t>(1, dtype_size(ctx.dtype(0))));
  c.bytes_read += type_bytes(ctx.input_type(1));
  if (ctx.has_output(1)) c.bytes_written += type_bytes(ctx.output_type(1));
  return c;
}

struct AttentionDims {
  int64_t batch, q_len, kv_len, heads, head_size, v_head_size;
};

AttentionDims attention_dims(const OpContext& ctx) {
  for (int i = 0; i < 3; ++i)
    if (ctx.rank(i) != 3) ctx.fail("Q, K and V must be 3-D [batch, sequence, hidden], got " + shape_str(ctx.shape(i)));
  const Shape &q = ctx.shape(0), &k = ctx.shape(1), &v = ctx.shape(2);
  const int64_t heads = ctx.node().attr_int("num_heads", 0);
  if (heads <= 0) ctx.fail("num_heads must be positive");
  if (q[2] % heads || k[2] != q[2] || v[2] % heads)
    ctx.fail("hidden sizes " + shape_str(q) + ", " + shape_str(k) + ", " + shape_str(v) + " do not split into " +
             std::to_string(heads) + " heads");
  if (k[0] != q[0] || v[0] != q[0] || v[1] != k[1])
    ctx.fail("Q, K and V disagree on batch or sequence: " + shape_str(q) + ", " + shape_str(k) + ", " + shape_str(v));
  for (int i = 1; i < 3; ++i)
    if (ctx.dtype(i) != ctx.dtype(0)) ctx.fail("Q, K and V must have one type");
  return {q[0], q[1], k[1], heads, q[2] / heads, v[2] / heads};
}

Shape attention_scores_shape(const AttentionDims& d) { return {d.batch, d.heads, d.q_len, d.kv_len}; }

bool infer_attention(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("Q must be a float tensor");
  const AttentionDims d = attention_dims(ctx);
  if (ctx.has_input(3)) {
    const Shape scores = attention_scores_shape(d);
    if (ctx.dtype(3) != ctx.dtype(0) || broadcast_shapes(ctx, {scores, ctx.shape(3)}) != scores)
      ctx.fail("mask of shape " + shape_str(ctx.shape(3)) + " does not broadcast to the scores' shape " +
               shape_str(scores));
  }
  ctx.set_output(0, ctx.dtype(0), {d.batch, d.q_len, d.heads * d.v_head_size});
  return true;
}

void attention(OpContext& ctx) {
  const AttentionDims d = attention_dims(ctx);
  const Tensor &q = ctx.input(0), &k = ctx.input(1), &v = ctx.input(2);
  const double scale = ctx.node().attr_float("scale", float(1.0 / std::sqrt(double(d.head_size))));
  const Shape scores_shape = attention_scores_shape(d);
  const std::vector<int64_t> mask_strides =
      ctx.has_input(3) ? broadcast_strides(ctx.shape(3), scores_shape) : std::vector<int64_t>(4, 0);
  Tensor& y = ctx.output(0);
  visit_float(q.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T *pq = q.data<T>(), *pk = k.data<T>(), *pv = v.data<T>();
    const T* pm = ctx.has_input(3) ? ctx.input(3).data<T>() : nullptr;
    T* py = y.data<T>();
    const int64_t qk_hidden = d.heads * d.head_size, v_hidden = d.heads * d.v_head_size;
    std::vector<double> p(static_cast<size_t>(d.kv_len));
    for (int64_t b = 0; b < d.batch; ++b)
      for (int64_t h = 0; h < d.heads; ++h)
        for (int64_t i = 0; i < d.q_len; ++i) {
          const T* qi = pq + (b * d.q_len + i) * qk_hidden + h * d.head_size;
          double max_score = -INFINITY;
          for (int64_t j = 0; j < d.kv_len; ++j) {
            const T* kj = pk + (b * d.kv_len + j) * qk_hidden + h * d.head_size;
            double dot = 0;
            for (int64_t c = 0; c < d.head_size; ++c) dot += double(qi[c]) * double(kj[c]);
            double s = scale * dot;
            if (pm)
              s += double(pm[b * mask_strides[0] + h * mask_strides[1] + i * mask_strides[2] + j * mask_strides[3]]);
            p[size_t(j)] = s;
            max_score = std::max(max_score, s);
          }
          double sum = 0;
          for (double& s : p) sum += (s = std::exp(s - max_score));
          T* yi = py + (b * d.q_len + i) * v_hidden + h * d.v_head_size;
          for (int64_t c = 0; c < d.v_head_size; ++c) {
            double acc = 0;
            for (int64_t j = 0; j < d.kv_len; ++j)
              acc += p[size_t(j)] * double(pv[(b * d.kv_len + j) * v_hidden + h * d.v_head_size + c]);
            yi[c] = T(compute_t<T>(acc / sum));
          }
        }
  });
}

Cost attention_cost(const OpContext& ctx) {
  const AttentionDims d = attention_dims(ctx);
  const double scores = double(d.batch) * double(d.heads) * double(d.q_len) * double(d.kv_len);
  Cost c = elementwise_cost(ctx, 0);
  c.flops = 2 * scores * double(d.head_size + d.v_head_size) + 5 * scores;  // + scale, mask, max, exp, sum
  return c;
}

}  // namespace

void register_fused_ops(OpTable& t) {
  t.add({.name = "FusedConv", .infer = infer_fused_conv, .compute = fused_conv, .cost = fused_conv_cost,
         .domain = "infera"});
  t.add({.name = "FusedGemm", .infer = infer_fused_gemm, .compute = fused_gemm, .cost = fused_gemm_cost,
         .domain = "infera"});
  t.add({.name = "FusedMatMul", .infer = infer_fused_matmul, .compute = fused_matmul, .cost = fused_matmul_cost,
         .domain = "infera"});
  t.add({.name = "SkipLayerNormalization", .infer = infer_skip_layer_norm, .compute = skip_layer_norm,
         .cost = skip_layer_norm_cost, .domain = "infera"});
  t.add({.name = "Attention", .infer = infer_attention, .compute = attention, .cost = attention_cost,
         .domain = "infera"});
}

}  // namespace infera
