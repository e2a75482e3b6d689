// The Keras layers and activations beyond the seed CNN's: BatchNormalization,
// global pooling, ZeroPadding2D, Reshape, the ReLU/LeakyReLU/ELU/Softmax
// layers and the activations by name. Summary counts as Keras prints them,
// refusals, Keras 2 and 3's hard_sigmoid, .h5 weights in get_weights() order,
// and agreement with PyTorch (torch_keras_reference.py) in both modes.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "asyncps/models/dataset.h"
#include "asyncps/models/keras_h5.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/npz.h"
#include "keras_json.h"
#include "python.h"
#include "support/skip.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

// Random weights a trained model could have: BatchNormalization's gamma and
// moving variances in [0.5, 1.5], everything else small.
void RandomizeWeights(Sequential& m, std::uint64_t seed) {
  const auto& layout = m.layout();
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    const std::string& name = layout.tensors()[i].name;
    const bool positive = name.ends_with("/gamma") || name.ends_with("/moving_variance");
    const bool kernel = name.ends_with("/kernel");
    const auto v =
        kernel ? std::vector<float>(
                     m.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i)),
                     m.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i) + layout.tensors()[i].size()))
               : RandomVector(layout.tensors()[i].size(), seed + i, positive ? 0.5f : -0.1f, positive ? 1.5f : 0.1f);
    std::copy(v.begin(), v.end(), m.params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i)));
  }
}

std::unique_ptr<Sequential> Load(const json& model, const TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name);
  std::ofstream(path) << model.dump();
  auto built = LoadKerasJson(path, 5);
  INFO(built.status().ToString());
  REQUIRE(built.ok());
  return std::move(built).value();
}

}  // namespace

TEST_CASE("A BatchNormalization CNN's summary counts parameters as Keras does", "[models][keras][batch_norm]") {
  TempDir dir("keras-bn-summary");
  auto m = Load(BatchNormCnnJson(), dir, "bn.json");
  const std::string s = m->Summary();
  INFO(s);
  CHECK_THAT(s, Catch::Contains("batch_normalization (BatchNormalization)(None, 14, 14, 8)         32 "));
  CHECK_THAT(s, Catch::Contains("batch_normalization_1 (BatchNormalization)"));
  CHECK_THAT(s, Catch::Contains("zero_padding2d (ZeroPadding2D)(None, 30, 30, 1)"));
  CHECK_THAT(s, Catch::Contains("re_lu (ReLU)"));
  CHECK_THAT(s, Catch::Contains("global_average_pooling2d (GlobalAveragePooling2D)"));
  CHECK_THAT(s, Catch::Contains("leaky_re_lu (LeakyReLU)"));
  CHECK_THAT(s, Catch::Contains("Total params: 2,322\n"));
  CHECK_THAT(s, Catch::Contains("Trainable params: 2,210\n"));
  CHECK_THAT(s, Catch::Contains("Non-trainable params: 112\n"));
  CHECK(m->num_params() == 2322);
  const auto& t = m->layout().tensors();
  CHECK(t[1].name == "batch_normalization/gamma");
  CHECK(t[4].name == "batch_normalization/moving_variance");
  CHECK(t[7].name == "batch_normalization_1/gamma");  // center=false: no beta
  CHECK(t[8].name == "batch_normalization_1/moving_mean");
}

TEST_CASE("hard_sigmoid follows the Keras version that wrote the file", "[models][keras][activation]") {
  TempDir dir("keras-hard-sigmoid");
  struct Case {
    const char* what;
    json keras_version;  // null: absent
    bool module;         // Keras 3's "module" field
    float want;          // at x = 2
  };
  for (const Case& c :
       {Case{"keras 2", "2.11.0", false, 0.9f}, Case{"keras 3", "3.3.3", false, 5.0f / 6},
        Case{"keras 3 without a version", nullptr, true, 5.0f / 6}, Case{"no version", nullptr, false, 0.9f}}) {
    INFO(c.what);
    json model = KerasModelJson({KActivation("activation", "hard_sigmoid"), KDense("dense", 2, "softmax")}, {3},
                                KerasForm::kTfKeras);
    model.erase("keras_version");
    if (!c.keras_version.is_null()) model["keras_version"] = c.keras_version;
    if (c.module) model["module"] = "keras";
    auto m = Load(model, dir, "hs.json");
    Layer& hs = *m->layers()[0];
    const float x[3] = {2.0f, -3.0f, 0.0f};
    float y[3];
    hs.Forward(x, y, 1, false);
    CHECK(y[0] == Approx(c.want));
    CHECK(y[1] == 0.0f);
    CHECK(y[2] == 0.5f);
  }
}

