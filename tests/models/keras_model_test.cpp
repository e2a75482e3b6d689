// Keras model descriptions (model.to_json(), both forms) built as Sequential:
// parameter counts by Keras' summary arithmetic, the seed CNN's exact weights,
// initializers, --initial-weights in get_weights() order, and every refusal.
#include "asyncps/models/keras_model.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <functional>

#include "asyncps/models/npz.h"
#include "asyncps/models/seed_cnn.h"
#include "asyncps/models/weights.h"
#include "keras_json.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

asyncps::Result<std::unique_ptr<Sequential>> Build(const json& j, std::uint64_t seed = 1) {
  return BuildKerasModel(j.dump(), "model.json", seed);
}

const char* FormName(KerasForm f) { return f == KerasForm::kKeras22 ? "Keras 2.2" : "tf.keras"; }

// A change to the tf.keras strided model (layers[0] is the InputLayer) that
// must be refused, and what the message must name besides the file.
struct Refusal {
  const char* what;
  std::function<void(json&)> mutate;
  std::vector<std::string> expect;
};

json& layer(json& j, std::size_t i) { return j["config"]["layers"][i]["config"]; }

// Builds the changed model, checks it is refused naming model.json and each
// of c.expect, and returns the refusal.
asyncps::Status CheckRefused(const Refusal& c) {
  INFO(c.what);
  json j = StridedCnnJson(KerasForm::kTfKeras);
  c.mutate(j);
  auto m = Build(j);
  REQUIRE_FALSE(m.ok());
  INFO(m.status().message());
  CHECK_THAT(m.status().message(), Catch::Contains("model.json"));
  for (const auto& e : c.expect) CHECK_THAT(m.status().message(), Catch::Contains(e));
  return m.status();
}

}  // namespace

TEST_CASE("The seed CNN from Keras JSON of both forms is the seed CNN, weight for weight", "[models][keras]") {
  for (KerasForm f : {KerasForm::kKeras22, KerasForm::kTfKeras}) {
    INFO(FormName(f));
    auto m = Build(SeedCnnJson(f), 7);
    REQUIRE(m.ok());
    Sequential& model = *m.value();
    CHECK(model.num_params() == 1048853);
    CHECK(model.input_shape() == Shape::Image(28, 28, 1));
    CHECK(model.num_classes() == 10);
    auto seed = BuildSeedCnn({.seed = 7});
    REQUIRE(seed.ok());
    const auto& want = seed.value()->layout();
    REQUIRE(model.layout().num_tensors() == want.num_tensors());
    for (std::size_t i = 0; i < want.num_tensors(); ++i)
      CHECK(model.layout().tensors()[i].shape == want.tensors()[i].shape);
    // Same initializers drawn in the same order from the same seed.
    CHECK(std::equal(model.params().begin(), model.params().end(), seed.value()->params().begin()));
    CHECK(model.layout().tensors()[0].name == KName("conv2d", 1, f) + "/kernel");
    const std::string s = model.Summary();
    CHECK_THAT(s, Catch::Contains(KName("conv2d", 2, f) + " (Conv2D)") && Catch::Contains("(None, 24, 24, 32)") &&
                      Catch::Contains("9,248"));
    CHECK_THAT(s, Catch::Contains(KName("activation", 4, f) + " (Activation)"));
    CHECK_THAT(s, Catch::Contains("Total params: 1,048,853"));
  }
}

TEST_CASE("Other Sequential models have Keras' parameter counts and output shapes", "[models][keras]") {
  struct Case {
    const char* name;
    json (*make)(KerasForm);
    std::size_t params;
    std::vector<std::string> rows;  // summary fragments
  };
  const std::vector<Case> cases = {
      {"strided",
       StridedCnnJson,
       24170,
       {"(None, 14, 14, 16)", "416", "(None, 7, 7, 16)", "4,608", "(None, 3, 3, 32)", "(None, 288)", "18,496", "650"}},
      {"lenet",
       LeNetJson,
       61706,
       {"(None, 28, 28, 6)", "156", "(None, 10, 10, 16)", "2,416", "48,120", "10,164", "850"}},
      {"mlp", MlpJson, 101642, {"(None, 128)", "100,352", "1,290"}},
  };
  for (const Case& c : cases) {
    for (KerasForm f : {KerasForm::kKeras22, KerasForm::kTfKeras}) {
      INFO(c.name << ", " << FormName(f));
      auto m = Build(c.make(f));
      REQUIRE(m.ok());
      CHECK(m.value()->num_params() == c.params);
      CHECK(m.value()->num_classes() == 10);
      const std::string s = m.value()->Summary();
      INFO(s);
      for (const auto& r : c.rows) CHECK_THAT(s, Catch::Contains(r));
      // Fused activations are no rows; the softmax of a Dense is no row either.
      CHECK_THAT(s, !Catch::Contains("/activation"));
    }
  }
  auto mlp = Build(MlpJson(KerasForm::kTfKeras));
  REQUIRE(mlp.ok());
  CHECK(mlp.value()->input_shape() == Shape::Vector(784));
  CHECK(mlp.value()->layout().num_tensors() == 3);  // dense kernel (no bias), dense_1 kernel and bias
}

