// Per-step facts about a compiled model, and what one run of it measured: the input of `infera profile`, Chrome
// traces and the projection onto other hardware. Costs come from the op table (one description per operator);
// times from the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infera {

// The matrix product a step performs, for tile and wave quantization: `batch` independent products of an [m, k]
// by [k, n] matrix (a convolution as im2col: m = output pixels, n = output channels per group, k = input channels
// per group × kernel size; batch = groups × images). All zero for steps that are not matrix products.
struct MatrixShape {
  int64_t batch = 0, m = 0, n = 0, k = 0;
  bool defined() const { return batch > 0; }
};

struct LayerProfile {
  std::string node;       // node name; for a conversion, the value it converts
  std::string op_type;    // "Conv", "infera.FusedConv", ...; "LayoutToPlain" for a conversion
  std::string backend;    // "dnnl", "cpu", "reference", "reference (dynamic)"
  std::string kernel;     // the kernel's own description
  std::string output_layout;  // "plain", or the backend's blocked layout ("nChw16c")
  std::string precision;  // the arithmetic's element type: "fp32", "fp16", "bf16", "int8", "fp64"; else the
                          // element type's name ("int64", "bool")
  bool conversion = false;  // a layout conversion or copy the compiler inserted between backends
  bool view = false;        // output 0 is input 0's bytes under another shape: no kernel runs
  bool cost_known = true;   // false: shapes known only at run time (costs below are zero)
  double flops = 0;
  double bytes_read = 0;     // all inputs, weights included, at their stored element sizes
  double bytes_written = 0;
  double weight_bytes = 0;   // the part of bytes_read that is constant (initializers)
  double reordered_bytes = 0;  // input bytes the kernel permutes into its own layout each run (part of its time)
  MatrixShape matrix;
  // Measured, when the profile comes from a run: start from the beginning of the run, and duration.
  double start_us = 0, duration_us = 0;
};

struct RunProfile {
  std::string model;
  int threads = 0;
  double total_us = 0;  // the whole run, wall clock
  std::vector<LayerProfile> layers;  // in execution order
};

}  // namespace infera
