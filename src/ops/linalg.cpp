// Linear algebra: Det over the last two dimensions, by LU decomposition with partial pivoting in double precision.
#include <cmath>

#include "ops/helpers.h"

namespace infera {
namespace {

bool infer_det(OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("input must be a float tensor");
  const Shape& s = ctx.shape(0);
  if (s.size() < 2 || s[s.size() - 1] != s[s.size() - 2])
    ctx.fail("input must be a batch of square matrices, not " + shape_str(s));
  ctx.set_output(0, ctx.dtype(0), Shape(s.begin(), s.end() - 2));
  return true;
}

// Determinant of the n x n row-major matrix a, which is destroyed.
double lu_determinant(double* a, int64_t n) {
  double det = 1;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    if (a[pivot * n + col] == 0) return 0;
    if (pivot != col) {
      std::swap_ranges(a + pivot * n, a + pivot * n + n, a + col * n);
      det = -det;
    }
    const double p = a[col * n + col];
    det *= p;
    for (int64_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / p;
      for (int64_t c = col + 1; c < n; ++c) a[r * n + c] -= f * a[col * n + c];
    }
  }
  return det;
}

void det(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t n = x.dim(x.rank() - 1);
  const int64_t count = y.numel();
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<double> m(size_t(n * n));
    for (int64_t b = 0; b < count; ++b) {
      const T* src = px + b * n * n;
      for (int64_t i = 0; i < n * n; ++i) m[size_t(i)] = double(compute_t<T>(src[i]));
      py[b] = T(compute_t<T>(lu_determinant(m.data(), n)));
    }
  });
}

Cost det_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const Shape& s = ctx.shape(0);
  const double n = s.empty() ? 0 : double(s.back());
  c.flops = double(shape_numel(ctx.output_type(0).shape)) * 2.0 / 3.0 * n * n * n;
  return c;
}

}  // namespace

void register_linalg_ops(OpTable& t) { t.add({.name = "Det", .infer = infer_det, .compute = det, .cost = det_cost}); }

}  // namespace infera
