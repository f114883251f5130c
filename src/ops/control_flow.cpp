// Control flow: If, Loop and Scan run subgraphs through ctx.run_subgraph, which evaluates them in the scope of the
// node (names a body does not define come from the enclosing graphs). Their output shapes depend on the data, so
// infer() only checks the structure and returns false.
#include <cstring>
#include <limits>

#include "ops/helpers.h"

namespace infera {
namespace {

const Graph& graph_attr(const OpContext& ctx, const char* name) {
  const Graph* g = ctx.node().attr_graph(name);
  if (!g) ctx.fail(std::string("missing graph attribute '") + name + "'");
  return *g;
}

std::string count_str(size_t n) { return std::to_string(n); }

void check_scalar_input(const OpContext& ctx, int i, DType dtype, const char* what) {
  if (!ctx.has_input(i)) return;
  if (ctx.dtype(i) != dtype) ctx.fail(std::string(what) + " must be " + std::string(dtype_name(dtype)));
  if (ctx.input_type(i).shape_known && shape_numel(ctx.shape(i)) != 1)
    ctx.fail(std::string(what) + " must hold one value, got shape " + shape_str(ctx.shape(i)));
}

std::vector<Tensor> run_body(const OpContext& ctx, const Graph& body, const std::vector<Tensor>& inputs,
                             size_t expected_outputs) {
  std::vector<Tensor> outs = ctx.run_subgraph(body, inputs);
  if (outs.size() != expected_outputs)
    ctx.fail("subgraph '" + body.name + "' produced " + count_str(outs.size()) + " outputs, expected " +
             count_str(expected_outputs));
  return outs;
}

// Slice `index` of t along `axis`, with that axis removed.
Tensor slice_along(const Tensor& t, int axis, int64_t index) {
  Shape shape = t.shape();
  const int64_t len = shape[size_t(axis)];
  shape.erase(shape.begin() + axis);
  Tensor out(t.dtype(), shape);
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= t.dim(i);
  const size_t chunk = out.nbytes() / size_t(std::max<int64_t>(outer, 1));
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + size_t(o) * chunk, src + size_t(o * len + index) * chunk, chunk);
  return out;
}

// Stacks equally shaped tensors along a new axis `axis` (negative counts from the end of the result). With no
// parts the result is empty along that axis, typed from the subgraph's declaration of the value.
Tensor stack_along(const OpContext& ctx, const std::vector<Tensor>& parts, int64_t axis, const ValueInfo& declared) {
  if (parts.empty()) {
    if (declared.dtype == DType::Undefined)
      ctx.fail("cannot build the empty output '" + declared.name + "': its type is not declared");
    Shape shape;
    for (const Dim& d : declared.dims) shape.push_back(d.fixed() ? d.value : 0);
    const int a = normalize_axis(ctx, axis, int(shape.size()) + 1);
    shape.insert(shape.begin() + a, 0);
    return Tensor(declared.dtype, shape);
  }
  const Tensor& first = parts[0];
  for (const Tensor& p : parts)
    if (p.dtype() != first.dtype() || p.shape() != first.shape())
      ctx.fail("scan output '" + declared.name + "' changes from " + shape_str(first.shape()) + " " +
               std::string(dtype_name(first.dtype())) + " to " + shape_str(p.shape()) + " " +
               std::string(dtype_name(p.dtype())) + " between iterations");
  const int a = normalize_axis(ctx, axis, first.rank() + 1);
  Shape shape = first.shape();
  shape.insert(shape.begin() + a, int64_t(parts.size()));
  Tensor out(first.dtype(), shape);
  int64_t outer = 1;
  for (int i = 0; i < a; ++i) outer *= first.dim(i);
  const size_t chunk = first.nbytes() / size_t(std::max<int64_t>(outer, 1));
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t t = 0; t < parts.size(); ++t)
      std::memcpy(dst + (size_t(o) * parts.size() + t) * chunk,
                  static_cast<const std::byte*>(parts[t].raw()) + size_t(o) * chunk, chunk);
  return out;
}

// ---- If ----