TEST_CASE("Initializers named in the file are honoured, with their seeds", "[models][keras][init]") {
  json j = MlpJson(KerasForm::kTfKeras);
  json& layers = j["config"]["layers"];
  layers[1]["config"]["kernel_initializer"] = {{"class_name", "RandomUniform"},
                                               {"config", {{"minval", 0.25}, {"maxval", 0.5}, {"seed", 42}}}};
  layers[3]["config"]["kernel_initializer"] = {{"class_name", "HeNormal"}, {"config", {{"seed", nullptr}}}};
  layers[3]["config"]["bias_initializer"] = {{"class_name", "Constant"}, {"config", {{"value", 0.125}}}};
  auto a = Build(j, 1), b = Build(j, 2);
  REQUIRE((a.ok() && b.ok()));
  const auto& layout = a.value()->layout();
  auto tensor = [&](Sequential& m, std::size_t i) {
    return m.params().subspan(layout.offset(i), layout.tensors()[i].size());
  };
  auto k0 = tensor(*a.value(), 0);
  CHECK(std::all_of(k0.begin(), k0.end(), [](float v) { return v >= 0.25f && v < 0.5f; }));
  // Its own seed: the same weights whatever the model's seed.
  auto k0b = tensor(*b.value(), 0);
  CHECK(std::equal(k0.begin(), k0.end(), k0b.begin()));
  // He normal (truncated): stddev sqrt(2 / fan_in) = sqrt(2 / 128), within 10%.
  auto k1 = tensor(*a.value(), 1);
  double sq = 0;
  for (float v : k1) sq += double{v} * v;
  const double stddev = std::sqrt(sq / static_cast<double>(k1.size()));
  CHECK(stddev == Approx(std::sqrt(2.0 / 128)).epsilon(0.1));
  CHECK(std::all_of(k1.begin(), k1.end(),
                    [](float v) { return std::abs(v) <= 2.0f * std::sqrt(2.0f / 128) / 0.8796f + 1e-6f; }));
  auto k1b = tensor(*b.value(), 1);
  CHECK_FALSE(std::equal(k1.begin(), k1.end(), k1b.begin()));  // the model's seed
  auto bias = tensor(*a.value(), 2);
  CHECK(std::all_of(bias.begin(), bias.end(), [](float v) { return v == 0.125f; }));
}

