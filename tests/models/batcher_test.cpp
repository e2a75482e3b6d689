#include "asyncps/models/batcher.h"

#include <catch2/catch.hpp>
#include <numeric>

using namespace asyncps::models;

namespace {
Dataset Numbers(std::size_t n) {
  Dataset d;
  d.height = d.width = d.channels = 1;
  for (std::size_t i = 0; i < n; ++i) {
    d.images.push_back(static_cast<float>(i));
    d.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return d;
}
}  // namespace

TEST_CASE("Batcher trains the last partial batch unless asked to drop it", "[models][batcher]") {
  const Dataset d = Numbers(10);
  Batcher keep(d, {.batch_size = 4, .seed = 1});
  keep.StartEpoch(0);
  REQUIRE(keep.num_batches() == 3);
  CHECK(keep.Get(2).size == 2);
  std::vector<float> seen;
  for (std::size_t i = 0; i < keep.num_batches(); ++i) {
    BatchView b = keep.Get(i);
    for (std::size_t j = 0; j < b.size; ++j) {
      seen.push_back(b.x[j]);
      CHECK(b.labels[j] == static_cast<std::uint8_t>(static_cast<int>(b.x[j]) % 10));
      CHECK(b.y[j * 10 + b.labels[j]] == 1.0f);
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<float> all(10);
  std::iota(all.begin(), all.end(), 0.0f);
  CHECK(seen == all);  // every sample exactly once per epoch

  Batcher drop(d, {.batch_size = 4, .seed = 1, .drop_last = true});
  drop.StartEpoch(0);
  CHECK(drop.num_batches() == 2);
}

TEST_CASE("Batcher shuffles per epoch, reproducibly from the seed", "[models][batcher]") {
  const Dataset d = Numbers(50);
  Batcher a(d, {.batch_size = 8, .seed = 7}), b(d, {.batch_size = 8, .seed = 7}), c(d, {.batch_size = 8, .seed = 8});
  a.StartEpoch(0);
  b.StartEpoch(0);
  c.StartEpoch(0);
  CHECK(a.order() == b.order());
  CHECK(a.order() != c.order());
  const auto epoch0 = a.order();
  a.StartEpoch(1);
  CHECK(a.order() != epoch0);
  a.StartEpoch(0);
  CHECK(a.order() == epoch0);
  std::vector<std::uint32_t> natural(50);
  std::iota(natural.begin(), natural.end(), 0u);
  CHECK(epoch0 != natural);
  Batcher plain(d, {.batch_size = 8, .shuffle = false});
  plain.StartEpoch(3);
  CHECK(plain.order() == natural);
}

TEST_CASE("Batcher's y: one float per sample for binary labels and for regression targets", "[models][batcher]") {
  Dataset binary = Numbers(6);
  binary.num_classes = 2;
  for (std::size_t i = 0; i < binary.labels.size(); ++i) binary.labels[i] = static_cast<std::uint8_t>(i % 2);
  Batcher b(binary, {.batch_size = 4, .shuffle = false, .binary_targets = true});
  CHECK(TargetWidth(binary, {.binary_targets = true}) == 1);
  b.StartEpoch(0);
  BatchView v = b.Get(0);
  CHECK(std::vector<float>(v.y, v.y + v.size) == std::vector<float>{0, 1, 0, 1});

  Dataset regression;
  regression.height = regression.width = regression.channels = 1;
  regression.num_classes = 1;
  regression.images = {1, 2, 3};
  regression.targets = {-0.5f, 2.5f, 1e3f};
  CHECK(regression.size() == 3);
  Batcher r(regression, {.batch_size = 2, .shuffle = false});
  r.StartEpoch(0);
  BatchView last = r.Get(1);
  REQUIRE(last.size == 1);
  CHECK(last.x[0] == 3.0f);
  CHECK(last.y[0] == 1e3f);
}
