// The compiled runtime on small hand-built graphs, against the same graphs compiled with the reference kernels only
// and no passes: backend choice with layout conversions, the memory arena (sharing storage only between values
// not alive together), outputs that survive the next run, determinism and idle threads across runs, and graph
// outputs that are read by other nodes, are views of arena values, or are graph inputs.
#include <sys/resource.h>

#include <omp.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "op_harness.h"
#include "model_builder.h"
#include "runtime/compiled_graph.h"

namespace infera {
namespace {

using namespace harness;

const SessionOptions kReference{.threads = 0, .optimize = false, .fast_backends = false};
const SessionOptions kFast{};

// The shared builder, with single-output nodes and a seeded 3x3 convolution.
struct Builder : ModelBuilder {
  Builder& input(const std::string& name, const Shape& shape) {
    ModelBuilder::input(name, shape);
    return *this;
  }
  Builder& init(const std::string& name, Tensor t) {
    ModelBuilder::init(name, std::move(t));
    return *this;
  }
  Builder& node(const std::string& op, std::vector<std::string> inputs, const std::string& output, Attrs attrs = {}) {
    ModelBuilder::node(op, std::move(inputs), {output}, std::move(attrs));
    return *this;
  }
  Builder& conv(const std::string& x, const std::string& y, int64_t in, int64_t out, unsigned seed) {
    init(y + "_w", random_tensor({out, in, 3, 3}, seed));
    init(y + "_b", random_tensor({out}, seed + 1));
    return node("Conv", {x, y + "_w", y + "_b"}, y, {{"pads", ints_attr({1, 1, 1, 1})}});
  }
  Builder& output(const std::string& name) {
    ModelBuilder::output(name);
    return *this;
  }
};

std::map<std::string, Shape> shapes_of(const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();
  return shapes;
}

// Every output within tol of the reference's, relative to its largest magnitude.
void expect_close(const std::vector<Tensor>& got, const std::vector<Tensor>& want, double tol = 1e-4) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(got[k].shape(), want[k].shape()) << "output " << k;
    double scale = 1e-30, worst = 0;
    for (int64_t i = 0; i < want[k].numel(); ++i) {
      scale = std::max(scale, std::fabs(want[k].as_double(i)));
      const double d = std::fabs(got[k].as_double(i) - want[k].as_double(i));
      if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
    }
    EXPECT_LE(worst, tol * scale) << "output " << k;
  }
}

bool identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k)
    if (a[k].shape() != b[k].shape() || std::memcmp(a[k].raw(), b[k].raw(), a[k].nbytes()) != 0) return false;
  return true;
}

// The model compiled with the fast backends and passes, and with the reference kernels only.
struct Compiled {
  CompiledGraph fast, reference;
  Compiled(const Model& m, const std::map<std::string, Tensor>& inputs)
      : fast(m, shapes_of(inputs), kFast), reference(m, shapes_of(inputs), kReference) {}
  // Runs both on the inputs and compares; returns the fast outputs.
  std::vector<Tensor> check(const std::map<std::string, Tensor>& inputs) {
    std::vector<Tensor> got = fast.run(inputs);
    expect_close(got, reference.run(inputs));
    return got;
  }
  int steps_on(const std::string& backend) const {
    int n = 0;
    for (const LayerProfile& s : fast.report().steps) n += s.backend == backend;
    return n;
  }
  int steps_of(const std::string& op_type) const {
    int n = 0;
    for (const LayerProfile& s : fast.report().steps) n += s.op_type == op_type;
    return n;
  }
};

