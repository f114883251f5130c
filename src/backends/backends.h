// The backends of this build, in the order the runtime asks them for a node's kernel.
#pragma once

#include <vector>

#include "backends/backend.h"

namespace infera {

// oneDNN, then the own vectorised CPU kernels, then the reference kernels (which take every node). With
// `fast` false, only the reference backend: what tests compare the fast backends with.
std::vector<const Backend*> cpu_backends(bool fast = true);

}  // namespace infera
