// Recurrent layers: RNN, GRU, LSTM. One driver walks the time steps of each direction; the three cells differ only
// in their gate count, default activations and the per-step update.
#include <cctype>
#include <cmath>

#include "ops/gemm_kernel.h"
#include "ops/helpers.h"

namespace infera {
namespace {

enum class Kind { Rnn, Gru, Lstm };

struct CellSpec {
  int gates;                // rows of W per hidden unit
  int activations;          // activation functions per direction
  const char* defaults[3];  // their defaults
};

constexpr CellSpec spec_of(Kind k) {
  switch (k) {
    case Kind::Rnn: return {1, 1, {"Tanh", nullptr, nullptr}};
    case Kind::Gru: return {3, 2, {"Sigmoid", "Tanh", nullptr}};
    case Kind::Lstm: return {4, 3, {"Sigmoid", "Tanh", "Tanh"}};
  }
  return {};
}

// Inputs: X, W, R, B, sequence_lens, initial_h, then initial_c and P for LSTM.
constexpr int kX = 0, kW = 1, kR = 2, kB = 3, kSeqLens = 4, kInitialH = 5, kInitialC = 6, kPeephole = 7;

enum class ActKind { Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign,
                     Softplus };

struct Activation {
  ActKind kind = ActKind::Tanh;
  double alpha = 0, beta = 0;

