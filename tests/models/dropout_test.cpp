#include "asyncps/models/dropout.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;

TEST_CASE("Dropout is the identity in evaluation mode", "[models][dropout]") {
  Dropout d(0.5f, 3);
  asyncps::models::testing::LayerHarness h(d, Shape::Vector(100), 2);
  const auto x = asyncps::models::testing::RandomVector(200, 1);
  std::vector<float> y(200), dx(200);
  d.Forward(x.data(), y.data(), 2, /*training=*/false);
  CHECK(y == x);
  d.Backward(x.data(), y.data(), x.data(), dx.data(), 2);
  CHECK(dx == x);
}

TEST_CASE("Dropout in training zeroes about `rate` and scales the rest", "[models][dropout][gradcheck]") {
  Dropout d(0.25f, 3);
  const std::size_t n = 20000;
  asyncps::models::testing::LayerHarness h(d, Shape::Vector(n), 1);
  std::vector<float> x(n, 1.0f), y(n), dx(n);
  const auto r = asyncps::models::testing::RandomVector(n, 2);
  d.Forward(x.data(), y.data(), 1, /*training=*/true);
  d.Backward(x.data(), y.data(), r.data(), dx.data(), 1);
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (y[i] == 0.0f) {
      ++zeros;
      CHECK(dx[i] == 0.0f);
    } else {
      REQUIRE(y[i] == Approx(1.0f / 0.75f));
      // The layer is linear given its mask: dL/dx = r * mask.
      REQUIRE(dx[i] == Approx(r[i] / 0.75f));
    }
  }
  CHECK(static_cast<double>(zeros) / n == Approx(0.25).margin(0.02));
}

TEST_CASE("Dropout rejects a rate below 0 or from 1 on", "[models][dropout]") {
  Dropout d(1.0f);
  asyncps::ParameterLayout layout;
  auto r = d.Build(Shape::Vector(3), "dropout_1", layout);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("rate"));
}
