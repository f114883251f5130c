// Runs ONNX backend test cases (a folder per case: model.onnx + test_data_set_*/{input,output}_*.pb) and compares
// with ONNX's tolerances (rtol 1e-3, atol 1e-7). Cases named in the exclusion file (one per line, with a reason)
// may fail; any other failure fails the run. Each case also runs on the reference kernels without graph passes, and
// the fast path (passes, oneDNN and vectorised kernels) must match it to 1e-4 of the output's largest magnitude.
//   onnx_backend_test SUITE_DIR [--exclude FILE] [--filter SUBSTR] [--list-failures FILE] [--verbose]
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/dispatch.h"
#include "infera/infera.h"
#include "onnx/import.h"

namespace fs = std::filesystem;
using namespace infera;

namespace {

std::map<std::string, std::string> read_exclusions(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, reason;
    ss >> name;
    std::getline(ss, reason);
    out[name] = reason;
  }
  return out;
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) files.push_back(e.path());
  // input_10 after input_9: order by the number after the prefix.
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    auto num = [&](const fs::path& p) { return std::stoi(p.stem().string().substr(prefix.size())); };
    return num(a) < num(b);
  });
  return files;
}

// onnx 1.12's test data stores bfloat16 tensors as uint16 (the same bits, data_type 4); read them as bfloat16
// where the model or the result says bfloat16.
Tensor uint16_as_bfloat16(const Tensor& t, DType wanted) {
  if (t.dtype() != DType::UInt16 || wanted != DType::BFloat16) return t;
  Tensor b(DType::BFloat16, t.shape());
  std::memcpy(b.raw(), t.raw(), t.nbytes());
  return b;
}

// Empty string when equal within tolerance, else what differs.
std::string compare(const Tensor& expected, const Tensor& got) {
  if (expected.dtype() != got.dtype())
    return "dtype " + std::string(dtype_name(got.dtype())) + ", expected " + std::string(dtype_name(expected.dtype()));
  if (expected.shape() != got.shape()) return "shape " + shape_str(got.shape()) + ", expected " + shape_str(expected.shape());
  bool exact = !dtype_is_float(expected.dtype());
  for (int64_t i = 0; i < expected.numel(); ++i) {
    double e = expected.as_double(i), g = got.as_double(i);
    if (std::isnan(e) && std::isnan(g)) continue;
    bool ok = exact ? e == g : (e == g || std::fabs(e - g) <= 1e-7 + 1e-3 * std::fabs(e));
    if (!ok) {
      std::ostringstream ss;
      ss << "element " << i << ": got " << g << ", expected " << e;
      return ss.str();
    }
  }
  return "";
}

// Empty string when got matches the reference kernels' result to 1e-4 of the largest magnitude in it.
std::string compare_with_reference(const Tensor& reference, const Tensor& got) {
  if (reference.dtype() != got.dtype() || reference.shape() != got.shape()) return compare(reference, got);
  if (!dtype_is_float(reference.dtype())) return compare(reference, got);
  double scale = 0, worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < reference.numel(); ++i) {
    double r = reference.as_double(i), g = got.as_double(i);
    if (std::isnan(r) && std::isnan(g)) continue;
    if (std::isinf(r) || std::isinf(g)) {
      if (r != g) return "element " + std::to_string(i) + ": " + std::to_string(g) + ", reference kernels " + std::to_string(r);
      continue;
    }
    scale = std::max(scale, std::fabs(r));
    if (std::isnan(g) || std::isnan(r) || std::fabs(g - r) > worst) worst = std::isnan(g - r) ? INFINITY : std::fabs(g - r), at = i;
  }
  if (worst <= 1e-4 * scale || worst == 0) return "";
  std::ostringstream ss;
  ss << "element " << at << ": " << got.as_double(at) << ", reference kernels " << reference.as_double(at)
     << " (difference " << worst / std::max(scale, 1e-30) << " of the largest magnitude)";
  return ss.str();
}

