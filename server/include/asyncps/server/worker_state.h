// WorkerState: what an operator should read of one worker on one shard, from
// what the shard's staleness bound knows of it (staleness_bound.h).
//
// The protocol's Leave means "no more commits from me" (Client::Leave): a
// worker that sent it finished its training, or left before the end when its
// Leave said so (Request.unfinished: removed from the run, interrupted); it is
// not hung. A worker that stops without it (killed, crashed, partitioned)
// turns silent once worker_timeout passes without a request from it.
#pragma once

#include <chrono>

#include "asyncps/server/staleness_bound.h"

namespace asyncps::ps {

enum class WorkerActivity {
  kTraining,  // heard from within worker_timeout, no pull held
  kBlocked,   // a pull of it is held by the staleness bound right now
  kSilent,    // no request for longer than worker_timeout, and it did not leave
  kFinished,  // it sent Leave at the end of its training (and did not commit since)
  kLeft,      // it sent Leave before the end of its training
};

// The activity of a worker whose bound state is `w`, at `now` on the bound's
// clock; `unfinished`: its Leave said it stopped early. A held pull wins over
// everything (the worker is waiting, not gone); then Leave; then silence past
// `worker_timeout`.
WorkerActivity ClassifyWorker(const StalenessBound::WorkerState& w, std::chrono::steady_clock::time_point now,
                              std::chrono::milliseconds worker_timeout, bool unfinished = false);

// "training", "blocked", "silent", "finished" or "left": status.json's and the page's names.
const char* WorkerActivityName(WorkerActivity activity);

}  // namespace asyncps::ps
