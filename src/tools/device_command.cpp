// `infera device list|show|probe`: the device catalog, one device in full, and this machine measured.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "analysis/cpu_info.h"
#include "analysis/device.h"
#include "analysis/device_probe.h"
#include "analysis/energy.h"
#include "tools/commands.h"

namespace infera::tools {

namespace {

using nlohmann::json;

// "19.5 TFLOP/s" from a device_to_json number; "-" when absent.
std::string quantity_text(const json& device, const std::string& field) {
  if (!device.contains(field)) return "-";
  const json& q = device.at(field);
  return fmt::format("{:g} {}", q.at("value").get<double>(), q.value("unit", ""));
}

std::string peak_cell(const Device& d, const std::string& precision) {
  const auto it = d.peak_ops.find(precision);
  return it != d.peak_ops.end() && it->second.known() ? fmt::format("{:.4g}", it->second.value / 1e12) : "-";
}

std::string cell(const Sourced& s, double scale) { return s.known() ? fmt::format("{:.4g}", s.value / scale) : "-"; }

// The catalog, and "this" when it has been probed already (listing should not take seconds). A broken cache is
// reported in `problem` rather than failing the whole list.
std::vector<Device> listed_devices(std::string& problem) {
  std::vector<Device> devices;
  for (const std::string& id : catalog_device_ids()) devices.push_back(load_device(id));
  std::error_code ec;
  if (!std::filesystem::exists(this_device_cache_path(), ec)) return devices;
  try {
    devices.push_back(load_device("this"));
  } catch (const Error& e) {
    problem = std::string("'this' left out: ") + e.what() + " (`infera device probe` rewrites it)";
  }
  return devices;
}

int list_devices(const DeviceArgs& args) {
  std::string problem;
  const std::vector<Device> devices = listed_devices(problem);
  if (args.json) {
    json all = json::array();
    for (const Device& d : devices) all.push_back(device_to_json(d));
    fmt::print("{}\n", all.dump(2));
    return 0;
  }
  fmt::print("{:<18} {:<38} {:<8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}\n", "id", "name", "kind", "fp32", "fp16",
             "bf16", "int8", "DRAM", "TDP");
  fmt::print("{:<18} {:<38} {:<8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}\n", "", "", "", "TFLOP/s", "TFLOP/s",
             "TFLOP/s", "TOP/s", "GB/s", "W");
  for (const Device& d : devices)
    fmt::print("{:<18} {:<38} {:<8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}\n", d.id, d.display_name.substr(0, 38), d.kind,
               peak_cell(d, "fp32"), peak_cell(d, "fp16"), peak_cell(d, "bf16"), peak_cell(d, "int8"),
               cell(d.memory_bandwidth, 1e9), cell(d.tdp_watts, 1));
  fmt::print("Dense peaks of the whole device; '-': none given (the device runs that precision on another unit). "
             "`infera device show ID` gives every number with its source.\n");
  if (!problem.empty()) fmt::print("{}\n", problem);
  return 0;
}

void print_number(const std::string& label, const json& q) {
  const std::string value = q.at("value").get<double>() > 0
                                ? fmt::format("{:g} {}", q.at("value").get<double>(), q.value("unit", ""))
                                : std::string("unknown");
  fmt::print("  {:<26} {:<16} {}\n", label, value, q.value("source", ""));
}

void print_peaks(const std::string& title, const json& peaks) {
  if (peaks.empty()) return;
  fmt::print("{}\n", title);
  for (const char* precision : {"fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"})
    if (peaks.contains(precision)) print_number(precision, peaks.at(precision));
}

int show_device(const DeviceArgs& args) {
  const Device d = load_device(args.name);
  const json j = device_to_json(d);
  if (args.json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{}: {} ({}), from {}\n", d.id, d.display_name, d.kind, d.file);
  if (!d.notes.empty()) fmt::print("  {}\n", d.notes);
  print_peaks("dense peaks, whole device:", j.at("peak_ops"));
  if (j.contains("peak_ops_per_core")) print_peaks("dense peaks, one core alone:", j.at("peak_ops_per_core"));
  fmt::print("memory and more:\n");
  const std::pair<const char*, const char*> fields[] = {
      {"cores", "cores"},
      {"memory_bytes", "memory"},
      {"memory_bandwidth", "memory bandwidth"},
      {"memory_copy_bandwidth", "memory copy bandwidth"},
      {"memory_bandwidth_per_core", "memory bandwidth, 1 core"},
      {"onchip_bytes", "on-chip memory"},
      {"onchip_bandwidth", "on-chip bandwidth"},
      {"tdp_watts", "TDP"},
      {"process_nm", "process"},
      {"price_usd", "price"},
      {"price_per_hour_usd", "price per hour"},
      {"launch_overhead_s", "dispatch overhead"},
      {"interconnect_bandwidth", "interconnect bandwidth"}};
  for (const auto& [field, label] : fields)
    if (j.contains(field)) print_number(label, j.at(field));
  if (!d.interconnect.empty()) fmt::print("  {:<26} {}\n", "interconnect", d.interconnect);
  for (size_t i = 0; i < d.caches.size(); ++i) {
    const json& level = j.at("caches").at(i);
    fmt::print("  {:<26} {:<16} shared by {} CPU(s); one core reads {}\n", fmt::format("L{} cache", d.caches[i].level),
               quantity_text(level, "bytes"), d.caches[i].shared_by, quantity_text(level, "bandwidth"));
  }
  if (d.systolic) {
    const SystolicArray& a = *d.systolic;
    fmt::print("  {:<26} {} x {} x {} at {:g} MHz, {}, {}; {}\n", "systolic arrays", a.rows, a.cols, a.count,
               a.clock_hz / 1e6, a.precision, a.dataflow, a.source);
  }
  if (!d.isa.empty()) {
    std::string isa;
    for (const std::string& flag : d.isa) isa += (isa.empty() ? "" : " ") + flag;
    fmt::print("  {:<26} {}\n", "ISA", isa);
  }
  const EnergyTable t = energy_table_for(d);
  fmt::print("energy at {:g} nm ({}):\n", t.process_nm, d.energy ? "the device's own table" : "reference table");
  std::string macs;
  for (const auto& [precision, pj] : t.mac_pj) macs += fmt::format("{}{} {:.3g}", macs.empty() ? "" : ", ", precision, pj);
  fmt::print("  {:<26} {}\n", "pJ per multiply-add", macs);
  fmt::print("  {:<26} L1-size {:.3g}, L2-size {:.3g}, DRAM {:.4g}\n", "pJ per byte", t.sram_small_pj_per_byte,
             t.sram_large_pj_per_byte, t.dram_pj_per_byte);
  fmt::print("  {:<26} {}\n", "source", t.source);
  return 0;
}

std::string rate_text(const Sourced& s, double scale, const char* unit) {
  return s.known() ? fmt::format("{:.1f} {}", s.value / scale, unit) : std::string("-");
}

void print_probe_summary(const Device& d, double seconds) {
  fmt::print("{}; the probe took {:.1f} s\n", d.display_name, seconds);
  fmt::print("  {:<6} {:>16} {:>16}   {}\n", "", "one core", "all cores", "loop");
  for (const char* precision : {"fp32", "bf16", "int8"}) {
    const auto all = d.peak_ops.find(precision);
    if (all == d.peak_ops.end()) {
      fmt::print("  {:<6} {:>16} {:>16}   no instruction for it: runs at another precision's rate\n", precision,
                 "-", "-");
      continue;
    }
    const char* unit = precision[0] == 'i' ? "GOP/s" : "GFLOP/s";
    fmt::print("  {:<6} {:>16} {:>16}   {}\n", precision, rate_text(d.peak_ops_per_core.at(precision), 1e9, unit),
               rate_text(all->second, 1e9, unit), all->second.source.substr(all->second.source.find(", ") + 2));
  }
  fmt::print("  {:<6} {:>16} {:>16}   streaming read; copy (read + write) {}\n", "DRAM",
             rate_text(d.memory_bandwidth_per_core, 1e9, "GB/s"), rate_text(d.memory_bandwidth, 1e9, "GB/s"),
             rate_text(d.memory_copy_bandwidth, 1e9, "GB/s"));
  for (const CacheLevel& c : d.caches)
    fmt::print("  L{:<5} {:>16} {:>16}   {:.0f} KiB, shared by {}\n", c.level, rate_text(c.bandwidth, 1e9, "GB/s"),
               "", c.bytes.value / 1024, c.shared_by);
  if (const auto e = d.matrix_efficiency.find("fp32"); e != d.matrix_efficiency.end())
    fmt::print("  fp32 matrix kernels: {:.1f} % of the FMA peak on a 256x256x256 MatMul\n", 100 * e->second.value);
  fmt::print("  dispatch per step of infera's runtime: {:.2f} us\n", d.launch_overhead_s.value * 1e6);
}

std::string stem_of(const std::string& path) { return std::filesystem::path(path).stem().string(); }

int probe_device(const DeviceArgs& args) {
  ProbeOptions options;
  options.threads = args.threads;
  options.seconds_per_loop = args.seconds;
  // What is being measured, on a terminal only: logs and pipes get the summary alone.
  const bool show_progress = !args.json && isatty(fileno(stderr));
  if (show_progress) options.progress = [](const std::string& what) { fmt::print(stderr, "\rmeasuring {:<26}", what); };
  const auto start = std::chrono::steady_clock::now();
  Device d = probe_this_device(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (show_progress) fmt::print(stderr, "\r{:<40}\r", "");
  if (!args.output.empty()) {  // first: an unwritable -o leaves the cached probe as it was
    Device saved = d;
    saved.id = stem_of(args.output);
    write_device_file(saved, args.output);
  }
  // `this` is the whole machine: a probe of fewer cores than it has is written only where -o says.
  const bool whole_machine = args.threads <= 0 || args.threads >= read_cpu_info().physical_cores;
  if (whole_machine) write_this_device_cache(d);
  if (args.json) {
    fmt::print("{}\n", device_to_json(d).dump(2));
    return 0;
  }
  print_probe_summary(d, seconds);
  std::vector<std::string> written;
  if (whole_machine) written.push_back(this_device_cache_path());
  if (!args.output.empty()) written.push_back(args.output);
  if (written.empty()) fmt::print("not cached as 'this' ({} of the machine's cores): give -o FILE to keep it\n", d.cores);
  else fmt::print("wrote {}\n", fmt::join(written, " and "));
  return 0;
}

}  // namespace

CLI::App* add_device_command(CLI::App& app, DeviceArgs& args) {
  CLI::App* device = app.add_subcommand("device", "The device catalog, and this machine measured as a device");
  device->require_subcommand(1);
  CLI::App* list = device->add_subcommand("list", "One line per catalog device: peaks, bandwidth, TDP");
  list->add_flag("--json", args.json, "print every device as JSON");
  list->callback([&args] { args.action = "list"; });
  CLI::App* show = device->add_subcommand("show", "Every number of one device with its source");
  show->add_option("device", args.name, "catalog id (a100, t4, ...), 'this', or a device file")->required();
  show->add_flag("--json", args.json, "print the device file");
  show->callback([&args] { args.action = "show"; });
  CLI::App* probe = device->add_subcommand(
      "probe", "Measure this machine (peaks per precision, bandwidths, caches) and write it as a device file");
  probe->add_option("-o,--output", args.output, "also write the device file here (the cache is always refreshed)");
  probe->add_option("--threads", args.threads, "threads for the all-core loops (0: all)")->check(CLI::Range(0, 4096));
  probe->add_option("--seconds", args.seconds, "seconds per measurement loop (default 0.1)")
      ->check(CLI::Range(0.001, 10.0));
  probe->add_flag("--json", args.json, "print the device file instead of the summary");
  probe->callback([&args] { args.action = "probe"; });
  return device;
}

int device_command(const DeviceArgs& args) {
  if (args.action == "list") return list_devices(args);
  if (args.action == "show") return show_device(args);
  return probe_device(args);
}

}  // namespace infera::tools
