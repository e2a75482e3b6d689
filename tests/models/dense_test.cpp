#include "asyncps/models/dense.h"

#include <catch2/catch.hpp>

#include "test_util.h"

using namespace asyncps::models;
using asyncps::models::testing::CheckLayerGradients;
using asyncps::models::testing::LayerHarness;
using asyncps::models::testing::RandomVector;

TEST_CASE("Dense forward is x W + b with a Keras [in, out] kernel", "[models][dense]") {
  Dense d(3);
  LayerHarness h(d, Shape::Vector(2), 1);
  CHECK(h.layout.tensors()[0].shape == std::vector<std::size_t>{2, 3});
  float* p = h.params.data();
  const float w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, -1, 2};
  std::copy(w, w + 6, p);
  std::copy(b, b + 3, p + 6);
  const float x[2] = {1, -2};
  float y[3];
  d.Forward(x, y, 1, false);
  CHECK(y[0] == Approx(1 - 8 + 0.5));
  CHECK(y[1] == Approx(2 - 10 - 1));
  CHECK(y[2] == Approx(3 - 12 + 2));
}

TEST_CASE("Dense backward matches finite differences", "[models][dense][gradcheck]") {
  Dense d(5);
  LayerHarness h(d, Shape::Vector(7), 4);
  const auto x = RandomVector(4 * 7, 3);
  const auto c = CheckLayerGradients(h, x, 4);
  CHECK(c.input_error < 1e-3);
  CHECK(c.param_error < 1e-3);
}

TEST_CASE("Dense needs a flat input", "[models][dense]") {
  Dense d(5);
  asyncps::ParameterLayout layout;
  auto r = d.Build(Shape::Image(2, 2, 1), "dense_1", layout);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("Flatten"));
}
