#include "asyncps/models/softmax_cross_entropy.h"
#include "asyncps/models/keras_h5.h"
#include "asyncps/models/loss.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "test_util.h"

using namespace asyncps::models;

TEST_CASE("Softmax cross-entropy of uniform logits is log(classes)", "[models][loss]") {
  std::vector<float> z(2 * 10, 3.0f), y(2 * 10, 0.0f);
  y[4] = 1;
  y[10 + 7] = 1;
  CHECK(SoftmaxCrossEntropy(z.data(), y.data(), 2, 10, nullptr) == Approx(std::log(10.0)));
}

TEST_CASE("Softmax cross-entropy is stable for huge logits", "[models][loss]") {
  std::vector<float> z = {1000.0f, -1000.0f, 0.0f}, y = {0, 1, 0}, d(3);
  const double loss = SoftmaxCrossEntropy(z.data(), y.data(), 1, 3, d.data());
  CHECK(std::isfinite(loss));
  CHECK(loss == Approx(2000.0));
  CHECK(d[0] == Approx(1.0f));
  CHECK(d[1] == Approx(-1.0f));
  std::vector<float> p(3);
  Softmax(z.data(), 1, 3, p.data());
  CHECK(p[0] == Approx(1.0f));
  CHECK(std::isfinite(p[1]));
}

TEST_CASE("Softmax cross-entropy gradient matches finite differences", "[models][loss][gradcheck]") {
  const std::size_t b = 3, k = 5;
  std::vector<float> z = asyncps::models::testing::RandomVector(b * k, 8, -3, 3);
  std::vector<float> y(b * k, 0.0f);
  y[1] = y[k + 4] = y[2 * k] = 1;
  std::vector<float> d(b * k);
  SoftmaxCrossEntropy(z.data(), y.data(), b, k, d.data());
  std::vector<float> num(b * k);
  const float h = 1e-2f;
  for (std::size_t i = 0; i < z.size(); ++i) {
    const float keep = z[i];
    z[i] = keep + h;
    const double lp = SoftmaxCrossEntropy(z.data(), y.data(), b, k, nullptr);
    z[i] = keep - h;
    const double lm = SoftmaxCrossEntropy(z.data(), y.data(), b, k, nullptr);
    z[i] = keep;
    num[i] = static_cast<float>((lp - lm) / (2 * h));
  }
  CHECK(asyncps::models::testing::MaxRelError(d.data(), num.data(), d.size()) < 1e-3);
}

