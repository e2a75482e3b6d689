// The staleness bound (ShardOptions::max_staleness, asyncps-server
// --max-staleness): first on the shard's logic with a fake clock and random
// schedules, then through real sockets and clients.
#include <catch2/catch.hpp>

#include <algorithm>
#include <latch>
#include <memory>
#include <numeric>
#include <random>
#include <thread>

#include "asyncps/client/client.h"
#include "asyncps/server/shard.h"
#include "support/local_cluster.h"
#include "support/requests.h"

using namespace asyncps;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::RequestFields;
using std::chrono::milliseconds;
using wire::ErrorCode;
using wire::Op;

namespace {

constexpr std::size_t kFloats = 4;

ParameterLayout SmallLayout() { return asyncps::testing::OneTensorLayout(kFloats); }

// What a worker got back: an answer (the center it carries, if any), a
// Blocked reply, or nothing yet (held).
struct Answer {
  std::uint32_t worker = 0;
  ErrorCode error = ErrorCode::Ok;
  bool held = false;
  std::vector<float> center;
};

// One shard (0 of 1) driven request by request on a fake clock.
class BoundedShard {
 public:
  explicit BoundedShard(std::int64_t max_staleness, ps::ShardOptions o = {}) : now_(std::make_shared<TimePoint>()) {
    o.max_staleness = max_staleness;
    o.now = [t = now_] { return *t; };
    shard_ = std::make_unique<ps::Shard>(o);
  }

  void Advance(milliseconds d) { *now_ += d; }
  ps::Shard& shard() { return *shard_; }

  // Hello from `worker` (the first one also inits C to zeros).
  void Join(std::uint32_t worker, bool observer = false) {
    RequestFields f = Fields(Op::Hello, worker);
    f.observer = observer;
    REQUIRE(Send(f).error == ErrorCode::Ok);
    if (!shard_->initialised()) {
      RequestFields init = Fields(Op::Init, worker);
      init.payload_floats = kFloats;
      REQUIRE(Send(init, std::vector<float>(kFloats, 0.0f)).error == ErrorCode::Ok);
    }
  }
  Answer CommitAndPull(std::uint32_t worker, float delta, std::uint64_t seq) {
    RequestFields f = Fields(Op::CommitAndPull, worker, seq);
    f.payload_floats = kFloats;
    return Send(f, std::vector<float>(kFloats, delta));
  }
  Answer Leave(std::uint32_t worker) { return Send(Fields(Op::Leave, worker)); }
  Answer Pull(std::uint32_t worker) { return Send(Fields(Op::Pull, worker)); }

  // Every held request the shard lets go now.
  std::vector<Answer> Released() {
    std::vector<Answer> out;
    while (std::optional<ps::Shard::Outcome> o = shard_->ReleaseOne(fbb_)) out.push_back(Decode(*o));
    return out;
  }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

 public:
  RequestFields Fields(Op op, std::uint32_t worker, std::uint64_t seq = 0) {
    RequestFields f;
    f.op = op;
    f.worker_id = worker;
    f.seq = seq;
    f.session = worker + 1;
    return f;
  }
  Answer Send(const RequestFields& f, const std::vector<float>& payload = {}) {
    const std::vector<std::byte> body = FloatBytes(payload);
    return Decode(shard_->Handle(EncodeRequest(f, layout_), body, fbb_));
  }
  Answer Decode(const ps::Shard::Outcome& o) {
    Answer a{o.worker_id, o.error, o.held, {o.payload.begin(), o.payload.end()}};
    if (!o.held) {
      std::string why;
      const wire::Reply* r = wire::VerifyReply(
          {reinterpret_cast<const std::byte*>(fbb_.GetBufferPointer()), fbb_.GetSize()}, scratch_, &why);
      REQUIRE(r != nullptr);
      CHECK(r->error() == o.error);
    }
    return a;
  }

 private:
  std::shared_ptr<TimePoint> now_;
  std::unique_ptr<ps::Shard> shard_;
  ParameterLayout layout_ = SmallLayout();
  flatbuffers::FlatBufferBuilder fbb_;
  std::vector<std::uint64_t> scratch_;
};

// Worker w's k-th delta (k from 1): integers, so every sum is exact.
float Delta(std::uint32_t w, std::uint64_t k) { return static_cast<float>((w + 1) * 100 + k); }

}  // namespace

