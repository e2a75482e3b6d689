// The layers of sequence models besides the recurrent ones: Embedding, Conv1D,
// MaxPooling1D/AveragePooling1D and the global 1D poolings: shapes and Keras'
// tensors, gradients against central differences, the ids an Embedding takes,
// and their Keras configs.
#include <catch2/catch.hpp>

#include "asyncps/models/avgpool2d.h"
#include "asyncps/models/conv2d.h"
#include "asyncps/models/embedding.h"
#include "asyncps/models/global_pool2d.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/maxpool2d.h"
#include "keras_json.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;
using asyncps::Result;
using asyncps::Status;

TEST_CASE("Conv1D convolves a sequence with Keras' [k, cin, cout] kernel", "[models][sequence]") {
  for (Padding padding : {Padding::kValid, Padding::kSame}) {
    for (std::size_t stride : {1, 2}) {
      INFO("padding " << (padding == Padding::kSame ? "same" : "valid") << ", stride " << stride);
      Conv2D conv({.filters = 5,
                   .kernel_height = 1,
                   .kernel_width = 3,
                   .padding = padding,
                   .stride_width = stride,
                   .one_d = true});
      LayerHarness h(conv, Shape::Sequence(9, 4), 2);
      CHECK(std::string(conv.type_name()) == "Conv1D");
      CHECK(h.layout.tensors()[0].shape == std::vector<std::size_t>{3, 4, 5});
      const std::size_t steps = padding == Padding::kSame ? (9 + stride - 1) / stride : (9 - 3) / stride + 1;
      CHECK(h.out == Shape::Sequence(steps, 5));
      CHECK(conv.num_params() == 3 * 4 * 5 + 5);
      GradCheck g = CheckLayerGradients(h, RandomVector(2 * 9 * 4, 4), 2);
      CHECK(g.input_error < 2e-3);
      CHECK(g.param_error < 2e-3);
    }
  }
  // One output step by hand: valid, kernel 2, one filter, no bias.
  Conv2D conv({.filters = 1, .kernel_height = 1, .kernel_width = 2, .use_bias = false, .one_d = true});
  LayerHarness h(conv, Shape::Sequence(2, 2), 1);
  const float kernel[4] = {1, 2, 3, 4};  // [k=2, cin=2, cout=1]
  std::copy(kernel, kernel + 4, h.params.data());
  const float x[4] = {1, -1, 0.5f, 2};  // t0 = (1, -1), t1 = (0.5, 2)
  float y = 0;
  conv.Forward(x, &y, 1, false);
  CHECK(y == Approx(1 * 1 + 2 * -1 + 3 * 0.5 + 4 * 2));
  ParameterLayout layout;
  Conv2D on_image({.kernel_height = 1, .kernel_width = 3, .one_d = true});
  CHECK(on_image.Build(Shape::Image(4, 4, 1), "c", layout).status().message() ==
        "c (Conv1D): needs a sequence input (None, timesteps, features), got (None, 4, 4, 1)");
}

TEST_CASE("1D poolings reduce a sequence along its timesteps", "[models][sequence]") {
  MaxPool2D max({.pool_height = 1, .pool_width = 2, .stride_height = 1, .padding = Padding::kSame, .one_d = true});
  LayerHarness hm(max, Shape::Sequence(5, 3), 2);
  CHECK(std::string(max.type_name()) == "MaxPooling1D");
  CHECK(hm.out == Shape::Sequence(3, 3));
  GradCheck gm = CheckLayerGradients(hm, RandomVector(2 * 5 * 3, 6), 2, 1e-3f);
  CHECK(gm.input_error < 2e-3);
  AvgPool2D avg({.pool_height = 1, .pool_width = 3, .stride_height = 1, .stride_width = 2, .one_d = true});
  LayerHarness ha(avg, Shape::Sequence(7, 2), 2);
  CHECK(std::string(avg.type_name()) == "AveragePooling1D");
  CHECK(ha.out == Shape::Sequence(3, 2));
  GradCheck ga = CheckLayerGradients(ha, RandomVector(2 * 7 * 2, 7), 2);
  CHECK(ga.input_error < 2e-3);
  for (GlobalPoolKind kind : {GlobalPoolKind::kAverage, GlobalPoolKind::kMax}) {
    GlobalPool2D global(kind, /*keepdims=*/false, /*one_d=*/true);
    LayerHarness hg(global, Shape::Sequence(6, 4), 3);
    CHECK(hg.out == Shape::Vector(4));
    GradCheck gg = CheckLayerGradients(hg, RandomVector(3 * 6 * 4, 8), 3, 1e-3f);
    CHECK(gg.input_error < 2e-3);
    GlobalPool2D kept(kind, /*keepdims=*/true, /*one_d=*/true);
    ParameterLayout layout;
    CHECK(kept.Build(Shape::Sequence(6, 4), "g", layout).value() == Shape::Sequence(1, 4));
    CHECK(kept.Build(Shape::Image(6, 4, 1), "g", layout).status().message().find("needs a sequence input") !=
          std::string::npos);
  }
}

