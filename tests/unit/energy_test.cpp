#include "analysis/energy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "infera/error.h"

namespace infera {
namespace {

using nlohmann::json;

TEST(EnergyTable, ReferenceIsHorowitzAt45nm) {
  const EnergyTable t = reference_energy_table(45);
  EXPECT_DOUBLE_EQ(t.process_nm, 45);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("fp32"), 3.7 + 0.9);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("fp16"), 1.1 + 0.4);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("int8"), 0.2 + 0.1);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("bf16"), t.mac_pj.at("fp16"));
  for (const char* precision : {"fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"}) {
    EXPECT_GT(t.mac_pj.at(precision), 0) << precision;
    EXPECT_GT(t.add_pj.at(precision), 0) << precision;
  }
  EXPECT_LT(t.mac_pj.at("int4"), t.mac_pj.at("int8"));
  EXPECT_LT(t.mac_pj.at("fp8"), t.mac_pj.at("fp16"));
  EXPECT_DOUBLE_EQ(t.sram_small_pj_per_byte, 20.0 / 8);
  EXPECT_DOUBLE_EQ(t.sram_large_pj_per_byte, 100.0 / 8);
  EXPECT_DOUBLE_EQ(t.dram_pj_per_byte, 1950.0 / 8);  // midpoint of 1300-2600 pJ per 64 bits
  EXPECT_NE(t.source.find("Horowitz"), std::string::npos);
}

TEST(EnergyTable, ScalingTo7nmCutsLogicNearly3xAndLeavesDram) {
  const EnergyTable at45 = reference_energy_table(45), at7 = reference_energy_table(7);
  for (const char* precision : {"fp32", "fp16", "int8"}) {
    const double cut = at45.mac_pj.at(precision) / at7.mac_pj.at(precision);
    EXPECT_GE(cut, 2.5) << precision;
    EXPECT_LE(cut, 3.0) << precision;
  }
  const double sram_cut = at45.sram_large_pj_per_byte / at7.sram_large_pj_per_byte;
  EXPECT_GT(sram_cut, 1.0);
  EXPECT_LT(sram_cut, at45.mac_pj.at("fp32") / at7.mac_pj.at("fp32"));  // SRAM scales less than logic
  EXPECT_DOUBLE_EQ(at7.dram_pj_per_byte, at45.dram_pj_per_byte);
  EXPECT_NE(at7.source.find("scaled to 7 nm"), std::string::npos);
  // An unknown node uses the reference and says so.
  EXPECT_NE(reference_energy_table(0).source.find("unknown"), std::string::npos);
  EXPECT_DOUBLE_EQ(reference_energy_table(0).mac_pj.at("fp32"), 4.6);
}

LayerProfile conv_layer() {
  LayerProfile l;
  l.node = "conv1";
  l.op_type = "Conv";
  l.precision = "float32";
  l.matrix = {1, 100, 64, 27};      // 172,800 multiply-adds
  l.flops = 2 * 172800.0 + 6400;    // plus the bias: 6,400 adds
  l.bytes_read = 10000;
  l.weight_bytes = 6912;
  l.bytes_written = 25600;
  return l;
}

TEST(EstimateEnergy, MultipliesCountsByTheTable) {
  const EnergyTable t = reference_energy_table(45);
  const LayerEnergy e = estimate_energy(conv_layer(), t, 5000);
  EXPECT_EQ(e.precision, "fp32");
  EXPECT_DOUBLE_EQ(e.macs, 172800);
  EXPECT_DOUBLE_EQ(e.other_ops, 6400);
  EXPECT_NEAR(e.compute_j, (172800 * 4.6 + 6400 * 0.9) * 1e-12, 1e-18);
  EXPECT_DOUBLE_EQ(e.onchip_bytes, 35600);
  EXPECT_NEAR(e.onchip_j, 35600 * (12.5 + 2.5) * 1e-12, 1e-18);
  EXPECT_NEAR(e.dram_j, 5000 * 243.75 * 1e-12, 1e-18);
  EXPECT_DOUBLE_EQ(e.total_j(), e.compute_j + e.onchip_j + e.dram_j);
  const json inputs = e.inputs();
  EXPECT_DOUBLE_EQ(inputs.at("macs").get<double>(), 172800);
  EXPECT_DOUBLE_EQ(inputs.at("mac_pj").get<double>(), 4.6);
  EXPECT_DOUBLE_EQ(inputs.at("dram_bytes").get<double>(), 5000);
  EXPECT_DOUBLE_EQ(inputs.at("total_j").get<double>(), e.total_j());
  EXPECT_EQ(inputs.at("table_source").get<std::string>(), t.source);
}

