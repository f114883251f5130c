#include "analysis/chrome_trace.h"

#include <nlohmann/json.hpp>

#include "core/file.h"

namespace infera {

namespace {

using nlohmann::json;

// All steps run one after another on the calling thread (a step's own threads work inside it), so one process
// and one thread row hold the whole run.
constexpr int kPid = 1;
constexpr int kTid = 1;

json metadata_event(const std::string& name, const std::string& value) {
  return {{"name", name}, {"ph", "M"}, {"pid", kPid}, {"tid", kTid}, {"args", {{"name", value}}}};
}

json step_args(const LayerProfile& l) {
  json args = {{"op_type", l.op_type},     {"backend", l.backend},          {"kernel", l.kernel},
               {"precision", l.precision}, {"flops", l.flops},              {"bytes_read", l.bytes_read},
               {"bytes_written", l.bytes_written}, {"weight_bytes", l.weight_bytes}};
  if (!l.cost_known) args["cost"] = "unknown: shapes known only at run time";
  if (l.matrix.defined())
    args["matrix"] = {{"batch", l.matrix.batch}, {"m", l.matrix.m}, {"n", l.matrix.n}, {"k", l.matrix.k}};
  return args;
}

}  // namespace

json chrome_trace(const RunProfile& profile) {
  json events = json::array();
  events.push_back(metadata_event("process_name", "infera " + profile.model));
  events.push_back(metadata_event(
      "thread_name", profile.threads > 0 ? "run, " + std::to_string(profile.threads) + " thread(s)" : "run"));
  events.push_back({{"name", "run"}, {"cat", "run"}, {"ph", "X"}, {"pid", kPid}, {"tid", kTid}, {"ts", 0.0},
                    {"dur", profile.total_us}, {"args", {{"steps", profile.layers.size()}}}});
  for (const LayerProfile& l : profile.layers)
    events.push_back({{"name", l.node.empty() ? l.op_type : l.node},
                      {"cat", l.conversion ? "conversion" : "layer"},
                      {"ph", "X"},
                      {"pid", kPid},
                      {"tid", kTid},
                      {"ts", l.start_us},
                      {"dur", l.duration_us},
                      {"args", step_args(l)}});
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"model", profile.model}, {"threads", profile.threads}, {"total_us", profile.total_us}}}};
}

void write_chrome_trace(const RunProfile& profile, const std::string& path) {
  // Names come from the model file and need not be UTF-8: replace what is not, rather than fail the dump.
  write_file(path, chrome_trace(profile).dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

}  // namespace infera
