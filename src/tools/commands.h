// The infera subcommands. Each returns the process exit code; errors are thrown as infera::Error.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "infera/infera.h"

namespace infera::tools {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;  // "[NAME=]FILE"
  std::vector<std::string> shapes;  // "NAME=1x3x224x224"
  std::string output_dir;
  int threads = 0;
  std::string profile;  // non-empty: write a Chrome trace of the run to this file
};

struct InfoArgs {
  std::string model;
  std::vector<std::string> shapes;
  bool json = false;
  bool optimized = false;  // also compile for the resolved input shapes: passes, and each step's backend and kernel
  bool memory = false;     // also the activation memory plan: planned arena vs the sum of all activations
};

struct BenchArgs {
  std::string model;
  std::vector<std::string> inputs;  // "[NAME=]FILE"
  std::vector<std::string> shapes;  // "NAME=1x3x224x224"
  int threads = 0;
  int64_t batch = 0;    // > 0: replaces dim 0 of every input
  int warmup = 1;       // untimed runs after the first run
  int iters = 10;       // timed runs, unless seconds > 0
  double seconds = 0;   // > 0: time runs for this long instead (at least one)
  bool peak = false;    // also measure the fp32 FMA peak at the same thread count
  bool json = false;
};

int run_command(const RunArgs& args);
int bench_command(const BenchArgs& args);
int info_command(const InfoArgs& args);
int demo_command();

// "NAME=1x3x224x224" specs -> name -> shape.
std::map<std::string, Shape> parse_shapes(const std::vector<std::string>& specs);
// Inputs from "[NAME=]FILE" specs (unnamed ones in graph-input order); inputs not given are random with the
// declared shape (symbolic dims from `shapes`, else 1): floats in [0, 1), integers in [0, 10), and integer or bool
// inputs named like "*mask*" all ones.
std::map<std::string, Tensor> make_inputs(const Session& s, const std::vector<std::string>& specs,
                                          const std::map<std::string, Shape>& shapes);
// One line per output: name, shape, dtype, and for classifier-shaped outputs the top classes of the first row.
void print_outputs(const Session& s, const std::vector<Tensor>& outputs);
std::string dims_str(const ValueInfo& v);  // "batch x 3 x 224 x 224"

}  // namespace infera::tools

namespace CLI {
class App;
}

namespace infera::tools {

struct ProfileArgs {
  std::string model;
  std::vector<std::string> inputs;  // "[NAME=]FILE"
  std::vector<std::string> shapes;  // "NAME=1x3x224x224"
  int threads = 0;
  std::string device = "this";  // catalog name, "this" or a device file
  int iters = 10;               // profiled runs; each step's time is its median over them
  int top = 10;                 // hotspots listed first
  std::string html;             // non-empty: write the roofline page here
  std::string trace;            // non-empty: write a Chrome trace of the last run here
  bool json = false;
};

// Adds `infera profile` and its options to `app`, parsing into `args`.
CLI::App* add_profile_command(CLI::App& app, ProfileArgs& args);
int profile_command(const ProfileArgs& args);

}  // namespace infera::tools

namespace infera::tools {

// Where model inputs come from (`infera eval`, `infera calibrate`): see src/quant/dataset.h.
struct DataArgs {
  std::string path;                 // folder of images, .npy/.npz files, or one .npy/.npz
  std::string labels;               // TSV or .npy; empty: class folders if any
  std::string preprocess = "none";  // imagenet, cifar, none
  std::string layout = "nchw";      // nchw, nhwc
  int64_t limit = 0;                // at most this many samples (0: all)
  bool spread = false;              // with a limit: evenly spaced samples instead of the first ones
  int64_t batch = 8;                // where the model's batch dimension is symbolic
};

struct EvalArgs {
  std::string model, baseline;
  DataArgs data;
  int threads = 0;
  bool per_layer = false;
  int64_t per_layer_samples = 16;
  bool json = false;
};
CLI::App* add_eval_command(CLI::App& app, EvalArgs& args);
int eval_command(const EvalArgs& args);

struct CalibrateArgs {
  std::string model;
  DataArgs data;
  std::vector<std::string> methods;  // empty: all four
  std::vector<std::string> tensors;  // empty: every float activation
  double percentile = 99.99;
  bool symmetric = false;
  int bins = 2048;
  int threads = 0;
  bool json = false;
};
CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& args);
int calibrate_command(const CalibrateArgs& args);

}  // namespace infera::tools

namespace infera::tools {

struct ProjectArgs {
  std::string model;
  std::string device = "this";  // catalog name, "this" or a device file
  std::string device_file;      // non-empty: the device (overrides `device`; with --compare, one more column)
  std::string precision;        // "": each step's own
  std::vector<std::string> shapes;  // "NAME=1x3x224x224"
  int64_t batch = 0;                // > 0: replaces dim 0 of every input
  int threads = 0;
  double target_qps = 0;
  double latency_bound_ms = 0;
  std::string compare;  // "a100,h100,this": one table side by side
  std::vector<std::string> matrix_efficiency;  // "fp32=0.86": measured, until device files carry it
  bool json = false;
};
CLI::App* add_project_command(CLI::App& app, ProjectArgs& args);
int project_command(const ProjectArgs& args);

}  // namespace infera::tools

namespace infera::tools {

struct QuantizeArgs {
  std::string model, output;
  std::string precision = "int8";  // int8, fp8-e4m3, fp8-e5m2, fp16, bf16, int4-weight
  std::string method = "minmax";   // calibration: minmax, percentile, entropy, mse
  double percentile = 99.99;
  bool per_channel = false;
  bool symmetric_activations = false;
  int64_t block_size = 32;            // int4-weight
  std::vector<std::string> exclude;   // node or output names kept fp32
  DataArgs data;                      // the calibration set (--calib)
  int threads = 0;
  bool json = false;
  // The mixed-precision search (max_accuracy_drop >= 0) and the sweep evaluate on --eval, labelled by --labels.
  std::string eval;
  int64_t eval_limit = 0;             // at most this many evaluation samples (0: all)
  double max_accuracy_drop = -1;      // top-1 points below fp32; < 0: no search
  int64_t sensitivity_samples = 64;   // samples each layer's effect on the output is measured on (the ranking)
  bool sweep = false;
  int latency_threads = 1;            // latency runs of the search's plans and the sweep's variants
  int latency_runs = 20;
};
CLI::App* add_quantize_command(CLI::App& app, QuantizeArgs& args);
int quantize_command(const QuantizeArgs& args);

}  // namespace infera::tools

namespace infera::tools {

struct DeviceArgs {
  std::string action;  // the subcommand parsed: "list", "show" or "probe"
  std::string name;    // show: catalog id, "this" or a device file
  std::string output;  // probe: also write the device file here
  int threads = 0;     // probe: threads of the all-core loops (0: all)
  double seconds = 0.1;  // probe: seconds per measurement loop
  bool json = false;
};
CLI::App* add_device_command(CLI::App& app, DeviceArgs& args);
int device_command(const DeviceArgs& args);

}  // namespace infera::tools
