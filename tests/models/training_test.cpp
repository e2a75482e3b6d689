// Single-process training of the seed CNN on a Fashion-MNIST subset.
#include <catch2/catch.hpp>
#include <filesystem>

#include "asyncps/models/batcher.h"
#include "asyncps/models/blas_threads.h"
#include "asyncps/models/evaluate.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/seed_cnn.h"
#include "support/skip.h"

using namespace asyncps::models;

TEST_CASE("Seed CNN reaches >= 0.70 test accuracy after 1 epoch on 2,000 images", "[models][training][fashion]") {
  asyncps::testing::RequireOrSkip(std::filesystem::exists(std::string(kDefaultDataDir) + "/train-images-idx3-ubyte.gz"),
                                  "dataset-fashion-mnist is not installed");
  SetBlasThreads(1);
  auto train = LoadMnist({.limit = 2000}, Split::kTrain);
  auto test = LoadMnist({.limit = 2000}, Split::kTest);
  REQUIRE(train.ok());
  REQUIRE(test.ok());
  auto m = BuildSeedCnn({.seed = 1});
  REQUIRE(m.ok());
  Sequential& model = *m.value();
  auto opt = MakeOptimizer("adam");
  REQUIRE(opt.ok());

  auto before = Evaluate(model, test.value());
  REQUIRE(before.ok());
  Batcher batches(train.value(), {.batch_size = 16, .seed = 1});
  REQUIRE(model.Reserve(16).ok());
  batches.StartEpoch(0);
  double first_loss = 0, last_loss = 0;
  for (std::size_t i = 0; i < batches.num_batches(); ++i) {
    BatchView b = batches.Get(i);
    const double loss = model.TrainStep(b.x, b.y, b.size, *opt.value());
    if (i == 0) first_loss = loss;
    last_loss = loss;
  }
  auto after = Evaluate(model, test.value());
  REQUIRE(after.ok());
  INFO("accuracy " << before.value().accuracy << " -> " << after.value().accuracy << ", loss " << before.value().loss
                   << " -> " << after.value().loss << " (batch loss " << first_loss << " -> " << last_loss << ")");
  CHECK(after.value().samples == 2000);
  CHECK(after.value().accuracy >= 0.70);
  CHECK(after.value().loss < before.value().loss);
}