TEST_CASE("Unsupported settings of the added layers are refused naming the layer, field and value",
          "[models][keras][refusal]") {
  TempDir dir("keras-added-refusals");
  struct Case {
    const char* what;
    KerasLayer layer;
    std::vector<int> input;
    std::vector<std::string> says;
  };
  auto bn = [](const char* key, json value) {
    KerasLayer l = KBatchNorm("bn", 3);
    l.config[key] = value;
    return l;
  };
  const std::vector<Case> cases = {
      {"constraint", bn("gamma_constraint", {{"class_name", "NonNeg"}}), {8, 8, 2}, {"'bn'", "gamma_constraint"}},
      {"renorm", bn("renorm", true), {8, 8, 2}, {"'bn'", "renorm = true"}},
      {"momentum", bn("momentum", 1.5), {8, 8, 2}, {"'bn'", "momentum = 1.5", "[0, 1]"}},
      {"epsilon", bn("epsilon", 0), {8, 8, 2}, {"'bn'", "epsilon = 0", "> 0"}},
      {"axis", bn("axis", {1}), {8, 8, 2}, {"bn (BatchNormalization): axis = 1 is not the last axis"}},
      {"axis 4", bn("axis", 4), {8, 8, 2}, {"'bn'", "axis = 4", "last (channels) axis"}},
      {"axis 2", bn("axis", 2), {8, 8, 2}, {"bn (BatchNormalization): axis = 2 is not the last axis"}},
      {"padding", KLayer("ZeroPadding2D", "zp", {{"padding", {1, 2, 3}}}), {8, 8, 2}, {"'zp'", "padding = [1,2,3]"}},
      {"padding on a vector", KLayer("ZeroPadding2D", "zp", {{"padding", 1}}), {8}, {"zp (ZeroPadding2D)", "image"}},
      {"reshape rank 4", KLayer("Reshape", "r", {{"target_shape", {2, 2, 2, 16}}}), {8, 8, 2}, {"'r'", "target_shape"}},
      {"reshape two -1", KLayer("Reshape", "r", {{"target_shape", {-1, -1, 2}}}), {8, 8, 2}, {"'r'", "target_shape"}},
      {"reshape size", KLayer("Reshape", "r", {{"target_shape", {3, 3, 3}}}), {8, 8, 2}, {"r (Reshape)", "27"}},
      {"relu slope", KLayer("ReLU", "relu", {{"negative_slope", -1}}), {8}, {"'relu'", "negative_slope = -1"}},
      {"softmax axis", KLayer("Softmax", "sm", {{"axis", 2}}), {8, 8, 2}, {"'sm'", "axis = 2"}},
      {"global pooling 3D", KLayer("GlobalAveragePooling3D", "g"), {8}, {"'GlobalAveragePooling3D'", "not supported"}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    json model =
        KerasModelJson({c.layer, KFlatten("flatten"), KDense("dense", 2, "softmax")}, c.input, KerasForm::kTfKeras);
    const std::string path = dir.file("m.json");
    std::ofstream(path) << model.dump();
    auto m = LoadKerasJson(path, 1);
    REQUIRE_FALSE(m.ok());
    for (const std::string& s : c.says) CHECK_THAT(m.status().message(), Catch::Contains(s));
  }
}

TEST_CASE("BatchNormalization weights travel through .h5 files in get_weights() order",
          "[models][keras][h5][batch_norm][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("h5py, numpy"),
                                  std::string(Python()) + " lacks h5py (apt install python3-h5py)");
  TempDir dir("keras-bn-h5");
  const std::string json_path = dir.file("bn.json");
  std::ofstream(json_path) << BatchNormCnnJson().dump();
  auto fresh = LoadKerasModel(json_path, 4);
  REQUIRE(fresh.ok());
  const auto& layout = fresh.value()->layout();
  std::vector<std::vector<float>> arrays;
  std::vector<NpyView> views;
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    arrays.push_back(RandomVector(layout.tensors()[i].size(), 70 + i, 0.1f, 1.0f));
  for (std::size_t i = 0; i < layout.num_tensors(); ++i)
    views.push_back({"arr_" + std::to_string(i), layout.tensors()[i].shape, arrays[i]});
  REQUIRE(SaveNpz(dir.file("w.npz"), views).ok());
  const std::string fixture = std::string(ASYNCPS_SOURCE_DIR) + "/tests/models/keras_h5_fixture.py";
  REQUIRE(Run(std::string(Python()) + " " + fixture + " " + json_path + " " + dir.file("w.npz") + " " +
              dir.file("m.h5")) == 0);
  auto m = LoadKerasModel(dir.file("m.h5"), 1);
  INFO(m.status().ToString());
  REQUIRE(m.ok());
  for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
    INFO(layout.tensors()[i].name);
    CHECK(std::equal(arrays[i].begin(), arrays[i].end(),
                     m.value()->params().begin() + static_cast<std::ptrdiff_t>(layout.offset(i))));
  }
  REQUIRE(SaveFinalWeights(dir.file("out.h5"), *m.value()).ok());
  const std::string check =
      std::string(Python()) +
      " -c \"import h5py, numpy as np, sys\n"
      "f = h5py.File(sys.argv[1], 'r'); w = np.load(sys.argv[2]); want = [w[k] for k in w.files]\n"
      "bn = [wn.decode() for wn in f['batch_normalization'].attrs['weight_names']]\n"
      "assert bn == ['batch_normalization/' + n + ':0' for n in ('gamma', 'beta', 'moving_mean', "
      "'moving_variance')], bn\n"
      "names = [n.decode() for n in f.attrs['layer_names']]\n"
      "got = [f[n][wn.decode()][()] for n in names for wn in f[n].attrs['weight_names']]\n"
      "assert all(np.array_equal(g, a) for g, a in zip(got, want)) and len(got) == len(want)\" " +
      dir.file("out.h5") + " " + dir.file("w.npz");
  CHECK(Run(check) == 0);
}

