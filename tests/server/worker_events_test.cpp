// The log's worker lines (worker_events.h): a shard driven request by request
// on a fake clock, its lines caught by a fake sink.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "asyncps/server/shard.h"
#include "asyncps/server/worker_events.h"
#include "support/requests.h"

using namespace asyncps;
using namespace std::chrono_literals;
using asyncps::testing::EncodeRequest;
using asyncps::testing::FloatBytes;
using asyncps::testing::OneTensorLayout;
using asyncps::testing::RequestFields;
using wire::ErrorCode;
using wire::Op;

namespace {

struct Line {
  std::string level;
  std::string message;
};

// One shard (0 of 1, 4 floats, worker_timeout 1 s) on a fake clock, and the
// lines its WorkerEvents wrote.
struct Harness {
  std::shared_ptr<std::chrono::steady_clock::time_point> now =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::time_point{} + 1h);
  ps::Shard shard{Options()};
  std::vector<Line> lines;
  ps::WorkerEvents events{shard, [this](const char* level, const std::string& m) { lines.push_back({level, m}); }};
  ParameterLayout layout = OneTensorLayout(4);
  flatbuffers::FlatBufferBuilder fbb;
  std::uint64_t seq = 0;

  ps::ShardOptions Options() {
    ps::ShardOptions o;
    o.worker_timeout = 1000ms;
    o.now = [t = now] { return *t; };
    return o;
  }
  // Worker `worker` sends `op` (with `payload`) from `address`; the outcome's code.
  ErrorCode Send(std::uint32_t worker, Op op, const std::vector<float>& payload = {},
                 std::string_view address = "10.0.0.7") {
    RequestFields f;
    f.op = op;
    f.seq = ++seq;
    f.worker_id = worker;
    f.session = 100 + worker;
    f.payload_floats = payload.size();
    const ps::Shard::Outcome out = shard.Handle(EncodeRequest(f, layout), FloatBytes(payload), fbb);
    events.Handled(out, address);
    return out.error;
  }
  void Join(std::uint32_t worker, std::string_view address = "10.0.0.7") {
    REQUIRE(Send(worker, Op::Hello) == ErrorCode::Ok);
    const ErrorCode init = Send(worker, Op::Init, {1, 2, 3, 4}, address);
    REQUIRE((init == ErrorCode::Ok || init == ErrorCode::AlreadyInitialised));
  }
};

}  // namespace

TEST_CASE("a worker's join names its address and whether its Init was taken", "[log][workers]") {
  Harness h;
  h.Join(0, "10.0.0.7");
  h.Join(1, "10.0.0.8");
  REQUIRE(h.lines.size() == 2);
  CHECK(h.lines[0].level == "info");
  CHECK(h.lines[0].message == "worker 0 joined from 10.0.0.7: its Init was taken (the centre starts from its weights)");
  CHECK(h.lines[1].message ==
        "worker 1 joined from 10.0.0.8: its Init was not taken (the centre was already initialised, at 0 updates)");
}

TEST_CASE("a join to a centre restored from a checkpoint says so, with the restored updates", "[log][workers]") {
  Harness h;
  ShardCounters restored;
  restored.updates = 1200;
  h.shard.Restore(h.layout, Algorithm::kAdag, {0, 0, 0, 0}, restored, {}, {});
  h.Join(3, "");
  REQUIRE(h.lines.size() == 1);
  CHECK(h.lines[0].message ==
        "worker 3 joined from an unknown address: its Init was not taken (the centre was already initialised, at 1200 "
        "updates, continued from a checkpoint restored at 1200 updates)");
  REQUIRE(h.Send(3, Op::Commit, {0.5f, 0, 0, 0}) == ErrorCode::Ok);
  REQUIRE(h.Send(3, Op::Leave) == ErrorCode::Ok);
  REQUIRE(h.lines.size() == 2);
  CHECK(h.lines[1].message == "worker 3 left after 1 commits (those before the checkpoint included)");
}

TEST_CASE("a worker's Leave is one line with its commits, and it never times out after", "[log][workers]") {
  Harness h;
  h.Join(0);
  for (int i = 0; i < 3; ++i) REQUIRE(h.Send(0, Op::Commit, {0.5f, 0, 0, 0}) == ErrorCode::Ok);
  REQUIRE(h.Send(0, Op::Leave) == ErrorCode::Ok);
  *h.now += 10s;
  h.events.CheckTimeouts();
  REQUIRE(h.lines.size() == 2);
  CHECK(h.lines[1].level == "info");
  CHECK(h.lines[1].message == "worker 0 left after 3 commits");
}

TEST_CASE("a worker silent past worker_timeout times out once, and is back when it sends again", "[log][workers]") {
  Harness h;
  h.Join(0);
  h.Join(1);
  REQUIRE(h.Send(0, Op::Commit, {0.5f, 0, 0, 0}) == ErrorCode::Ok);
  *h.now += 600ms;
  REQUIRE(h.Send(1, Op::Pull) == ErrorCode::Ok);  // worker 1 stays live
  h.events.CheckTimeouts();
  CHECK(h.lines.size() == 2);  // 600 ms < 1 s: nobody timed out yet
  *h.now += 600ms;
  h.events.CheckTimeouts();
  h.events.CheckTimeouts();  // once, not on every check
  REQUIRE(h.lines.size() == 3);
  CHECK(h.lines[2].level == "warn");
  CHECK(h.lines[2].message ==
        "worker 0 timed out: nothing heard from it for 1 s (--worker-timeout) and no Leave, after 1 commits; the "
        "staleness bound no longer waits for it");
  REQUIRE(h.Send(0, Op::Commit, {0.5f, 0, 0, 0}) == ErrorCode::Ok);
  REQUIRE(h.lines.size() == 4);
  CHECK(h.lines[3].message == "worker 0 is back after its time-out");
}

TEST_CASE("a refused Init is not a join", "[log][workers]") {
  Harness h;
  REQUIRE(h.Send(0, Op::Init, {1, 2, 3, 4}) != ErrorCode::Ok);  // before hello: refused
  REQUIRE(h.Send(0, Op::Hello) == ErrorCode::Ok);
  REQUIRE(h.Send(0, Op::Init, {1, 2}) == ErrorCode::BadSize);
  CHECK(h.lines.empty());
}
