#include "asyncps/models/evaluate.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "asyncps/models/dense.h"

using namespace asyncps::models;

TEST_CASE("Evaluate counts argmax hits and averages the loss over every sample", "[models][evaluate]") {
  // Identity-like Dense on 2 features: logits = x, so the label decides the hit.
  Sequential m(Shape::Vector(2));
  m.Add(std::make_unique<Dense>(2));
  REQUIRE(m.Build(1).ok());
  const float p[6] = {1, 0, 0, 1, 0, 0};
  std::copy(p, p + 6, m.params().begin());
  Dataset d;
  d.height = d.width = 1;
  d.channels = 2;
  d.num_classes = 2;
  d.images = {2, 0, 0, 2, 2, 0, 3, 0, 0, 1};
  d.labels = {0, 1, 1, 0, 1};  // logits = x: hit, hit, miss, hit, hit
  for (std::size_t batch : {1u, 2u, 256u}) {
    auto e = Evaluate(m, d, batch);
    REQUIRE(e.ok());
    CHECK(e.value().samples == 5);
    CHECK(e.value().accuracy == Approx(0.8));  // all but the third sample
    const double hit = std::log(1 + std::exp(-2.0)), miss = std::log(1 + std::exp(2.0));
    const double want = (hit + hit + miss + std::log(1 + std::exp(-3.0)) + std::log(1 + std::exp(-1.0))) / 5;
    CHECK(e.value().loss == Approx(want).epsilon(1e-5));
    // Rows: true class; columns: predicted.
    CHECK(e.value().confusion == std::vector<std::uint64_t>{2, 0, 1, 2});
    // Class 1 positive: 2 of 2 predicted right, 2 of 3 found.
    CHECK(e.value().positive.precision == Approx(1.0));
    CHECK(e.value().positive.recall == Approx(2.0 / 3));
    CHECK(e.value().positive.f1 == Approx(0.8));
    CHECK(e.value().macro_f1 == Approx(0.8));  // class 0: 2 TP, 1 FP, 0 FN: 4/5 too
    // softmax[1] = sigmoid(z1 - z0): of the 3 x 2 positive-negative pairs, one
    // tie (0.119 twice), the rest ordered right: 5.5 / 6.
    CHECK(e.value().roc_auc == Approx(5.5 / 6));
  }
}

TEST_CASE("Classification metrics from a confusion matrix, by hand", "[models][evaluate]") {
  // 3 classes: rows true, columns predicted.
  const std::vector<std::uint64_t> c = {5, 1, 0, 2, 3, 1, 0, 0, 4};
  const ClassScores first = ScoresOf(c, 3, 0);
  CHECK(first.precision == Approx(5.0 / 7));
  CHECK(first.recall == Approx(5.0 / 6));
  CHECK(first.f1 == Approx(10.0 / 13));  // 2TP / (2TP + FP + FN)
  CHECK(ScoresOf(c, 3, 1).f1 == Approx(6.0 / 10));
  CHECK(ScoresOf(c, 3, 2).f1 == Approx(8.0 / 9));
  CHECK(MacroF1(c, 3) == Approx((10.0 / 13 + 0.6 + 8.0 / 9) / 3));
  // A class never predicted: precision 0/0 counts 0, not NaN.
  const ClassScores never = ScoresOf(std::vector<std::uint64_t>{2, 0, 1, 0}, 2, 1);
  CHECK((never.precision == 0.0 && never.recall == 0.0 && never.f1 == 0.0));
}

TEST_CASE("ROC AUC ranks positives above negatives, ties one half", "[models][evaluate]") {
  // scikit-learn's roc_auc_score example: 0.75.
  const std::vector<float> scores = {0.1f, 0.4f, 0.35f, 0.8f};
  CHECK(RocAuc(scores, std::vector<std::uint8_t>{0, 0, 1, 1}) == Approx(0.75));
  CHECK(RocAuc(scores, std::vector<std::uint8_t>{1, 1, 0, 0}) == Approx(0.25));
  CHECK(RocAuc(std::vector<float>{0.5f, 0.5f, 0.5f}, std::vector<std::uint8_t>{0, 1, 1}) == Approx(0.5));
  CHECK(RocAuc(scores, std::vector<std::uint8_t>{1, 1, 1, 1}) == 0.5);  // one class only
}

TEST_CASE("Evaluate refuses data that does not fit the model", "[models][evaluate]") {
  Sequential m(Shape::Vector(2));
  m.Add(std::make_unique<Dense>(2));
  REQUIRE(m.Build(1).ok());
  Dataset d;
  d.height = d.width = 1;
  d.channels = 3;
  auto e = Evaluate(m, d);
  REQUIRE_FALSE(e.ok());
  CHECK_THAT(e.status().message(), Catch::Contains("does not fit"));
}

TEST_CASE("Evaluate with binary_crossentropy and with a regression loss, by hand", "[models][evaluate][loss]") {
  // logit = x (kernel 1, bias 0).
  Sequential m(Shape::Vector(1));
  m.Add(std::make_unique<Dense>(1));
  REQUIRE(m.Build(1).ok());
  m.params()[0] = 1;
  m.params()[1] = 0;
  m.SetOutputActivation(OutputActivation::kSigmoid);
  m.SetLoss({.kind = LossKind::kBinaryCrossentropy});
  Dataset d;
  d.height = d.width = d.channels = 1;
  d.num_classes = 2;
  d.images = {2, -1, 0.5f, -3};
  d.labels = {1, 1, 0, 0};
  auto e = Evaluate(m, d, 3);
  REQUIRE(e.ok());
  CHECK(e.value().accuracy == Approx(0.5));  // class 1 when the logit is above 0
  CHECK(e.value().confusion == std::vector<std::uint64_t>{1, 1, 1, 1});
  CHECK(e.value().roc_auc == Approx(0.75));  // 2 > 0.5, 2 > -3, -1 > -3; not -1 > 0.5
  auto softplus = [](double z) { return std::log1p(std::exp(z)); };
  CHECK(e.value().loss == Approx((softplus(-2) + softplus(1) + softplus(0.5) + softplus(-3)) / 4));

  // Regression: prediction 2x against targets 2, 5, 5: errors 0, -1, 1.
  m.params()[0] = 2;
  m.SetOutputActivation(OutputActivation::kLinear);
  m.SetLoss({.kind = LossKind::kMeanSquaredError});
  Dataset r;
  r.height = r.width = r.channels = 1;
  r.num_classes = 1;
  r.images = {1, 2, 3};
  r.targets = {2, 5, 5};
  auto g = Evaluate(m, r, 2);
  REQUIRE(g.ok());
  CHECK(g.value().regression);
  CHECK(g.value().mse == Approx(2.0 / 3));
  CHECK(g.value().loss == Approx(2.0 / 3));
  CHECK(g.value().mae == Approx(2.0 / 3));
  CHECK(g.value().r2 == Approx(1.0 - 2.0 / 6));  // SST around the mean 4: 4 + 1 + 1
  // Regression data under a classification loss is refused.
  m.SetLoss({.kind = LossKind::kBinaryCrossentropy});
  m.SetOutputActivation(OutputActivation::kSigmoid);
  CHECK_FALSE(Evaluate(m, r).ok());
}
