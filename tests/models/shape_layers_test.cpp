// The layers that only move values: GlobalAveragePooling2D, GlobalMaxPooling2D,
// ZeroPadding2D and Reshape, against their definitions and finite differences.
#include <catch2/catch.hpp>

#include <algorithm>

#include "asyncps/models/global_pool2d.h"
#include "asyncps/models/reshape.h"
#include "asyncps/models/zero_padding2d.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;
using asyncps::ParameterLayout;

TEST_CASE("Global pooling takes each channel's mean or maximum over the image", "[models][layers][global_pool]") {
  const Shape in = Shape::Image(3, 4, 2);
  const std::size_t batch = 2;
  std::vector<float> x(batch * in.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) * 0.1f - 5.0f;  // no ties
  for (bool keepdims : {false, true}) {
    for (GlobalPoolKind kind : {GlobalPoolKind::kAverage, GlobalPoolKind::kMax}) {
      INFO((kind == GlobalPoolKind::kMax ? "max" : "average") << (keepdims ? " keepdims" : ""));
      GlobalPool2D pool(kind, keepdims);
      LayerHarness h(pool, in, batch);
      CHECK(h.out == (keepdims ? Shape::Image(1, 1, 2) : Shape::Vector(2)));
      std::vector<float> y(batch * 2);
      pool.Forward(x.data(), y.data(), batch, true);
      for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t c = 0; c < 2; ++c) {
          double sum = 0, best = -1e30;
          for (std::size_t p = 0; p < 12; ++p) {
            sum += x[n * 24 + p * 2 + c];
            best = std::max(best, double{x[n * 24 + p * 2 + c]});
          }
          CHECK(y[n * 2 + c] == Approx(kind == GlobalPoolKind::kMax ? best : sum / 12).margin(1e-6));
        }
      const GradCheck g = CheckLayerGradients(h, x, batch, 1e-2f);
      CHECK(g.input_error < 1e-3);
    }
  }
  GlobalPool2D pool(GlobalPoolKind::kAverage, false);
  ParameterLayout layout;
  CHECK(!pool.Build(Shape::Vector(4), "gap", layout).ok());
}

TEST_CASE("ZeroPadding2D puts the image inside a frame of zeros", "[models][layers][zero_padding]") {
  ZeroPadding2D pad({.top = 1, .bottom = 2, .left = 0, .right = 3});
  const Shape in = Shape::Image(2, 3, 2);
  const std::size_t batch = 2;
  LayerHarness h(pad, in, batch);
  REQUIRE(h.out == Shape::Image(5, 6, 2));
  const auto x = RandomVector(batch * in.size(), 4);
  std::vector<float> y(batch * h.out.size(), 9.0f);
  pad.Forward(x.data(), y.data(), batch, true);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t r = 0; r < 5; ++r)
      for (std::size_t col = 0; col < 6; ++col)
        for (std::size_t c = 0; c < 2; ++c) {
          const bool inside = r >= 1 && r < 3 && col < 3;
          const float want = inside ? x[n * in.size() + ((r - 1) * 3 + col) * 2 + c] : 0.0f;
          CHECK(y[n * h.out.size() + (r * 6 + col) * 2 + c] == want);
        }
  const GradCheck g = CheckLayerGradients(h, x, batch, 1e-2f);
  CHECK(g.input_error < 1e-3);
}

TEST_CASE("Reshape keeps the elements in order and infers a -1 dimension", "[models][layers][reshape]") {
  Reshape r(Shape::Image(0, 2, 3));  // Keras' (-1, 2, 3)
  ParameterLayout layout;
  auto out = r.Build(Shape::Vector(12), "reshape", layout);
  REQUIRE(out.ok());
  CHECK(out.value() == Shape::Image(2, 2, 3));
  const auto x = RandomVector(12, 2);
  std::vector<float> y(12);
  r.Forward(x.data(), y.data(), 1, false);
  CHECK(y == x);

  Reshape to_vector(Shape::Vector(0));
  CHECK(to_vector.Build(Shape::Image(2, 2, 3), "reshape", layout).value() == Shape::Vector(12));
  Reshape wrong(Shape::Image(5, 1, 2));
  auto refused = wrong.Build(Shape::Vector(12), "reshape_2", layout);
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("reshape_2 (Reshape): target_shape") != std::string::npos);
  Reshape indivisible(Shape::Image(0, 5, 1));
  CHECK(!indivisible.Build(Shape::Vector(12), "reshape_3", layout).ok());
}
