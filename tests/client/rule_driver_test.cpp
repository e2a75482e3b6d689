// The worker side of each rule against real shards, with a fake "training" step
// that adds a known amount, so the PS's center can be computed by hand.
#include <catch2/catch.hpp>

#include <cmath>
#include <future>
#include <latch>
#include <thread>

#include "asyncps/client/rule_driver.h"
#include "support/local_cluster.h"

using namespace asyncps;
using asyncps::testing::LocalCluster;

namespace {

ParameterLayout Layout() {
  ParameterLayout l;
  l.Add("w", {10});
  return l;
}

struct Run {
  std::vector<float> center;
  std::uint64_t commits = 0;
  std::uint64_t updates = 0;
  std::vector<float> trajectory;  // w[0] after each batch's AfterBatch
};

// One worker, `batches` batches, each adding `step` to every weight.
Run TrainOne(RuleConfig config, int batches, float step, std::uint32_t shards = 2) {
  LocalCluster cluster(shards);
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.algorithm = config.algorithm;
  auto client = Client::Connect(Layout(), o);
  REQUIRE(client.ok());
  std::vector<float> w(10, 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  RuleDriver driver(*client.value(), config);
  REQUIRE(driver.Start(w).ok());
  std::vector<float> trajectory;
  for (int b = 0; b < batches; ++b) {
    REQUIRE(driver.BeforeBatch(w).ok());
    for (float& x : w) x += step;
    REQUIRE(driver.AfterBatch(w).ok());
    trajectory.push_back(w[0]);
  }
  REQUIRE(driver.Finish(w).ok());
  Run run;
  run.trajectory = std::move(trajectory);
  run.center.resize(10);
  REQUIRE(client.value()->Pull(run.center).ok());
  run.commits = driver.commits();
  auto stats = client.value()->Stats();
  REQUIRE(stats.ok());
  run.updates = stats.value()[0].updates;
  for (const auto& s : stats.value()) CHECK(s.updates == run.updates);  // every shard saw every commit
  return run;
}

}  // namespace

TEST_CASE("ADAG sends the window's work divided by the window", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAdag);
  c.window = 2;
  Run r = TrainOne(c, 5, 1.0f);  // commits after batches 2, 4 and the final one after 5
  CHECK(r.commits == 3);
  CHECK(r.updates == ExpectedCommits(c, 5));
  // Each commit sends (work)/2 and the worker restarts from C: 1 + 1 + 0.5.
  CHECK(r.center[0] == Approx(2.5f));
}

TEST_CASE("DOWNPOUR sends the whole work before the batch", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kDownpour);
  c.window = 2;
  Run r = TrainOne(c, 5, 1.0f);  // before batches 2 and 4, then the final commit
  CHECK(r.commits == ExpectedCommits(c, 5));
  CHECK(r.updates == 3);
  CHECK(r.center[0] == Approx(5.0f));  // one worker, nothing lost: all the work arrives
}

TEST_CASE("DOWNPOUR with window 1 and one worker equals plain training", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kDownpour);
  c.window = 1;
  Run r = TrainOne(c, 7, 0.5f, 1);
  CHECK(r.center[0] == Approx(3.5f));
  CHECK(r.updates == 7);
}

TEST_CASE("DynSGD alone is never stale: the full work arrives", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kDynSgd);
  c.window = 3;
  Run r = TrainOne(c, 6, 1.0f);
  CHECK(r.updates == 2);
  CHECK(r.center[0] == Approx(6.0f));
}

TEST_CASE("EASGD moves the center by alpha times the difference", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kEasgd);
  c.window = 2;  // alpha = 0.5
  // Before batch 2: w = 1, C = 0: E = 0.5, C = 0.5, w = 0.5; batches 2, 3: w = 2.5.
  // Before batch 4: E = 0.5 (2.5 - 0.5) = 1, C = 1.5, w = 1.5; batch 4: w = 2.5.
  // Finish: E = 0.5 (2.5 - 1.5) = 0.5, C = 2.
  Run r = TrainOne(c, 4, 1.0f);
  CHECK(r.updates == 3);
  CHECK(r.center[0] == Approx(2.0f));
}

TEST_CASE("EAMSGD runs the elastic exchange on schedule", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kEamsgd);
  c.window = 4;
  Run r = TrainOne(c, 10, 0.1f);
  CHECK(r.updates == ExpectedCommits(c, 10));
  CHECK(r.center[0] > 0.0f);
}

