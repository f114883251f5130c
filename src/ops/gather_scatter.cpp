// Gather, GatherElements, GatherND and their scatter counterparts (ScatterElements, ScatterND, and the deprecated
// Scatter). Indices may be negative (counted from the end); out-of-range indices fail the node.
#include <cstring>

#include "ops/data_movement.h"

namespace infera {
namespace {

void check_index_type(const OpContext& ctx, int i) {
  if (ctx.dtype(i) != DType::Int32 && ctx.dtype(i) != DType::Int64)
    ctx.fail("indices must be int32 or int64, got " + std::string(dtype_name(ctx.dtype(i))));
}

int64_t checked_index(const OpContext& ctx, int64_t index, int64_t dim) {
  if (index < -dim || index >= dim)
    ctx.fail("index " + std::to_string(index) + " is out of range for a dimension of size " + std::to_string(dim));
  return index < 0 ? index + dim : index;
}

std::vector<int64_t> checked_indices(const OpContext& ctx, const Tensor& indices, int64_t dim) {
  std::vector<int64_t> v = indices.to_int_vector();
  for (int64_t& i : v) i = checked_index(ctx, i, dim);
  return v;
}

int data_axis(const OpContext& ctx) {
  if (ctx.rank(0) < 1) ctx.fail("data must have rank >= 1");
  return normalize_axis(ctx, ctx.node().attr_int("axis", 0), ctx.rank(0));
}

bool infer_gather(OpContext& ctx) {
  check_index_type(ctx, 1);
  const int axis = data_axis(ctx);
  const Shape& data = ctx.shape(0);
  Shape out(data.begin(), data.begin() + axis);
  out.insert(out.end(), ctx.shape(1).begin(), ctx.shape(1).end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void gather(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int axis = data_axis(ctx);
  const int64_t dim = data.dim(axis);
  const std::vector<int64_t> idx = checked_indices(ctx, ctx.input(1), dim);
  const Shape& s = data.shape();
  const int64_t outer = shape_numel(Shape(s.begin(), s.begin() + axis));
  const size_t run = size_t(shape_numel(Shape(s.begin() + axis + 1, s.end()))) * dtype_size(data.dtype());
  auto src = static_cast<const std::byte*>(data.raw());
  auto dst = static_cast<std::byte*>(ctx.output(0).raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : idx) {
      std::memcpy(dst, src + size_t(o * dim + i) * run, run);
      dst += run;
    }
}

// Element-wise gather/scatter: indices (and updates) have data's rank; indices' extent along every other axis must
// fit in data's.
void check_elementwise_indices(const OpContext& ctx, int axis) {
  check_index_type(ctx, 1);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  bool fits = data.size() == idx.size();
  for (size_t d = 0; fits && d < data.size(); ++d) fits = int(d) == axis || idx[d] <= data[d];
  if (!fits) ctx.fail("indices of shape " + shape_str(idx) + " do not fit data of shape " + shape_str(data));
}

// Calls fn(i, offset) for each element i of `shape` (row-major), with offset the flat position in data of the
// same coordinates except along `axis`, which counts as 0.
template <class F>
void for_each_element_offset(const Shape& shape, const Shape& data_shape, int axis, F&& fn) {
  std::vector<int64_t> strides = contiguous_strides(data_shape);
  strides[size_t(axis)] = 0;
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> counter(shape.size(), 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, offset);
    for (size_t d = shape.size(); d-- > 0;) {
      offset += strides[d];
      if (++counter[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      counter[d] = 0;
    }
  }
}

bool infer_gather_elements(OpContext& ctx) {
  check_elementwise_indices(ctx, data_axis(ctx));
  ctx.set_output(0, ctx.dtype(0), ctx.shape(1));
  return true;
}

void gather_elements(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int axis = data_axis(ctx);
  const std::vector<int64_t> idx = checked_indices(ctx, ctx.input(1), data.dim(axis));
  const int64_t axis_stride = contiguous_strides(data.shape())[size_t(axis)];
  Tensor& y = ctx.output(0);
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = data.data<T>();
    T* out = y.data<T>();
    for_each_element_offset(y.shape(), data.shape(), axis, [&](int64_t i, int64_t offset) {
      out[i] = src[offset + idx[size_t(i)] * axis_stride];
    });
  });
}

enum class Reduction { None, Add, Mul, Max, Min };

Reduction scatter_reduction(const OpContext& ctx) {
  const std::string r = ctx.node().attr_string("reduction", "none");
  if (r == "none") return Reduction::None;
  if (r == "add" && ctx.opset() >= 16) return Reduction::Add;
  if (r == "mul" && ctx.opset() >= 16) return Reduction::Mul;
  if (r == "max" && ctx.opset() >= 18) return Reduction::Max;
  if (r == "min" && ctx.opset() >= 18) return Reduction::Min;
  ctx.fail("unsupported reduction '" + r + "'");
}

template <class T>
void combine(Reduction r, T& dst, T v) {
  using C = compute_t<T>;
  switch (r) {
    case Reduction::None: dst = v; break;
    case Reduction::Add: dst = T(C(dst) + C(v)); break;
    case Reduction::Mul: dst = T(C(dst) * C(v)); break;
    case Reduction::Max: dst = T(std::max(C(dst), C(v))); break;
    case Reduction::Min: dst = T(std::min(C(dst), C(v))); break;
  }
}

bool infer_scatter_elements(OpContext& ctx) {
  check_elementwise_indices(ctx, data_axis(ctx));
  scatter_reduction(ctx);
  if (ctx.shape(2) != ctx.shape(1)) ctx.fail("updates shape " + shape_str(ctx.shape(2)) + " differs from indices'");
  if (ctx.dtype(2) != ctx.dtype(0)) ctx.fail("updates type differs from data's");
  return infer_same_as_input(ctx);
}

void scatter_elements(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int axis = data_axis(ctx);
  const std::vector<int64_t> idx = checked_indices(ctx, ctx.input(1), data.dim(axis));
  const int64_t axis_stride = contiguous_strides(data.shape())[size_t(axis)];
  const Reduction reduction = scatter_reduction(ctx);
  Tensor& y = ctx.output(0);
  std::memcpy(y.raw(), data.raw(), data.nbytes());
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* updates = ctx.input(2).data<T>();
    T* out = y.data<T>();
    for_each_element_offset(ctx.input(1).shape(), data.shape(), axis, [&](int64_t i, int64_t offset) {
      combine(reduction, out[offset + idx[size_t(i)] * axis_stride], updates[i]);
    });
  });
}

// Flat offset into data of the index tuple idx[0..m) over data's leading dimensions; negatives count from the end.
int64_t tuple_offset(const OpContext& ctx, const int64_t* idx, int64_t m, const Shape& dims,
                     const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t j = 0; j < m; ++j) offset += checked_index(ctx, idx[j], dims[size_t(j)]) * strides[size_t(j)];
  return offset;
}

