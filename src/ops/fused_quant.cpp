// The quantized fused operators the QDQ passes emit (domain "infera"). Their reference kernels compose the op
// table's own kernels, so they are exact by construction; fast backends implement the same contract.
//
// FusedQLinearConv, intermediate rounding included:
//   FusedQLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, t_scale, t_zp, B?, Z, z_scale, z_zp, y_scale, y_zp)
//     t = QLinearConv(inputs 0-8)       the convolution, requantized to (t_scale, t_zp) as the unfused graph does
//     Y = QLinearAdd(t, t_scale, t_zp, Z, z_scale, z_zp, y_scale, y_zp)     the residual; Z of t's type and shape
// The intermediate t is rounded and saturated as in the graph it replaces, so the fused node gives the same bytes
// as the two nodes (a residual block's Relu is absorbed by Y's saturation when y_zp is the type's minimum).
//
// QuantizedGemm: a product of dequantized 8-bit values whose result stays float (a classifier: no QuantizeLinear
// reads it), as the graph it replaces computes it:
//   QuantizedGemm(A, a_scale, a_zp, B, b_scale, b_zp, C?)   attributes transB, axis (B's quantization axis)
//     Y = Gemm(DequantizeLinear(A, a_scale, a_zp), DequantizeLinear(B, b_scale, b_zp, axis), C, transB)
// A is 2-D and quantized per tensor; B is a 2-D constant, per tensor or per output column; C float.
//
// QuantizedConv: the same for a convolution (one that feeds a float residual Add, as in a ResNet block quantized with
// its residual stream in float), with FusedConv's bias, residual and activation:
//   QuantizedConv(X, x_scale, x_zp, W, w_scale, w_zp, B?, Z?)   Conv's attributes, activation, activation_params
//     Y = FusedConv(DequantizeLinear(X, x_scale, x_zp), DequantizeLinear(W, w_scale, w_zp, axis 0), B, Z)
// X is quantized per tensor; W is a constant, per tensor or per output channel; B and Z float.
#include "ops/helpers.h"
#include "ops/nested_call.h"

