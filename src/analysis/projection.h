// What a compiled model would do on a device: per step and in total, latency, efficiency (% of the device's
// peak), bound and energy per inference; and for a load (queries per second under a latency bound), the devices
// needed, their utilization and power, and the cost per million inferences.
//
// The model, per step (every term carries a one-line assumption and the numbers it used):
//   compute_s  = flops / (peak(precision, threads) × efficiency)
//                efficiency of a matrix product = the quantization of its shape onto the device's matrix units:
//                  CPU       accumulator lanes (n padded to the vector width in 32-bit lanes, k to the dot-product
//                            group of narrow types), microkernel rows (m padded to the register block), and the
//                            accumulators' write-back once per k loop;
//                  GPU       threadblock tiles (m, n padded to the tile the library would pick) and waves of tiles
//                            over the SMs, k padded to the MMA instruction's depth;
//                  systolic  ceil(m/R)·ceil(n/C) folds of (k + R + C − 2) cycles (output-stationary; the
//                            weight-stationary analogue folds k and n and streams m), over the arrays;
//                times, on every device, the measured efficiency of its matrix kernels on an ideal shape (when given).
//                Steps that are not matrix products (elementwise, normalization, pooling, softmax, and products
//                with one output column per group: depthwise convolutions, matrix-vector) run on the vector units
//                at one FLOP (op table count) per lane per cycle: half the FMA peak.
//   memory_s   = activation bytes / bandwidth of the smallest memory level they fit in
//              + weight bytes / bandwidth of the level all the model's weights fit in (they stay there between
//                inferences), DRAM otherwise. Systolic devices: operands that exceed the on-chip SRAM are streamed
//                once per fold (DRAM stalls).
//   time_s     = max(compute_s, memory_s) + overhead_s (the device's dispatch cost per step);
//   bound      = the largest of the three.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "analysis/device.h"
#include "analysis/energy.h"
#include "analysis/roofline.h"
#include "infera/profile.h"

namespace infera {

struct ProjectionOptions {
  // "" : every step at its own precision; else "fp32", "tf32", "fp16", "bf16", "fp8", "int8" or "int4" for every
  // step whose arithmetic is floating point or 8-bit (bytes of those steps scale with the element size).
  std::string precision;
  int threads = 0;            // CPU devices: cores used (<= 0: all)
  int64_t batch = 1;          // inferences per run of the layers given
  double target_qps = 0;      // > 0: size a deployment for this load
  double latency_bound_ms = 0;  // > 0: batches may grow (doubling) while one batch's latency stays within it
  double usd_per_kwh = 0.15;    // for devices bought rather than rented
  double amortization_years = 3;
  // By precision: overrides the device file's matrix_efficiency (the fraction of the peak its matrix kernels reach
  // on an ideal shape).
  std::map<std::string, Sourced> matrix_efficiency;
};

// One factor or time of the model, with what it assumes and the numbers it came from.
struct ProjectionTerm {
  std::string name;        // "tile quantization", "memory", ...
  double value = 0;        // an efficiency in (0, 1] or a time in seconds, as the name says
  std::string assumption;  // one line
  std::map<std::string, double> inputs;
  std::string source;  // where the device numbers came from
};

struct LayerProjection {
  LayerProfile layer;     // bytes scaled to the projected precision
  std::string precision;  // the device precision the step runs at ("fp32", "int8", ...)
  bool matrix = false;    // ran the matrix-unit model
  double peak_ops = 0;    // operations/s used for compute_s (matrix or vector rate)
  double efficiency = 1;  // product of the efficiency terms
  double compute_s = 0, memory_s = 0, overhead_s = 0, time_s = 0;
  Bound bound = Bound::Unknown;
  std::vector<ProjectionTerm> terms;
  LayerEnergy energy;
};

struct LoadProjection {
  int64_t batch = 1;       // batch chosen for the load
  double latency_s = 0;    // of one batch
  double throughput = 0;   // inferences/s of one device at that batch
  bool bound_met = true;   // false: even the smallest batch exceeds the latency bound
  int64_t devices = 0;     // 0 without a target load
  double utilization = 0;  // of each device at the target load (1 without one)
  double power_w = 0;      // all devices, TDP × utilization; 0 when TDP is unknown
  double usd_per_hour = 0;
  double usd_per_million = 0;  // 0 when the device has no price
  std::vector<std::string> assumptions;
};

struct ProjectionTotals {
  double time_s = 0;  // one run (a batch of `batch` inferences)
  double flops = 0, bytes = 0;
  double compute_s = 0, memory_s = 0, overhead_s = 0;  // summed over steps
  double time_by_bound_s[4] = {0, 0, 0, 0};             // indexed by Bound
  double efficiency = 0;     // flops / (time × peak at the model's main precision)
  std::string peak_precision;
  double peak_ops = 0;
  double energy_j = 0;       // per inference
  int unknown_steps = 0;     // steps whose cost is known only at run time (counted as overhead only)
};

struct Projection {
  std::string model;
  Device device;
  ProjectionOptions options;
  EnergyTable energy_table;
  std::vector<LayerProjection> layers;  // in execution order
  ProjectionTotals totals;
  LoadProjection load;
  std::vector<std::string> assumptions;  // device-wide: levels, peaks, overhead, precision scaling

  double throughput() const { return totals.time_s > 0 ? double(options.batch) / totals.time_s : 0; }
  std::vector<size_t> slowest(size_t k) const;  // indices into layers, longest first
};

// Throws infera::Error when the device has no peak at all or an option is out of range.
Projection project(const std::vector<LayerProfile>& layers, const Device& device, const ProjectionOptions& options,
                   const std::string& model = "");

// The layers of a run with `factor` times as many inferences: FLOPs, activations and matrix rows scale, the
// weights are read once per run.
std::vector<LayerProfile> scale_batch(const std::vector<LayerProfile>& layers, double factor);

// Devices needed for `target_qps` when one device serves `throughput` inferences/s (0 when either is 0).
int64_t devices_needed(double target_qps, double throughput);

// Systolic array cycles for `matrix` (all its batch products), spread over `arrays` arrays.
double systolic_cycles(const MatrixShape& matrix, int rows, int cols, int arrays, const std::string& dataflow);

// Everything above, with every term's inputs and sources.
nlohmann::json projection_json(const Projection& p);

}  // namespace infera