TEST_CASE("EAMSGD: Finish after a look-ahead that no batch followed ends as Finish after the last batch", "[driver]") {
  // A loop that runs the next batch's BeforeBatch before it knows there is one
  // (the Python optimizer does): Finish puts w back as it was before the look-ahead.
  RuleConfig c = RuleConfig::Defaults(Algorithm::kEamsgd);
  c.window = 2;
  std::vector<std::vector<float>> ends;
  for (bool extra_lookahead : {false, true}) {
    LocalCluster cluster(1);
    ClientOptions o;
    o.servers = cluster.endpoints();
    o.algorithm = c.algorithm;
    auto client = Client::Connect(Layout(), o);
    REQUIRE(client.ok());
    std::vector<float> w(10, 0.0f);
    REQUIRE(client.value()->Init(w).ok());
    RuleDriver driver(*client.value(), c);
    REQUIRE(driver.Start(w).ok());
    for (int b = 0; b < 3; ++b) {
      REQUIRE(driver.BeforeBatch(w).ok());
      for (float& x : w) x += 0.5f;
      REQUIRE(driver.AfterBatch(w).ok());
    }
    if (extra_lookahead) REQUIRE(driver.BeforeBatch(w).ok());  // batch 4 is due: the exchange, then the look-ahead
    REQUIRE(driver.Finish(w).ok());
    CHECK(driver.commits() == 2);
    std::vector<float> center(10);
    REQUIRE(client.value()->Pull(center).ok());
    w.insert(w.end(), center.begin(), center.end());
    ends.push_back(w);
  }
  CHECK(ends[0] == ends[1]);  // the same weights and centre, bit for bit
}

TEST_CASE("a driver whose rule is not its client's refuses to run", "[driver]") {
  LocalCluster cluster(1);
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.algorithm = Algorithm::kAdag;
  auto client = Client::Connect(Layout(), o);
  REQUIRE(client.ok());
  std::vector<float> w(10, 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  // Before, an EASGD driver over an ADAG client committed elastic differences
  // that the shards applied as ADAG deltas.
  RuleDriver wrong(*client.value(), RuleConfig::Defaults(Algorithm::kEasgd));
  Status st = wrong.Start(w);
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("easgd") && Catch::Contains("adag"));
  CHECK(wrong.BeforeBatch(w).code() == Status::Code::kInvalidArgument);
  CHECK(wrong.AfterBatch(w).code() == Status::Code::kInvalidArgument);
  CHECK(wrong.Finish(w).code() == Status::Code::kInvalidArgument);
  RuleConfig bad = RuleConfig::Defaults(Algorithm::kAdag);
  bad.window = 0;
  CHECK_THAT(RuleDriver(*client.value(), bad).Start(w).message(), Catch::Contains("window"));
  auto stats = client.value()->Stats();
  REQUIRE(stats.ok());
  CHECK(stats.value()[0].pulls == 0);  // nothing was sent
}

TEST_CASE("a commit over the shard's size limit fails at once with the limit", "[driver][client]") {
  ps::ShardServerOptions small;
  small.shard.max_message_bytes = 1024;
  LocalCluster cluster(1, small);
  ParameterLayout big;
  big.Add("w", {1000});  // 4,000 bytes per commit
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.retry_deadline = std::chrono::seconds(30);  // a retrying client would take this long
  auto client = Client::Connect(big, o);
  REQUIRE(client.ok());
  const auto t0 = std::chrono::steady_clock::now();
  Status st = client.value()->Init(std::vector<float>(1000, 1.0f)).status();
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("exceeds the shard's maximum of 1024") && Catch::Contains("shard 0 at"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("average: after every round each worker holds the mean of the workers' models", "[driver]") {
  ps::ShardServerOptions barrier;
  barrier.shard.max_staleness = 0;
  LocalCluster cluster(2, barrier);
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAverage);
  c.window = 2;
  c.workers = 2;
  // Worker 0 adds 1 per batch, worker 1 adds 3: every round of 2 batches moves
  // their models to C + 2 and C + 6, whose mean is C + 4.
  const float steps[2] = {1.0f, 3.0f};
  std::vector<std::vector<float>> finals(2);
  std::vector<std::uint64_t> commits(2);
  // Both join before either trains: the bound waits only for workers it knows
  // (docs/update-rules.md: a late joiner is averaged from its first round on).
  std::latch joined(2);
  std::vector<std::thread> workers;
  for (std::uint32_t i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      ClientOptions o;
      o.servers = cluster.endpoints();
      o.algorithm = Algorithm::kAverage;
      o.worker_id = i;
      auto client = Client::Connect(Layout(), o);
      if (!client.ok()) return;
      std::vector<float> w(10, 0.0f);
      (void)client.value()->Init(w);  // the first one wins; both start from 0
      joined.arrive_and_wait();
      RuleDriver driver(*client.value(), c);
      if (!driver.Start(w).ok()) return;
      for (int b = 0; b < 6; ++b) {
        if (!driver.BeforeBatch(w).ok()) return;
        for (float& x : w) x += steps[i];
        if (!driver.AfterBatch(w).ok()) return;
        if (b % 2 == 1) CHECK(w == std::vector<float>(10, 4.0f * static_cast<float>(b / 2 + 1)));  // the mean
      }
      if (!driver.Finish(w).ok()) return;
      finals[i] = w;
      commits[i] = driver.commits();
      (void)client.value()->Leave();
    });
  }
  for (auto& t : workers) t.join();
  CHECK(finals[0] == std::vector<float>(10, 12.0f));
  CHECK(finals[1] == finals[0]);
  CHECK(commits == std::vector<std::uint64_t>{3, 3});
  CHECK(ExpectedCommits(c, 6) == 3);
}

