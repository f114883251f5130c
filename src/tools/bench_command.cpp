#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/resource.h>
#include <unistd.h>

#include "analysis/cpu_peak.h"
#include "tools/commands.h"

namespace infera::tools {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Input shapes to run with: --shape where given, else the declared dims (symbolic ones as 1), then dim 0 set to
// --batch. Inputs read from files keep their own shapes.
std::map<std::string, Shape> bench_input_shapes(const Session& s, const BenchArgs& args) {
  std::map<std::string, Shape> given = parse_shapes(args.shapes);
  std::map<std::string, Shape> shapes;
  for (const ValueInfo& v : s.inputs()) {
    Shape shape = resolve_input_shape(v, given);
    if (args.batch > 0 && !shape.empty()) shape[0] = args.batch;
    shapes[v.name] = shape;
  }
  return shapes;
}

// --batch, else dim 0 of the first input that has one.
int64_t batch_of(const Session& s, const std::map<std::string, Tensor>& inputs, int64_t batch) {
  if (batch > 0) return batch;
  for (const ValueInfo& v : s.inputs())
    if (inputs.at(v.name).rank() > 0) return inputs.at(v.name).dim(0);
  return 1;
}

void check_file_batches(const Session& s, const std::map<std::string, Tensor>& inputs, int64_t batch) {
  if (batch <= 0) return;
  for (const auto& [name, t] : inputs)
    if (t.rank() > 0 && t.dim(0) != batch)
      throw Error(s.path() + ": input '" + name + "' has shape " + shape_str(t.shape()) +
                  ", whose dim 0 is not --batch " + std::to_string(batch));
}

// Latency statistics over the timed iterations; percentiles by nearest rank.
struct LatencyStats {
  double median = 0, p90 = 0, p99 = 0, min = 0, mean = 0, max = 0;
};

LatencyStats latency_stats(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  auto rank = [&](double p) { return ms[std::min(n - 1, size_t(std::ceil(p * double(n))) - 1)]; };
  LatencyStats s;
  s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.min = ms.front();
  s.max = ms.back();
  for (double v : ms) s.mean += v / double(n);
  return s;
}

// One status line on stderr, rewritten in place, only when a person is watching.
class Progress {
 public:
  Progress() : enabled_(isatty(fileno(stderr))) {}
  ~Progress() { clear(); }
  void show(const std::string& line) {
    if (!enabled_ || ms_since(last_) < 100) return;  // a terminal cannot show faster, and writes would cost time
    fmt::print(stderr, "\r\033[K{}", line);
    std::fflush(stderr);
    last_ = Clock::now();
  }
  void clear() {
    if (enabled_) fmt::print(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  Clock::time_point last_{};
};

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

struct BenchResult {
  double load_ms = 0;
  double compile_ms = 0;
  double first_run_ms = 0;
  std::vector<double> latencies_ms;
  LatencyStats latency;
  int64_t batch = 1;  // inferences per run, for throughput
  double flops = -1;  // per inference; -1 when some shape is data-dependent
  std::optional<Fp32Peak> peak;
  double peak_rss_mib = 0;
};

std::vector<double> timed_runs(Session& s, const std::map<std::string, Tensor>& inputs, const BenchArgs& args,
                               Progress& progress) {
  for (int i = 0; i < args.warmup; ++i) {
    progress.show(fmt::format("warm-up {}/{}", i + 1, args.warmup));
    s.run(inputs);
  }
  std::vector<double> ms;
  auto start = Clock::now();
  auto more = [&] {
    if (args.seconds > 0) return ms.empty() || ms_since(start) < args.seconds * 1000;
    return int(ms.size()) < args.iters;
  };
  while (more()) {
    auto t = Clock::now();
    s.run(inputs);
    ms.push_back(ms_since(t));
    progress.show(args.seconds > 0 ? fmt::format("iteration {} ({:.1f} of {} s), last {:.2f} ms", ms.size(),
                                                 ms_since(start) / 1000, args.seconds, ms.back())
                                   : fmt::format("iteration {}/{}, last {:.2f} ms", ms.size(), args.iters, ms.back()));
  }
  return ms;
}

std::string ms_str(std::optional<double> ms) { return ms ? fmt::format("{:.1f} ms", *ms) : "n/a"; }

void print_text(const BenchArgs& args, const Session& s, const std::map<std::string, Tensor>& inputs,
                const BenchResult& r) {
  const LatencyStats& l = r.latency;
  fmt::print("{}: {} input(s), threads {}\n", args.model, s.inputs().size(),
             args.threads > 0 ? std::to_string(args.threads) : "all");
  for (const ValueInfo& v : s.inputs())
    fmt::print("  in  {:<20} {:<16} {}\n", v.name, shape_str(inputs.at(v.name).shape()),
               dtype_name(inputs.at(v.name).dtype()));
  fmt::print("load        {}\n", ms_str(r.load_ms));
  fmt::print("compile     {}\n", ms_str(r.compile_ms));
  fmt::print("first run   {}\n", ms_str(r.first_run_ms));
  fmt::print("latency     median {:.3f} ms, p90 {:.3f}, p99 {:.3f}, min {:.3f}, mean {:.3f} ({} iterations after {} "
             "warm-up)\n",
             l.median, l.p90, l.p99, l.min, l.mean, r.latencies_ms.size(), args.warmup);
  fmt::print("throughput  {:.2f} inferences/s (batch {})\n", double(r.batch) * 1000 / l.median, r.batch);
  if (r.flops >= 0) {
    double gflops_per_s = r.flops / (l.median * 1e6);
    fmt::print("compute     {:.3f} GFLOP per run, {:.1f} GFLOP/s achieved", r.flops / 1e9, gflops_per_s);
    if (r.peak) fmt::print(", {:.1f} % of peak", 100 * gflops_per_s / r.peak->gflops);
    fmt::print("\n");
  } else {
    fmt::print("compute     unknown (some shapes depend on data)\n");
  }
  if (r.peak)
    fmt::print("peak        fp32 FMA {:.1f} GFLOP/s ({}, {} thread(s))\n", r.peak->gflops, r.peak->isa,
               r.peak->threads);
  fmt::print("memory      peak RSS {:.1f} MiB\n", r.peak_rss_mib);
}

nlohmann::json result_json(const BenchArgs& args, const Session& s, const std::map<std::string, Tensor>& inputs,
                           const BenchResult& r) {
  const LatencyStats& l = r.latency;
  nlohmann::json j;
  j["model"] = args.model;
  j["threads"] = args.threads;
  j["batch"] = r.batch;
  j["inputs"] = nlohmann::json::array();
  for (const ValueInfo& v : s.inputs())
    j["inputs"].push_back({{"name", v.name},
                           {"shape", inputs.at(v.name).shape()},
                           {"dtype", dtype_name(inputs.at(v.name).dtype())}});
  j["load_ms"] = r.load_ms;
  j["compile_ms"] = r.compile_ms;
  j["first_run_ms"] = r.first_run_ms;
  j["warmup"] = args.warmup;
  j["iterations"] = r.latencies_ms.size();
  j["latency_ms"] = {{"median", l.median}, {"p90", l.p90}, {"p99", l.p99},
                     {"min", l.min},       {"mean", l.mean}, {"max", l.max}};
  j["latencies_ms"] = r.latencies_ms;
  j["throughput_per_s"] = double(r.batch) * 1000 / l.median;
  j["flops"] = r.flops >= 0 ? nlohmann::json(r.flops) : nlohmann::json();
  double gflops_per_s = r.flops / (l.median * 1e6);
  j["gflops_per_s"] = r.flops >= 0 ? nlohmann::json(gflops_per_s) : nlohmann::json();
  j["peak"] = nlohmann::json();
  if (r.peak)
    j["peak"] = {{"gflops_per_s", r.peak->gflops},
                 {"threads", r.peak->threads},
                 {"isa", r.peak->isa},
                 {"percent", r.flops >= 0 ? nlohmann::json(100 * gflops_per_s / r.peak->gflops) : nlohmann::json()}};
  j["peak_rss_mib"] = r.peak_rss_mib;
  return j;
}

}  // namespace

int bench_command(const BenchArgs& args) {
  Progress progress;
  BenchResult r;
  SessionOptions options;
  options.threads = args.threads;

  progress.show("loading " + args.model);
  auto start = Clock::now();
  Session s = Session::load(args.model, options);
  r.load_ms = ms_since(start);

  std::map<std::string, Tensor> inputs = make_inputs(s, args.inputs, bench_input_shapes(s, args));
  check_file_batches(s, inputs, args.batch);
  r.batch = batch_of(s, inputs, args.batch);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();

  progress.show("compiling");
  auto compile_start = Clock::now();
  s.prepare(shapes);
  r.compile_ms = ms_since(compile_start);
  progress.show("first run");
  start = Clock::now();
  s.run(inputs);
  r.first_run_ms = ms_since(start);

  r.latencies_ms = timed_runs(s, inputs, args, progress);
  r.latency = latency_stats(r.latencies_ms);
  r.flops = s.summary(shapes).flops;
  if (args.peak) {
    progress.show("measuring the fp32 FMA peak");
    r.peak = measure_fp32_peak(args.threads);
  }
  r.peak_rss_mib = peak_rss_mib();
  progress.clear();

  if (args.json) fmt::print("{}\n", result_json(args, s, inputs, r).dump());
  else print_text(args, s, inputs, r);
  return 0;
}

}  // namespace infera::tools
