// Bugs found by the fuzz targets (fuzz/), each as a test that failed before
// its fix (under the sanitizer builds: scripts/sanitize.sh address). The inputs
// themselves are in tests/ps/fuzz_regressions/, replayed by ctest's
// fuzz_corpus_replay_shard through the real fuzz target.
#include <catch2/catch.hpp>

#include "shard.h"

using namespace asyncps;

namespace {

// An empty span whose pointer is not 8-byte aligned, as ZeroMQ may hand over
// for an empty frame.
std::span<const std::byte> EmptyAtOddAddress(const std::vector<std::byte>& storage) {
  return {storage.data() + 1, 0};
}

}  // namespace

TEST_CASE("fuzz regression: an empty header frame at an odd address is Malformed", "[fuzz][malformed]") {
  // Before the fix, Verify copied the 0-byte frame into an empty scratch
  // vector: memcpy(nullptr, p, 0), undefined behaviour (UBSan: nonnull).
  const std::vector<std::byte> storage(16);
  ps::Shard shard({});
  flatbuffers::FlatBufferBuilder fbb;
  CHECK(shard.Handle(EmptyAtOddAddress(storage), {}, fbb).error == wire::ErrorCode::Malformed);
  CHECK(shard.counters().errors_by_code[static_cast<std::size_t>(wire::ErrorCode::Malformed)] == 1);
  std::vector<std::uint64_t> scratch;
  std::string why;
  CHECK(wire::VerifyReply(EmptyAtOddAddress(storage), scratch, &why) == nullptr);
  CHECK_THAT(why, Catch::Contains("0 bytes"));
}

TEST_CASE("fuzz regression: an empty payload at an odd address reads as no floats", "[fuzz]") {
  // The same memcpy into an empty scratch, for a zero-float payload.
  const std::vector<std::byte> storage(16);
  std::vector<float> scratch;
  Result<std::span<const float>> floats = wire::PayloadAsFloats(EmptyAtOddAddress(storage), 0, scratch);
  REQUIRE(floats.ok());
  CHECK(floats.value().empty());
}
