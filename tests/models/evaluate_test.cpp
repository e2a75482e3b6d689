#include "asyncps/models/evaluate.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "asyncps/models/dense.h"

using namespace asyncps::models;

TEST_CASE("Evaluate counts argmax hits and averages the loss over every sample", "[models][evaluate]") {
  // Identity-like Dense on 2 features: logits = x, so the label decides the hit.
  Sequential m(Shape::Vector(2));
  m.Add(std::make_unique<Dense>(2));
  REQUIRE(m.Build(1).ok());
  const float p[6] = {1, 0, 0, 1, 0, 0};
  std::copy(p, p + 6, m.params().begin());
  Dataset d;
  d.height = d.width = 1;
  d.channels = 2;
  d.num_classes = 2;
  d.images = {2, 0, 0, 2, 2, 0, 3, 0, 0, 1};
  d.labels = {0, 1, 1, 0, 1};  // logits = x: hit, hit, miss, hit, hit
  for (std::size_t batch : {1u, 2u, 256u}) {
    auto e = Evaluate(m, d, batch);
    REQUIRE(e.ok());
    CHECK(e.value().samples == 5);
    CHECK(e.value().accuracy == Approx(0.8));  // all but the third sample
    const double hit = std::log(1 + std::exp(-2.0)), miss = std::log(1 + std::exp(2.0));
    const double want = (hit + hit + miss + std::log(1 + std::exp(-3.0)) + std::log(1 + std::exp(-1.0))) / 5;
    CHECK(e.value().loss == Approx(want).epsilon(1e-5));
  }
}

TEST_CASE("Evaluate refuses data that does not fit the model", "[models][evaluate]") {
  Sequential m(Shape::Vector(2));
  m.Add(std::make_unique<Dense>(2));
  REQUIRE(m.Build(1).ok());
  Dataset d;
  d.height = d.width = 1;
  d.channels = 3;
  auto e = Evaluate(m, d);
  REQUIRE_FALSE(e.ok());
  CHECK_THAT(e.status().message(), Catch::Contains("does not fit"));
}
