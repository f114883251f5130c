// Reading an activation node ahead of running it, for what fuses or compiles it (the activation fusion pass, the CPU
// and oneDNN kernels, QDQ fusion and the quantizer): Clip's bounds, and a plain activation node as the `activation`
// and `activation_params` that infera.Fused* ops take (ops/fused.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/graph.h"

namespace infera {

// Input i's value when it is known ahead of running; nullptr otherwise.
using KnownInput = std::function<const Tensor*(size_t input)>;

// Clip's bounds: attributes `min` / `max` before opset 11, optional scalar inputs 1 and 2 from opset 11; an absent
// bound is -FLT_MAX / FLT_MAX. False when a bound input is present but not a known scalar.
bool clip_bounds(const Node& clip, const KnownInput& constant, float& lo, float& hi);

struct FusedActivation {
  std::string name;  // Relu, Clip, Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh, Gelu, GeluTanh
  std::vector<float> params;
};

// What a default-domain activation node computes on its input 0, as a fused activation; false for any other node
// and for a Clip whose bounds are not known.
bool fused_activation_of(const Node& n, const KnownInput& constant, FusedActivation& act);

}  // namespace infera
