#include "quant/opset_upgrade.h"

#include <algorithm>

namespace infera {
namespace {

// What new initializers of a node are named after.
std::string base_name(const onnx::NodeProto& n) { return n.name().empty() ? n.op_type() : n.name(); }

struct Upgrade {
  ModelEdit& edit;
  int64_t from, to;

  bool crosses(int64_t version) const { return from < version && version <= to; }

  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& why) const {
    throw Error("cannot raise the opset from " + std::to_string(from) + " to " + std::to_string(to) + ": node '" +
                n.name() + "' (" + n.op_type() + ") " + why);
  }

  void set_input(onnx::NodeProto& n, int index, const std::string& value) const {
    while (n.input_size() <= index) n.add_input("");
    n.set_input(index, value);
  }

  // An INTS attribute that became an int64 input.
  void ints_to_input(onnx::NodeProto& n, const std::string& attr, int index) const {
    const onnx::AttributeProto* a = find_attribute(n, attr);
    if (!a) return;
    std::vector<int64_t> values(a->ints().begin(), a->ints().end());
    remove_attribute(n, attr);
    set_input(n, index, edit.add_int64_initializer(base_name(n) + "_" + attr, values));
  }

  // A FLOAT attribute that became a scalar input of the data's type (float32 only: other types are rare here).
  void float_to_input(onnx::NodeProto& n, const std::string& attr, int index) const {
    const onnx::AttributeProto* a = find_attribute(n, attr);
    if (!a) return;
    if (edit.dtype(n.input(0)) != DType::Float32) fail(n, "has attribute '" + attr + "' on non-float32 data");
    const float value = a->f();
    remove_attribute(n, attr);
    set_input(n, index, edit.add_float_initializer(base_name(n) + "_" + attr, {}, {value}));
  }

  void softmax_axis(onnx::NodeProto& n) const {
    // Before 13 the input was flattened to 2-D at `axis` (default 1); since 13 only `axis` (default -1) is reduced.
    // The two agree when the old axis is the last one.
    const onnx::AttributeProto* a = find_attribute(n, "axis");
    const int64_t axis = a ? a->i() : 1;
    const int rank = edit.rank(n.input(0));
    if (rank < 0) fail(n, "has an input of unknown rank (its axis changed meaning at opset 13)");
    if ((axis < 0 ? axis + rank : axis) != rank - 1)
      fail(n, "reduces over several axes (axis " + std::to_string(axis) + " of rank " + std::to_string(rank) +
                  "), which opset 13 cannot express in one node");
    set_int_attribute(n, "axis", -1);
  }

  void node(onnx::NodeProto& n) const {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) graph(*a.mutable_g());
      for (auto& g : *a.mutable_graphs()) graph(g);
    }
    if (!n.domain().empty() && n.domain() != "ai.onnx") return;
    const std::string& op = n.op_type();
    static const std::set<std::string> reductions_18 = {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                                         "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                                         "ReduceSumSquare"};
    if (op == "Upsample" && crosses(10)) fail(n, "was removed at opset 10 (use Resize)");
    if (op == "Scatter" && crosses(11)) fail(n, "was removed at opset 11 (use ScatterElements)");
    if (op == "Resize" && crosses(11)) fail(n, "changed its inputs and coordinate rule at opset 11");
    if (op == "Resize" && crosses(13)) {
      const onnx::AttributeProto* mode = find_attribute(n, "coordinate_transformation_mode");
      if (mode && mode->s() == "tf_half_pixel_for_nn") fail(n, "uses a coordinate mode removed at opset 13");
    }
    if (op == "BatchNormalization" && crosses(9)) {
      const onnx::AttributeProto* spatial = find_attribute(n, "spatial");
      if (spatial && spatial->i() == 0) fail(n, "is not spatial, which opset 9 removed");
      remove_attribute(n, "spatial");
    }
    if (op == "Slice" && crosses(10)) {
      ints_to_input(n, "starts", 1);
      ints_to_input(n, "ends", 2);
      ints_to_input(n, "axes", 3);
    }
    if (op == "TopK" && crosses(10)) {
      const onnx::AttributeProto* k = find_attribute(n, "k");
      if (!k) fail(n, "has no k");
      const int64_t value = k->i();
      remove_attribute(n, "k");
      set_input(n, 1, edit.add_int64_initializer(base_name(n) + "_k", {value}));
    }
    if (op == "Clip" && crosses(11)) {
      float_to_input(n, "min", 1);
      float_to_input(n, "max", 2);
    }
    if (op == "Pad" && crosses(11)) {
      ints_to_input(n, "pads", 1);
      float_to_input(n, "value", 2);
    }
    if (op == "Dropout" && crosses(12)) remove_attribute(n, "ratio");  // inference ignores it
    if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && crosses(13)) ints_to_input(n, "axes", 1);
    if (op == "Split" && crosses(13)) ints_to_input(n, "split", 1);
    if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && crosses(13)) softmax_axis(n);
    if (reductions_18.count(op) && crosses(18)) ints_to_input(n, "axes", 1);
    if (op == "Split" && crosses(18) && (n.input_size() < 2 || n.input(1).empty()))
      set_int_attribute(n, "num_outputs", n.output_size());
  }

  void graph(onnx::GraphProto& g) const {
    for (auto& n : *g.mutable_node()) node(n);
  }
};

}  // namespace

void upgrade_opset(ModelEdit& edit, int64_t target) {
  const int64_t from = default_opset(edit.proto);
  if (target <= from) return;
  if (from < 7)
    throw Error("cannot raise the opset from " + std::to_string(from) + ": models below opset 7 are not upgraded");
  Upgrade{edit, from, target}.graph(*edit.proto.mutable_graph());
  set_default_opset(edit.proto, target);
  edit.report.notes.push_back("opset raised from " + std::to_string(from) + " to " + std::to_string(target));
}

}  // namespace infera
