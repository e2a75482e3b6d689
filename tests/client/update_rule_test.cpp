#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "asyncps/core/update_rule.h"
#include "asyncps/core/apply_commit.h"
#include "asyncps/core/rule_kernels.h"

using namespace asyncps;

TEST_CASE("algorithm names parse both ways", "[rule]") {
  for (Algorithm a : {Algorithm::kDownpour, Algorithm::kAdag, Algorithm::kDynSgd, Algorithm::kEasgd, Algorithm::kEamsgd,
                      Algorithm::kSingle}) {
    auto parsed = ParseAlgorithm(AlgorithmName(a));
    REQUIRE(parsed.ok());
    CHECK(parsed.value() == a);
  }
  CHECK(ParseAlgorithm("AEASGD").value() == Algorithm::kEasgd);
  auto bad = ParseAlgorithm("hogwild");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("hogwild") && Catch::Contains("downpour"));
}

TEST_CASE("defaults are Dist-Keras'", "[rule]") {
  CHECK(RuleConfig::Defaults(Algorithm::kDownpour).window == 5);
  CHECK(RuleConfig::Defaults(Algorithm::kAdag).window == 12);
  CHECK(RuleConfig::Defaults(Algorithm::kDynSgd).window == 5);
  CHECK(RuleConfig::Defaults(Algorithm::kEasgd).window == 32);
  CHECK(RuleConfig::Defaults(Algorithm::kEamsgd).window == 32);
  CHECK(RuleConfig::Defaults(Algorithm::kEasgd).alpha() == Approx(0.5f));
  CHECK(RuleConfig::Defaults(Algorithm::kEamsgd).momentum == Approx(0.9f));
}

TEST_CASE("validation rejects bad hyperparameters", "[rule]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kEasgd);
  c.window = 0;
  CHECK_THAT(c.Validate().message(), Catch::Contains("window"));
  c = RuleConfig::Defaults(Algorithm::kEasgd);
  c.rho = 20;  // alpha = 2: the elastic step would overshoot
  CHECK_THAT(c.Validate().message(), Catch::Contains("alpha"));
  c = RuleConfig::Defaults(Algorithm::kEamsgd);
  c.momentum = 1.0f;
  CHECK_FALSE(c.Validate().ok());
  CHECK(RuleConfig::Defaults(Algorithm::kAdag).Validate().ok());
}

TEST_CASE("PS side: C += scale * payload, DynSGD scaled by staleness", "[rule]") {
  std::vector<float> c{1, 2, 3, 4};
  std::vector<float> d{0.5f, -1, 2, 0};
  ApplyCommit(c, DenseView(d), 1.0f);
  CHECK(c == std::vector<float>{1.5f, 1, 5, 4});
  ApplyCommit(c, DenseView(d), 0.5f);
  CHECK(c == std::vector<float>{1.75f, 0.5f, 6, 4});

  // Checked into a new buffer (and a reply copy), the same sums: float32 and bf16.
  for (const Encoding e : {Encoding::kFloat32, Encoding::kBfloat16}) {
    std::vector<float> whole{1, 2, 3, 4, 5};
    const std::vector<float> before = whole;
    const std::vector<float> values{0.5f, -1, 2, 0, 8};
    std::vector<std::uint16_t> halves(values.size());
    EncodeBfloat16(values, halves.data());
    const PayloadView p{
        e, e == Encoding::kFloat32 ? static_cast<const void*>(values.data()) : halves.data(), values.size(), {}};
    ApplyCommit(whole, p, 0.5f);
    std::vector<float> next(5), copy(5);
    CHECK(AddScaled(before, p, 0.5f, next).at == -1);
    CHECK(next == whole);
    CHECK(AddScaled(before, p, 0.5f, next, copy).at == -1);
    CHECK(copy == whole);
  }
  // Every way a sum can stop being finite is found, at its element, on either
  // side of the vector loops' tails; a sparse commit that would is undone.
  for (const std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{1000}}) {
    for (const std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      const std::vector<float> center(n, 3e38f);
      for (const float bad :
           {3e38f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), std::nanf("")}) {
        std::vector<float> values(n, 0.0f);
        values[at] = bad;
        std::vector<float> next(n);
        const NonFinite found = AddScaled(center, DenseView(values), 1.0f, next);
        CHECK(found.at == static_cast<std::ptrdiff_t>(at));
        CHECK(found.in_payload == !std::isfinite(bad));
      }
    }
  }
  std::vector<float> c2{1, 3e38f, 1, 1};
  const std::vector<std::uint32_t> at{0, 1, 3};
  const std::vector<float> vals{5, 3e38f, 7};
  const PayloadView sparse{Encoding::kFloat32, vals.data(), vals.size(), at};
  std::vector<float> saved;
  const NonFinite refused = ApplySparse(c2, sparse, 1.0f, saved);
  CHECK(refused.at == 1);
  CHECK_FALSE(refused.in_payload);
  CHECK(c2 == std::vector<float>{1, 3e38f, 1, 1});  // element 0's add undone
  const std::vector<float> fine{5, -3e38f, 7};
  CHECK(ApplySparse(c2, {Encoding::kFloat32, fine.data(), fine.size(), at}, 1.0f, saved).at == -1);
  CHECK(c2 == std::vector<float>{6, 0, 1, 8});

  CHECK(Staleness(10, 10) == 1);  // nothing happened since the pull
  CHECK(Staleness(10, 7) == 4);   // three commits by others since the pull
  CHECK(Staleness(3, 7) == 1);    // a restarted shard behind the worker: clamp
  CHECK(CommitScale(Algorithm::kDynSgd, 10, 7) == Approx(0.25f));
  CHECK(CommitScale(Algorithm::kAdag, 10, 7) == 1.0f);
  CHECK(CommitScale(Algorithm::kEasgd, 10, 7) == 1.0f);
}