bool infer_if(OpContext& ctx) {
  check_scalar_input(ctx, 0, DType::Bool, "condition");
  for (const char* branch : {"then_branch", "else_branch"}) {
    const Graph& g = graph_attr(ctx, branch);
    if (g.outputs.size() != size_t(ctx.num_outputs()))
      ctx.fail(std::string(branch) + " has " + count_str(g.outputs.size()) + " outputs, the node " +
               std::to_string(ctx.num_outputs()));
  }
  return false;
}

void compute_if(OpContext& ctx) {
  const bool cond = ctx.input(0).as_int(0) != 0;
  const Graph& branch = graph_attr(ctx, cond ? "then_branch" : "else_branch");
  std::vector<Tensor> outs = run_body(ctx, branch, {}, size_t(ctx.num_outputs()));
  for (int i = 0; i < ctx.num_outputs(); ++i) ctx.set_output_tensor(i, std::move(outs[size_t(i)]));
}

// ---- Loop ----
// Inputs (M, cond, v_initial...); body inputs (iteration_num, cond, carried...), body outputs
// (cond, carried..., scan...); node outputs (final carried..., scan outputs stacked along a new first axis).

struct LoopArity {
  size_t carried = 0, scans = 0;
};

LoopArity loop_arity(const OpContext& ctx) {
  const Graph& body = graph_attr(ctx, "body");
  if (ctx.num_inputs() < 2) ctx.fail("Loop takes at least the inputs M and cond (either may be empty)");
  LoopArity a;
  a.carried = size_t(ctx.num_inputs() - 2);
  if (size_t(ctx.num_outputs()) < a.carried)
    ctx.fail("has " + count_str(a.carried) + " loop-carried inputs but only " + std::to_string(ctx.num_outputs()) +
             " outputs");
  a.scans = size_t(ctx.num_outputs()) - a.carried;
  if (body.inputs.size() != 2 + a.carried)
    ctx.fail("body takes " + count_str(body.inputs.size()) + " inputs, expected " + count_str(2 + a.carried) +
             " (iteration_num, cond, loop-carried values)");
  if (body.outputs.size() != 1 + a.carried + a.scans)
    ctx.fail("body produces " + count_str(body.outputs.size()) + " outputs, expected " +
             count_str(1 + a.carried + a.scans) + " (cond, loop-carried values, scan outputs)");
  return a;
}

bool infer_loop(OpContext& ctx) {
  check_scalar_input(ctx, 0, DType::Int64, "trip count M");
  check_scalar_input(ctx, 1, DType::Bool, "cond");
  loop_arity(ctx);
  return false;
}

void compute_loop(OpContext& ctx) {
  const LoopArity arity = loop_arity(ctx);
  const Graph& body = graph_attr(ctx, "body");
  const bool has_trip_count = ctx.has_input(0), has_cond = ctx.has_input(1);
  if (!has_trip_count && !has_cond) ctx.fail("has neither a trip count nor a condition: it would never end");
  const int64_t trip_count = has_trip_count ? ctx.input(0).as_int(0) : std::numeric_limits<int64_t>::max();
  bool cond = has_cond ? ctx.input(1).as_int(0) != 0 : true;

  std::vector<Tensor> body_inputs(2 + arity.carried);
  for (size_t j = 0; j < arity.carried; ++j) body_inputs[2 + j] = ctx.input(int(2 + j));
  std::vector<std::vector<Tensor>> scans(arity.scans);
  for (int64_t i = 0; i < trip_count && cond; ++i) {
    body_inputs[0] = Tensor::scalar<int64_t>(i);
    body_inputs[1] = Tensor::scalar<bool>(cond);
    std::vector<Tensor> outs = run_body(ctx, body, body_inputs, 1 + arity.carried + arity.scans);
    if (has_cond) {  // without a cond input the body's condition output is ignored (a plain for loop)
      if (outs[0].numel() != 1) ctx.fail("body condition output must hold one value");
      cond = outs[0].as_int(0) != 0;
    }
    for (size_t j = 0; j < arity.carried; ++j) body_inputs[2 + j] = std::move(outs[1 + j]);
    for (size_t j = 0; j < arity.scans; ++j) scans[j].push_back(std::move(outs[1 + arity.carried + j]));
  }
  for (size_t j = 0; j < arity.carried; ++j) ctx.set_output_tensor(int(j), body_inputs[2 + j]);
  for (size_t j = 0; j < arity.scans; ++j)
    ctx.set_output_tensor(int(arity.carried + j), stack_along(ctx, scans[j], 0, body.outputs[1 + arity.carried + j]));
}