  template <class C>
  C operator()(C x) const {
    const C a = C(alpha), b = C(beta);
    switch (kind) {
      case ActKind::Relu: return x > 0 ? x : C(0);
      case ActKind::Tanh: return std::tanh(x);
      case ActKind::Sigmoid: return C(1) / (C(1) + std::exp(-x));
      case ActKind::Affine: return a * x + b;
      case ActKind::LeakyRelu: return x >= 0 ? x : a * x;
      case ActKind::ThresholdedRelu: return x > a ? x : C(0);
      case ActKind::ScaledTanh: return a * std::tanh(b * x);
      case ActKind::HardSigmoid: return std::max(C(0), std::min(C(1), a * x + b));
      case ActKind::Elu: return x >= 0 ? x : a * (std::exp(x) - C(1));
      case ActKind::Softsign: return x / (C(1) + std::abs(x));
      case ActKind::Softplus: return std::log1p(std::exp(x));
    }
    return x;
  }
};

struct ActivationInfo {
  const char* name;
  ActKind kind;
  bool uses_alpha, uses_beta;
  double default_alpha, default_beta;
};

constexpr ActivationInfo kActivations[] = {
    {"relu", ActKind::Relu, false, false, 0, 0},
    {"tanh", ActKind::Tanh, false, false, 0, 0},
    {"sigmoid", ActKind::Sigmoid, false, false, 0, 0},
    {"affine", ActKind::Affine, true, true, 1.0, 0.0},
    {"leakyrelu", ActKind::LeakyRelu, true, false, 0.01, 0},
    {"thresholdedrelu", ActKind::ThresholdedRelu, true, false, 1.0, 0},
    {"scaledtanh", ActKind::ScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", ActKind::HardSigmoid, true, true, 0.2, 0.5},
    {"elu", ActKind::Elu, true, false, 1.0, 0},
    {"softsign", ActKind::Softsign, false, false, 0, 0},
    {"softplus", ActKind::Softplus, false, false, 0, 0},
};

// Everything the attributes and input shapes say about one recurrent node.
struct RecurrentConfig {
  Kind kind;
  int num_directions = 1;
  bool reverse_only = false;
  bool batch_major = false;  // layout = 1
  int64_t seq_length = 0, batch = 0, input_size = 0, hidden = 0;
  double clip = 0;  // 0: no clipping
  bool linear_before_reset = false;
  bool input_forget = false;
  std::vector<Activation> activations;  // spec.activations per direction, forward first
};

// activation_alpha / activation_beta are consumed in order by the activations that take them.
std::vector<Activation> parse_activations(const OpContext& ctx, const CellSpec& spec, int num_directions) {
  const Node& n = ctx.node();
  std::vector<std::string> names = n.attr_strings("activations");
  const size_t wanted = size_t(spec.activations * num_directions);
  if (names.empty()) {
    for (int d = 0; d < num_directions; ++d)
      for (int a = 0; a < spec.activations; ++a) names.push_back(spec.defaults[a]);
  } else if (names.size() == size_t(spec.activations) && num_directions == 2) {
    names.insert(names.end(), names.begin(), names.end());
  }
  if (names.size() != wanted)
    ctx.fail("expected " + std::to_string(wanted) + " activations, got " + std::to_string(names.size()));
  const std::vector<float> alphas = n.attr_floats("activation_alpha");
  const std::vector<float> betas = n.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> out;
  for (const std::string& name : names) {
    std::string lower;
    for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
    const ActivationInfo* info = nullptr;
    for (const ActivationInfo& a : kActivations)
      if (lower == a.name) info = &a;
    if (!info) ctx.fail("unsupported activation '" + name + "'");
    Activation act{info->kind, info->default_alpha, info->default_beta};
    if (info->uses_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (info->uses_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    out.push_back(act);
  }
  return out;
}

void require_shape(const OpContext& ctx, int i, const Shape& expected, const char* what) {
  if (!ctx.has_input(i)) return;
  if (ctx.shape(i) != expected)
    ctx.fail(std::string(what) + " has shape " + shape_str(ctx.shape(i)) + ", expected " + shape_str(expected));
}

RecurrentConfig read_config(const OpContext& ctx, Kind kind) {
  const CellSpec spec = spec_of(kind);
  const Node& n = ctx.node();
  RecurrentConfig cfg;
  cfg.kind = kind;
  const std::string direction = n.attr_string("direction", "forward");
  if (direction == "bidirectional") cfg.num_directions = 2;
  else if (direction == "reverse") cfg.reverse_only = true;
  else if (direction != "forward") ctx.fail("unknown direction '" + direction + "'");
  cfg.batch_major = n.attr_int("layout", 0) != 0;
  cfg.clip = n.has_attr("clip") ? n.attr_float("clip", 0) : 0;
  if (n.has_attr("clip") && cfg.clip <= 0) ctx.fail("clip must be positive");
  cfg.linear_before_reset = n.attr_int("linear_before_reset", 0) != 0;
  cfg.input_forget = n.attr_int("input_forget", 0) != 0;

  if (!dtype_is_float(ctx.dtype(kX))) ctx.fail("X must be a float tensor");
  for (int i : {kW, kR, kB, kInitialH, kInitialC, kPeephole})
    if (ctx.has_input(i) && ctx.dtype(i) != ctx.dtype(kX))
      ctx.fail("input " + std::to_string(i) + " must have X's type");
  if (ctx.rank(kX) != 3 || ctx.rank(kW) != 3 || ctx.rank(kR) != 3) ctx.fail("X, W and R must have rank 3");
  const Shape& x = ctx.shape(kX);
  cfg.seq_length = cfg.batch_major ? x[1] : x[0];
  cfg.batch = cfg.batch_major ? x[0] : x[1];
  cfg.input_size = x[2];
  const Shape& w = ctx.shape(kW);
  cfg.hidden = n.has_attr("hidden_size") ? n.attr_int("hidden_size", 0) : w[1] / spec.gates;
  if (cfg.hidden <= 0) ctx.fail("hidden_size must be positive");
  const int64_t d = cfg.num_directions, h = cfg.hidden, g = spec.gates;
  require_shape(ctx, kW, {d, g * h, cfg.input_size}, "W");
  require_shape(ctx, kR, {d, g * h, h}, "R");
  require_shape(ctx, kB, {d, 2 * g * h}, "B");
  require_shape(ctx, kSeqLens, {cfg.batch}, "sequence_lens");
  if (ctx.has_input(kSeqLens) && !dtype_is_integer(ctx.dtype(kSeqLens))) ctx.fail("sequence_lens must be integers");
  const Shape state = cfg.batch_major ? Shape{cfg.batch, d, h} : Shape{d, cfg.batch, h};
  require_shape(ctx, kInitialH, state, "initial_h");
  if (kind == Kind::Lstm) require_shape(ctx, kInitialC, state, "initial_c");
  if (kind == Kind::Lstm) require_shape(ctx, kPeephole, {d, 3 * h}, "P");
  cfg.activations = parse_activations(ctx, spec, cfg.num_directions);
  return cfg;
}

template <Kind K>
bool infer_recurrent(OpContext& ctx) {
  const RecurrentConfig cfg = read_config(ctx, K);
  const int64_t d = cfg.num_directions, b = cfg.batch, s = cfg.seq_length, h = cfg.hidden;
  const DType t = ctx.dtype(kX);
  ctx.set_output(0, t, cfg.batch_major ? Shape{b, s, d, h} : Shape{s, d, b, h});
  for (int i = 1; i < ctx.num_outputs() && i < (K == Kind::Lstm ? 3 : 2); ++i)
    ctx.set_output(i, t, cfg.batch_major ? Shape{b, d, h} : Shape{d, b, h});
  return true;
}

template <class C>
C clipped(C x, C clip) {
  return clip > 0 ? std::max(-clip, std::min(clip, x)) : x;
}

// The recurrent state of one direction and the scratch one step needs; gate pre-activations are [batch, gates*h].
template <class C>
struct DirectionState {
  std::vector<C> h, c;     // [batch, hidden]
  std::vector<C> x_gates;  // [seq, batch, gates*h]: X W^T + Wb (+ Rb where it is not inside the reset product)
  std::vector<C> h_gates;  // [batch, gates*h]: H R^T for the current step
  std::vector<C> scratch;  // [batch, hidden]
};

// One time step of direction `dir` for the batch rows in `active`: updates st.h (and st.c).
template <class C>
void step(const RecurrentConfig& cfg, int dir, int64_t t, const C* r, const C* rb, const C* peep,
          const std::vector<char>& active, DirectionState<C>& st) {
  const int64_t batch = cfg.batch, hid = cfg.hidden;
  const int gates = spec_of(cfg.kind).gates;
  const int64_t gh = gates * hid;
  const Activation* act = &cfg.activations[size_t(dir * spec_of(cfg.kind).activations)];
  const C clip = C(cfg.clip);
  const C* xg = st.x_gates.data() + t * batch * gh;
  C* hg = st.h_gates.data();
  switch (cfg.kind) {
    case Kind::Rnn:
    case Kind::Lstm: {
      gemm<C>(false, true, batch, gh, hid, C(1), st.h.data(), hid, r, hid, C(0), hg, gh);
      for (int64_t b = 0; b < batch; ++b) {
        if (!active[size_t(b)]) continue;
        const C* x = xg + b * gh;
        const C* hr = hg + b * gh;
        C* hb = st.h.data() + b * hid;
        if (cfg.kind == Kind::Rnn) {
          for (int64_t j = 0; j < hid; ++j) hb[j] = act[0](clipped(x[j] + hr[j], clip));
          continue;
        }
        C* cb = st.c.data() + b * hid;
        for (int64_t j = 0; j < hid; ++j) {  // gate blocks in W are ordered i, o, f, c; P is i, o, f
          const C c_prev = cb[j];
          const C pi = peep ? peep[j] * c_prev : C(0);
          const C pf = peep ? peep[2 * hid + j] * c_prev : C(0);
          const C i = act[0](clipped(x[j] + hr[j] + pi, clip));
          const C f = cfg.input_forget ? C(1) - i : act[0](clipped(x[2 * hid + j] + hr[2 * hid + j] + pf, clip));
          const C g = act[1](clipped(x[3 * hid + j] + hr[3 * hid + j], clip));
          const C c_new = f * c_prev + i * g;
          const C po = peep ? peep[hid + j] * c_new : C(0);
          const C o = act[0](clipped(x[hid + j] + hr[hid + j] + po, clip));
          cb[j] = c_new;
          hb[j] = o * act[2](c_new);
        }
      }
      break;
    }
    case Kind::Gru: {
      // Update and reset gates first; the candidate needs r either inside (default) or outside the product with Rh.
      gemm<C>(false, true, batch, 2 * hid, hid, C(1), st.h.data(), hid, r, hid, C(0), hg, gh);
      const C* rh = r + 2 * hid * hid;
      for (int64_t b = 0; b < batch; ++b) {
        const C* x = xg + b * gh;
        C* hr = hg + b * gh;
        for (int64_t j = 0; j < 2 * hid; ++j) hr[j] = act[0](clipped(x[j] + hr[j], clip));
        if (!cfg.linear_before_reset)
          for (int64_t j = 0; j < hid; ++j) st.scratch[size_t(b * hid + j)] = hr[hid + j] * st.h[size_t(b * hid + j)];
      }
      const C* candidate_in = cfg.linear_before_reset ? st.h.data() : st.scratch.data();
      gemm<C>(false, true, batch, hid, hid, C(1), candidate_in, hid, rh, hid, C(0), hg + 2 * hid, gh);
      for (int64_t b = 0; b < batch; ++b) {
        if (!active[size_t(b)]) continue;
        const C* x = xg + b * gh;
        const C* hr = hg + b * gh;
        C* hb = st.h.data() + b * hid;
        for (int64_t j = 0; j < hid; ++j) {
          const C z = hr[j], reset = hr[hid + j];
          const C pre = cfg.linear_before_reset ? x[2 * hid + j] + reset * (hr[2 * hid + j] + rb[2 * hid + j])
                                                : x[2 * hid + j] + hr[2 * hid + j];
          const C cand = act[1](clipped(pre, clip));
          hb[j] = (C(1) - z) * cand + z * hb[j];
        }
      }
      break;
    }
  }
}

// Offset of the hidden vector of (direction, batch row) in an initial_h / Y_h style tensor, in either layout.
int64_t state_offset(const RecurrentConfig& cfg, int dir, int64_t b) {
  return cfg.batch_major ? (b * cfg.num_directions + dir) * cfg.hidden : (dir * cfg.batch + b) * cfg.hidden;
}

template <class T>
void run_recurrent(OpContext& ctx, const RecurrentConfig& cfg) {
  using C = compute_t<T>;
  const int64_t seq = cfg.seq_length, batch = cfg.batch, in = cfg.input_size, hid = cfg.hidden;
  const int gates = spec_of(cfg.kind).gates;
  const int64_t gh = gates * hid;
  const int num_dirs = cfg.num_directions;
  const bool lstm = cfg.kind == Kind::Lstm;

  // X as [seq, batch, input] in the compute type, whatever the layout.
  const Tensor& x_in = ctx.input(kX);
  const T* xp = x_in.data<T>();
  std::vector<C> x(size_t(seq * batch * in));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t b = 0; b < batch; ++b) {
      const T* src = xp + (cfg.batch_major ? (b * seq + t) : (t * batch + b)) * in;
      std::copy(src, src + in, x.begin() + (t * batch + b) * in);
    }
  const ComputeInput<T> w(ctx.input(kW).data<T>(), ctx.input(kW).numel());
  const ComputeInput<T> r(ctx.input(kR).data<T>(), ctx.input(kR).numel());
  std::vector<C> bias(size_t(num_dirs * 2 * gh), C(0));
  if (ctx.has_input(kB)) bias.assign(ctx.input(kB).data<T>(), ctx.input(kB).data<T>() + bias.size());
  std::vector<C> peep;
  if (lstm && ctx.has_input(kPeephole))
    peep.assign(ctx.input(kPeephole).data<T>(), ctx.input(kPeephole).data<T>() + num_dirs * 3 * hid);
  std::vector<int64_t> lens(size_t(batch), seq);
  if (ctx.has_input(kSeqLens)) {
    const Tensor& sl = ctx.input(kSeqLens);
    for (int64_t b = 0; b < batch; ++b) {
      lens[size_t(b)] = sl.as_int(b);
      if (lens[size_t(b)] < 0 || lens[size_t(b)] > seq)
        ctx.fail("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(lens[size_t(b)]) +
                 " is outside [0, " + std::to_string(seq) + "]");
    }
  }
  const bool has_y = ctx.has_output(0), has_yh = ctx.has_output(1), has_yc = lstm && ctx.has_output(2);
  T* y = has_y ? ctx.output(0).data<T>() : nullptr;

  for (int dir = 0; dir < num_dirs; ++dir) {
    const bool backward = cfg.reverse_only || dir == 1;
    DirectionState<C> st;
    st.h.assign(size_t(batch * hid), C(0));
    st.c.assign(lstm ? size_t(batch * hid) : 0, C(0));
    st.h_gates.assign(size_t(batch * gh), C(0));
    st.scratch.assign(size_t(batch * hid), C(0));
    auto load_state = [&](int input, std::vector<C>& buf) {
      if (!ctx.has_input(input) || buf.empty()) return;
      const T* src = ctx.input(input).data<T>();
      for (int64_t b = 0; b < batch; ++b)
        std::copy(src + state_offset(cfg, dir, b), src + state_offset(cfg, dir, b) + hid, buf.begin() + b * hid);
    };
    load_state(kInitialH, st.h);
    load_state(kInitialC, st.c);
    // X W^T plus the biases that add outside any gate product: both, except GRU's Rbh when linear_before_reset.
    st.x_gates.assign(size_t(seq * batch * gh), C(0));
    gemm<C>(false, true, seq * batch, gh, in, C(1), x.data(), in, w.data() + dir * gh * in, in, C(0),
            st.x_gates.data(), gh);
    const C* wb = bias.data() + dir * 2 * gh;
    const C* rb = wb + gh;
    const int64_t rb_added = cfg.kind == Kind::Gru && cfg.linear_before_reset ? 2 * hid : gh;
    for (int64_t row = 0; row < seq * batch; ++row) {
      C* g = st.x_gates.data() + row * gh;
      for (int64_t j = 0; j < gh; ++j) g[j] += wb[j] + (j < rb_added ? rb[j] : C(0));
    }
    const C* peep_dir = peep.empty() ? nullptr : peep.data() + dir * 3 * hid;
    std::vector<char> active(static_cast<size_t>(batch), 0);
    for (int64_t k = 0; k < seq; ++k) {
      const int64_t t = backward ? seq - 1 - k : k;
      for (int64_t b = 0; b < batch; ++b) active[size_t(b)] = t < lens[size_t(b)];
      step<C>(cfg, dir, t, r.data() + dir * gh * hid, rb, peep_dir, active, st);
      if (!y) continue;
      for (int64_t b = 0; b < batch; ++b) {
        if (!active[size_t(b)]) continue;
        T* dst = y + (cfg.batch_major ? ((b * seq + t) * num_dirs + dir) : ((t * num_dirs + dir) * batch + b)) * hid;
        for (int64_t j = 0; j < hid; ++j) dst[j] = T(st.h[size_t(b * hid + j)]);
      }
    }
    auto store_state = [&](int output, const std::vector<C>& buf) {
      T* dst = ctx.output(output).data<T>();
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < hid; ++j) dst[state_offset(cfg, dir, b) + j] = T(buf[size_t(b * hid + j)]);
    };
    if (has_yh) store_state(1, st.h);
    if (has_yc) store_state(2, st.c);
  }
}

template <Kind K>
void compute_recurrent(OpContext& ctx) {
  const RecurrentConfig cfg = read_config(ctx, K);
  visit_float(ctx.dtype(kX), [&](auto tag) { run_recurrent<typename decltype(tag)::type>(ctx, cfg); });
}

template <Kind K>
Cost cost_recurrent(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const RecurrentConfig cfg = read_config(ctx, K);
  const double gh = double(spec_of(K).gates * cfg.hidden);
  c.flops = 2.0 * double(cfg.num_directions) * double(cfg.seq_length) * double(cfg.batch) * gh *
            double(cfg.input_size + cfg.hidden + 4);
  return c;
}

}  // namespace

void register_rnn_ops(OpTable& t) {
  t.add({.name = "RNN", .infer = infer_recurrent<Kind::Rnn>, .compute = compute_recurrent<Kind::Rnn>,
         .cost = cost_recurrent<Kind::Rnn>});
  t.add({.name = "GRU", .infer = infer_recurrent<Kind::Gru>, .compute = compute_recurrent<Kind::Gru>,
         .cost = cost_recurrent<Kind::Gru>});
  t.add({.name = "LSTM", .infer = infer_recurrent<Kind::Lstm>, .compute = compute_recurrent<Kind::Lstm>,
         .cost = cost_recurrent<Kind::Lstm>});
}

}  // namespace infera
