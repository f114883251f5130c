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

std::map<std::string, Shape> resolved_shapes(const Session& inspected, const std::map<std::string, Shape>& shapes) {
  std::map<std::string, Shape> resolved;
  for (const ValueInfo& v : inspected.inputs()) resolved[v.name] = resolve_input_shape(v, shapes);
  return resolved;
}

// How the model runs for the input shapes `info` resolves: compiled as `run` would compile it.
ExecutionPlan compile_plan(const InfoArgs& args, const Session& inspected, const std::map<std::string, Shape>& shapes) {
  Session s = Session::load(args.model);
  return s.execution_plan(resolved_shapes(inspected, shapes));
}

// A QuantizeLinear or DequantizeLinear the QDQ fusion left in the graph, with its reason (passes/fuse_qdq.cpp).
struct UnfusedQdq {
  std::string node, op_type, reason;
};

// The graph passes run again on the model, as compiling runs them: the compiled plan keeps steps, not attributes.
std::vector<UnfusedQdq> unfused_qdq(const InfoArgs& args, const Session& inspected,
                                    const std::map<std::string, Shape>& shapes) {
  Model m = import_model_file(args.model);
  optimize_graph(m, resolved_shapes(inspected, shapes));
  std::vector<UnfusedQdq> out;
  for (const Node& n : m.graph.nodes)
    if (n.domain.empty() && (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear"))
      out.push_back({n.name, n.op_type, n.attr_string("unfused_reason", "not examined by the QDQ fusion")});
  return out;
}

bool fell_back(const LayerProfile& step) { return step.backend.rfind("reference", 0) == 0 && !step.view; }

nlohmann::json plan_json(const ExecutionPlan& plan, const std::vector<UnfusedQdq>& unfused, const InfoArgs& args) {
  nlohmann::json j;
  if (args.optimized) {
    for (const PassCount& p : plan.passes) j["passes"].push_back({{"pass", p.pass}, {"rewrites", p.rewrites}});
    j["steps"] = nlohmann::json::array();
    for (const LayerProfile& st : plan.steps)
      j["steps"].push_back({{"node", st.node}, {"op_type", st.op_type}, {"backend", st.backend},
                            {"kernel", st.kernel}, {"output_layout", st.output_layout}, {"fallback", fell_back(st)}});
    j["unfused_qdq"] = nlohmann::json::array();
    for (const UnfusedQdq& u : unfused)
      j["unfused_qdq"].push_back({{"node", u.node}, {"op_type", u.op_type}, {"reason", u.reason}});
  }
  if (args.memory)
    j["memory"] = {{"arena_bytes", plan.memory.arena_bytes}, {"naive_bytes", plan.memory.naive_bytes},
                   {"planned_values", plan.memory.planned_values}, {"dynamic_values", plan.memory.dynamic_values}};
  return j;
}

void print_plan(const ExecutionPlan& plan, const std::vector<UnfusedQdq>& unfused, const InfoArgs& args) {
  if (args.optimized) {
    fmt::print("optimized for these input shapes: {} steps\n  passes (rewrites):", plan.steps.size());
    for (const PassCount& p : plan.passes) fmt::print(" {} {},", p.pass, p.rewrites);
    fmt::print("\n  {:<36} {:<28} {:<10} {:<44} {}\n", "node", "op", "backend", "kernel", "layout");
    for (const LayerProfile& st : plan.steps)
      fmt::print("  {:<36} {:<28} {:<10} {:<44} {}\n", st.node, st.op_type, st.backend, st.kernel, st.output_layout);
    std::map<std::string, int> fallback;
    for (const LayerProfile& st : plan.steps)
      if (fell_back(st)) ++fallback[st.op_type];
    std::string ops;
    for (const auto& [op, n] : fallback) ops += fmt::format("{}{} x{}", ops.empty() ? "" : ", ", op, n);
    fmt::print("  on the reference kernels (no fast kernel): {}\n", ops.empty() ? "none" : ops);
    if (!unfused.empty()) fmt::print("  Q/DQ not fused into integer operators ({}):\n", unfused.size());
    for (const UnfusedQdq& u : unfused) fmt::print("    {:<16} {:<36} {}\n", u.op_type, u.node, u.reason);
  }
  if (args.memory)
    fmt::print("activation memory: {} planned arena ({} values), {} without reuse; {} values sized at run time\n",
               human(double(plan.memory.arena_bytes), "B"), plan.memory.planned_values,
               human(double(plan.memory.naive_bytes), "B"), plan.memory.dynamic_values);
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
    if (args.optimized || args.memory) {
      const std::vector<UnfusedQdq> unfused = args.optimized ? unfused_qdq(args, s, shapes) : std::vector<UnfusedQdq>{};
      j.update(plan_json(compile_plan(args, s, shapes), unfused, args));
    }
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
  if ((args.optimized || args.memory) && sum.unsupported.empty())
    print_plan(compile_plan(args, s, shapes), args.optimized ? unfused_qdq(args, s, shapes) : std::vector<UnfusedQdq>{},
               args);
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
