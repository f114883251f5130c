#include "analysis/energy.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/sourced_json.h"

namespace infera {

namespace {

constexpr double kReferenceNm = 45;

// Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 0.9 V (../shared/HARDWARE.md). A MAC is a multiply
// plus an add at the accumulator's width:
//   int8: 0.2 (8-bit multiply) + 0.1 (32-bit add)   fp16: 1.1 + 0.4   fp32: 3.7 + 0.9.
// Entries the paper does not give are derived, and the source string says so:
//   bf16: as fp16 (a 8-bit-mantissa multiplier is smaller than fp16's 11-bit one, so this errs high);
//   tf32: fp16's multiply (both 11-bit mantissas) + fp32 add = 2.0;
//   fp8: an 8-bit multiply (0.2; e4m3's 4-bit mantissa product is smaller still) + fp16 add (0.4) = 0.6;
//   int4: multiplier energy ~ bits^2, 0.2 x (4/8)^2 = 0.05, + 32-bit add (0.1) = 0.15.
const std::map<std::string, double> kMacPj45 = {{"fp32", 4.6}, {"tf32", 2.0}, {"fp16", 1.5}, {"bf16", 1.5},
                                                {"fp8", 0.6},  {"int8", 0.3}, {"int4", 0.15}};
// Non-MAC arithmetic (elementwise ops, reductions): one add at the precision's width; fp8 and int4 elementwise
// work is assumed to run on fp16 and 8-bit datapaths.
const std::map<std::string, double> kAddPj45 = {{"fp32", 0.9}, {"tf32", 0.9}, {"fp16", 0.4}, {"bf16", 0.4},
                                                {"fp8", 0.4},  {"int8", 0.03}, {"int4", 0.03}};
// SRAM, 64-bit reads: 32 KB array 20 pJ -> 2.5 pJ/B (L1-sized); 1 MB array 100 pJ -> 12.5 pJ/B (L2-sized).
constexpr double kSramSmallPjPerByte45 = 20.0 / 8;
constexpr double kSramLargePjPerByte45 = 100.0 / 8;
// DRAM, 64-bit access: 1300-2600 pJ; the midpoint, 1950 pJ -> 243.75 pJ/B. HBM is cheaper per bit: device files
// with HBM override it in their "energy" block.
constexpr double kDramPjPerByte = 1950.0 / 8;

// Scaling exponents, energy ∝ (node / 45 nm)^alpha. Logic: alpha = 0.54 makes 45 -> 7 nm 2.73x less, inside the
// 2.5-3x quoted for logic. SRAM: alpha = 0.2 (45 -> 7 nm 1.45x less), an assumption for "SRAM falls little"
// (bit-cell and wire energy scale weakly with voltage stalled near 0.7-0.8 V). DRAM: not scaled (the energy is in
// the interface and the DRAM array, not in the compute die's node).
constexpr double kLogicAlpha = 0.54;
constexpr double kSramAlpha = 0.2;

const std::vector<std::string> kPrecisions = {"fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"};

std::map<std::string, double> scaled(const std::map<std::string, double>& table, double factor) {
  std::map<std::string, double> out;
  for (const auto& [key, pj] : table) out[key] = pj * factor;
  return out;
}

// The table's entry for a precision, or fp32's for one it lacks (fp64, int32 indices, bool masks).
std::pair<std::string, double> entry(const std::map<std::string, double>& table, const std::string& precision) {
  const std::string key = precision_key(precision);
  const auto it = table.find(key);
  if (it != table.end()) return *it;
  const auto fp32 = table.find("fp32");
  return {"fp32 (no " + (key.empty() ? precision : key) + " entry)", fp32 != table.end() ? fp32->second : 0};
}

}  // namespace

EnergyTable reference_energy_table(double process_nm) {
  const double nm = process_nm > 0 ? process_nm : kReferenceNm;
  const double logic = std::pow(nm / kReferenceNm, kLogicAlpha), sram = std::pow(nm / kReferenceNm, kSramAlpha);
  EnergyTable t;
  t.process_nm = nm;
  t.source = "Horowitz ISSCC 2014 45 nm (../shared/HARDWARE.md); bf16/tf32/fp8/int4 MACs derived (devices/README.md)";
  if (nm != kReferenceNm)
    t.source += "; scaled to " + std::to_string(static_cast<int>(std::lround(nm))) +
                " nm: logic x (nm/45)^0.54, SRAM x (nm/45)^0.2, DRAM unscaled";
  if (process_nm <= 0) t.source += "; process node unknown: 45 nm assumed";
  t.mac_pj = scaled(kMacPj45, logic);
  t.add_pj = scaled(kAddPj45, logic);
  t.sram_small_pj_per_byte = kSramSmallPjPerByte45 * sram;
  t.sram_large_pj_per_byte = kSramLargePjPerByte45 * sram;
  t.dram_pj_per_byte = kDramPjPerByte;
  return t;
}

EnergyTable energy_table_from_json(const nlohmann::json& j, const std::string& file) {
  const FieldReader r(j, file, "energy");
  r.only({"process_nm", "source", "mac_pj", "add_pj", "sram_small_pj_per_byte", "sram_large_pj_per_byte",
          "dram_pj_per_byte"});
  const double nm = r.number("process_nm", kReferenceNm);
  if (nm <= 0) r.fail("process_nm", "must be positive");
  EnergyTable t = reference_energy_table(nm);
  const std::map<std::string, double> macs = r.numbers("mac_pj", kPrecisions), adds = r.numbers("add_pj", kPrecisions);
  for (const auto& [key, pj] : macs) t.mac_pj[key] = pj;
  for (const auto& [key, pj] : adds) t.add_pj[key] = pj;
  t.sram_small_pj_per_byte = r.number("sram_small_pj_per_byte", t.sram_small_pj_per_byte);
  t.sram_large_pj_per_byte = r.number("sram_large_pj_per_byte", t.sram_large_pj_per_byte);
  t.dram_pj_per_byte = r.number("dram_pj_per_byte", t.dram_pj_per_byte);
  // The reference is named as a source only when some entry still comes from it.
  const bool complete = macs.size() == kPrecisions.size() && adds.size() == kPrecisions.size() &&
                        r.has("sram_small_pj_per_byte") && r.has("sram_large_pj_per_byte") && r.has("dram_pj_per_byte");
  const std::string own = r.string("source");
  if (complete) t.source = own;
  else if (!own.empty()) t.source = own + "; other entries: " + t.source;
  return t;
}

nlohmann::json energy_table_to_json(const EnergyTable& t) {
  return {{"process_nm", t.process_nm},
          {"source", t.source},
          {"mac_pj", t.mac_pj},
          {"add_pj", t.add_pj},
          {"sram_small_pj_per_byte", t.sram_small_pj_per_byte},
          {"sram_large_pj_per_byte", t.sram_large_pj_per_byte},
          {"dram_pj_per_byte", t.dram_pj_per_byte}};
}

EnergyTable energy_table_for(const Device& device) {
  return device.energy ? *device.energy : reference_energy_table(device.process_nm.value);
}

nlohmann::json LayerEnergy::inputs() const {
  return {{"precision", precision},
          {"table_source", table_source},
          {"macs", macs},
          {"mac_pj", mac_pj},
          {"other_ops", other_ops},
          {"op_pj", op_pj},
          {"onchip_bytes", onchip_bytes},
          {"onchip_pj_per_byte", onchip_pj_per_byte},
          {"dram_bytes", dram_bytes},
          {"dram_pj_per_byte", dram_pj_per_byte},
          {"compute_j", compute_j},
          {"onchip_j", onchip_j},
          {"dram_j", dram_j},
          {"total_j", total_j()}};
}

LayerEnergy estimate_energy(const LayerProfile& layer, const EnergyTable& table, double dram_bytes) {
  constexpr double kJoulesPerPicojoule = 1e-12;
  LayerEnergy e;
  e.table_source = table.source;
  const auto [mac_key, mac_pj] = entry(table.mac_pj, layer.precision);
  e.precision = mac_key;
  e.mac_pj = mac_pj;
  e.op_pj = entry(table.add_pj, layer.precision).second;
  // A matrix product's FLOPs are 2 per MAC; whatever the op counts beyond its MACs (bias, activation) is other work.
  const double flops = std::max(layer.flops, 0.0);
  if (layer.matrix.defined()) {
    const MatrixShape& m = layer.matrix;
    e.macs = std::min(double(m.batch) * double(m.m) * double(m.n) * double(m.k), flops / 2);
  }
  e.other_ops = flops - 2 * e.macs;
  // Every byte read or written passes once through a large on-chip array (L2, scratchpad) and a small one (L1,
  // register file); reuse inside the matrix unit is part of the MAC's energy.
  e.onchip_bytes = std::max(layer.bytes_read, 0.0) + std::max(layer.bytes_written, 0.0);
  e.onchip_pj_per_byte = table.sram_large_pj_per_byte + table.sram_small_pj_per_byte;
  e.dram_bytes = std::max(dram_bytes, 0.0);
  e.dram_pj_per_byte = table.dram_pj_per_byte;
  e.compute_j = (e.macs * e.mac_pj + e.other_ops * e.op_pj) * kJoulesPerPicojoule;
  e.onchip_j = e.onchip_bytes * e.onchip_pj_per_byte * kJoulesPerPicojoule;
  e.dram_j = e.dram_bytes * e.dram_pj_per_byte * kJoulesPerPicojoule;
  return e;
}

double default_dram_bytes(const LayerProfile& layer, double onchip_bytes) {
  const double weights = std::max(layer.weight_bytes, 0.0);
  const double activations = std::max(layer.bytes_read - weights, 0.0) + std::max(layer.bytes_written, 0.0);
  return weights + (activations > onchip_bytes ? activations : 0);
}

}  // namespace infera
