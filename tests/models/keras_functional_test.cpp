// Keras Functional models (one input, one output, merge layers): the Keras 2
// and Keras 3 forms of inbound_nodes, parameter order and counts, refusals,
// and agreement with PyTorch (torch_functional_reference.py) in training and
// inference.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "asyncps/models/dataset.h"
#include "asyncps/models/graph.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/npz.h"
#include "keras_json.h"
#include "python.h"
#include "support/skip.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

// One layer of a Functional model: the layer and the names of its inputs.
struct FLayer {
  KerasLayer layer;
  std::vector<std::string> inputs;
};

// The model as Keras 2's (tf.keras) or Keras 3's model.to_json() writes it.
json FunctionalJson(const std::vector<FLayer>& layers, const std::vector<int>& input, const std::string& output,
                    bool keras3) {
  json batch_shape = json::array({nullptr});
  for (int d : input) batch_shape.push_back(d);
  json list = json::array();
  list.push_back({{"class_name", "InputLayer"},
                  {"name", "input_1"},
                  {"config", {{keras3 ? "batch_shape" : "batch_input_shape", batch_shape}, {"name", "input_1"}}},
                  {"inbound_nodes", json::array()}});
  for (const FLayer& l : layers) {
    json config = l.layer.config;
    if (config.contains("kernel_initializer") && config["kernel_initializer"].is_null())
      config["kernel_initializer"] = GlorotUniformJson(KerasForm::kTfKeras);
    json node;
    if (keras3) {
      json tensors = json::array();
      for (const std::string& in : l.inputs)
        tensors.push_back({{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {in, 0, 0}}}}});
      node = {{"args", l.inputs.size() == 1 ? json::array({tensors[0]}) : json::array({tensors})},
              {"kwargs", json::object()}};
    } else {
      node = json::array();
      for (const std::string& in : l.inputs) node.push_back({in, 0, 0, json::object()});
    }
    list.push_back({{"class_name", l.layer.class_name},
                    {"name", config["name"]},
                    {"config", config},
                    {"inbound_nodes", json::array({node})}});
  }
  json config = {{"name", "model"}, {"layers", list}};
  if (keras3) {
    config["input_layers"] = {"input_1", 0, 0};
    config["output_layers"] = {output, 0, 0};
    return {{"module", "keras"}, {"class_name", "Functional"}, {"config", config}};
  }
  config["input_layers"] = json::array({{"input_1", 0, 0}});
  config["output_layers"] = json::array({{output, 0, 0}});
  return {{"class_name", "Functional"}, {"config", config}, {"keras_version", "2.11.0"}, {"backend", "tensorflow"}};
}

// A residual block and a concatenation: 80 + 584 + 36 + 23,530 = 24,230 parameters.
std::vector<FLayer> ResidualLayers() {
  return {{KConv("conv2d", 8, 3, 3, 1, 1, "same", "relu"), {"input_1"}},
          {KConv("conv2d_1", 8, 3, 3, 1, 1, "same"), {"conv2d"}},
          {KLayer("Add", "add"), {"conv2d_1", "conv2d"}},
          {KActivation("activation", "relu"), {"add"}},
          {KPool("MaxPooling2D", "max_pooling2d", 2, 2, 2, 2), {"activation"}},
          {KConv("conv2d_2", 4, 1, 1), {"max_pooling2d"}},
          {KLayer("Concatenate", "concatenate", {{"axis", -1}}), {"max_pooling2d", "conv2d_2"}},
          {KFlatten("flatten"), {"concatenate"}},
          {KDense("dense", 10, "softmax"), {"flatten"}}};
}

asyncps::Result<std::unique_ptr<Sequential>> LoadJson(const json& model, const TempDir& dir) {
  const std::string path = dir.file("f.json");
  std::ofstream(path) << model.dump();
  return LoadKerasJson(path, 5);
}

}  // namespace

TEST_CASE("A Functional model with Add and Concatenate builds in get_weights() order from Keras 2 and 3 files",
          "[models][keras][functional]") {
  TempDir dir("keras-functional");
  auto k2 = LoadJson(FunctionalJson(ResidualLayers(), {28, 28, 1}, "dense", false), dir);
  INFO(k2.status().ToString());
  REQUIRE(k2.ok());
  auto k3 = LoadJson(FunctionalJson(ResidualLayers(), {28, 28, 1}, "dense", true), dir);
  INFO(k3.status().ToString());
  REQUIRE(k3.ok());
  Sequential& m = *k2.value();
  CHECK(m.num_params() == 24230);
  std::vector<std::string> names;
  for (const auto& t : m.layout().tensors()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias",
                                          "conv2d_2/kernel", "conv2d_2/bias", "dense/kernel", "dense/bias"});
  CHECK_THAT(m.Summary(), Catch::Contains("model (Functional)") && Catch::Contains("Total params: 24,230"));
  // Same seed, same weights, same logits from either form.
  CHECK(std::equal(m.params().begin(), m.params().end(), k3.value()->params().begin()));
  const auto x = RandomVector(3 * 784, 2, 0.0f, 1.0f);
  const auto a = m.Forward(x.data(), 3);
  const std::vector<float> logits(a.begin(), a.end());
  const auto b = k3.value()->Forward(x.data(), 3);
  CHECK(std::vector<float>(b.begin(), b.end()) == logits);
}

