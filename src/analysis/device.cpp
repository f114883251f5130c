// Loading devices (the compiled-in catalog, files, the probed "this" machine) and reading their peaks.
#include "analysis/device.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "analysis/device_probe.h"
#include "infera/error.h"

// devices/*.json, embedded by cmake/embed_files.cmake (INDEX=devices) at build time.
extern const char* const infera_embedded_devices_names[];
extern const unsigned char* const infera_embedded_devices_data[];
extern const size_t infera_embedded_devices_sizes[];
extern const size_t infera_embedded_devices_count;

namespace infera {

namespace {

namespace fs = std::filesystem;

// Where a precision the device lacks runs instead, nearest first: a narrow type on the next wider unit that
// holds it exactly, then (when there is none) on a narrower unit after conversion. "fp32 on bf16" is what TPUs do
// with fp32 matrix products by default; "fp32 on int8" means the model must be quantized for that device.
const std::map<std::string, std::vector<std::string>> kFallbacks = {
    {"fp64", {"fp32", "tf32", "bf16", "fp16"}},
    {"fp32", {"tf32", "bf16", "fp16", "fp8", "int8"}},
    {"tf32", {"fp32", "bf16", "fp16", "fp8", "int8"}},
    {"fp16", {"bf16", "fp32", "fp8", "int8"}},
    {"bf16", {"fp16", "fp32", "fp8", "int8"}},
    {"fp8", {"fp16", "bf16", "fp32", "int8"}},
    {"int8", {"fp8", "fp16", "bf16", "fp32", "int4"}},
    {"int4", {"int8", "fp8", "fp16", "bf16", "fp32"}},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::optional<std::string> catalog_text(const std::string& id) {
  for (size_t i = 0; i < infera_embedded_devices_count; ++i)
    if (id == infera_embedded_devices_names[i])
      return std::string(reinterpret_cast<const char*>(infera_embedded_devices_data[i]),
                         infera_embedded_devices_sizes[i]);
  return std::nullopt;
}

Device parse_device_text(const std::string& text, const std::string& file) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file + ": not valid JSON: " + e.what());
  }
  return device_from_json(j, file);
}

Device read_device_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory, not a device file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string catalog;
    for (const std::string& id : catalog_device_ids()) catalog += (catalog.empty() ? "" : ", ") + id;
    throw Error("unknown device '" + path + "': not in the catalog (" + catalog + ", this) and cannot open it as a file");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_device_text(text.str(), path);
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw Error(path + ": cannot write the device file");
}

// The probe takes seconds, so "this" is measured once and cached; `infera device probe` refreshes the cache.
Device load_this_device() {
  const std::string cache = this_device_cache_path();
  std::error_code ec;
  if (fs::exists(cache, ec)) {
    Device d = read_device_file(cache);
    d.id = "this";
    return d;
  }
  Device d = probe_this_device();
  try {
    write_this_device_cache(d);
  } catch (const Error&) {
    // An unwritable cache only costs the next run another probe.
  }
  d.file = cache;
  return d;
}

}  // namespace

std::string precision_key(const std::string& precision_or_dtype) {
  const std::string p = lower(precision_or_dtype);
  if (p == "fp64" || p == "float64" || p == "double") return "fp64";
  if (p == "fp32" || p == "float32" || p == "float") return "fp32";
  if (p == "tf32" || p == "tensorfloat32") return "tf32";
  if (p == "fp16" || p == "float16" || p == "half") return "fp16";
  if (p == "bf16" || p == "bfloat16") return "bf16";
  if (p.rfind("fp8", 0) == 0 || p.rfind("float8", 0) == 0) return "fp8";
  if (p == "int8" || p == "uint8" || p == "i8" || p == "u8") return "int8";
  if (p == "int4" || p == "uint4" || p == "i4" || p == "u4") return "int4";
  return "";
}

double Device::peak(const std::string& precision, int threads, std::string* used) const {
  // Non-float element types (int32 indices, bool masks) run on the general vector units: the fp32 rate.
  std::string key = precision_key(precision);
  if (key.empty()) key = "fp32";
  std::vector<std::string> order = {key};
  const auto fallbacks = kFallbacks.find(key);
  if (fallbacks != kFallbacks.end()) order.insert(order.end(), fallbacks->second.begin(), fallbacks->second.end());
  for (const std::string& candidate : order) {
    const auto it = peak_ops.find(candidate);
    if (it == peak_ops.end() || !it->second.known()) continue;
    if (used != nullptr) *used = candidate;
    const double whole = it->second.value;
    if (kind != "cpu" || threads <= 0 || cores <= 0) return whole;
    const auto single = peak_ops_per_core.find(candidate);
    const double per_core =
        single != peak_ops_per_core.end() && single->second.known() ? single->second.value : whole / cores;
    return std::min(whole, per_core * std::min(threads, cores));
  }
  if (used != nullptr) used->clear();
  return 0;
}

double Device::dram_bandwidth(int threads) const {
  if (kind != "cpu" || threads <= 0 || !memory_bandwidth_per_core.known()) return memory_bandwidth.value;
  const double scaled = memory_bandwidth_per_core.value * std::min(threads, std::max(cores, 1));
  return memory_bandwidth.known() ? std::min(memory_bandwidth.value, scaled) : scaled;
}

std::vector<std::string> catalog_device_ids() {
  std::vector<std::string> ids(infera_embedded_devices_names, infera_embedded_devices_names + infera_embedded_devices_count);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string this_device_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/infera/this.json";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : ".") + "/.cache/infera/this.json";
}

void write_device_file(const Device& d, const std::string& path) {
  write_text_file(path, device_to_json(d).dump(2) + "\n");
}

void write_this_device_cache(const Device& d) {
  const std::string cache = this_device_cache_path();
  std::error_code ec;
  fs::create_directories(fs::path(cache).parent_path(), ec);
  if (ec) throw Error(cache + ": cannot create its directory: " + ec.message());
  Device cached = d;
  cached.id = "this";
  write_device_file(cached, cache);
}

Device load_device(const std::string& name_or_path) {
  if (name_or_path == "this") return load_this_device();
  const bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                               (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json");
  if (!looks_like_path)
    if (std::optional<std::string> text = catalog_text(lower(name_or_path)))
      return parse_device_text(*text, "catalog:" + lower(name_or_path));
  return read_device_file(name_or_path);
}

}  // namespace infera
