// Models from Keras files other than the seed CNN: loss, logits and every
// parameter gradient agree with PyTorch 1.13 (torch_keras_reference.py, which
// implements the Keras layers with TensorFlow's padding rules on its own).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "asyncps/models/dataset.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/npz.h"
#include "keras_json.h"
#include "python.h"
#include "test_util.h"
#include "support/skip.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

TEST_CASE("Strided, average-pooling, tanh, sigmoid, recurrent and text models agree with PyTorch to 1e-4",
          "[models][keras][torch][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("numpy, torch"),
                                  std::string(Python()) + " lacks torch or numpy (apt install python3-torch)");
  TempDir dir("keras-torch");
  json strided = StridedCnnJson(KerasForm::kTfKeras);
  for (auto& l : strided["config"]["layers"])
    if (l["class_name"] == "Dropout") l["config"]["rate"] = 0.0;  // random masks cannot be compared
  json mlp = MlpJson(KerasForm::kKeras22);
  for (auto& l : mlp["config"])
    if (l["class_name"] == "Dropout") l["config"]["rate"] = 0.0;
  struct Case {
    const char* name;
    json model;
  };
  for (const Case& c : {Case{"strided", strided}, Case{"lenet", LeNetJson(KerasForm::kKeras22)}, Case{"mlp", mlp},
                        Case{"lstm", LstmRowsJson()}, Case{"gru-rnn", GruRnnJson()}, Case{"gru-v1", GruV1Json()},
                        Case{"text", TextCnnJson()}}) {
    INFO(c.name);
    const std::string model_path = dir.file(std::string(c.name) + ".json");
    std::ofstream(model_path) << c.model.dump();
    auto built = LoadKerasJson(model_path, 5);
    REQUIRE(built.ok());
    Sequential& model = *built.value();
    const auto& layout = model.layout();
    const std::size_t batch = 6;
    // Non-zero biases so that their gradients are exercised.
    for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
      if (layout.tensors()[i].shape.size() != 1) continue;
      auto b = RandomVector(layout.tensors()[i].size(), 30 + i, -0.1f, 0.1f);
      std::copy(b.begin(), b.end(), model.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
    }
    std::vector<float> x = RandomVector(batch * 784, 8, 0.0f, 1.0f), y(batch * 10, 0.0f);
    if (model.layers().front()->type_name() == std::string("Embedding"))
      for (float& id : x) id = std::floor(id * 20.0f);  // token ids in [0, 20)
    std::vector<std::uint8_t> labels(batch);
    for (std::size_t i = 0; i < batch; ++i) labels[i] = static_cast<std::uint8_t>((3 * i) % 10);
    OneHot(labels.data(), batch, 10, y.data());
    std::vector<NpyView> in;
    for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
      const auto& t = layout.tensors()[i];
      in.push_back({t.name, t.shape, model.params().subspan(layout.offset(i), t.size())});
    }
    const std::vector<std::size_t> xshape = model.input_shape().rank == 1 ? std::vector<std::size_t>{batch, 784}
                                                                          : std::vector<std::size_t>{batch, 28, 28, 1};
    in.push_back({"x", xshape, x});
    in.push_back({"y", {batch, 10}, y});
    REQUIRE(SaveNpz(dir.file("in.npz"), in).ok());
    const std::string script = std::string(ASYNCPS_SOURCE_DIR) + "/tests/models/torch_keras_reference.py";
    REQUIRE(Run(std::string(Python()) + " " + script + " " + model_path + " " + dir.file("in.npz") + " " +
                dir.file("out.npz")) == 0);
    auto ref = LoadNpz(dir.file("out.npz"));
    REQUIRE(ref.ok());

    const std::span<const float> logits = model.Forward(x.data(), batch, /*training=*/false);
    const std::vector<float> ours(logits.begin(), logits.end());
    const double loss = model.ComputeGradients(x.data(), y.data(), batch);
    std::size_t compared = 0;
    for (const NpyArray& r : ref.value()) {
      if (r.name == "loss") {
        CHECK(std::abs(loss - r.data[0]) / std::abs(r.data[0]) < 1e-4);
        ++compared;
      } else if (r.name == "logits") {
        CHECK(MaxRelError(ours.data(), r.data.data(), r.data.size()) < 1e-4);
        ++compared;
      }
      for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
        if (layout.tensors()[i].name != r.name) continue;
        REQUIRE(r.shape == layout.tensors()[i].shape);
        const double err = MaxRelError(model.grads().data() + layout.offset(i), r.data.data(), r.data.size());
        INFO(r.name << ": max |ours - torch| / max |torch| = " << err);
        CHECK(err < 1e-4);
        ++compared;
      }
    }
    CHECK(compared == layout.num_tensors() + 2);
  }
}
