#include "backends/cpu/cpu_kernel.h"

#include <atomic>

namespace infera::cpu {
namespace {

Isa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Portable;
}

const Isa kBestIsa = detect_isa();
std::atomic<Isa> forced_isa{kBestIsa};

}  // namespace

Isa active_isa() { return forced_isa.load(std::memory_order_relaxed); }
void force_isa(Isa isa) { forced_isa = std::min(isa, kBestIsa); }
void reset_isa() { forced_isa = kBestIsa; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Portable: break;
  }
  return "portable";
}

bool is_plain(const KernelRequest& r, size_t i, DType dtype) {
  if (i >= r.inputs.size()) return false;
  const ValueDesc& v = r.inputs[i];
  return v.type.dtype == dtype && v.type.shape_known && v.layout.plain();
}

bool all_plain_float(const KernelRequest& r) {
  for (const ValueDesc& v : r.inputs)
    if (v.type.dtype != DType::Undefined && !(v.type.dtype == DType::Float32 && v.type.shape_known && v.layout.plain()))
      return false;
  for (const TensorType& t : r.outputs)
    if (t.dtype != DType::Undefined && !(t.dtype == DType::Float32 && t.shape_known)) return false;
  return true;
}

bool constant_ints(const KernelRequest& r, size_t i, std::vector<int64_t>& out) {
  if (i >= r.inputs.size() || !r.inputs[i].constant) return false;
  const Tensor& t = *r.inputs[i].constant;
  if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32) return false;
  out = t.to_int_vector();
  return true;
}

}  // namespace infera::cpu
