// Einsum: the equation is parsed into labels per input dim and per output dim; the result is a single nested-loop
// contraction over every label (output labels and summed labels), which also covers diagonals (repeated labels)
// and broadcasting of ellipsis dims.
#include <algorithm>
#include <cctype>
#include <map>

#include "ops/helpers.h"

namespace infera {

namespace {

// Letters are labelled by their character; the k-th of the (right-aligned) ellipsis dims by kEllipsis + k.
constexpr int kEllipsis = 256;

struct EinsumPlan {
  std::vector<std::vector<int>> inputs;  // label of every dim of every input
  std::vector<int> output;               // label of every output dim
  std::vector<int> labels;               // every label: the output's first, then the summed ones
  std::map<int, int64_t> size;           // extent of each label
};

// Labels of one term ("ab...c"); `rank` is the input's rank, or -1 for the output term (ellipsis_rank dims).
// Ellipsis dims are labelled -n .. -1 here (counted from the right, since they are right-aligned across terms);
// resolve_ellipsis maps them to kEllipsis + k once the widest ellipsis is known.
std::vector<int> parse_term(const OpContext& ctx, const std::string& term, int rank, int& ellipsis_rank) {
  std::vector<int> labels;
  const size_t dots = term.find("...");
  if (dots != std::string::npos && term.find("...", dots + 1) != std::string::npos)
    ctx.fail("term '" + term + "' has more than one ellipsis");
  const std::string letters = dots == std::string::npos ? term : term.substr(0, dots) + term.substr(dots + 3);
  for (char c : letters)
    if (!std::isalpha(static_cast<unsigned char>(c))) ctx.fail("invalid character '" + std::string(1, c) + "' in equation");
  int here = 0;  // ellipsis dims of this term
  if (dots != std::string::npos) {
    here = rank < 0 ? ellipsis_rank : rank - int(letters.size());
    if (here < 0) ctx.fail("term '" + term + "' has more labels than the input's rank " + std::to_string(rank));
  } else if (rank >= 0 && int(letters.size()) != rank) {
    ctx.fail("term '" + term + "' does not match the input's rank " + std::to_string(rank));
  }
  if (rank >= 0) ellipsis_rank = std::max(ellipsis_rank, here);
  for (size_t i = 0; i < term.size();) {
    if (i == dots) {
      for (int k = here; k > 0; --k) labels.push_back(-k);
      i += 3;
    } else {
      labels.push_back(term[i++]);
    }
  }
  return labels;
}

void resolve_ellipsis(std::vector<int>& labels, int ellipsis_rank) {
  for (int& l : labels)
    if (l < 0) l += kEllipsis + ellipsis_rank;
}

std::string label_name(int l) { return l < kEllipsis ? std::string(1, char(l)) : std::string("..."); }

EinsumPlan einsum_plan(const OpContext& ctx) {
  std::string eq;
  for (char c : ctx.node().attr_string("equation", "")) if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (int(terms.size()) != ctx.num_inputs())
    ctx.fail("equation '" + eq + "' names " + std::to_string(terms.size()) + " inputs, node has " +
             std::to_string(ctx.num_inputs()));
  EinsumPlan plan;
  int ellipsis_rank = 0;
  for (size_t i = 0; i < terms.size(); ++i) plan.inputs.push_back(parse_term(ctx, terms[i], ctx.rank(int(i)), ellipsis_rank));
  for (auto& labels : plan.inputs) resolve_ellipsis(labels, ellipsis_rank);
  std::map<int, int> count;
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const Shape& shape = ctx.shape(int(i));
    for (size_t d = 0; d < shape.size(); ++d) {
      const int l = plan.inputs[i][d];
      ++count[l];
      auto [it, fresh] = plan.size.emplace(l, shape[d]);
      if (fresh || it->second == shape[d]) continue;
      if (l >= kEllipsis && (it->second == 1 || shape[d] == 1)) {  // ellipsis dims broadcast
        it->second = std::max(it->second, shape[d]);
        continue;
      }
      ctx.fail("label '" + label_name(l) + "' has sizes " +
               std::to_string(it->second) + " and " + std::to_string(shape[d]));
    }
  }
  if (arrow != std::string::npos) {
    plan.output = parse_term(ctx, eq.substr(arrow + 2), -1, ellipsis_rank);
    resolve_ellipsis(plan.output, ellipsis_rank);
    for (int l : plan.output)
      if (!plan.size.count(l) || std::count(plan.output.begin(), plan.output.end(), l) != 1)
        ctx.fail("output label '" + label_name(l) + "' must appear once in the output and in some input");
  } else {  // implicit output: ellipsis dims, then the labels used once, in alphabetical order
    for (int k = 0; k < ellipsis_rank; ++k) plan.output.push_back(kEllipsis + k);
    for (auto [l, n] : count)
      if (l < kEllipsis && n == 1) plan.output.push_back(l);
  }
  plan.labels = plan.output;
  for (auto [l, n] : plan.size)
    if (std::find(plan.output.begin(), plan.output.end(), l) == plan.output.end()) plan.labels.push_back(l);
  return plan;
}

Shape output_shape(const EinsumPlan& plan) {
  Shape s;
  for (int l : plan.output) s.push_back(plan.size.at(l));
  return s;
}

bool infer_einsum(OpContext& ctx) {
  if (ctx.num_inputs() < 1) ctx.fail("at least one input is required");
  for (int i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.dtype(i) != ctx.dtype(0)) ctx.fail("input types differ");
  if (!dtype_is_float(ctx.dtype(0)) && !dtype_is_integer(ctx.dtype(0)))
    ctx.fail("type " + std::string(dtype_name(ctx.dtype(0))) + " is not supported");
  ctx.set_output(0, ctx.dtype(0), output_shape(einsum_plan(ctx)));
  return true;
}

void einsum(OpContext& ctx) {
  const EinsumPlan plan = einsum_plan(ctx);
  const size_t num_labels = plan.labels.size(), num_inputs = plan.inputs.size();
  // Per label: its extent and the step it makes in every input's flat offset and in the output's; a repeated
  // label (diagonal) adds its dims' strides, a broadcast dim of extent 1 contributes none.
  std::vector<int64_t> extent(num_labels), out_step(num_labels, 0);
  std::vector<std::vector<int64_t>> in_step(num_labels, std::vector<int64_t>(num_inputs, 0));
  const std::vector<int64_t> out_strides = contiguous_strides(output_shape(plan));
  for (size_t l = 0; l < num_labels; ++l) {
    extent[l] = plan.size.at(plan.labels[l]);
    if (l < plan.output.size()) out_step[l] = out_strides[l];
    for (size_t i = 0; i < num_inputs; ++i) {
      const Shape& shape = ctx.input(int(i)).shape();
      const std::vector<int64_t> strides = contiguous_strides(shape);
      for (size_t d = 0; d < shape.size(); ++d)
        if (plan.inputs[i][d] == plan.labels[l] && shape[d] != 1) in_step[l][i] += strides[d];
    }
  }
  Tensor& y = ctx.output(0);
  int64_t total = 1;
  for (int64_t e : extent) total *= e;
  visit_numeric(ctx.dtype(0), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    std::vector<const T*> in(num_inputs);
    for (size_t i = 0; i < num_inputs; ++i) in[i] = ctx.input(int(i)).data<T>();
    std::vector<C> acc(size_t(y.numel()), C(0));
    std::vector<int64_t> counter(num_labels, 0), offset(num_inputs, 0);
    int64_t out_offset = 0;
    for (int64_t n = 0; n < total; ++n) {
      C product = C(in[0][offset[0]]);
      for (size_t i = 1; i < num_inputs; ++i) product *= C(in[i][offset[i]]);
      acc[size_t(out_offset)] += product;
      for (size_t l = num_labels; l-- > 0;) {  // odometer over every label
        ++counter[l];
        out_offset += out_step[l];
        for (size_t i = 0; i < num_inputs; ++i) offset[i] += in_step[l][i];
        if (counter[l] < extent[l]) break;
        out_offset -= out_step[l] * extent[l];
        for (size_t i = 0; i < num_inputs; ++i) offset[i] -= in_step[l][i] * extent[l];
        counter[l] = 0;
      }
    }
    T* py = y.data<T>();
    for (size_t i = 0; i < acc.size(); ++i) py[i] = T(acc[i]);
  });
}

Cost einsum_cost(const OpContext& ctx) {
  const EinsumPlan plan = einsum_plan(ctx);
  double total = 1;
  for (int l : plan.labels) total *= double(plan.size.at(l));
  Cost c = elementwise_cost(ctx, 0);
  c.flops = total * double(plan.inputs.size());  // (inputs - 1) multiplies and one add per combination
  return c;
}

}  // namespace

void register_einsum_ops(OpTable& t) {
  t.add({.name = "Einsum", .infer = infer_einsum, .compute = einsum, .cost = einsum_cost});
}

}  // namespace infera
