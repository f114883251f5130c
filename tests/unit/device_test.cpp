#include "analysis/device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "analysis/device_probe.h"
#include "infera/error.h"

namespace infera {
namespace {

using nlohmann::json;

const std::vector<std::string> kExpectedCatalog = {"a100",   "h100",        "h200",   "t4",     "l4",
                                                   "vck5000", "u250",       "goya",   "gaudi2", "inferentia2",
                                                   "tpu-v4", "tpu-v5e", "systolic-template"};

// The error message of device_from_json(text), or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    device_from_json(json::parse(text), "bad.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Device cpu_device() {
  Device d;
  d.id = "cpu4";
  d.kind = "cpu";
  d.cores = 4;
  d.peak_ops["fp32"] = {400e9, "test"};
  d.peak_ops_per_core["fp32"] = {120e9, "test"};
  d.peak_ops["int8"] = {1600e9, "test"};
  d.memory_bandwidth = {60e9, "test"};
  d.memory_bandwidth_per_core = {25e9, "test"};
  d.caches = {{1, {48 * 1024, "test"}, 1, {200e9, "test"}}, {3, {32 << 20, "test"}, 4, {}}};
  return d;
}

TEST(DeviceCatalog, HoldsEveryDeviceOfTheIssue) {
  const std::vector<std::string> ids = catalog_device_ids();
  for (const std::string& id : kExpectedCatalog)
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
}

TEST(DeviceCatalog, EveryFileLoadsWithPeaksBandwidthAndSources) {
  for (const std::string& id : catalog_device_ids()) {
    SCOPED_TRACE(id);
    const Device d = load_device(id);
    EXPECT_EQ(d.id, id);
    EXPECT_EQ(d.file, "catalog:" + id);
    EXPECT_FALSE(d.display_name.empty());
    // Every device runs an fp32 or int8 model somewhere (fp32 falls back to bf16 on a TPU, int8 to fp8 on Gaudi2).
    EXPECT_GT(d.peak("fp32"), 0);
    EXPECT_GT(d.peak("int8"), 0);
    for (const auto& [precision, s] : d.peak_ops) {
      EXPECT_TRUE(s.known()) << precision;
      EXPECT_FALSE(s.source.empty()) << precision;
    }
    // Bandwidth is known, or unknown with the reason given (Goya: not published).
    EXPECT_FALSE(d.memory_bandwidth.source.empty());
    EXPECT_TRUE(d.memory_bandwidth.known() || d.memory_bandwidth.source.rfind("unknown", 0) == 0);
    for (const Sourced* s : {&d.memory_bytes, &d.onchip_bytes, &d.tdp_watts, &d.process_nm, &d.price_usd,
                             &d.price_per_hour_usd, &d.launch_overhead_s, &d.interconnect_bandwidth})
      EXPECT_TRUE(!s->known() || !s->source.empty());
    EXPECT_TRUE(d.cores == 0 || !d.cores_source.empty());
  }
}

TEST(DeviceCatalog, NumbersComeThroughInBaseUnits) {
  const Device a100 = load_device("a100");
  EXPECT_DOUBLE_EQ(a100.peak_ops.at("fp32").value, 19.5e12);
  EXPECT_DOUBLE_EQ(a100.peak_ops.at("int8").value, 624e12);
  EXPECT_DOUBLE_EQ(a100.memory_bandwidth.value, 2039e9);
  EXPECT_DOUBLE_EQ(a100.memory_bytes.value, 80e9);
  EXPECT_DOUBLE_EQ(a100.launch_overhead_s.value, 5e-6);
  EXPECT_EQ(a100.cores, 108);
  const Device inf2 = load_device("inferentia2");
  EXPECT_DOUBLE_EQ(inf2.memory_bandwidth.value, 820.0 * 1024 * 1024 * 1024);
}

TEST(DeviceCatalog, SystolicBlocksAgreeWithTheirPeaks) {
  const Device v4 = load_device("tpu-v4");
  ASSERT_TRUE(v4.systolic);
  EXPECT_NEAR(v4.systolic->peak_ops() / v4.peak_ops.at("bf16").value, 1.0, 0.002);
  // The template gives no peak: it is derived from the array.
  const Device t = load_device("systolic-template");
  ASSERT_TRUE(t.systolic);
  EXPECT_DOUBLE_EQ(t.peak("int8"), 2.0 * 128 * 128 * 1e9);
  EXPECT_NE(t.peak_ops.at("int8").source.find("derived"), std::string::npos);
}

TEST(DeviceCatalog, NamesAreCaseInsensitive) { EXPECT_EQ(load_device("A100").id, "a100"); }

TEST(DevicePeak, UsesThePrecisionsOwnPeakWhenThereIsOne) {
  const Device a100 = load_device("a100");
  std::string used;
  EXPECT_DOUBLE_EQ(a100.peak("int4", 0, &used), 1248e12);
  EXPECT_EQ(used, "int4");
  EXPECT_DOUBLE_EQ(a100.peak("float32", 0, &used), 19.5e12);  // element type names work too
  EXPECT_EQ(used, "fp32");
}

TEST(DevicePeak, FallsBackToTheNearestPrecisionTheDeviceRuns) {
  std::string used;
  EXPECT_DOUBLE_EQ(load_device("h100").peak("int4", 0, &used), 1979e12);
  EXPECT_EQ(used, "int8");
  EXPECT_DOUBLE_EQ(load_device("t4").peak("bfloat16", 0, &used), 65e12);
  EXPECT_EQ(used, "fp16");
  EXPECT_DOUBLE_EQ(load_device("tpu-v4").peak("fp32", 0, &used), 275e12);
  EXPECT_EQ(used, "bf16");
  EXPECT_DOUBLE_EQ(load_device("gaudi2").peak("int8", 0, &used), 865e12);
  EXPECT_EQ(used, "fp8");
  // Index and mask arithmetic runs at the fp32 rate.
  EXPECT_DOUBLE_EQ(load_device("a100").peak("int64", 0, &used), 19.5e12);
  EXPECT_EQ(used, "fp32");
  Device empty;
  EXPECT_EQ(empty.peak("fp32", 0, &used), 0);
  EXPECT_TRUE(used.empty());
}

TEST(DevicePeak, CpuPeaksScaleWithThreads) {
  const Device d = cpu_device();
  EXPECT_DOUBLE_EQ(d.peak("fp32", 1), 120e9);  // one core alone, as measured
  EXPECT_DOUBLE_EQ(d.peak("fp32", 3), 360e9);
  EXPECT_DOUBLE_EQ(d.peak("fp32", 4), 400e9);  // capped by the all-core peak
  EXPECT_DOUBLE_EQ(d.peak("fp32", 16), 400e9);
  EXPECT_DOUBLE_EQ(d.peak("fp32"), 400e9);
  EXPECT_DOUBLE_EQ(d.peak("int8", 2), 800e9);  // no per-core measurement: peak / cores
  EXPECT_DOUBLE_EQ(d.dram_bandwidth(1), 25e9);
  EXPECT_DOUBLE_EQ(d.dram_bandwidth(4), 60e9);
  EXPECT_DOUBLE_EQ(d.dram_bandwidth(), 60e9);
  // Other kinds ignore threads.
  EXPECT_DOUBLE_EQ(load_device("a100").peak("fp32", 1), 19.5e12);
}

TEST(DevicePrecision, MapsElementTypesToCatalogKeys) {
  EXPECT_EQ(precision_key("float32"), "fp32");
  EXPECT_EQ(precision_key("FP16"), "fp16");
  EXPECT_EQ(precision_key("bfloat16"), "bf16");
  EXPECT_EQ(precision_key("uint8"), "int8");
  EXPECT_EQ(precision_key("float8e4m3fn"), "fp8");
  EXPECT_EQ(precision_key("int4"), "int4");
  EXPECT_EQ(precision_key("int64"), "");
}

TEST(DeviceJson, RoundTripsEveryField) {
  for (const Device& original : {load_device("tpu-v4"), cpu_device()}) {
    SCOPED_TRACE(original.id);
    const Device back = device_from_json(device_to_json(original), "roundtrip.json");
    EXPECT_EQ(device_to_json(back), device_to_json(original));
    EXPECT_EQ(back.kind, original.kind);
    EXPECT_EQ(back.cores, original.cores);
    for (const auto& [precision, s] : original.peak_ops) EXPECT_NEAR(back.peak(precision), s.value, s.value * 1e-4);
    EXPECT_EQ(back.caches.size(), original.caches.size());
    EXPECT_EQ(back.systolic.has_value(), original.systolic.has_value());
    EXPECT_EQ(back.energy.has_value(), original.energy.has_value());
  }
}

TEST(DeviceJson, WritesNumbersInTheUnitTheyReadBestIn) {
  Device d = cpu_device();
  d.memory_bytes = {16e9, "datasheet"};
  d.onchip_bytes = {32.0 * 1024 * 1024 * 1024, "datasheet"};
  d.launch_overhead_s = {5e-6, "assumption"};
  const json j = device_to_json(d);
  EXPECT_EQ(j.at("memory_bytes"), json({{"value", 16.0}, {"unit", "GB"}, {"source", "datasheet"}}));
  EXPECT_EQ(j.at("onchip_bytes").at("unit"), "GiB");
  EXPECT_EQ(j.at("caches").at(0).at("bytes").at("unit"), "KiB");
  EXPECT_EQ(j.at("peak_ops").at("fp32").at("unit"), "GFLOP/s");
  EXPECT_EQ(j.at("peak_ops").at("int8").at("unit"), "TOP/s");
  EXPECT_EQ(j.at("launch_overhead_s"), json({{"value", 5.0}, {"unit", "us"}, {"source", "assumption"}}));
}

TEST(DeviceJson, MatrixEfficiencyRoundTrips) {
  Device d = cpu_device();
  d.matrix_efficiency["fp32"] = {0.96, "measured"};
  const json j = device_to_json(d);
  EXPECT_EQ(j.at("matrix_efficiency").at("fp32"), json({{"value", 0.96}, {"source", "measured"}}));
  const Device back = device_from_json(j, "d.json");
  EXPECT_DOUBLE_EQ(back.matrix_efficiency.at("fp32").value, 0.96);
  EXPECT_EQ(back.matrix_efficiency.at("fp32").source, "measured");
}

TEST(DeviceJson, MalformedFilesNameTheFileAndTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([1, 2])", "(top level)"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "memroy_bytes": 5})", "'memroy_bytes': unknown field"},
      {R"({"peak_ops": {"fp32": 1}})", "'kind': missing"},
      {R"({"kind": "tpu", "peak_ops": {"fp32": 1}})", "'kind': 'tpu' is not one of"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": "fast"}})", "'peak_ops.fp32': expected a number or an object"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": {"value": -3, "unit": "TFLOP/s"}}})",
       "'peak_ops.fp32.value': must not be negative"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": {"value": 3, "unit": "GB/s"}}})", "'peak_ops.fp32.unit': 'GB/s'"},
      {R"({"kind": "gpu", "peak_ops": {"fp12": 3}})", "'peak_ops.fp12': unknown field"},
      {R"({"kind": "gpu", "peak_ops": {}})", "'peak_ops': no known peak"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "caches": {}})", "'caches': expected an array"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "caches": [{"level": 0}]})", "'caches[0].level'"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "cores": 1.5})", "'cores': expected a whole number"},
      {R"({"kind": "systolic", "systolic": {"rows": 0, "cols": 8, "clock": 1e9}})", "'systolic.rows'"},
      {R"({"kind": "systolic", "systolic": {"rows": 8, "cols": 8}})", "'systolic.clock': missing"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "isa": "avx"})", "'isa': expected an array"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "matrix_efficiency": {"fp32": 1.5}})",
       "'matrix_efficiency.fp32': must be a fraction"},
      {R"({"kind": "gpu", "peak_ops": {"fp32": 1}, "energy": {"mac_pj": {"int8": -1}}})",
       "'energy.mac_pj.int8': must not be negative"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    const std::string message = parse_error(text);
    EXPECT_EQ(message.rfind("bad.json: field ", 0), 0u) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

class DeviceFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("infera_device_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string load_error(const std::string& path) {
    try {
      load_device(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::filesystem::path dir_;
};

TEST_F(DeviceFiles, LoadsAUserFileAndNamesItAfterTheFile) {
  const std::string path = write("my-npu.json", R"({"kind": "asic", "peak_ops": {"int8": {"value": 50, "unit": "TOP/s"}}})");
  const Device d = load_device(path);
  EXPECT_EQ(d.id, "my-npu");
  EXPECT_EQ(d.file, path);
  EXPECT_DOUBLE_EQ(d.peak("int8"), 50e12);
}

TEST_F(DeviceFiles, BadFilesGiveOneLineErrorsNamingThePath) {
  const std::string syntax = write("syntax.json", "{\"kind\": \"gpu\",");
  EXPECT_NE(load_error(syntax).find(syntax + ": not valid JSON"), std::string::npos);
  const std::string missing = (dir_ / "missing.json").string();
  EXPECT_NE(load_error(missing).find("unknown device '" + missing + "'"), std::string::npos);
  EXPECT_NE(load_error(dir_.string()).find("is a directory"), std::string::npos);
  EXPECT_NE(load_error("no-such-gpu").find("a100"), std::string::npos);  // lists the catalog
}

TEST_F(DeviceFiles, ThisComesFromTheCacheUnderXdgCacheHome) {
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
  EXPECT_EQ(this_device_cache_path(), (dir_ / "infera" / "this.json").string());
  write_this_device_cache(cpu_device());
  const Device d = load_device("this");
  EXPECT_EQ(d.id, "this");
  EXPECT_DOUBLE_EQ(d.peak("fp32", 1), 120e9);
  if (old) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else unsetenv("XDG_CACHE_HOME");
}

// Not a timing target (the machine is shared): the numbers must only be plausible for a CPU.
TEST(DeviceProbe, MeasuresPlausiblePeaksAndBandwidth) {
  ProbeOptions options;
  options.seconds_per_loop = 0.02;
  const Device d = probe_this_device(options);
  EXPECT_EQ(d.kind, "cpu");
  EXPECT_GE(d.cores, 1);
  ASSERT_TRUE(d.peak_ops_per_core.count("fp32"));
  const double fp32_core = d.peak_ops_per_core.at("fp32").value;
  EXPECT_GE(fp32_core, 10e9);
  EXPECT_LE(fp32_core, 1000e9);
  EXPECT_EQ(d.peak_ops.at("fp32").source.rfind("measured: infera device probe ", 0), 0u);
  const bool vnni = std::count(d.isa.begin(), d.isa.end(), "avx512_vnni") + std::count(d.isa.begin(), d.isa.end(), "avx_vnni") > 0;
  if (vnni) {
    EXPECT_GE(d.peak_ops_per_core.at("int8").value, 2 * fp32_core);
  }
  EXPECT_GT(d.memory_bandwidth.value, 1e9);
  EXPECT_GT(d.memory_bandwidth_per_core.value, 1e9);
  EXPECT_GT(d.memory_copy_bandwidth.value, 1e9);
  EXPECT_GT(d.launch_overhead_s.value, 0);
  ASSERT_TRUE(d.matrix_efficiency.count("fp32"));
  EXPECT_GT(d.matrix_efficiency.at("fp32").value, 0);
  EXPECT_LE(d.matrix_efficiency.at("fp32").value, 1);
  for (const CacheLevel& c : d.caches) {
    EXPECT_GT(c.bytes.value, 0);
    EXPECT_GT(c.bandwidth.value, 1e9) << "L" << c.level;
  }
  // What the probe writes is a valid device file.
  EXPECT_NO_THROW(device_from_json(device_to_json(d), "this.json"));
}

}  // namespace
}  // namespace infera
