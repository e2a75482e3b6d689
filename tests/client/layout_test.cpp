#include <catch2/catch.hpp>

#include "asyncps/core/layout.h"

using asyncps::ParameterLayout;

namespace {
ParameterLayout SeedLayout() {
  ParameterLayout l;
  l.Add("conv2d_1/kernel", {3, 3, 1, 32});
  l.Add("conv2d_1/bias", {32});
  l.Add("conv2d_2/kernel", {3, 3, 32, 32});
  l.Add("conv2d_2/bias", {32});
  l.Add("dense_1/kernel", {4608, 225});
  l.Add("dense_1/bias", {225});
  l.Add("dense_2/kernel", {225, 10});
  l.Add("dense_2/bias", {10});
  return l;
}
}  // namespace

TEST_CASE("layout flattens tensors in order with offsets", "[layout]") {
  ParameterLayout l = SeedLayout();
  REQUIRE(l.total_size() == 1048853);
  CHECK(l.offset(0) == 0);
  CHECK(l.offset(1) == 288);
  CHECK(l.offset(2) == 320);
  CHECK(l.offset(7) == 1048853 - 10);
}

TEST_CASE("partition is complete, contiguous and balanced by element count", "[layout]") {
  ParameterLayout l = SeedLayout();
  for (std::size_t s : {1u, 2u, 3u, 4u, 7u, 16u}) {
    auto ranges = l.Partition(s);
    REQUIRE(ranges.size() == s);
    CHECK(ranges.front().begin == 0);
    CHECK(ranges.back().end == l.total_size());
    std::size_t lo = ranges[0].size(), hi = ranges[0].size();
    for (std::size_t i = 0; i < s; ++i) {
      if (i > 0) CHECK(ranges[i].begin == ranges[i - 1].end);
      lo = std::min(lo, ranges[i].size());
      hi = std::max(hi, ranges[i].size());
    }
    CHECK(hi - lo <= 1);
  }
}

TEST_CASE("the big dense kernel is split across shards", "[layout]") {
  ParameterLayout l = SeedLayout();
  auto ranges = l.Partition(2);
  const std::size_t kernel_begin = l.offset(4), kernel_end = l.offset(5);
  CHECK(ranges[0].end > kernel_begin);
  CHECK(ranges[0].end < kernel_end);
}

TEST_CASE("fingerprints differ when names, shapes or shard count differ", "[layout]") {
  ParameterLayout a = SeedLayout();
  CHECK(a.Fingerprint(2) == SeedLayout().Fingerprint(2));
  CHECK(a.Fingerprint(2) != a.Fingerprint(3));

  ParameterLayout renamed;
  ParameterLayout reshaped;
  for (std::size_t i = 0; i < a.num_tensors(); ++i) {
    const auto& t = a.tensors()[i];
    renamed.Add(i == 3 ? "other" : t.name, t.shape);
    // Same element count, other shape: the flat sizes agree but the layout does not.
    reshaped.Add(t.name, i == 4 ? std::vector<std::size_t>{225, 4608} : t.shape);
  }
  CHECK(renamed.Fingerprint(2) != a.Fingerprint(2));
  CHECK(reshaped.Fingerprint(2) != a.Fingerprint(2));
  CHECK(reshaped.total_size() == a.total_size());
}

TEST_CASE("compare names the first difference", "[layout]") {
  ParameterLayout a = SeedLayout();
  ParameterLayout b;
  b.Add("conv2d_1/kernel", {3, 3, 1, 16});
  auto st = b.Compare(a);
  REQUIRE_FALSE(st.ok());
  CHECK(st.code() == asyncps::Status::Code::kMismatch);
  CHECK_THAT(st.message(),
             Catch::Contains("conv2d_1/kernel") && Catch::Contains("[3,3,1,16]") && Catch::Contains("[3,3,1,32]"));
  CHECK(a.Compare(SeedLayout()).ok());
  ParameterLayout shorter;
  shorter.Add("conv2d_1/kernel", {3, 3, 1, 32});
  CHECK_THAT(shorter.Compare(a).message(), Catch::Contains("1 tensors here but 8"));
}
