// Reading and writing the numbers of device and energy files: {"value", "unit", "source"} objects, checked field by
// field so that every error names the file and the field's full path ("peak_ops.fp32.unit").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analysis/device.h"

namespace infera {

// What a number measures; each has its base unit (OP/s, B, B/s, W, nm, USD, USD/h, s, Hz, none) and the units
// a file may write it in (devices/README.md lists them).
enum class Quantity { ops_per_s, bytes, bytes_per_s, watts, nm, usd, usd_per_hour, seconds, hertz, count };

std::string joined(const std::vector<std::string>& items);  // "a, b, c"

// One JSON object of a file, and where it is in the file.
class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, const std::string& file, const std::string& path);

  [[noreturn]] void fail(const std::string& field, const std::string& reason) const;
  bool has(const std::string& field) const { return object_.contains(field); }
  const nlohmann::json& at(const std::string& field) const { return object_.at(field); }
  std::string full(const std::string& field) const { return path_.empty() ? field : path_ + "." + field; }
  const std::string& file() const { return file_; }

  // Every field present must be one of `known`: a misspelt field would otherwise be ignored without a word.
  void only(const std::vector<std::string>& known) const;
  std::string string(const std::string& field, const std::string& fallback = "") const;
  std::string one_of(const std::string& field, const std::vector<std::string>& allowed,
                     const std::string& fallback) const;
  double number(const std::string& field, double fallback = 0) const;  // finite and not negative
  int integer(const std::string& field, int fallback = 0) const;
  std::vector<std::string> strings(const std::string& field) const;
  // {"value": 19.5, "unit": "TFLOP/s", "source": "..."}, or a bare number in the base unit; absent: unknown.
  Sourced sourced(const std::string& field, Quantity quantity) const;
  // {"key": number, ...} with keys from `keys`.
  std::map<std::string, double> numbers(const std::string& field, const std::vector<std::string>& keys) const;

 private:
  double checked_number(const nlohmann::json& v, const std::string& field) const;
  double unit_factor(Quantity quantity) const;

  const nlohmann::json& object_;
  std::string file_, path_;
};

// The inverse of FieldReader::sourced, in the unit the value reads best in (integer_ops: "TOP/s", else
// "TFLOP/s"); values rounded to 5 significant digits.
nlohmann::json sourced_json(const Sourced& s, Quantity quantity, bool integer_ops = false);

}  // namespace infera
