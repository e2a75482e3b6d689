// WorkerState (worker_state.h): what the status page calls each worker, from
// the staleness bound's view of it, on a fake clock.
#include <catch2/catch.hpp>

#include <memory>

#include "asyncps/server/worker_state.h"

using asyncps::ps::ClassifyWorker;
using asyncps::ps::StalenessBound;
using asyncps::ps::WorkerActivity;
using asyncps::ps::WorkerActivityName;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kWorkerTimeout{5000};

// A staleness bound of S = 0 (a barrier) on a fake clock moved only by Advance.
struct Bound {
  std::shared_ptr<StalenessBound::TimePoint> now = std::make_shared<StalenessBound::TimePoint>(std::chrono::seconds(1));
  StalenessBound bound{{.max_staleness = 0, .worker_timeout = kWorkerTimeout, .now = [t = now] { return *t; }}};

  void Advance(milliseconds d) { *now += d; }
  void Join(std::uint32_t worker) {
    bound.Add(worker);
    bound.Joined(worker);
  }
  void Commit(std::uint32_t worker) {
    bound.Heard(worker);
    bound.Committed(worker);
  }
  WorkerActivity State(std::uint32_t worker, bool unfinished = false) const {
    return ClassifyWorker(*bound.Find(worker), *now, bound.options().worker_timeout, unfinished);
  }
};

}  // namespace

TEST_CASE("worker state: training while it is heard from, silent past the worker timeout, back when heard",
          "[status][worker_state]") {
  Bound b;
  b.Join(1);
  b.Commit(1);
  CHECK(b.State(1) == WorkerActivity::kTraining);
  b.Advance(kWorkerTimeout);
  CHECK(b.State(1) == WorkerActivity::kTraining);  // exactly the timeout: not yet
  b.Advance(milliseconds(1));
  CHECK(b.State(1) == WorkerActivity::kSilent);
  b.Commit(1);
  CHECK(b.State(1) == WorkerActivity::kTraining);
}

TEST_CASE("worker state: blocked while the staleness bound holds its pull, training once let go",
          "[status][worker_state]") {
  Bound b;
  b.Join(1);
  b.Join(2);
  b.Commit(1);  // one ahead of worker 2 with S = 0
  REQUIRE(b.bound.Pull(1, 2, /*own_session=*/true).held);
  CHECK(b.State(1) == WorkerActivity::kBlocked);
  CHECK(b.State(2) == WorkerActivity::kTraining);
  // Held longer than the worker timeout: still waiting, not silent.
  b.Advance(kWorkerTimeout * 2);
  CHECK(b.State(1) == WorkerActivity::kBlocked);
  b.Commit(2);
  b.bound.Heard(1);  // its resend supersedes the held pull
  CHECK(b.State(1) == WorkerActivity::kTraining);
}

TEST_CASE("worker state: a worker that sent Leave is finished, however long ago, not silent",
          "[status][worker_state]") {
  Bound b;
  b.Join(1);
  b.Commit(1);
  b.bound.Left(1);
  CHECK(b.State(1) == WorkerActivity::kFinished);
  b.Advance(kWorkerTimeout * 100);
  CHECK(b.State(1) == WorkerActivity::kFinished);
  // Its Leave said it stopped before the end of its training: left.
  CHECK(b.State(1, /*unfinished=*/true) == WorkerActivity::kLeft);
  // A worker that commits after its Leave trains again.
  b.Commit(1);
  CHECK(b.State(1) == WorkerActivity::kTraining);
}

TEST_CASE("worker state: a worker restored from a checkpoint has the timeout to come back", "[status][worker_state]") {
  Bound b;
  b.bound.Restore(3, 40);
  CHECK(b.State(3) == WorkerActivity::kTraining);
  b.Advance(kWorkerTimeout + milliseconds(1));
  CHECK(b.State(3) == WorkerActivity::kSilent);
}

TEST_CASE("worker state names are status.json's", "[status][worker_state]") {
  CHECK(std::string(WorkerActivityName(WorkerActivity::kTraining)) == "training");
  CHECK(std::string(WorkerActivityName(WorkerActivity::kBlocked)) == "blocked");
  CHECK(std::string(WorkerActivityName(WorkerActivity::kSilent)) == "silent");
  CHECK(std::string(WorkerActivityName(WorkerActivity::kFinished)) == "finished");
  CHECK(std::string(WorkerActivityName(WorkerActivity::kLeft)) == "left");
}
