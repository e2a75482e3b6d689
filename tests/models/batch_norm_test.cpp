// BatchNormalization: batch statistics in training (and their moving averages),
// moving statistics in inference, gradients against central differences,
// Keras' parameter counts.
#include "asyncps/models/batch_norm.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;

namespace {

// Per-channel mean and biased variance of x [rows, c].
void Moments(const std::vector<float>& x, std::size_t c, std::vector<double>& mean, std::vector<double>& var) {
  const std::size_t rows = x.size() / c;
  mean.assign(c, 0.0);
  var.assign(c, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < c; ++k) mean[k] += x[r * c + k] / static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < c; ++k) var[k] += std::pow(x[r * c + k] - mean[k], 2) / static_cast<double>(rows);
}

}  // namespace

TEST_CASE("BatchNormalization declares gamma, beta, moving_mean, moving_variance in get_weights() order",
          "[models][batch_norm]") {
  BatchNorm bn;
  LayerHarness h(bn, Shape::Image(4, 4, 3), 2);
  REQUIRE(h.layout.num_tensors() == 4);
  CHECK(h.layout.tensors()[0].name == "layer_1/gamma");
  CHECK(h.layout.tensors()[1].name == "layer_1/beta");
  CHECK(h.layout.tensors()[2].name == "layer_1/moving_mean");
  CHECK(h.layout.tensors()[3].name == "layer_1/moving_variance");
  CHECK(bn.num_params() == 12);
  CHECK(bn.num_non_trainable_params() == 6);
  // Keras' initial values: gamma 1, beta 0, moving mean 0, moving variance 1.
  BatchNorm fresh;
  ParameterLayout layout;
  REQUIRE(fresh.Build(Shape::Vector(2), "bn", layout).ok());
  std::vector<float> p(layout.total_size(), -7.0f), g(p.size());
  fresh.Bind(p.data(), g.data());
  Rng rng(1);
  fresh.Initialize(rng);
  CHECK(p == std::vector<float>{1, 1, 0, 0, 0, 0, 1, 1});

  BatchNorm bare({.center = false, .scale = false});
  ParameterLayout bare_layout;
  REQUIRE(bare.Build(Shape::Vector(5), "bn", bare_layout).ok());
  REQUIRE(bare_layout.num_tensors() == 2);
  CHECK(bare_layout.tensors()[0].name == "bn/moving_mean");
  CHECK(bare.num_params() == 10);
  CHECK(bare.num_non_trainable_params() == 10);
}

TEST_CASE("BatchNormalization refuses any axis but the last", "[models][batch_norm]") {
  BatchNorm bn({.axis = 1});
  ParameterLayout layout;
  auto r = bn.Build(Shape::Image(4, 4, 3), "bn", layout);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("axis = 1 is not the last axis of (None, 4, 4, 3)") != std::string::npos);
  BatchNorm last({.axis = 3});
  CHECK(last.Build(Shape::Image(4, 4, 3), "bn", layout).ok());
}

TEST_CASE("BatchNormalization trains on batch statistics, updates the moving ones, infers with them",
          "[models][batch_norm]") {
  const float momentum = 0.9f, epsilon = 1e-3f;
  BatchNorm bn({.momentum = momentum, .epsilon = epsilon});
  const Shape in = Shape::Image(3, 2, 4);
  const std::size_t batch = 3, c = 4;
  LayerHarness h(bn, in, batch);
  float* gamma = h.params.data();
  float* beta = gamma + c;
  float* mm = beta + c;
  float* mv = mm + c;
  for (std::size_t k = 0; k < c; ++k) mv[k] = 0.5f + 0.25f * static_cast<float>(k);  // variances > 0
  const std::vector<float> mm0(mm, mm + c), mv0(mv, mv + c);
  const auto x = RandomVector(batch * in.size(), 5, -2.0f, 3.0f);
  std::vector<double> mean, var;
  Moments(x, c, mean, var);

  std::vector<float> y(x.size());
  bn.Forward(x.data(), y.data(), batch, /*training=*/true);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t k = i % c;
    CHECK(y[i] == Approx(gamma[k] * (x[i] - mean[k]) / std::sqrt(var[k] + epsilon) + beta[k]).margin(1e-5));
  }
  for (std::size_t k = 0; k < c; ++k) {
    CHECK(mm[k] == Approx(mm0[k] * momentum + mean[k] * (1 - momentum)).margin(1e-6));
    CHECK(mv[k] == Approx(mv0[k] * momentum + var[k] * (1 - momentum)).margin(1e-6));
  }

  bn.Forward(x.data(), y.data(), batch, /*training=*/false);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t k = i % c;
    CHECK(y[i] == Approx(gamma[k] * (x[i] - mm[k]) / std::sqrt(mv[k] + epsilon) + beta[k]).margin(1e-5));
  }
  const std::vector<float> moved(mm, mv + c);
  bn.Forward(x.data(), y.data(), batch, /*training=*/false);
  CHECK(std::vector<float>(mm, mv + c) == moved);  // inference leaves them alone
}

TEST_CASE("BatchNormalization backward matches finite differences, moving statistics get no gradient",
          "[models][batch_norm][gradcheck]") {
  struct Case {
    Shape in;
    bool center, scale;
  };
  for (const Case& c : {Case{Shape::Image(3, 3, 2), true, true}, Case{Shape::Vector(5), true, true},
                        Case{Shape::Image(2, 3, 3), false, true}, Case{Shape::Vector(4), true, false}}) {
    INFO(c.in.ToString() << " center " << c.center << " scale " << c.scale);
    BatchNorm bn({.center = c.center, .scale = c.scale});
    const std::size_t batch = 4;
    LayerHarness h(bn, c.in, batch);
    const auto x = RandomVector(batch * c.in.size(), 9, -1.5f, 1.5f);
    const GradCheck g = CheckLayerGradients(h, x, batch, 1e-2f);
    CHECK(g.input_error < 3e-3);
    CHECK(g.param_error < 3e-3);
    std::vector<float> y(batch * c.in.size()), dx(x.size());
    const auto dy = RandomVector(y.size(), 3);
    bn.Forward(x.data(), y.data(), batch, true);
    std::fill(h.grads.data(), h.grads.data() + h.grads.size(), 5.0f);
    bn.Backward(x.data(), y.data(), dy.data(), dx.data(), batch);
    const std::size_t stats = h.layout.num_tensors() - 2;
    for (std::size_t i = h.layout.offset(stats); i < h.layout.total_size(); ++i) CHECK(h.grads.data()[i] == 0.0f);
  }
}
