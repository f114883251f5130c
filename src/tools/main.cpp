// The infera command line. With no arguments it runs the demo.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tools/commands.h"

using namespace infera::tools;

int main(int argc, char** argv) {
  CLI::App app{"infera: run, inspect and (later) quantize, profile and project ONNX models"};
  app.require_subcommand(0, 1);

  RunArgs run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a model on given or random inputs");
  run_cmd->add_option("model", run.model, "ONNX model file")->required();
  run_cmd->add_option("--input,-i", run.inputs, "[NAME=]FILE (.npy or TensorProto .pb); unnamed in graph-input order");
  run_cmd->add_option("--shape", run.shapes, "NAME=1x3x224x224: shape of a random input");
  run_cmd->add_option("--output-dir,-o", run.output_dir, "write output_<i>.npy and outputs.json here");
  run_cmd->add_option("--threads", run.threads, "threads (0: all cores)");
  run_cmd->add_option("--profile", run.profile, "write a Chrome trace (chrome://tracing, Perfetto) of one warm run here");

  BenchArgs bench;
  CLI::App* bench_cmd =
      app.add_subcommand("bench", "Time a model: load, compile, latency percentiles, GFLOP/s, peak RSS");
  bench_cmd->add_option("model", bench.model, "ONNX model file")->required();
  bench_cmd->add_option("--input,-i", bench.inputs, "[NAME=]FILE (.npy or TensorProto .pb); others are random");
  bench_cmd->add_option("--shape", bench.shapes, "NAME=1x3x224x224: shape of a random input");
  bench_cmd->add_option("--batch", bench.batch, "replace dim 0 of every input")->check(CLI::Range(1, 1 << 30));
  bench_cmd->add_option("--threads", bench.threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  bench_cmd->add_option("--warmup", bench.warmup, "untimed runs after the first run (default 1)")
      ->check(CLI::Range(0, 1000000));
  CLI::Option* iters_opt = bench_cmd->add_option("--iters", bench.iters, "timed runs (default 10)")
                               ->check(CLI::Range(1, 1000000));
  bench_cmd->add_option("--seconds", bench.seconds, "time runs for this many seconds instead of --iters")
      ->check(CLI::Range(0.001, 86400.0))
      ->excludes(iters_opt);
  bench_cmd->add_flag("--peak", bench.peak, "also measure this CPU's fp32 FMA peak and print the achieved %");
  bench_cmd->add_flag("--json", bench.json, "print one JSON object");

  InfoArgs info;
  CLI::App* info_cmd = app.add_subcommand("info", "Describe a model: inputs, outputs, ops, parameters, FLOPs");
  info_cmd->add_option("model", info.model, "ONNX model file")->required();
  info_cmd->add_option("--shape", info.shapes, "NAME=1x3x224x224: input shape used for FLOPs");
  info_cmd->add_flag("--json", info.json, "print JSON");
  info_cmd->add_flag("--optimized", info.optimized,
                     "also show the compiled graph: rewrites per pass, each step's backend and kernel, fallbacks");
  info_cmd->add_flag("--memory", info.memory, "also show the activation memory plan (planned peak vs naive sum)");

  ProfileArgs profile;
  CLI::App* profile_cmd = add_profile_command(app, profile);
  EvalArgs eval;
  CLI::App* eval_cmd = add_eval_command(app, eval);
  CalibrateArgs calibrate;
  CLI::App* calibrate_cmd = add_calibrate_command(app, calibrate);

  ProjectArgs project;
  CLI::App* project_cmd = add_project_command(app, project);
  QuantizeArgs quantize;
  CLI::App* quantize_cmd = add_quantize_command(app, quantize);

  DeviceArgs device;
  CLI::App* device_cmd = add_device_command(app, device);

  CLI::App* demo_cmd = app.add_subcommand("demo", "Run the model shipped with infera on its sample images");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    fmt::print(stderr, "infera: error: {} (see infera --help)\n", e.what());
    return 2;
  }
  try {
    if (*run_cmd) return run_command(run);
    if (*bench_cmd) return bench_command(bench);
    if (*info_cmd) return info_command(info);
    if (*profile_cmd) return profile_command(profile);
    if (*eval_cmd) return eval_command(eval);
    if (*calibrate_cmd) return calibrate_command(calibrate);
    if (*project_cmd) return project_command(project);
    if (*quantize_cmd) return quantize_command(quantize);
    if (*device_cmd) return device_command(device);
    (void)demo_cmd;
    return demo_command();
  } catch (const std::exception& e) {
    // Messages quote names taken from the model file: escape control characters, so that the message stays one
    // line and cannot drive the terminal.
    std::string msg;
    for (unsigned char c : std::string(e.what()))
      msg += c < 0x20 || c == 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, char(c));
    fmt::print(stderr, "infera: error: {}\n", msg);
    return 1;
  }
}
