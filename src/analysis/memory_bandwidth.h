// This machine's streaming bandwidth, measured: how many bytes per second threads move through a working set of a
// given size (≫ last-level cache: DRAM; half a cache level: that cache).
#pragma once

#include <cstddef>
#include <string>

namespace infera {

enum class StreamKind {
  read,  // loads only (a reduction): bytes read per second
  copy,  // dst[i] = src[i] with ordinary stores: bytes read plus bytes written per second (the write-allocate
         // reads of the destination, which the hardware adds, are not counted)
};

struct Bandwidth {
  double bytes_per_second = 0;  // all threads together
  int threads = 0;
  std::string isa;  // width of the loads and stores: "avx512f", "avx2", "scalar"
};

// Each of `threads` OpenMP threads (<= 0: all) streams its own share of `working_set_bytes` (for copy: source
// plus destination) over and over for about `seconds_per_thread`. Throws infera::Error when the working set cannot
// be allocated.
Bandwidth measure_bandwidth(StreamKind kind, size_t working_set_bytes, int threads, double seconds_per_thread);

}  // namespace infera
