#include "asyncps/models/optimizer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

using namespace asyncps::models;

namespace {
// Applies `steps` updates with gradient g_t = (t+1) * base to w.
std::vector<float> Run(Optimizer& o, std::vector<float> w, const std::vector<float>& base, int steps) {
  std::vector<float> g(base.size());
  for (int t = 0; t < steps; ++t) {
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = base[i] * static_cast<float>(t + 1);
    o.Step(w, g);
  }
  return w;
}
}  // namespace

TEST_CASE("SGD without momentum is w -= lr g", "[models][optimizer]") {
  auto o = MakeSgd(0.1f);
  auto w = Run(*o, {1.0f, -2.0f}, {0.5f, 1.0f}, 2);
  CHECK(w[0] == Approx(1.0 - 0.1 * 0.5 - 0.1 * 1.0));
  CHECK(w[1] == Approx(-2.0 - 0.1 * 1.0 - 0.1 * 2.0));
}

TEST_CASE("SGD momentum and Nesterov follow Keras' formulas", "[models][optimizer]") {
  const double lr = 0.1, mu = 0.9, g1 = 0.5, g2 = 1.0;
  {
    auto o = MakeSgd(0.1f, 0.9f, false);
    auto w = Run(*o, {1.0f}, {0.5f}, 2);
    const double v1 = -lr * g1, v2 = mu * v1 - lr * g2;
    CHECK(w[0] == Approx(1.0 + v1 + v2));
  }
  {
    auto o = MakeSgd(0.1f, 0.9f, true);
    auto w = Run(*o, {1.0f}, {0.5f}, 2);
    const double v1 = -lr * g1, v2 = mu * v1 - lr * g2;
    CHECK(w[0] == Approx(1.0 + (mu * v1 - lr * g1) + (mu * v2 - lr * g2)));
  }
}

TEST_CASE("Adam follows Keras' formula with its defaults", "[models][optimizer]") {
  auto o = MakeAdam();
  CHECK(o->learning_rate() == Approx(0.001f));
  const double b1 = 0.9, b2 = 0.999, eps = 1e-7, lr = 0.001;
  double w = 0.3, m = 0, v = 0;
  for (int t = 1; t <= 3; ++t) {
    const double g = 0.2 * t;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double lr_t = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
    w -= lr_t * m / (std::sqrt(v) + eps);
  }
  auto got = Run(*o, {0.3f}, {0.2f}, 3);
  CHECK(got[0] == Approx(w).epsilon(1e-6));
}

TEST_CASE("Adagrad and RMSprop follow Keras' formulas", "[models][optimizer]") {
  {
    auto o = MakeAdagrad(0.01f);
    double w = 1, a = 0.1;
    for (int t = 1; t <= 3; ++t) {
      const double g = 0.5 * t;
      a += g * g;
      w -= 0.01 * g / (std::sqrt(a) + 1e-7);
    }
    CHECK(Run(*o, {1.0f}, {0.5f}, 3)[0] == Approx(w).epsilon(1e-6));
  }
  {
    auto o = MakeRmsprop(0.01f);
    double w = 1, s = 0;
    for (int t = 1; t <= 3; ++t) {
      const double g = 0.5 * t;
      s = 0.9 * s + 0.1 * g * g;
      w -= 0.01 * g / (std::sqrt(s) + 1e-7);
    }
    CHECK(Run(*o, {1.0f}, {0.5f}, 3)[0] == Approx(w).epsilon(1e-6));
  }
  {
    auto o = MakeRmsprop(0.01f, 0.9f, 0.5f);
    double w = 1, s = 0, m = 0;
    for (int t = 1; t <= 3; ++t) {
      const double g = 0.5 * t;
      s = 0.9 * s + 0.1 * g * g;
      m = 0.5 * m + 0.01 * g / (std::sqrt(s) + 1e-7);
      w -= m;
    }
    CHECK(Run(*o, {1.0f}, {0.5f}, 3)[0] == Approx(w).epsilon(1e-6));
  }
}

TEST_CASE("Optimizer state survives the PS overwriting the parameters", "[models][optimizer]") {
  // A pull replaces w between steps; the momentum must carry over, as in Dist-Keras.
  auto o = MakeSgd(0.1f, 0.9f);
  std::vector<float> w = {0.0f}, g = {1.0f};
  o->Step(w, g);  // v = -0.1
  w[0] = 5.0f;    // the PS overwrites the weights
  o->Step(w, g);  // v = 0.9 * -0.1 - 0.1 = -0.19
  CHECK(w[0] == Approx(5.0 - 0.19));
  o->Reset();
  w[0] = 0.0f;
  o->Step(w, g);
  CHECK(w[0] == Approx(-0.1));
}

TEST_CASE("MakeOptimizer creates by name with Keras default learning rates", "[models][optimizer]") {
  const std::vector<std::pair<std::string, float>> want = {
      {"sgd", 0.01f}, {"adam", 0.001f}, {"Adagrad", 0.001f}, {"RMSprop", 0.001f}};
  for (const auto& [name, lr] : want) {
    auto o = MakeOptimizer(name);
    REQUIRE(o.ok());
    CHECK(o.value()->learning_rate() == Approx(lr));
  }
  auto o = MakeOptimizer("adam", 0.01f);
  REQUIRE(o.ok());
  CHECK(std::string(o.value()->name()) == "adam");
  CHECK(o.value()->learning_rate() == Approx(0.01f));
}

TEST_CASE("MakeOptimizer rejects unknown names and bad hyper-parameters", "[models][optimizer]") {
  auto o = MakeOptimizer("adadelta");
  REQUIRE_FALSE(o.ok());
  CHECK_THAT(o.status().message(), Catch::Contains("adadelta") && Catch::Contains("sgd, adam, adagrad, rmsprop"));
  OptimizerOptions bad;
  bad.name = "sgd";
  bad.momentum = 1.5f;
  CHECK_FALSE(MakeOptimizer(bad).ok());
  CHECK_FALSE(MakeOptimizer("sgd", -1.0f).ok());
}
