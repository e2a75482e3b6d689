// Keras' L1, L2 and L1L2 regularizers: the penalty and its gradient, read from
// a Keras file onto the tensors they name, in the loss a model trains on.
#include "asyncps/models/regularizer.h"

#include <catch2/catch.hpp>

#include "asyncps/models/keras_model.h"
#include "keras_json.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {

// Dense(5, relu) -> Dense(3, softmax) on 4 features, regularizers on the first layer's tensors.
json Mlp(const json& kernel_regularizer, const json& bias_regularizer) {
  KerasLayer first = KDense("dense", 5, "relu");
  first.config["kernel_regularizer"] = kernel_regularizer;
  first.config["bias_regularizer"] = bias_regularizer;
  return KerasModelJson({first, KDense("dense_1", 3, "softmax")}, {4}, KerasForm::kTfKeras);
}

double TrainingLoss(Sequential& m, const std::vector<float>& x, const std::vector<float>& y) {
  return m.ComputeGradients(x.data(), y.data(), 2);
}

}  // namespace

TEST_CASE("a regularizer adds l1 sum|w| + l2 sum w^2 to the loss and its gradient to the tensor's",
          "[models][regularizer]") {
  const std::vector<float> w = {1.0f, -2.0f, 0.0f};
  std::vector<float> grad = {0.5f, 0.5f, 0.5f};
  CHECK(ApplyRegularizer({.l1 = 0.1f, .l2 = 0.5f}, w, grad) == Approx(0.1 * 3 + 0.5 * 5));
  CHECK(grad[0] == Approx(0.5 + 0.1 + 1.0));
  CHECK(grad[1] == Approx(0.5 - 0.1 - 2.0));
  CHECK(grad[2] == Approx(0.5));  // sign(0) = 0
}

TEST_CASE("Keras files regularize the kernels and biases they name, training sees the penalty",
          "[models][regularizer][keras]") {
  const json l1l2 = {{"class_name", "L1L2"}, {"config", {{"l1", 0.01}, {"l2", 0.02}}}};
  const json l2 = {{"class_name", "L2"}, {"config", {{"l2", 0.5}}}};
  auto plain = BuildKerasModel(Mlp(nullptr, nullptr).dump(), "mlp.json", 3);
  auto regularized = BuildKerasModel(Mlp(l1l2, l2).dump(), "mlp.json", 3);
  REQUIRE(plain.ok());
  REQUIRE(regularized.ok());
  Sequential& m = *regularized.value();
  std::vector<float> bias = RandomVector(5, 4, -0.3f, 0.3f);  // the biases start at 0: move them
  std::copy(bias.begin(), bias.end(), m.params().begin() + 20);
  std::copy(bias.begin(), bias.end(), plain.value()->params().begin() + 20);
  const std::vector<float> x = RandomVector(8, 5), y = {0, 1, 0, 1, 0, 0};
  double penalty = 0;
  for (std::size_t i = 0; i < 20; ++i) penalty += 0.01 * std::abs(m.params()[i]) + 0.02 * m.params()[i] * m.params()[i];
  for (std::size_t i = 20; i < 25; ++i) penalty += 0.5 * m.params()[i] * m.params()[i];
  CHECK(TrainingLoss(m, x, y) == Approx(TrainingLoss(*plain.value(), x, y) + penalty).epsilon(1e-6));
  // The gradient of the whole loss, penalty included, against central differences.
  TrainingLoss(m, x, y);
  const std::vector<float> analytic(m.grads().begin(), m.grads().end());
  for (std::size_t i : {0u, 7u, 19u, 21u, 24u, 30u}) {
    const float keep = m.params()[i], h = 1e-3f;
    m.params()[i] = keep + h;
    const double up = TrainingLoss(m, x, y);
    m.params()[i] = keep - h;
    const double down = TrainingLoss(m, x, y);
    m.params()[i] = keep;
    INFO("parameter " << i);
    CHECK(analytic[i] == Approx((up - down) / (2 * h)).margin(2e-3));
  }
  // Keras' short names; a bias regularizer without a bias is unused, as in Keras.
  KerasLayer no_bias = KDense("dense", 5, "relu", /*use_bias=*/false);
  no_bias.config["kernel_regularizer"] = "l2";
  no_bias.config["bias_regularizer"] = "l1";
  CHECK(BuildKerasModel(KerasModelJson({no_bias, KDense("dense_1", 3, "softmax")}, {4}, KerasForm::kTfKeras).dump(),
                        "mlp.json", 3)
            .ok());
}

TEST_CASE("regularizers asyncps cannot apply are refused, naming the field", "[models][regularizer][keras]") {
  const struct {
    json regularizer;
    const char* says;
  } refusals[] = {
      {{{"class_name", "OrthogonalRegularizer"}, {"config", {{"factor", 0.01}}}},
       "kernel_regularizer = {\"class_name\":\"OrthogonalRegularizer\""},
      {{{"class_name", "L2"}, {"config", {{"l2", -1}}}}, "kernel_regularizer.l2 = -1: expected a number in [0, 1e6]"},
      {"l3", "supported: L1, L2 and L1L2"},
  };
  for (const auto& r : refusals) {
    auto m = BuildKerasModel(Mlp(r.regularizer, nullptr).dump(), "mlp.json", 3);
    REQUIRE(!m.ok());
    CHECK_THAT(m.status().message(), Catch::Contains("'dense' (Dense): ") && Catch::Contains(r.says));
  }
}
