// A dense, contiguous, row-major tensor. Copies share storage (cheap); clone() copies the data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infera/dtype.h"
#include "infera/error.h"

namespace infera {

using Shape = std::vector<int64_t>;

// Number of elements, with every dimension checked to be >= 0 and the product checked for overflow.
int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "1x3x224x224", "scalar" for rank 0

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage. Throws infera::Error when the size is absurd (see max_tensor_bytes()).
  Tensor(DType dtype, Shape shape);

  // A tensor over `bytes` bytes of existing storage at `data`, kept alive by `owner` (an arena, a mapped file).
  // The bytes may exceed the dense size: backends store padded layouts this way.
  static Tensor view(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t bytes);
  // Storage the caller will overwrite entirely: not zero-filled.
  static Tensor uninitialized(DType dtype, Shape shape);

  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(shape));
    if (int64_t(values.size()) != t.numel()) throw Error("from_vector: value count does not match shape");
    T* d = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) d[i] = values[i];
    return t;
  }
  template <class T>
  static Tensor scalar(T v) { return from_vector<T>({}, {v}); }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return int(shape_.size()); }
  int64_t dim(int i) const { return shape_[size_t(i)]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return size_t(numel_) * dtype_size(dtype_); }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <class T> T* data() { check_type(dtype_of<T>()); return static_cast<T*>(raw()); }
  template <class T> const T* data() const { check_type(dtype_of<T>()); return static_cast<const T*>(raw()); }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Deep copy.
  Tensor clone() const;
  // Element i converted to double / int64 (for small index and shape tensors).
  double as_double(int64_t i) const;
  int64_t as_int(int64_t i) const;
  std::vector<int64_t> to_int_vector() const;

 private:
  void check_type(DType t) const;
  void check_size() const;
  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

// Largest single tensor infera will allocate (default 16 GiB, or INFERA_MAX_TENSOR_BYTES).
size_t max_tensor_bytes();

}  // namespace infera
