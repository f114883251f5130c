// A device description: what a piece of hardware can do, each number with where it came from. The catalog ships
// one JSON file per device in devices/ (compiled into the library, so it works from anywhere); users add their own
// with --device-file; `infera device probe` measures this machine and writes one in the same format.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "analysis/energy_table.h"

namespace infera {

// A number and its source ("NVIDIA A100 datasheet, table 1", "measured: infera device probe 2026-11-24",
// "unverified: ..."). value <= 0: unknown.
struct Sourced {
  double value = 0;
  std::string source;
  bool known() const { return value > 0; }
};

struct CacheLevel {
  int level = 0;
  Sourced bytes;         // per instance
  int shared_by = 1;     // cores sharing one instance
  Sourced bandwidth;     // bytes/s per core, when measured
};

// A systolic matrix unit (TPU MXU, NeuronCore, many ASICs and FPGA overlays).
struct SystolicArray {
  int rows = 0, cols = 0;
  int count = 1;                                // arrays on the device
  double clock_hz = 0;
  std::string dataflow = "output-stationary";  // or "weight-stationary"
  std::string precision = "int8";               // what one processing element multiplies per cycle
  std::string source;
  // 2 × rows × cols × count × clock: the dense peak of the arrays in operations per second.
  double peak_ops() const { return 2.0 * rows * cols * count * clock_hz; }
};

struct Device {
  std::string id;            // catalog name: "a100", "t4", "this"
  std::string display_name;  // "NVIDIA A100 80GB SXM"
  std::string kind;          // "cpu", "gpu", "fpga", "asic", "systolic"
  // Dense peak, operations per second for the whole device (one multiply-add = 2 operations), by precision:
  // "fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4".
  std::map<std::string, Sourced> peak_ops;
  // CPUs: the peak of one thread alone, measured (a core runs faster when the others idle); absent: peak / cores.
  std::map<std::string, Sourced> peak_ops_per_core;
  int cores = 0;  // CPU: physical cores (per-core peak = peak_ops / cores); GPU: SMs; FPGA/ASIC: compute engines
  std::string cores_source;
  Sourced memory_bytes, memory_bandwidth;  // off-chip DRAM/HBM; bandwidth in bytes/s (streaming reads)
  Sourced memory_copy_bandwidth;           // bytes read plus bytes written per second by a streaming copy
  Sourced memory_bandwidth_per_core;       // CPUs: what one thread alone streams from DRAM
  Sourced onchip_bytes, onchip_bandwidth;  // last-level on-chip memory (L2, SRAM, CMEM)
  std::vector<CacheLevel> caches;          // CPUs: L1, L2, L3
  Sourced tdp_watts, process_nm, price_usd, price_per_hour_usd;
  Sourced launch_overhead_s;  // fixed cost per operator dispatch (kernel launch, host round trip)
  // By precision: the fraction of the peak the device's matrix kernels reach on an ideal shape (large, aligned: no
  // tile or wave quantization), in (0, 1]; absent: 1. `this`: measured through infera's own kernels.
  std::map<std::string, Sourced> matrix_efficiency;
  std::string interconnect;
  Sourced interconnect_bandwidth;
  std::optional<SystolicArray> systolic;
  std::vector<std::string> isa;  // CPUs: "avx512f", "avx512_vnni", "avx512_bf16", ...
  std::optional<EnergyTable> energy;  // the file's own "energy" block, resolved against the reference table
  std::string notes;
  std::string file;  // where it was read from ("catalog:a100" or a path)

  // The peak for `precision` on `threads` cores (CPUs; <= 0: all) or on the whole device; falls back to the
  // nearest precision the device runs faster (e.g. int4 -> int8) and says so through `used` ("" and 0: none).
  // CPUs: min(threads x peak_ops_per_core, peak_ops), or peak_ops x threads / cores without a per-core peak.
  double peak(const std::string& precision, int threads = 0, std::string* used = nullptr) const;
  // DRAM bandwidth available to `threads` cores (CPUs; <= 0: all) or to the whole device, bytes/s; 0: unknown.
  double dram_bandwidth(int threads = 0) const;
};

// The catalog's precision key ("fp32", "bf16", "int8", ...) for a precision or element type name ("float32",
// "bfloat16", "uint8", "float8e4m3fn", ...); "" when it is none of them.
std::string precision_key(const std::string& precision_or_dtype);

// "a100", "this" (probe results cached under ~/.cache/infera/this.json) or a path to a JSON device file.
// Throws infera::Error naming the file and field when a file is malformed.
Device load_device(const std::string& name_or_path);
std::vector<std::string> catalog_device_ids();
// Where load_device("this") caches the probe: $XDG_CACHE_HOME/infera/this.json, else ~/.cache/infera/this.json.
std::string this_device_cache_path();
Device device_from_json(const nlohmann::json& j, const std::string& file);
nlohmann::json device_to_json(const Device& d);
// Writes device_to_json(d) to `path`; throws infera::Error naming the path when it cannot.
void write_device_file(const Device& d, const std::string& path);
// Stores a probe result as the cached "this" device (creating the cache directory).
void write_this_device_cache(const Device& d);

}  // namespace infera