TEST_CASE("Keras models outside what asyncps implements are refused, naming the layer, field and value",
          "[models][keras]") {
  const std::vector<Refusal> cases = {
      {"channels_first",
       [&](json& j) { layer(j, 1)["data_format"] = "channels_first"; },
       {"'conv2d' (Conv2D)", "data_format", "\"channels_first\""}},
      {"dilation",
       [&](json& j) {
         layer(j, 1)["dilation_rate"] = {2, 2};
       },
       {"'conv2d'", "dilation_rate", "[2,2]"}},
      {"groups", [&](json& j) { layer(j, 4)["groups"] = 2; }, {"'conv2d_1'", "groups", "2"}},
      {"activity regularizer",
       [&](json& j) {
         layer(j, 7)["activity_regularizer"] = {{"class_name", "L2"}, {"config", {{"l2", 0.01}}}};
       },
       {"'dense' (Dense)", "activity_regularizer", "L2"}},
      {"constraint",
       [&](json& j) {
         layer(j, 7)["kernel_constraint"] = {{"class_name", "MaxNorm"}};
       },
       {"'dense'", "kernel_constraint", "MaxNorm"}},
      {"activation",
       [&](json& j) { layer(j, 7)["activation"] = "log_softmax"; },
       {"'dense'", "activation", "\"log_softmax\""}},
      {"padding", [&](json& j) { layer(j, 1)["padding"] = "causal"; }, {"'conv2d'", "padding", "\"causal\""}},
      {"initializer",
       [&](json& j) {
         layer(j, 1)["kernel_initializer"] = {{"class_name", "Orthogonal"}};
       },
       {"'conv2d'", "kernel_initializer", "Orthogonal"}},
      {"frozen", [&](json& j) { layer(j, 4)["trainable"] = false; }, {"'conv2d_1'", "trainable", "false"}},
      {"dtype", [&](json& j) { layer(j, 1)["dtype"] = "float16"; }, {"'conv2d'", "dtype", "float16"}},
      {"lambda",
       [&](json& j) {
         j["config"]["layers"][3] = {{"class_name", "Lambda"},
                                     {"config", {{"name", "lambda"}, {"function", "4wEAAAAAAAAA"}}}};
       },
       {"'lambda' (Lambda)", "not supported"}},
      {"other layer",
       [&](json& j) {
         j["config"]["layers"][3] = {{"class_name", "LayerNormalization"}, {"config", {{"name", "ln"}}}};
       },
       {"'ln' (LayerNormalization)", "not supported"}},
      {"dropout rate", [&](json& j) { layer(j, 3)["rate"] = 1.5; }, {"'dropout'", "rate", "1.5"}},
      {"noise shape",
       [&](json& j) {
         layer(j, 3)["noise_shape"] = {1, 1, 16};
       },
       {"'dropout'", "noise_shape"}},
      {"kernel size",
       [&](json& j) {
         layer(j, 1)["kernel_size"] = {0, 3};
       },
       {"'conv2d'", "kernel_size", "[0,3]"}},
      {"softmax inside",
       [&](json& j) { layer(j, 7)["activation"] = "softmax"; },
       {"'dropout_1'", "follows the softmax of 'dense'"}},
      {"functional without its inputs",
       [&](json& j) { j["class_name"] = "Functional"; },
       {"input_layers", "expected one layer"}},
      {"subclassed",
       [&](json& j) { j["class_name"] = "MyModel"; },
       {"class_name", "MyModel", "only Sequential and Functional"}},
      {"input shape",
       [&](json& j) {
         layer(j, 0)["batch_input_shape"] = {nullptr, 28};
       },
       {"conv2d (Conv2D)", "needs an image input", "(None, 28)"}},
      {"too small",
       [&](json& j) {
         layer(j, 0)["batch_input_shape"] = {nullptr, 2, 2, 1};
       },
       {"max_pooling2d", "does not fit"}},
  };
  for (const Refusal& c : cases) CheckRefused(c);
  auto not_json = BuildKerasModel("{\"class_name\": \"Sequential\", ", "broken.json", 1);
  REQUIRE_FALSE(not_json.ok());
  CHECK_THAT(not_json.status().message(), Catch::Contains("broken.json") && Catch::Contains("JSON"));
  auto missing = LoadKerasJson("/nonexistent/model.json", 1);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == asyncps::Status::Code::kIOError);
}

// Issue 32: sizes from the file are bounded and their products checked before
// anything is allocated. A kernel_size of [2^32, 2^32] wrapped to a 0-element
// kernel ("Total params 7,851") and training segfaulted; huge units aborted
// with bad_alloc.
// The last activation goes to the loss (loss.h): softmax, a final sigmoid
// (binary_crossentropy), else none (regression, from_logits); which losses fit
// it is TrainOptions' check, not the builder's (a model without a softmax was
// refused here).
TEST_CASE("A Keras model's last activation is the loss's: softmax, sigmoid or linear", "[models][keras][loss]") {
  using asyncps::models::OutputActivation;
  struct Ending {
    std::vector<KerasLayer> last;
    OutputActivation want;
    std::size_t layers;  // after the first Dense and its fused relu
  };
  const std::vector<Ending> endings = {
      {{KDense("out", 3, "softmax")}, OutputActivation::kSoftmax, 1},
      {{KDense("out", 1, "sigmoid")}, OutputActivation::kSigmoid, 1},
      {{KDense("out", 1), KActivation("act", "sigmoid")}, OutputActivation::kSigmoid, 1},
      {{KDense("out", 1)}, OutputActivation::kLinear, 1},
      {{KDense("out", 1, "sigmoid"), KDense("out_2", 1)}, OutputActivation::kLinear, 3},
  };
  for (const Ending& e : endings) {
    std::vector<KerasLayer> layers = {KDense("hidden", 4, "relu")};
    layers.insert(layers.end(), e.last.begin(), e.last.end());
    auto m = BuildKerasModel(KerasModelJson(layers, {5}, KerasForm::kTfKeras).dump(), "m.json", 1);
    REQUIRE(m.ok());
    CHECK(m.value()->output_activation() == e.want);
    CHECK(m.value()->layers().size() == 2 + e.layers);
  }
}