// ---- Scan ----
// Opset 9+: inputs (state..., scan inputs...), each scan input sliced along its scan_input_axes entry; body inputs
// (state..., slices...), body outputs (state..., scan elements...); node outputs (final state..., scan outputs).
// Opset 8 adds a leading optional sequence_lens input and a batch axis 0 on every input and output; the batch
// entries are scanned independently along axis 1.

struct ScanSpec {
  size_t states = 0, scan_inputs = 0, scan_outputs = 0;
  std::vector<int64_t> input_axes, input_reverse, output_axes, output_reverse;
};

std::vector<int64_t> per_item_attr(const OpContext& ctx, const char* name, size_t count) {
  std::vector<int64_t> v = ctx.node().attr_ints(name, std::vector<int64_t>(count, 0));
  if (v.size() != count)
    ctx.fail(std::string(name) + " has " + count_str(v.size()) + " entries, expected " + count_str(count));
  return v;
}

ScanSpec scan_spec(const OpContext& ctx) {
  const Graph& body = graph_attr(ctx, "body");
  const int first = ctx.opset() < 9 ? 1 : 0;  // opset 8: input 0 is sequence_lens
  const int64_t m = ctx.node().attr_int("num_scan_inputs", -1);
  if (m < 1 || m > ctx.num_inputs() - first)
    ctx.fail("num_scan_inputs " + std::to_string(m) + " is out of range for " + std::to_string(ctx.num_inputs()) +
             " inputs");
  ScanSpec s;
  s.scan_inputs = size_t(m);
  s.states = size_t(ctx.num_inputs() - first) - s.scan_inputs;
  if (size_t(ctx.num_outputs()) < s.states)
    ctx.fail("has " + count_str(s.states) + " state inputs but only " + std::to_string(ctx.num_outputs()) + " outputs");
  s.scan_outputs = size_t(ctx.num_outputs()) - s.states;
  if (body.inputs.size() != s.states + s.scan_inputs)
    ctx.fail("body takes " + count_str(body.inputs.size()) + " inputs, expected " +
             count_str(s.states + s.scan_inputs));
  if (body.outputs.size() != s.states + s.scan_outputs)
    ctx.fail("body produces " + count_str(body.outputs.size()) + " outputs, expected " +
             count_str(s.states + s.scan_outputs));
  if (ctx.opset() < 9) {
    s.input_axes.assign(s.scan_inputs, 0);
    s.input_reverse = per_item_attr(ctx, "directions", s.scan_inputs);
  } else {
    s.input_axes = per_item_attr(ctx, "scan_input_axes", s.scan_inputs);
    s.input_reverse = per_item_attr(ctx, "scan_input_directions", s.scan_inputs);
  }
  s.output_axes = ctx.opset() < 9 ? std::vector<int64_t>(s.scan_outputs, 0)
                                  : per_item_attr(ctx, "scan_output_axes", s.scan_outputs);
  s.output_reverse = ctx.opset() < 9 ? std::vector<int64_t>(s.scan_outputs, 0)
                                     : per_item_attr(ctx, "scan_output_directions", s.scan_outputs);
  return s;
}

bool infer_scan(OpContext& ctx) {
  scan_spec(ctx);
  return false;
}

