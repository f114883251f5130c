// The quantized fused operator the QDQ passes emit (domain "infera"). Its reference kernel composes the op table's
// own QLinearConv and com.microsoft QLinearAdd kernels, so it is exact by construction; fast backends implement the
// same contract, intermediate rounding included:
//   FusedQLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, t_scale, t_zp, B?, Z, z_scale, z_zp, y_scale, y_zp)
//     t = QLinearConv(inputs 0-8)       the convolution, requantized to (t_scale, t_zp) as the unfused graph does
//     Y = QLinearAdd(t, t_scale, t_zp, Z, z_scale, z_zp, y_scale, y_zp)     the residual; Z of t's type and shape
// The intermediate t is rounded and saturated as in the graph it replaces, so the fused node gives the same bytes
// as the two nodes (a residual block's Relu is absorbed by Y's saturation when y_zp is the type's minimum).
#include "ops/helpers.h"

namespace infera {
namespace {

constexpr int kBaseOpset = 21;  // QLinearConv has not changed since opset 10
constexpr int kConvInputs = 9;  // QLinearConv's inputs: x .. B
constexpr int kZ = 9, kZScale = 10, kZZeroPoint = 11, kYScale = 12, kYZeroPoint = 13;

// One node of the op table run on explicit inputs, with the fused node's attributes (its own are Conv's).
class NestedCall {
 public:
  NestedCall(const OpContext& fused, std::string_view domain, const char* op_type, std::vector<int> inputs,
             std::vector<TensorType> extra_types = {}, std::vector<const Tensor*> extra_values = {}) {
    node_.name = fused.node().name;
    node_.op_type = op_type;
    node_.domain = std::string(domain);
    node_.opset = domain.empty() ? kBaseOpset : 1;
    node_.attrs = fused.node().attrs;
    node_.def = op_table().find(domain, op_type);
    if (!node_.def) fused.fail(std::string("internal: no op ") + op_type);
    for (int i : inputs) {
      types_.push_back(fused.has_input(i) ? fused.input_type(i) : TensorType{});
      values_.push_back(fused.has_input(i) ? fused.value(i) : nullptr);
    }
    types_.insert(types_.begin(), extra_types.begin(), extra_types.end());
    values_.insert(values_.begin(), extra_values.begin(), extra_values.end());
    for (size_t i = 0; i < types_.size(); ++i)
      node_.inputs.push_back(types_[i].dtype == DType::Undefined ? "" : "in" + std::to_string(i));
    node_.outputs = {"y"};
    ctx_ = std::make_unique<OpContext>(node_, types_, values_);
  }
  NestedCall(const NestedCall&) = delete;
  NestedCall& operator=(const NestedCall&) = delete;

  bool infer() { return node_.def->infer(*ctx_); }
  const TensorType& output_type() const { return ctx_->output_type(0); }
  Cost cost() {
    infer();
    return node_.def->cost ? node_.def->cost(*ctx_) : default_cost(*ctx_);
  }
  Tensor run() {
    infer();
    node_.def->compute(*ctx_);
    return ctx_->output(0);
  }

 private:
  Node node_;
  std::vector<TensorType> types_;
  std::vector<const Tensor*> values_;
  std::unique_ptr<OpContext> ctx_;
};

std::vector<int> conv_inputs() {
  std::vector<int> v;
  for (int i = 0; i < kConvInputs; ++i) v.push_back(i);
  return v;
}

// QLinearAdd over (t, t_scale, t_zp) prepended to the fused node's Z .. y_zp.
std::vector<int> add_inputs() { return {6, 7, kZ, kZScale, kZZeroPoint, kYScale, kYZeroPoint}; }

bool infer_fused_qlinear_conv(OpContext& ctx) {
  NestedCall conv(ctx, "", "QLinearConv", conv_inputs());
  conv.infer();
  const TensorType t = conv.output_type();
  if (!ctx.has_input(kZ) || ctx.dtype(kZ) != t.dtype || ctx.shape(kZ) != t.shape)
    ctx.fail("Z must have the convolution's type and shape " + shape_str(t.shape));
  NestedCall add(ctx, "com.microsoft", "QLinearAdd", add_inputs(), {t}, {nullptr});
  add.infer();
  ctx.set_output(0, add.output_type().dtype, add.output_type().shape);
  return true;
}

void fused_qlinear_conv(OpContext& ctx) {
  NestedCall conv(ctx, "", "QLinearConv", conv_inputs());
  const Tensor t = conv.run();
  NestedCall add(ctx, "com.microsoft", "QLinearAdd", add_inputs(), {TensorType{t.dtype(), t.shape(), true}}, {&t});
  ctx.set_output_tensor(0, add.run());
}

// The convolution's cost, plus the residual: one FLOP per output element, Z read once more.
Cost fused_qlinear_conv_cost(const OpContext& ctx) {
  NestedCall conv(ctx, "", "QLinearConv", conv_inputs());
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