TEST_CASE("Keras sizes over the maximum are refused, naming the layer, field and value", "[models][keras][limits]") {
  const std::uint64_t big = std::uint64_t{1} << 32;
  const std::vector<Refusal> cases = {
      {"kernel_size wraps",
       [&](json& j) {
         layer(j, 1)["kernel_size"] = {big, big};
       },
       {"'conv2d' (Conv2D)", "kernel_size", "[4294967296,4294967296]", "2147483647"}},
      {"kernel product",
       [&](json& j) {
         layer(j, 1)["kernel_size"] = {65536, 65536};
       },
       {"conv2d (Conv2D)", "conv2d/kernel", "[65536,65536,1,16]", "2147483647"}},
      {"units", [&](json& j) { layer(j, 7)["units"] = 1000000000000; }, {"'dense' (Dense)", "units", "1000000000000"}},
      {"units product",
       [&](json& j) { layer(j, 7)["units"] = 268435456; },
       {"dense (Dense)", "dense/kernel", "[288,268435456]", "2147483647"}},
      {"filters",
       [&](json& j) { layer(j, 1)["filters"] = 2147483647; },
       {"conv2d (Conv2D)", "output (None, 14, 14, 2147483647)"}},
      {"filters over the maximum",
       [&](json& j) { layer(j, 1)["filters"] = 2147483648u; },
       {"'conv2d'", "filters", "2147483648"}},
      {"strides",
       [&](json& j) {
         layer(j, 1)["strides"] = {big, 1};
       },
       {"'conv2d'", "strides", "[4294967296,1]"}},
      {"pool_size",
       [&](json& j) { layer(j, 2)["pool_size"] = big; },
       {"'average_pooling2d'", "pool_size", "4294967296"}},
      {"input dimension",
       [&](json& j) {
         layer(j, 0)["batch_input_shape"] = {nullptr, big, 28, 1};
       },
       {"'input_1'", "batch_input_shape", "[null,4294967296,28,1]"}},
      {"input product",
       [&](json& j) {
         layer(j, 0)["batch_input_shape"] = {nullptr, 65536, 65536, 1};
       },
       {"'input_1'", "batch_input_shape", "[null,65536,65536,1]", "per sample"}},
  };
  for (const Refusal& c : cases) {
    INFO(c.what);
    CHECK(CheckRefused(c).code() == asyncps::Status::Code::kInvalidArgument);
  }
}

TEST_CASE("A Keras model over the caller's parameter maximum is refused before it is allocated",
          "[models][keras][limits]") {
  auto m = BuildKerasModel(StridedCnnJson(KerasForm::kTfKeras).dump(), "model.json", 1, 10000);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.status().message(), Catch::Contains("model.json") && Catch::Contains("dense (Dense)") &&
                                       Catch::Contains("23520 parameters, more than the maximum of 10000"));
  CHECK(BuildKerasModel(StridedCnnJson(KerasForm::kTfKeras).dump(), "model.json", 1, 24170).ok());
}

