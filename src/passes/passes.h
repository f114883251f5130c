// The passes, one per file, each returning how many rewrites it made. They edit through a PassContext and leave
// their edits pending; the pipeline commits after each pass.
#pragma once

#include "passes/pass_context.h"

namespace infera {

int fuse_qdq(PassContext& ctx);               // fuse_qdq.cpp
int fuse_qlinear_conv_add(PassContext& ctx);  // fuse_qlinear_conv_add.cpp
int fold_constants(PassContext& ctx);         // fold_constants.cpp
int remove_identities(PassContext& ctx);      // remove_identities.cpp
int remove_dead_nodes(PassContext& ctx);      // remove_dead_nodes.cpp
int fuse_transposes(PassContext& ctx);        // fuse_transposes.cpp
int fold_conv_batchnorm(PassContext& ctx);    // fold_conv_batchnorm.cpp
int fuse_layer_norm(PassContext& ctx);        // fuse_layer_norm.cpp
int fuse_gelu(PassContext& ctx);              // fuse_gelu.cpp
int fuse_matmul_add(PassContext& ctx);        // fuse_matmul_add.cpp
int fuse_attention(PassContext& ctx);         // fuse_attention.cpp
int fuse_skip_layer_norm(PassContext& ctx);   // fuse_skip_layer_norm.cpp
int fuse_conv_add(PassContext& ctx);          // fuse_conv_add.cpp
int fuse_activation(PassContext& ctx);        // fuse_activation.cpp

}  // namespace infera
