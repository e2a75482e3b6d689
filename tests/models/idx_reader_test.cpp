#include "asyncps/models/idx_reader.h"

#include <catch2/catch.hpp>

#include "data_files.h"
#include "test_util.h"

using namespace asyncps::models;
using namespace asyncps::models::testing;

TEST_CASE("IDX reader reads raw and gzip files alike", "[models][idx]") {
  TempDir dir("idx-good");
  const std::vector<std::uint8_t> data = {1, 2, 3, 4, 5, 6};
  WriteBytes(dir.file("a.idx"), IdxBytes({3, 2}, data));
  WriteGz(dir.file("a.idx.gz"), IdxBytes({3, 2}, data));
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    auto r = ReadIdx(dir.file(name), 2);
    REQUIRE(r.ok());
    CHECK(r.value().dims == std::vector<std::size_t>{3, 2});
    CHECK(r.value().data == data);
  }
  // WriteIdx round-trips.
  REQUIRE(WriteIdx(dir.file("b.idx"), {{2, 3}, data}).ok());
  auto b = ReadIdx(dir.file("b.idx"));
  REQUIRE(b.ok());
  CHECK(b.value().dims == std::vector<std::size_t>{2, 3});
}

TEST_CASE("IDX reader names the file and the problem on bad input", "[models][idx]") {
  TempDir dir("idx-bad");
  const std::vector<std::uint8_t> six = {1, 2, 3, 4, 5, 6};
  struct Case {
    const char* name;
    std::string bytes;
    int rank;
    const char* expect;
  };
  std::string bad_magic = IdxBytes({6}, six);
  bad_magic[0] = 0x1f;
  const std::vector<Case> cases = {
      {"truncated-payload", IdxBytes({3, 2}, {1, 2, 3, 4}), 2, "truncated"},
      {"truncated-header", IdxBytes({3, 2}, {}).substr(0, 7), 2, "truncated IDX header"},
      {"tiny", std::string("\0\0", 2), 0, "too short"},
      {"bad-magic", bad_magic, 1, "bad magic"},
      {"float-type", IdxBytes({6}, six, 0x0D), 1, "not supported"},
      {"wrong-rank", IdxBytes({6}, six), 3, "rank 1, expected 3"},
      {"count-too-small", IdxBytes({5}, six), 1, "trailing bytes"},
      {"zero-dim", IdxBytes({0, 2}, {}), 2, "dimension 0 is 0"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string path = dir.file(c.name);
    WriteBytes(path, c.bytes);
    auto r = ReadIdx(path, c.rank);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == asyncps::Status::Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains(path) && Catch::Contains(c.expect));
  }
}

TEST_CASE("IDX reader reports a missing file and a truncated gzip stream", "[models][idx]") {
  TempDir dir("idx-io");
  auto missing = ReadIdx(dir.file("nope.gz"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == asyncps::Status::Code::kIOError);
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.gz"));

  std::vector<std::uint8_t> big(5000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  WriteGz(dir.file("full.gz"), IdxBytes({5000}, big));
  std::ifstream f(dir.file("full.gz"), std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  WriteBytes(dir.file("cut.gz"), gz.substr(0, gz.size() / 2));
  auto cut = ReadIdx(dir.file("cut.gz"), 1);
  REQUIRE_FALSE(cut.ok());
  CHECK_THAT(cut.status().message(),
             Catch::Contains("cut.gz") && (Catch::Contains("truncated") || Catch::Contains("corrupt")));
}
