#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace infera {

MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, size_t alignment) {
  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  auto aligned = [&](size_t n) { return (n + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferLifetime& buf = buffers[i];
    plan.naive_bytes += aligned(buf.bytes);
    // The placed buffers alive at the same time, by offset: take the first gap that holds this one.
    std::vector<size_t> live;
    for (size_t j : placed)
      if (buffers[j].first <= buf.last && buf.first <= buffers[j].last) live.push_back(j);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return plan.offsets[a] < plan.offsets[b]; });
    size_t offset = 0;
    for (size_t j : live) {
      if (plan.offsets[j] >= offset + aligned(buf.bytes)) break;
      offset = std::max(offset, plan.offsets[j] + aligned(buffers[j].bytes));
    }
    plan.offsets[i] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + aligned(buf.bytes));
    placed.push_back(i);
  }
  return plan;
}

}  // namespace infera
