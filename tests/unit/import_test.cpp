// Model loading: IR/opset range, old-IR initializers listed as inputs, external data (and paths that try to
// leave the model's folder), symbolic dimensions, and input checking at run time.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "core/file.h"
#include "infera/infera.h"
#include "onnx/import.h"
#include "op_harness.h"

using namespace infera;
using harness::random_tensor;
using harness::values_of;
namespace fs = std::filesystem;

namespace {

// y = x + b, with b an initializer; x is [batch, 3] (batch symbolic).
onnx::ModelProto add_model(int64_t ir_version, int64_t opset) {
  onnx::ModelProto m;
  m.set_ir_version(ir_version);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("add");
  auto* x = g->add_input();
  x->set_name("x");
  auto* tt = x->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("batch");
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(3);
  for (float v : {1.f, 2.f, 3.f}) b->add_float_data(v);
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->set_name("add0");
  n->add_input("x");
  n->add_input("b");
  n->add_output("y");
  auto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return m;
}

Session load(const onnx::ModelProto& m) {
  std::string bytes = m.SerializeAsString();
  return Session::load_from_memory(bytes.data(), bytes.size(), {}, "test.onnx");
}

std::string load_error(const onnx::ModelProto& m) {
  try {
    load(m);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Import, LoadsEveryIrVersionAndNewOpsets) {
  for (int64_t ir : {3, 4, 7, 8, 9, 10})
    for (int64_t opset : {7, 13, 17, 21}) {
      Session s = load(add_model(ir, opset));
      auto out = s.run({{"x", Tensor::from_vector<float>({1, 3}, {1, 1, 1})}});
      EXPECT_EQ(out[0].data<float>()[2], 4.f) << "ir " << ir << " opset " << opset;
    }
}

TEST(Import, ReportsSymbolicDims) {
  Session s = load(add_model(8, 13));
  ASSERT_EQ(s.inputs().size(), 1u);
  EXPECT_EQ(s.inputs()[0].dims[0].symbol, "batch");
  EXPECT_EQ(s.inputs()[0].dims[1].value, 3);
  auto out = s.run({{"x", Tensor(DType::Float32, {5, 3})}});
  EXPECT_EQ(out[0].shape(), (Shape{5, 3}));
}

TEST(Import, InitializerListedAsInputIsNotRequired) {
  onnx::ModelProto m = add_model(3, 7);
  auto* b = m.mutable_graph()->add_input();  // old IR: initializers also appear as graph inputs
  b->set_name("b");
  b->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  Session s = load(m);
  EXPECT_EQ(s.inputs().size(), 1u);
}

TEST(Import, ChecksInputsAtRunTime) {
  Session s = load(add_model(8, 13));
  auto message = [&](std::map<std::string, Tensor> in) {
    try {
      s.run(in);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({}).find("input 'x' was not given"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor(DType::Int64, {1, 3})}}).find("must be float32"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor(DType::Float32, {1, 4})}}).find("dim 1 must be 3"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor(DType::Float32, {3})}}).find("rank 2"), std::string::npos);
  EXPECT_NE(message({{"x", Tensor(DType::Float32, {1, 3})}, {"z", Tensor(DType::Float32, {1})}}).find("not an input"),
            std::string::npos);
}

TEST(Import, RejectsUnknownOpsNamingTheNode) {
  onnx::ModelProto m = add_model(8, 13);
  m.mutable_graph()->mutable_node(0)->set_op_type("NoSuchOp");
  std::string e = load_error(m);
  EXPECT_NE(e.find("test.onnx"), std::string::npos);
  EXPECT_NE(e.find("node 'add0' (NoSuchOp)"), std::string::npos) << e;
}

