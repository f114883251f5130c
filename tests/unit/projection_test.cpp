#include "analysis/projection.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "infera/error.h"

namespace infera {
namespace {

// A CPU of one core: 1 TFLOP/s fp32, 4 TOP/s int8, 10 GB/s DRAM, a 1 MiB cache at 100 GB/s, 1 µs per step.
Device test_cpu() {
  Device d;
  d.id = "test-cpu";
  d.kind = "cpu";
  d.cores = 1;
  d.isa = {"avx512f"};
  d.peak_ops["fp32"] = {1e12, "test"};
  d.peak_ops["int8"] = {4e12, "test"};
  d.memory_bandwidth = {10e9, "test"};
  d.caches.push_back(CacheLevel{2, {1 << 20, "test"}, 1, {100e9, "test"}});
  d.launch_overhead_s = {1e-6, "test"};
  return d;
}

Device test_gpu(int sms) {
  Device d;
  d.id = "test-gpu";
  d.kind = "gpu";
  d.cores = sms;
  d.peak_ops["fp16"] = {100e12, "test"};
  d.peak_ops["fp32"] = {10e12, "test"};
  d.memory_bandwidth = {1e12, "test"};
  d.tdp_watts = {300, "test"};
  d.price_per_hour_usd = {2.0, "test"};
  return d;
}

LayerProfile matmul(int64_t m, int64_t n, int64_t k, const std::string& precision = "float32") {
  LayerProfile l;
  l.node = "mm";
  l.op_type = "MatMul";
  l.precision = precision;
  l.matrix = {1, m, n, k};
  l.flops = 2.0 * double(m) * double(n) * double(k);
  l.weight_bytes = 4.0 * double(k) * double(n);
  l.bytes_read = 4.0 * double(m) * double(k) + l.weight_bytes;
  l.bytes_written = 4.0 * double(m) * double(n);
  return l;
}

LayerProfile elementwise(double elements) {
  LayerProfile l;
  l.node = "relu";
  l.op_type = "Relu";
  l.precision = "float32";
  l.flops = elements;
  l.bytes_read = 4 * elements;
  l.bytes_written = 4 * elements;
  return l;
}

const ProjectionTerm* find_term(const LayerProjection& l, const std::string& name) {
  for (const ProjectionTerm& t : l.terms)
    if (t.name == name) return &t;
  return nullptr;
}

TEST(Projection, ClassifiesComputeMemoryAndOverheadBound) {
  const Projection p = project({matmul(1024, 1024, 1024), elementwise(64e6), elementwise(16)}, test_cpu(), {});
  ASSERT_EQ(p.layers.size(), 3u);
  EXPECT_EQ(p.layers[0].bound, Bound::Compute);
  EXPECT_EQ(p.layers[1].bound, Bound::Memory);
  EXPECT_EQ(p.layers[2].bound, Bound::Overhead);
  // 512 MB of activations exceed the cache: DRAM at 10 GB/s.
  EXPECT_NEAR(p.layers[1].memory_s, 512e6 / 10e9, 1e-6);
  EXPECT_NEAR(p.layers[1].time_s, p.layers[1].memory_s + 1e-6, 1e-9);
  EXPECT_NEAR(p.totals.time_s, p.layers[0].time_s + p.layers[1].time_s + p.layers[2].time_s, 1e-12);
}

TEST(Projection, CpuTileQuantizationPadsNToTheVectorLanes) {
  // 17 output columns on 16 fp32 lanes take 2 vectors: 17/32 of the work is useful. m = 6 fills one register block.
  const Projection p = project({matmul(6, 17, 4096)}, test_cpu(), {});
  const ProjectionTerm* tile = find_term(p.layers[0], "tile quantization");
  ASSERT_NE(tile, nullptr);
  EXPECT_NEAR(tile->value, 17.0 / 32.0, 1e-9);
  EXPECT_FALSE(tile->assumption.empty());
  const Projection full = project({matmul(6, 16, 4096)}, test_cpu(), {});
  EXPECT_NEAR(find_term(full.layers[0], "tile quantization")->value, 1.0, 1e-9);
  EXPECT_GT(p.layers[0].compute_s, 1.8 * full.layers[0].compute_s);
}

TEST(Projection, DepthwiseIsBoundByTwoL1LoadsPerMultiplyAdd) {
  // 64 channels, one column each: on the vector units, loading an input and a weight per multiply-add. With L1 at
  // 400 GB/s: 400e9 / (2 loads x 4 B) multiply-adds/s = 100 GFLOP/s of the 1 TFLOP/s peak.
  Device d = test_cpu();
  d.caches.push_back(CacheLevel{1, {48 << 10, "test"}, 1, {400e9, "test"}});
  LayerProfile dw = matmul(3136, 1, 9);
  dw.matrix.batch = 64;
  dw.flops *= 64;
  const Projection p = project({dw}, d, {});
  EXPECT_FALSE(p.layers[0].matrix);
  const ProjectionTerm* loads = find_term(p.layers[0], "L1 loads");
  ASSERT_NE(loads, nullptr);
  EXPECT_NEAR(loads->value, 0.1, 1e-9);
  EXPECT_NEAR(p.layers[0].compute_s, dw.flops / 100e9, 1e-12);
}

TEST(Projection, LayoutPermutationsMoveOneElementPerL1Access) {
  // 100 kB read and 100 kB written as 4-byte elements, each one 64-byte L1 access at 640 GB/s (1e10 accesses/s):
  // 5e4 accesses take 5 µs, more than the 200 kB at the cache's 100 GB/s (2 µs).
  Device d = test_cpu();
  d.caches.push_back(CacheLevel{1, {48 << 10, "test"}, 1, {640e9, "test"}});
  LayerProfile reorder = elementwise(0);
  reorder.op_type = "LayoutToPlain";
  reorder.conversion = true;
  reorder.bytes_read = reorder.bytes_written = 1e5;
  const Projection p = project({reorder}, d, {});
  ASSERT_NE(find_term(p.layers[0], "element permutation"), nullptr);
  EXPECT_NEAR(p.layers[0].memory_s, 5e4 / 1e10, 1e-12);
  // A kernel that reorders its 100 kB input first pays the same before computing.
  LayerProfile mm = matmul(256, 256, 256);
  const double plain = project({mm}, d, {}).layers[0].time_s;
  mm.reordered_bytes = 1e5;
  const Projection q = project({mm}, d, {});
  ASSERT_NE(find_term(q.layers[0], "input reorder"), nullptr);
  EXPECT_NEAR(q.layers[0].time_s - plain, 5e4 / 1e10, 1e-12);
}

TEST(Projection, MatrixEfficiencyFromTheDeviceUnlessOverridden) {
  Device d = test_cpu();
  d.matrix_efficiency["fp32"] = {0.5, "measured"};
  const LayerProfile mm = matmul(6 * 64, 1024, 1024);
  const double ideal = project({mm}, test_cpu(), {}).layers[0].compute_s;
  EXPECT_NEAR(project({mm}, d, {}).layers[0].compute_s, 2 * ideal, 1e-12);
  ProjectionOptions o;
  o.matrix_efficiency["fp32"] = {0.25, "option"};
  EXPECT_NEAR(project({mm}, d, o).layers[0].compute_s, 4 * ideal, 1e-12);
}

TEST(Projection, CpuWeightsFromDramAddToTheArithmetic) {
  // 4 MiB of weights exceed the 1 MiB cache: streamed from DRAM at 10 GB/s, after (not under) the compute time.
  const Projection p = project({matmul(1536, 1024, 1024)}, test_cpu(), {});
  const LayerProjection& l = p.layers[0];
  const ProjectionTerm* stream = find_term(l, "weight stream");
  ASSERT_NE(stream, nullptr);
  EXPECT_NEAR(stream->value, 4.0 * 1024 * 1024 / 10e9, 1e-12);
  EXPECT_GT(l.compute_s, l.memory_s);
  EXPECT_NEAR(l.time_s, l.compute_s + stream->value + 1e-6, 1e-12);
  // Weights that stay in the cache between inferences overlap as before.
  const Projection small = project({matmul(256, 128, 128)}, test_cpu(), {});
  EXPECT_EQ(find_term(small.layers[0], "weight stream"), nullptr);
}

TEST(Projection, WeightsStayCachedOnlyBesideTheActivations) {
  // 0.5 MiB of weights fit the 1 MiB cache alone, but not with a step moving 1 MiB of activations past them.
  LayerProfile relu = elementwise(128 * 1024);  // 512 KiB read, 512 KiB written
  const Projection alone = project({matmul(8, 512, 256)}, test_cpu(), {});
  const Projection beside = project({matmul(8, 512, 256), relu}, test_cpu(), {});
  EXPECT_EQ(find_term(alone.layers[0], "weight stream"), nullptr);
  EXPECT_NE(find_term(beside.layers[0], "weight stream"), nullptr);
}

TEST(Projection, SharedCacheLevelsGiveEachCoreItsShare) {
  Device d = test_cpu();
  d.cores = 2;
  d.peak_ops["fp32"] = {2e12, "test"};
  d.caches[0].shared_by = 2;
  ProjectionOptions one;
  one.threads = 1;
  // 0.75 MiB of weights: over one core's half of the shared 1 MiB, within both cores' whole.
  EXPECT_NE(find_term(project({matmul(4, 768, 256)}, d, one).layers[0], "weight stream"), nullptr);
  EXPECT_EQ(find_term(project({matmul(4, 768, 256)}, d, {}).layers[0], "weight stream"), nullptr);
}

TEST(Projection, GpuWaveQuantization) {
  // 109 tiles of 128x128 (m = 109 * 128 rows) on 108 SMs run in 2 waves: 109 / 216 of the SM time is useful.
  const Projection p = project({matmul(109 * 128, 128, 4096, "float16")}, test_gpu(108), {});
  const ProjectionTerm* wave = find_term(p.layers[0], "wave quantization");
  ASSERT_NE(wave, nullptr);
  EXPECT_NEAR(wave->value, 109.0 / 216.0, 1e-9);
  EXPECT_EQ(p.layers[0].precision, "fp16");
  // One tile cannot fill 108 SMs: k = 4096 splits into 32 slices of 128, one wave of 32 tiles.
  const Projection one = project({matmul(128, 128, 4096, "float16")}, test_gpu(108), {});
  EXPECT_NEAR(find_term(one.layers[0], "wave quantization")->value, 32.0 / 108.0, 1e-9);
}

TEST(Projection, SystolicFoldsFormula) {
  // Output-stationary 128x128: ceil(256/128) * ceil(300/128) = 6 folds of (100 + 128 + 128 - 2) cycles.
  EXPECT_DOUBLE_EQ(systolic_cycles({1, 256, 300, 100}, 128, 128, 1, "output-stationary"), 6 * 354.0);
  // Two arrays share the folds: ceil(6 / 2) = 3 rounds.
  EXPECT_DOUBLE_EQ(systolic_cycles({1, 256, 300, 100}, 128, 128, 2, "output-stationary"), 3 * 354.0);
  // Weight-stationary folds k and n, m streams: ceil(100/128) * ceil(300/128) = 3 folds of (256 + 254) cycles.
  EXPECT_DOUBLE_EQ(systolic_cycles({1, 256, 300, 100}, 128, 128, 1, "weight-stationary"), 3 * 510.0);
  // Fewer folds than arrays: the stream splits. 1 fold over 4 arrays: ceil(100 / 4) + 254 cycles.
  EXPECT_DOUBLE_EQ(systolic_cycles({1, 128, 128, 100}, 128, 128, 4, "output-stationary"), 25 + 254.0);
  // Batched products fold each one.
  EXPECT_DOUBLE_EQ(systolic_cycles({4, 128, 128, 10}, 128, 128, 1, "output-stationary"), 4 * 264.0);
}

TEST(Projection, SystolicDeviceUsesFoldsAndStallsOnDram) {
  Device d;
  d.id = "array";
  d.kind = "systolic";
  d.systolic = SystolicArray{128, 128, 1, 1e9, "output-stationary", "int8", "test"};
  d.peak_ops["int8"] = {d.systolic->peak_ops(), "test"};
  d.memory_bandwidth = {1e9, "test"};
  d.onchip_bytes = {1 << 20, "test"};
  const LayerProfile small = matmul(128, 128, 128, "int8");
  const Projection p = project({small}, d, {});
  // One fold of 128 + 254 cycles at 1 GHz.
  EXPECT_NEAR(p.layers[0].compute_s, 382e-9, 1e-12);
  EXPECT_EQ(find_term(p.layers[0], "DRAM stalls"), nullptr);  // fits in SRAM
  const Projection big = project({matmul(4096, 4096, 4096, "int8")}, d, {});
  const ProjectionTerm* stall = find_term(big.layers[0], "DRAM stalls");
  ASSERT_NE(stall, nullptr);
  EXPECT_GT(stall->value, 0);
  EXPECT_EQ(big.layers[0].bound, Bound::Memory);
}

TEST(Projection, DevicesNeededArithmetic) {
  EXPECT_EQ(devices_needed(1000, 300), 4);
  EXPECT_EQ(devices_needed(900, 300), 3);
  EXPECT_EQ(devices_needed(1, 300), 1);
  EXPECT_EQ(devices_needed(0, 300), 0);
  EXPECT_EQ(devices_needed(100, 0), 0);
}

TEST(Projection, LoadSizingBatchesWithinTheLatencyBound) {
  ProjectionOptions o;
  o.target_qps = 1e6;
  const std::vector<LayerProfile> layers = {matmul(1, 1024, 1024)};
  const Projection unbatched = project(layers, test_gpu(108), o);
  o.latency_bound_ms = 1;
  const Projection batched = project(layers, test_gpu(108), o);
  EXPECT_EQ(unbatched.load.batch, 1);
  EXPECT_GT(batched.load.batch, 1);
  EXPECT_LE(batched.load.latency_s, 1e-3);
  EXPECT_LT(batched.load.devices, unbatched.load.devices);
  EXPECT_EQ(batched.load.devices, devices_needed(10000, batched.load.throughput));
  EXPECT_GT(batched.load.utilization, 0);
  EXPECT_LE(batched.load.utilization, 1);
  // Rented at $2/h: cost per million = devices × 2 / (1e6 × 3600) × 1e6.
  EXPECT_NEAR(batched.load.usd_per_million, double(batched.load.devices) * 2 / 3600, 1e-9);
  EXPECT_NEAR(batched.load.power_w, double(batched.load.devices) * 300 * batched.load.utilization, 1e-9);
}

TEST(Projection, PrecisionScalesBytesAndPeak) {
  ProjectionOptions o;
  o.precision = "int8";
  const LayerProfile l = matmul(512, 512, 512);
  const Projection p = project({l}, test_cpu(), o);
  EXPECT_EQ(p.layers[0].precision, "int8");
  EXPECT_DOUBLE_EQ(p.layers[0].layer.bytes_read, l.bytes_read / 4);
  EXPECT_DOUBLE_EQ(p.layers[0].peak_ops, 4e12);
  ASSERT_NE(find_term(p.layers[0], "precision bytes"), nullptr);
}

TEST(Projection, ScaleBatchKeepsWeightsOnce) {
  const LayerProfile l = matmul(1, 64, 64);
  const LayerProfile s = scale_batch({l}, 8).front();
  EXPECT_EQ(s.matrix.m, 8);
  EXPECT_DOUBLE_EQ(s.flops, 8 * l.flops);
  EXPECT_DOUBLE_EQ(s.weight_bytes, l.weight_bytes);
  EXPECT_DOUBLE_EQ(s.bytes_read, l.weight_bytes + 8 * (l.bytes_read - l.weight_bytes));
}

TEST(Projection, JsonListsEveryTermWithItsAssumption) {
  ProjectionOptions o;
  o.target_qps = 100;
  const nlohmann::json j = projection_json(project({matmul(64, 64, 64), elementwise(1000)}, test_cpu(), o));
  ASSERT_TRUE(j.contains("assumptions"));
  EXPECT_FALSE(j["assumptions"].empty());
  ASSERT_EQ(j["layers"].size(), 2u);
  for (const auto& layer : j["layers"]) {
    EXPECT_FALSE(layer["terms"].empty());
    for (const auto& t : layer["terms"]) EXPECT_FALSE(t["assumption"].get<std::string>().empty());
    EXPECT_TRUE(layer["energy"].contains("mac_pj"));
  }
  EXPECT_TRUE(j["load"]["assumptions"].is_array());
  EXPECT_EQ(j["load"]["devices"], 1);
  EXPECT_TRUE(j["totals"].contains("efficiency_inputs"));
}

TEST(Projection, RejectsBadOptions) {
  ProjectionOptions o;
  o.precision = "fp7";
  EXPECT_THROW(project({matmul(4, 4, 4)}, test_cpu(), o), Error);
  Device none = test_cpu();
  none.peak_ops.clear();
  EXPECT_THROW(project({matmul(4, 4, 4)}, none, {}), Error);
}

}  // namespace
}  // namespace infera
