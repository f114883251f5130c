#include "analysis/roofline.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/chrome_trace.h"
#include "analysis/html_report.h"
#include "infera/error.h"

namespace infera {
namespace {

// Round numbers: fp32 peak 1 TFLOP/s, int8 4 TOP/s, DRAM 100 GB/s (ridge at 10 FLOP/byte), 1 MB on chip.
Device test_device() {
  Device d;
  d.id = "test";
  d.display_name = "Test <accelerator>";
  d.kind = "gpu";
  d.peak_ops["fp32"] = {1e12, "test fp32"};
  d.peak_ops["int8"] = {4e12, "test int8"};
  d.memory_bandwidth = {1e11, "test dram"};
  d.onchip_bytes = {1e6, "test sram"};
  return d;
}

LayerProfile layer(const std::string& node, double flops, double bytes_read, double weight_bytes, double us) {
  LayerProfile l;
  l.node = node;
  l.op_type = "Conv";
  l.backend = "cpu";
  l.kernel = "test";
  l.precision = "float32";
  l.flops = flops;
  l.bytes_read = bytes_read;
  l.weight_bytes = weight_bytes;
  l.duration_us = us;
  return l;
}

RunProfile run_of(std::vector<LayerProfile> layers) {
  RunProfile p;
  p.model = "test.onnx";
  p.threads = 1;
  double t = 0;
  for (LayerProfile& l : layers) {
    l.start_us = t;
    t += l.duration_us;
  }
  p.total_us = t;
  p.layers = std::move(layers);
  return p;
}

RooflineReport analyze(const std::vector<LayerProfile>& layers, const Device& device = test_device()) {
  return analyze_roofline({run_of(layers)}, device, reference_energy_table(45));
}

TEST(Roofline, ComputeBoundStepAtHalfThePeak) {
  // 1 GFLOP on 1 MB (intensity 1000): 1000 µs at peak; the activations fit on chip, so no DRAM time.
  RooflineReport r = analyze({layer("conv", 1e9, 1e6, 0, 2000)});
  const LayerRoofline& l = r.layers[0];
  EXPECT_DOUBLE_EQ(l.intensity, 1000);
  EXPECT_DOUBLE_EQ(l.compute_us, 1000);
  EXPECT_DOUBLE_EQ(l.memory_us, 0);
  EXPECT_DOUBLE_EQ(l.dram_bytes, 0);
  EXPECT_NEAR(l.gflops_per_s, 500, 1e-9);
  EXPECT_NEAR(l.percent_of_peak, 50, 1e-9);
  EXPECT_NEAR(l.percent_of_roofline, 50, 1e-9);
  EXPECT_EQ(l.bound, Bound::Compute);
  EXPECT_EQ(l.peak_precision, "fp32");
  EXPECT_EQ(l.peak_source, "test fp32");
}

TEST(Roofline, MemoryBoundStepReadsItsWeightsFromDram) {
  // 100 MB of weights at 100 GB/s: 1000 µs; its 1 MFLOP would take 1 µs.
  RooflineReport r = analyze({layer("fc", 1e6, 1e8, 1e8, 1250)});
  const LayerRoofline& l = r.layers[0];
  EXPECT_DOUBLE_EQ(l.dram_bytes, 1e8);
  EXPECT_NEAR(l.memory_us, 1000, 1e-9);
  EXPECT_NEAR(l.compute_us, 1, 1e-12);
  EXPECT_NEAR(l.gbytes_per_s, 80, 1e-9);
  EXPECT_NEAR(l.percent_of_peak, 0.08, 1e-12);
  EXPECT_EQ(l.bound, Bound::Memory);
  EXPECT_GT(l.energy.dram_j, 0);
}

TEST(Roofline, WeightsThatFitOnChipStayThereBetweenRuns) {
  // 0.4 MB of weights in all: under half of the 1 MB on chip.
  RooflineReport r = analyze({layer("a", 1e6, 3e5, 2e5, 10), layer("b", 1e6, 3e5, 2e5, 10)});
  EXPECT_TRUE(r.weights_on_chip);
  EXPECT_DOUBLE_EQ(r.layers[0].dram_bytes, 0);
  RooflineReport big = analyze({layer("a", 1e6, 7e5, 6e5, 10)});
  EXPECT_FALSE(big.weights_on_chip);
  EXPECT_DOUBLE_EQ(big.layers[0].dram_bytes, 6e5);
}

TEST(Roofline, ActivationsLargerThanTheChipGoToDram) {
  RooflineReport r = analyze({layer("big", 1e6, 4e6, 0, 100)});
  EXPECT_DOUBLE_EQ(r.layers[0].dram_bytes, 4e6);
  EXPECT_NEAR(r.layers[0].memory_us, 40, 1e-9);
}

TEST(Roofline, StepFarUnderBothCeilingsIsOverhead) {
  // 1 kFLOP and 1 kB: nanoseconds on the roofline, 50 µs measured.
  RooflineReport r = analyze({layer("tiny", 1e3, 1e3, 0, 50)});
  EXPECT_EQ(r.layers[0].bound, Bound::Overhead);
  // The factor is the rule: at 10x the roofline's time a step is still bound by its ceiling.
  RooflineReport just = analyze({layer("conv", 1e9, 1e6, 0, 9999)});
  EXPECT_EQ(just.layers[0].bound, Bound::Compute);
  RooflineReport beyond = analyze({layer("conv", 1e9, 1e6, 0, 10001)});
  EXPECT_EQ(beyond.layers[0].bound, Bound::Overhead);
}

TEST(Roofline, StepWithoutWorkIsOverhead) {
  EXPECT_EQ(analyze({layer("view", 0, 0, 0, 0)}).layers[0].bound, Bound::Overhead);
}

TEST(Roofline, UnknownCostIsNotClassified) {
  LayerProfile l = layer("dynamic", 0, 0, 0, 10);
  l.cost_known = false;
  EXPECT_EQ(analyze({l}).layers[0].bound, Bound::Unknown);
  EXPECT_EQ(bound_name(Bound::Unknown), "unknown");
}

TEST(Roofline, PrecisionPicksItsOwnPeak) {
  LayerProfile l = layer("qconv", 4e9, 1e6, 0, 2000);
  l.precision = "uint8";
  const LayerRoofline r = analyze({l}).layers[0];
  EXPECT_EQ(r.peak_precision, "int8");
  EXPECT_DOUBLE_EQ(r.peak_flops_per_s, 4e12);
  EXPECT_NEAR(r.percent_of_peak, 50, 1e-9);
}

TEST(Roofline, CpuPeakScalesWithTheRunsThreads) {
  Device cpu = test_device();
  cpu.kind = "cpu";
  cpu.cores = 4;
  RooflineReport r = analyze({layer("conv", 1e9, 1e6, 0, 4000)}, cpu);  // run_of: 1 thread
  EXPECT_DOUBLE_EQ(r.layers[0].peak_flops_per_s, 0.25e12);
  EXPECT_EQ(r.layers[0].peak_source, "1 of 4 cores: test fp32");
  EXPECT_NEAR(r.layers[0].percent_of_peak, 100, 1e-9);
}

TEST(Roofline, CpuBandwidthsScaleWithTheRunsThreads) {
  Device cpu = test_device();
  cpu.kind = "cpu";
  cpu.cores = 4;
  cpu.memory_bandwidth_per_core = {3e10, "one core dram"};
  cpu.onchip_bandwidth = {4e11, "all cores llc"};
  cpu.caches.push_back({3, {32e6, "l3"}, 4, {1.5e11, "one core l3"}});
  cpu.caches.push_back({1, {48e3, "l1"}, 1, {2e11, "one core l1"}});
  MemoryCeilings one = memory_ceilings(cpu, 1);
  EXPECT_DOUBLE_EQ(one.dram_bandwidth, 3e10);
  EXPECT_DOUBLE_EQ(one.onchip_bandwidth, 1.5e11);  // the last level's, not L1's
  EXPECT_NE(one.onchip_bandwidth_source.find("one core l3"), std::string::npos);
  MemoryCeilings all = memory_ceilings(cpu, 0);
  EXPECT_DOUBLE_EQ(all.dram_bandwidth, 1e11);
  EXPECT_DOUBLE_EQ(all.onchip_bandwidth, 4e11);  // measured with all cores: below 4 x one core's
  EXPECT_EQ(all.onchip_bandwidth_source, "all cores llc");
}

TEST(Roofline, TotalsAddUpAndWeighPrecisionsByTheirPeaks) {
  LayerProfile q = layer("q", 4e9, 1e6, 0, 1000);  // at the int8 peak: 1000 µs
  q.precision = "int8";
  RooflineReport r = analyze({layer("a", 1e9, 1e6, 0, 1000), q, layer("tiny", 1e3, 1e3, 0, 2000)});
  const RooflineTotals& t = r.totals;
  EXPECT_DOUBLE_EQ(t.time_us, 4000);
  EXPECT_DOUBLE_EQ(t.steps_us, 4000);
  EXPECT_DOUBLE_EQ(t.flops, 5e9 + 1e3);
  // Both big steps ran at their peaks (1000 µs of ideal time each) in 4000 µs.
  EXPECT_NEAR(t.percent_of_peak, 50, 1e-3);
  EXPECT_DOUBLE_EQ(t.time_by_bound_us[static_cast<int>(Bound::Compute)], 2000);
  EXPECT_DOUBLE_EQ(t.time_by_bound_us[static_cast<int>(Bound::Overhead)], 2000);
  double shares = 0;
  for (const LayerRoofline& l : r.layers) shares += l.share;
  EXPECT_NEAR(shares, 1, 1e-12);
  EXPECT_NEAR(t.energy_j(), r.layers[0].energy.total_j() + r.layers[1].energy.total_j() + r.layers[2].energy.total_j(),
              1e-15);
  EXPECT_EQ(r.hotspots(2), (std::vector<size_t>{2, 0}));
}

TEST(Roofline, MedianOverRunsPerStep) {
  std::vector<RunProfile> runs;
  for (double us : {10.0, 30.0, 20.0}) runs.push_back(run_of({layer("a", 1, 1, 0, us), layer("b", 1, 1, 0, 100 - us)}));
  RunProfile m = median_profile(runs);
  EXPECT_DOUBLE_EQ(m.layers[0].duration_us, 20);
  EXPECT_DOUBLE_EQ(m.layers[1].duration_us, 80);
  EXPECT_DOUBLE_EQ(m.total_us, 100);
  runs.push_back(run_of({layer("a", 1, 1, 0, 1)}));
  EXPECT_THROW(median_profile(runs), Error);
  EXPECT_THROW(median_profile({}), Error);
}

TEST(Roofline, JsonCarriesTheInputsOfEachFigure) {
  nlohmann::json j = roofline_json(analyze({layer("conv", 1e9, 1e6, 0, 2000)}));
  EXPECT_EQ(j["layers"].size(), 1u);
  EXPECT_EQ(j["layers"][0]["bound"], "compute");
  EXPECT_EQ(j["layers"][0]["peak"]["source"], "test fp32");
  EXPECT_EQ(j["ceilings"]["dram_bandwidth_bytes_per_s"]["source"], "test dram");
  EXPECT_TRUE(j["layers"][0]["energy_j"]["inputs"].is_object());
  EXPECT_DOUBLE_EQ(j["totals"]["flops"].get<double>(), 1e9);
}

// Every opened element is closed in order (void elements and self-closing SVG elements aside).
bool balanced_tags(const std::string& html, std::string* problem) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link", "wbr"};
  std::vector<std::string> open;
  for (size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
    if (html.compare(pos, 2, "<!") == 0) continue;
    size_t end = html.find('>', pos);
    if (end == std::string::npos) return *problem = "unterminated tag", false;
    bool closing = html[pos + 1] == '/';
    size_t name_start = pos + (closing ? 2 : 1);
    size_t name_end = html.find_first_of(" \t\n/>", name_start);
    std::string name = html.substr(name_start, name_end - name_start);
    if (closing) {
      if (open.empty() || open.back() != name) return *problem = "</" + name + "> closes " + (open.empty() ? "nothing" : open.back()), false;
      open.pop_back();
    } else if (html[end - 1] != '/' && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) {
      open.push_back(name);
    }
  }
  if (!open.empty()) return *problem = "<" + open.back() + "> never closed", false;
  return true;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST(HtmlReport, WellFormedWithEscapedNamesAndOnePointPerStep) {
  LayerProfile hostile = layer("<script>alert(\"x\")</script>&'", 1e9, 1e6, 0, 2000);
  hostile.op_type = "My<Op>";
  LayerProfile view = layer("reshape", 0, 0, 0, 1);  // no FLOPs: off the log axes
  std::string html = roofline_html(analyze({hostile, layer("fc", 1e6, 1e8, 1e8, 1250), view}));
  std::string problem;
  EXPECT_TRUE(balanced_tags(html, &problem)) << problem;
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"), std::string::npos);
  EXPECT_NE(html.find("My&lt;Op&gt;"), std::string::npos);
  EXPECT_NE(html.find("Test &lt;accelerator&gt;"), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 1u);
  EXPECT_EQ(count(html, "<circle"), 2u);
  EXPECT_NE(html.find("1 step(s) without FLOPs"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // the SVG namespace is no fetch
}

TEST(HtmlReport, PrecisionsWithTheSamePeakShareOneCeilingLabel) {
  Device d = test_device();
  d.peak_ops["fp16"] = d.peak_ops["fp32"];
  LayerProfile half = layer("half", 1e9, 1e6, 0, 2000);
  half.precision = "float16";
  LayerProfile q = layer("q", 1e9, 1e6, 0, 2000);
  q.precision = "int8";
  std::string html = roofline_html(analyze({layer("full", 1e9, 1e6, 0, 2000), half, q}, d));
  EXPECT_NE(html.find("fp16/fp32 peak 1 TFLOP/s"), std::string::npos);
  EXPECT_NE(html.find("int8 peak 4 TOP/s"), std::string::npos);
}

TEST(HtmlReport, EmptyProfileStillRenders) {
  std::string html = roofline_html(analyze({}));
  std::string problem;
  EXPECT_TRUE(balanced_tags(html, &problem)) << problem;
  EXPECT_EQ(count(html, "<circle"), 0u);
}

TEST(HtmlReport, EscapeCoversMarkupQuotesAndControlCharacters) {
  EXPECT_EQ(html_escape("a<b>&\"c'\x01"), "a&lt;b&gt;&amp;&quot;c&#39;?");
}

TEST(ChromeTrace, OneCompleteEventPerStepWithConversionsApart) {
  LayerProfile conv = layer("conv", 1e9, 1e6, 5e5, 200);
  conv.matrix = {1, 3136, 64, 576};
  LayerProfile reorder = layer("conv_out", 0, 1e6, 0, 20);
  reorder.op_type = "LayoutToPlain";
  reorder.conversion = true;
  RunProfile p = run_of({conv, reorder, layer("\xff\xfe bad utf-8", 1, 1, 0, 5)});
  nlohmann::json trace = nlohmann::json::parse(chrome_trace(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  size_t layers = 0, conversions = 0;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] != "X" || e["cat"] == "run") continue;
    EXPECT_TRUE(e.contains("ts") && e.contains("dur") && e.contains("pid") && e.contains("tid"));
    (e["cat"] == "conversion" ? conversions : layers)++;
  }
  EXPECT_EQ(layers, 2u);
  EXPECT_EQ(conversions, 1u);
  const nlohmann::json& first = trace["traceEvents"][3];
  EXPECT_EQ(first["name"], "conv");
  EXPECT_DOUBLE_EQ(first["dur"].get<double>(), 200);
  EXPECT_EQ(first["args"]["matrix"]["k"], 576);
  EXPECT_DOUBLE_EQ(first["args"]["weight_bytes"].get<double>(), 5e5);
  EXPECT_DOUBLE_EQ(trace["traceEvents"][4]["ts"].get<double>(), 200);
  EXPECT_EQ(trace["displayTimeUnit"], "ms");
}

}  // namespace
}  // namespace infera
