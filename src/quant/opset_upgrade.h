// Raising a model's default-domain opset, as the quantizer must (per-channel DequantizeLinear needs opset 13, 8-bit
// float zero points 19, blocked int4 21). Nodes whose signature or meaning changed between the two versions are
// rewritten: attributes that became inputs (Squeeze, Unsqueeze, Split, ReduceSum at 13; the other reductions at 18;
// Clip and Pad at 11; Slice and TopK at 10), Split's num_outputs (18), Softmax's axis (13: kept when the old axis
// was the last one), Dropout's ratio (12) and BatchNormalization's spatial (9). Changes it cannot rewrite (Upsample,
// Resize-10, Scatter, a Softmax over several axes, models below opset 7) fail with the node named.
#pragma once

#include <cstdint>

#include "quant/model_edit.h"

namespace infera {

// Upgrades edit.proto to `target` (no-op when it is not higher); notes the change in edit.report.
void upgrade_opset(ModelEdit& edit, int64_t target);

}  // namespace infera