TEST_CASE("Functional models asyncps cannot train are refused, naming the layer or field",
          "[models][keras][functional][refusal]") {
  TempDir dir("keras-functional-refusals");
  struct Case {
    const char* what;
    json model;
    std::vector<std::string> says;
  };
  json shared = FunctionalJson(ResidualLayers(), {28, 28, 1}, "dense", false);
  shared["config"]["layers"][2]["inbound_nodes"].push_back(shared["config"]["layers"][2]["inbound_nodes"][0]);
  json two_outputs = FunctionalJson(ResidualLayers(), {28, 28, 1}, "dense", false);
  two_outputs["config"]["output_layers"].push_back({"flatten", 0, 0});
  std::vector<FLayer> mismatch = ResidualLayers();
  mismatch[2].inputs = {"conv2d_1", "input_1"};  // 8 channels + 1
  std::vector<FLayer> unknown = ResidualLayers();
  unknown[1].inputs = {"conv2d_9"};
  std::vector<FLayer> after_softmax = ResidualLayers();
  after_softmax.back().layer = KDense("dense", 10, "softmax");
  after_softmax.push_back({KDense("dense_1", 10, "softmax"), {"dense"}});
  const std::vector<Case> cases = {
      {"shared layer", shared, {"'conv2d_1'", "inbound_nodes", "shared layers are not supported"}},
      {"two outputs", two_outputs, {"output_layers", "several inputs or outputs"}},
      {"merge shapes",
       FunctionalJson(mismatch, {28, 28, 1}, "dense", false),
       {"add (Add): input shapes (None, 28, 28, 8) and (None, 28, 28, 1) differ"}},
      {"unknown input",
       FunctionalJson(unknown, {28, 28, 1}, "dense", false),
       {"'conv2d_9', which is no earlier layer"}},
      {"softmax inside",
       FunctionalJson(after_softmax, {28, 28, 1}, "dense_1", false),
       {"follows the softmax of 'dense'"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    auto m = LoadJson(c.model, dir);
    REQUIRE_FALSE(m.ok());
    for (const std::string& s : c.says) CHECK_THAT(m.status().message(), Catch::Contains(s));
  }
}

TEST_CASE("A Functional model may end in a sigmoid (binary) or a linear unit (regression, logits)",
          "[models][keras][functional]") {
  TempDir dir("keras-functional-outputs");
  std::vector<FLayer> sigmoid = ResidualLayers();
  sigmoid.back().layer = KDense("dense", 1, "sigmoid");
  auto dense_sigmoid = LoadJson(FunctionalJson(sigmoid, {28, 28, 1}, "dense", true), dir);
  REQUIRE(dense_sigmoid.ok());
  CHECK(dense_sigmoid.value()->output_activation() == OutputActivation::kSigmoid);
  CHECK(dense_sigmoid.value()->output_shape().size() == 1);
  sigmoid.back().layer = KDense("dense", 1, "linear");
  sigmoid.push_back({KActivation("out", "sigmoid"), {"dense"}});
  auto activation_sigmoid = LoadJson(FunctionalJson(sigmoid, {28, 28, 1}, "out", false), dir);
  REQUIRE(activation_sigmoid.ok());
  CHECK(activation_sigmoid.value()->output_activation() == OutputActivation::kSigmoid);
  std::vector<FLayer> linear = ResidualLayers();
  linear.back().layer = KDense("dense", 3, "linear");
  auto regression = LoadJson(FunctionalJson(linear, {28, 28, 1}, "dense", false), dir);
  REQUIRE(regression.ok());
  CHECK(regression.value()->output_activation() == OutputActivation::kLinear);
  CHECK(regression.value()->output_shape().size() == 3);
  // The sigmoid is the loss's: the model itself ends before it, as a Sequential one does.
  CHECK(dense_sigmoid.value()->params().size() == activation_sigmoid.value()->params().size());
}

TEST_CASE("A Functional model with every merge agrees with PyTorch to 1e-4",
          "[models][keras][functional][torch][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("numpy, torch"),
                                  std::string(Python()) + " lacks torch or numpy (apt install python3-torch)");
  TempDir dir("keras-functional-torch");
  // Every merge, a tensor used three times, BatchNormalization inside the DAG.
  std::vector<FLayer> layers = {{KConv("conv2d", 4, 3, 3, 2, 2, "same", "tanh"), {"input_1"}},
                                {KConv("conv2d_1", 4, 3, 3, 1, 1, "same", "linear", /*use_bias=*/false),
                                 {"conv2d"}},  // a bias before BN: no gradient
                                {KBatchNorm("batch_normalization", 3), {"conv2d_1"}},
                                {KLayer("Add", "add"), {"batch_normalization", "conv2d"}},
                                {KLayer("Subtract", "subtract"), {"add", "conv2d"}},
                                {KLayer("Multiply", "multiply"), {"subtract", "conv2d"}},
                                {KLayer("Average", "average"), {"multiply", "add"}},
                                {KLayer("Maximum", "maximum"), {"average", "subtract"}},
                                {KLayer("Concatenate", "concatenate", {{"axis", -1}}), {"maximum", "add"}},
                                {KLayer("GlobalAveragePooling2D", "global_average_pooling2d"), {"concatenate"}},
                                {KDense("dense", 10, "softmax"), {"global_average_pooling2d"}}};
  const json model_json = FunctionalJson(layers, {28, 28, 1}, "dense", false);
  const std::string model_path = dir.file("f.json");
  std::ofstream(model_path) << model_json.dump();
  auto built = LoadKerasJson(model_path, 5);
  INFO(built.status().ToString());
  REQUIRE(built.ok());
  Sequential& model = *built.value();
  const auto& layout = model.layout();
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {  // non-zero biases, BatchNormalization's in [0.5, 1.5]
    const std::string& name = layout.tensors()[i].name;
    if (name.ends_with("/kernel")) continue;
    const bool positive = name.ends_with("/gamma") || name.ends_with("/moving_variance");
    const auto v = RandomVector(layout.tensors()[i].size(), 60 + i, positive ? 0.5f : -0.1f, positive ? 1.5f : 0.1f);
    std::copy(v.begin(), v.end(), model.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
  }
  const std::size_t batch = 5;
  std::vector<float> x = RandomVector(batch * 784, 8, 0.0f, 1.0f), y(batch * 10, 0.0f);
  std::vector<std::uint8_t> labels(batch);
  for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::uint8_t>((7 * i) % 10);
  OneHot(labels.data(), batch, 10, y.data());
  std::vector<NpyView> in;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const auto& t = layout.tensors()[i];
    in.push_back({t.name, t.shape, model.params().subspan(layout.offset(i), t.size())});
  }
  in.push_back({"x", {batch, 28, 28, 1}, x});
  in.push_back({"y", {batch, 10}, y});
  REQUIRE(SaveNpz(dir.file("in.npz"), in).ok());
  const std::string script = std::string(ASYNCPS_SOURCE_DIR) + "/tests/models/torch_functional_reference.py";
  REQUIRE(Run(std::string(Python()) + " " + script + " " + model_path + " " + dir.file("in.npz") + " " +
              dir.file("out.npz")) == 0);
  auto ref = LoadNpz(dir.file("out.npz"));
  REQUIRE(ref.ok());
  const auto logits_span = model.Forward(x.data(), batch, /*training=*/false);
  const std::vector<float> logits(logits_span.begin(), logits_span.end());
  const double loss = model.ComputeGradients(x.data(), y.data(), batch);
  std::size_t compared = 0;
  for (const NpyArray& r : ref.value()) {
    INFO(r.name);
    if (r.name == "loss") {
      CHECK(std::abs(loss - r.data[0]) / std::abs(r.data[0]) < 1e-4);
      ++compared;
    } else if (r.name == "logits") {
      CHECK(MaxRelError(logits.data(), r.data.data(), r.data.size()) < 1e-4);
      ++compared;
    }
    for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
      const std::string& name = layout.tensors()[i].name;
      const bool grad = r.name == name, updated = r.name == "updated:" + name;
      if (!grad && !updated) continue;
      const float* ours = (grad ? model.grads().data() : model.params().data()) + layout.offset(i);
      const double err = MaxRelError(ours, r.data.data(), r.data.size(), 1e-6);
      INFO("max |ours - torch| / max |torch| = " << err);
      CHECK(err < 1e-4);
      ++compared;
    }
  }
  CHECK(compared == layout.num_tensors() + 2 + 2);  // + the two moving statistics, updated
}
