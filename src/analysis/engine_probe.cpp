#include "analysis/engine_probe.h"

#include <algorithm>
#include <chrono>
#include <omp.h>
#include <random>

#include "core/graph.h"
#include "runtime/compiled_graph.h"

namespace infera {

namespace {

// x [rows, size] -> `steps` MatMuls by size x size weights -> y.
Model matmul_chain(int64_t rows, int64_t size, int steps) {
  Model m;
  m.path = "infera device probe";
  m.ir_version = 8;
  m.opsets[""] = 17;
  m.graph.inputs.push_back(ValueInfo{"x", DType::Float32, {Dim{rows, ""}, Dim{size, ""}}, true});
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(0.f, 1.f / float(size));
  std::string previous = "x";
  for (int i = 0; i < steps; ++i) {
    Tensor w(DType::Float32, {size, size});
    std::generate_n(w.data<float>(), size * size, [&] { return uniform(rng); });
    const std::string weight = "w" + std::to_string(i), out = i + 1 == steps ? "y" : "h" + std::to_string(i);
    m.graph.initializers[weight] = std::move(w);
    Node n;
    n.name = "matmul" + std::to_string(i);
    n.op_type = "MatMul";
    n.inputs = {previous, weight};
    n.outputs = {out};
    m.graph.nodes.push_back(std::move(n));
    previous = out;
  }
  m.graph.outputs.push_back(ValueInfo{"y", DType::Float32, {}, false});
  return m;
}

// Median seconds per run of the model, over about `seconds` (at least 5 runs, after one untimed run).
double median_run_seconds(Model model, int threads, double seconds) {
  const Shape x_shape{model.graph.inputs[0].dims[0].value, model.graph.inputs[0].dims[1].value};
  SessionOptions options;
  options.threads = threads;
  omp_set_num_threads(threads);  // as Session does: oneDNN blocks for, and runs on, this many threads
  CompiledGraph graph(std::move(model), {{"x", x_shape}}, options);
  Tensor x(DType::Float32, x_shape);
  std::fill_n(x.data<float>(), x.numel(), 1.f);
  const std::map<std::string, Tensor> inputs{{"x", x}};
  graph.run(inputs);
  using clock = std::chrono::steady_clock;
  std::vector<double> times;
  const auto start = clock::now();
  while (times.size() < 5 || std::chrono::duration<double>(clock::now() - start).count() < seconds) {
    const auto t0 = clock::now();
    graph.run(inputs);
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + long(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace

double measured_matrix_efficiency(int threads, double fma_peak, double seconds) {
  constexpr int64_t kSize = 256;
  const double flops = 2.0 * kSize * kSize * kSize;
  const double run_s = median_run_seconds(matmul_chain(kSize, kSize, 1), threads, seconds);
  return fma_peak > 0 && run_s > 0 ? std::min(1.0, flops / run_s / fma_peak) : 0;
}

double measured_step_dispatch(int threads, double seconds) {
  constexpr int kExtraSteps = 200;
  const double short_s = median_run_seconds(matmul_chain(1, 16, 1), threads, seconds / 2);
  const double long_s = median_run_seconds(matmul_chain(1, 16, 1 + kExtraSteps), threads, seconds / 2);
  return std::max(long_s - short_s, 0.0) / kExtraSteps;
}

}  // namespace infera
