// Energy per operation and per byte accessed, at one process node: the data the energy model multiplies counts by.
// Its own header so that a device description can carry its own table (a file's "energy" block).
#pragma once

#include <map>
#include <string>

namespace infera {

struct EnergyTable {
  double process_nm = 45;
  std::string source;
  // picojoules per multiply-add (multiply + accumulate) by precision ("fp32", "fp16", "bf16", "fp8", "int8", "int4")
  std::map<std::string, double> mac_pj;
  std::map<std::string, double> add_pj;   // per add/compare (non-MAC arithmetic: elementwise, softmax, ...)
  double sram_small_pj_per_byte = 0;      // ≤ 32 KB arrays (registers, L1)
  double sram_large_pj_per_byte = 0;      // ~1 MB arrays (L2, on-chip SRAM)
  double dram_pj_per_byte = 0;
};

}  // namespace infera
