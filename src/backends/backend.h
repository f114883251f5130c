// The backend contract. A backend turns one node, at fixed input and output types, into a Kernel; the runtime
// asks the backends in priority order (oneDNN, own vectorised CPU kernels, reference) and the first kernel wins.
// A node no fast backend takes runs on the reference backend (the op table's kernel): that is the CPU fallback,
// and the compiled plan records it so that `infera info` and the logs can say which nodes fell back.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ops/op.h"

namespace infera {

// How a value's bytes are arranged. Plain is dense row-major, what every reference kernel reads. Other layouts
// belong to the backend that produced them (oneDNN's channel-blocked nChw16c, ...): `native` is that backend's
// description, opaque to everyone else. A consumer that cannot read a layout gets a conversion to plain inserted
// before it, as its own step (its cost shows in profiles).
class Backend;

struct Layout {
  std::string name = "plain";          // for reports: "plain", "nChw16c", ...
  const Backend* owner = nullptr;      // the backend that understands `native`
  std::shared_ptr<const void> native;  // null for plain
  size_t bytes = 0;                    // storage size; blocked layouts may pad (0: the plain size)
  bool plain() const { return native == nullptr; }
};

struct ValueDesc {
  TensorType type;                 // always shape_known when a fast backend is asked
  Layout layout;
  const Tensor* constant = nullptr;  // the value when it is known at compile time (weights, folded constants)
};

struct KernelRequest {
  const Node& node;
  std::vector<ValueDesc> inputs;    // one per node input; an omitted optional input has dtype Undefined
  std::vector<TensorType> outputs;  // from the op's shape rule
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].type.dtype != DType::Undefined; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Inputs arrive in the layouts the request gave; outputs[i] is already allocated (output_layout(i).bytes, or the
  // plain size) and must be filled. Omitted optional inputs are nullptr.
  virtual void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) = 0;
  virtual Layout output_layout(int output) const { return {}; }
  // An input whose storage output `output` may share when nothing reads that input afterwards (-1: none). The
  // kernel must be correct both when the storage is shared and when it is not.
  virtual int inplace_input(int output) const { return -1; }
  // True when output 0 is input 0's storage under another shape (Reshape and the like): run() does nothing, and
  // the runtime hands the consumer a view.
  virtual bool view() const { return false; }
  // True when the kernel made its own copy of constant input `input` at compile time (a weight packed into its
  // layout, a bias folded into another form) and never reads that input when it runs: the runtime then frees the
  // constant once no other step reads it, and run() may get an undefined tensor for it.
  virtual bool copied_input(int input) const { return false; }
  // Bytes of inputs the kernel permutes into its own layout on every run before computing (a plain image reordered
  // into oneDNN's blocked layout): part of its time, which the projection models apart from the arithmetic.
  virtual double reordered_input_bytes() const { return 0; }
  // What the kernel is, for reports: "dnnl conv jit:avx512_core", "cpu softmax avx512", ...
  virtual std::string describe() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // A kernel for the node at these types, or nullptr when this backend does not run it (op, dtype, attribute or
  // input layout it does not handle). Throws infera::Error only for a node that is invalid.
  virtual std::unique_ptr<Kernel> compile(const KernelRequest& request) const = 0;
  // A kernel with one input (in `from`, one of this backend's layouts) and one plain output of type `type`.
  virtual std::unique_ptr<Kernel> to_plain(const TensorType& type, const Layout& from) const { return nullptr; }
};

}  // namespace infera
