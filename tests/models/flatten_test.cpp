#include "asyncps/models/flatten.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;

TEST_CASE("Flatten keeps NHWC order and passes gradients through", "[models][flatten]") {
  Flatten f;
  asyncps::models::testing::LayerHarness h(f, Shape::Image(2, 3, 4), 2);
  CHECK(h.out == Shape::Vector(24));
  CHECK(h.out.ToString() == "(None, 24)");
  const auto x = asyncps::models::testing::RandomVector(48, 1);
  std::vector<float> y(48), dx(48);
  f.Forward(x.data(), y.data(), 2, false);
  CHECK(y == x);
  f.Backward(x.data(), y.data(), x.data(), dx.data(), 2);
  CHECK(dx == x);
}
