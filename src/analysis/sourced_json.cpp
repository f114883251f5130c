#include "analysis/sourced_json.h"

#include <algorithm>
#include <cmath>

#include "infera/error.h"

namespace infera {

namespace {

using nlohmann::json;

struct Unit {
  const char* name;
  Quantity quantity;
  double factor;  // to the base unit
};

constexpr double kKi = 1024.0, kMi = kKi * kKi, kGi = kMi * kKi, kTi = kGi * kKi;

// FLOP/s and OP/s are synonyms: one multiply-add is 2 of either.
constexpr Unit kUnits[] = {
    {"OP/s", Quantity::ops_per_s, 1},      {"FLOP/s", Quantity::ops_per_s, 1},
    {"GOP/s", Quantity::ops_per_s, 1e9},   {"GFLOP/s", Quantity::ops_per_s, 1e9},
    {"TOP/s", Quantity::ops_per_s, 1e12},  {"TFLOP/s", Quantity::ops_per_s, 1e12},
    {"POP/s", Quantity::ops_per_s, 1e15},  {"PFLOP/s", Quantity::ops_per_s, 1e15},
    {"B", Quantity::bytes, 1},             {"KB", Quantity::bytes, 1e3},
    {"MB", Quantity::bytes, 1e6},          {"GB", Quantity::bytes, 1e9},
    {"TB", Quantity::bytes, 1e12},         {"KiB", Quantity::bytes, kKi},
    {"MiB", Quantity::bytes, kMi},         {"GiB", Quantity::bytes, kGi},
    {"TiB", Quantity::bytes, kTi},         {"B/s", Quantity::bytes_per_s, 1},
    {"MB/s", Quantity::bytes_per_s, 1e6},  {"GB/s", Quantity::bytes_per_s, 1e9},
    {"TB/s", Quantity::bytes_per_s, 1e12}, {"MiB/s", Quantity::bytes_per_s, kMi},
    {"GiB/s", Quantity::bytes_per_s, kGi}, {"W", Quantity::watts, 1},
    {"nm", Quantity::nm, 1},               {"USD", Quantity::usd, 1},
    {"USD/h", Quantity::usd_per_hour, 1},  {"s", Quantity::seconds, 1},
    {"ms", Quantity::seconds, 1e-3},       {"us", Quantity::seconds, 1e-6},
    {"ns", Quantity::seconds, 1e-9},       {"Hz", Quantity::hertz, 1},
    {"MHz", Quantity::hertz, 1e6},         {"GHz", Quantity::hertz, 1e9},
};

bool contains(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The unit a value reads best in: the largest of `candidates` that leaves a number ≥ 1 (else the smallest).
const Unit& display_unit(double value, Quantity quantity, const std::vector<std::string>& candidates) {
  const Unit* best = nullptr;
  for (const std::string& name : candidates)
    for (const Unit& u : kUnits)
      if (u.quantity == quantity && name == u.name &&
          (best == nullptr || (value >= u.factor && u.factor > best->factor)))
        best = &u;
  return *best;
}

// Binary units where they are exact (cache sizes, GiB of HBM), decimal ones otherwise (datasheet memory sizes).
std::vector<std::string> candidate_units(double value, Quantity quantity, bool integer_ops) {
  switch (quantity) {
    case Quantity::ops_per_s:
      return integer_ops ? std::vector<std::string>{"OP/s", "GOP/s", "TOP/s", "POP/s"}
                         : std::vector<std::string>{"FLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s"};
    case Quantity::bytes:
      // 16 GB is a multiple of 1024 too: binary only for whole KiB below 1 MiB, and whole MiB above.
      if (std::fmod(value, value < kMi ? kKi : kMi) == 0) return {"B", "KiB", "MiB", "GiB", "TiB"};
      return {"B", "KB", "MB", "GB", "TB"};
    case Quantity::bytes_per_s: return {"B/s", "MB/s", "GB/s", "TB/s"};
    case Quantity::watts: return {"W"};
    case Quantity::nm: return {"nm"};
    case Quantity::usd: return {"USD"};
    case Quantity::usd_per_hour: return {"USD/h"};
    case Quantity::seconds: return {"ns", "us", "ms", "s"};
    case Quantity::hertz: return {"Hz", "MHz", "GHz"};
    case Quantity::count: return {};
  }
  return {};
}

// 5 significant digits: a unit conversion that is exact stays exact (19.5e12 / 1e12 = 19.5), a measured
// 123.456789 GFLOP/s reads 123.46.
double tidy(double v) {
  if (v == 0) return 0;
  const double scale = std::pow(10.0, 5 - std::ceil(std::log10(std::fabs(v))));
  return std::round(v * scale) / scale;
}

}  // namespace

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

FieldReader::FieldReader(const json& object, const std::string& file, const std::string& path)
    : object_(object), file_(file), path_(path) {
  if (!object.is_object()) fail("", std::string("expected an object, got ") + object.type_name());
}

void FieldReader::fail(const std::string& field, const std::string& reason) const {
  const std::string where = field.empty() ? path_ : full(field);
  throw Error(file_ + ": field '" + (where.empty() ? std::string("(top level)") : where) + "': " + reason);
}

void FieldReader::only(const std::vector<std::string>& known) const {
  for (const auto& [key, value] : object_.items())
    if (!contains(known, key)) fail(key, "unknown field (known: " + joined(known) + ")");
}

std::string FieldReader::string(const std::string& field, const std::string& fallback) const {
  if (!has(field)) return fallback;
  const json& v = at(field);
  if (!v.is_string()) fail(field, std::string("expected a string, got ") + v.type_name());
  return v.get<std::string>();
}

std::string FieldReader::one_of(const std::string& field, const std::vector<std::string>& allowed,
                                const std::string& fallback) const {
  const std::string v = string(field, fallback);
  if (!contains(allowed, v)) fail(field, "'" + v + "' is not one of " + joined(allowed));
  return v;
}

double FieldReader::number(const std::string& field, double fallback) const {
  return has(field) ? checked_number(at(field), field) : fallback;
}

int FieldReader::integer(const std::string& field, int fallback) const {
  const double v = number(field, fallback);
  if (v != std::floor(v) || v > 1e9) fail(field, "expected a whole number below 1e9, got " + at(field).dump());
  return static_cast<int>(v);
}

std::vector<std::string> FieldReader::strings(const std::string& field) const {
  std::vector<std::string> out;
  if (!has(field)) return out;
  const json& v = at(field);
  if (!v.is_array()) fail(field, std::string("expected an array of strings, got ") + v.type_name());
  for (const json& item : v) {
    if (!item.is_string()) fail(field, std::string("expected an array of strings, holds a ") + item.type_name());
    out.push_back(item.get<std::string>());
  }
  return out;
}

Sourced FieldReader::sourced(const std::string& field, Quantity quantity) const {
  Sourced s;
  if (!has(field)) return s;
  const json& v = at(field);
  if (v.is_number()) {
    s.value = checked_number(v, field);
    return s;
  }
  if (!v.is_object())
    fail(field, std::string("expected a number or an object {\"value\", \"unit\", \"source\"}, got ") + v.type_name());
  const FieldReader r(v, file_, full(field));
  r.only({"value", "unit", "source"});
  if (!r.has("value")) r.fail("value", "missing");
  s.value = r.number("value") * r.unit_factor(quantity);
  s.source = r.string("source");
  return s;
}

std::map<std::string, double> FieldReader::numbers(const std::string& field,
                                                   const std::vector<std::string>& keys) const {
  std::map<std::string, double> out;
  if (!has(field)) return out;
  const FieldReader r(at(field), file_, full(field));
  r.only(keys);
  for (const std::string& key : keys)
    if (r.has(key)) out[key] = r.number(key);
  return out;
}

double FieldReader::checked_number(const json& v, const std::string& field) const {
  if (!v.is_number()) fail(field, std::string("expected a number, got ") + v.type_name());
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail(field, "not a finite number");
  if (d < 0) fail(field, "must not be negative, got " + v.dump());
  return d;
}

double FieldReader::unit_factor(Quantity quantity) const {
  if (!has("unit")) return 1;
  const std::string name = string("unit");
  std::vector<std::string> allowed;
  for (const Unit& u : kUnits) {
    if (u.quantity != quantity) continue;
    if (name == u.name) return u.factor;
    allowed.emplace_back(u.name);
  }
  if (quantity == Quantity::count && name.empty()) return 1;
  fail("unit", "'" + name + "' is not a unit of this field (use " +
                   (allowed.empty() ? std::string("no unit") : joined(allowed)) + ")");
}

json sourced_json(const Sourced& s, Quantity quantity, bool integer_ops) {
  json j;
  if (quantity == Quantity::count) {
    j["value"] = s.value;
  } else {
    const Unit& unit = display_unit(s.value, quantity, candidate_units(s.value, quantity, integer_ops));
    j["value"] = tidy(s.value / unit.factor);
    j["unit"] = unit.name;
  }
  if (!s.source.empty()) j["source"] = s.source;
  return j;
}

}  // namespace infera
