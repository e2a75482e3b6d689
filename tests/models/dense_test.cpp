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

TEST_CASE("Dense agrees with a naive product for any batch size and width", "[models][dense]") {
  // Small batches take the register-blocked kernels, large ones OpenBLAS; widths
  // off the vector size exercise the tails.
  for (std::size_t batch : {1u, 5u, 8u, 13u, 16u, 23u, 32u, 40u}) {
    INFO("batch " << batch);
    Dense d(37);
    LayerHarness h(d, Shape::Vector(29), batch);
    const auto x = RandomVector(batch * 29, batch);
    const auto dy = RandomVector(batch * 37, batch + 100);
    std::vector<float> y(batch * 37), dx(batch * 29);
    d.Forward(x.data(), y.data(), batch, true);
    d.Backward(x.data(), y.data(), dy.data(), dx.data(), batch);
    const float* w = h.params.data();
    const float* b = w + 29 * 37;
    std::vector<float> want_y(batch * 37), want_dx(batch * 29);
    for (std::size_t r = 0; r < batch; ++r) {
      for (std::size_t u = 0; u < 37; ++u) {
        double s = b[u];
        for (std::size_t i = 0; i < 29; ++i) s += double{x[r * 29 + i]} * w[i * 37 + u];
        want_y[r * 37 + u] = static_cast<float>(s);
      }
      for (std::size_t i = 0; i < 29; ++i) {
        double s = 0;
        for (std::size_t u = 0; u < 37; ++u) s += double{dy[r * 37 + u]} * w[i * 37 + u];
        want_dx[r * 29 + i] = static_cast<float>(s);
      }
    }
    CHECK(asyncps::models::testing::MaxRelError(y.data(), want_y.data(), y.size()) < 1e-5);
    CHECK(asyncps::models::testing::MaxRelError(dx.data(), want_dx.data(), dx.size()) < 1e-5);
  }
}