// Issue 32: JSON nested 100,000 deep overflowed the stack (SIGSEGV).
TEST_CASE("Keras JSON nested deeper than 64 is refused before it is parsed", "[models][keras][limits]") {
  const std::size_t levels = 100000;
  const std::string deep = std::string(levels, '[') + "1" + std::string(levels, ']');
  std::string in_layer = StridedCnnJson(KerasForm::kTfKeras).dump();
  const std::string conv = "\"name\":\"conv2d\"";
  REQUIRE(in_layer.find(conv) != std::string::npos);
  in_layer.insert(in_layer.find(conv), "\"extra\":" + deep + ",");
  // As a refused value, which the error message quotes.
  std::string as_value = StridedCnnJson(KerasForm::kTfKeras).dump();
  const std::string kernel = "\"kernel_size\":[5,5]";
  REQUIRE(as_value.find(kernel) != std::string::npos);
  as_value.replace(as_value.find(kernel), kernel.size(), "\"kernel_size\":" + deep);
  const std::string model_class = "{\"class_name\":" + deep + "}";
  std::string objects;
  for (std::size_t i = 0; i < levels; ++i) objects += "{\"a\":";
  objects += "1" + std::string(levels, '}');
  for (const std::string& text : {deep, in_layer, as_value, model_class, objects, std::string(levels, '[')}) {
    auto m = BuildKerasModel(text, "deep.json", 1);
    CHECK_FALSE(m.ok());
    CHECK_THAT(m.status().message(), Catch::Contains("deep.json") && Catch::Contains("nest more than 64"));
  }
  // Inside a field of a real model: 65 levels refused, 60 read (the field is ignored).
  auto nested = [](int depth) {
    json j = StridedCnnJson(KerasForm::kTfKeras);
    json v = 1;
    for (int i = 0; i < depth; ++i) v = json::array({v});
    j["config"]["layers"][1]["config"]["extra"] = v;
    return j.dump();
  };
  auto too_deep = BuildKerasModel(nested(65), "model.json", 1);
  REQUIRE_FALSE(too_deep.ok());
  CHECK_THAT(too_deep.status().message(), Catch::Contains("nest more than 64"));
  CHECK(BuildKerasModel(nested(58), "model.json", 1).ok());
  // Brackets inside strings, escaped quotes included, do not count.
  json named = StridedCnnJson(KerasForm::kTfKeras);
  named["config"]["name"] = "x\\\"" + std::string(1000, '[') + "\"" + std::string(1000, '{');
  CHECK(BuildKerasModel(named.dump(), "model.json", 1).ok());
}

TEST_CASE("Initial weights load in Keras get_weights() order, checked against the model", "[models][keras][weights]") {
  TempDir dir("keras-weights");
  auto m = Build(LeNetJson(KerasForm::kTfKeras), 3);
  REQUIRE(m.ok());
  Sequential& model = *m.value();
  const auto& layout = model.layout();
  // numpy.savez(f, *model.get_weights()) names them arr_0, arr_1, ...
  std::vector<std::vector<float>> arrays;
  std::vector<NpyView> views;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    arrays.push_back(RandomVector(layout.tensors()[i].size(), 100 + i));
  }
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    views.push_back({"arr_" + std::to_string(i), layout.tensors()[i].shape, arrays[i]});
  REQUIRE(SaveNpz(dir.file("w.npz"), views).ok());
  REQUIRE(LoadWeightsInOrder(dir.file("w.npz"), layout, model.params()).ok());
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    CHECK(std::equal(arrays[i].begin(), arrays[i].end(),
                     model.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i))));
  // What SaveWeights writes loads the same way.
  REQUIRE(SaveWeights(dir.file("saved.npz"), layout, model.params()).ok());
  std::vector<float> before(model.params().begin(), model.params().end());
  std::fill(model.params().begin(), model.params().end(), 0.0f);
  REQUIRE(LoadWeightsInOrder(dir.file("saved.npz"), layout, model.params()).ok());
  CHECK(std::equal(before.begin(), before.end(), model.params().begin()));

  // A missing array, and a wrong shape: named, and nothing changes.
  views.pop_back();
  REQUIRE(SaveNpz(dir.file("short.npz"), views).ok());
  auto st = LoadWeightsInOrder(dir.file("short.npz"), layout, model.params());
  CHECK_THAT(st.message(),
             Catch::Contains("short.npz") && Catch::Contains("holds 9 arrays") && Catch::Contains("10 weight tensors"));
  std::vector<float> odd(6 * 5 * 5);
  views.push_back({"arr_9", {5, 5, 6}, odd});
  std::swap(views[0], views.back());
  views.back().name = "arr_0";
  REQUIRE(SaveNpz(dir.file("shape.npz"), views).ok());
  st = LoadWeightsInOrder(dir.file("shape.npz"), layout, model.params());
  CHECK_THAT(st.message(), Catch::Contains("array 0") && Catch::Contains("[5,5,6]") &&
                               Catch::Contains("conv2d/kernel") && Catch::Contains("[5,5,1,6]"));
  CHECK(std::equal(before.begin(), before.end(), model.params().begin()));
}
