// StalenessBound on its own (asyncps-server --max-staleness): worker ids,
// clocks and a fake clock; no shard, no sockets, no FlatBuffers. The shard
// driven through requests is in staleness_bound_test.cpp.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "asyncps/server/staleness_bound.h"

using asyncps::ps::StalenessBound;
using asyncps::ps::StalenessBoundOptions;
using std::chrono::milliseconds;

namespace {

// A bound on a fake clock that starts at 1 s and moves only by Advance.
class FakeClockBound {
 public:
  explicit FakeClockBound(std::int64_t max_staleness, milliseconds worker_timeout = milliseconds(5000),
                          milliseconds max_hold = milliseconds(1000))
      : now_(std::make_shared<StalenessBound::TimePoint>(std::chrono::seconds(1))),
        bound_(
            {.max_staleness = max_staleness, .worker_timeout = worker_timeout, .max_hold = max_hold, .now = [t = now_] {
               return *t;
             }}) {}

  void Advance(milliseconds d) { *now_ += d; }
  StalenessBound& operator*() { return bound_; }
  StalenessBound* operator->() { return &bound_; }

  // A worker says hello as itself (not as an observer).
  void Join(std::uint32_t worker) {
    bound_.Add(worker);
    bound_.Joined(worker);
  }
  // `n` commits of `worker`, each from its own session.
  void Commit(std::uint32_t worker, int n = 1) {
    for (int i = 0; i < n; ++i) {
      bound_.Heard(worker);
      bound_.Committed(worker);
    }
  }

 private:
  std::shared_ptr<StalenessBound::TimePoint> now_;
  StalenessBound bound_;
};

}  // namespace

TEST_CASE("bound: a pull at a gap of S goes, at S + 1 it is held", "[ssp][bound]") {
  FakeClockBound b(2);
  b.Join(0);
  b.Join(1);
  b.Commit(0, 2);
  StalenessBound::PullAnswer a = b->Pull(0, 2, /*own_session=*/true);
  CHECK_FALSE(a.held);
  CHECK(a.gap == 2);
  b.Commit(0);
  a = b->Pull(0, 3, true);
  CHECK(a.held);
  CHECK(a.gap == 3);
  CHECK(a.new_block);
  CHECK(b->held() == 1);
  CHECK(b->Find(0)->holding);
  CHECK(b->SlowestClock() == std::optional<std::uint64_t>(0));
  CHECK_FALSE(b->ReleaseOne().has_value());  // the gap is still 3
}

TEST_CASE("bound: S = 0 holds any worker ahead, the one behind is never held", "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Commit(0);
  CHECK(b->Pull(0, 1, true).held);
  CHECK(b->Gap(1) == 0);
  CHECK_FALSE(b->Pull(1, 0, true).held);  // behind: gap 0
}

TEST_CASE("bound: a held pull goes once the slowest worker's commit closes the gap", "[ssp][bound]") {
  FakeClockBound b(1);
  b.Join(0);
  b.Join(1);
  b.Commit(0, 2);
  REQUIRE(b->Pull(0, 2, true).held);
  b.Advance(milliseconds(300));
  b.Commit(1);  // worker 1 at 1: worker 0's gap is 1 <= S
  const std::optional<StalenessBound::Release> r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK(r->worker == 0);
  CHECK(r->seq == 2);
  CHECK(r->may_go);
  CHECK(r->gap == 1);
  CHECK(b->held() == 0);
  CHECK_FALSE(b->Find(0)->holding);
  CHECK(b->Find(0)->blocked == milliseconds(300));
  CHECK(b->blocked_total() == milliseconds(300));
  CHECK_FALSE(b->ReleaseOne().has_value());
}

TEST_CASE("bound: held pulls go in the order they were held", "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Join(2);
  b.Commit(0);
  REQUIRE(b->Pull(0, 1, true).held);
  b.Commit(1);
  REQUIRE(b->Pull(1, 1, true).held);  // 1 ahead of worker 2
  b.Commit(2);                        // everyone at 1
  const std::optional<StalenessBound::Release> first = b->ReleaseOne();
  const std::optional<StalenessBound::Release> second = b->ReleaseOne();
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  CHECK(first->worker == 0);
  CHECK(second->worker == 1);
  CHECK(first->may_go);
  CHECK(second->may_go);
  CHECK_FALSE(b->ReleaseOne().has_value());
}

TEST_CASE("bound: the slowest worker leaving lets the held go, committing after it makes it active again",
          "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Commit(0);
  REQUIRE(b->Pull(0, 1, true).held);
  b->Left(1);
  CHECK_FALSE(b->Active(1));
  const std::optional<StalenessBound::Release> r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK(r->may_go);
  CHECK(r->gap == 0);
  CHECK_FALSE(b->Pull(0, 2, true).held);  // runs on alone
  // A worker that left is never held, whatever its gap.
  b.Commit(0, 3);
  b.Join(2);
  b->Left(0);
  CHECK_FALSE(b->Pull(0, 5, true).held);
  CHECK(b->Gap(0) == 0);
  // Worker 1 commits after its Leave: active again, and bounds worker 2.
  b.Commit(1);
  CHECK(b->Active(1));
  b.Commit(2, 2);
  CHECK(b->Pull(2, 2, true).held);
}

