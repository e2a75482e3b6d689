#include "asyncps/models/relu.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;
using asyncps::models::testing::CheckLayerGradients;
using asyncps::models::testing::LayerHarness;
using asyncps::models::testing::RandomVector;

TEST_CASE("ReLU clamps negatives to zero", "[models][relu]") {
  ReLU r;
  LayerHarness h(r, Shape::Vector(4), 1);
  const float x[4] = {-1, 0, 2, -0.5f};
  float y[4];
  r.Forward(x, y, 1, false);
  CHECK(y[0] == 0);
  CHECK(y[1] == 0);
  CHECK(y[2] == 2);
  CHECK(y[3] == 0);
}

TEST_CASE("ReLU backward matches finite differences away from the kink", "[models][relu][gradcheck]") {
  ReLU r;
  LayerHarness h(r, Shape::Image(3, 3, 2), 2);
  auto x = RandomVector(2 * 18, 4);
  for (float& v : x) v = v < 0 ? v - 0.1f : v + 0.1f;  // |x| > 0.1 > step
  const auto c = CheckLayerGradients(h, x, 2, 1e-2f);
  CHECK(c.input_error < 1e-3);
}
