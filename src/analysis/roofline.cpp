#include "analysis/roofline.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "infera/error.h"

namespace infera {

namespace {

using nlohmann::json;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Where a peak came from (as Device::peak scales it): the whole device's figure, or on a CPU running fewer threads
// than it has cores, one core's (measured, or the whole divided by the cores) times the threads.
std::string peak_source(const Device& device, const std::string& precision, int threads) {
  auto whole = device.peak_ops.find(precision);
  std::string source = whole != device.peak_ops.end() ? whole->second.source : "";
  if (device.kind != "cpu" || threads <= 0 || threads >= device.cores) return source;
  auto single = device.peak_ops_per_core.find(precision);
  if (single != device.peak_ops_per_core.end() && single->second.known())
    return fmt::format("one core × {} thread(s): {}", threads, single->second.source);
  return fmt::format("{} of {} cores: {}", threads, device.cores, source);
}

Bound classify(const LayerRoofline& r, double overhead_factor) {
  if (!r.layer.cost_known) return Bound::Unknown;
  // No work on either roofline (a view, a copy the device has no numbers for): all its time is overhead.
  double roofline_us = std::max(r.compute_us, r.memory_us);
  if (roofline_us <= 0 || r.layer.duration_us > overhead_factor * roofline_us) return Bound::Overhead;
  return r.compute_us >= r.memory_us ? Bound::Compute : Bound::Memory;
}

LayerRoofline analyze_layer(const LayerProfile& l, const RooflineReport& report) {
  const MemoryCeilings& c = report.ceilings;
  LayerRoofline r;
  r.layer = l;
  double seconds = l.duration_us * 1e-6;
  r.share = report.totals.steps_us > 0 ? l.duration_us / report.totals.steps_us : 0;
  r.bytes = l.bytes_read + l.bytes_written;
  r.intensity = r.bytes > 0 ? l.flops / r.bytes : 0;
  r.gflops_per_s = seconds > 0 ? l.flops / seconds * 1e-9 : 0;
  r.gbytes_per_s = seconds > 0 ? r.bytes / seconds * 1e-9 : 0;
  r.peak_flops_per_s = report.device.peak(l.precision, report.threads, &r.peak_precision);
  r.peak_source = peak_source(report.device, r.peak_precision, report.threads);
  r.percent_of_peak = r.peak_flops_per_s > 0 ? 100 * r.gflops_per_s * 1e9 / r.peak_flops_per_s : 0;
  r.dram_bytes = default_dram_bytes(l, c.onchip_bytes);
  if (report.weights_on_chip) r.dram_bytes -= std::max(l.weight_bytes, 0.0);
  r.compute_us = r.peak_flops_per_s > 0 ? l.flops / r.peak_flops_per_s * 1e6 : 0;
  double dram_us = c.dram_bandwidth > 0 ? r.dram_bytes / c.dram_bandwidth * 1e6 : 0;
  double onchip_us = c.onchip_bandwidth > 0 ? r.bytes / c.onchip_bandwidth * 1e6 : 0;
  r.memory_us = std::max(dram_us, onchip_us);
  r.percent_of_roofline = l.duration_us > 0 ? 100 * std::max(r.compute_us, r.memory_us) / l.duration_us : 0;
  r.bound = classify(r, report.options.overhead_factor);
  r.energy = estimate_energy(l, report.energy_table, r.dram_bytes);
  return r;
}

void add_totals(RooflineTotals& t, const LayerRoofline& r) {
  t.flops += r.layer.flops;
  t.bytes += r.bytes;
  t.dram_bytes += r.dram_bytes;
  t.compute_j += r.energy.compute_j;
  t.onchip_j += r.energy.onchip_j;
  t.dram_j += r.energy.dram_j;
  t.time_by_bound_us[static_cast<int>(r.bound)] += r.layer.duration_us;
}

json value_with_source(double value, const std::string& source) { return {{"value", value}, {"source", source}}; }

json layer_json(const LayerRoofline& r) {
  const LayerProfile& l = r.layer;
  json j = {{"node", l.node},
            {"op_type", l.op_type},
            {"backend", l.backend},
            {"kernel", l.kernel},
            {"precision", l.precision},
            {"conversion", l.conversion},
            {"cost_known", l.cost_known},
            {"time_us", l.duration_us},
            {"share", r.share},
            {"flops", l.flops},
            {"bytes_read", l.bytes_read},
            {"bytes_written", l.bytes_written},
            {"weight_bytes", l.weight_bytes},
            {"dram_bytes", r.dram_bytes},
            {"intensity_flops_per_byte", r.intensity},
            {"gflops_per_s", r.gflops_per_s},
            {"gbytes_per_s", r.gbytes_per_s},
            {"peak", {{"precision", r.peak_precision}, {"flops_per_s", r.peak_flops_per_s}, {"source", r.peak_source}}},
            {"percent_of_peak", r.percent_of_peak},
            {"roofline_us", {{"compute", r.compute_us}, {"memory", r.memory_us}}},
            {"percent_of_roofline", r.percent_of_roofline},
            {"bound", bound_name(r.bound)},
            {"energy_j",
             {{"compute", r.energy.compute_j},
              {"onchip", r.energy.onchip_j},
              {"dram", r.energy.dram_j},
              {"total", r.energy.total_j()},
              {"inputs", r.energy.inputs()}}}};
  if (l.matrix.defined())
    j["matrix"] = {{"batch", l.matrix.batch}, {"m", l.matrix.m}, {"n", l.matrix.n}, {"k", l.matrix.k}};
  return j;
}

}  // namespace

std::string_view bound_name(Bound b) {
  switch (b) {
    case Bound::Compute: return "compute";
    case Bound::Memory: return "memory";
    case Bound::Overhead: return "overhead";
    case Bound::Unknown: break;
  }
  return "unknown";
}

std::vector<size_t> RooflineReport::hotspots(size_t k) const {
  std::vector<size_t> order(layers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return layers[a].layer.duration_us > layers[b].layer.duration_us;
  });
  order.resize(std::min(k, order.size()));
  return order;
}

