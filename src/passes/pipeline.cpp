#include "passes/pipeline.h"

#include "passes/passes.h"

namespace infera {
namespace {

struct PassEntry {
  const char* name;
  int (*run)(PassContext&);
  bool fusion;  // emits fused ops: skipped when OptimizeOptions::fuse is false
};

// The order matters:
// - QDQ fusion before folding, which would dequantize quantized weights into float ones; the residual Add of
//   quantized values after dead nodes (the DequantizeLinear nodes QDQ fusion bypassed) are gone;
// - folding first, so that shape sub-graphs become constants and every later pattern sees constant shapes, scales
//   and weights; identities and transposes next, then dead nodes, so that use counts are exact for the fusions;
// - Conv+BN before the Conv fusions (BN sits between Conv and its activation or residual Add);
// - LayerNorm and GELU recognition before MatMul+Add, so that the GELU after a projection is one node to fuse;
// - MatMul+Add before attention (the Q/K/V projections arrive as FusedMatMul) and before SkipLayerNorm;
// - activations, then the residual Add (a convolution's own activation goes before Z), then activations again
//   (act(conv + Z), a ResNet block's end);
// - dead nodes last, which also drops initializers nothing reads any more.
constexpr PassEntry kPasses[] = {
    {"fuse_qdq", fuse_qdq, true},
    {"fold_constants", fold_constants, false},
    {"remove_identities", remove_identities, false},
    {"fuse_transposes", fuse_transposes, false},
    {"remove_dead_nodes", remove_dead_nodes, false},
    {"fuse_qlinear_conv_add", fuse_qlinear_conv_add, true},
    {"fold_conv_batchnorm", fold_conv_batchnorm, false},
    {"fuse_layer_norm", fuse_layer_norm, true},
    {"fuse_gelu", fuse_gelu, true},
    {"fuse_matmul_add", fuse_matmul_add, true},
    {"fuse_attention", fuse_attention, true},
    {"fuse_skip_layer_norm", fuse_skip_layer_norm, true},
    {"fuse_activation", fuse_activation, true},
    {"fuse_conv_add", fuse_conv_add, true},
    {"fuse_activation", fuse_activation, true},
    {"remove_dead_nodes", remove_dead_nodes, false},
};

}  // namespace

std::vector<PassCount> optimize_graph(Model& model, const std::map<std::string, Shape>& input_shapes,
                                      const OptimizeOptions& options) {
  PassContext ctx(model, input_shapes);
  std::vector<PassCount> stats;
  for (const PassEntry& p : kPasses) {
    if (p.fusion && !options.fuse) continue;
    const int rewrites = p.run(ctx);
    if (rewrites > 0) ctx.commit();  // re-indexes and re-analyses the graph: only when the pass changed it
    stats.push_back({p.name, rewrites});
  }
  return stats;
}

}  // namespace infera
