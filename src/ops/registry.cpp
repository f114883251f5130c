// The one list of operator families. Adding an operator: describe it in its family's file and add it there;
// adding a family: one line here.
#include "ops/op.h"

namespace infera {

void register_binary_ops(OpTable& t);
void register_unary_ops(OpTable& t);
void register_activation_ops(OpTable& t);
void register_logical_ops(OpTable& t);
void register_variadic_ops(OpTable& t);
void register_cast_ops(OpTable& t);
void register_conv_ops(OpTable& t);
void register_pool_ops(OpTable& t);
void register_normalization_ops(OpTable& t);
void register_matmul_ops(OpTable& t);
void register_einsum_ops(OpTable& t);
void register_softmax_ops(OpTable& t);
void register_shape_ops(OpTable& t);
void register_layout_ops(OpTable& t);
void register_concat_split_ops(OpTable& t);
void register_slice_pad_ops(OpTable& t);
void register_constant_ops(OpTable& t);
void register_gather_scatter_ops(OpTable& t);
void register_indexing_ops(OpTable& t);
void register_reduce_ops(OpTable& t);
void register_topk_ops(OpTable& t);
void register_resize_ops(OpTable& t);
void register_quantize_ops(OpTable& t);
void register_qlinear_ops(OpTable& t);
void register_control_flow_ops(OpTable& t);
void register_rnn_ops(OpTable& t);
void register_detection_ops(OpTable& t);
void register_grid_sample_ops(OpTable& t);
void register_signal_ops(OpTable& t);
void register_linalg_ops(OpTable& t);
void register_fused_ops(OpTable& t);
void register_fused_quant_ops(OpTable& t);

const OpTable& op_table() {
  static const OpTable table = [] {
    OpTable t;
    register_binary_ops(t);
    register_unary_ops(t);
    register_activation_ops(t);
    register_logical_ops(t);
    register_variadic_ops(t);
    register_cast_ops(t);
    register_conv_ops(t);
    register_pool_ops(t);
    register_normalization_ops(t);
    register_matmul_ops(t);
    register_einsum_ops(t);
    register_softmax_ops(t);
    register_shape_ops(t);
    register_layout_ops(t);
    register_concat_split_ops(t);
    register_slice_pad_ops(t);
    register_constant_ops(t);
    register_gather_scatter_ops(t);
    register_indexing_ops(t);
    register_reduce_ops(t);
    register_topk_ops(t);
    register_resize_ops(t);
    register_quantize_ops(t);
    register_qlinear_ops(t);
    register_control_flow_ops(t);
    register_rnn_ops(t);
    register_detection_ops(t);
    register_grid_sample_ops(t);
    register_signal_ops(t);
    register_linalg_ops(t);
    register_fused_ops(t);
    register_fused_quant_ops(t);
    return t;
  }();
  return table;
}

}  // namespace infera
