// Bugs found by the fuzz targets (fuzz/), each as a test that failed before
// its fix (under the sanitizer builds: scripts/sanitize.sh address). The inputs
// themselves are in tests/server/fuzz_regressions/{shard,reply}/, also replayed by
// ctest's fuzz_corpus_replay_* through the real fuzz targets.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>

#include "asyncps/server/shard.h"

using namespace asyncps;

namespace {

// An empty span whose pointer is not 8-byte aligned, as ZeroMQ may hand over
// for an empty frame.
std::span<const std::byte> EmptyAtOddAddress(const std::vector<std::byte>& storage) { return {storage.data() + 1, 0}; }

}  // namespace

TEST_CASE("fuzz regression: an empty header frame at an odd address is Malformed", "[fuzz][malformed]") {
  // Before the fix, Verify copied the 0-byte frame into an empty scratch
  // vector: memcpy(nullptr, p, 0), undefined behaviour (UBSan: nonnull).
  const std::vector<std::byte> storage(16);
  ps::Shard shard({});
  flatbuffers::FlatBufferBuilder fbb;
  CHECK(shard.Handle(EmptyAtOddAddress(storage), {}, fbb).error == wire::ErrorCode::Malformed);
  CHECK(shard.errors_by_code()[static_cast<std::size_t>(wire::ErrorCode::Malformed)] == 1);
  std::vector<std::uint64_t> scratch;
  std::string why;
  CHECK(wire::VerifyReply(EmptyAtOddAddress(storage), scratch, &why) == nullptr);
  CHECK_THAT(why, Catch::Contains("0 bytes"));
}

TEST_CASE("fuzz regression: an empty payload at an odd address reads as no floats", "[fuzz]") {
  // The same memcpy into an empty scratch, for a zero-float payload.
  const std::vector<std::byte> storage(16);
  std::vector<std::uint32_t> scratch;
  Result<PayloadView> view = wire::ReadPayload(EmptyAtOddAddress(storage), 0, Encoding::kFloat32, false, 0, scratch);
  REQUIRE(view.ok());
  CHECK(view.value().count == 0);
}

TEST_CASE("fuzz regression: a reply with a misaligned [ulong] vector is refused", "[fuzz][malformed]") {
  // reply_fuzzer: stats.errors_by_code placed at an offset that is not a
  // multiple of 8. FlatBuffers' verifier accepts it and its reader then loads
  // the elements misaligned (UB). Verify now refuses such frames.
  std::ifstream in(std::string(ASYNCPS_SOURCE_DIR) + "/tests/server/fuzz_regressions/reply/misaligned-ulong-vector",
                   std::ios::binary);
  REQUIRE(in);
  const std::vector<char> input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(input.size() > 2);
  const std::size_t header_len = static_cast<unsigned char>(input[0]) | (static_cast<unsigned char>(input[1]) << 8);
  // An 8-aligned copy of the header frame (the reply fuzzer's input format: u16 length, header, payload).
  std::vector<std::uint64_t> aligned((header_len + 7) / 8);
  std::memcpy(aligned.data(), input.data() + 2, std::min(header_len, input.size() - 2));
  std::vector<std::uint64_t> scratch;
  std::string why;
  const auto* bytes = reinterpret_cast<const std::byte*>(aligned.data());
  CHECK(wire::VerifyReply({bytes, std::min(header_len, input.size() - 2)}, scratch, &why) == nullptr);
  CHECK_THAT(why, Catch::Contains("misaligned"));
}