// Every loss (loss.h), through its fitting activations: ComputeLoss's dz
// against central differences, and values by hand.
TEST_CASE("Every loss's gradient matches finite differences", "[models][loss][gradcheck]") {
  using asyncps::models::ComputeLoss;
  using asyncps::models::Loss;
  using asyncps::models::LossKind;
  using asyncps::models::OutputActivation;
  struct Case {
    Loss loss;
    OutputActivation activation;
    std::size_t units;
  };
  const std::vector<Case> cases = {
      {{.kind = LossKind::kCategoricalCrossentropy}, OutputActivation::kSoftmax, 4},
      {{.kind = LossKind::kSparseCategoricalCrossentropy}, OutputActivation::kSoftmax, 4},
      {{.kind = LossKind::kCategoricalCrossentropy, .from_logits = true}, OutputActivation::kLinear, 4},
      {{.kind = LossKind::kBinaryCrossentropy}, OutputActivation::kSigmoid, 1},
      {{.kind = LossKind::kBinaryCrossentropy, .from_logits = true}, OutputActivation::kLinear, 1},
      {{.kind = LossKind::kMeanSquaredError}, OutputActivation::kLinear, 3},
      {{.kind = LossKind::kMeanSquaredError}, OutputActivation::kSigmoid, 3},
      {{.kind = LossKind::kMeanAbsoluteError}, OutputActivation::kLinear, 3},
      {{.kind = LossKind::kHuber}, OutputActivation::kLinear, 3},
      {{.kind = LossKind::kHuber}, OutputActivation::kSigmoid, 3},
  };
  const std::size_t b = 4;
  for (const Case& c : cases) {
    INFO(asyncps::models::LossName(c.loss.kind) << " on " << asyncps::models::ActivationName(c.activation));
    REQUIRE(asyncps::models::CheckLossFits(c.loss, c.activation, c.units).ok());
    const std::size_t n = b * c.units;
    std::vector<float> z = asyncps::models::testing::RandomVector(n, 21, -3, 3);
    std::vector<float> y(n, 0.0f);
    if (c.loss.classification()) {
      for (std::size_t i = 0; i < b; ++i) y[i * c.units + (c.units == 1 ? 0 : i % c.units)] = (c.units > 1 || i % 2);
    } else {
      y = asyncps::models::testing::RandomVector(n, 5, -2, 2);
    }
    std::vector<float> d(n);
    ComputeLoss(c.loss, c.activation, z.data(), y.data(), b, c.units, d.data());
    std::vector<float> num(n);
    const float h = 1e-2f;
    for (std::size_t i = 0; i < n; ++i) {
      const float keep = z[i];
      z[i] = keep + h;
      const double lp = ComputeLoss(c.loss, c.activation, z.data(), y.data(), b, c.units, nullptr);
      z[i] = keep - h;
      const double lm = ComputeLoss(c.loss, c.activation, z.data(), y.data(), b, c.units, nullptr);
      z[i] = keep;
      num[i] = static_cast<float>((lp - lm) / (2 * h));
    }
    CHECK(asyncps::models::testing::MaxRelError(d.data(), num.data(), n) < 2e-3);
  }
}

TEST_CASE("Loss values by hand, names, and an activation that does not fit the loss", "[models][loss]") {
  using namespace asyncps::models;
  const float z[2] = {0.0f, 2.0f}, y[2] = {1.0f, 0.5f};
  // MSE: ((0-1)^2 + (2-0.5)^2) / 2; MAE: (1 + 1.5) / 2; Huber: (0.5 + (1.5 - 0.5)) / 2.
  CHECK(ComputeLoss({.kind = LossKind::kMeanSquaredError}, OutputActivation::kLinear, z, y, 2, 1, nullptr) ==
        Approx(1.625));
  CHECK(ComputeLoss({.kind = LossKind::kMeanAbsoluteError}, OutputActivation::kLinear, z, y, 2, 1, nullptr) ==
        Approx(1.25));
  CHECK(ComputeLoss({.kind = LossKind::kHuber}, OutputActivation::kLinear, z, y, 2, 1, nullptr) == Approx(0.75));
  // BCE of sigmoid(0) = 0.5 against 1: log 2; of sigmoid(2) against 0.5: log(1 + e^2) - 1.
  CHECK(ComputeLoss({.kind = LossKind::kBinaryCrossentropy}, OutputActivation::kSigmoid, z, y, 2, 1, nullptr) ==
        Approx((std::log(2.0) + std::log(1 + std::exp(2.0)) - 1.0) / 2));
  // A logit of 100 does not overflow.
  const float big[1] = {100.0f}, zero[1] = {0.0f};
  CHECK(ComputeLoss({.kind = LossKind::kBinaryCrossentropy}, OutputActivation::kSigmoid, big, zero, 1, 1, nullptr) ==
        Approx(100.0));

  CHECK(ParseLoss("mse").value().kind == LossKind::kMeanSquaredError);
  CHECK(ParseLoss("huber_loss").value().kind == LossKind::kHuber);
  CHECK_THAT(ParseLoss("hinge").status().message(), Catch::Contains("'hinge' is not supported; supported: "));
  CHECK_THAT(CheckLossFits({.kind = LossKind::kBinaryCrossentropy}, OutputActivation::kSoftmax, 2).message(),
             Catch::Contains("needs one sigmoid unit") && Catch::Contains("ends in softmax over 2 units"));
  CHECK_THAT(CheckLossFits({.kind = LossKind::kCategoricalCrossentropy}, OutputActivation::kSigmoid, 1).message(),
             Catch::Contains("for one sigmoid unit use binary_crossentropy"));
  CHECK_THAT(CheckLossFits({.kind = LossKind::kMeanSquaredError}, OutputActivation::kSoftmax, 3).message(),
             Catch::Contains("regression loss"));
  CHECK_FALSE(CheckLossFits({.kind = LossKind::kBinaryCrossentropy}, OutputActivation::kLinear, 1).ok());
}

