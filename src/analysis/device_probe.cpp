#include "analysis/device_probe.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "analysis/cpu_info.h"
#include "analysis/cpu_peak.h"
#include "analysis/engine_probe.h"
#include "analysis/memory_bandwidth.h"

namespace infera {

namespace {

constexpr size_t kMiB = size_t(1) << 20;

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m-%d", &utc);
  return text;
}

// Stamps every number with how it was obtained (date, instruction, threads) and reports progress.
class Recorder {
 public:
  explicit Recorder(const ProbeOptions& options) : options_(options), date_(today()) {}

  Sourced measured(double value, const std::string& how) const {
    return {value, "measured: infera device probe " + date_ + ", " + how};
  }
  Sourced read(double value, const std::string& where) const {
    return {value, "read by infera device probe " + date_ + " from " + where};
  }
  void progress(const std::string& what) const {
    if (options_.progress) options_.progress(what);
  }
  double seconds() const { return options_.seconds_per_loop; }
  const std::string& date() const { return date_; }

 private:
  const ProbeOptions& options_;
  std::string date_;
};

std::string threads_text(int threads) { return std::to_string(threads) + (threads == 1 ? " thread" : " threads"); }

void probe_peaks(Device& d, const Recorder& rec, int threads) {
  struct Loop {
    const char* key;
    CpuPrecision precision;
    const char* instruction;
  };
  const Loop loops[] = {{"fp32", CpuPrecision::fp32, "FMA"},
                        {"bf16", CpuPrecision::bf16, "vdpbf16ps"},
                        {"int8", CpuPrecision::int8, "u8 x s8 dot product"}};
  for (const Loop& loop : loops) {
    rec.progress(std::string(loop.key) + " peak");
    const CpuPeak one = measure_cpu_peak(loop.precision, 1, rec.seconds());
    if (!one.measured()) continue;
    const CpuPeak all = measure_cpu_peak(loop.precision, threads, rec.seconds());
    const std::string how = one.isa + " " + loop.instruction + " loop";
    d.peak_ops_per_core[loop.key] = rec.measured(one.gops * 1e9, how + ", 1 thread");
    d.peak_ops[loop.key] = rec.measured(all.gops * 1e9, how + ", " + threads_text(all.threads));
  }
  // Without AVX512-FP16 an fp16 model's arithmetic runs on the fp32 units after conversion (F16C); without this
  // entry fp16 would fall back to the bf16 peak, which such a CPU cannot use for fp16 data.
  if (std::find(d.isa.begin(), d.isa.end(), "avx512_fp16") == d.isa.end() && d.peak_ops.count("fp32")) {
    const std::string why = "assumption: fp16 runs at the fp32 rate (converted with F16C; no avx512_fp16)";
    d.peak_ops["fp16"] = {d.peak_ops["fp32"].value, why};
    d.peak_ops_per_core["fp16"] = {d.peak_ops_per_core["fp32"].value, why};
  }
}

int64_t last_level_bytes(const CpuInfo& info) {
  if (info.caches.empty()) return 0;
  const CpuCache& llc = info.caches.back();
  const int instances = std::max(1, info.logical_cpus / std::max(1, llc.shared_by));
  return llc.bytes * instances;
}

void probe_bandwidth(Device& d, const CpuInfo& info, const Recorder& rec, int threads) {
  // 4 x the last-level cache defeats it; at least 64 MiB for CPUs that report no caches; at most 1 GiB and a
  // quarter of the memory, so that the probe never swaps.
  size_t working_set = std::max<size_t>(64 * kMiB, 4 * size_t(last_level_bytes(info)));
  working_set = std::min(working_set, size_t(1) << 30);
  if (info.memory_bytes > 0) working_set = std::min(working_set, size_t(info.memory_bytes / 4));
  const std::string set_text = std::to_string(working_set / kMiB) + " MiB working set";

  rec.progress("DRAM bandwidth");
  const Bandwidth read_all = measure_bandwidth(StreamKind::read, working_set, threads, rec.seconds());
  d.memory_bandwidth =
      rec.measured(read_all.bytes_per_second, read_all.isa + " streaming read, " + set_text + ", " +
                                                  threads_text(read_all.threads));
  const Bandwidth copy_all = measure_bandwidth(StreamKind::copy, working_set, threads, rec.seconds());
  d.memory_copy_bandwidth = rec.measured(
      copy_all.bytes_per_second, copy_all.isa + " streaming copy (bytes read + written), " + set_text + ", " +
                                     threads_text(copy_all.threads));
  const Bandwidth read_one = measure_bandwidth(StreamKind::read, working_set, 1, rec.seconds());
  d.memory_bandwidth_per_core =
      rec.measured(read_one.bytes_per_second, read_one.isa + " streaming read, " + set_text + ", 1 thread");

  for (const CpuCache& cache : info.caches) {
    std::string label = "L";  // appended, not "L" + ...: GCC 12 warns (-Wrestrict) on that prepend
    label += std::to_string(cache.level) + " bandwidth";
    rec.progress(label);
    CacheLevel level;
    level.level = cache.level;
    level.bytes = rec.read(double(cache.bytes), "/sys/devices/system/cpu/cpu0/cache");
    level.shared_by = cache.shared_by;
    // Half the cache: the share that stays resident next to the code, the stack and the other level's lines.
    const Bandwidth b = measure_bandwidth(StreamKind::read, size_t(cache.bytes) / 2, 1, rec.seconds());
    level.bandwidth = rec.measured(
        b.bytes_per_second, b.isa + " read of " + std::to_string(cache.bytes / 2048) + " KiB, 1 thread");
    d.caches.push_back(level);
  }
  if (const int64_t llc = last_level_bytes(info); llc > 0) {
    d.onchip_bytes = rec.read(double(llc), "/sys/devices/system/cpu/cpu0/cache (last level, all instances)");
    const Bandwidth b = measure_bandwidth(StreamKind::read, size_t(llc) / 2, threads, rec.seconds());
    d.onchip_bandwidth = rec.measured(b.bytes_per_second, b.isa + " read of half the last-level cache, " +
                                                              threads_text(b.threads));
  }
}

// infera's own runtime: how close its matrix kernels come to the FMA loop's peak on an ideal shape, and its fixed
// cost per step (a chain of trivial steps). Both through the compiled runtime, as `infera bench` runs models.
void probe_engine(Device& d, const Recorder& rec, int threads) {
  rec.progress("matrix kernel efficiency");
  const double peak = d.peak("fp32", threads);
  const double efficiency = measured_matrix_efficiency(threads, peak, 2 * rec.seconds());
  if (efficiency > 0)
    d.matrix_efficiency["fp32"] = rec.measured(
        efficiency, "infera's fp32 MatMul of 256x256 by 256x256 (operands in L2), median run, over the FMA loop's "
                    "peak, " + threads_text(threads));
  rec.progress("dispatch overhead");
  d.launch_overhead_s = rec.measured(measured_step_dispatch(threads, 2 * rec.seconds()),
                                     "infera's runtime, 201 vs 1 chained trivial MatMul steps (1x16 by 16x16), "
                                     "median runs, " + threads_text(threads));
}

// Process nodes of CPU families, by cpuid family (and model where a family spans nodes). Only families whose
// node is public; others leave the node unknown (the energy model then says it assumed 45 nm).
Sourced process_node(const CpuInfo& info) {
  if (info.vendor == "AuthenticAMD" && info.family == 26)
    return {4, "assumption: AMD family 26 (Zen 5) core dies are TSMC N4P (AMD's Zen 5 announcements); edit for Zen 5c (N3E)"};
  if (info.vendor == "AuthenticAMD" && info.family == 25)
    return {(info.model >= 0x10 && info.model < 0x20) || info.model >= 0x60 ? 5.0 : 7.0,
            "assumption: AMD family 25 is Zen 3 (TSMC N7) or, by model, Zen 4 (TSMC N5)"};
  return {};
}

}  // namespace