int gather_nd_batch_dims(const OpContext& ctx) {
  check_index_type(ctx, 1);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  const int64_t b = ctx.node().attr_int("batch_dims", 0);
  if (idx.empty()) ctx.fail("indices must have rank >= 1");
  if (b < 0 || b >= int64_t(idx.size()) || b >= int64_t(data.size())) ctx.fail("invalid batch_dims");
  if (!std::equal(idx.begin(), idx.begin() + b, data.begin()))
    ctx.fail("batch dimensions of data " + shape_str(data) + " and indices " + shape_str(idx) + " differ");
  const int64_t m = idx.back();
  if (m < 1 || m > int64_t(data.size()) - b) ctx.fail("last dimension of indices is out of range");
  return int(b);
}

bool infer_gather_nd(OpContext& ctx) {
  const int b = gather_nd_batch_dims(ctx);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), data.begin() + b + idx.back(), data.end());
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void gather_nd(OpContext& ctx) {
  const int b = gather_nd_batch_dims(ctx);
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const Shape &ds = data.shape(), &is = indices.shape();
  const int64_t m = is.back();
  const Shape batch_data(ds.begin() + b, ds.end());
  const std::vector<int64_t> strides = contiguous_strides(batch_data);
  const int64_t batches = shape_numel(Shape(ds.begin(), ds.begin() + b));
  const int64_t tuples = shape_numel(Shape(is.begin() + b, is.end() - 1));
  const int64_t batch_size = shape_numel(batch_data);
  const int64_t slice = shape_numel(Shape(ds.begin() + b + m, ds.end()));
  const size_t es = dtype_size(data.dtype());
  const std::vector<int64_t> idx = indices.to_int_vector();
  auto src = static_cast<const std::byte*>(data.raw());
  auto dst = static_cast<std::byte*>(ctx.output(0).raw());
  for (int64_t n = 0; n < batches; ++n)
    for (int64_t t = 0; t < tuples; ++t) {
      const int64_t at = n * batch_size + tuple_offset(ctx, &idx[size_t((n * tuples + t) * m)], m, batch_data, strides);
      std::memcpy(dst, src + size_t(at) * es, size_t(slice) * es);
      dst += slice * int64_t(es);
    }
}

