// What infera's own runtime achieves on this machine, measured through the compiled runtime rather than bare
// loops: the fraction of the FMA peak its matrix kernels reach on an ideal shape, and its fixed cost per step. The
// projection of a model onto `this` uses both, so it predicts what `infera bench` measures.
#pragma once

#include "analysis/device.h"

namespace infera {

// A 256x256 by 256x256 fp32 MatMul (its operands, 768 KiB, stay in L2, so it measures the kernel, not the memory
// the projection models apart): achieved FLOP/s over `fma_peak` (FLOP/s at the same thread count), at most 1.
// Runs for about `seconds`.
double measured_matrix_efficiency(int threads, double fma_peak, double seconds);

// Seconds per step of the runtime's dispatch: a chain of 201 trivial MatMul steps against a chain of 1, median
// times over about `seconds`, the difference divided by 200.
double measured_step_dispatch(int threads, double seconds);

}  // namespace infera