TEST(Import, RejectsUndefinedValuesAndBadTensors) {
  onnx::ModelProto m = add_model(8, 13);
  m.mutable_graph()->mutable_node(0)->set_input(1, "missing");
  EXPECT_NE(load_error(m).find("input 'missing' is not produced"), std::string::npos);

  m = add_model(8, 13);
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, -3);
  EXPECT_NE(load_error(m).find("negative dimension"), std::string::npos);

  m = add_model(8, 13);
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t(1) << 40);
  EXPECT_NE(load_error(m).find("tensor 'b'"), std::string::npos);

  m = add_model(8, 13);
  m.mutable_graph()->mutable_initializer(0)->add_float_data(4.f);  // 4 values for shape [3]
  EXPECT_NE(load_error(m).find("holds 4 values"), std::string::npos);

  std::string truncated = add_model(8, 13).SerializeAsString();
  truncated.resize(truncated.size() / 2);
  EXPECT_THROW(Session::load_from_memory(truncated.data(), truncated.size()), Error);
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    // One folder per process: ctest runs the tests of this fixture at the same time.
    dir = fs::temp_directory_path() / ("infera-ext-" + std::to_string(::getpid()));
    fs::create_directories(dir / "model");
    std::ofstream(dir / "model" / "weights.bin", std::ios::binary).write("\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40", 16);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string save(const std::string& location, int64_t offset) {
    onnx::ModelProto m = add_model(8, 13);
    auto* b = m.mutable_graph()->mutable_initializer(0);
    b->clear_float_data();
    b->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* loc = b->add_external_data();
    loc->set_key("location");
    loc->set_value(location);
    auto* off = b->add_external_data();
    off->set_key("offset");
    off->set_value(std::to_string(offset));
    std::string path = (dir / "model" / "m.onnx").string();
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }
  std::string error_for(const std::string& location) {
    try {
      Session::load(save(location, 0));
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir;
};

TEST_F(ExternalData, ReadsWeightsBesideTheModel) {
  Session s = Session::load(save("weights.bin", 4));
  auto out = s.run({{"x", Tensor(DType::Float32, {1, 3})}});
  EXPECT_EQ(out[0].data<float>()[0], 1.f);
  EXPECT_EQ(out[0].data<float>()[2], 3.f);
}

TEST_F(ExternalData, RefusesPathsOutsideTheModelFolder) {
  EXPECT_NE(error_for("../../etc/passwd").find("escapes the model's folder"), std::string::npos);
  EXPECT_NE(error_for("/etc/passwd").find("absolute path"), std::string::npos);
  EXPECT_NE(error_for("nothere.bin").find("nothere.bin"), std::string::npos);
}

TEST_F(ExternalData, RefusesAFileThatEndsTooSoon) {
  std::string e = error_for("weights.bin");  // offset 0: 16 bytes, 12 needed; read fine
  EXPECT_EQ(e, "");
  try {
    Session::load(save("weights.bin", 8));
    FAIL() << "an external file with 8 of the 12 bytes loaded";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("holds 8 bytes where 12 are needed"), std::string::npos) << err.what();
  }
}