// One scan: `states` then `scan_inputs` in, final states then stacked scan outputs out.
std::vector<Tensor> run_scan(const OpContext& ctx, const ScanSpec& s, std::vector<Tensor> states,
                             const std::vector<Tensor>& scan_inputs) {
  const Graph& body = graph_attr(ctx, "body");
  std::vector<int> axes(s.scan_inputs);
  int64_t length = -1;
  for (size_t j = 0; j < s.scan_inputs; ++j) {
    axes[j] = normalize_axis(ctx, s.input_axes[j], scan_inputs[j].rank());
    const int64_t len = scan_inputs[j].dim(axes[j]);
    if (length >= 0 && len != length)
      ctx.fail("scan inputs have different lengths: " + std::to_string(length) + " and " + std::to_string(len));
    length = len;
  }
  std::vector<Tensor> body_inputs = std::move(states);
  body_inputs.resize(s.states + s.scan_inputs);
  std::vector<std::vector<Tensor>> elements(s.scan_outputs);
  for (int64_t t = 0; t < length; ++t) {
    for (size_t j = 0; j < s.scan_inputs; ++j)
      body_inputs[s.states + j] = slice_along(scan_inputs[j], axes[j], s.input_reverse[j] ? length - 1 - t : t);
    std::vector<Tensor> outs = run_body(ctx, body, body_inputs, s.states + s.scan_outputs);
    for (size_t j = 0; j < s.states; ++j) body_inputs[j] = std::move(outs[j]);
    for (size_t j = 0; j < s.scan_outputs; ++j) elements[j].push_back(std::move(outs[s.states + j]));
  }
  std::vector<Tensor> results(body_inputs.begin(), body_inputs.begin() + std::ptrdiff_t(s.states));
  for (size_t j = 0; j < s.scan_outputs; ++j) {
    if (s.output_reverse[j]) std::reverse(elements[j].begin(), elements[j].end());
    results.push_back(stack_along(ctx, elements[j], s.output_axes[j], body.outputs[s.states + j]));
  }
  return results;
}

// Opset 8: every batch entry is one scan, and the results are stacked back along the batch axis.
std::vector<Tensor> run_batched_scan(const OpContext& ctx, const ScanSpec& s) {
  const Graph& body = graph_attr(ctx, "body");
  const int64_t batch = ctx.input(1).rank() > 0 ? ctx.input(1).dim(0) : 0;
  for (int i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.input(i).rank() < 1 || ctx.input(i).dim(0) != batch)
      ctx.fail("every input needs the batch size " + std::to_string(batch) + " as its first dim");
  for (size_t j = 0; j < s.scan_inputs; ++j)
    if (ctx.input(int(1 + s.states + j)).rank() < 2) ctx.fail("scan inputs need a batch and a sequence axis");
  if (ctx.has_input(0)) {
    const int64_t length = ctx.input(int(1 + s.states)).dim(1);
    for (int64_t len : ctx.input(0).to_int_vector())
      if (len != length) ctx.fail("sequence_lens different from the full sequence length are not supported");
  }
  std::vector<std::vector<Tensor>> per_output(s.states + s.scan_outputs);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> states, scan_inputs;
    for (size_t j = 0; j < s.states; ++j) states.push_back(slice_along(ctx.input(int(1 + j)), 0, b));
    for (size_t j = 0; j < s.scan_inputs; ++j)
      scan_inputs.push_back(slice_along(ctx.input(int(1 + s.states + j)), 0, b));
    std::vector<Tensor> results = run_scan(ctx, s, std::move(states), scan_inputs);
    for (size_t j = 0; j < results.size(); ++j) per_output[j].push_back(std::move(results[j]));
  }
  std::vector<Tensor> outputs;
  for (size_t j = 0; j < per_output.size(); ++j) {
    ValueInfo declared = body.outputs[j];
    if (j >= s.states) declared.dims.insert(declared.dims.begin(), Dim{0, ""});  // the empty sequence axis
    outputs.push_back(stack_along(ctx, per_output[j], 0, declared));
  }
  return outputs;
}

void compute_scan(OpContext& ctx) {
  const ScanSpec s = scan_spec(ctx);
  std::vector<Tensor> outputs;
  if (ctx.opset() < 9) {
    outputs = run_batched_scan(ctx, s);
  } else {
    std::vector<Tensor> states, scan_inputs;
    for (size_t j = 0; j < s.states; ++j) states.push_back(ctx.input(int(j)));
    for (size_t j = 0; j < s.scan_inputs; ++j) scan_inputs.push_back(ctx.input(int(s.states + j)));
    outputs = run_scan(ctx, s, std::move(states), scan_inputs);
  }
  for (size_t j = 0; j < outputs.size(); ++j) ctx.set_output_tensor(int(j), std::move(outputs[j]));
}

}  // namespace

void register_control_flow_ops(OpTable& t) {
  t.add({.name = "If", .infer = infer_if, .compute = compute_if, .foldable = false});
  t.add({.name = "Loop", .infer = infer_loop, .compute = compute_loop, .foldable = false});
  t.add({.name = "Scan", .infer = infer_scan, .compute = compute_scan, .foldable = false});
}

}  // namespace infera
