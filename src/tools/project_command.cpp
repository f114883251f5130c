// `infera project`: what a model would do on a device (from the catalog, a file, or this machine as probed):
// per-step and total latency, efficiency, bound and energy, and for a load the devices needed, power and cost; or
// several devices side by side (--compare).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/projection.h"
#include "tools/commands.h"

namespace infera::tools {

namespace {

constexpr size_t kTopSteps = 20;

// Names come from the model file: keep control characters out, and long names to their distinguishing tail.
std::string cell(const std::string& text, size_t width) {
  std::string out;
  for (unsigned char c : text) out += c < 0x20 || c == 0x7f ? '?' : char(c);
  return out.size() <= width ? out : "~" + out.substr(out.size() - width + 1);
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

// The input shapes to project for: --shape where given, else the declared dims (symbolic ones as 1), dim 0 set
// to --batch; and the batch that makes (dim 0 of the first input with one, else 1).
std::pair<std::map<std::string, Shape>, int64_t> input_shapes(const Session& s, const ProjectArgs& args) {
  const std::map<std::string, Shape> given = parse_shapes(args.shapes);
  std::map<std::string, Shape> shapes;
  int64_t batch = 0;
  for (const ValueInfo& v : s.inputs()) {
    Shape shape = resolve_input_shape(v, given);
    if (args.batch > 0 && !shape.empty()) shape[0] = args.batch;
    if (batch == 0 && !shape.empty()) batch = shape[0];
    shapes[v.name] = shape;
  }
  return {shapes, std::max<int64_t>(batch, 1)};
}

// "fp32=0.86" -> {"fp32": 0.86, given on the command line}.
std::map<std::string, Sourced> parse_efficiencies(const std::vector<std::string>& specs) {
  std::map<std::string, Sourced> out;
  for (const std::string& spec : specs) {
    const size_t eq = spec.find('=');
    const std::string precision = eq == std::string::npos ? "" : precision_key(spec.substr(0, eq));
    double value = 0;
    try {
      value = eq == std::string::npos ? 0 : std::stod(spec.substr(eq + 1));
    } catch (const std::exception&) {
      value = 0;
    }
    if (precision.empty() || !(value > 0 && value <= 1))
      throw Error("--matrix-efficiency '" + spec + "': expected PRECISION=FRACTION, e.g. fp32=0.86");
    out[precision] = {value, "given on the command line (--matrix-efficiency)"};
  }
  return out;
}

std::string ms(double seconds) { return fmt::format("{:.3f}", seconds * 1e3); }
std::string us(double seconds) { return fmt::format("{:.1f}", seconds * 1e6); }

void print_layers(const Projection& p) {
  const std::vector<size_t> top = p.slowest(kTopSteps);
  fmt::print("\nslowest {} of {} steps:\n", top.size(), p.layers.size());
  fmt::print("  {:>4} {:<36} {:<18} {:<5} {:>8} {:>8} {:>6} {:>9} {:>9} {:>8} {:>9} {:>6} {:<8}\n", "#", "step", "op",
             "prec", "MFLOP", "MB", "eff %", "compute", "memory", "overhead", "time µs", "share", "bound");
  for (size_t i : top) {
    const LayerProjection& l = p.layers[i];
    fmt::print("  {:>4} {:<36} {:<18} {:<5} {:>8.2f} {:>8.3f} {:>6.1f} {:>9} {:>9} {:>8} {:>9} {:>5.1f}% {:<8}\n", i + 1,
               cell(l.layer.node.empty() ? l.layer.op_type : l.layer.node, 36), cell(l.layer.op_type, 18),
               l.precision, l.layer.flops * 1e-6, (l.layer.bytes_read + l.layer.bytes_written) * 1e-6,
               100 * l.efficiency, us(l.compute_s), us(l.memory_s), us(l.overhead_s), us(l.time_s),
               p.totals.time_s > 0 ? 100 * l.time_s / p.totals.time_s : 0, bound_name(l.bound));
  }
}

// Each kind of term once, with the assumption as the first step that used it stated it (all of them: --json).
void print_assumptions(const Projection& p) {
  fmt::print("\nassumptions:\n");
  for (const std::string& a : p.assumptions) fmt::print("  - {}\n", a);
  std::vector<std::string> seen;
  for (const LayerProjection& l : p.layers)
    for (const ProjectionTerm& t : l.terms) {
      if (std::find(seen.begin(), seen.end(), t.name) != seen.end()) continue;
      seen.push_back(t.name);
      fmt::print("  - {}: e.g. {}: {}{}\n", t.name, cell(l.layer.node, 40), t.assumption,
                 t.source.empty() ? "" : " [" + t.source + "]");
    }
  fmt::print("  - energy: {}\n", p.energy_table.source);
}

void print_load(const Projection& p) {
  const LoadProjection& l = p.load;
  fmt::print("\nload        batch {}: {} ms per batch, {:.1f} inferences/s per device\n", l.batch, ms(l.latency_s),
             l.throughput);
  if (l.devices > 0)
    fmt::print("            {} device(s) for {} queries/s, {:.0f} % utilized{}\n", l.devices, p.options.target_qps,
               100 * l.utilization, l.bound_met ? "" : " (latency bound NOT met)");
  if (l.power_w > 0) fmt::print("power       {:.1f} W\n", l.power_w);
  if (l.usd_per_million > 0)
    fmt::print("cost        ${:.4f} per million inferences (${:.3f}/h)\n", l.usd_per_million, l.usd_per_hour);
  for (const std::string& a : l.assumptions) fmt::print("  - {}\n", a);
}

void print_projection(const Projection& p) {
  const ProjectionTotals& t = p.totals;
  const Device& d = p.device;
  fmt::print("{} on {} ({}, {}): batch {}, {}{}\n", cell(p.model, 200), cell(d.display_name, 60), cell(d.id, 30),
             cell(d.file, 80), p.options.batch,
             p.options.precision.empty() ? "precision as the model" : "precision " + p.options.precision,
             d.kind == "cpu" ? fmt::format(", {} thread(s)", p.options.threads > 0 ? std::to_string(p.options.threads)
                                                                                  : "all")
                             : "");
  print_layers(p);
  fmt::print("\nlatency     {} ms per run ({} steps{})\n", ms(t.time_s), p.layers.size(),
             t.unknown_steps > 0 ? fmt::format(", {} with shapes known only at run time: overhead only", t.unknown_steps)
                                 : "");
  fmt::print("throughput  {:.1f} inferences/s\n", p.throughput());
  fmt::print("efficiency  {:.1f} % of the {} peak ({:.1f} GFLOP/s; {:.3f} GFLOP per run)\n", 100 * t.efficiency,
             t.peak_precision, t.peak_ops * 1e-9, t.flops * 1e-9);
  fmt::print("bound       compute {} ms, memory {} ms, overhead {} ms\n", ms(t.time_by_bound_s[0]),
             ms(t.time_by_bound_s[1]), ms(t.time_by_bound_s[2]));
  fmt::print("energy      {:.3f} mJ per inference\n", t.energy_j * 1e3);
  print_load(p);
  print_assumptions(p);
}

void print_comparison(const std::vector<Projection>& all) {
  fmt::print("{}: batch {}\n", cell(all.front().model, 200), all.front().options.batch);
  fmt::print("{:<28} {:>11} {:>12} {:>7} {:>10} {:>8} {:>9} {:>10}\n", "device", "latency ms", "inferences/s",
             "eff %", "mJ/inf", "devices", "power W", "$/M inf");
  for (const Projection& p : all) {
    const LoadProjection& l = p.load;
    fmt::print("{:<28} {:>11} {:>12.1f} {:>7.1f} {:>10.3f} {:>8} {:>9} {:>10}\n",
               cell(p.device.id + " (" + p.device.display_name + ")", 28), ms(p.totals.time_s), l.throughput,
               100 * p.totals.efficiency, p.totals.energy_j * 1e3, l.devices > 0 ? std::to_string(l.devices) : "-",
               l.power_w > 0 ? fmt::format("{:.0f}", l.power_w) : "-",
               l.usd_per_million > 0 ? fmt::format("{:.4f}", l.usd_per_million) : "-");
  }
  fmt::print("(latency: one batch; throughput: one device at the load's batch; efficiency: % of the peak at the "
             "model's precision; cost: price per hour, or price over {} years plus energy; --json: every term)\n",
             all.front().options.amortization_years);
}

}  // namespace

CLI::App* add_project_command(CLI::App& app, ProjectArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "project", "Project latency, throughput, efficiency, energy and cost of a model onto a device");
  cmd->add_option("model", args.model, "ONNX model file")->required();
  cmd->add_option("--device", args.device, "this (the probed CPU), a catalog name (a100, h100, t4, ...) or a file");
  cmd->add_option("--device-file", args.device_file, "a device file (overrides --device)");
  cmd->add_option("--precision", args.precision, "run float and 8-bit steps at this precision")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"}));
  cmd->add_option("--shape", args.shapes, "NAME=1x3x224x224: input shape");
  cmd->add_option("--batch", args.batch, "replace dim 0 of every input")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", args.threads, "CPU devices: cores used (0: all)")->check(CLI::Range(0, 4096));
  cmd->add_option("--target-qps", args.target_qps, "size a deployment for this many inferences per second")
      ->check(CLI::Range(0.0, 1e12));
  cmd->add_option("--latency-bound", args.latency_bound_ms, "ms; batches grow while a batch stays within it")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--matrix-efficiency", args.matrix_efficiency,
                  "PRECISION=FRACTION: measured share of the peak the matrix kernels reach on an ideal shape");
  cmd->add_option("--compare", args.compare, "devices side by side, e.g. a100,h100,t4,l4,vck5000,this");
  cmd->add_flag("--json", args.json, "print one JSON object");
  return cmd;
}

