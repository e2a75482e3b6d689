// The element-wise activations: each against its Keras definition at chosen
// points and its backward against central differences.
#include "asyncps/models/activation.h"

#include <catch2/catch.hpp>

#include <cmath>

#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;

namespace {

float Run(ActivationKind kind, float x, const ActivationOptions& o = {}) {
  Activation a(kind, o);
  ParameterLayout layout;
  REQUIRE(a.Build(Shape::Vector(1), "a", layout).ok());
  float y = 0;
  a.Forward(&x, &y, 1, false);
  return y;
}

}  // namespace

TEST_CASE("Activations compute Keras' definitions", "[models][activation]") {
  using K = ActivationKind;
  const double scale = 1.0507009873554805, alpha = 1.6732632423543772;
  for (float x : {-3.0f, -1.0f, -0.25f, 0.5f, 2.0f}) {
    INFO("x = " << x);
    const double e = std::exp(double{x}), s = 1 / (1 + std::exp(-double{x}));
    CHECK(Run(K::kElu, x) == Approx(x > 0 ? x : e - 1).margin(1e-6));
    CHECK(Run(K::kElu, x, {.alpha = 0.5f}) == Approx(x > 0 ? x : 0.5 * (e - 1)).margin(1e-6));
    CHECK(Run(K::kSelu, x) == Approx(scale * (x > 0 ? x : alpha * (e - 1))).margin(1e-6));
    CHECK(Run(K::kGelu, x) == Approx(0.5 * x * (1 + std::erf(x / std::sqrt(2.0)))).margin(1e-6));
    CHECK(Run(K::kSwish, x) == Approx(x * s).margin(1e-6));
    CHECK(Run(K::kSoftplus, x) == Approx(std::log1p(e)).margin(1e-6));
    CHECK(Run(K::kSoftsign, x) == Approx(x / (1 + std::abs(x))).margin(1e-6));
    CHECK(Run(K::kHardSigmoid, x) == Approx(std::clamp(0.2 * x + 0.5, 0.0, 1.0)).margin(1e-6));
    CHECK(Run(K::kHardSigmoidKeras3, x) == Approx(std::clamp(x + 3.0, 0.0, 6.0) / 6).margin(1e-6));
    CHECK(Run(K::kExponential, x) == Approx(e).epsilon(1e-6));
    CHECK(Run(K::kRelu, x, {.alpha = 0.3f}) == Approx(x > 0 ? x : 0.3 * x).margin(1e-6));
  }
  // Keras 2 and 3 differ in hard_sigmoid: at x = 2, 0.9 and 5/6.
  CHECK(Run(K::kHardSigmoid, 2.0f) == Approx(0.9));
  CHECK(Run(K::kHardSigmoidKeras3, 2.0f) == Approx(5.0 / 6));
  // Keras' ReLU(max_value=6, negative_slope=0.1, threshold=1).
  const ActivationOptions relu{.alpha = 0.1f, .max_value = 6.0f, .threshold = 1.0f};
  CHECK(Run(K::kRelu, 8.0f, relu) == 6.0f);
  CHECK(Run(K::kRelu, 3.0f, relu) == 3.0f);
  CHECK(Run(K::kRelu, 0.0f, relu) == Approx(-0.1));
  // Large inputs stay finite where they should.
  CHECK(Run(K::kSoftplus, 100.0f) == Approx(100.0));
  CHECK(Run(K::kSoftplus, -100.0f) >= 0.0f);
}

TEST_CASE("Activation backward matches finite differences away from the kinks", "[models][activation][gradcheck]") {
  using K = ActivationKind;
  struct Case {
    ActivationKind kind;
    ActivationOptions options;
  };
  const Case cases[] = {{K::kElu, {.alpha = 0.7f}},
                        {K::kSelu, {}},
                        {K::kGelu, {}},
                        {K::kSwish, {}},
                        {K::kSoftplus, {}},
                        {K::kSoftsign, {}},
                        {K::kHardSigmoid, {}},
                        {K::kHardSigmoidKeras3, {}},
                        {K::kExponential, {}},
                        {K::kRelu, {.alpha = 0.2f, .max_value = 1.5f, .threshold = 0.3f}},
                        {K::kSigmoid, {}},
                        {K::kTanh, {}}};
  for (const Case& c : cases) {
    INFO("kind " << static_cast<int>(c.kind));
    Activation a(c.kind, c.options);
    const std::size_t batch = 2;
    LayerHarness h(a, Shape::Image(2, 3, 2), batch);
    auto x = RandomVector(batch * 12, 17, -4.0f, 4.0f);
    // Keep every x 0.05 away from the kinks (0, relu's 0.3 and 1.5, hard_sigmoid's +-2.5 and +-3).
    for (float& v : x)
      for (float kink : {0.0f, 0.3f, 1.5f, -2.5f, 2.5f, -3.0f, 3.0f})
        if (std::abs(v - kink) < 0.05f) v = kink + 0.05f;
    const GradCheck g = CheckLayerGradients(h, x, batch, 1e-2f);
    CHECK(g.input_error < 2e-3);
  }
}
