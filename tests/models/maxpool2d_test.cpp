#include "asyncps/models/maxpool2d.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;
using asyncps::models::testing::CheckLayerGradients;
using asyncps::models::testing::LayerHarness;
using asyncps::models::testing::RandomVector;

TEST_CASE("MaxPool2D takes the max of each 2x2 window per channel", "[models][maxpool2d]") {
  MaxPool2D p(2, 2);
  LayerHarness h(p, Shape::Image(2, 4, 1), 1);
  CHECK(h.out == Shape::Image(1, 2, 1));
  const float x[8] = {1, 5, -1, -2, 3, 2, -3, -4};
  float y[2];
  p.Forward(x, y, 1, false);
  CHECK(y[0] == 5);
  CHECK(y[1] == -1);
  // The gradient goes to the argmax only.
  const float d[2] = {10, 20};
  float dx[8];
  p.Backward(x, y, d, dx, 1);
  const float want[8] = {0, 10, 20, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) CHECK(dx[i] == want[i]);
}

TEST_CASE("MaxPool2D drops a trailing partial window like Keras", "[models][maxpool2d]") {
  MaxPool2D p(2, 2);
  LayerHarness h(p, Shape::Image(5, 7, 3), 1);
  CHECK(h.out == Shape::Image(2, 3, 3));
}

TEST_CASE("MaxPool2D backward matches finite differences", "[models][maxpool2d][gradcheck]") {
  MaxPool2D p(2, 2);
  LayerHarness h(p, Shape::Image(4, 6, 3), 2);
  // Distinct values at least 0.05 apart so that +-step never changes the argmax.
  std::vector<float> x(2 * 4 * 6 * 3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * static_cast<float>((i * 37) % x.size());
  const auto c = CheckLayerGradients(h, x, 2, 1e-2f);
  CHECK(c.input_error < 1e-3);
}