bool infer_scatter_nd(OpContext& ctx) {
  check_index_type(ctx, 1);
  scatter_reduction(ctx);
  const Shape &data = ctx.shape(0), &idx = ctx.shape(1);
  if (idx.empty() || idx.back() < 1 || idx.back() > int64_t(data.size()))
    ctx.fail("last dimension of indices " + shape_str(idx) + " is out of range for data " + shape_str(data));
  Shape updates(idx.begin(), idx.end() - 1);
  updates.insert(updates.end(), data.begin() + idx.back(), data.end());
  if (ctx.shape(2) != updates) ctx.fail("updates shape " + shape_str(ctx.shape(2)) + ", expected " + shape_str(updates));
  if (ctx.dtype(2) != ctx.dtype(0)) ctx.fail("updates type differs from data's");
  return infer_same_as_input(ctx);
}

void scatter_nd(OpContext& ctx) {
  const Tensor &data = ctx.input(0), &indices = ctx.input(1);
  const Reduction reduction = scatter_reduction(ctx);
  const int64_t m = indices.shape().back();
  const std::vector<int64_t> strides = contiguous_strides(data.shape());
  const int64_t slice = shape_numel(Shape(data.shape().begin() + m, data.shape().end()));
  const int64_t tuples = m == 0 ? 0 : indices.numel() / m;
  const std::vector<int64_t> idx = indices.to_int_vector();
  Tensor& y = ctx.output(0);
  std::memcpy(y.raw(), data.raw(), data.nbytes());
  visit_dtype(data.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* updates = ctx.input(2).data<T>();
    T* out = y.data<T>();
    for (int64_t t = 0; t < tuples; ++t) {
      T* dst = out + tuple_offset(ctx, &idx[size_t(t * m)], m, data.shape(), strides);
      for (int64_t j = 0; j < slice; ++j) combine(reduction, dst[j], updates[t * slice + j]);
    }
  });
}

}  // namespace

void register_gather_scatter_ops(OpTable& t) {
  t.add({.name = "Gather", .infer = infer_gather, .compute = gather, .cost = selection_cost});
  t.add({.name = "GatherElements", .infer = infer_gather_elements, .compute = gather_elements,
         .cost = selection_cost});
  t.add({.name = "GatherND", .infer = infer_gather_nd, .compute = gather_nd, .cost = selection_cost});
  t.add({.name = "ScatterElements", .infer = infer_scatter_elements, .compute = scatter_elements,
         .cost = data_movement_cost});
  t.add({.name = "Scatter", .infer = infer_scatter_elements, .compute = scatter_elements,
         .cost = data_movement_cost});
  t.add({.name = "ScatterND", .infer = infer_scatter_nd, .compute = scatter_nd, .cost = data_movement_cost});
}

}  // namespace infera