TEST_CASE("only a worker's own session keeps it active, an observer under its id is never held", "[ssp][hostile]") {
  BoundedShard s(1, [] {
    ps::ShardOptions o;
    o.worker_timeout = milliseconds(1000);
    return o;
  }());
  s.Join(0);
  s.Join(1);
  // Worker 0 dies. An observer polls under its id (Python's stats() with the
  // default worker_id 0) from its own session, every 100 ms for 2 s.
  for (int i = 0; i < 20; ++i) {
    RequestFields poll = s.Fields(Op::Pull, 0);
    poll.session = 999;
    const Answer a = s.Send(poll);
    CHECK(a.error == ErrorCode::Ok);
    CHECK_FALSE(a.held);  // observers never hold or are held
    s.Advance(milliseconds(100));
  }
  // Worker 0 timed out: worker 1 runs on unbounded by it.
  for (std::uint64_t k = 1; k <= 10; ++k) CHECK_FALSE(s.CommitAndPull(1, 1.0f, k).held);
  CHECK(s.shard().counters().updates == 10);
}

TEST_CASE("only a worker's own session can leave it, and committing after a leave makes it active again",
          "[ssp][hostile]") {
  BoundedShard s(1);
  s.Join(0);
  s.Join(1);
  RequestFields forged = s.Fields(Op::Leave, 1);
  forged.session = 999;  // another client claims to be worker 1 leaving
  CHECK(s.Send(forged).error == ErrorCode::Mismatch);
  // Worker 0 may not run more than 1 commit ahead of worker 1.
  CHECK_FALSE(s.CommitAndPull(0, 1.0f, 1).held);
  CHECK(s.CommitAndPull(0, 1.0f, 2).held);
  CHECK(s.CommitAndPull(1, 1.0f, 1).error == ErrorCode::Ok);
  CHECK(s.Released().size() == 1);
  // Worker 1 leaves (its own session), then keeps committing: active again,
  // so worker 0 is bounded by it, and max_clock_gap tells the real gap.
  CHECK(s.Leave(1).error == ErrorCode::Ok);
  CHECK_FALSE(s.CommitAndPull(1, 1.0f, 2).held);
  CHECK_FALSE(s.CommitAndPull(1, 1.0f, 3).held);
  CHECK(s.CommitAndPull(1, 1.0f, 4).held);  // 2 ahead of worker 0: held
  CHECK(s.shard().counters().max_clock_gap <= 1);
}

TEST_CASE("a request failing the session check changes nothing, not even a held pull", "[ssp][hostile]") {
  BoundedShard s(0);
  s.Join(0);
  s.Join(1);
  CHECK(s.CommitAndPull(0, 1.0f, 1).held);  // waits for worker 1
  RequestFields stranger = s.Fields(Op::Pull, 0);
  stranger.fingerprint_override = 42;  // a wrong layout fingerprint
  CHECK(s.Send(stranger).error == ErrorCode::Mismatch);
  CHECK(s.CommitAndPull(1, 1.0f, 1).error == ErrorCode::Ok);
  const std::vector<Answer> released = s.Released();
  REQUIRE(released.size() == 1);  // worker 0's pull was still held, and goes now
  CHECK(released[0].worker == 0);
}

TEST_CASE("a second live session claiming a worker id is refused, naming it, a dead one's id is free again",
          "[shard][hostile]") {
  BoundedShard s(-1, [] {
    ps::ShardOptions o;
    o.worker_timeout = milliseconds(1000);
    return o;
  }());
  s.Join(7);
  RequestFields twin = s.Fields(Op::Hello, 7);
  twin.session = 999;
  const Answer refused = s.Send(twin);
  CHECK(refused.error == ErrorCode::Mismatch);
  RequestFields twin_commit = s.Fields(Op::Commit, 7, 1);
  twin_commit.session = 999;
  twin_commit.payload_floats = kFloats;
  CHECK(s.Send(twin_commit, std::vector<float>(kFloats, 1.0f)).error == ErrorCode::Mismatch);
  CHECK(s.shard().counters().updates == 0);
  s.Advance(milliseconds(1500));  // the first client went silent past the worker timeout
  CHECK(s.Send(twin).error == ErrorCode::Ok);
}

