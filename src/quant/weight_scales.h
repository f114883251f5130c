// Symmetric scales for a weight tensor in the three layouts ONNX DequantizeLinear reads: one scale for the whole
// tensor, one per index along an axis (per channel, opset 13), or one per block of indices along an axis (opset 21).
#pragma once

#include <cstdint>
#include <vector>

#include "infera/tensor.h"

namespace infera {

struct WeightScales {
  Shape shape;                 // the scale tensor's shape: {} / {dim} / the weight's shape with the axis blocked
  std::vector<float> scales;   // one per group
  std::vector<int64_t> group;  // per weight element: its group
};

// Scales that map each group's largest |w| onto `max_code` (an all-zero group gets scale 1). axis < 0: one group;
// block 0: one group per index along `axis`; else groups of `block` consecutive indices along `axis` (the last
// block may be shorter). `w` must be float32.
WeightScales symmetric_weight_scales(const Tensor& w, int axis, int64_t block, double max_code);

}  // namespace infera
