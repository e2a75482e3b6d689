#include "asyncps/models/dataset.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <numeric>
#include <set>

#include "data_files.h"
#include "test_util.h"
#include "support/skip.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

TEST_CASE("LoadMnist reads .gz or raw files from a user's --data directory", "[models][dataset]") {
  for (bool gz : {true, false}) {
    TempDir dir(gz ? "mnist-gz" : "mnist-raw");
    WriteMnistSplit(dir.path().string(), "train", 20, gz);
    WriteMnistSplit(dir.path().string(), "t10k", 5, gz);
    auto train = LoadMnist({.dir = dir.path().string()}, Split::kTrain);
    REQUIRE(train.ok());
    CHECK(train.value().size() == 20);
    CHECK(train.value().height == 28);
    CHECK(train.value().channels == 1);
    CHECK(train.value().image(4)[100] == Approx(4.0f / 255.0f));
    CHECK(train.value().labels[13] == 3);
    auto test = LoadMnist({.dir = dir.path().string(), .divisor = 250.0f, .limit = 3}, Split::kTest);
    REQUIRE(test.ok());
    CHECK(test.value().size() == 3);
    CHECK(test.value().image(2)[0] == Approx(2.0f / 250.0f));
  }
}

TEST_CASE("LoadMnist loads one worker's share, the same as Partition", "[models][dataset]") {
  TempDir dir("mnist-share");
  WriteMnistSplit(dir.path().string(), "train", 23, true);
  auto all = LoadMnist({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE(all.ok());
  for (std::size_t w = 0; w < 3; ++w) {
    auto share = LoadMnist({.dir = dir.path().string(), .worker = w, .num_workers = 3}, Split::kTrain);
    REQUIRE(share.ok());
    auto part = Partition(all.value(), w, 3);
    REQUIRE(part.ok());
    CHECK(share.value().labels == part.value().labels);
    CHECK(share.value().images == part.value().images);
  }
  auto limited = LoadMnist({.dir = dir.path().string(), .limit = 10, .worker = 1, .num_workers = 2}, Split::kTrain);
  REQUIRE(limited.ok());
  CHECK(limited.value().size() == 5);
  CHECK(limited.value().image(0)[0] == Approx(5.0f / 255.0f));
  auto bad = LoadMnist({.dir = dir.path().string(), .worker = 2, .num_workers = 2}, Split::kTrain);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("worker 2 of 2"));
}

TEST_CASE("LoadMnist explains a wrong directory and mismatched files", "[models][dataset]") {
  TempDir dir("mnist-bad");
  auto none = LoadMnist({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.status().message(), Catch::Contains(dir.path().string()) &&
                                          Catch::Contains("train-images-idx3-ubyte") && Catch::Contains("--data"));
  WriteMnistSplit(dir.path().string(), "train", 10, false);
  // Labels file from a different split: 9 labels for 10 images.
  std::vector<std::uint8_t> lab(9, 1);
  WriteBytes(dir.file("train-labels-idx1-ubyte"), IdxBytes({9}, lab));
  auto mismatch = LoadMnist({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE_FALSE(mismatch.ok());
  CHECK_THAT(mismatch.status().message(), Catch::Contains("10 images") && Catch::Contains("9 labels"));
  // A label outside [0, 10).
  WriteBytes(dir.file("train-labels-idx1-ubyte"), IdxBytes({10}, std::vector<std::uint8_t>(10, 12)));
  auto label = LoadMnist({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE_FALSE(label.ok());
  CHECK_THAT(label.status().message(), Catch::Contains("label 12"));
}

TEST_CASE("Fashion-MNIST from Debian's package loads in full", "[models][dataset][fashion]") {
  asyncps::testing::RequireOrSkip(std::filesystem::exists(std::string(kDefaultDataDir) + "/t10k-images-idx3-ubyte.gz"),
                                  "dataset-fashion-mnist is not installed");
  auto test = LoadMnist({}, Split::kTest);
  REQUIRE(test.ok());
  CHECK(test.value().size() == 10000);
  CHECK(test.value().sample_size() == 784);
  const auto [lo, hi] = std::minmax_element(test.value().images.begin(), test.value().images.end());
  CHECK(*lo == 0.0f);
  CHECK(*hi == 1.0f);
}

TEST_CASE("Partition gives W disjoint, complete, balanced, deterministic shares", "[models][dataset]") {
  Dataset d;
  d.height = d.width = d.channels = 1;
  const std::size_t n = 103;
  for (std::size_t i = 0; i < n; ++i) {
    d.images.push_back(static_cast<float>(i));
    d.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  for (std::size_t w : {1u, 2u, 4u, 7u}) {
    std::vector<float> seen;
    std::size_t lo = n, hi = 0;
    for (std::size_t i = 0; i < w; ++i) {
      auto p = Partition(d, i, w);
      REQUIRE(p.ok());
      auto again = Partition(d, i, w);
      CHECK(again.value().images == p.value().images);
      seen.insert(seen.end(), p.value().images.begin(), p.value().images.end());
      lo = std::min(lo, p.value().size());
      hi = std::max(hi, p.value().size());
      CHECK(p.value().labels.size() == p.value().images.size());
    }
    std::vector<float> all(n);
    std::iota(all.begin(), all.end(), 0.0f);
    CHECK(seen == all);
    CHECK(hi - lo <= 1);
  }
  CHECK_FALSE(Partition(d, 3, 3).ok());
  CHECK_FALSE(Partition(d, 0, 0).ok());
}

TEST_CASE("OneHot sets exactly one 1 per row", "[models][dataset]") {
  const std::uint8_t labels[3] = {2, 0, 9};
  std::vector<float> y(30, 5.0f);
  OneHot(labels, 3, 10, y.data());
  CHECK(std::accumulate(y.begin(), y.end(), 0.0f) == 3.0f);
  CHECK(y[2] == 1.0f);
  CHECK(y[10] == 1.0f);
  CHECK(y[29] == 1.0f);
}
