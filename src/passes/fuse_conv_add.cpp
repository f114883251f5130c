// Residual Add after a convolution: Add(conv(x, W) + B, z) becomes infera.FusedConv(x, W, B, Z = z) when the Conv
// output is read by the Add alone and z has exactly the Conv output's shape and type. A later Relu then fuses as
// FusedConv's activation (act(conv + Z), ResNet's block ending).
#include "passes/passes.h"

namespace infera {
namespace {

// A Conv, or a FusedConv with neither activation nor Z yet, whose output 0 is `value` and read once.
int plain_conv(const PassContext& ctx, const std::string& value) {
  int p = ctx.fusable_producer(value, "Conv");
  if (p >= 0) return p;
  p = ctx.producer(value);
  if (p < 0 || !ctx.single_use(value)) return -1;
  const Node& n = ctx.node(size_t(p));
  const bool bare = n.op_type == "FusedConv" && n.domain == "infera" && n.attr_string("activation", "").empty() &&
                    (n.inputs.size() < 4 || n.inputs[3].empty());
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
    c.op_type = "FusedConv";
    c.domain = "infera";
    if (c.inputs.size() < 3) ctx.set_input(size_t(conv), 2, "");
    ctx.set_input(size_t(conv), 3, z);
    ctx.set_output(size_t(conv), 0, add.outputs[0]);
    ctx.remove(add_index);
    return true;
  }
  return false;
}

}  // namespace

int fuse_conv_add(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
