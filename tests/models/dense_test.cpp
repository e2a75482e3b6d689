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
  // Batches up to 32 take the small-batch kernels (16 rows at a time), larger
  // ones OpenBLAS; widths off the vector size and the kernels' blocks (16
  // columns, 4 and 64 kernel rows) exercise the tails.
  struct Dims {
    std::size_t n_in, n_out;
  };
  for (Dims dims : {Dims{29, 37}, Dims{131, 16}, Dims{64, 50}, Dims{3, 1}}) {
    const std::size_t n_in = dims.n_in, n_out = dims.n_out;
    for (std::size_t batch : {1u, 5u, 8u, 13u, 16u, 23u, 32u, 40u}) {
      INFO("batch " << batch << ", " << n_in << " -> " << n_out);
      Dense d(n_out);
      LayerHarness h(d, Shape::Vector(n_in), batch);
      const auto bias = RandomVector(n_out, 7);  // Keras starts from zeros
      std::copy(bias.begin(), bias.end(), h.params.data() + n_in * n_out);
      const auto x = RandomVector(batch * n_in, batch);
      const auto dy = RandomVector(batch * n_out, batch + 100);
      std::vector<float> y(batch * n_out), dx(batch * n_in);
      std::fill(h.grads.data(), h.grads.data() + h.layout.total_size(), 7.0f);  // overwritten, not added to
      d.Forward(x.data(), y.data(), batch, true);
      d.Backward(x.data(), y.data(), dy.data(), dx.data(), batch);
      const float* w = h.params.data();
      const float* b = w + n_in * n_out;
      std::vector<float> want_y(batch * n_out), want_dx(batch * n_in), want_dw(n_in * n_out), want_db(n_out);
      for (std::size_t r = 0; r < batch; ++r) {
        for (std::size_t u = 0; u < n_out; ++u) {
          double s = b[u];
          for (std::size_t i = 0; i < n_in; ++i) s += double{x[r * n_in + i]} * w[i * n_out + u];
          want_y[r * n_out + u] = static_cast<float>(s);
        }
        for (std::size_t i = 0; i < n_in; ++i) {
          double s = 0;
          for (std::size_t u = 0; u < n_out; ++u) s += double{dy[r * n_out + u]} * w[i * n_out + u];
          want_dx[r * n_in + i] = static_cast<float>(s);
        }
      }
      for (std::size_t i = 0; i < n_in; ++i) {
        for (std::size_t u = 0; u < n_out; ++u) {
          double s = 0;
          for (std::size_t r = 0; r < batch; ++r) s += double{x[r * n_in + i]} * dy[r * n_out + u];
          want_dw[i * n_out + u] = static_cast<float>(s);
        }
      }
      for (std::size_t u = 0; u < n_out; ++u) {
        double s = 0;
        for (std::size_t r = 0; r < batch; ++r) s += dy[r * n_out + u];
        want_db[u] = static_cast<float>(s);
      }
      using asyncps::models::testing::MaxRelError;
      CHECK(MaxRelError(y.data(), want_y.data(), y.size()) < 1e-5);
      CHECK(MaxRelError(dx.data(), want_dx.data(), dx.size()) < 1e-5);
      CHECK(MaxRelError(h.grads.data(), want_dw.data(), want_dw.size()) < 1e-5);
      CHECK(MaxRelError(h.grads.data() + n_in * n_out, want_db.data(), n_out) < 1e-5);
    }
  }
}

// Issue 32: huge units aborted with bad_alloc.
TEST_CASE("Dense refuses a kernel over 2^31 - 1 elements, naming the layer and the shape", "[models][dense][limits]") {
  asyncps::ParameterLayout layout;
  Dense d(std::size_t{1} << 40);
  auto r = d.Build(Shape::Vector(784), "dense", layout);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == asyncps::Status::Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("dense (Dense)") && Catch::Contains("dense/kernel") &&
                                       Catch::Contains("[784,1099511627776]") && Catch::Contains("2147483647"));
  CHECK(layout.total_size() == 0);
  // Within the maximum on its own, over it with the layout's other tensors.
  REQUIRE(layout.TryAdd("before", {std::size_t{1} << 30}).ok());
  Dense e(std::size_t{1} << 24);
  auto s = e.Build(Shape::Vector(100), "dense_1", layout);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.status().message(), Catch::Contains("dense_1 (Dense)") && Catch::Contains("already holds 1073741824"));
}