TEST_CASE("Models with the added layers agree with PyTorch in training and inference to 1e-4",
          "[models][keras][torch][python]") {
  asyncps::testing::RequireOrSkip(PythonHas("numpy, torch"),
                                  std::string(Python()) + " lacks torch or numpy (apt install python3-torch)");
  TempDir dir("keras-added-torch");
  struct Case {
    const char* name;
    json model;
  };
  for (const Case& c : {Case{"batch_norm_cnn", BatchNormCnnJson()}, Case{"activations", ActivationsMlpJson()}}) {
    INFO(c.name);
    const std::string model_path = dir.file(std::string(c.name) + ".json");
    auto m = Load(c.model, dir, std::string(c.name) + ".json");
    Sequential& model = *m;
    RandomizeWeights(model, 40);
    const auto& layout = model.layout();
    const std::size_t batch = 6;
    std::vector<float> x = RandomVector(batch * 784, 8, 0.0f, 1.0f), y(batch * 10, 0.0f);
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
    const double loss = model.ComputeGradients(x.data(), y.data(), batch);  // also moves the statistics
    std::size_t compared = 0;
    for (const NpyArray& r : ref.value()) {
      INFO(r.name);
      if (r.name == "loss") {
        CHECK(std::abs(loss - r.data[0]) / std::abs(r.data[0]) < 1e-4);
        ++compared;
      } else if (r.name == "logits") {
        CHECK(MaxRelError(ours.data(), r.data.data(), r.data.size()) < 1e-4);
        ++compared;
      }
      for (std::size_t i = 0; i < layout.num_tensors(); ++i) {
        const std::string& name = layout.tensors()[i].name;
        const bool grad = r.name == name, updated = r.name == "updated:" + name;
        if (!grad && !updated) continue;
        REQUIRE(r.shape == layout.tensors()[i].shape);
        const float* ours_i = (grad ? model.grads().data() : model.params().data()) + layout.offset(i);
        const double err = MaxRelError(ours_i, r.data.data(), r.data.size(), 1e-6);
        INFO(r.name << ": max |ours - torch| / max |torch| = " << err);
        CHECK(err < 1e-4);
        ++compared;
      }
    }
    std::size_t moving = 0;
    for (const auto& t : layout.tensors())
      moving += t.name.ends_with("/moving_mean") + t.name.ends_with("/moving_variance");
    CHECK(compared == layout.num_tensors() + moving + 2);
  }
}
