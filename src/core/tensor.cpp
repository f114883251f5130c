#include "infera/tensor.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/dispatch.h"

namespace infera {

namespace {

// Blocks at least this large are mapped straight from the kernel and unmapped when freed. malloc would keep a freed
// block below its adaptive mmap threshold (which rises to 32 MiB as large blocks are freed) in its heap, resident:
// then the weights a compiled model frees after packing them would still count in the process's memory.
constexpr size_t kMappedStorageBytes = size_t(1) << 20;

// `bytes` (at least 1) of storage, zero-filled when `zeroed` (mapped blocks always are).
std::shared_ptr<std::byte[]> allocate_storage(size_t bytes, bool zeroed) {
  if (bytes < kMappedStorageBytes)
    return std::shared_ptr<std::byte[]>(zeroed ? new std::byte[std::max<size_t>(bytes, 1)]()
                                               : new std::byte[std::max<size_t>(bytes, 1)]);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [bytes](std::byte* b) { ::munmap(b, bytes); });
}

}  // namespace

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension " + std::to_string(d) + " in shape " + shape_str(shape));
    if (d != 0 && n > INT64_MAX / d) throw Error("element count of shape " + shape_str(shape) + " overflows int64");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape[i]);
  }
  return s;
}

size_t max_tensor_bytes() {
  static const size_t limit = [] {
    if (const char* env = std::getenv("INFERA_MAX_TENSOR_BYTES")) return size_t(std::strtoull(env, nullptr, 10));
    return size_t(16) << 30;
  }();
  return limit;
}

void Tensor::check_size() const {
  size_t elem = dtype_size(dtype_);
  if (elem == 0) throw Error("cannot allocate a tensor of type " + std::string(dtype_name(dtype_)));
  if (uint64_t(numel_) > max_tensor_bytes() / elem)
    throw Error("tensor of shape " + shape_str(shape_) + " (" + std::string(dtype_name(dtype_)) +
                ") exceeds the allocation limit of " + std::to_string(max_tensor_bytes()) + " bytes");
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  check_size();
  storage_ = allocate_storage(nbytes(), true);
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.check_size();
  t.storage_ = allocate_storage(t.nbytes(), false);
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, std::shared_ptr<void> owner, void* data, size_t bytes) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.check_size();
  if (t.nbytes() > bytes) throw Error("internal: a view of " + std::to_string(bytes) + " bytes cannot hold " +
                                      shape_str(t.shape_) + " " + std::string(dtype_name(dtype)));
  t.storage_ = std::shared_ptr<std::byte[]>(std::move(owner), static_cast<std::byte*>(data));
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

void Tensor::check_type(DType t) const {
  if (t != dtype_)
    throw Error("tensor holds " + std::string(dtype_name(dtype_)) + ", accessed as " + std::string(dtype_name(t)));
}

double Tensor::as_double(int64_t i) const {
  if (i < 0 || i >= numel_) throw Error("element index out of range");
  return visit_dtype(dtype_, [&](auto tag) -> double {
    using T = typename decltype(tag)::type;
    return double(static_cast<const T*>(raw())[i]);
  });
}

int64_t Tensor::as_int(int64_t i) const {
  if (i < 0 || i >= numel_) throw Error("element index out of range");
  return visit_dtype(dtype_, [&](auto tag) -> int64_t {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>)
      return int64_t(float(static_cast<const T*>(raw())[i]));
    else
      return int64_t(static_cast<const T*>(raw())[i]);
  });
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[size_t(i)] = as_int(i);
  return v;
}

}  // namespace infera
