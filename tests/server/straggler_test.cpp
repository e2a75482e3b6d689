// Straggler detection on explicit times: who is below the fraction of the
// median, and who is not counted at all.
#include <catch2/catch.hpp>

#include "asyncps/server/straggler.h"

using asyncps::ps::CommitRates;
using asyncps::ps::WorkerRate;
using namespace std::chrono_literals;

namespace {

// Worker w commits every period[w] for `length`, from t0.
std::vector<WorkerRate> Run(CommitRates& rates, const std::vector<std::chrono::milliseconds>& periods,
                            std::chrono::milliseconds length) {
  const CommitRates::TimePoint t0{};
  for (std::uint32_t w = 0; w < periods.size(); ++w)
    for (auto t = periods[w]; t <= length; t += periods[w]) rates.Record(w, t0 + t);
  return rates.Rates(t0 + length);
}

}  // namespace

TEST_CASE("a worker below the fraction of the median is a straggler", "[straggler]") {
  CommitRates rates(10s, 0.5);
  auto r = Run(rates, {100ms, 100ms, 300ms, 110ms}, 20s);
  REQUIRE(r.size() == 4);
  CHECK(r[0].commits_per_s == Approx(10).epsilon(0.02));
  CHECK(r[2].commits_per_s == Approx(3.33).epsilon(0.02));
  CHECK_FALSE(r[0].straggler);
  CHECK_FALSE(r[1].straggler);
  CHECK(r[2].straggler);  // 3.3/s against a median of ~9.5/s
  CHECK_FALSE(r[3].straggler);
}

TEST_CASE("slower but above the fraction is not a straggler", "[straggler]") {
  CommitRates rates(10s, 0.5);
  auto r = Run(rates, {100ms, 100ms, 180ms}, 20s);  // 5.6/s against 10/s
  CHECK_FALSE(r[2].straggler);
}

TEST_CASE("a worker that stopped committing is gone, not a straggler", "[straggler]") {
  CommitRates rates(5s, 0.5);
  const CommitRates::TimePoint t0{};
  for (auto t = 100ms; t <= 20s; t += 100ms) rates.Record(0, t0 + t);
  for (auto t = 100ms; t <= 20s; t += 100ms) rates.Record(1, t0 + t);
  for (auto t = 100ms; t <= 8s; t += 100ms) rates.Record(2, t0 + t);  // finished at 8 s
  auto r = rates.Rates(t0 + 20s);
  CHECK_FALSE(r[2].active);
  CHECK(r[2].commits_per_s == 0);
  CHECK_FALSE(r[2].straggler);
}

TEST_CASE("one active worker, or fraction 0, names nobody", "[straggler]") {
  CommitRates one(5s, 0.5);
  auto r = Run(one, {1000ms}, 10s);
  CHECK_FALSE(r[0].straggler);
  CommitRates off(5s, 0.0);
  auto r2 = Run(off, {100ms, 100ms, 2000ms}, 10s);
  CHECK_FALSE(r2[2].straggler);
}

TEST_CASE("a straggler is cleared only well above the threshold, so the verdict does not flap", "[straggler]") {
  // Median 10/s, fraction 0.5: flagged below 5/s, cleared at 1.25 x 5 = 6.25/s or more.
  CommitRates rates(10s, 0.5);
  const CommitRates::TimePoint t0{};
  auto second = [&](int s, int slow_commits) {
    for (int i = 1; i <= 10; ++i) {
      rates.Record(0, t0 + std::chrono::seconds(s) + i * 100ms - 1ms);
      rates.Record(1, t0 + std::chrono::seconds(s) + i * 100ms - 1ms);
    }
    for (int i = 0; i < slow_commits; ++i) rates.Record(2, t0 + std::chrono::seconds(s) + i * 10ms);
  };
  for (int s = 0; s < 10; ++s) second(s, 4);  // 4/s
  CHECK(rates.Rates(t0 + 10s)[2].straggler);
  for (int s = 10; s < 20; ++s) second(s, 6);  // 6/s: above the threshold, below the release
  CHECK(rates.Rates(t0 + 20s)[2].straggler);
  for (int s = 20; s < 30; ++s) second(s, 7);  // 7/s
  CHECK_FALSE(rates.Rates(t0 + 30s)[2].straggler);
  for (int s = 30; s < 40; ++s) second(s, 6);  // back to 6/s: not flagged again
  CHECK_FALSE(rates.Rates(t0 + 40s)[2].straggler);
}