// Raw data is read past protobuf (split from the model's structure, then copied straight into each tensor): every
// place a TensorProto can be must still come out right, and malformed bytes must fail as protobuf would fail them.
namespace {

void set_raw(onnx::TensorProto* t, const std::string& name, int32_t type, std::vector<int64_t> dims,
             const std::string& bytes) {
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(bytes);
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// add_model with raw data everywhere a tensor can be: initializers (float, int64, bool), a Constant node's value,
// and an If node whose branches hold an initializer and a Constant of their own.
onnx::ModelProto raw_data_model() {
  onnx::ModelProto m = add_model(8, 13);
  auto* g = m.mutable_graph();
  auto* b = g->mutable_initializer(0);
  b->clear_float_data();
  b->set_raw_data(bytes_of<float>({1.f, 2.f, 3.f}));
  set_raw(g->add_initializer(), "i", onnx::TensorProto::INT64, {2}, bytes_of<int64_t>({7, -9}));
  set_raw(g->add_initializer(), "flags", onnx::TensorProto::BOOL, {3}, std::string("\x00\x05\x01", 3));
  auto* c = g->add_node();
  c->set_op_type("Constant");
  c->add_output("c");
  auto* value = c->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  set_raw(value->mutable_t(), "", onnx::TensorProto::FLOAT, {2}, bytes_of<float>({0.5f, -4.f}));
  auto* branch = g->add_node();
  branch->set_op_type("If");
  branch->add_input("flags_any");
  branch->add_output("z");
  for (const char* name : {"then_branch", "else_branch"}) {
    auto* a = branch->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::GRAPH);
    auto* sub = a->mutable_g();
    set_raw(sub->add_initializer(), std::string(name) + "_w", onnx::TensorProto::FLOAT, {1}, bytes_of<float>({42.f}));
    auto* k = sub->add_node();
    k->set_op_type("Constant");
    k->add_output(std::string(name) + "_k");
    auto* kv = k->add_attribute();
    kv->set_name("value");
    kv->set_type(onnx::AttributeProto::TENSOR);
    set_raw(kv->mutable_t(), "", onnx::TensorProto::INT64, {1}, bytes_of<int64_t>({123}));
    sub->add_output()->set_name(std::string(name) + "_w");
  }
  return m;
}

const Node& node_with_output(const Graph& g, const std::string& output) {
  for (const Node& n : g.nodes)
    if (n.outputs[0] == output) return n;
  throw Error("no node writes " + output);
}

// A varint-keyed field in protobuf's wire format (length-delimited), for bytes protobuf's API would not write.
std::string length_delimited(int field, const std::string& body) {
  std::string out;
  auto varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) out += char(v | 0x80);
    out += char(v);
  };
  varint(uint64_t(field) << 3 | 2);
  varint(body.size());
  return out + body;
}

}  // namespace

