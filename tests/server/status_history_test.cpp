// StatusHistory (status_history.h): the status page's time series, sampled on
// a fake clock from made-up shard metrics.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "asyncps/server/status_history.h"

using asyncps::ps::CheckStatusHistoryOptions;
using asyncps::ps::HistorySample;
using asyncps::ps::ShardMetrics;
using asyncps::ps::StatusHistory;
using asyncps::ps::StatusHistoryOptions;
using std::chrono::milliseconds;

namespace {

// History options on a fake clock (Unix seconds) that moves only when told.
struct FakeClock {
  std::shared_ptr<double> now = std::make_shared<double>(1000.0);
  StatusHistoryOptions Options(std::size_t capacity = 600) const {
    StatusHistoryOptions o;
    o.interval = milliseconds(1000);
    o.capacity = capacity;
    o.now_unix_s = [t = now] { return *t; };
    return o;
  }
};

// Two shards that both applied `updates` commits (worker 1's; shard 1 trails
// by `lag`), each commit's tau being `tau`.
std::vector<ShardMetrics> TwoShards(std::uint64_t updates, double tau = 1, std::uint64_t lag = 0) {
  std::vector<ShardMetrics> shards(2);
  for (std::uint32_t i = 0; i < 2; ++i) {
    ShardMetrics& m = shards[i];
    m.shard_index = i;
    m.counters.updates = updates - (i == 1 ? lag : 0);
    m.counters.staleness_max = static_cast<std::uint64_t>(tau);
    for (std::uint64_t k = 0; k < m.counters.updates; ++k) m.staleness.Observe(tau);
    m.workers = {{.id = 1, .commits = m.counters.updates}};
    m.published = true;
  }
  return shards;
}

}  // namespace

TEST_CASE("history: one sample per interval on the injected clock, the first at once", "[status][history]") {
  FakeClock clock;
  StatusHistory h(clock.Options());
  CHECK(h.MaybeSample(TwoShards(0)));
  *clock.now += 0.5;
  CHECK_FALSE(h.MaybeSample(TwoShards(5)));
  *clock.now += 0.5;
  CHECK(h.MaybeSample(TwoShards(10)));
  *clock.now -= 30;  // the wall clock stepped back: sample rather than wait 30 s
  CHECK(h.MaybeSample(TwoShards(12)));
  const std::vector<HistorySample> s = h.samples();
  REQUIRE(s.size() == 3);
  CHECK(s[0].time_unix_s == 1000.0);
  CHECK(s[1].time_unix_s == 1001.0);
  CHECK(s[1].updates == 10);
}

TEST_CASE("history: nothing is sampled before every shard published, so a restored run's updates are no burst",
          "[status][history]") {
  FakeClock clock;
  StatusHistory h(clock.Options());
  std::vector<ShardMetrics> shards = TwoShards(43);  // restored from a checkpoint
  shards[1] = ShardMetrics{};                        // shard 1's thread has not published yet
  CHECK_FALSE(h.MaybeSample(shards));
  CHECK(h.samples().empty());
  shards = TwoShards(43);
  REQUIRE(h.MaybeSample(shards));
  *clock.now += 1;
  REQUIRE(h.MaybeSample(TwoShards(45)));
  const std::vector<HistorySample> s = h.samples();
  CHECK(s[1].updates - s[0].updates == 2);  // 2 updates/s, not 45
}

TEST_CASE("history: each commit counted once, not once per shard", "[status][history]") {
  FakeClock clock;
  StatusHistory h(clock.Options());
  REQUIRE(h.MaybeSample(TwoShards(20, 2, /*lag=*/1)));
  const HistorySample s = h.samples().at(0);
  CHECK(s.updates == 20);  // the leading shard's, not 20 + 19
  CHECK(s.staleness_count == 20);
  CHECK(s.staleness_sum == 40.0);
  REQUIRE(s.commits.size() == 1);
  CHECK(s.commits[0] == std::pair<std::uint32_t, std::uint64_t>{1, 20});
}