std::string run_case(const fs::path& dir) {
  Session s = Session::load((dir / "model.onnx").string());
  SessionOptions reference_only;
  reference_only.optimize = false;
  reference_only.fast_backends = false;
  Session reference = Session::load((dir / "model.onnx").string(), reference_only);
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return "no test data";
  for (const fs::path& set : sets) {
    std::map<std::string, Tensor> inputs;
    std::vector<fs::path> in_files = sorted_files(set, "input_");
    for (size_t i = 0; i < in_files.size(); ++i) {
      std::string name = read_tensor_pb_name(in_files[i].string());
      if (name.empty() && i < s.inputs().size()) name = s.inputs()[i].name;
      DType declared = i < s.inputs().size() ? s.inputs()[i].dtype : DType::Undefined;
      inputs[name] = uint16_as_bfloat16(read_tensor_pb_file(in_files[i].string()), declared);
    }
    std::vector<Tensor> outputs = s.run(inputs);
    std::vector<fs::path> out_files = sorted_files(set, "output_");
    if (out_files.size() != outputs.size())
      return "produced " + std::to_string(outputs.size()) + " outputs, expected " + std::to_string(out_files.size());
    for (size_t i = 0; i < out_files.size(); ++i) {
      Tensor expected = uint16_as_bfloat16(read_tensor_pb_file(out_files[i].string()), outputs[i].dtype());
      std::string diff = compare(expected, outputs[i]);
      if (!diff.empty()) return set.filename().string() + " output " + std::to_string(i) + ": " + diff;
    }
    std::vector<Tensor> expected = reference.run(inputs);
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string diff = compare_with_reference(expected[i], outputs[i]);
      if (!diff.empty()) return set.filename().string() + " output " + std::to_string(i) + " vs reference: " + diff;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: onnx_backend_test SUITE_DIR [--exclude FILE] [--filter SUBSTR] [--list-failures FILE] "
                 "[--verbose]\n";
    return 2;
  }
  fs::path suite = argv[1];
  std::map<std::string, std::string> excluded;
  std::string filter, failures_file;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--exclude" && i + 1 < argc) excluded = read_exclusions(argv[++i]);
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--list-failures" && i + 1 < argc) failures_file = argv[++i];
    else if (a == "--verbose") verbose = true;
  }
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(suite))
    if (e.is_directory() && fs::exists(e.path() / "model.onnx") &&
        (filter.empty() || e.path().filename().string().find(filter) != std::string::npos))
      cases.push_back(e.path());
  std::sort(cases.begin(), cases.end());

  int passed = 0, failed = 0, excluded_failed = 0;
  std::vector<std::string> unexpected, stale;
  std::ofstream failures;
  if (!failures_file.empty()) failures.open(failures_file);
  for (const fs::path& c : cases) {
    std::string name = c.filename().string();
    std::string why;
    try {
      why = run_case(c);
    } catch (const std::exception& e) {
      why = e.what();
    }
    bool is_excluded = excluded.count(name) > 0;
    if (why.empty()) {
      ++passed;
      if (is_excluded) stale.push_back(name);
      if (verbose) std::cout << "PASS " << name << "\n";
      continue;
    }
    if (failures) failures << name << "  " << why << "\n";
    if (is_excluded) {
      ++excluded_failed;
      if (verbose) std::cout << "EXCLUDED " << name << ": " << why << "\n";
    } else {
      ++failed;
      unexpected.push_back(name);
      std::cout << "FAIL " << name << ": " << why << "\n";
    }
  }
  for (const std::string& n : stale) std::cout << "note: excluded case now passes: " << n << "\n";
  std::cout << suite.filename().string() << ": " << passed << " of " << cases.size() << " cases pass ("
            << excluded_failed << " failing cases excluded with a reason)\n";
  std::cout << passed << " passed, " << failed << " failed, " << excluded_failed << " skipped\n";
  return failed == 0 ? 0 : 1;
}
