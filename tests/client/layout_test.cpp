#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>

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

// Issue 32: a shape of [2**40, 2**40] (from Python) wrapped to 0 elements, and
// the client then said "the layout is empty".
TEST_CASE("a tensor whose size overflows is never added: Add throws, naming the tensor", "[layout]") {
  const std::size_t big = std::size_t{1} << 40;
  ParameterLayout l;
  l.Add("small", {3});
  CHECK_THROWS_AS(l.Add("huge", {big, big}), std::length_error);
  CHECK_THROWS_WITH(l.Add("huge", {big, big}),
                    Catch::Contains("'huge'") && Catch::Contains("[1099511627776,1099511627776]"));
  CHECK(l.num_tensors() == 1);
  CHECK(l.total_size() == 3);
  // 2^63 + 3 times 2 wraps to 6: it must not pass for a 6-element tensor.
  CHECK_THROWS_AS(l.Add("wraps", {(std::size_t{1} << 63) + 3, 2}), std::length_error);
  CHECK_THROWS_AS(ParameterLayout({{"a", {big, big}}, {"b", {2}}}), std::length_error);
  CHECK(l.total_size() == 3);
}

TEST_CASE("TryAdd refuses a tensor or a layout over 2^31 - 1 elements, naming the tensor and the maximum", "[layout]") {
  const std::size_t big = std::size_t{1} << 40;
  ParameterLayout l;
  asyncps::Result<std::size_t> huge = l.TryAdd("huge", {big, big});
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.status().code() == asyncps::Status::Code::kInvalidArgument);
  CHECK_THAT(huge.status().message(), Catch::Contains("'huge'") && Catch::Contains("[1099511627776,1099511627776]") &&
                                          Catch::Contains("2147483647"));
  CHECK(l.num_tensors() == 0);

  // Each tensor fits, the sum does not.
  REQUIRE(l.TryAdd("a", {std::size_t{1} << 30}).ok());
  asyncps::Result<std::size_t> over = l.TryAdd("b", {2, std::size_t{1} << 29});
  REQUIRE_FALSE(over.ok());
  CHECK_THAT(over.status().message(), Catch::Contains("'b'") && Catch::Contains("already holds 1073741824"));
  CHECK(l.num_tensors() == 1);
  CHECK(l.total_size() == std::size_t{1} << 30);

  // Exactly the maximum is accepted, and a zero dimension makes any shape empty.
  asyncps::Result<std::size_t> rest = l.TryAdd("c", {asyncps::kMaxLayoutElements - (std::size_t{1} << 30)});
  REQUIRE(rest.ok());
  CHECK(rest.value() == std::size_t{1} << 30);
  CHECK(l.total_size() == asyncps::kMaxLayoutElements);
  CHECK(l.TryAdd("empty", {0, big, big}).ok());
  CHECK_FALSE(l.TryAdd("one", {1}).ok());
  CHECK(l.Partition(3).back().end == asyncps::kMaxLayoutElements);
}

TEST_CASE("BoundedProduct and TensorSpec::size never wrap", "[layout]") {
  const std::size_t big = std::size_t{1} << 40;
  CHECK(asyncps::BoundedProduct({}) == std::optional<std::size_t>(1));
  CHECK(asyncps::BoundedProduct({3, 4}, 12) == std::optional<std::size_t>(12));
  CHECK_FALSE(asyncps::BoundedProduct({3, 5}, 14));
  CHECK_FALSE(asyncps::BoundedProduct({big, big}, SIZE_MAX));
  CHECK(asyncps::BoundedProduct({big, big, 0}) == std::optional<std::size_t>(0));
  CHECK(asyncps::TensorSpec{"t", {big, big}}.size() == SIZE_MAX);
  CHECK(asyncps::TensorSpec{"t", {2, 3}}.size() == 6);
}