TEST_CASE("history: the largest tau of each interval, 0 for an interval without commits", "[status][history]") {
  FakeClock clock;
  StatusHistory h(clock.Options());
  std::vector<ShardMetrics> shards = TwoShards(4, 1);
  REQUIRE(h.MaybeSample(shards));
  *clock.now += 1;
  shards[0].staleness.Observe(5);  // bucket (4, 6]
  shards[0].staleness.Observe(2);
  shards[0].counters.updates += 2;
  REQUIRE(h.MaybeSample(shards));
  *clock.now += 1;
  REQUIRE(h.MaybeSample(shards));  // nothing new
  *clock.now += 1;
  shards[0].staleness.Observe(1000);  // above every bound: the run's largest tau
  shards[0].counters.staleness_max = 1000;
  shards[0].counters.updates += 1;
  REQUIRE(h.MaybeSample(shards));
  const std::vector<HistorySample> s = h.samples();
  REQUIRE(s.size() == 4);
  CHECK(s[0].staleness_max == 1.0);
  CHECK(s[1].staleness_max == 6.0);
  CHECK(s[2].staleness_max == 0.0);
  CHECK(s[3].staleness_max == 1000.0);
}

TEST_CASE("history: a full ring drops every other sample and doubles its interval, keeping the run's span",
          "[status][history]") {
  FakeClock clock;
  StatusHistory h(clock.Options(/*capacity=*/4));
  std::vector<ShardMetrics> shards = TwoShards(0);
  for (int second = 0; second < 4; ++second) {
    if (second == 2) shards[0].staleness.Observe(32);  // only in the interval ending at 1002
    REQUIRE(h.MaybeSample(shards));
    *clock.now += 1;
  }
  CHECK(h.samples().size() == 4);
  REQUIRE(h.MaybeSample(shards));  // the fifth: the ring halves first
  std::vector<HistorySample> s = h.samples();
  CHECK(h.interval() == milliseconds(2000));
  REQUIRE(s.size() == 3);
  CHECK(s[0].time_unix_s == 1001.0);
  CHECK(s[1].time_unix_s == 1003.0);
  CHECK(s[1].staleness_max == 32.0);  // the dropped sample's tau went to the next
  CHECK(s[2].time_unix_s == 1004.0);
  *clock.now += 1;
  CHECK_FALSE(h.MaybeSample(shards));  // 1 s later: under the new interval
  *clock.now += 1;
  CHECK(h.MaybeSample(shards));
  // Hours later the ring still holds at most its capacity.
  for (int i = 0; i < 10000; ++i) {
    *clock.now += 1;
    (void)h.MaybeSample(shards);
  }
  s = h.samples();
  CHECK(s.size() <= 4);
  // The newest is at most one (doubled) interval old, and the span covers the run.
  CHECK(*clock.now - s.back().time_unix_s < std::chrono::duration<double>(h.interval()).count());
  CHECK(s.front().time_unix_s - 1000.0 <= std::chrono::duration<double>(h.interval()).count());
}

TEST_CASE("history: per-worker series for the first max_workers ids only", "[status][history]") {
  FakeClock clock;
  StatusHistoryOptions o = clock.Options();
  o.max_workers = 2;
  StatusHistory h(o);
  std::vector<ShardMetrics> shards(1);
  shards[0].workers = {{.id = 7, .commits = 1}, {.id = 3, .commits = 2}, {.id = 9, .commits = 3}};
  shards[0].published = true;
  REQUIRE(h.MaybeSample(shards));
  const std::vector<std::pair<std::uint32_t, std::uint64_t>> expected = {{3, 2}, {7, 1}};
  CHECK(h.samples().at(0).commits == expected);
}

TEST_CASE("history options that cannot work are refused, naming the option", "[status][history]") {
  FakeClock clock;
  CHECK(CheckStatusHistoryOptions(clock.Options()).ok());
  StatusHistoryOptions o = clock.Options(/*capacity=*/1);
  CHECK(CheckStatusHistoryOptions(o).message().find("capacity") != std::string::npos);
  o = clock.Options();
  o.interval = milliseconds(0);
  CHECK(CheckStatusHistoryOptions(o).message().find("interval") != std::string::npos);
  o = clock.Options();
  o.now_unix_s = nullptr;
  CHECK(CheckStatusHistoryOptions(o).message().find("now_unix_s") != std::string::npos);
}
