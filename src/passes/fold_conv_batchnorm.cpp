// Conv + BatchNormalization folding: BN(conv(x, W) + B) = conv(x, W * s) + (B - mean) * s + beta with
// s = scale / sqrt(var + epsilon) per output channel. Also for ConvTranspose, whose weight is [C_in, C_out / group,
// ...]. Only when the Conv output is read by the BN alone, all weights and BN parameters are float32 initializers,
// and the BN is in inference mode with only its first output used. New initializers are made (the originals may be
// shared); the old ones go when nothing reads them.
#include <cmath>

#include "passes/passes.h"

namespace infera {
namespace {

std::vector<float> floats_of(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

bool float_initializer(const PassContext& ctx, const std::string& name, int64_t numel) {
  const Tensor* t = name.empty() ? nullptr : ctx.constant(name);
  return t && t->dtype() == DType::Float32 && (numel < 0 || t->numel() == numel);
}

bool fold(PassContext& ctx, size_t bn_index) {
  const Node& bn = ctx.node(bn_index);
  if (bn.inputs.size() < 5 || bn.attr_int("training_mode", 0) != 0) return false;
  if (bn.opset < 9 && bn.attr_int("spatial", 1) == 0) return false;
  for (size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty() && (!ctx.consumers(bn.outputs[k]).empty() || ctx.is_graph_output(bn.outputs[k])))
      return false;
  int conv_index = ctx.fusable_producer(bn.inputs[0], "Conv");
  const bool transposed = conv_index < 0;
  if (transposed) conv_index = ctx.fusable_producer(bn.inputs[0], "ConvTranspose");
  if (conv_index < 0) return false;
  const Node& conv = ctx.node(size_t(conv_index));
  if (conv.inputs.size() < 2 || !float_initializer(ctx, conv.inputs[1], -1)) return false;
  const Tensor& w = *ctx.constant(conv.inputs[1]);
  if (w.rank() < 3) return false;
  const int64_t group = conv.attr_int("group", 1);
  const int64_t out_channels = transposed ? w.dim(1) * group : w.dim(0);
  for (size_t k = 1; k < 5; ++k)
    if (!float_initializer(ctx, bn.inputs[k], out_channels)) return false;
  const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  if (has_bias && !float_initializer(ctx, conv.inputs[2], out_channels)) return false;

  const std::vector<float> scale = floats_of(*ctx.constant(bn.inputs[1])), beta = floats_of(*ctx.constant(bn.inputs[2]));
  const std::vector<float> mean = floats_of(*ctx.constant(bn.inputs[3])), var = floats_of(*ctx.constant(bn.inputs[4]));
  const double epsilon = bn.attr_float("epsilon", 1e-5f);
  std::vector<double> s(static_cast<size_t>(out_channels));
  for (size_t c = 0; c < s.size(); ++c) s[c] = double(scale[c]) / std::sqrt(double(var[c]) + epsilon);

  Tensor new_w = w.clone();
  float* pw = new_w.data<float>();
  const int64_t per_channel = w.numel() / w.dim(0) / (transposed ? w.dim(1) : 1);  // kernel elements
  for (int64_t i = 0; i < w.numel(); ++i) {
    int64_t c = i / per_channel;  // [C_out, ...]: the leading index
    if (transposed) {             // [C_in, C_out/group, ...]: group from C_in, channel within group from dim 1
      const int64_t in_channel = i / (w.dim(1) * per_channel), j = (i / per_channel) % w.dim(1);
      c = in_channel / (w.dim(0) / group) * w.dim(1) + j;
    }
    pw[i] = float(double(pw[i]) * s[size_t(c)]);
  }
  Tensor new_b(DType::Float32, {out_channels});
  const float* old_b = has_bias ? ctx.constant(conv.inputs[2])->data<float>() : nullptr;
  for (size_t c = 0; c < s.size(); ++c)
    new_b.data<float>()[c] = float(((old_b ? double(old_b[c]) : 0.0) - double(mean[c])) * s[c] + double(beta[c]));

  const std::string w_name = ctx.add_initializer(conv.inputs[1] + "_bn", std::move(new_w));
  const std::string b_name = ctx.add_initializer((has_bias ? conv.inputs[2] : conv.name + ".bias") + "_bn", new_b);
  const std::string out = bn.outputs[0];
  ctx.set_input(size_t(conv_index), 1, w_name);
  ctx.set_input(size_t(conv_index), 2, b_name);
  ctx.remove(bn_index);
  ctx.set_output(size_t(conv_index), 0, out);
  return true;
}

}  // namespace

int fold_conv_batchnorm(PassContext& ctx) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i) {
    const Node& n = ctx.node(i);
    if (!ctx.removed(i) && n.op_type == "BatchNormalization" && n.domain.empty() && fold(ctx, i)) ++count;
  }
  return count;
}

}  // namespace infera
