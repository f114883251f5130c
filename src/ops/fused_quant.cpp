// The quantized fused operator the QDQ passes emit (domain "infera"). Its reference kernel composes the op table's
// own QLinearConv and com.microsoft QLinearAdd kernels, so it is exact by construction; fast backends implement the
// same contract, intermediate rounding included:
//   FusedQLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, t_scale, t_zp, B?, Z, z_scale, z_zp, y_scale, y_zp)
//     t = QLinearConv(inputs 0-8)       the convolution, requantized to (t_scale, t_zp) as the unfused graph does
//     Y = QLinearAdd(t, t_scale, t_zp, Z, z_scale, z_zp, y_scale, y_zp)     the residual; Z of t's type and shape
// The intermediate t is rounded and saturated as in the graph it replaces, so the fused node gives the same bytes
// as the two nodes (a residual block's Relu is absorbed by Y's saturation when y_zp is the type's minimum).
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

}  // namespace

void register_fused_quant_ops(OpTable& t) {
  t.add({.name = "FusedQLinearConv",
         .infer = infer_fused_qlinear_conv,
         .compute = fused_qlinear_conv,
         .cost = fused_qlinear_conv_cost,
         .domain = "infera"});
}

}  // namespace infera