int project_command(const ProjectArgs& args) {
  Session s = Session::load(args.model);
  const auto [shapes, batch] = input_shapes(s, args);
  const std::vector<LayerProfile> layers = s.layers(shapes);
  ProjectionOptions options;
  options.precision = args.precision;
  options.threads = args.threads;
  options.batch = batch;
  options.target_qps = args.target_qps;
  options.latency_bound_ms = args.latency_bound_ms;
  options.matrix_efficiency = parse_efficiencies(args.matrix_efficiency);

  std::vector<std::string> devices = args.compare.empty() ? std::vector<std::string>{args.device} : split_list(args.compare);
  if (!args.device_file.empty()) {
    if (args.compare.empty()) devices = {args.device_file};
    else devices.push_back(args.device_file);
  }
  std::vector<Projection> all;
  for (const std::string& name : devices) all.push_back(project(layers, load_device(name), options, args.model));

  if (args.json) {
    nlohmann::json j;
    if (args.compare.empty()) j = projection_json(all.front());
    else {
      j = {{"model", args.model}, {"devices", nlohmann::json::array()}};
      for (const Projection& p : all) j["devices"].push_back(projection_json(p));
    }
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (args.compare.empty()) {
    print_projection(all.front());
  } else {
    print_comparison(all);
  }
  return 0;
}

}  // namespace infera::tools