TEST_CASE("65,536 hellos do not fill the worker table for good: a real worker can always join", "[shard][hostile]") {
  BoundedShard s(-1, [] {
    ps::ShardOptions o;
    o.max_workers = 64;
    return o;
  }());
  s.Join(0);
  REQUIRE(s.CommitAndPull(0, 1.0f, 1).error == ErrorCode::Ok);
  for (std::uint32_t id = 1000; id < 1000 + 4 * 64; ++id) {  // a flood of hello-only ids
    REQUIRE(s.Send(s.Fields(Op::Hello, id)).error == ErrorCode::Ok);
    s.Advance(milliseconds(1));
  }
  // A real worker joins and commits; worker 0, which committed, kept its state.
  s.Join(5);
  CHECK(s.CommitAndPull(5, 1.0f, 1).error == ErrorCode::Ok);
  CHECK(s.CommitAndPull(0, 1.0f, 1).error == ErrorCode::Ok);  // a resend: a duplicate, not applied twice
  CHECK(s.shard().counters().duplicates == 1);
  CHECK(s.shard().counters().updates == 2);
}

TEST_CASE("S = 0 is lock-step: every worker's k-th pull sees exactly the sum of all k-th commits", "[ssp]") {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const std::uint32_t workers = 2 + seed % 4;
    constexpr std::uint64_t kRounds = 12;
    BoundedShard s(0);
    for (std::uint32_t w = 0; w < workers; ++w) s.Join(w);
    std::vector<std::uint64_t> clock(workers, 0);
    std::vector<bool> waiting(workers, false);
    auto check = [&](const Answer& a) {
      REQUIRE(a.error == ErrorCode::Ok);
      const std::uint64_t k = clock[a.worker];
      double expected = 0;  // the sum of every worker's commits 1..k
      for (std::uint32_t v = 0; v < workers; ++v)
        for (std::uint64_t j = 1; j <= k; ++j) expected += Delta(v, j);
      REQUIRE(a.center.size() == kFloats);
      CHECK(a.center[0] == static_cast<float>(expected));
      waiting[a.worker] = false;
    };
    std::size_t done = 0;
    while (done < workers) {
      std::vector<std::uint32_t> ready;
      for (std::uint32_t w = 0; w < workers; ++w)
        if (!waiting[w] && clock[w] < kRounds) ready.push_back(w);
      REQUIRE_FALSE(ready.empty());  // no deadlock
      const std::uint32_t w = ready[rng() % ready.size()];
      const Answer a = s.CommitAndPull(w, Delta(w, clock[w] + 1), clock[w] + 1);
      ++clock[w];
      waiting[w] = true;
      if (!a.held) check(a);
      for (const Answer& r : s.Released()) check(r);
      done = 0;
      for (std::uint32_t v = 0; v < workers; ++v) done += clock[v] == kRounds && !waiting[v];
    }
    CHECK(s.shard().counters().updates == workers * kRounds);
    CHECK(s.shard().counters().max_clock_gap == 0);
    CHECK(s.shard().counters().duplicates == 0);
  }
}

TEST_CASE("the clock gap never exceeds S under random schedules, and the sums stay exact", "[ssp]") {
  for (std::uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    const std::uint32_t workers = 2 + seed % 5;
    const std::int64_t bound = std::array<std::int64_t, 4>{0, 1, 2, 5}[seed % 4];
    const std::uint64_t rounds = 10 + seed % 7;
    BoundedShard s(bound);
    for (std::uint32_t w = 0; w < workers; ++w) s.Join(w);
    std::vector<std::uint64_t> clock(workers, 0);
    std::vector<bool> waiting(workers, false);
    std::vector<double> speed(workers);  // how often each worker gets to run: some are stragglers
    for (double& v : speed) v = std::uniform_real_distribution<double>(0.05, 1.0)(rng);
    double sum = 0;
    auto answered = [&](const Answer& a) {
      REQUIRE(a.error == ErrorCode::Ok);
      // The gap at the moment of the answer, by the test's own clocks (every
      // worker is active: none left).
      const std::uint64_t slowest = *std::min_element(clock.begin(), clock.end());
      CHECK(clock[a.worker] - slowest <= static_cast<std::uint64_t>(bound));
      waiting[a.worker] = false;
    };
    std::size_t steps = 0;
    while (true) {
      std::vector<std::uint32_t> ready;
      for (std::uint32_t w = 0; w < workers; ++w)
        if (!waiting[w] && clock[w] < rounds) ready.push_back(w);
      if (ready.empty()) break;
      REQUIRE(++steps < 100000);
      const std::uint32_t w = ready[rng() % ready.size()];
      if (std::uniform_real_distribution<double>(0, 1)(rng) > speed[w]) continue;  // still computing
      const float d = Delta(w, clock[w] + 1);
      const Answer a = s.CommitAndPull(w, d, clock[w] + 1);
      sum += d;
      ++clock[w];
      waiting[w] = true;
      if (!a.held) answered(a);
      for (const Answer& r : s.Released()) answered(r);
    }
    // Everyone finished: nobody is left waiting.
    CHECK(std::count(waiting.begin(), waiting.end(), true) == 0);
    CHECK(s.shard().counters().updates == workers * rounds);
    CHECK(s.shard().center()[0] == static_cast<float>(sum));
    CHECK(s.shard().counters().max_clock_gap <= static_cast<std::uint64_t>(bound));
  }
}

