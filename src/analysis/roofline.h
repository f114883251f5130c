// Where a model's time goes and how close each step comes to what the hardware allows: every measured step placed
// under the device's roofline (compute ceiling for its precision, memory bandwidth slopes), classified by what
// bounds it, and costed in energy.
//
// The memory model (one rule for the bound, the energy and the chart's tooltips):
//   bytes       = bytes_read + bytes_written of the step (op table; weights included, at stored element sizes).
//   dram_bytes  = default_dram_bytes (energy.h): weight_bytes + (activation bytes, when they exceed the on-chip
//                 memory; else 0). A step's activations stay on chip when they fit in its last level. Weights come
//                 from DRAM on every run, unless all the model's weights fit in half the on-chip memory (the other
//                 half left to activations): then they stay on chip from one run to the next and count as on-chip
//                 traffic only. With the on-chip size unknown, every byte counts as DRAM traffic.
//   compute_us  = flops / peak(precision of the step, threads of the run)
//   memory_us   = max(dram_bytes / DRAM bandwidth, bytes / on-chip bandwidth (when known)), both for the threads
//                 of the run on a CPU (Device::dram_bandwidth; on-chip: at most the last cache's one-core bandwidth
//                 × threads)
//   roofline_us = max(compute_us, memory_us): the time the step would take on the roofline.
// The bound:
//   overhead    time > overhead_factor × roofline_us (default 10: the step reaches under 10 % of what its roofline
//               allows, so neither ceiling explains its time: dispatch, synchronisation, a poor kernel), or the step
//               has no work on either roofline (roofline_us = 0: a view, a step without costs on this device);
//   compute     otherwise, when compute_us >= memory_us;
//   memory      otherwise;
//   unknown     the step's cost is not known (shapes known only at run time).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "analysis/device.h"
#include "analysis/energy.h"
#include "infera/profile.h"

namespace infera {

enum class Bound { Compute, Memory, Overhead, Unknown };
std::string_view bound_name(Bound b);

struct RooflineOptions {
  double overhead_factor = 10;
};

// The ceilings the analysis draws and classifies against, for the run's thread count.
struct MemoryCeilings {
  double dram_bandwidth = 0;    // bytes/s
  double onchip_bandwidth = 0;  // bytes/s; 0: unknown (no on-chip slope)
  double onchip_bytes = 0;      // 0: unknown (every byte counts as DRAM traffic)
  std::string dram_source, onchip_bandwidth_source, onchip_bytes_source;
};

struct LayerRoofline {
  LayerProfile layer;  // duration_us: the median over the runs
  double share = 0;    // of the sum of all steps' medians (the shares add up to 1)
  double bytes = 0;    // read + written
  double intensity = 0;  // flops / bytes; 0 when the step moves no bytes
  double gflops_per_s = 0, gbytes_per_s = 0;
  std::string peak_precision;  // the device's precision the step is measured against ("fp32", "int8", ...)
  std::string peak_source;
  double peak_flops_per_s = 0;  // at the run's thread count
  double percent_of_peak = 0;
  double dram_bytes = 0;
  double compute_us = 0, memory_us = 0;  // the roofline's predictions (see the memory model above)
  double percent_of_roofline = 0;        // 100 × max(compute_us, memory_us) / time
  Bound bound = Bound::Unknown;
  LayerEnergy energy;
};

struct RooflineTotals {
  double time_us = 0;   // the run's wall time (median over the runs)
  // Sum of the steps' medians. The rest of time_us is spent between steps, or, on a busy machine, lost to
  // interruptions that the median of each step filters out but the median of the whole run does not.
  double steps_us = 0;
  double flops = 0, bytes = 0, dram_bytes = 0;
  double gflops_per_s = 0;
  // 100 × (time the steps would take at their precisions' peaks) / time: for a single-precision model, achieved
  // FLOP/s over the peak.
  double percent_of_peak = 0;
  double compute_j = 0, onchip_j = 0, dram_j = 0;
  double time_by_bound_us[4] = {0, 0, 0, 0};  // indexed by Bound
  double energy_j() const { return compute_j + onchip_j + dram_j; }
};

struct RooflineReport {
  std::string model;
  int threads = 0;
  int runs = 0;
  Device device;
  EnergyTable energy_table;
  RooflineOptions options;
  MemoryCeilings ceilings;
  bool weights_on_chip = false;  // all weights fit in half the on-chip memory (see the memory model above)
  std::vector<LayerRoofline> layers;  // in execution order
  RooflineTotals totals;

  // Indices into `layers`, longest first; at most k.
  std::vector<size_t> hotspots(size_t k) const;
};

// One profile from several runs of the same compiled model: each step's median duration, and the median run time.
// Throws infera::Error when the runs' steps differ.
RunProfile median_profile(const std::vector<RunProfile>& runs);

MemoryCeilings memory_ceilings(const Device& device, int threads);

RooflineReport analyze_roofline(const std::vector<RunProfile>& runs, const Device& device, const EnergyTable& table,
                                const RooflineOptions& options = {});

// Everything in the report, with the inputs of each figure (device numbers and their sources, per-unit energies).
nlohmann::json roofline_json(const RooflineReport& report);

}  // namespace infera
