// MatMul (numpy matmul semantics) and Gemm, both on the shared gemm kernel.
#include "ops/gemm_kernel.h"
#include "ops/helpers.h"

namespace infera {

namespace {

bool is_gemm_type(DType t) {
  return dtype_is_float(t) || t == DType::Int32 || t == DType::Int64 || t == DType::UInt32 || t == DType::UInt64;
}

// Calls f with the type tag of one of the types the gemm kernel is instantiated for (16-bit floats compute in
// float); fails for the others.
template <class F>
void visit_gemm_type(const OpContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::UInt32: return f(TypeTag<uint32_t>{});
    case DType::UInt64: return f(TypeTag<uint64_t>{});
    default:
      if (!dtype_is_float(t)) ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
      visit_float(t, f);
  }
}

void check_same_gemm_types(const OpContext& ctx, int count) {
  if (!is_gemm_type(ctx.dtype(0))) ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  for (int i = 1; i < count; ++i)
    if (ctx.has_input(i) && ctx.dtype(i) != ctx.dtype(0))
      ctx.fail("input types differ: " + std::string(dtype_name(ctx.dtype(0))) + " and " +
               std::string(dtype_name(ctx.dtype(i))));
}

// MatMul's operands as batches of matrices: 1-D operands are promoted (and the promoted dim dropped from the
// output), batch dims broadcast.
struct MatMulShape {
  Shape a_batch, b_batch, batch;  // a_batch / b_batch are padded to the rank of batch
  int64_t m = 0, k = 0, n = 0;
  Shape output;
};

MatMulShape matmul_shape(const OpContext& ctx) {
  Shape a = ctx.shape(0), b = ctx.shape(1);
  if (a.empty() || b.empty()) ctx.fail("inputs must have rank >= 1, got " + shape_str(a) + " and " + shape_str(b));
  const bool a_vector = a.size() == 1, b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  MatMulShape s;
  s.m = a[a.size() - 2];
  s.k = a.back();
  s.n = b.back();
  if (b[b.size() - 2] != s.k)
    ctx.fail("inner dimensions differ: " + shape_str(ctx.shape(0)) + " and " + shape_str(ctx.shape(1)));
  s.a_batch.assign(a.begin(), a.end() - 2);
  s.b_batch.assign(b.begin(), b.end() - 2);
  s.batch = broadcast_shapes(ctx, {s.a_batch, s.b_batch});
  s.a_batch.insert(s.a_batch.begin(), s.batch.size() - s.a_batch.size(), 1);
  s.b_batch.insert(s.b_batch.begin(), s.batch.size() - s.b_batch.size(), 1);
  s.output = s.batch;
  if (!a_vector) s.output.push_back(s.m);
  if (!b_vector) s.output.push_back(s.n);
  return s;
}

bool infer_matmul(OpContext& ctx) {
  check_same_gemm_types(ctx, 2);
  ctx.set_output(0, ctx.dtype(0), matmul_shape(ctx).output);
  return true;
}

void matmul(OpContext& ctx) {
  const MatMulShape s = matmul_shape(ctx);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit_gemm_type(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    ComputeInput<T> as(a.data<T>(), a.numel()), bs(b.data<T>(), b.numel());
    const int64_t a_step = s.m * s.k, b_step = s.k * s.n, y_step = s.m * s.n;
    write_as_compute(y.data<T>(), y.numel(), [&](C* py) {
      broadcast_loop<2>(s.batch, {s.a_batch, s.b_batch}, [&](int64_t i, const std::array<int64_t, 2>& off) {
        gemm<C>(false, false, s.m, s.n, s.k, C(1), as.data() + off[0] * a_step, s.k, bs.data() + off[1] * b_step,
                s.n, C(0), py + i * y_step, s.n);
      });
    });
  });
}

Cost matmul_cost(const OpContext& ctx) {
  const MatMulShape s = matmul_shape(ctx);
  Cost c = elementwise_cost(ctx, 0);
  c.flops = 2.0 * double(shape_numel(s.batch)) * double(s.m) * double(s.n) * double(s.k);
  c.matrix = {shape_numel(s.batch), s.m, s.n, s.k};
  return c;
}

struct GemmShape {
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
};

GemmShape gemm_shape(const OpContext& ctx) {
  const Shape& a = ctx.shape(0);
  const Shape& b = ctx.shape(1);
  if (a.size() != 2 || b.size() != 2) ctx.fail("A and B must be 2-D, got " + shape_str(a) + " and " + shape_str(b));
  GemmShape s;
  s.trans_a = ctx.node().attr_int("transA", 0) != 0;
  s.trans_b = ctx.node().attr_int("transB", 0) != 0;
  s.m = s.trans_a ? a[1] : a[0];
  s.k = s.trans_a ? a[0] : a[1];
  s.n = s.trans_b ? b[0] : b[1];
  if ((s.trans_b ? b[1] : b[0]) != s.k)
    ctx.fail("inner dimensions differ: A " + shape_str(a) + " and B " + shape_str(b) + " (transA=" +
             std::to_string(s.trans_a) + ", transB=" + std::to_string(s.trans_b) + ")");
  if (ctx.has_input(2)) {
    const Shape& c = ctx.shape(2);
    if (broadcast_shapes(ctx, {c, Shape{s.m, s.n}}) != Shape{s.m, s.n})
      ctx.fail("C of shape " + shape_str(c) + " does not broadcast to " + shape_str({s.m, s.n}));
  }
  return s;
}

bool infer_gemm(OpContext& ctx) {
  check_same_gemm_types(ctx, 3);
  const GemmShape s = gemm_shape(ctx);
  ctx.set_output(0, ctx.dtype(0), {s.m, s.n});
  return true;
}

void gemm_op(OpContext& ctx) {
  const GemmShape s = gemm_shape(ctx);
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  const double alpha = ctx.node().attr_float("alpha", 1.0f), beta = ctx.node().attr_float("beta", 1.0f);
  visit_gemm_type(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    ComputeInput<T> as(a.data<T>(), a.numel()), bs(b.data<T>(), b.numel());
    T* py = y.data<T>();
    if (c) {  // Y starts as C broadcast to M x N; the product is accumulated onto beta * Y
      const T* pc = c->data<T>();
      broadcast_loop<1>(y.shape(), {c->shape()},
                        [&](int64_t i, const std::array<int64_t, 1>& off) { py[i] = pc[off[0]]; });
    }
    write_as_compute(py, y.numel(), [&](C* out) {
      gemm<C>(s.trans_a, s.trans_b, s.m, s.n, s.k, C(alpha), as.data(), s.trans_a ? s.m : s.k, bs.data(),
              s.trans_b ? s.k : s.n, c ? C(beta) : C(0), out, s.n);
    });
  });
}

Cost gemm_cost(const OpContext& ctx) {
  const GemmShape s = gemm_shape(ctx);
  Cost c = elementwise_cost(ctx, 0);
  c.flops = 2.0 * double(s.m) * double(s.n) * double(s.k) + (ctx.has_input(2) ? 2.0 * double(s.m) * double(s.n) : 0);
  c.matrix = {1, s.m, s.n, s.k};
  return c;
}

}  // namespace

void register_matmul_ops(OpTable& t) {
  t.add({.name = "MatMul", .infer = infer_matmul, .compute = matmul, .cost = matmul_cost});
  t.add({.name = "Gemm", .infer = infer_gemm, .compute = gemm_op, .cost = gemm_cost});
}

}  // namespace infera
