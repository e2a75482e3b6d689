// WorkerState: what an operator should read of one worker on one shard, from
// what the shard's staleness bound knows of it (staleness_bound.h).
//
// The protocol's Leave means "done, after my final commit" (Client::Leave),
// so a worker that sent it is finished, not hung; a worker that stops without
// it (killed, crashed, partitioned) turns silent once worker_timeout passes
// without a request from it.
#pragma once

#include <chrono>

#include "asyncps/server/staleness_bound.h"

namespace asyncps::ps {

enum class WorkerActivity {
  kTraining,  // heard from within worker_timeout, no pull held
  kBlocked,   // a pull of it is held by the staleness bound right now
  kSilent,    // no request for longer than worker_timeout, and it did not leave
  kFinished,  // it sent Leave (and did not commit since)
};

// The activity of a worker whose bound state is `w`, at `now` on the bound's
// clock. A held pull wins over everything (the worker is waiting, not gone);
// then Leave; then silence past `worker_timeout`.
WorkerActivity ClassifyWorker(const StalenessBound::WorkerState& w, std::chrono::steady_clock::time_point now,
                              std::chrono::milliseconds worker_timeout);

// "training", "blocked", "silent" or "finished": status.json's and the page's names.
const char* WorkerActivityName(WorkerActivity activity);

}  // namespace asyncps::ps