TEST(EstimateEnergy, LowerPrecisionCostsLessAndOddTypesUseFp32) {
  const EnergyTable t = reference_energy_table(7);
  LayerProfile l = conv_layer();
  const double fp32 = estimate_energy(l, t, 0).compute_j;
  l.precision = "int8";
  EXPECT_LT(estimate_energy(l, t, 0).compute_j, fp32 / 10);
  l.precision = "int64";
  const LayerEnergy odd = estimate_energy(l, t, 0);
  EXPECT_DOUBLE_EQ(odd.compute_j, fp32);
  EXPECT_NE(odd.precision.find("fp32"), std::string::npos);
  // Elementwise work (no matrix) is all "other" operations.
  LayerProfile relu;
  relu.precision = "float32";
  relu.flops = 1000;
  const LayerEnergy r = estimate_energy(relu, t, 0);
  EXPECT_EQ(r.macs, 0);
  EXPECT_DOUBLE_EQ(r.other_ops, 1000);
}

TEST(EnergyTableJson, OverridesOnlyWhatItGives) {
  const json j = {{"process_nm", 7}, {"source", "HBM2 3.9 pJ/bit"}, {"dram_pj_per_byte", 31.2},
                  {"mac_pj", {{"int8", 0.05}}}};
  const EnergyTable t = energy_table_from_json(j, "dev.json");
  const EnergyTable ref = reference_energy_table(7);
  EXPECT_DOUBLE_EQ(t.dram_pj_per_byte, 31.2);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("int8"), 0.05);
  EXPECT_DOUBLE_EQ(t.mac_pj.at("fp16"), ref.mac_pj.at("fp16"));
  EXPECT_DOUBLE_EQ(t.sram_large_pj_per_byte, ref.sram_large_pj_per_byte);
  EXPECT_NE(t.source.find("HBM2 3.9 pJ/bit"), std::string::npos);
  EXPECT_NE(t.source.find("Horowitz"), std::string::npos);
  // Round trip.
  const EnergyTable back = energy_table_from_json(energy_table_to_json(t), "dev.json");
  EXPECT_EQ(energy_table_to_json(back).at("mac_pj"), energy_table_to_json(t).at("mac_pj"));
}

TEST(EnergyTableJson, MalformedTablesNameTheField) {
  const std::pair<json, const char*> cases[] = {
      {{{"mac_pj", {{"fp12", 1}}}}, "'energy.mac_pj.fp12': unknown field"},
      {{{"dram_pj_per_byte", -1}}, "'energy.dram_pj_per_byte': must not be negative"},
      {{{"process_nm", 0}}, "'energy.process_nm': must be positive"},
      {{{"sram_pj", 1}}, "'energy.sram_pj': unknown field"},
      {json::array(), "expected an object"},
  };
  for (const auto& [j, expected] : cases) {
    try {
      energy_table_from_json(j, "dev.json");
      ADD_FAILURE() << "no error for " << j.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("dev.json: ", 0), 0u) << e.what();
    }
  }
}

TEST(EnergyTableFor, UsesTheDevicesOwnBlockElseItsNode) {
  const EnergyTable a100 = energy_table_for(load_device("a100"));
  EXPECT_DOUBLE_EQ(a100.dram_pj_per_byte, 31.2);                                   // HBM, from the file
  EXPECT_DOUBLE_EQ(a100.mac_pj.at("fp16"), reference_energy_table(7).mac_pj.at("fp16"));  // the A100's 7 nm
  const EnergyTable t4 = energy_table_for(load_device("t4"));
  EXPECT_DOUBLE_EQ(t4.process_nm, 12);
  EXPECT_DOUBLE_EQ(t4.dram_pj_per_byte, reference_energy_table(45).dram_pj_per_byte);
  Device unknown_node;
  EXPECT_DOUBLE_EQ(energy_table_for(unknown_node).process_nm, 45);
}

TEST(DefaultDramBytes, WeightsAlwaysActivationsOnlyWhenTheyDoNotFit) {
  const LayerProfile l = conv_layer();  // activations: 3,088 read + 25,600 written
  EXPECT_DOUBLE_EQ(default_dram_bytes(l, 1e6), 6912);
  EXPECT_DOUBLE_EQ(default_dram_bytes(l, 1000), 6912 + 3088 + 25600);
}

}  // namespace
}  // namespace infera
