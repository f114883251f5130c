// The graph optimisation pipeline: rewrites a model's main graph for one set of concrete input shapes before it is
// planned for a backend. The passes and their order are listed in pipeline.cpp.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/graph.h"

namespace infera {

struct OptimizeOptions {
  bool fuse = true;  // false: only the exact clean-ups (folding, identities, dead nodes, transposes, Conv+BN)
};

// Rewrites model.graph in place for the given concrete input shapes (shape sub-graphs fold to constants, so the
// result is valid only for these shapes). Every new or changed node resolves in the op table; nodes of the fused ops
// are in domain "infera", which is added to model.opsets when used. Returns per-pass stats, in run order.
std::vector<PassCount> optimize_graph(Model& model, const std::map<std::string, Shape>& input_shapes,
                                      const OptimizeOptions& options = {});

}  // namespace infera