TEST_CASE("Embedding looks up each id's row, its gradient sums each id's uses", "[models][sequence]") {
  Embedding e({.input_dim = 6, .output_dim = 3});
  LayerHarness h(e, Shape::Vector(4), 2);
  CHECK(h.out == Shape::Sequence(4, 3));
  CHECK(h.layout.tensors()[0].name == "layer_1/embeddings");
  CHECK(h.layout.tensors()[0].shape == std::vector<std::size_t>{6, 3});
  CHECK(e.num_params() == 18);
  const std::vector<float> ids = {1, 5, 1, 3, 2, 2, 4, 1};
  std::vector<float> y(2 * 4 * 3);
  e.Forward(ids.data(), y.data(), 2, true);
  for (std::size_t i = 0; i < ids.size(); ++i)
    for (std::size_t k = 0; k < 3; ++k)
      CHECK(y[i * 3 + k] == h.params.data()[static_cast<std::size_t>(ids[i]) * 3 + k]);
  // Central differences over the table (moving an id by a step moves it to
  // another row: the ids are no variable, and their gradient is 0).
  GradCheck g = CheckLayerGradients(h, ids, 2);
  CHECK(g.param_error < 2e-3);
  // Id 1 is used three times: its gradient row is the sum of three output rows.
  std::vector<float> dy(y.size(), 1.0f), dids(ids.size(), 7.0f);
  e.Backward(ids.data(), y.data(), dy.data(), dids.data(), 2);
  CHECK(dids == std::vector<float>(ids.size(), 0.0f));
  CHECK(h.grads.data()[1 * 3] == 3.0f);
  CHECK(h.grads.data()[0] == 0.0f);

  CHECK(e.CheckInput(ids.data(), 2).ok());
  const std::vector<float> bad = {1, 2, 3, 4, 0, 6, 1, 1};  // 6 is not below input_dim
  CHECK(e.CheckInput(bad.data(), 2).message() ==
        "layer_1 (Embedding): sample 1, position 1 holds 6.000000, not a token id in [0, 6) (input_dim); give the "
        "ids unscaled (--divisor 1, no --standardize)");
  const std::vector<float> fraction = {1, 2, 0.5f, 4};
  CHECK(e.CheckInput(fraction.data(), 1).message().find("sample 0, position 2 holds 0.500000") != std::string::npos);
  const std::vector<float> negative = {-1, 2, 3, 4};
  CHECK(!e.CheckInput(negative.data(), 1).ok());
}

TEST_CASE("Keras files build Embedding, Conv1D and the 1D poolings with Keras' counts", "[models][sequence][keras]") {
  // Embedding(50, 8) on 20 ids -> Conv1D(6, 3, same) -> MaxPooling1D(2) -> AveragePooling1D(2, strides 1)
  // -> GlobalMaxPooling1D -> Dense(3): 400 + 150 + 0 + 0 + 0 + 21 parameters.
  const json model = KerasModelJson(
      {KLayer("Embedding", "embedding", {{"input_dim", 50}, {"output_dim", 8}, {"mask_zero", false}}),
       KLayer("Conv1D", "conv1d",
              {{"filters", 6}, {"kernel_size", {3}}, {"strides", {1}}, {"padding", "same"}, {"activation", "relu"}}),
       KLayer("MaxPooling1D", "max_pooling1d", {{"pool_size", {2}}, {"strides", {2}}, {"padding", "valid"}}),
       KLayer("AveragePooling1D", "average_pooling1d", {{"pool_size", 2}, {"strides", 1}}),
       KLayer("GlobalMaxPooling1D", "global_max_pooling1d", {{"keepdims", false}}), KDense("dense", 3, "softmax")},
      {20}, KerasForm::kTfKeras);
  auto built = BuildKerasModel(model.dump(), "text.json", 1);
  INFO(built.status().ToString());
  REQUIRE(built.ok());
  const std::string summary = built.value()->Summary();
  CHECK(summary.find("embedding (Embedding)        (None, 20, 8)             400") != std::string::npos);
  CHECK(summary.find("conv1d (Conv1D)              (None, 20, 6)             150") != std::string::npos);
  CHECK(summary.find("max_pooling1d (MaxPooling1D) (None, 10, 6)             0") != std::string::npos);
  CHECK(summary.find("(None, 9, 6)") != std::string::npos);
  CHECK(built.value()->num_params() == 400 + 150 + 21);
  const std::vector<float> ids(20, 49.0f), out_of_range(20, 50.0f);
  CHECK(built.value()->CheckInput(ids.data(), 1).ok());
  CHECK(!built.value()->CheckInput(out_of_range.data(), 1).ok());

  json masked = model;
  masked["config"]["layers"][1]["config"]["mask_zero"] = true;
  auto refused = BuildKerasModel(masked.dump(), "text.json", 1);
  REQUIRE(!refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("'embedding' (Embedding): mask_zero = true"));
  json causal = model;
  causal["config"]["layers"][2]["config"]["padding"] = "causal";
  refused = BuildKerasModel(causal.dump(), "text.json", 1);
  REQUIRE(!refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("'conv1d' (Conv1D): padding = \"causal\""));
}