TEST(ImportRawData, EveryTensorPlaceComesOutRight) {
  const std::string bytes = raw_data_model().SerializeAsString();
  const Model m = import_model_bytes(bytes.data(), bytes.size(), "raw.onnx", ".");
  const auto& inits = m.graph.initializers;
  EXPECT_EQ(values_of<float>(inits.at("b")), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(values_of<int64_t>(inits.at("i")), (std::vector<int64_t>{7, -9}));
  EXPECT_EQ(values_of<bool>(inits.at("flags")), (std::vector<bool>{false, true, true}));  // non-zero bytes: true
  EXPECT_EQ(values_of<float>(node_with_output(m.graph, "c").attrs.at("value").t), (std::vector<float>{0.5f, -4.f}));
  const Node& branch = node_with_output(m.graph, "z");
  for (const char* name : {"then_branch", "else_branch"}) {
    const Graph& sub = *branch.attrs.at(name).g;
    EXPECT_EQ(values_of<float>(sub.initializers.at(std::string(name) + "_w")), (std::vector<float>{42.f}));
    EXPECT_EQ(values_of<int64_t>(node_with_output(sub, std::string(name) + "_k").attrs.at("value").t),
              (std::vector<int64_t>{123}));
  }
}

TEST(ImportRawData, RawDataWrittenTwiceKeepsTheLast) {
  // A second graph field merges into the first (protobuf semantics), bringing a tensor whose raw_data field
  // appears twice: the last one counts.
  onnx::TensorProto first, second;
  set_raw(&first, "twice", onnx::TensorProto::FLOAT, {1}, bytes_of<float>({1.f}));
  second.set_raw_data(bytes_of<float>({2.f}));
  const std::string graph_part = length_delimited(5, first.SerializeAsString() + second.SerializeAsString());
  const std::string bytes = add_model(8, 13).SerializeAsString() + length_delimited(7, graph_part);
  const Model m = import_model_bytes(bytes.data(), bytes.size(), "twice.onnx", ".");
  EXPECT_EQ(values_of<float>(m.graph.initializers.at("twice")), (std::vector<float>{2.f}));
}

TEST(ImportRawData, AFileCannotPointATensorAtOtherBytes) {
  // The split marks a tensor whose raw data it took out with a field of its own; the same field in the file is
  // dropped, so a tensor with float_data keeps its values.
  onnx::ModelProto m = raw_data_model();
  m.mutable_graph()->mutable_initializer(0)->clear_raw_data();
  for (float v : {4.f, 5.f, 6.f}) m.mutable_graph()->mutable_initializer(0)->add_float_data(v);
  m.mutable_graph()->mutable_initializer(0)->mutable_unknown_fields()->AddVarint((1 << 29) - 1, 1);
  const std::string bytes = m.SerializeAsString();
  const Model imported = import_model_bytes(bytes.data(), bytes.size(), "forged.onnx", ".");
  EXPECT_EQ(values_of<float>(imported.graph.initializers.at("b")), (std::vector<float>{4.f, 5.f, 6.f}));
}

TEST(ImportRawData, CutOrFlippedBytesFailCleanly) {
  // Every prefix and every single-bit flip of a model with raw data in all its places: an infera::Error or a model,
  // never anything else, and always an error where protobuf cannot parse the bytes.
  const std::string bytes = raw_data_model().SerializeAsString();
  int parsed = 0, rejected = 0;
  auto check = [&](const std::string& b) {
    onnx::ModelProto proto;
    const bool protobuf_parses = proto.ParseFromString(b);
    try {
      import_model_bytes(b.data(), b.size(), "cut.onnx", ".");
      EXPECT_TRUE(protobuf_parses) << "bytes protobuf rejects were imported (" << b.size() << " bytes)";
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  };
  for (size_t n = 0; n < bytes.size(); ++n) check(bytes.substr(0, n));
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int bit : {0, 7}) {
      std::string b = bytes;
      b[i] = char(b[i] ^ (1 << bit));
      check(b);
    }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(parsed, 0);
}

// Session::load leaves large weights in the mapped file until a compilation reads them, and the compilation frees
// the plain copy of each weight once oneDNN has packed it: a model's weights are held once, not twice.
class MappedWeights : public ExternalData {
 protected:
  // x [batch, 1024] -> MatMul w1 [1024, width] (16 MiB at the default width) -> MatMul w2 [width, 4] -> y, weights
  // as raw data.
  static constexpr size_t kWeightBytes = size_t(1024) * 4096 * sizeof(float);
  std::string save_two_layer(int64_t width = 4096) {
    onnx::ModelProto m = add_model(8, 13);
    auto* g = m.mutable_graph();
    g->clear_node();
    g->clear_initializer();
    g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(1024);
    std::vector<float> w1(size_t(1024 * width)), w2(size_t(width * 4));
    for (size_t i = 0; i < w1.size(); ++i) w1[i] = float(int(i % 7) - 3) / 64;
    for (size_t i = 0; i < w2.size(); ++i) w2[i] = float(int(i % 5) - 2) / 8;
    set_raw(g->add_initializer(), "w1", onnx::TensorProto::FLOAT, {1024, width}, bytes_of(w1));
    set_raw(g->add_initializer(), "w2", onnx::TensorProto::FLOAT, {width, 4}, bytes_of(w2));
    for (auto [a, w, out] : {std::tuple{"x", "w1", "h"}, std::tuple{"h", "w2", "y"}}) {
      auto* n = g->add_node();
      n->set_op_type("MatMul");
      n->add_input(a);
      n->add_input(w);
      n->add_output(out);
    }
    std::string path = (dir / "model" / ("two_layer" + std::to_string(width) + ".onnx")).string();
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }
};

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * size_t(sysconf(_SC_PAGESIZE));
}