Device probe_this_device(const ProbeOptions& options) {
  const Recorder rec(options);
  const CpuInfo info = read_cpu_info();
  // All the CPUs the process may use, whatever its OpenMP setting: "this" describes the machine.
  const int threads = options.threads > 0 ? options.threads : std::max(1, info.logical_cpus);

  Device d;
  d.id = "this";
  d.kind = "cpu";
  // With fewer threads than cores, the device is the part of the machine the peaks were measured on.
  const Sourced cores =
      info.physical_cores > threads
          ? Sourced{double(threads), "the probe's --threads (" + std::to_string(threads) + " of " +
                                         std::to_string(info.physical_cores) + " physical cores)"}
          : rec.read(std::max(1, info.physical_cores), "/sys/devices/system/cpu/*/topology (physical cores this process may use)");
  d.cores = static_cast<int>(cores.value);
  d.cores_source = cores.source;
  d.display_name = (info.model_name.empty() ? std::string("this CPU") : info.model_name) + ", " +
                   std::to_string(d.cores) + (d.cores == 1 ? " core" : " cores");
  d.isa = info.isa;
  if (info.memory_bytes > 0) d.memory_bytes = rec.read(double(info.memory_bytes), "/proc/meminfo MemTotal");
  d.process_nm = process_node(info);
  d.notes = "Measured by infera device probe on " + rec.date() + " with " + threads_text(threads) +
            ". Peaks: loops of independent multiply-adds (dense; one multiply-add = 2 operations). Bandwidths: "
            "streaming loops over a working set of at least 4 x the last-level cache. TDP and price are not measured: "
            "add them by hand.";
  probe_peaks(d, rec, threads);
  probe_engine(d, rec, threads);
  probe_bandwidth(d, info, rec, threads);
  return d;
}

}  // namespace infera
