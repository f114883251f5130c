// Model loading: IR/opset range, old-IR initializers listed as inputs, external data (and paths that try to
// leave the model's folder), symbolic dimensions, and input checking at run time.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "infera/infera.h"

using namespace infera;
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
    dir = fs::temp_directory_path() / ("infera-ext-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
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
