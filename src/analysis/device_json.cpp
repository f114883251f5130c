// Device files: JSON with every number as {"value", "unit", "source"} (devices/README.md describes the format).
// Reading is strict: an unknown field, a wrong type, a negative number or a unit of the wrong kind is an error
// naming the file and the field, because a typo in a hardware description silently skews every projection.
#include <cmath>

#include "analysis/device.h"
#include "analysis/energy.h"
#include "analysis/sourced_json.h"

namespace infera {

namespace {

using nlohmann::json;

const std::vector<std::string> kKinds = {"cpu", "gpu", "fpga", "asic", "systolic"};
const std::vector<std::string> kPrecisions = {"fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4"};
const std::vector<std::string> kDataflows = {"output-stationary", "weight-stationary", "input-stationary"};

// Known numbers, and unknown ones that say why ({"value": 0, "source": "unknown: not published"}).
void put(json& j, const char* field, const Sourced& s, Quantity quantity) {
  if (s.known() || !s.source.empty()) j[field] = sourced_json(s, quantity);
}

// {"fp32": number, ...} by precision: peaks (operations/s) or matrix-kernel efficiencies (fractions in (0, 1]).
json precision_map_json(const std::map<std::string, Sourced>& values, Quantity quantity) {
  json j = json::object();
  for (const auto& [precision, s] : values)
    if (s.known()) j[precision] = sourced_json(s, quantity, precision.rfind("int", 0) == 0);
  return j;
}

std::map<std::string, Sourced> read_precision_map(const json& object, const std::string& file, const std::string& path,
                                                  Quantity quantity) {
  FieldReader r(object, file, path);
  r.only(kPrecisions);
  std::map<std::string, Sourced> values;
  for (const std::string& precision : kPrecisions) {
    if (!r.has(precision)) continue;
    const Sourced s = r.sourced(precision, quantity);
    if (quantity == Quantity::count && !(s.value > 0 && s.value <= 1)) r.fail(precision, "must be a fraction in (0, 1]");
    values[precision] = s;
  }
  return values;
}

std::vector<CacheLevel> read_caches(const FieldReader& device, const std::string& file) {
  std::vector<CacheLevel> caches;
  if (!device.has("caches")) return caches;
  const json& list = device.at("caches");
  if (!list.is_array()) device.fail("caches", std::string("expected an array, got ") + list.type_name());
  for (size_t i = 0; i < list.size(); ++i) {
    FieldReader r(list[i], file, "caches[" + std::to_string(i) + "]");
    r.only({"level", "bytes", "shared_by", "bandwidth"});
    CacheLevel c;
    c.level = r.integer("level");
    if (c.level < 1) r.fail("level", "must be 1 or more");
    c.bytes = r.sourced("bytes", Quantity::bytes);
    c.shared_by = r.integer("shared_by", 1);
    if (c.shared_by < 1) r.fail("shared_by", "must be 1 or more");
    c.bandwidth = r.sourced("bandwidth", Quantity::bytes_per_s);
    caches.push_back(c);
  }
  return caches;
}

SystolicArray read_systolic(const FieldReader& device, const std::string& file) {
  FieldReader r(device.at("systolic"), file, "systolic");
  r.only({"rows", "cols", "count", "clock", "dataflow", "precision", "source"});
  SystolicArray a;
  a.rows = r.integer("rows");
  a.cols = r.integer("cols");
  a.count = r.integer("count", 1);
  for (const char* field : {"rows", "cols", "count"})
    if (r.integer(field, 1) < 1) r.fail(field, "must be 1 or more");
  a.clock_hz = r.sourced("clock", Quantity::hertz).value;
  if (a.clock_hz <= 0) r.fail("clock", "missing or zero");
  a.dataflow = r.one_of("dataflow", kDataflows, a.dataflow);
  a.precision = r.one_of("precision", kPrecisions, a.precision);
  a.source = r.string("source");
  return a;
}

// The file's "energy" block overrides the reference table; its process node defaults to the device's.
EnergyTable read_energy(const FieldReader& device, const std::string& file, const Sourced& process_nm) {
  json block = device.at("energy");
  if (block.is_object() && !block.contains("process_nm") && process_nm.known()) block["process_nm"] = process_nm.value;
  return energy_table_from_json(block, file);
}

std::string file_stem(const std::string& file) {
  std::string name = file.substr(file.find_last_of('/') + 1);
  if (name.rfind("catalog:", 0) == 0) name = name.substr(8);
  const size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace

Device device_from_json(const json& j, const std::string& file) {
  FieldReader r(j, file, "");
  r.only({"id", "display_name", "kind", "notes", "peak_ops", "peak_ops_per_core", "cores", "memory_bytes",
          "memory_bandwidth", "memory_copy_bandwidth", "memory_bandwidth_per_core", "onchip_bytes",
          "onchip_bandwidth", "caches", "tdp_watts", "process_nm", "price_usd", "price_per_hour_usd",
          "launch_overhead_s", "matrix_efficiency", "interconnect", "interconnect_bandwidth", "systolic", "isa",
          "energy"});
  Device d;
  d.file = file;
  d.id = r.string("id", file_stem(file));
  d.display_name = r.string("display_name", d.id);
  if (!r.has("kind")) r.fail("kind", "missing (one of " + joined(kKinds) + ")");
  d.kind = r.one_of("kind", kKinds, "");
  d.notes = r.string("notes");
  if (r.has("peak_ops")) d.peak_ops = read_precision_map(r.at("peak_ops"), file, "peak_ops", Quantity::ops_per_s);
  if (r.has("peak_ops_per_core"))
    d.peak_ops_per_core = read_precision_map(r.at("peak_ops_per_core"), file, "peak_ops_per_core", Quantity::ops_per_s);
  const Sourced cores = r.sourced("cores", Quantity::count);
  if (cores.value != std::floor(cores.value) || cores.value > 1e7) r.fail("cores", "expected a whole number");
  d.cores = static_cast<int>(cores.value);
  d.cores_source = cores.source;
  d.memory_bytes = r.sourced("memory_bytes", Quantity::bytes);
  d.memory_bandwidth = r.sourced("memory_bandwidth", Quantity::bytes_per_s);
  d.memory_copy_bandwidth = r.sourced("memory_copy_bandwidth", Quantity::bytes_per_s);
  d.memory_bandwidth_per_core = r.sourced("memory_bandwidth_per_core", Quantity::bytes_per_s);
  d.onchip_bytes = r.sourced("onchip_bytes", Quantity::bytes);
  d.onchip_bandwidth = r.sourced("onchip_bandwidth", Quantity::bytes_per_s);
  d.caches = read_caches(r, file);
  d.tdp_watts = r.sourced("tdp_watts", Quantity::watts);
  d.process_nm = r.sourced("process_nm", Quantity::nm);
  d.price_usd = r.sourced("price_usd", Quantity::usd);
  d.price_per_hour_usd = r.sourced("price_per_hour_usd", Quantity::usd_per_hour);
  d.launch_overhead_s = r.sourced("launch_overhead_s", Quantity::seconds);
  if (r.has("matrix_efficiency"))
    d.matrix_efficiency = read_precision_map(r.at("matrix_efficiency"), file, "matrix_efficiency", Quantity::count);
  d.interconnect = r.string("interconnect");
  d.interconnect_bandwidth = r.sourced("interconnect_bandwidth", Quantity::bytes_per_s);
  d.isa = r.strings("isa");
  if (r.has("systolic")) {
    d.systolic = read_systolic(r, file);
    Sourced& derived = d.peak_ops[d.systolic->precision];
    if (!derived.known())
      derived = {d.systolic->peak_ops(), "derived: 2 x rows x cols x count x clock of the systolic block"};
  }
  if (r.has("energy")) d.energy = read_energy(r, file, d.process_nm);
  bool any_peak = false;
  for (const auto& [precision, s] : d.peak_ops) any_peak = any_peak || s.known();
  if (!any_peak) r.fail("peak_ops", "no known peak: give at least one precision's dense peak (or a systolic block)");
  return d;
}

json device_to_json(const Device& d) {
  json j;
  j["id"] = d.id;
  j["display_name"] = d.display_name;
  j["kind"] = d.kind;
  if (!d.notes.empty()) j["notes"] = d.notes;
  j["peak_ops"] = precision_map_json(d.peak_ops, Quantity::ops_per_s);
  if (!d.peak_ops_per_core.empty()) j["peak_ops_per_core"] = precision_map_json(d.peak_ops_per_core, Quantity::ops_per_s);
  if (d.cores > 0) j["cores"] = sourced_json({double(d.cores), d.cores_source}, Quantity::count);
  put(j, "memory_bytes", d.memory_bytes, Quantity::bytes);
  put(j, "memory_bandwidth", d.memory_bandwidth, Quantity::bytes_per_s);
  put(j, "memory_copy_bandwidth", d.memory_copy_bandwidth, Quantity::bytes_per_s);
  put(j, "memory_bandwidth_per_core", d.memory_bandwidth_per_core, Quantity::bytes_per_s);
  put(j, "onchip_bytes", d.onchip_bytes, Quantity::bytes);
  put(j, "onchip_bandwidth", d.onchip_bandwidth, Quantity::bytes_per_s);
  if (!d.caches.empty()) {
    j["caches"] = json::array();
    for (const CacheLevel& c : d.caches) {
      json level = {{"level", c.level}, {"shared_by", c.shared_by}};
      put(level, "bytes", c.bytes, Quantity::bytes);
      put(level, "bandwidth", c.bandwidth, Quantity::bytes_per_s);
      j["caches"].push_back(level);
    }
  }
  put(j, "tdp_watts", d.tdp_watts, Quantity::watts);
  put(j, "process_nm", d.process_nm, Quantity::nm);
  put(j, "price_usd", d.price_usd, Quantity::usd);
  put(j, "price_per_hour_usd", d.price_per_hour_usd, Quantity::usd_per_hour);
  put(j, "launch_overhead_s", d.launch_overhead_s, Quantity::seconds);
  if (!d.matrix_efficiency.empty()) j["matrix_efficiency"] = precision_map_json(d.matrix_efficiency, Quantity::count);
  if (!d.interconnect.empty()) j["interconnect"] = d.interconnect;
  put(j, "interconnect_bandwidth", d.interconnect_bandwidth, Quantity::bytes_per_s);
  if (d.systolic) {
    const SystolicArray& a = *d.systolic;
    j["systolic"] = {{"rows", a.rows},
                     {"cols", a.cols},
                     {"count", a.count},
                     {"clock", sourced_json({a.clock_hz, ""}, Quantity::hertz)},
                     {"dataflow", a.dataflow},
                     {"precision", a.precision}};
    if (!a.source.empty()) j["systolic"]["source"] = a.source;
  }
  if (!d.isa.empty()) j["isa"] = d.isa;
  if (d.energy) j["energy"] = energy_table_to_json(*d.energy);
  return j;
}

}  // namespace infera