TEST_CASE("a worker that leaves no longer holds the others", "[ssp]") {
  BoundedShard s(0);
  s.Join(0);
  s.Join(1);
  // Worker 0 committed once, worker 1 not at all: 0's pull is held.
  CHECK(s.CommitAndPull(0, 1, 1).held);
  CHECK(s.shard().held() == 1);
  CHECK(s.Leave(1).error == ErrorCode::Ok);
  const std::vector<Answer> released = s.Released();
  REQUIRE(released.size() == 1);
  CHECK(released[0].worker == 0);
  CHECK(released[0].error == ErrorCode::Ok);
  // And it runs on alone.
  CHECK_FALSE(s.CommitAndPull(0, 1, 2).held);
}

TEST_CASE("a silent worker holds the others only until --worker-timeout, the held get Blocked meanwhile", "[ssp]") {
  ps::ShardOptions o;
  o.worker_timeout = milliseconds(5000);
  o.max_hold = milliseconds(1000);
  BoundedShard s(1, o);
  s.Join(0);
  s.Join(1);
  CHECK_FALSE(s.CommitAndPull(0, 1, 1).held);  // gap 1 <= S
  CHECK(s.CommitAndPull(0, 1, 2).held);        // gap 2 > S: worker 1 is silent (died?)
  s.Advance(milliseconds(999));
  CHECK(s.Released().empty());
  s.Advance(milliseconds(1));
  // Held max_hold: answered Blocked (before any client's request timeout).
  std::vector<Answer> released = s.Released();
  REQUIRE(released.size() == 1);
  CHECK(released[0].error == ErrorCode::Blocked);
  CHECK(s.shard().counters().errors == 0);  // waiting is no error
  // The client resends the same request: held again, and it is no duplicate.
  for (int second = 2; second <= 4; ++second) {
    CHECK(s.CommitAndPull(0, 1, 2).held);
    s.Advance(milliseconds(1000));
    released = s.Released();
    REQUIRE(released.size() == 1);
    CHECK(released[0].error == ErrorCode::Blocked);
  }
  CHECK(s.CommitAndPull(0, 1, 2).held);
  CHECK(s.shard().counters().duplicates == 0);
  CHECK(s.shard().counters().updates == 2);
  // Worker 1 was last heard of at its hello: after 5 s it drops out of the bound.
  s.Advance(milliseconds(999));
  CHECK(s.Released().empty());
  s.Advance(milliseconds(2));
  released = s.Released();
  REQUIRE(released.size() == 1);
  CHECK(released[0].error == ErrorCode::Ok);
  CHECK(released[0].center == std::vector<float>(kFloats, 2.0f));
  CHECK(s.shard().counters().blocked_pulls == 1);  // one pull, held 5 times
  CHECK(s.shard().counters().blocked_ms == 5001);
  // A request from worker 1 brings it back into the bound.
  CHECK_FALSE(s.Pull(1).held);
  CHECK(s.CommitAndPull(0, 1, 3).held);
}

TEST_CASE("observers are never waited for nor held", "[ssp]") {
  BoundedShard s(0);
  s.Join(0);
  s.Join(7, /*observer=*/true);
  CHECK_FALSE(s.CommitAndPull(0, 1, 1).held);  // 7 does not count
  CHECK_FALSE(s.Pull(7).held);
}

TEST_CASE("off, nothing is ever held", "[ssp]") {
  BoundedShard s(-1);
  s.Join(0);
  s.Join(1);
  for (std::uint64_t k = 1; k <= 50; ++k) CHECK_FALSE(s.CommitAndPull(0, 1, k).held);
  CHECK(s.shard().counters().max_clock_gap == 50);  // still measured
}

