// The static memory plan for activations: buffers with known sizes and lifetimes (first and last step that touch
// them) get offsets in one arena so that buffers alive at the same time never overlap. Greedy by size, largest
// first, each at the lowest offset that fits between the buffers already placed that overlap it in time.
#pragma once

#include <cstddef>
#include <vector>

namespace infera {

struct BufferLifetime {
  size_t bytes = 0;
  int first = 0;  // first step that writes it
  int last = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per buffer
  size_t arena_bytes = 0;       // the planned peak
  size_t naive_bytes = 0;       // every buffer separately: the sum of all sizes
};

MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, size_t alignment = 64);

}  // namespace infera
