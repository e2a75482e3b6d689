#include "asyncps/server/worker_state.h"

namespace asyncps::ps {

WorkerActivity ClassifyWorker(const StalenessBound::WorkerState& w, std::chrono::steady_clock::time_point now,
                              std::chrono::milliseconds worker_timeout, bool unfinished) {
  if (w.holding) return WorkerActivity::kBlocked;
  if (w.left) return unfinished ? WorkerActivity::kLeft : WorkerActivity::kFinished;
  if (now - w.last_seen > worker_timeout) return WorkerActivity::kSilent;
  return WorkerActivity::kTraining;
}

const char* WorkerActivityName(WorkerActivity activity) {
  switch (activity) {
    case WorkerActivity::kTraining:
      return "training";
    case WorkerActivity::kBlocked:
      return "blocked";
    case WorkerActivity::kSilent:
      return "silent";
    case WorkerActivity::kFinished:
      return "finished";
    case WorkerActivity::kLeft:
      return "left";
  }
  return "unknown";
}

}  // namespace asyncps::ps