namespace infera {
namespace {

constexpr int kBaseOpset = 21;  // QLinearConv has not changed since opset 10
constexpr int kConvInputs = 9;  // QLinearConv's inputs: x .. B
constexpr int kZ = 9, kZScale = 10, kZZeroPoint = 11, kYScale = 12, kYZeroPoint = 13;

// The op `op_type` on the fused node's inputs `inputs`, after `extra_types`/`extra_values`, with its attributes
// (its own are Conv's).
NestedCall nested(const OpContext& fused, std::string_view domain, const char* op_type, const std::vector<int>& inputs,
                  std::vector<TensorType> types = {}, std::vector<const Tensor*> values = {}) {
  for (int i : inputs) {
    types.push_back(fused.has_input(i) ? fused.input_type(i) : TensorType{});
    values.push_back(fused.has_input(i) ? fused.value(i) : nullptr);
  }
  return NestedCall(fused, domain, op_type, domain.empty() ? kBaseOpset : 1, fused.node().attrs, std::move(types),
                    std::move(values));
}

std::vector<int> conv_inputs() {
  std::vector<int> v;
  for (int i = 0; i < kConvInputs; ++i) v.push_back(i);
  return v;
}

// QLinearAdd over (t, t_scale, t_zp) prepended to the fused node's Z .. y_zp.
std::vector<int> add_inputs() { return {6, 7, kZ, kZScale, kZZeroPoint, kYScale, kYZeroPoint}; }

bool infer_fused_qlinear_conv(OpContext& ctx) {
  NestedCall conv = nested(ctx, "", "QLinearConv", conv_inputs());
  conv.infer();
  const TensorType t = conv.output_type();
  if (!ctx.has_input(kZ) || ctx.dtype(kZ) != t.dtype || ctx.shape(kZ) != t.shape)
    ctx.fail("Z must have the convolution's type and shape " + shape_str(t.shape));
  NestedCall add = nested(ctx, "com.microsoft", "QLinearAdd", add_inputs(), {t}, {nullptr});
  add.infer();
  ctx.set_output(0, add.output_type().dtype, add.output_type().shape);
  return true;
}

void fused_qlinear_conv(OpContext& ctx) {
  NestedCall conv = nested(ctx, "", "QLinearConv", conv_inputs());
  const Tensor t = conv.run();
  NestedCall add = nested(ctx, "com.microsoft", "QLinearAdd", add_inputs(), {TensorType{t.dtype(), t.shape(), true}}, {&t});
  ctx.set_output_tensor(0, add.run());
}

// The convolution's cost, plus the residual: one FLOP per output element, Z read once more.
Cost fused_qlinear_conv_cost(const OpContext& ctx) {
  NestedCall conv = nested(ctx, "", "QLinearConv", conv_inputs());
  Cost c = conv.cost();
  c.flops += type_bytes(ctx.output_type(0));
  c.bytes_read += type_bytes(ctx.input_type(kZ));
  return c;
}

std::map<std::string, Attribute> only(const Node& n, const char* name) {
  std::map<std::string, Attribute> attrs;
  if (auto it = n.attrs.find(name); it != n.attrs.end()) attrs.emplace(name, it->second);
  return attrs;
}

NestedCall dequantize_call(const OpContext& ctx, int first, std::map<std::string, Attribute> attrs) {
  std::vector<TensorType> types;
  std::vector<const Tensor*> values;
  for (int i = first; i < first + 3; ++i) {
    types.push_back(ctx.has_input(i) ? ctx.input_type(i) : TensorType{});
    values.push_back(ctx.has_input(i) ? ctx.value(i) : nullptr);
  }
  return NestedCall(ctx, "", "DequantizeLinear", kBaseOpset, std::move(attrs), std::move(types), std::move(values));
}

// The quantized data input (0) and weight input (3) of QuantizedGemm and QuantizedConv, dequantized; the weights
// along `weight_axis`.
struct Dequantized {
  Dequantized(const OpContext& ctx, std::map<std::string, Attribute> weight_axis)
      : x(dequantize_call(ctx, 0, {})), w(dequantize_call(ctx, 3, std::move(weight_axis))) {
    x.infer();
    w.infer();
  }
  NestedCall x, w;
};

// Gemm on the dequantized A and B (types, and values when running), and C.
NestedCall gemm_call(const OpContext& ctx, const TensorType& a, const TensorType& b, const Tensor* a_value,
                     const Tensor* b_value) {
  constexpr int kC = 6;
  if (a.shape.size() != 2 || b.shape.size() != 2) ctx.fail("A and B must be 2-D");
  return NestedCall(ctx, "", "Gemm", kBaseOpset, only(ctx.node(), "transB"),
                    {a, b, ctx.has_input(kC) ? ctx.input_type(kC) : TensorType{}},
                    {a_value, b_value, ctx.has_input(kC) ? ctx.value(kC) : nullptr});
}

std::map<std::string, Attribute> gemm_weight_axis(const OpContext& ctx) { return only(ctx.node(), "axis"); }

// FusedConv on the dequantized X and W (types, and values when running), B and Z.
NestedCall float_conv_call(const OpContext& ctx, const TensorType& x, const TensorType& w, const Tensor* x_value,
                           const Tensor* w_value) {
  constexpr int kB = 6, kResidual = 7;
  std::vector<TensorType> types{x, w};
  std::vector<const Tensor*> values{x_value, w_value};
  for (int i : {kB, kResidual}) {
    types.push_back(ctx.has_input(i) ? ctx.input_type(i) : TensorType{});
    values.push_back(ctx.has_input(i) ? ctx.value(i) : nullptr);
  }
  return NestedCall(ctx, "infera", "FusedConv", 1, ctx.node().attrs, std::move(types), std::move(values));
}

std::map<std::string, Attribute> conv_weight_axis(const OpContext&) {
  Attribute output_channels;
  output_channels.kind = Attribute::Kind::Int;
  output_channels.i = 0;
  return {{"axis", output_channels}};
}

// QuantizedGemm and QuantizedConv: the float op `float_call` makes, on X and W dequantized (W along the axis
// `weight_axis` gives).
template <auto weight_axis, auto float_call>
bool infer_dequantized(OpContext& ctx) {
  Dequantized d(ctx, weight_axis(ctx));
  NestedCall op = float_call(ctx, d.x.output_type(), d.w.output_type(), nullptr, nullptr);
  if (!op.infer()) return false;
  ctx.set_output(0, op.output_type().dtype, op.output_type().shape);
  return true;
}

template <auto weight_axis, auto float_call>
void run_dequantized(OpContext& ctx) {
  Dequantized d(ctx, weight_axis(ctx));
  const Tensor x = d.x.run(), w = d.w.run();
  NestedCall op =
      float_call(ctx, TensorType{x.dtype(), x.shape(), true}, TensorType{w.dtype(), w.shape(), true}, &x, &w);
  ctx.set_output_tensor(0, op.run());
}

// The float op's cost, with X and W read at their stored 8-bit size.
template <auto weight_axis, auto float_call>
Cost dequantized_cost(const OpContext& ctx) {
  Dequantized d(ctx, weight_axis(ctx));
  Cost c = float_call(ctx, d.x.output_type(), d.w.output_type(), nullptr, nullptr).cost();
  c.bytes_read += type_bytes(ctx.input_type(0)) + type_bytes(ctx.input_type(3)) - type_bytes(d.x.output_type()) -
                  type_bytes(d.w.output_type());
  return c;
}

}  // namespace

void register_fused_quant_ops(OpTable& t) {
  t.add({.name = "FusedQLinearConv",
         .infer = infer_fused_qlinear_conv,
         .compute = fused_qlinear_conv,
         .cost = fused_qlinear_conv_cost,
         .domain = "infera"});
  t.add({.name = "QuantizedGemm",
         .infer = infer_dequantized<gemm_weight_axis, gemm_call>,
         .compute = run_dequantized<gemm_weight_axis, gemm_call>,
         .cost = dequantized_cost<gemm_weight_axis, gemm_call>,
         .domain = "infera"});
  t.add({.name = "QuantizedConv",
         .infer = infer_dequantized<conv_weight_axis, float_conv_call>,
         .compute = run_dequantized<conv_weight_axis, float_conv_call>,
         .cost = dequantized_cost<conv_weight_axis, float_conv_call>,
         .domain = "infera"});
}

}  // namespace infera
