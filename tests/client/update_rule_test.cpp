#include <catch2/catch.hpp>

#include <vector>

#include "asyncps/core/update_rule.h"
#include "asyncps/core/apply_commit.h"

using namespace asyncps;

TEST_CASE("algorithm names parse both ways", "[rule]") {
  for (Algorithm a : {Algorithm::kDownpour, Algorithm::kAdag, Algorithm::kDynSgd, Algorithm::kEasgd,
                      Algorithm::kEamsgd, Algorithm::kSingle}) {
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

  // Applied a prefix at a time (DeferredCommit), the same sums: float32 and bf16.
  for (const Encoding e : {Encoding::kFloat32, Encoding::kBfloat16}) {
    std::vector<float> whole{1, 2, 3, 4, 5}, parts = whole;
    const std::vector<float> values{0.5f, -1, 2, 0, 8};
    std::vector<std::uint16_t> halves(values.size());
    EncodeBfloat16(values, halves.data());
    const PayloadView p{e, e == Encoding::kFloat32 ? static_cast<const void*>(values.data()) : halves.data(),
                        values.size(), {}};
    ApplyCommit(whole, p, 0.5f);
    {
      DeferredCommit deferred;
      deferred.Defer(parts, p, 0.5f);
      deferred.ApplyUpTo(2);
      CHECK(parts[1] == whole[1]);
      CHECK(parts[2] == 3);  // not yet
      deferred.ApplyUpTo(1);  // already applied: nothing
      deferred.ApplyUpTo(4);
      CHECK(deferred.pending());
    }  // the destructor applies the rest
    CHECK(parts == whole);
  }
  DeferredCommit none;
  none.ApplyUpTo(10);  // nothing deferred: nothing to apply (a plain pull's reply)
  CHECK_FALSE(none.pending());

  CHECK(Staleness(10, 10) == 1);  // nothing happened since the pull
  CHECK(Staleness(10, 7) == 4);   // three commits by others since the pull
  CHECK(Staleness(3, 7) == 1);    // a restarted shard behind the worker: clamp
  CHECK(CommitScale(Algorithm::kDynSgd, 10, 7) == Approx(0.25f));
  CHECK(CommitScale(Algorithm::kAdag, 10, 7) == 1.0f);
  CHECK(CommitScale(Algorithm::kEasgd, 10, 7) == 1.0f);
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
}

TEST_CASE("EAMSGD momentum: look-ahead and velocity by hand", "[rule]") {
  std::vector<float> w{1.0f}, v{2.0f}, saved(1);
  MomentumLookahead(w, v, saved, 0.5f);  // v = 1; train at w + v = 2
  CHECK(v[0] == 1.0f);
  CHECK(w[0] == 2.0f);
  CHECK(saved[0] == 1.0f);
  w[0] = 1.5f;                           // the local step moved 2 -> 1.5: g = -0.5
  MomentumUpdate(w, v, saved, 0.1f);     // v = 1 - 0.1 * -0.5 = 1.05; w = 1 - 1.05
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
