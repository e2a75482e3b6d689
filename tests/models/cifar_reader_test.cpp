// CIFAR-10 binary batches, generated: NHWC conversion, partitions, malformed files.
#include "asyncps/models/cifar_reader.h"

#include <catch2/catch.hpp>

#include "data_files.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

namespace {
// Record r of batch b: label (b + r) % 10, channel plane c pixel p = (r + 7c + p) % 256.
std::string Batch(std::size_t b, std::size_t records) {
  std::string s;
  for (std::size_t r = 0; r < records; ++r) {
    s += static_cast<char>((b + r) % 10);
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t p = 0; p < 1024; ++p) s += static_cast<char>((r + 7 * c + p) % 256);
  }
  return s;
}
void WriteCifar(const TempDir& dir, std::size_t per_batch) {
  for (std::size_t b = 1; b <= 5; ++b)
    WriteBytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), Batch(b, per_batch));
  WriteBytes(dir.file("test_batch.bin"), Batch(0, per_batch));
}
}  // namespace

TEST_CASE("CIFAR-10 batches load as 32x32x3 NHWC images with their labels", "[models][cifar]") {
  TempDir dir("cifar");
  WriteCifar(dir, 4);
  CHECK(IsCifar10Dir(dir.path().string()));
  auto train = LoadCifar10({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE(train.ok());
  const Dataset& d = train.value();
  CHECK(d.size() == 20);
  CHECK((d.height == 32 && d.width == 32 && d.channels == 3 && d.num_classes == 10));
  // Sample 6 is record 2 of batch 2.
  CHECK(d.labels[6] == (2 + 2) % 10);
  for (std::size_t p : {0u, 1u, 500u, 1023u})
    for (std::size_t c = 0; c < 3; ++c)
      CHECK(d.image(6)[p * 3 + c] * 255.0f == Approx(static_cast<float>((2 + 7 * c + p) % 256)));
  auto test = LoadCifar10({.dir = dir.path().string(), .limit = 3}, Split::kTest);
  REQUIRE(test.ok());
  CHECK(test.value().size() == 3);
  // Worker 1 of 2 gets the second half, as for MNIST.
  auto half = LoadCifar10({.dir = dir.path().string(), .worker = 1, .num_workers = 2}, Split::kTrain);
  REQUIRE(half.ok());
  CHECK(half.value().size() == 10);
  CHECK(half.value().labels[0] == d.labels[10]);
}

TEST_CASE("Malformed CIFAR-10 files are refused, naming the file and the offset", "[models][cifar]") {
  TempDir dir("cifar-bad");
  WriteCifar(dir, 2);
  WriteBytes(dir.file("data_batch_3.bin"), Batch(3, 2).substr(0, 3073 + 100));
  auto truncated = LoadCifar10({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE_FALSE(truncated.ok());
  CHECK_THAT(truncated.status().message(),
             Catch::Contains("data_batch_3.bin") && Catch::Contains("3173 bytes") && Catch::Contains("offset 3073"));
  std::string bad = Batch(0, 3);
  bad[2 * 3073] = 12;
  WriteBytes(dir.file("test_batch.bin"), bad);
  auto label = LoadCifar10({.dir = dir.path().string()}, Split::kTest);
  REQUIRE_FALSE(label.ok());
  CHECK_THAT(label.status().message(), Catch::Contains("test_batch.bin") && Catch::Contains("record 2") &&
                                           Catch::Contains("offset 6146") && Catch::Contains("label 12"));
  WriteBytes(dir.file("data_batch_3.bin"), Batch(3, 2));
  std::filesystem::remove(dir.file("data_batch_5.bin"));
  auto missing = LoadCifar10({.dir = dir.path().string()}, Split::kTrain);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == asyncps::Status::Code::kIOError);
  CHECK_THAT(missing.status().message(), Catch::Contains("data_batch_5.bin"));
}
