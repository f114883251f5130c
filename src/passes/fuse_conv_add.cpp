// Residual Add after a convolution: Add(conv(x, W) + B, z) becomes infera.FusedConv(x, W, B, Z = z) when the Conv
// output is read by the Add alone and z has exactly the Conv output's shape and type. A later Relu then fuses as
// FusedConv's activation (act(conv + Z), ResNet's block ending). A convolution whose activation is already fused
// keeps it as `conv_activation`, applied before Z (a network that clips each convolution's output, then adds the
// residual). infera.QuantizedConv (an integer convolution with a float result) takes Z the same way, as its input 7.
#include "passes/passes.h"

namespace infera {
namespace {

// Where each convolution op takes Z; -1 for other ops.
size_t residual_input(const Node& n) {
  if (n.domain.empty()) return n.op_type == "Conv" ? 3 : size_t(-1);
  if (n.domain != "infera") return size_t(-1);
  return n.op_type == "FusedConv" ? 3 : n.op_type == "QuantizedConv" ? 7 : size_t(-1);
}

// A Conv, or a FusedConv or QuantizedConv with no Z yet, whose output 0 is `value` and read once.
int plain_conv(const PassContext& ctx, const std::string& value) {
  int p = ctx.fusable_producer(value, "Conv");
  if (p >= 0) return p;
  p = ctx.producer(value);
  if (p < 0 || !ctx.single_use(value)) return -1;
  const Node& n = ctx.node(size_t(p));
  const size_t z = residual_input(n);
  const bool bare = !n.domain.empty() && z != size_t(-1) && n.attr_string("conv_activation", "").empty() &&
                    (n.inputs.size() <= z || n.inputs[z].empty());
  return bare ? p : -1;
}

bool fuse(PassContext& ctx, size_t add_index) {
  const Node& add = ctx.node(add_index);
  if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) return false;
  for (size_t k = 0; k < 2; ++k) {
    const int conv = plain_conv(ctx, add.inputs[k]);
    if (conv < 0) continue;
    const std::string z = add.inputs[1 - k];
    const TensorType *zt = ctx.type(z), *yt = ctx.type(add.inputs[k]);
    if (!zt || !yt || zt->shape != yt->shape || zt->dtype != yt->dtype || !dtype_is_float(yt->dtype)) continue;
    Node& c = ctx.node(size_t(conv));
    const size_t at = residual_input(c);
    if (c.domain.empty()) {
      c.op_type = "FusedConv";
      c.domain = "infera";
    }
    for (const char* attr : {"activation", "activation_params"}) {  // applied before Z from now on
      auto a = c.attrs.find(attr);
      if (a == c.attrs.end()) continue;
      c.attrs[std::string("conv_") + attr] = a->second;
      c.attrs.erase(std::string(attr));
    }
    ctx.set_input(size_t(conv), at, z);
    ctx.set_output(size_t(conv), 0, add.outputs[0]);
    ctx.remove(add_index);
    return true;
  }
  return false;
}

}  // namespace

int fuse_conv_add(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