RunProfile median_profile(const std::vector<RunProfile>& runs) {
  if (runs.empty()) throw Error("profile: no runs to summarise");
  RunProfile out = runs.front();
  for (const RunProfile& run : runs) {
    bool same = run.layers.size() == out.layers.size();
    for (size_t i = 0; same && i < out.layers.size(); ++i) same = run.layers[i].node == out.layers[i].node;
    if (!same) throw Error("profile of " + out.model + ": the runs executed different steps");
  }
  std::vector<double> times(runs.size());
  for (size_t i = 0; i < out.layers.size(); ++i) {
    for (size_t r = 0; r < runs.size(); ++r) times[r] = runs[r].layers[i].duration_us;
    out.layers[i].duration_us = median(times);
  }
  for (size_t r = 0; r < runs.size(); ++r) times[r] = runs[r].total_us;
  out.total_us = median(times);
  return out;
}

MemoryCeilings memory_ceilings(const Device& device, int threads) {
  MemoryCeilings c;
  c.dram_bandwidth = device.dram_bandwidth(threads);
  c.dram_source = c.dram_bandwidth == device.memory_bandwidth.value
                      ? device.memory_bandwidth.source
                      : fmt::format("one core × {} thread(s): {}", threads, device.memory_bandwidth_per_core.source);
  c.onchip_bytes = device.onchip_bytes.value;
  c.onchip_bytes_source = device.onchip_bytes.source;
  c.onchip_bandwidth = device.onchip_bandwidth.value;
  c.onchip_bandwidth_source = device.onchip_bandwidth.source;
  if (device.kind != "cpu" || device.caches.empty()) return c;
  // A CPU's probe also measures each cache level's bandwidth from one core: the last level's, times the cores the
  // run used, bounds what those cores get (as Device::dram_bandwidth does for DRAM).
  const CacheLevel& last = *std::max_element(device.caches.begin(), device.caches.end(),
                                             [](const CacheLevel& a, const CacheLevel& b) { return a.level < b.level; });
  if (!last.bandwidth.known()) return c;
  const int cores = std::max(1, device.cores);
  const int used = threads > 0 ? std::min(threads, cores) : cores;
  const double scaled = last.bandwidth.value * used;
  if (c.onchip_bandwidth > 0 && c.onchip_bandwidth <= scaled) return c;
  c.onchip_bandwidth = scaled;
  c.onchip_bandwidth_source = fmt::format("L{} from one core × {} core(s): {}", last.level, used, last.bandwidth.source);
  return c;
}

