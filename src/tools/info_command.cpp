#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "onnx/import.h"
#include "passes/pipeline.h"
#include "tools/commands.h"

namespace infera::tools {

namespace {

nlohmann::json value_json(const ValueInfo& v) {
  nlohmann::json dims = nlohmann::json::array();
  for (const Dim& d : v.dims) dims.push_back(d.fixed() ? nlohmann::json(d.value) : nlohmann::json(d.symbol));
  return {{"name", v.name}, {"dtype", dtype_name(v.dtype)}, {"shape", v.has_shape ? dims : nlohmann::json()}};
}

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P"};
  int p = 0;
  while (v >= 1000 && p < 5) {
    v /= 1000;
    ++p;
  }
  return fmt::format("{:.3g} {}{}", v, prefixes[p], unit);
}

// The graph after the optimisation passes, for the input shapes `info` resolves.
struct OptimizedGraph {
  std::vector<PassStats> passes;
  std::vector<OpCount> ops;  // most frequent first
  int nodes = 0;
};

OptimizedGraph optimize(const InfoArgs& args, const Session& s, const std::map<std::string, Shape>& shapes) {
  Model model = import_model_file(args.model);
  std::map<std::string, Shape> resolved;
  for (const ValueInfo& v : s.inputs()) resolved[v.name] = resolve_input_shape(v, shapes);
  OptimizedGraph g;
  g.passes = optimize_graph(model, resolved);
  std::map<std::string, int> hist;
  for (const Node& n : model.graph.nodes) ++hist[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
  for (const auto& [op, count] : hist) g.ops.push_back({op, count});
  std::stable_sort(g.ops.begin(), g.ops.end(), [](const OpCount& a, const OpCount& b) { return a.count > b.count; });
  g.nodes = int(model.graph.nodes.size());
  return g;
}

nlohmann::json optimized_json(const OptimizedGraph& g) {
  nlohmann::json j;
  j["nodes"] = g.nodes;
  j["passes"] = nlohmann::json::array();
  for (const PassStats& p : g.passes) j["passes"].push_back({{"pass", p.pass}, {"rewrites", p.rewrites}});
  j["ops"] = nlohmann::json::object();
  for (const OpCount& c : g.ops) j["ops"][c.op_type] = c.count;
  return j;
}

void print_optimized(const OptimizedGraph& g) {
  fmt::print("optimized for these input shapes: {} nodes ({} op types)\n", g.nodes, g.ops.size());
  fmt::print("  passes (rewrites):\n");
  for (const PassStats& p : g.passes) fmt::print("    {:<26} {}\n", p.pass, p.rewrites);
  for (const OpCount& c : g.ops) fmt::print("  {:<32} {}\n", c.op_type, c.count);
}

}  // namespace

int info_command(const InfoArgs& args) {
  Session s = Session::inspect(args.model);
  std::map<std::string, Shape> shapes = parse_shapes(args.shapes);
  ModelSummary sum = s.summary(shapes);

  if (args.json) {
    nlohmann::json j;
    j["model"] = args.model;
    j["ir_version"] = sum.ir_version;
    j["opsets"] = sum.opsets;
    j["producer"] = sum.producer;
    for (const ValueInfo& v : s.inputs()) j["inputs"].push_back(value_json(v));
    for (const ValueInfo& v : s.outputs()) j["outputs"].push_back(value_json(v));
    for (const OpCount& c : sum.op_histogram) j["ops"][c.op_type] = c.count;
    j["parameters"] = sum.parameter_count;
    j["parameter_bytes"] = sum.parameter_bytes;
    j["flops"] = sum.flops;
    j["nodes_without_cost"] = sum.nodes_without_cost;
    j["unsupported"] = nlohmann::json::array();
    for (const UnsupportedNode& u : sum.unsupported)
      j["unsupported"].push_back({{"node", u.node_name}, {"op_type", u.op_type}, {"domain", u.domain}});
    if (args.optimized) j["optimized"] = optimized_json(optimize(args, s, shapes));
    fmt::print("{}\n", j.dump(2));
    return 0;
  }

  fmt::print("{}\n", args.model);
  std::string opsets;
  for (const auto& [domain, v] : sum.opsets) opsets += fmt::format("{}{} {}", opsets.empty() ? "" : ", ", domain.empty() ? "ai.onnx" : domain, v);
  fmt::print("  IR version {}, opsets: {}{}\n", sum.ir_version, opsets,
             sum.producer.empty() ? "" : ", produced by " + sum.producer);
  fmt::print("inputs:\n");
  for (const ValueInfo& v : s.inputs()) fmt::print("  {:<24} {:<10} {}\n", v.name, dtype_name(v.dtype), dims_str(v));
  fmt::print("outputs:\n");
  for (const ValueInfo& v : s.outputs()) fmt::print("  {:<24} {:<10} {}\n", v.name, dtype_name(v.dtype), dims_str(v));
  int nodes = 0;
  for (const OpCount& c : sum.op_histogram) nodes += c.count;
  fmt::print("nodes: {} ({} op types)\n", nodes, sum.op_histogram.size());
  for (const OpCount& c : sum.op_histogram) fmt::print("  {:<28} {}\n", c.op_type, c.count);
  fmt::print("parameters: {} ({})\n", human(double(sum.parameter_count), ""), human(double(sum.parameter_bytes), "B"));
  std::string shapes_note;
  for (const ValueInfo& v : s.inputs()) {
    bool symbolic = false;
    for (const Dim& d : v.dims) symbolic = symbolic || !d.fixed();
    if (symbolic && !shapes.count(v.name)) shapes_note = " (symbolic input dims taken as 1; set them with --shape)";
  }
  fmt::print("FLOPs per inference: {}{}{}\n", human(sum.flops, "FLOP"), shapes_note,
             sum.nodes_without_cost ? fmt::format(" ({} nodes with data-dependent shapes not counted)", sum.nodes_without_cost) : "");
  if (args.optimized) print_optimized(optimize(args, s, shapes));
  if (!sum.unsupported.empty()) {
    fmt::print("unsupported operators ({} nodes):\n", sum.unsupported.size());
    std::string nodes;  // exit 1 always comes with the one-line error, as for every other failure
    for (const UnsupportedNode& u : sum.unsupported) {
      std::string op = (u.domain.empty() ? "" : u.domain + ".") + u.op_type;
      fmt::print("  {:<28} node '{}'\n", op, u.node_name);
      if (nodes.size() < 200) nodes += fmt::format("{}node '{}' ({})", nodes.empty() ? "" : ", ", u.node_name, op);
    }
    throw Error(fmt::format("{}: {} node(s) with unsupported operators: {}{}", args.model, sum.unsupported.size(),
                            nodes, nodes.size() < 200 ? "" : ", ..."));
  }
  return 0;
}

}  // namespace infera::tools
