// Small pieces that many operators share: broadcasting, axis normalisation, common shape rules.
#pragma once

#include <algorithm>
#include <vector>

#include "core/dispatch.h"
#include "ops/op.h"

namespace infera {

// Multidirectional (numpy) broadcasting of any number of shapes; fails with the node's label on mismatch.
Shape broadcast_shapes(const OpContext& ctx, const std::vector<Shape>& shapes);

// Strides (in elements) of `in` seen through a broadcast to `out`: 0 along broadcast dimensions.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Walks every element of `out_shape`, giving the flat offset into each of the inputs broadcast to it.
// fn(out_index, offsets) where offsets[k] is the flat index into input k.
template <class F>
void for_each_broadcast(const Shape& out_shape, const std::vector<Shape>& in_shapes, F&& fn) {
  const int64_t n = shape_numel(out_shape);
  const size_t k = in_shapes.size(), r = out_shape.size();
  bool same = true;
  for (const Shape& s : in_shapes) same = same && s == out_shape;
  if (same) {  // no broadcasting: every input is indexed like the output
    std::vector<int64_t> offsets(k);
    for (int64_t i = 0; i < n; ++i) {
      std::fill(offsets.begin(), offsets.end(), i);
      fn(i, offsets);
    }
    return;
  }
  std::vector<std::vector<int64_t>> strides(k);
  for (size_t j = 0; j < k; ++j) strides[j] = broadcast_strides(in_shapes[j], out_shape);
  std::vector<int64_t> counter(r, 0), offsets(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(i, offsets);
    for (size_t d = r; d-- > 0;) {  // odometer increment, adjusting every input's offset
      ++counter[d];
      for (size_t j = 0; j < k; ++j) offsets[j] += strides[j][d];
      if (counter[d] < out_shape[d]) break;
      for (size_t j = 0; j < k; ++j) offsets[j] -= strides[j][d] * counter[d];
      counter[d] = 0;
    }
  }
}

// Maps a possibly negative axis into [0, rank); fails when out of range.
int normalize_axis(const OpContext& ctx, int64_t axis, int rank);
std::vector<int> normalize_axes(const OpContext& ctx, const std::vector<int64_t>& axes, int rank);

// Row-major strides of a shape.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Shape rule "output 0 has input 0's type and shape".
bool infer_same_as_input(OpContext& ctx);

// Integer list from an optional input (e.g. axes, shape); empty when the input is absent. Returns false when the
// input is present but its value is not known yet (static inference).
bool int_list_input(const OpContext& ctx, int i, std::vector<int64_t>& out);

}  // namespace infera
