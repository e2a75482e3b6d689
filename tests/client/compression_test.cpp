// The codecs of the compressed wire format and the worker's error feedback.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "asyncps/core/compression.h"
#include "commit_encoder.h"
#include "asyncps/core/top_k.h"
#include "asyncps/core/payload.h"

using namespace asyncps;
using asyncps::internal::CommitEncoder;

namespace {

// The top k by magnitude the slow way: sort positions by (|v| desc, position asc).
std::vector<std::uint32_t> TopKBySort(const std::vector<float>& v, std::size_t k) {
  std::vector<std::uint32_t> order(v.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return std::fabs(v[a]) > std::fabs(v[b]); });
  order.resize(std::min(k, v.size()));
  std::sort(order.begin(), order.end());
  return order;
}

// The values a frame carries, placed at their positions.
std::vector<float> Sent(const CommitEncoder& e, std::size_t n) {
  std::vector<float> out(n, 0.0f);
  const std::byte* p = e.frame().data();
  PayloadView view{e.encoding(), nullptr, e.count(), {}};
  if (e.sparse()) {
    view.indices = {reinterpret_cast<const std::uint32_t*>(p), e.count()};
    p += e.count() * 4;
  }
  view.values = p;
  for (std::size_t j = 0; j < e.count(); ++j) out[e.sparse() ? view.indices[j] : j] = view.value(j);
  return out;
}

}  // namespace