TEST_CASE("bound: a silent worker holds the others until worker_timeout, the held are let go Blocked every max_hold",
          "[ssp][bound]") {
  FakeClockBound b(1, /*worker_timeout=*/milliseconds(5000), /*max_hold=*/milliseconds(1000));
  b.Join(0);
  b.Join(1);  // and never heard of again
  b.Commit(0, 2);
  StalenessBound::PullAnswer a = b->Pull(0, 2, true);
  REQUIRE(a.held);
  CHECK(a.new_block);
  b.Advance(milliseconds(999));
  CHECK_FALSE(b->ReleaseOne().has_value());
  b.Advance(milliseconds(1));
  std::optional<StalenessBound::Release> r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK_FALSE(r->may_go);  // held max_hold: answer Blocked
  CHECK(r->seq == 2);
  CHECK(b->Find(0)->blocked_seq == 2);
  // The client resends the same request every time: held again, no new blocked pull.
  for (int second = 2; second <= 4; ++second) {
    a = b->Pull(0, 2, true);
    REQUIRE(a.held);
    CHECK_FALSE(a.new_block);
    b.Advance(milliseconds(1000));
    r = b->ReleaseOne();
    REQUIRE(r.has_value());
    CHECK_FALSE(r->may_go);
  }
  REQUIRE(b->Pull(0, 2, true).held);
  // Worker 1 was last heard of at its hello: past 5 s it drops out of the bound
  // (worker 0, holding, stays active however long it waits).
  b.Advance(milliseconds(999));
  CHECK_FALSE(b->ReleaseOne().has_value());
  CHECK(b->Active(0));
  b.Advance(milliseconds(2));
  CHECK_FALSE(b->Active(1));
  r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK(r->may_go);
  CHECK(r->gap == 0);
  CHECK(b->blocked_total() == milliseconds(5001));
  CHECK(b->Find(0)->blocked == milliseconds(5001));
  // A request of worker 1 brings it back into the bound.
  b->Heard(1);
  CHECK(b->Active(1));
  b.Commit(0);
  a = b->Pull(0, 3, true);
  CHECK(a.held);
  CHECK(a.new_block);  // a new request, not the one let go Blocked
}

TEST_CASE("bound: a worker's own request supersedes its held pull", "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Commit(0);
  REQUIRE(b->Pull(0, 1, true).held);
  b->Heard(0);
  CHECK(b->held() == 0);
  CHECK_FALSE(b->Find(0)->holding);
  b.Commit(1);
  CHECK_FALSE(b->ReleaseOne().has_value());  // nothing left to let go
}

TEST_CASE("bound: a worker has at most one pull held, DropHeld forgets it unanswered", "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Commit(0);
  REQUIRE(b->Pull(0, 1, true).held);
  REQUIRE(b->Pull(0, 2, true).held);  // replaces the first
  CHECK(b->held() == 1);
  b.Commit(1);
  std::optional<StalenessBound::Release> r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK(r->seq == 2);
  b.Commit(0);
  REQUIRE(b->Pull(0, 3, true).held);
  b->DropHeld(0);
  CHECK(b->held() == 0);
  CHECK_FALSE(b->Find(0)->holding);
  b.Commit(1);
  CHECK_FALSE(b->ReleaseOne().has_value());
}

TEST_CASE("bound: observers are never held nor waited for", "[ssp][bound]") {
  FakeClockBound b(0);
  b.Join(0);
  b.Join(1);
  b.Commit(0);
  // A request under worker 0's id from another session (an observer's): never held.
  const StalenessBound::PullAnswer a = b->Pull(0, 0, /*own_session=*/false);
  CHECK_FALSE(a.held);
  CHECK(a.gap == 1);
  CHECK(b->held() == 0);
  // An observer's id is never tracked: it holds nobody back and is never held.
  FakeClockBound c(0);
  c.Join(0);
  c.Commit(0, 3);
  CHECK_FALSE(c->Pull(0, 3, true).held);
  CHECK_FALSE(c->Pull(7, 1, true).held);
  CHECK(c->Find(7) == nullptr);
  CHECK(c->Gap(7) == 0);
}

TEST_CASE("bound: max_staleness < 0 is off: nothing is held, the gap is still measured", "[ssp][bound]") {
  for (const std::int64_t off : {std::int64_t{-1}, std::int64_t{-5}}) {
    FakeClockBound b(off);
    b.Join(0);
    b.Join(1);
    for (std::uint64_t k = 1; k <= 50; ++k) {
      b.Commit(0);
      const StalenessBound::PullAnswer a = b->Pull(0, k, true);
      CHECK_FALSE(a.held);
      CHECK(a.gap == k);
    }
    CHECK(b->held() == 0);
    CHECK_FALSE(b->ReleaseOne().has_value());
  }
}

TEST_CASE("bound: a restored worker has worker_timeout to come back, Forget and Clear drop workers", "[ssp][bound]") {
  FakeClockBound b(0, /*worker_timeout=*/milliseconds(2000));
  b->Restore(0, 5);
  b->Restore(1, 3);
  CHECK(b->Find(0)->clock == 5);
  CHECK(b->SlowestClock() == std::optional<std::uint64_t>(3));
  b->Heard(0);
  CHECK(b->Pull(0, 1, true).held);  // 2 ahead of worker 1
  b.Advance(milliseconds(2001));    // worker 1 never came back
  CHECK_FALSE(b->Active(1));
  std::optional<StalenessBound::Release> r = b->ReleaseOne();
  REQUIRE(r.has_value());
  CHECK(r->may_go);
  CHECK_FALSE(b->Active(0));  // no longer holding, and silent past worker_timeout too
  b->Heard(0);
  b->Forget(1);
  CHECK(b->Find(1) == nullptr);
  CHECK(b->SlowestClock() == std::optional<std::uint64_t>(5));
  b->Clear();
  CHECK(b->Find(0) == nullptr);
  CHECK_FALSE(b->SlowestClock().has_value());
  CHECK(b->blocked_total() == milliseconds(2001));  // what was held stays counted
}
