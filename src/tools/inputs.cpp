#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <new>
#include <random>

#include "core/dispatch.h"
#include "tools/commands.h"

namespace infera::tools {

std::map<std::string, Shape> parse_shapes(const std::vector<std::string>& specs) {
  std::map<std::string, Shape> shapes;
  for (const std::string& spec : specs) {
    size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0) throw Error("--shape '" + spec + "': expected NAME=1x3x224x224");
    Shape shape;
    std::string dims = spec.substr(eq + 1);
    size_t pos = 0;
    while (pos <= dims.size() && !dims.empty()) {
      size_t x = dims.find('x', pos);
      std::string d = dims.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
      if (d.empty() || !std::all_of(d.begin(), d.end(), ::isdigit) || d.size() > 15)
        throw Error("--shape '" + spec + "': '" + d + "' is not a dimension");
      shape.push_back(std::stoll(d));
      if (x == std::string::npos) break;
      pos = x + 1;
    }
    shapes[spec.substr(0, eq)] = shape;
  }
  return shapes;
}

namespace {

bool is_mask_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return name.find("mask") != std::string::npos;
}

// Random values valid for what the input most likely is. Attention masks are all ones: a random mask would hide
// random tokens, which no real input does.
Tensor random_tensor(const std::string& name, DType dtype, const Shape& shape, std::mt19937& rng) {
  Tensor t(dtype, shape);
  if (!dtype_is_float(dtype) && is_mask_name(name)) {
    visit_dtype(dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      std::fill_n(t.data<T>(), t.numel(), T(1));
    });
    return t;
  }
  if (dtype == DType::Bool) {
    auto* d = t.data<bool>();
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng() & 1;
    return t;
  }
  visit_numeric(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = t.data<T>();
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (is_float_v<T>) d[i] = T(unit(rng));
      else d[i] = T(rng() % 10);  // small non-negative integers: valid as indices and token ids
    }
  });
  return t;
}

}  // namespace

std::map<std::string, Tensor> make_inputs(const Session& s, const std::vector<std::string>& specs,
                                          const std::map<std::string, Shape>& shapes) {
  std::map<std::string, Tensor> inputs;
  size_t positional = 0;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    std::string name, file = spec;
    if (eq != std::string::npos && eq > 0) {
      name = spec.substr(0, eq);
      file = spec.substr(eq + 1);
    } else {
      if (positional >= s.inputs().size())
        throw Error(s.path() + ": --input '" + spec + "': the model has only " + std::to_string(s.inputs().size()) +
                    " input(s)");
      name = s.inputs()[positional++].name;
    }
    if (inputs.count(name)) throw Error(s.path() + ": input '" + name + "' is given more than once");
    inputs[name] = read_tensor_file(file);
  }
  std::mt19937 rng(0);
  for (const ValueInfo& v : s.inputs()) {
    if (inputs.count(v.name)) continue;
    try {  // the declared (or --shape) dims may be absurd: say which model and input asked for them
      inputs[v.name] = random_tensor(v.name, v.dtype, resolve_input_shape(v, shapes), rng);
    } catch (const Error& e) {
      throw Error(s.path() + ": random input '" + v.name + "': " + e.what());
    } catch (const std::bad_alloc&) {
      throw Error(s.path() + ": random input '" + v.name + "' of shape " + shape_str(resolve_input_shape(v, shapes)) +
                  ": out of memory");
    }
  }
  return inputs;
}

std::string dims_str(const ValueInfo& v) {
  if (!v.has_shape) return "?";
  if (v.dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < v.dims.size(); ++i) {
    if (i) s += "x";
    const Dim& d = v.dims[i];
    s += d.fixed() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s;
}

void print_outputs(const Session& s, const std::vector<Tensor>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i];
    fmt::print("  {:<20} {:<16} {}\n", s.outputs()[i].name, shape_str(t.shape()), dtype_name(t.dtype()));
    // Classifier-shaped: [C] or [N, C] floats with a handful or more classes.
    int64_t classes = t.rank() >= 1 ? t.shape().back() : 0;
    bool classifier = dtype_is_float(t.dtype()) && (t.rank() == 1 || t.rank() == 2) && classes >= 2 && t.numel() > 0;
    if (!classifier) continue;
    std::vector<int64_t> idx(static_cast<size_t>(classes));
    for (int64_t c = 0; c < classes; ++c) idx[size_t(c)] = c;
    size_t k = std::min<size_t>(5, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + long(k), idx.end(),
                      [&](int64_t a, int64_t b) { return t.as_double(a) > t.as_double(b); });
    std::string top;
    for (size_t j = 0; j < k; ++j) top += fmt::format("{}{}: {:.4g}", j ? ", " : "", idx[j], t.as_double(idx[j]));
    fmt::print("  {:<20} top-{} of row 0: {}\n", "", k, top);
  }
}

}  // namespace infera::tools