TEST_CASE("staleness scale inverse (asyncps-server --staleness-scale) scales any rule's commit by 1/tau", "[ssp]") {
  ps::ShardOptions o;
  o.staleness_scale = StalenessScale::kInverse;
  BoundedShard s(-1, o);
  s.Join(0);
  s.Join(1);
  CHECK(s.CommitAndPull(0, 4, 1).center[0] == 4.0f);  // tau 1 (last pulled 0, 0 applied)
  // Worker 1 pulled at 0 updates; 1 was applied since: tau 2, so half.
  CHECK(s.CommitAndPull(1, 4, 1).center[0] == 6.0f);
}

namespace {

// Real clients on real sockets: W threads commit integer deltas with random
// pauses; every reply arrives after the commits the bound waited for were sent.
struct Timeline {
  std::vector<std::chrono::steady_clock::time_point> sent, answered;  // per round, from 1
};

}  // namespace

TEST_CASE("through real clients: exact counts and sums, the gap bounded, no spurious time-outs", "[ssp]") {
  constexpr std::uint32_t kWorkers = 4;
  constexpr std::uint64_t kRounds = 25;
  constexpr std::int64_t kBound = 1;
  constexpr milliseconds kLongPause{1500};
  ps::ShardServerOptions options;
  options.shard.max_staleness = kBound;
  options.shard.max_hold = milliseconds(100);
  testing::LocalCluster cluster(2, options);
  const ParameterLayout layout = SmallLayout();
  std::vector<Timeline> timeline(kWorkers);
  std::vector<Status> failures(kWorkers);
  std::vector<std::thread> threads;
  std::latch start(kWorkers);
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      ClientOptions co;
      co.servers = cluster.endpoints();
      co.worker_id = w;
      co.algorithm = Algorithm::kDownpour;
      // A held pull must outlast these: the Blocked replies keep it alive.
      co.request_timeout = milliseconds(300);
      co.retry_deadline = milliseconds(600);
      auto client = Client::Connect(layout, co);
      if (!client.ok()) {
        failures[w] = client.status();
        start.count_down();
        return;
      }
      std::vector<float> weights(kFloats, 0.0f);
      Status st = client.value()->Init(weights).status();
      if (st.ok()) st = client.value()->Pull(weights);
      // Everyone joins the bound (hello) before anyone commits.
      start.arrive_and_wait();
      std::mt19937 rng(w + 1);
      // Worker 0 is a straggler, and once stops for longer than the others'
      // retry deadline: they must wait it out, not time out.
      const int pause_ms = w == 0 ? 40 : 3;
      for (std::uint64_t k = 1; k <= kRounds && st.ok(); ++k) {
        std::this_thread::sleep_for(milliseconds(rng() % (pause_ms + 1)));
        if (w == 0 && k == 5) std::this_thread::sleep_for(kLongPause);
        timeline[w].sent.push_back(std::chrono::steady_clock::now());
        st = client.value()->CommitAndPull(std::vector<float>(kFloats, Delta(w, k)), weights);
        timeline[w].answered.push_back(std::chrono::steady_clock::now());
      }
      if (st.ok()) st = client.value()->Leave();
      failures[w] = st;
    });
  }
  for (auto& t : threads) t.join();
  cluster.Stop();
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    INFO("worker " << w << ": " << failures[w].ToString());
    CHECK(failures[w].ok());
  }
  double sum = 0;
  for (std::uint32_t w = 0; w < kWorkers; ++w)
    for (std::uint64_t k = 1; k <= kRounds; ++k) sum += Delta(w, k);
  for (std::size_t i = 0; i < 2; ++i) {
    const ShardCounters& c = cluster.shard(i).counters();
    CHECK(c.updates == kWorkers * kRounds);
    CHECK(c.duplicates == 0);
    CHECK(c.errors == 0);
    CHECK(c.max_clock_gap <= static_cast<std::uint64_t>(kBound));
    CHECK(cluster.shard(i).center()[0] == static_cast<float>(sum));
    CHECK(c.blocked_pulls > 0);
    // Each of the others was held through the long pause (less what it was still computing).
    for (const ps::Shard::WorkerTotals& t : cluster.shard(i).commits_per_worker())
      if (t.id != 0) CHECK(t.blocked > kLongPause / 2);
  }
  // Worker w's reply to its round k came after every other worker had sent
  // its round k - S (the shard applied it before answering w).
  for (std::uint32_t w = 0; w < kWorkers; ++w) {
    for (std::uint64_t k = kBound + 1; k <= kRounds; ++k)
      for (std::uint32_t v = 0; v < kWorkers; ++v)
        CHECK(timeline[v].sent[k - kBound - 1] < timeline[w].answered[k - 1]);
  }
}