TEST_CASE("bf16 rounds to nearest even and keeps the range", "[compression]") {
  CHECK(ToBfloat16(1.0f) == 0x3f80);
  CHECK(ToBfloat16(-2.0f) == 0xc000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: to the even one, 1.
  CHECK(FromBfloat16(ToBfloat16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  CHECK(FromBfloat16(ToBfloat16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  CHECK(FromBfloat16(ToBfloat16(1e-30f)) == Approx(1e-30f).epsilon(1.0 / 256));
  CHECK(std::isinf(FromBfloat16(ToBfloat16(std::numeric_limits<float>::infinity()))));
  CHECK(std::isnan(FromBfloat16(ToBfloat16(std::numeric_limits<float>::quiet_NaN()))));
  // Every finite value within half a unit in the last place (2^-8 relative).
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> v(4099);
  for (float& x : v) x = dist(rng);
  std::vector<std::uint16_t> encoded(v.size());
  EncodeBfloat16(v, encoded.data());
  for (std::size_t i = 0; i < v.size(); ++i) {
    REQUIRE(encoded[i] == ToBfloat16(v[i]));
    REQUIRE(std::fabs(FromBfloat16(encoded[i]) - v[i]) <= std::fabs(v[i]) * std::ldexp(1.0f, -8));
  }
}

TEST_CASE("encoding names parse and compression settings are checked", "[compression]") {
  CHECK(ParseEncoding("bf16").value() == Encoding::kBfloat16);
  CHECK(ParseEncoding("BFloat16").value() == Encoding::kBfloat16);
  CHECK(ParseEncoding("f32").value() == Encoding::kFloat32);
  CHECK_FALSE(ParseEncoding("fp8").ok());
  Compression c;
  CHECK(c.Validate().ok());
  CHECK_FALSE(c.lossy_commits());
  c.commit_top_k = 0.01;
  CHECK(c.Validate().ok());
  CHECK(c.lossy_commits());
  for (double bad : {-0.1, 1.0, 2.0, std::nan("")}) {
    c.commit_top_k = bad;
    CHECK_FALSE(c.Validate().ok());
  }
}

TEST_CASE("top-k selects exactly the k largest magnitudes, ties to the lower position", "[compression]") {
  std::mt19937 rng(11);
  std::vector<std::uint32_t> got;
  std::vector<float> scratch;
  for (std::size_t n : {1u, 7u, 1000u, 100003u}) {
    for (double fraction : {0.0001, 0.01, 0.3, 0.99}) {
      const std::size_t k = std::max<std::size_t>(1, static_cast<std::size_t>(fraction * n));
      std::vector<float> v(n);
      // Gaussian; heavy-tailed (a few huge, the sample misses them); coarse (many ties).
      std::normal_distribution<float> gauss(0.0f, 1.0f);
      for (int shape = 0; shape < 3; ++shape) {
        for (std::size_t i = 0; i < n; ++i) {
          const float g = gauss(rng);
          v[i] = shape == 0 ? g : shape == 1 ? (i % 997 == 5 ? 1e6f * g : 1e-3f * g) : std::round(g * 2);
        }
        SelectTopK(v, k, got, scratch);
        INFO("n " << n << " k " << k << " shape " << shape);
        REQUIRE(got == TopKBySort(v, k));
      }
    }
  }
  SelectTopK(std::vector<float>{1, 2, 3}, 0, got, scratch);
  CHECK(got.empty());
}

TEST_CASE("error feedback: what a lossy commit leaves out is sent later, never lost", "[compression]") {
  const std::size_t n = 5000;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1e-3f);
  for (double top_k : {0.0, 0.05}) {
    for (Encoding encoding : {Encoding::kFloat32, Encoding::kBfloat16}) {
      if (top_k == 0 && encoding == Encoding::kFloat32) continue;  // not lossy
      Compression c;
      c.commit = encoding;
      c.commit_top_k = top_k;
      CommitEncoder e(c, n);
      std::vector<double> committed(n, 0.0), applied(n, 0.0);
      for (int round = 0; round < 40; ++round) {
        std::vector<float> delta(n);
        for (float& d : delta) d = dist(rng);
        e.Encode(delta);
        CHECK(e.count() == (top_k > 0 ? 250u : n));
        const std::vector<float> sent = Sent(e, n);
        for (std::size_t i = 0; i < n; ++i) {
          committed[i] += delta[i];
          applied[i] += sent[i];
        }
      }
      // Everything committed = everything applied + what the worker still holds.
      INFO("top_k " << top_k << " encoding " << EncodingName(encoding));
      for (std::size_t i = 0; i < n; ++i) REQUIRE(applied[i] + e.residual()[i] == Approx(committed[i]).margin(1e-6));
    }
  }
}

TEST_CASE("without error feedback a top-k commit sends the payload's own top k and keeps nothing", "[compression]") {
  Compression c;
  c.commit_top_k = 0.25;
  c.error_feedback = false;
  CommitEncoder e(c, 8);
  const std::vector<float> delta{0.1f, -5, 0.2f, 0.3f, 4, 0, 0, 0.4f};
  e.Encode(delta);
  CHECK(e.residual().empty());
  CHECK(Sent(e, 8) == std::vector<float>{0, -5, 0, 0, 4, 0, 0, 0});
  e.Encode(delta);  // the same again: nothing carried over
  CHECK(Sent(e, 8) == std::vector<float>{0, -5, 0, 0, 4, 0, 0, 0});
}

TEST_CASE("dense bf16 error feedback moves the residual on in place: want = r + v, sent bf16(want), r = want - sent",
          "[compression]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1e-2f);
  // Sizes on either side of the vector loops' tails.
  for (const std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{1000}}) {
    Compression c;
    c.commit = Encoding::kBfloat16;
    CommitEncoder e(c, n);
    std::vector<float> r(n, 0.0f), v(n);
    for (int round = 0; round < 5; ++round) {
      for (float& x : v) x = dist(rng);
      e.Encode(v);
      const std::vector<float> sent = Sent(e, n);
      for (std::size_t i = 0; i < n; ++i) {
        const float want = r[i] + v[i];
        const float bf16 = FromBfloat16(ToBfloat16(want));
        r[i] = want - bf16;
        INFO("n " << n << " round " << round << " i " << i);
        REQUIRE(std::bit_cast<std::uint32_t>(sent[i]) == std::bit_cast<std::uint32_t>(bf16));
        REQUIRE(std::bit_cast<std::uint32_t>(e.residual()[i]) == std::bit_cast<std::uint32_t>(r[i]));
      }
    }
  }
}
