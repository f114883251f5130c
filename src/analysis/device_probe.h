// "This machine" as a device: the local CPU measured (compute peaks per precision, one core and all cores; DRAM and
// cache bandwidth; infera's dispatch cost per step and its matrix kernels' share of the peak) and described (cores,
// caches, ISA), in the catalog's format.
#pragma once

#include <functional>
#include <string>

#include "analysis/device.h"

namespace infera {

struct ProbeOptions {
  int threads = 0;                // all-core loops use this many threads (<= 0: all the process may use)
  double seconds_per_loop = 0.1;  // each measurement runs about this long per thread
  std::function<void(const std::string&)> progress;  // told what is being measured, when set
};

// About 16 loops of seconds_per_loop each, plus allocating and touching a working set of 4 x the last-level cache.
Device probe_this_device(const ProbeOptions& options = {});

}  // namespace infera
