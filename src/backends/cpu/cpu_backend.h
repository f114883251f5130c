// The own vectorised CPU kernels: float32 elementwise math, softmax, normalisation, reductions, data movement and
// fused attention, each compiled for AVX-512, AVX2 and a portable baseline and chosen once by CPU features.
#pragma once

#include "backends/backend.h"

namespace infera {

const Backend& cpu_backend();

}  // namespace infera
