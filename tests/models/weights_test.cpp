#include "asyncps/models/weights.h"

#include <catch2/catch.hpp>

#include "asyncps/models/npz.h"
#include "asyncps/models/seed_cnn.h"
#include "test_util.h"

using namespace asyncps::models;
using asyncps::Status;
using namespace asyncps::models::testing;

TEST_CASE("Seed CNN weights save and load through an npz", "[models][weights]") {
  TempDir dir("weights");
  auto a = BuildSeedCnn({.seed = 1});
  auto b = BuildSeedCnn({.seed = 2});
  REQUIRE((a.ok() && b.ok()));
  auto& ma = *a.value();
  auto& mb = *b.value();
  REQUIRE(SaveWeights(dir.file("w.npz"), ma.layout(), ma.params()).ok());
  REQUIRE(LoadWeights(dir.file("w.npz"), mb.layout(), mb.params()).ok());
  CHECK(std::equal(ma.params().begin(), ma.params().end(), mb.params().begin()));
  auto arrays = LoadNpz(dir.file("w.npz"));
  REQUIRE(arrays.ok());
  CHECK(arrays.value()[4].name == "dense_1/kernel");
  CHECK(arrays.value()[4].shape == std::vector<std::size_t>{4608, 225});
}

TEST_CASE("LoadWeights names a missing or mis-shaped tensor and leaves params alone", "[models][weights]") {
  TempDir dir("weights-bad");
  auto m = BuildSeedCnn({});
  REQUIRE(m.ok());
  auto& model = *m.value();
  const std::vector<float> before(model.params().begin(), model.params().end());
  const std::vector<float> k(3 * 3 * 1 * 32, 1.0f), bias(32, 0.0f);
  REQUIRE(SaveNpz(dir.file("partial.npz"), {{"conv2d_1/kernel", {3, 3, 1, 32}, k}}).ok());
  Status s = LoadWeights(dir.file("partial.npz"), model.layout(), model.params());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("partial.npz") && Catch::Contains("conv2d_1/bias"));
  REQUIRE(SaveNpz(dir.file("shape.npz"), {{"conv2d_1/kernel", {3, 3, 32, 1}, k}}).ok());
  s = LoadWeights(dir.file("shape.npz"), model.layout(), model.params());
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("[3,3,32,1]") && Catch::Contains("[3,3,1,32]"));
  CHECK(std::equal(before.begin(), before.end(), model.params().begin()));
}