TEST_CASE("The loss of a Keras training_config, by name or serialized", "[models][loss][keras]") {
  using namespace asyncps::models;
  auto named = LossFromTrainingConfig(R"({"loss": "binary_crossentropy", "metrics": ["accuracy"]})", "m.h5");
  REQUIRE(named.ok());
  CHECK(named.value().kind == LossKind::kBinaryCrossentropy);
  auto serialized = LossFromTrainingConfig(
      R"({"loss": {"class_name": "CategoricalCrossentropy", "config": {"from_logits": true}}})", "m.h5");
  REQUIRE(serialized.ok());
  CHECK(serialized.value().kind == LossKind::kCategoricalCrossentropy);
  CHECK(serialized.value().from_logits);
  auto huber = LossFromTrainingConfig(R"({"loss": {"class_name": "Huber", "config": {"delta": 2.5}}})", "m.h5");
  REQUIRE(huber.ok());
  CHECK(huber.value().huber_delta == 2.5);
  CHECK_THAT(LossFromTrainingConfig(R"({"loss": "hinge"})", "m.h5").status().message(),
             Catch::Contains("m.h5: training_config") && Catch::Contains("'hinge' is not supported"));
  CHECK_THAT(LossFromTrainingConfig(R"({"loss": {"out_1": "mse"}})", "m.h5").status().message(),
             Catch::Contains("is not one loss"));
  CHECK_FALSE(LossFromTrainingConfig("not json", "m.h5").ok());
}

TEST_CASE("The optimizer of a Keras training_config: its name and learning rate", "[models][keras]") {
  using namespace asyncps::models;
  auto adam = OptimizerFromTrainingConfig(
      R"({"loss": "mse", "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.0005, "beta_1": 0.9}}})",
      "m.h5");
  REQUIRE(adam.ok());
  REQUIRE(adam.value().has_value());
  CHECK(adam.value()->name == "adam");
  CHECK(adam.value()->learning_rate == 0.0005f);
  auto sgd =
      OptimizerFromTrainingConfig(R"({"optimizer_config": {"class_name": "SGD", "config": {"lr": 0.1}}})", "m.h5");
  REQUIRE(sgd.ok());
  CHECK(sgd.value()->name == "sgd");
  CHECK(sgd.value()->learning_rate == 0.1f);
  auto none = OptimizerFromTrainingConfig(R"({"loss": "mse"})", "m.h5");
  REQUIRE(none.ok());
  CHECK_FALSE(none.value().has_value());
  CHECK_THAT(OptimizerFromTrainingConfig(R"({"optimizer_config": {"class_name": "Nadam"}})", "m.h5").status().message(),
             Catch::Contains("m.h5") && Catch::Contains("Nadam") && Catch::Contains("--optimizer"));
  CHECK_THAT(
      OptimizerFromTrainingConfig(
          R"({"optimizer_config": {"class_name": "Adam", "config": {"learning_rate": {"class_name": "ExponentialDecay"}}}})",
          "m.h5")
          .status()
          .message(),
      Catch::Contains("schedule") && Catch::Contains("--lr"));
  CHECK_FALSE(OptimizerFromTrainingConfig("not json", "m.h5").ok());
}