TEST_CASE("average is refused by shards without its barrier (--max-staleness 0)", "[driver]") {
  LocalCluster cluster(1);  // bound off
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.algorithm = Algorithm::kAverage;
  auto client = Client::Connect(Layout(), o);
  REQUIRE(!client.ok());
  CHECK_THAT(client.status().message(), Catch::Contains("start the servers with --max-staleness 0"));
}

TEST_CASE("overlap: one worker trains and commits as without it, under every rule", "[driver]") {
  // Alone, the centre a pull returns after commit k is what the next
  // synchronous exchange would pull, and base + its own commit in flight is
  // the centre the synchronous exchange returns: nothing changes.
  for (Algorithm a :
       {Algorithm::kDownpour, Algorithm::kAdag, Algorithm::kDynSgd, Algorithm::kEasgd, Algorithm::kEamsgd}) {
    INFO(AlgorithmName(a));
    RuleConfig c = RuleConfig::Defaults(a);
    c.window = 2;
    const Run sync = TrainOne(c, 7, 0.5f);
    c.overlap = true;
    const Run overlapped = TrainOne(c, 7, 0.5f);
    CHECK(overlapped.commits == ExpectedCommits(c, 7));
    CHECK(overlapped.updates == overlapped.commits);
    for (std::size_t i = 0; i < sync.center.size(); ++i) CHECK(overlapped.center[i] == Approx(sync.center[i]));
    REQUIRE(overlapped.trajectory.size() == sync.trajectory.size());
    for (std::size_t b = 0; b < sync.trajectory.size(); ++b)
      CHECK(overlapped.trajectory[b] == Approx(sync.trajectory[b]));
  }
}

TEST_CASE("overlap: two ADAG workers' every window arrives once and the update counts stay exact", "[driver]") {
  LocalCluster cluster(2);
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAdag);
  c.window = 2;
  c.overlap = true;
  std::vector<std::uint64_t> commits(2);
  std::vector<std::thread> workers;
  for (std::uint32_t i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      ClientOptions o;
      o.servers = cluster.endpoints();
      o.worker_id = i;
      auto client = Client::Connect(Layout(), o);
      if (!client.ok()) return;
      std::vector<float> w(10, 0.0f);
      (void)client.value()->Init(w);
      RuleDriver driver(*client.value(), c);
      if (!driver.Start(w).ok()) return;
      for (int b = 0; b < 7; ++b) {
        if (!driver.BeforeBatch(w).ok()) return;
        for (float& x : w) x += 1.0f;
        if (!driver.AfterBatch(w).ok()) return;
      }
      if (driver.Finish(w).ok()) commits[i] = driver.commits();
    });
  }
  for (auto& t : workers) t.join();
  CHECK(commits == std::vector<std::uint64_t>{4, 4});
  CHECK(ExpectedCommits(c, 7) == 4);
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.worker_id = 2;  // the workers' ids stay in use for a while
  auto client = Client::Connect(Layout(), o);
  REQUIRE(client.ok());
  std::vector<float> center(10);
  REQUIRE(client.value()->Pull(center).ok());
  // Each commit carries its own window's work / 2, whatever base it trained
  // from: 2 workers x 7 batches x 1 / 2.
  CHECK(center[0] == Approx(7.0f));
  auto stats = client.value()->Stats();
  REQUIRE(stats.ok());
  for (const auto& s : stats.value()) CHECK(s.updates == 8);
}

