// `infera profile`: runs a model several times with per-step timing, places every step under the device's
// roofline, and prints the hotspots, every step and the totals (or JSON); optionally an HTML page and a trace.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/chrome_trace.h"
#include "analysis/html_report.h"
#include "analysis/roofline.h"
#include "core/file.h"
#include "tools/commands.h"

namespace infera::tools {

namespace {

// Names come from the model file: keep the terminal's control characters out, and long names to their tail, which
// is the part that tells layers apart ("/encoder/layer.11/attention/self/MatMul").
std::string cell(const std::string& text, size_t width) {
  std::string out;
  for (unsigned char c : text) out += c < 0x20 || c == 0x7f ? '?' : char(c);
  return out.size() <= width ? out : "~" + out.substr(out.size() - width + 1);
}

std::string energy_uj(double joules) { return fmt::format("{:.2f}", joules * 1e6); }

void print_header_row() {
  fmt::print("  {:>4} {:<40} {:<20} {:>9} {:>6} {:>9} {:>8} {:>8} {:>7} {:>7} {:<8} {:>9}\n", "#", "step", "op", "µs",
             "share", "GFLOP/s", "GB/s", "FLOP/B", "% peak", "% roof", "bound", "energy µJ");
}

void print_row(size_t number, const LayerRoofline& r) {
  fmt::print("  {:>4} {:<40} {:<20} {:>9.1f} {:>5.1f}% {:>9.2f} {:>8.2f} {:>8.2f} {:>7.1f} {:>7.1f} {:<8} {:>9}\n",
             number, cell(r.layer.node.empty() ? r.layer.op_type : r.layer.node, 40), cell(r.layer.op_type, 20),
             r.layer.duration_us, 100 * r.share, r.gflops_per_s, r.gbytes_per_s, r.intensity, r.percent_of_peak,
             r.percent_of_roofline, bound_name(r.bound), energy_uj(r.energy.total_j()));
}

void print_text(const RooflineReport& report, size_t top) {
  const RooflineTotals& t = report.totals;
  const MemoryCeilings& c = report.ceilings;
  fmt::print("{}: {} step(s), {} thread(s), median of {} run(s)\n", cell(report.model, 200), report.layers.size(),
             report.threads > 0 ? std::to_string(report.threads) : "all", report.runs);
  std::string fp32_used;
  double fp32 = report.device.peak("fp32", report.threads, &fp32_used);
  fmt::print("device {} ({}): {} peak {:.1f} GFLOP/s, DRAM {:.1f} GB/s, on-chip {:.1f} GB/s, {:.1f} MiB\n",
             cell(report.device.display_name, 60), cell(report.device.id, 30), fp32_used.empty() ? "fp32" : fp32_used,
             fp32 * 1e-9, c.dram_bandwidth * 1e-9, c.onchip_bandwidth * 1e-9, c.onchip_bytes / 1048576);

  std::vector<size_t> hot = report.hotspots(top);
  fmt::print("\ntop {} steps by time:\n", hot.size());
  print_header_row();
  for (size_t i : hot) print_row(i + 1, report.layers[i]);

  fmt::print("\nall steps in execution order:\n");
  print_header_row();
  for (size_t i = 0; i < report.layers.size(); ++i) print_row(i + 1, report.layers[i]);

  fmt::print("\ntotal       {:.3f} ms per run, median; the steps' medians add up to {:.3f} ms (the rest: between "
             "steps, or interruptions on a busy machine)\n",
             t.time_us / 1000, t.steps_us / 1000);
  fmt::print("compute     {:.3f} GFLOP, {:.2f} GFLOP/s, {:.1f} % of peak\n", t.flops * 1e-9, t.gflops_per_s,
             t.percent_of_peak);
  fmt::print("memory      {:.2f} MB moved, {:.2f} MB from DRAM\n", t.bytes * 1e-6, t.dram_bytes * 1e-6);
  fmt::print("bound       ");
  for (Bound b : {Bound::Compute, Bound::Memory, Bound::Overhead, Bound::Unknown}) {
    double us = t.time_by_bound_us[static_cast<int>(b)];
    if (us > 0) fmt::print("{} {:.1f} %  ", bound_name(b), t.steps_us > 0 ? 100 * us / t.steps_us : 0);
  }
  fmt::print("(of the time in steps; overhead: time > {:g}x the roofline's)\n", report.options.overhead_factor);
  fmt::print("energy      {:.1f} µJ per run: compute {:.1f}, on-chip {:.1f}, DRAM {:.1f} ({})\n", t.energy_j() * 1e6,
             t.compute_j * 1e6, t.onchip_j * 1e6, t.dram_j * 1e6, report.energy_table.source);
}

std::vector<RunProfile> profiled_runs(Session& s, const std::map<std::string, Tensor>& inputs, int iters) {
  s.run(inputs);  // warm-up: compiles, touches every buffer once
  std::vector<RunProfile> runs(static_cast<size_t>(iters));
  for (RunProfile& run : runs) s.run(inputs, &run);
  return runs;
}

}  // namespace

CLI::App* add_profile_command(CLI::App& app, ProfileArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "profile", "Per-layer time, FLOPs, bytes, % of peak, bound and energy under the device's roofline");
  cmd->add_option("model", args.model, "ONNX model file")->required();
  cmd->add_option("--input,-i", args.inputs, "[NAME=]FILE (.npy or TensorProto .pb); others are random");
  cmd->add_option("--shape", args.shapes, "NAME=1x3x224x224: shape of a random input");
  cmd->add_option("--threads", args.threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->add_option("--device", args.device, "this (the probed CPU), a catalog name (a100, ...) or a device file");
  cmd->add_option("--iters", args.iters, "profiled runs; each step's time is the median (default 10)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--top", args.top, "hotspots listed first (default 10)")->check(CLI::Range(1, 100000));
  cmd->add_option("--html", args.html, "write a self-contained HTML page: roofline chart, time bars, energy");
  cmd->add_option("--trace", args.trace, "write a Chrome trace of the last run");
  cmd->add_flag("--json", args.json, "print one JSON object");
  return cmd;
}

int profile_command(const ProfileArgs& args) {
  Device device = load_device(args.device);
  SessionOptions options;
  options.threads = args.threads;
  Session s = Session::load(args.model, options);
  std::map<std::string, Tensor> inputs = make_inputs(s, args.inputs, parse_shapes(args.shapes));
  std::vector<RunProfile> runs = profiled_runs(s, inputs, args.iters);

  RooflineReport report = analyze_roofline(runs, device, energy_table_for(device));
  if (!args.html.empty()) write_file(args.html, roofline_html(report, {.top = std::max<size_t>(20, args.top)}));
  if (!args.trace.empty()) write_chrome_trace(runs.back(), args.trace);

  if (args.json) {
    fmt::print("{}\n", roofline_json(report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  print_text(report, static_cast<size_t>(args.top));
  if (!args.html.empty()) fmt::print("wrote {}\n", args.html);
  if (!args.trace.empty()) fmt::print("wrote {}\n", args.trace);
  return 0;
}

}  // namespace infera::tools