RooflineReport analyze_roofline(const std::vector<RunProfile>& runs, const Device& device, const EnergyTable& table,
                                const RooflineOptions& options) {
  RunProfile profile = median_profile(runs);
  RooflineReport report;
  report.model = profile.model;
  report.threads = profile.threads;
  report.runs = static_cast<int>(runs.size());
  report.device = device;
  report.energy_table = table;
  report.options = options;
  report.ceilings = memory_ceilings(device, profile.threads);
  report.totals.time_us = profile.total_us;
  double weight_bytes = 0;
  for (const LayerProfile& l : profile.layers) {
    weight_bytes += l.weight_bytes;
    report.totals.steps_us += l.duration_us;  // before the layers: their shares need it
  }
  report.weights_on_chip = report.ceilings.onchip_bytes > 0 && weight_bytes <= report.ceilings.onchip_bytes / 2;
  double ideal_compute_us = 0;
  for (const LayerProfile& l : profile.layers) {
    report.layers.push_back(analyze_layer(l, report));
    add_totals(report.totals, report.layers.back());
    ideal_compute_us += report.layers.back().compute_us;
  }
  RooflineTotals& t = report.totals;
  t.gflops_per_s = t.time_us > 0 ? t.flops / t.time_us * 1e-3 : 0;
  t.percent_of_peak = t.time_us > 0 ? 100 * ideal_compute_us / t.time_us : 0;
  return report;
}

json roofline_json(const RooflineReport& report) {
  const RooflineTotals& t = report.totals;
  const MemoryCeilings& c = report.ceilings;
  json layers = json::array();
  for (const LayerRoofline& r : report.layers) layers.push_back(layer_json(r));
  json by_bound;
  for (Bound b : {Bound::Compute, Bound::Memory, Bound::Overhead, Bound::Unknown})
    by_bound[std::string(bound_name(b))] = t.time_by_bound_us[static_cast<int>(b)];
  return {
      {"model", report.model},
      {"threads", report.threads},
      {"runs", report.runs},
      {"device", device_to_json(report.device)},
      {"ceilings",
       {{"dram_bandwidth_bytes_per_s", value_with_source(c.dram_bandwidth, c.dram_source)},
        {"onchip_bandwidth_bytes_per_s", value_with_source(c.onchip_bandwidth, c.onchip_bandwidth_source)},
        {"onchip_bytes", value_with_source(c.onchip_bytes, c.onchip_bytes_source)}}},
      {"rules",
       {{"dram_bytes",
         "weight_bytes (unless weights_on_chip) + activation bytes when they exceed onchip_bytes (all bytes when it "
         "is unknown)"},
        {"weights_on_chip", report.weights_on_chip},
        {"compute_us", "flops / peak(precision, threads)"},
        {"memory_us", "max(dram_bytes / dram_bandwidth, bytes / onchip_bandwidth)"},
        {"bound", fmt::format("overhead when time > {:g} x max(compute_us, memory_us); else compute when "
                              "compute_us >= memory_us; else memory",
                              report.options.overhead_factor)}}},
      {"energy_table", energy_table_to_json(report.energy_table)},
      {"totals",
       {{"time_us", t.time_us},
        {"steps_us", t.steps_us},
        {"flops", t.flops},
        {"bytes", t.bytes},
        {"dram_bytes", t.dram_bytes},
        {"gflops_per_s", t.gflops_per_s},
        {"percent_of_peak", t.percent_of_peak},
        {"time_by_bound_us", by_bound},
        {"energy_j", {{"compute", t.compute_j}, {"onchip", t.onchip_j}, {"dram", t.dram_j}, {"total", t.energy_j()}}}}},
      {"layers", std::move(layers)}};
}

}  // namespace infera
