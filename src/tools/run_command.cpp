#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "analysis/chrome_trace.h"
#include "core/file.h"
#include "tools/commands.h"

namespace infera::tools {

int run_command(const RunArgs& args) {
  SessionOptions options;
  options.threads = args.threads;
  auto t0 = std::chrono::steady_clock::now();
  Session s = Session::load(args.model, options);
  auto t1 = std::chrono::steady_clock::now();
  std::map<std::string, Tensor> inputs = make_inputs(s, args.inputs, parse_shapes(args.shapes));
  // A trace shows a warm run: compiling and first-touch page faults would otherwise hide in its first steps.
  if (!args.profile.empty()) s.run(inputs);
  RunProfile profile;
  auto t2 = std::chrono::steady_clock::now();
  std::vector<Tensor> outputs = s.run(inputs, args.profile.empty() ? nullptr : &profile);
  auto t3 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };

  fmt::print("{}: {} input(s), {} output(s)\n", args.model, s.inputs().size(), outputs.size());
  for (const ValueInfo& v : s.inputs())
    fmt::print("  in  {:<16} {:<16} {}{}\n", v.name, shape_str(inputs.at(v.name).shape()),
               dtype_name(inputs.at(v.name).dtype()), args.inputs.empty() ? " (random)" : "");
  print_outputs(s, outputs);
  fmt::print("load {:.1f} ms, run {:.1f} ms\n", ms(t0, t1), ms(t2, t3));
  if (!args.profile.empty()) {
    write_chrome_trace(profile, args.profile);
    fmt::print("wrote a trace of {} step(s) to {}\n", profile.layers.size(), args.profile);
  }

  if (!args.output_dir.empty()) {
    std::filesystem::create_directories(args.output_dir);
    nlohmann::json names = nlohmann::json::array();
    for (size_t i = 0; i < outputs.size(); ++i) {
      write_npy(args.output_dir + "/output_" + std::to_string(i) + ".npy", outputs[i]);
      names.push_back(s.outputs()[i].name);
    }
    write_file(args.output_dir + "/outputs.json", names.dump() + "\n");
    fmt::print("wrote {} output(s) to {}\n", outputs.size(), args.output_dir);
  }
  return 0;
}

}  // namespace infera::tools
