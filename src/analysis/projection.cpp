#include "analysis/projection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "infera/error.h"

namespace infera {

namespace {

using nlohmann::json;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

double ceil_div(double a, double b) { return std::ceil(a / b); }
double padded(double x, double multiple) { return ceil_div(x, multiple) * multiple; }

// Bytes per element of a device precision; 0 for types that are neither float nor 8-bit (indices, masks).
double element_bytes(const std::string& key) {
  if (key == "fp64") return 8;
  if (key == "fp32" || key == "tf32") return 4;  // tf32 is stored as fp32
  if (key == "fp16" || key == "bf16") return 2;
  if (key == "fp8" || key == "int8") return 1;
  if (key == "int4") return 0.5;
  return 0;
}

std::string sci(double v) { return fmt::format("{:.3g}", v); }

ProjectionTerm term(std::string name, double value, std::string assumption, std::map<std::string, double> inputs = {},
                    std::string source = "") {
  return ProjectionTerm{std::move(name), value, std::move(assumption), std::move(inputs), std::move(source)};
}

// ---- memory levels ----

struct MemoryLevel {
  std::string name;
  double bytes = kInfinity;  // capacity available to the run
  double bandwidth = 0;      // bytes/s available to the run
  std::string source;
};

// The levels a step's bytes can come from, smallest first; the last is DRAM (unbounded). A CPU's caches come
// with a per-core bandwidth that scales with the threads; a private level's capacity does too.
std::vector<MemoryLevel> memory_levels(const Device& d, int threads) {
  std::vector<MemoryLevel> levels;
  const int cores = d.kind == "cpu" ? (threads > 0 ? std::min(threads, std::max(d.cores, 1)) : std::max(d.cores, 1)) : 1;
  if (d.kind == "cpu") {
    std::vector<CacheLevel> caches = d.caches;
    std::sort(caches.begin(), caches.end(), [](const CacheLevel& a, const CacheLevel& b) { return a.level < b.level; });
    for (const CacheLevel& c : caches) {
      if (!c.bytes.known() || !c.bandwidth.known()) continue;
      // A level shared by several cores gives each its share: the others' working sets hold the rest.
      const double share = double(cores) / std::max(c.shared_by, 1);
      levels.push_back({fmt::format("L{}", c.level), c.bytes.value * share, c.bandwidth.value * cores,
                        fmt::format("{} B × {} core(s) / {} sharing it: {}; {} B/s per core × {}: {}",
                                    sci(c.bytes.value), cores, c.shared_by, c.bytes.source, sci(c.bandwidth.value),
                                    cores, c.bandwidth.source)});
    }
  } else if (d.onchip_bytes.known() && d.onchip_bandwidth.known()) {
    levels.push_back({"on-chip", d.onchip_bytes.value, d.onchip_bandwidth.value,
                      d.onchip_bytes.source + "; " + d.onchip_bandwidth.source});
  }
  const double dram = d.dram_bandwidth(threads);
  const std::string dram_source =
      d.kind == "cpu" && threads > 0 && d.memory_bandwidth_per_core.known() && dram < d.memory_bandwidth.value
          ? fmt::format("one core × {}: {}", cores, d.memory_bandwidth_per_core.source)
          : d.memory_bandwidth.source;
  levels.push_back({"DRAM", kInfinity, dram, dram_source});
  return levels;
}

const MemoryLevel& level_for(const std::vector<MemoryLevel>& levels, double bytes) {
  for (const MemoryLevel& l : levels)
    if (bytes <= l.bytes) return l;
  return levels.back();
}

// ---- the device's view of one step ----

struct Context {
  const Device& device;
  const ProjectionOptions& options;
  std::vector<MemoryLevel> levels;
  size_t weight_level = 0;  // index into levels: where the model's weights live between inferences
  double weight_total = 0;
  double largest_step_activations = 0;  // what passes through the caches beside the weights, at least
  const MemoryLevel& weights() const { return levels[weight_level]; }
};

// The precision a step runs at: the option for float and 8-bit arithmetic, else the step's own.
std::string step_precision(const LayerProfile& l, const ProjectionOptions& o) {
  const std::string own = precision_key(l.precision);
  if (o.precision.empty() || own.empty()) return own.empty() ? "fp32" : own;
  return o.precision;
}

// Bytes scale with the element size when the step runs at another precision than the model stores.
LayerProfile at_precision(const LayerProfile& l, const std::string& precision, std::vector<ProjectionTerm>& terms) {
  const std::string own = precision_key(l.precision);
  const double from = element_bytes(own), to = element_bytes(precision);
  if (from <= 0 || to <= 0 || from == to) return l;
  LayerProfile scaled = l;
  const double f = to / from;
  scaled.bytes_read *= f;
  scaled.bytes_written *= f;
  scaled.weight_bytes *= f;
  terms.push_back(term("precision bytes", f,
                       fmt::format("weights and activations stored as {} ({} B) instead of {} ({} B): bytes × {}",
                                   precision, to, own, from, sci(f)),
                       {{"from_element_bytes", from}, {"to_element_bytes", to}}));
  return scaled;
}

// A matrix product the matrix units run: one with more than one output column per group. Depthwise convolutions
// and matrix-vector products have no operand reuse across columns and run on the vector units.
bool on_matrix_units(const LayerProfile& l) { return !l.conversion && l.matrix.defined() && l.matrix.n > 1; }

struct Compute {
  double seconds = 0, peak = 0, efficiency = 1;
};

double product_of(const std::vector<ProjectionTerm>& terms, size_t from) {
  double e = 1;
  for (size_t i = from; i < terms.size(); ++i) e *= terms[i].value;
  return e;
}

// Vector width in bits from the ISA the device file lists.
int vector_bits(const Device& d) {
  auto has = [&](const std::string& f) { return std::find(d.isa.begin(), d.isa.end(), f) != d.isa.end(); };
  if (has("avx512f")) return 512;
  if (has("avx2") || has("avx")) return 256;
  return 128;
}

// CPU microkernel: accumulators are 32-bit lanes of the vector registers (fp32, and the int32/fp32 sums of the
// VNNI and BF16 dot products), so n pads to the lanes and k to the dot-product group; m pads to the register
// block's rows.
void cpu_matrix_terms(const MatrixShape& s, const std::string& precision, const Device& d,
                      std::vector<ProjectionTerm>& terms) {
  const int bits = vector_bits(d);
  const double lanes = bits / 32.0;
  const double group = std::max(1.0, 4.0 / element_bytes(precision));
  // 32 registers (AVX-512; 16 otherwise): n_v vectors of B, one broadcast of A, rows × n_v accumulators.
  const int registers = bits == 512 ? 32 : 16, vectors = bits == 512 ? 4 : 2;
  const double rows = std::floor(double(registers - vectors - 1) / vectors);
  const double m = double(s.m), n = double(s.n), k = double(s.k);
  const double tile = (m * n * k) / (padded(m, rows) * padded(n, lanes) * padded(k, group));
  terms.push_back(term("tile quantization", tile,
                       fmt::format("{}-bit vectors: n={} padded to {} accumulator lanes, m={} to {}-row register "
                                   "blocks ({} registers, {} vectors of B), k={} to groups of {}",
                                   bits, n, lanes, m, rows, registers, vectors, k, group),
                       {{"m", m}, {"n", n}, {"k", k}, {"lanes", lanes}, {"rows", rows}, {"k_group", group}}));
  // Each register block's accumulators are written back once per k loop: rows × n_v stores at one per cycle take
  // as long as two k steps (rows × n_v FMAs at two per cycle).
  const double writeback = padded(k, group) / (padded(k, group) + 2 * group);
  terms.push_back(term("accumulator write-back", writeback,
                       "one store per accumulator per k loop costs about 2 k steps (1 store vs 2 FMAs per cycle)",
                       {{"k", k}, {"k_steps_equivalent", 2}}));
}

// GPU: threadblock tiles run in waves over the SMs (k split into slices when the tiles alone cannot fill them), and
// k pads to the MMA depth (32 bytes of operands). The tile:
// 128x128 when the device file gives no on-chip bandwidth; with one, the library's choice is modelled as the tile
// with the least time per SM, where a tile of tm×tn needs (tm + tn) operands per tm·tn multiply-adds from L2 and
// runs slower when the SM's share of the L2 bandwidth cannot feed it.
void gpu_matrix_terms(const MatrixShape& s, const std::string& precision, const Device& d,
                      std::vector<ProjectionTerm>& terms) {
  const double sms = std::max(d.cores, 1);
  const double m = double(s.m), n = double(s.n), k = double(s.k), batch = double(s.batch);
  const double element = element_bytes(precision);
  struct Tile { double m, n; };
  const Tile tiles[] = {{128, 128}, {256, 128}, {128, 256}, {128, 64}, {64, 128}, {64, 64}};
  const bool feed_known = d.onchip_bandwidth.known();
  // FLOP/s one SM can sustain from its share of L2 with a tile: bandwidth share × FLOPs per operand byte.
  auto feed = [&](const Tile& t) {
    if (!feed_known) return 1.0;
    const double per_sm_peak = d.peak(precision) / sms;
    const double flops_per_byte = 2 * t.m * t.n / ((t.m + t.n) * element);
    return std::min(1.0, d.onchip_bandwidth.value / sms * flops_per_byte / per_sm_peak);
  };
  Tile best = tiles[0];
  if (feed_known) {
    double best_time = kInfinity;
    for (const Tile& t : tiles) {
      const double count = batch * ceil_div(m, t.m) * ceil_div(n, t.n);
      const double time = ceil_div(count, sms) * t.m * t.n / feed(t);  // per SM, in waves
      if (time < best_time) best = t, best_time = time;
    }
  }
  const double tiles_mn = batch * ceil_div(m, best.m) * ceil_div(n, best.n);
  // Too few tiles to fill the SMs: the library splits k into slices (of at least 128) computed in parallel.
  const double split = std::max(1.0, std::min(std::floor(sms / tiles_mn), std::floor(k / 128)));
  const double count = tiles_mn * split;
  const double waves = ceil_div(count, sms);
  const double tile = (m * n) / (padded(m, best.m) * padded(n, best.n));
  terms.push_back(term("tile quantization", tile,
                       fmt::format("m={} n={} padded to {}x{} threadblock tiles ({})", m, n, best.m, best.n,
                                   feed_known ? "the tile with the least time per SM" : "no on-chip bandwidth given"),
                       {{"m", m}, {"n", n}, {"tile_m", best.m}, {"tile_n", best.n}}));
  if (feed_known && feed(best) < 1)
    terms.push_back(term("L2 feed", feed(best),
                         fmt::format("a {}x{} tile needs {} B of operands per {} FLOPs; the SM's share of the on-chip "
                                     "bandwidth feeds {:.0f} % of its peak", best.m, best.n, (best.m + best.n) * element,
                                     2 * best.m * best.n, 100 * feed(best)),
                         {{"onchip_bandwidth", d.onchip_bandwidth.value}, {"sms", sms}}, d.onchip_bandwidth.source));
  const double wave = count / (waves * sms);
  terms.push_back(term("wave quantization", wave,
                       fmt::format("{} tiles{} over {} SMs in {} wave(s)", count,
                                   split > 1 ? fmt::format(" ({} x {} k slices; their reduction not modelled)",
                                                           tiles_mn, split)
                                             : "",
                                   sms, waves),
                       {{"tiles", count}, {"k_split", split}, {"sms", sms}, {"waves", waves}}, d.cores_source));
  if (precision == "fp32" || precision == "fp64") return;  // CUDA cores: no MMA depth
  const double depth = std::max(1.0, 32 / element);
  const double kq = k / padded(k, depth);
  terms.push_back(term("k quantization", kq, fmt::format("k={} padded to the MMA depth {} (32 B of operands)", k, depth),
                       {{"k", k}, {"mma_k", depth}}));
}

// Output-stationary: every R×C block of the output is one fold, K products stream through it, plus R + C − 2
// cycles to fill and drain. Weight-stationary: a K×N block of the weights is loaded per fold and the M rows stream.
// Folds are spread over the arrays.
double systolic_cycles_impl(const MatrixShape& s, int rows, int cols, int arrays, const std::string& dataflow,
                            double* folds_out) {
  const double r = rows, c = cols, m = double(s.m), n = double(s.n), k = double(s.k);
  const bool weight_stationary = dataflow == "weight-stationary";
  const double folds = double(s.batch) * (weight_stationary ? ceil_div(k, r) * ceil_div(n, c) : ceil_div(m, r) * ceil_div(n, c));
  const double per_fold = (weight_stationary ? m : k) + r + c - 2;
  if (folds_out) *folds_out = folds;
  const double units = std::max(arrays, 1);
  if (folds >= units) return ceil_div(folds, units) * per_fold;
  // Fewer folds than arrays: each fold's stream (k, or m for weight-stationary) is split over the idle arrays.
  const double stream = weight_stationary ? m : k;
  return ceil_div(stream, std::floor(units / folds)) + r + c - 2;
}

// Operand bytes a fold reads when nothing stays on chip between folds. Output-stationary: its R rows of A and C
// columns of B over all of k. Weight-stationary: its R×C block of weights, and m rows of R inputs in and C partial
// sums through.
double systolic_streamed_bytes(const MatrixShape& s, const SystolicArray& a, double element) {
  double folds = 0;
  systolic_cycles_impl(s, a.rows, a.cols, a.count, a.dataflow, &folds);
  const double r = a.rows, c = a.cols, m = double(s.m), k = double(s.k);
  const double per_fold = a.dataflow == "weight-stationary" ? r * c + m * (r + c) : k * (r + c);
  return folds * per_fold * element;
}

void systolic_terms(const MatrixShape& s, const SystolicArray& a, std::vector<ProjectionTerm>& terms) {
  double folds = 0;
  const double cycles = systolic_cycles_impl(s, a.rows, a.cols, a.count, a.dataflow, &folds);
  const double ideal = double(s.batch) * double(s.m) * double(s.n) * double(s.k) / (double(a.rows) * a.cols * a.count);
  const bool ws = a.dataflow == "weight-stationary";
  terms.push_back(term(
      "systolic folds", ideal / cycles,
      fmt::format("{}: {} folds of ({} + {} + {} − 2) cycles over {} {}x{} array(s) = {} cycles, vs {} at full use",
                  a.dataflow, folds, ws ? s.m : s.k, a.rows, a.cols, a.count, a.rows, a.cols, cycles, sci(ideal)),
      {{"folds", folds}, {"cycles", cycles}, {"ideal_cycles", ideal}, {"rows", a.rows}, {"cols", a.cols},
       {"arrays", a.count}, {"clock_hz", a.clock_hz}},
      a.source));
}

const CacheLevel* l1_of(const Device& d) {
  const auto l1 = std::find_if(d.caches.begin(), d.caches.end(), [](const CacheLevel& c) { return c.level == 1; });
  return l1 == d.caches.end() || !l1->bandwidth.known() ? nullptr : &*l1;
}

int cores_used(const Device& d, int threads) {
  return threads > 0 ? std::min(threads, std::max(d.cores, 1)) : std::max(d.cores, 1);
}

// A depthwise (one column per group) product reuses nothing across output channels: each multiply-add of a vector
// of channels loads its input vector and its weight vector (the weights change with every kernel tap), so the L1
// load bandwidth, two vectors per multiply-add, bounds it before the FMA units do.
void depthwise_terms(const std::string& precision, const Device& d, int threads, double peak,
                     std::vector<ProjectionTerm>& terms) {
  const CacheLevel* l1 = l1_of(d);
  if (!l1) return;
  const double element = std::max(element_bytes(precision), 1.0);
  const double loads_per_fma = 2;
  const double load_bound = 2 * l1->bandwidth.value * cores_used(d, threads) / (loads_per_fma * element);
  if (load_bound >= peak) return;
  terms.push_back(term("L1 loads", load_bound / peak,
                       fmt::format("two {} B loads (input and weight) per multiply-add at the L1 bandwidth ({} B/s "
                                   "per core): {} FLOP/s of the {} peak", element, sci(l1->bandwidth.value),
                                   sci(load_bound), sci(peak)),
                       {{"l1_bandwidth", l1->bandwidth.value}, {"element_bytes", element},
                        {"loads_per_multiply_add", loads_per_fma}, {"cores", double(cores_used(d, threads))}},
                       l1->bandwidth.source));
}

// A conversion between layouts (blocked or channels-last to plain and back) permutes elements: with few channels
// per block row its loads and stores are element-sized, and each costs one vector access of the L1. Time: the
// elements read and written at the L1's vector accesses per second.
double permutation_seconds(const std::string& what, double bytes_moved, const std::string& precision, const Device& d,
                           int threads, std::vector<ProjectionTerm>& terms) {
  const CacheLevel* l1 = l1_of(d);
  const double element = element_bytes(precision);
  if (!l1 || element <= 0 || bytes_moved <= 0) return 0;
  const double vector_bytes = vector_bits(d) / 8.0;
  const double accesses = bytes_moved / element;
  const double rate = l1->bandwidth.value / vector_bytes * cores_used(d, threads);
  const double seconds = accesses / rate;
  terms.push_back(term(what, seconds,
                       fmt::format("a layout permutation moves elements one at a time: {} element loads and stores "
                                   "at one {} B L1 access each ({} accesses/s)", sci(accesses), vector_bytes, sci(rate)),
                       {{"accesses", accesses}, {"l1_bandwidth", l1->bandwidth.value}, {"vector_bytes", vector_bytes},
                        {"cores", double(cores_used(d, threads))}},
                       l1->bandwidth.source));
  return seconds;
}

const Sourced* efficiency_of(const std::map<std::string, Sourced>& efficiencies, const std::string& precision) {
  const auto it = efficiencies.find(precision);
  return it != efficiencies.end() && it->second.known() ? &it->second : nullptr;
}

// The compute time of a step and the terms it came from.
Compute compute_time(const LayerProfile& l, const std::string& precision, const Context& ctx,
                     std::vector<ProjectionTerm>& terms, bool& matrix) {
  const Device& d = ctx.device;
  const int threads = ctx.options.threads;
  Compute c;
  std::string used;
  matrix = on_matrix_units(l);
  const size_t first = terms.size();
  if (matrix) {
    c.peak = d.peak(precision, threads, &used);
    if (c.peak <= 0) throw Error(fmt::format("device '{}' has no peak for {} or any precision it falls back to", d.id, precision));
    terms.push_back(term("peak", c.peak,
                         used == precision ? fmt::format("dense {} peak on {}", used, threads > 0 && d.kind == "cpu" ? fmt::format("{} core(s)", threads) : "the device")
                                           : fmt::format("no {} peak: runs at the {} peak", precision, used),
                         {{"ops_per_s", c.peak}}, d.peak_ops.count(used) ? d.peak_ops.at(used).source : ""));
    if (d.systolic && d.systolic->rows > 0 && d.systolic->cols > 0) systolic_terms(l.matrix, *d.systolic, terms);
    else if (d.kind == "cpu") cpu_matrix_terms(l.matrix, used, d, terms);
    else if (d.kind == "gpu") gpu_matrix_terms(l.matrix, used, d, terms);
    else terms.push_back(term("matrix efficiency", 1, fmt::format("{} device without a systolic description: its "
                                                                  "matrix units assumed fully used", d.kind)));
    const Sourced* measured = efficiency_of(ctx.options.matrix_efficiency, used);
    if (!measured) measured = efficiency_of(d.matrix_efficiency, used);
    if (measured)
      terms.push_back(term("matrix kernel", measured->value,
                           fmt::format("the {} matrix kernels reach {:.1f} % of the peak on an ideal shape",
                                       used, 100 * measured->value),
                           {{"efficiency", measured->value}}, measured->source));
    else
      terms.push_back(term("matrix kernel", 1, fmt::format("no measured efficiency of the {} matrix kernels on an "
                                                           "ideal shape: assumed to reach the peak", used)));
  } else {
    // Vector units: one operation per lane per cycle, half the multiply-add peak; depthwise products are
    // multiply-adds and run at the full rate.
    const bool fma = l.matrix.defined();
    c.peak = d.peak("fp32", threads, &used) * (fma ? 1.0 : 0.5);
    if (c.peak <= 0) throw Error(fmt::format("device '{}' has no peak for vector arithmetic", d.id));
    terms.push_back(term("peak", c.peak,
                         fma ? fmt::format("not a matrix-unit product (one column per group): multiply-adds on the {} "
                                           "vector units at their peak", used)
                             : fmt::format("not a matrix product: the op table's FLOPs at one per {} lane per cycle "
                                           "(half the multiply-add peak)", used),
                         {{"ops_per_s", c.peak}}, d.peak_ops.count(used) ? d.peak_ops.at(used).source : ""));
  }
  if (!matrix && l.matrix.defined() && d.kind == "cpu") depthwise_terms(precision, d, threads, c.peak, terms);
  c.efficiency = product_of(terms, first + 1);
  c.seconds = l.flops > 0 ? l.flops / (c.peak * c.efficiency) : 0;
  return c;
}

// Activations come from the smallest level they fit in, weights from the level the whole model's weights fit in.
double memory_time(const LayerProfile& l, const std::string& precision, const Context& ctx, double compute_s,
                   std::vector<ProjectionTerm>& terms) {
  const double weights = std::max(l.weight_bytes, 0.0);
  const double activations = std::max(l.bytes_read - weights, 0.0) + std::max(l.bytes_written, 0.0);
  const MemoryLevel& act = level_for(ctx.levels, activations);
  double seconds = 0;
  if (act.bandwidth > 0) seconds += activations / act.bandwidth;
  if (weights > 0 && ctx.weights().bandwidth > 0) seconds += weights / ctx.weights().bandwidth;
  const Device& d = ctx.device;
  // Systolic devices stream operands that do not fit on chip once per fold.
  if (d.systolic && on_matrix_units(l) && d.onchip_bytes.known() && activations + weights > d.onchip_bytes.value &&
      ctx.levels.back().bandwidth > 0) {
    const double streamed = systolic_streamed_bytes(l.matrix, *d.systolic, element_bytes(precision)) +
                            std::max(l.bytes_written, 0.0);
    const double stall_s = streamed / ctx.levels.back().bandwidth;
    terms.push_back(term("DRAM stalls", std::max(0.0, stall_s - compute_s),
                         fmt::format("operands ({} B) exceed the {} B SRAM: each fold streams its operand blocks "
                                     "from DRAM ({} B in all); the time beyond compute stalls the array",
                                     sci(activations + weights), sci(d.onchip_bytes.value), sci(streamed)),
                         {{"operand_bytes", activations + weights}, {"sram_bytes", d.onchip_bytes.value},
                          {"streamed_bytes", streamed}},
                         d.onchip_bytes.source));
    seconds = std::max(seconds, stall_s);
  }
  terms.push_back(term(
      "memory", seconds,
      fmt::format("{} B of activations from {} ({} B/s){}", sci(activations), act.name, sci(act.bandwidth),
                  weights > 0 ? fmt::format(", {} B of weights from {} ({} B/s)", sci(weights), ctx.weights().name,
                                            sci(ctx.weights().bandwidth))
                              : ""),
      {{"activation_bytes", activations}, {"activation_bandwidth", act.bandwidth}, {"weight_bytes", weights},
       {"weight_bandwidth", ctx.weights().bandwidth}},
      act.source));
  return seconds;
}

LayerProjection project_layer(const LayerProfile& original, const Context& ctx, const EnergyTable& table) {
  LayerProjection p;
  p.precision = step_precision(original, ctx.options);
  p.layer = at_precision(original, p.precision, p.terms);
  const LayerProfile& l = p.layer;
  const Device& d = ctx.device;
  if (l.view) {
    p.terms.push_back(term("view", 0, "a view (reshape, flatten) moves no data and runs no kernel"));
    p.bound = Bound::Overhead;
    p.energy = estimate_energy(l, table, 0);
    return p;
  }
  const Compute c = compute_time(l, p.precision, ctx, p.terms, p.matrix);
  p.peak_ops = c.peak;
  p.efficiency = c.efficiency;
  p.compute_s = l.cost_known ? c.seconds : 0;
  if (l.backend.rfind("reference", 0) == 0)
    p.terms.push_back(term("reference kernel", 1,
                           "no fast kernel: the op table's scalar reference kernel runs it; its speed varies with the "
                           "op and shape and is not modelled, so this step's time is a lower bound"));
  p.memory_s = l.cost_known ? memory_time(l, p.precision, ctx, p.compute_s, p.terms) : 0;
  if (l.conversion && l.cost_known && d.kind == "cpu")
    p.memory_s = std::max(p.memory_s, permutation_seconds("element permutation", l.bytes_read + l.bytes_written,
                                                          p.precision, d, ctx.options.threads, p.terms));
  // A kernel that reorders an input into its own layout first does so before computing: its time adds.
  const double reorder_s = d.kind == "cpu" ? permutation_seconds("input reorder", 2 * l.reordered_bytes, p.precision,
                                                                 d, ctx.options.threads, p.terms)
                                           : 0;
  p.overhead_s = d.launch_overhead_s.value;
  p.terms.push_back(term("dispatch overhead", p.overhead_s,
                         d.launch_overhead_s.known() ? "fixed cost per step (kernel launch, dispatch)"
                                                     : "dispatch cost per step unknown for this device: 0",
                         {}, d.launch_overhead_s.source));
  const double weights = std::max(l.weight_bytes, 0.0);
  const double activations = std::max(l.bytes_read - weights, 0.0) + std::max(l.bytes_written, 0.0);
  const bool weights_off_chip = ctx.weight_level + 1 == ctx.levels.size();
  // A CPU core fetches weights that live in DRAM as its kernel reaches them: it has few misses in flight and the
  // prefetchers do not run ahead of a blocked kernel's walk over packed weights, so streaming them does not overlap
  // the arithmetic (measured here: ResNet-50's and BERT's large products take compute + weight stream time).
  double serial_s = 0;
  if (l.cost_known && d.kind == "cpu" && weights_off_chip && weights > 0 && ctx.weights().bandwidth > 0) {
    serial_s = weights / ctx.weights().bandwidth;
    p.terms.push_back(term("weight stream", serial_s,
                           fmt::format("{} B of weights from DRAM at {} B/s, not overlapped with the arithmetic "
                                       "(one core's misses in flight are few)", sci(weights),
                                       sci(ctx.weights().bandwidth)),
                           {{"weight_bytes", weights}, {"bandwidth", ctx.weights().bandwidth}},
                           ctx.weights().source));
  }
  p.time_s = std::max(p.compute_s, p.memory_s - serial_s) + serial_s + reorder_s + p.overhead_s;
  if (!l.cost_known) p.bound = Bound::Unknown;
  else if (p.overhead_s >= std::max(p.compute_s, p.memory_s)) p.bound = Bound::Overhead;
  else p.bound = p.compute_s >= p.memory_s ? Bound::Compute : Bound::Memory;
  const bool activations_off_chip = &level_for(ctx.levels, activations) == &ctx.levels.back();
  p.energy = estimate_energy(l, table, (weights_off_chip ? weights : 0) + (activations_off_chip ? activations : 0));
  return p;
}

// The precision most of the model's FLOPs run at: what "% of peak" is measured against.
std::string main_precision(const std::vector<LayerProjection>& layers) {
  std::map<std::string, double> flops;
  for (const LayerProjection& l : layers) flops[l.precision] += l.layer.flops;
  std::string best = "fp32";
  double most = -1;
  for (const auto& [precision, f] : flops)
    if (f > most) best = precision, most = f;
  return best;
}

ProjectionTotals totals_of(const std::vector<LayerProjection>& layers, const Device& device, int threads,
                           int64_t batch) {
  ProjectionTotals t;
  for (const LayerProjection& l : layers) {
    t.time_s += l.time_s;
    t.flops += l.layer.flops;
    t.bytes += l.layer.bytes_read + l.layer.bytes_written;
    t.compute_s += l.compute_s;
    t.memory_s += l.memory_s;
    t.overhead_s += l.overhead_s;
    t.time_by_bound_s[static_cast<int>(l.bound)] += l.time_s;
    t.energy_j += l.energy.total_j();
    if (!l.layer.cost_known) ++t.unknown_steps;
  }
  t.energy_j /= double(std::max<int64_t>(batch, 1));
  const std::string precision = main_precision(layers);
  t.peak_ops = device.peak(precision, threads, &t.peak_precision);
  t.efficiency = t.time_s > 0 && t.peak_ops > 0 ? t.flops / (t.time_s * t.peak_ops) : 0;
  return t;
}

Context make_context(const std::vector<LayerProfile>& layers, const Device& device, const ProjectionOptions& options) {
  Context ctx{device, options, memory_levels(device, options.threads)};
  for (const LayerProfile& l : layers) {
    const double weights = std::max(l.weight_bytes, 0.0);
    ctx.weight_total += weights;
    ctx.largest_step_activations = std::max(ctx.largest_step_activations,
                                            std::max(l.bytes_read - weights, 0.0) + std::max(l.bytes_written, 0.0));
  }
  // Weights survive between inferences in a level only if it also holds the activations streaming past them.
  ctx.weight_level = static_cast<size_t>(
      &level_for(ctx.levels, ctx.weight_total + ctx.largest_step_activations) - ctx.levels.data());
  return ctx;
}

struct Run {
  std::vector<LayerProjection> layers;
  ProjectionTotals totals;
};

Run run_of(const std::vector<LayerProfile>& layers, const Device& device, const ProjectionOptions& options,
           const EnergyTable& table) {
  const Context ctx = make_context(layers, device, options);
  Run r;
  for (const LayerProfile& l : layers) r.layers.push_back(project_layer(l, ctx, table));
  r.totals = totals_of(r.layers, device, options.threads, options.batch);
  return r;
}

constexpr int kMaxDoublings = 10;  // batches up to 1024 × the given one

LoadProjection project_load(const std::vector<LayerProfile>& layers, const Device& device,
                            const ProjectionOptions& options, const EnergyTable& table, const ProjectionTotals& base) {
  LoadProjection load;
  load.batch = options.batch;
  load.latency_s = base.time_s;
  if (options.latency_bound_ms > 0) {
    const double bound_s = options.latency_bound_ms * 1e-3;
    load.bound_met = base.time_s <= bound_s;
    for (int i = 1; i <= kMaxDoublings && load.bound_met; ++i) {
      ProjectionOptions bigger = options;
      bigger.batch = options.batch << i;
      const Run r = run_of(scale_batch(layers, double(1 << i)), device, bigger, table);
      if (r.totals.time_s > bound_s) break;
      load.batch = bigger.batch;
      load.latency_s = r.totals.time_s;
    }
    load.assumptions.push_back(
        load.bound_met
            ? fmt::format("batch {}: the largest of {} × 2^i (i ≤ {}) whose projected latency stays within {} ms; "
                          "activations, FLOPs and matrix rows scale with the batch, weights are read once per batch",
                          load.batch, options.batch, kMaxDoublings, options.latency_bound_ms)
            : fmt::format("even batch {} takes {:.3f} ms, beyond the {} ms bound: sized at batch {} anyway",
                          options.batch, base.time_s * 1e3, options.latency_bound_ms, options.batch));
  }
  load.throughput = load.latency_s > 0 ? double(load.batch) / load.latency_s : 0;
  load.utilization = 1;
  double served = load.throughput;  // inferences/s the deployment serves
  if (options.target_qps > 0) {
    load.devices = devices_needed(options.target_qps, load.throughput);
    load.utilization = load.devices > 0 ? options.target_qps / (double(load.devices) * load.throughput) : 0;
    served = options.target_qps;
    load.assumptions.push_back(fmt::format("{} device(s) = ceil({} queries/s / {:.1f} inferences/s per device); "
                                           "queueing delay not modelled", load.devices, options.target_qps,
                                           load.throughput));
  }
  const double devices = std::max<double>(double(load.devices), 1);
  if (device.tdp_watts.known()) {
    load.power_w = devices * device.tdp_watts.value * load.utilization;
    load.assumptions.push_back(fmt::format("power = TDP ({} W, {}) × utilization ({:.0f} %) per device; idle power "
                                           "not modelled", device.tdp_watts.value, device.tdp_watts.source,
                                           100 * load.utilization));
  }
  if (device.price_per_hour_usd.known()) {
    load.usd_per_hour = devices * device.price_per_hour_usd.value;
    load.assumptions.push_back(fmt::format("rented at ${}/h per device ({}), energy included in the price",
                                           device.price_per_hour_usd.value, device.price_per_hour_usd.source));
  } else if (device.price_usd.known()) {
    const double hours = options.amortization_years * 365 * 24;
    const double energy_per_hour = load.power_w / 1000 * options.usd_per_kwh;
    load.usd_per_hour = devices * device.price_usd.value / hours + energy_per_hour;
    load.assumptions.push_back(fmt::format("bought at ${} per device ({}), amortized over {} years of continuous "
                                           "use, plus energy at ${}/kWh; host, cooling and hosting not included",
                                           device.price_usd.value, device.price_usd.source,
                                           options.amortization_years, options.usd_per_kwh));
  } else {
    load.assumptions.push_back("no price for this device: cost not projected");
  }
  if (served > 0 && load.usd_per_hour > 0) load.usd_per_million = load.usd_per_hour / (served * 3600) * 1e6;
  return load;
}

std::vector<std::string> device_assumptions(const Context& ctx, const ProjectionOptions& o) {
  std::vector<std::string> a;
  const Device& d = ctx.device;
  for (const MemoryLevel& l : ctx.levels)
    a.push_back(fmt::format("memory level {}: {} B/s{} ({})", l.name, sci(l.bandwidth),
                            std::isfinite(l.bytes) ? fmt::format(", {} B", sci(l.bytes)) : "", l.source));
  a.push_back(fmt::format("weights ({} B in all) stay in {} between inferences (the smallest level holding them "
                          "and the largest step's activations, {} B)", sci(ctx.weight_total),
                          ctx.weights().name, sci(ctx.largest_step_activations)));
  if (d.kind == "cpu")
    a.push_back(fmt::format("{} thread(s) of {} core(s); compute and cache traffic of a step overlap (time = max), "
                            "weights streamed from DRAM do not (time adds)",
                            o.threads > 0 ? std::to_string(o.threads) : "all", d.cores));
  if (!o.precision.empty())
    a.push_back(fmt::format("every float and 8-bit step runs at {}; its bytes scale with the element size",
                            o.precision));
  if (o.batch > 1) a.push_back(fmt::format("one run is a batch of {} inferences", o.batch));
  return a;
}

json term_json(const ProjectionTerm& t) {
  json j = {{"name", t.name}, {"value", t.value}, {"assumption", t.assumption}, {"inputs", t.inputs}};
  if (!t.source.empty()) j["source"] = t.source;
  return j;
}

json matrix_json(const MatrixShape& m) {
  if (!m.defined()) return nullptr;
  return {{"batch", m.batch}, {"m", m.m}, {"n", m.n}, {"k", m.k}};
}

}  // namespace

std::vector<size_t> Projection::slowest(size_t k) const {
  std::vector<size_t> order(layers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return layers[a].time_s > layers[b].time_s; });
  order.resize(std::min(k, order.size()));
  return order;
}

