// What the oneDNN backend tests share: the backend, storage for a value in one of its layouts, the conversion back
// to plain, and a case compiled and run on it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend_harness.h"
#include "backends/backends.h"

namespace infera::harness {

inline const Backend& dnnl() { return *cpu_backends(true).front(); }

// Zero-filled storage for a value of `type` in `layout` (blocked layouts may be larger than the plain size).
inline Tensor allocate(const TensorType& type, const Layout& layout) {
  if (layout.plain()) return Tensor(type.dtype, type.shape);
  std::shared_ptr<std::byte[]> bytes(new std::byte[layout.bytes]());
  return Tensor::view(type.dtype, type.shape, bytes, bytes.get(), layout.bytes);
}

// The plain value of storage in one of oneDNN's layouts, through the backend's own conversion.
inline Tensor to_plain(const Tensor& storage, const Layout& layout) {
  if (layout.plain()) return storage;
  const TensorType type{storage.dtype(), storage.shape(), true};
  std::unique_ptr<Kernel> convert = dnnl().to_plain(type, layout);
  if (!convert) {
    ADD_FAILURE() << "no conversion from " << layout.name;
    return {};
  }
  Tensor plain(type.dtype, type.shape);
  Tensor* out = &plain;
  convert->run({&storage}, {out});
  return plain;
}

struct DnnlRun {
  std::string kernel;  // its description; empty when oneDNN declined
  Layout layout;
  Tensor storage;  // in `layout`
  Tensor plain;
};

// The case compiled on oneDNN and run on `storage` (default: the case's plain inputs).
inline DnnlRun run_dnnl(const Case& c, std::vector<Tensor> storage = {}) {
  if (storage.empty()) storage = c.inputs;
  const Node node = c.node();
  const std::vector<TensorType> types = c.output_types();
  std::unique_ptr<Kernel> kernel = dnnl().compile(c.request(node, types));
  DnnlRun r;
  if (!kernel) return r;
  r.kernel = kernel->describe();
  r.layout = kernel->output_layout(0);
  r.storage = allocate(types[0], r.layout);
  std::vector<const Tensor*> ins;
  for (const Tensor& t : storage) ins.push_back(t.defined() ? &t : nullptr);
  kernel->run(ins, {&r.storage});
  r.plain = to_plain(r.storage, r.layout);
  return r;
}

}  // namespace infera::harness