TEST_CASE("overlap: waiting for an exchange the staleness bound holds is interrupted on the caller's thread",
          "[driver][interrupt]") {
  ps::ShardServerOptions bound;
  bound.shard.max_staleness = 0;
  LocalCluster cluster(1, bound);
  const auto caller = std::this_thread::get_id();
  bool armed = false;  // only the wait at a boundary, never the exchange's own thread
  int asked = 0;
  ClientOptions o;
  o.servers = cluster.endpoints();
  o.interrupt_interval = std::chrono::milliseconds(20);
  o.interrupt = [&] { return std::this_thread::get_id() == caller && armed && ++asked >= 3; };
  auto fast = Client::Connect(Layout(), o);
  REQUIRE(fast.ok());
  ClientOptions slow_options;
  slow_options.servers = cluster.endpoints();
  slow_options.worker_id = 1;
  auto slow = Client::Connect(Layout(), slow_options);
  REQUIRE(slow.ok());
  std::vector<float> w(10, 0.0f);
  REQUIRE(fast.value()->Init(w).ok());
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAdag);
  c.window = 1;
  c.overlap = true;
  RuleDriver driver(*fast.value(), c);
  REQUIRE(driver.Start(w).ok());
  for (int b = 0; b < 2; ++b) {
    REQUIRE(driver.BeforeBatch(w).ok());
    for (float& x : w) x += 1.0f;
    if (b == 0) REQUIRE(driver.AfterBatch(w).ok());  // its exchange is held: worker 1 has not committed
  }
  // Worker 1 leaves when told, or after 5 s should the wait not be interrupted;
  // then the bound lets the exchange through.
  std::promise<void> told;
  std::thread release([&slow, leave = told.get_future()] {
    (void)leave.wait_for(std::chrono::seconds(5));
    (void)slow.value()->Leave();
  });
  armed = true;
  const Status st = driver.AfterBatch(w);  // waits for batch 1's exchange
  armed = false;
  told.set_value();
  release.join();
  CHECK(st.code() == Status::Code::kUnavailable);
  CHECK_THAT(st.message(), Catch::Contains("interrupted") && Catch::Contains("still in flight"));
  CHECK(asked == 3);
  REQUIRE(driver.Finish(w).ok());  // waits for batch 1's exchange, then sends batch 2
  CHECK(driver.commits() == 2);
  std::vector<float> center(10);
  REQUIRE(fast.value()->Pull(center).ok());
  CHECK(center[0] == Approx(2.0f));  // both batches, each applied once
}

#if defined(__x86_64__) || defined(__i386__)
TEST_CASE("the driver computes with denormals flushed to zero and gives the caller's mode back", "[driver]") {
  LocalCluster cluster(1);
  ClientOptions o;
  o.servers = cluster.endpoints();
  auto client = Client::Connect(Layout(), o);
  REQUIRE(client.ok());
  std::vector<float> w(10, 0.0f);
  REQUIRE(client.value()->Init(w).ok());
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAdag);
  c.window = 1;
  RuleDriver driver(*client.value(), c);
  REQUIRE(driver.Start(w).ok());
  REQUIRE(driver.BeforeBatch(w).ok());
  volatile float tiny = 1e-20f;
  const float denormal = tiny * tiny;  // here, in the caller's mode, 1e-40
  REQUIRE(std::fpclassify(denormal) == FP_SUBNORMAL);
  w.assign(10, denormal);              // a batch that moved every weight by a denormal amount
  REQUIRE(driver.AfterBatch(w).ok());  // commits (W - W0) / 1: W read as 0
  std::vector<float> center(10, 1.0f);
  REQUIRE(client.value()->Pull(center).ok());
  CHECK(center == std::vector<float>(10, 0.0f));
  CHECK(tiny * tiny == denormal);
}
#endif

TEST_CASE("overlap is refused with average, whose pull is a barrier", "[driver]") {
  RuleConfig c = RuleConfig::Defaults(Algorithm::kAverage);
  c.overlap = true;
  CHECK_THAT(c.Validate().message(), Catch::Contains("overlap") && Catch::Contains("synchronous"));
}
