// The reference backend: the op table's own kernels. It runs every node the op table knows, on plain layouts, and
// is what a node falls back to when no fast backend takes it.
#pragma once

#include "backends/backend.h"

namespace infera {

// Runs `node` with its op-table kernel: infer(), then compute(). A defined outputs[i] is where output i goes (it has
// the inferred shape; the kernel writes into it); an undefined one is set to what the kernel produced. Errors are
// infera::Error "node '...' (Op): reason".
void run_reference_node(const Node& node, const std::vector<const Tensor*>& inputs, std::vector<Tensor>& outputs,
                        const SubgraphRunner* subgraphs = nullptr);

const Backend& reference_backend();

}  // namespace infera