// Resident memory grows by what is allocated and touched, less what earlier tests freed and malloc reuses: the
// bounds hold in any order, and fail at least when this test runs alone and the weights are held twice. A narrow
// model first pages in the code and oneDNN's state.
TEST_F(MappedWeights, HeldOnceAndSameOutputsAsFromMemory) {
  const std::string path = save_two_layer();
  Session::load(save_two_layer(64)).run({{"x", random_tensor({1, 1024}, 2)}});
  const size_t before = resident_bytes();
  Session s = Session::load(path);
  EXPECT_LT(resident_bytes(), before + kWeightBytes / 16) << "the weights were read at load";
  s.prepare();
  // oneDNN's packed copy of w1 and little else; with the plain copy still held it would be twice kWeightBytes.
  EXPECT_LT(resident_bytes(), before + kWeightBytes * 5 / 4);

  const Tensor x = random_tensor({1, 1024}, 3);
  const std::string bytes = read_file(path);
  const std::vector<float> got = values_of<float>(s.run({{"x", x}})[0]);
  const std::vector<float> want = values_of<float>(Session::load_from_memory(bytes.data(), bytes.size()).run({{"x", x}})[0]);
  EXPECT_EQ(got, want);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_NE(got, std::vector<float>(4, 0.f));
  // Another batch size compiles again, reading the weights from the file again: two copies of x, the same rows.
  Tensor x2(DType::Float32, {2, 1024});
  for (int r = 0; r < 2; ++r) std::memcpy(x2.data<float>() + r * 1024, x.data<float>(), 1024 * sizeof(float));
  const std::vector<float> rows = values_of<float>(s.run({{"x", x2}})[0]);
  ASSERT_EQ(rows.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(rows[i], want[i % 4], 1e-4f * (1 + std::fabs(want[i % 4]))) << i;
}

TEST_F(MappedWeights, SummaryAndInspectDoNotReadTheWeights) {
  const std::string path = save_two_layer();
  const size_t before = resident_bytes();
  Session s = Session::inspect(path);
  const ModelSummary summary = s.summary();
  EXPECT_EQ(summary.parameter_count, 1024 * 4096 + 4096 * 4);
  EXPECT_GT(summary.flops, 2.0 * 1024 * 4096);
  EXPECT_LT(resident_bytes(), before + kWeightBytes / 2);
}

TEST_F(MappedWeights, SummaryFoldsNodesOnMappedWeights) {
  // y = x + ConstantOfShape([int(max(w))]): the shape of what x is added to comes from a 64 KiB weight, which stays
  // in the file, so the summary's constant folding must read it.
  onnx::ModelProto m = add_model(8, 13);
  auto* g = m.mutable_graph();
  g->clear_node();
  g->clear_initializer();
  std::vector<float> w(128 * 128, 0.f);
  w[4321] = 3.f;
  set_raw(g->add_initializer(), "w", onnx::TensorProto::FLOAT, {128, 128}, bytes_of(w));
  set_raw(g->add_initializer(), "axes", onnx::TensorProto::INT64, {1}, bytes_of<int64_t>({0}));
  auto add_node = [&](const char* op, std::vector<const char*> inputs, const char* output) {
    auto* n = g->add_node();
    n->set_op_type(op);
    for (const char* in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  };
  auto* reduce = add_node("ReduceMax", {"w"}, "m");
  auto* keepdims = reduce->add_attribute();
  keepdims->set_name("keepdims");
  keepdims->set_type(onnx::AttributeProto::INT);
  keepdims->set_i(0);
  auto* cast = add_node("Cast", {"m"}, "k");
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::INT);
  to->set_i(onnx::TensorProto::INT64);
  add_node("Unsqueeze", {"k", "axes"}, "k1");
  add_node("ConstantOfShape", {"k1"}, "z");
  add_node("Add", {"x", "z"}, "y");
  const std::string path = (dir / "model" / "folds.onnx").string();
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();

  const ModelSummary summary = Session::inspect(path).summary();
  EXPECT_EQ(summary.nodes_without_cost, 0);
  EXPECT_EQ(Session::load(path).run({{"x", Tensor(DType::Float32, {2, 3})}})[0].shape(), (Shape{2, 3}));
}