std::vector<LayerProfile> scale_batch(const std::vector<LayerProfile>& layers, double factor) {
  std::vector<LayerProfile> out = layers;
  for (LayerProfile& l : out) {
    const double weights = std::max(l.weight_bytes, 0.0);
    l.flops *= factor;
    l.bytes_read = weights + (l.bytes_read - weights) * factor;
    l.bytes_written *= factor;
    if (l.matrix.defined()) l.matrix.m = std::max<int64_t>(1, std::llround(double(l.matrix.m) * factor));
  }
  return out;
}

int64_t devices_needed(double target_qps, double throughput) {
  if (target_qps <= 0 || throughput <= 0) return 0;
  return static_cast<int64_t>(std::ceil(target_qps / throughput - 1e-9));
}

double systolic_cycles(const MatrixShape& matrix, int rows, int cols, int arrays, const std::string& dataflow) {
  return systolic_cycles_impl(matrix, rows, cols, arrays, dataflow, nullptr);
}

Projection project(const std::vector<LayerProfile>& layers, const Device& device, const ProjectionOptions& options,
                   const std::string& model) {
  if (options.batch < 1) throw Error("projection: batch must be at least 1");
  for (const auto& [precision, e] : options.matrix_efficiency)
    if (!(e.value > 0 && e.value <= 1))
      throw Error(fmt::format("projection: the {} matrix efficiency must be in (0, 1], got {}", precision, e.value));
  if (!options.precision.empty() && element_bytes(options.precision) <= 0)
    throw Error("projection: unknown precision '" + options.precision + "' (fp32, tf32, fp16, bf16, fp8, int8, int4)");
  Projection p;
  p.model = model;
  p.device = device;
  p.options = options;
  p.energy_table = energy_table_for(device);
  Run r = run_of(layers, device, options, p.energy_table);
  p.layers = std::move(r.layers);
  p.totals = r.totals;
  p.assumptions = device_assumptions(make_context(layers, device, options), options);
  p.load = project_load(layers, device, options, p.energy_table, p.totals);
  return p;
}

