// Energy per inference from counts: arithmetic operations × energy per operation at the device's precision, plus
// bytes × energy per byte at each memory level. The per-operation and per-access energies are data: a table at a
// reference process node (Horowitz, ISSCC 2014, 45 nm), scaled to the device's node (logic scales, SRAM a little,
// DRAM not), or a table the user supplies. Every estimate carries the numbers it came from.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "analysis/device.h"
#include "analysis/energy_table.h"
#include "infera/profile.h"

namespace infera {

// Horowitz's 45 nm table (from ../shared/HARDWARE.md), scaled to `process_nm`.
EnergyTable reference_energy_table(double process_nm);
// A table from JSON ({"process_nm", "source", "mac_pj": {...}, "add_pj": {...}, "sram_small_pj_per_byte",
// "sram_large_pj_per_byte", "dram_pj_per_byte"}): fields it omits come from the reference table at its process_nm
// (default 45). Throws infera::Error naming the file and field.
EnergyTable energy_table_from_json(const nlohmann::json& j, const std::string& file);
nlohmann::json energy_table_to_json(const EnergyTable& table);
// The device's own table (its file's "energy" block) or the reference table at its process node (45 nm when the
// node is unknown).
EnergyTable energy_table_for(const Device& device);

struct LayerEnergy {
  double compute_j = 0, onchip_j = 0, dram_j = 0;
  double total_j() const { return compute_j + onchip_j + dram_j; }
  nlohmann::json inputs() const;  // the counts and per-unit energies used, for --json traceability
  // (implementation detail: the fields the json is made from)
  double macs = 0, other_ops = 0, onchip_bytes = 0, dram_bytes = 0;
  double mac_pj = 0, op_pj = 0, onchip_pj_per_byte = 0, dram_pj_per_byte = 0;
  std::string precision;     // the table entry used (a precision without one uses fp32's, and says so here)
  std::string table_source;  // where the per-unit energies came from
};

// dram_bytes: the bytes that miss on-chip memory (the caller's memory model decides; by default weights plus
// activations larger than the device's on-chip memory); every byte read or written also counts once on-chip.
LayerEnergy estimate_energy(const LayerProfile& layer, const EnergyTable& table, double dram_bytes);

// The default memory model for dram_bytes: the weights always come from DRAM (they are read once per inference
// and do not stay on chip across a model larger than the chip), the activations only when the layer's activations
// (read plus written) exceed `onchip_bytes`.
double default_dram_bytes(const LayerProfile& layer, double onchip_bytes);

}  // namespace infera
