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