json projection_json(const Projection& p) {
  const ProjectionTotals& t = p.totals;
  json layers = json::array();
  for (const LayerProjection& l : p.layers) {
    const LayerProfile& s = l.layer;
    json terms = json::array();
    for (const ProjectionTerm& term : l.terms) terms.push_back(term_json(term));
    layers.push_back({{"node", s.node},
                      {"op_type", s.op_type},
                      {"backend", s.backend},
                      {"kernel", s.kernel},
                      {"conversion", s.conversion},
                      {"cost_known", s.cost_known},
                      {"model_precision", s.precision},
                      {"precision", l.precision},
                      {"flops", s.flops},
                      {"bytes_read", s.bytes_read},
                      {"bytes_written", s.bytes_written},
                      {"weight_bytes", s.weight_bytes},
                      {"reordered_bytes", s.reordered_bytes},
                      {"matrix", matrix_json(s.matrix)},
                      {"matrix_units", l.matrix},
                      {"peak_ops_per_s", l.peak_ops},
                      {"efficiency", l.efficiency},
                      {"compute_us", l.compute_s * 1e6},
                      {"memory_us", l.memory_s * 1e6},
                      {"overhead_us", l.overhead_s * 1e6},
                      {"time_us", l.time_s * 1e6},
                      {"bound", bound_name(l.bound)},
                      {"terms", terms},
                      {"energy", l.energy.inputs()}});
  }
  const LoadProjection& load = p.load;
  const double peak_time = t.peak_ops > 0 ? t.flops / t.peak_ops : 0;
  return {{"model", p.model},
          {"device", device_to_json(p.device)},
          {"options",
           {{"precision", p.options.precision.empty() ? "as the model" : p.options.precision},
            {"threads", p.options.threads},
            {"batch", p.options.batch},
            {"target_qps", p.options.target_qps},
            {"latency_bound_ms", p.options.latency_bound_ms},
            {"usd_per_kwh", p.options.usd_per_kwh},
            {"amortization_years", p.options.amortization_years}}},
          {"assumptions", p.assumptions},
          {"energy_table", energy_table_to_json(p.energy_table)},
          {"layers", layers},
          {"totals",
           {{"latency_ms", t.time_s * 1e3},
            {"throughput_per_s", p.throughput()},
            {"flops", t.flops},
            {"bytes", t.bytes},
            {"compute_ms", t.compute_s * 1e3},
            {"memory_ms", t.memory_s * 1e3},
            {"overhead_ms", t.overhead_s * 1e3},
            {"ms_by_bound",
             {{"compute", t.time_by_bound_s[0] * 1e3},
              {"memory", t.time_by_bound_s[1] * 1e3},
              {"overhead", t.time_by_bound_s[2] * 1e3},
              {"unknown", t.time_by_bound_s[3] * 1e3}}},
            {"efficiency_percent", 100 * t.efficiency},
            {"efficiency_inputs",
             {{"flops", t.flops}, {"latency_s", t.time_s}, {"peak_precision", t.peak_precision},
              {"peak_ops_per_s", t.peak_ops}, {"time_at_peak_s", peak_time}}},
            {"energy_per_inference_j", t.energy_j},
            {"unknown_steps", t.unknown_steps}}},
          {"load",
           {{"batch", load.batch},
            {"latency_ms", load.latency_s * 1e3},
            {"throughput_per_s", load.throughput},
            {"latency_bound_met", load.bound_met},
            {"devices", load.devices},
            {"utilization", load.utilization},
            {"power_w", load.power_w},
            {"usd_per_hour", load.usd_per_hour},
            {"usd_per_million_inferences", load.usd_per_million},
            {"assumptions", load.assumptions}}}};
}

}  // namespace infera