TEST_CASE("PS side: the apply with a bf16 reply copy is the apply then EncodeBfloat16, bit for bit", "[rule]") {
  // Sizes on either side of the vector loops' tails; values that round up,
  // down and to even, subnormal sums, and an f32 and a bf16 payload.
  for (const std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{1000}}) {
    std::vector<float> center(n), values(n);
    for (std::size_t i = 0; i < n; ++i) {
      center[i] = static_cast<float>(i % 7) * 1.00390625f - 3.0f + static_cast<float>(i) * 1e-5f;
      values[i] = (i % 3 == 0 ? 1e-39f : 0.3f) * static_cast<float>(i % 5) - 0.5f;
    }
    std::vector<std::uint16_t> halves(n);
    EncodeBfloat16(values, halves.data());
    for (const Encoding e : {Encoding::kFloat32, Encoding::kBfloat16}) {
      INFO(n << " " << EncodingName(e));
      const PayloadView p{e, e == Encoding::kFloat32 ? static_cast<const void*>(values.data()) : halves.data(), n, {}};
      std::vector<float> plain(n), fused(n);
      REQUIRE(AddScaled(center, p, 0.75f, plain).at == -1);
      std::vector<std::uint16_t> want(n), copy(n, 0xffff);
      EncodeBfloat16(plain, want.data());
      REQUIRE(AddScaled(center, p, 0.75f, fused, std::span<std::uint16_t>(copy)).at == -1);
      CHECK(std::memcmp(fused.data(), plain.data(), n * sizeof(float)) == 0);
      CHECK(copy == want);
    }
    // Refusals: found as without the copy, at the element, with the cause.
    for (const std::size_t at : {std::size_t{0}, n / 2, n - 1}) {
      for (const float bad : {3e38f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
        std::vector<float> big(n, 3e38f), v(n, 0.0f), next(n);
        std::vector<std::uint16_t> copy(n);
        v[at] = bad;
        const NonFinite found = AddScaled(big, DenseView(v), 1.0f, next, std::span<std::uint16_t>(copy));
        CHECK(found.at == static_cast<std::ptrdiff_t>(at));
        CHECK(found.in_payload == !std::isfinite(bad));
      }
    }
  }
}

TEST_CASE("worker side: deltas and the elastic step by hand", "[rule]") {
  std::vector<float> w{3, 5}, w0{1, 1}, out(2);
  ComputeDelta(w, w0, 1.0f, out);
  CHECK(out == std::vector<float>{2, 4});
  ComputeDelta(w, w0, 4.0f, out);  // ADAG with window 4
  CHECK(out == std::vector<float>{0.5f, 1});

  std::vector<float> center{1, 9}, e(2);
  ElasticStep(w, center, 0.5f, e);  // e = 0.5 (w - c) = {1, -2}
  CHECK(e == std::vector<float>{1, -2});
  CHECK(w == std::vector<float>{2, 7});

  // Overlap's boundary: delta = (w - w0) / 4, w = w0 = base + delta (odd sizes reach the vector loops' tails).
  std::vector<float> ow(19), ow0(19), base(19), delta(19);
  for (int i = 0; i < 19; ++i) {
    ow[i] = 4.0f * i + 8.0f;
    ow0[i] = 8.0f;
    base[i] = -1.0f * i;
  }
  RebaseDelta(ow, ow0, base, 4.0f, delta);
  for (int i = 0; i < 19; ++i) {
    CHECK(delta[i] == static_cast<float>(i));
    CHECK(ow[i] == 0.0f);
    CHECK(ow0[i] == 0.0f);
  }
}

TEST_CASE("EAMSGD momentum: look-ahead and velocity by hand", "[rule]") {
  std::vector<float> w{1.0f}, v{2.0f}, saved(1);
  MomentumLookahead(w, v, saved, 0.5f);  // v = 1; train at w + v = 2
  CHECK(v[0] == 1.0f);
  CHECK(w[0] == 2.0f);
  CHECK(saved[0] == 1.0f);
  w[0] = 1.5f;                        // the local step moved 2 -> 1.5: g = -0.5
  MomentumUpdate(w, v, saved, 0.1f);  // v = 1 - 0.1 * -0.5 = 1.05; w = 1 - 1.05
  CHECK(v[0] == Approx(1.05f));
  CHECK(w[0] == Approx(-0.05f));
}

TEST_CASE("expected commits match the seed's 3,750", "[rule]") {
  RuleConfig adag = RuleConfig::Defaults(Algorithm::kAdag);
  adag.window = 5;
  // 20,000 rows / batch 16 = 1,250 batches an epoch, 5 epochs, 3 workers.
  CHECK(3 * ExpectedCommits(adag, 6250) == 3750);
  CHECK(ExpectedCommits(adag, 6251) == 1251);  // a partial window is sent at the end
  RuleConfig downpour = RuleConfig::Defaults(Algorithm::kDownpour);
  CHECK(ExpectedCommits(downpour, 6250) == 1251);  // before-batch exchanges leave the last window for Finish
  downpour.window = 1;
  CHECK(ExpectedCommits(downpour, 10) == 10);
  CHECK(ExpectedCommits(RuleConfig::Defaults(Algorithm::kSingle), 10) == 0);
}