// conv → relu → conv → add(residual) → maxpool → flatten → gemm.
Model residual_classifier() {
  Builder b;
  b.input("x", {1, 5, 12, 10})
      .conv("x", "c1", 5, 32, 1)
      .node("Relu", {"c1"}, "r1")
      .conv("r1", "c2", 32, 32, 3)
      .node("Add", {"c2", "r1"}, "a")
      .node("MaxPool", {"a"}, "p", {{"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}})
      .node("Flatten", {"p"}, "f")
      .init("fc_w", random_tensor({10, 32 * 6 * 5}, 5))
      .init("fc_b", random_tensor({10}, 6))
      .node("Gemm", {"f", "fc_w", "fc_b"}, "y", {{"transB", int_attr(1)}})
      .output("y");
  return b.m;
}

std::map<std::string, Tensor> image(const Shape& shape, unsigned seed) { return {{"x", random_tensor(shape, seed)}}; }

TEST(CompiledGraph, ResidualClassifierMatchesReference) {
  const auto inputs = image({1, 5, 12, 10}, 10);
  Compiled c(residual_classifier(), inputs);
  c.check(inputs);
  EXPECT_GE(c.steps_on("dnnl"), 3) << "the convolutions, pool and gemm were expected on oneDNN";
  EXPECT_EQ(c.steps_of("infera.FusedConv"), 2) << "relu and the residual add were expected fused into the convs";
}

// x + conv(x): the residual Z of the fused convolution is its own input X. The output may not take over Z's storage
// (the sum post-op would overwrite X while the convolution still reads it).
TEST(CompiledGraph, ResidualOfItsOwnInputKeepsTheInputIntact) {
  Builder b;
  b.input("x", {1, 16, 9, 7}).conv("x", "r", 16, 16, 1).conv("r", "c", 16, 16, 3).node("Add", {"c", "r"}, "y").output("y");
  const auto inputs = image({1, 16, 9, 7}, 11);
  Compiled c(b.m, inputs);
  EXPECT_EQ(c.steps_of("infera.FusedConv"), 1) << "the residual add was expected fused into the second conv";
  c.check(inputs);
}

// A node no fast backend runs (Sin), and one the CPU backend runs on plain data only (Erf), reading a blocked
// convolution output: each needs a conversion to plain, made once.
TEST(CompiledGraph, FallbackGetsAPlainCopy) {
  Builder b;
  b.input("x", {1, 5, 9, 7}).conv("x", "c", 5, 32, 1).node("Sin", {"c"}, "s").node("Erf", {"c"}, "e");
  b.node("Add", {"s", "e"}, "y").output("y");
  const auto inputs = image({1, 5, 9, 7}, 11);
  Compiled c(b.m, inputs);
  c.check(inputs);
  EXPECT_EQ(c.steps_of("LayoutToPlain"), 1);
  for (const LayerProfile& s : c.fast.report().steps)
    if (s.op_type == "Sin") {
      EXPECT_EQ(s.backend, "reference");
    }
}

// A profiled run: one record per step in execution order, costs from the op table (a conversion is its own step
// with its bytes), times that are ordered, inside the run and not longer than it.
TEST(CompiledGraph, ProfileHasEveryStepWithCostsAndTimes) {
  Builder b;
  b.input("x", {1, 5, 9, 7}).conv("x", "c", 5, 32, 1).node("Sin", {"c"}, "y").output("y");
  const auto inputs = image({1, 5, 9, 7}, 12);
  CompiledGraph g(b.m, shapes_of(inputs), kFast);
  RunProfile profile;
  g.run(inputs, &profile);
  const auto& layers = profile.layers;
  ASSERT_EQ(layers.size(), g.report().steps.size());
  ASSERT_EQ(layers.size(), 3u) << "conv, conversion to plain, sin";
  const LayerProfile& conv = layers[0];
  EXPECT_EQ(conv.precision, "fp32");
  EXPECT_DOUBLE_EQ(conv.flops, 2.0 * 32 * 9 * 7 * 5 * 9 + 32 * 9 * 7);
  EXPECT_DOUBLE_EQ(conv.weight_bytes, 4.0 * (32 * 5 * 9 + 32));
  EXPECT_DOUBLE_EQ(conv.bytes_read, 4.0 * (5 * 9 * 7) + conv.weight_bytes);
  EXPECT_EQ(conv.matrix.batch, 1);
  EXPECT_EQ(conv.matrix.m, 9 * 7);
  EXPECT_EQ(conv.matrix.n, 32);
  EXPECT_EQ(conv.matrix.k, 5 * 9);
  EXPECT_TRUE(layers[1].conversion);
  EXPECT_DOUBLE_EQ(layers[1].bytes_written, 4.0 * 32 * 9 * 7);
  EXPECT_FALSE(layers[2].matrix.defined());
  double previous_end = 0;
  for (const LayerProfile& l : layers) {
    EXPECT_GE(l.start_us, previous_end);
    EXPECT_GE(l.duration_us, 0);
    previous_end = l.start_us + l.duration_us;
  }
  EXPECT_LE(previous_end, profile.total_us);
  EXPECT_GT(profile.threads, 0);
}

// A chain whose early value is read again at the end: the arena must keep it apart from everything in between.
Model long_lived_residual() {
  Builder b;
  b.input("x", {1, 17, 9, 11}).conv("x", "c1", 17, 32, 1).node("Relu", {"c1"}, "r1");
  b.conv("r1", "c2", 32, 32, 3).node("Sigmoid", {"c2"}, "s2").conv("s2", "c3", 32, 32, 5).node("Tanh", {"c3"}, "t3");
  b.conv("t3", "c4", 32, 32, 7).node("Add", {"c4", "r1"}, "a").node("Relu", {"a"}, "r").conv("r", "c5", 32, 17, 9);
  b.node("Add", {"c5", "x"}, "y").output("y");
  return b.m;
}

TEST(CompiledGraph, ArenaReusesStorageWithoutOverlap) {
  for (bool optimize : {false, true}) {
    SCOPED_TRACE(optimize ? "optimized" : "not optimized");
    const auto first = image({1, 17, 9, 11}, 20), second = image({1, 17, 9, 11}, 21);
    const Model m = long_lived_residual();
    CompiledGraph fast(m, shapes_of(first), SessionOptions{.threads = 0, .optimize = optimize});
    CompiledGraph reference(m, shapes_of(first), kReference);
    const MemoryReport memory = fast.report().memory;
    EXPECT_GT(memory.planned_values, 3);
    EXPECT_LT(memory.arena_bytes, memory.naive_bytes);
    for (const auto* inputs : {&first, &second, &first}) expect_close(fast.run(*inputs), reference.run(*inputs));
  }
}

TEST(CompiledGraph, OutputsSurviveTheNextRun) {
  const auto first = image({1, 5, 12, 10}, 30), second = image({1, 5, 12, 10}, 31);
  Compiled c(residual_classifier(), first);
  const std::vector<Tensor> kept = c.check(first);
  std::vector<Tensor> copy;
  for (const Tensor& t : kept) copy.push_back(t.clone());
  c.check(second);
  EXPECT_TRUE(identical(kept, copy));
}

TEST(CompiledGraph, TwoThreadsDeterministicAndIdleThreadsSleep) {
  omp_set_num_threads(2);
  const auto inputs = image({1, 17, 9, 11}, 40);
  CompiledGraph fast(long_lived_residual(), shapes_of(inputs), kFast);
  const std::vector<Tensor> once = fast.run(inputs);
  EXPECT_TRUE(identical(once, fast.run(inputs)));

  auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LT(cpu_seconds() - before, 0.030) << "threads kept spinning after the run";
  omp_set_num_threads(omp_get_num_procs());
}

// Runs the model on two inputs and checks both against the reference, and that the second run left the first
// run's outputs as they were.
void check_two_runs(const Model& m, const Shape& shape) {
  const auto first = image(shape, 50), second = image(shape, 51);
  Compiled c(m, first);
  const std::vector<Tensor> kept = c.check(first);
  std::vector<Tensor> copy;
  for (const Tensor& t : kept) copy.push_back(t.clone());
  c.check(second);
  EXPECT_TRUE(identical(kept, copy)) << "a later run overwrote an earlier run's outputs";
}

// Outputs: a conv output that a later node also reads (produced blocked, so its plain copy is the output), and the
// graph input itself.
TEST(CompiledGraph, OutputsThatAreReadOrInputs) {
  Builder b;
  b.input("x", {1, 5, 8, 8}).conv("x", "c1", 5, 32, 1).node("Relu", {"c1"}, "r1").conv("r1", "c2", 32, 17, 3);
  b.output("c1").output("x").output("c2");
  check_two_runs(b.m, {1, 5, 8, 8});
  const auto inputs = image({1, 5, 8, 8}, 52);
  CompiledGraph fast(b.m, shapes_of(inputs), kFast);
  EXPECT_TRUE(identical({fast.run(inputs)[1]}, {inputs.at("x")}));
}

// An output that is a Reshape (a view) of an arena value which later steps no longer read: its storage must not
// be handed to the values produced after it.
TEST(CompiledGraph, OutputThatIsAViewOfAnArenaValue) {
  Builder b;
  b.input("x", {1, 5, 8, 8}).conv("x", "c1", 5, 32, 1).node("Relu", {"c1"}, "r1").conv("r1", "c2", 32, 32, 3);
  b.node("Relu", {"c2"}, "r2").init("flat", Tensor::from_vector<int64_t>({2}, {1, -1}));
  b.node("Reshape", {"r2", "flat"}, "y").conv("r2", "c3", 32, 17, 5).node("Relu", {"c3"}, "r3");
  b.output("y").output("r3");
  check_two_runs(b.m, {1, 5, 8, 8});
}

// Weights a oneDNN kernel packed into its own layout are freed when the model is compiled, unless a step reads them
// when it runs (the Mul) or the caller gets them (a graph output); the outputs still match the reference.
TEST(CompiledGraph, FreesOnlyWeightsNothingReadsWhenRunning) {
  Builder b;
  b.input("x", {64, 64})
      .init("packed", random_tensor({64, 64}, 1))
      .init("shared", random_tensor({64, 64}, 2))
      .init("returned", random_tensor({64, 64}, 3))
      .node("MatMul", {"x", "packed"}, "h")
      .node("MatMul", {"h", "shared"}, "k")
      .node("Mul", {"k", "shared"}, "y")
      .node("MatMul", {"x", "returned"}, "z")
      .output("y")
      .output("z")
      .output("returned");
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({64, 64}, 4)}};
  Compiled c(b.m, inputs);
  for (int run = 0; run < 2; ++run) c.check(inputs);
  EXPECT_EQ(c.steps_on("dnnl"), 3);
  const auto& kept = c.fast.model().graph.initializers;
  EXPECT_EQ(kept.count("packed"), 0u) << "a weight only a packing kernel reads is freed";
  EXPECT_EQ(kept.count("shared"), 1u);
  EXPECT_EQ(kept.count("returned"), 1u);
  EXPECT_EQ(c.reference.model().graph.initializers.count("packed"), 1u) << "the reference kernels read it";
}

}  // namespace
}  // namespace infera
