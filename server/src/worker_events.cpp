#include "asyncps/server/worker_events.h"

#include <cstdio>
#include <utility>

namespace asyncps::ps {

WorkerEvents::WorkerEvents(const Shard& shard, Sink sink) : shard_(shard), sink_(std::move(sink)) {}

std::uint64_t WorkerEvents::Commits(std::uint32_t id) const {
  for (const Shard::WorkerTotals& w : shard_.commits_per_worker())
    if (w.id == id) return w.commits;
  return 0;
}

void WorkerEvents::Handled(const Shard::Outcome& out, std::string_view peer_address) {
  const std::string who = "worker " + std::to_string(out.worker_id);
  if (out.op == wire::Op::Init &&
      (out.error == wire::ErrorCode::Ok || out.error == wire::ErrorCode::AlreadyInitialised)) {
    std::string line =
        who + " joined from " + (peer_address.empty() ? "an unknown address" : std::string(peer_address));
    if (out.error == wire::ErrorCode::Ok) {
      line += ": its Init was taken (the centre starts from its weights)";
    } else {
      const ShardCounters& c = shard_.counters();
      line +=
          ": its Init was not taken (the centre was already initialised, at " + std::to_string(c.updates) + " updates";
      if (c.restored_updates > 0)
        line += ", continued from a checkpoint restored at " + std::to_string(c.restored_updates) + " updates";
      line += ")";
    }
    joined_.insert(out.worker_id);
    timed_out_.erase(out.worker_id);
    sink_("info", line);
    return;
  }
  if (out.op == wire::Op::Leave && out.error == wire::ErrorCode::Ok) {
    // An observer's Leave under a worker's id is refused (Mismatch): this is the worker's own.
    joined_.erase(out.worker_id);
    timed_out_.erase(out.worker_id);
    std::string line = who + " left after " + std::to_string(Commits(out.worker_id)) + " commits";
    // A worker's count survives a checkpoint: a continued run's include the earlier run's.
    if (shard_.counters().restored_updates > 0) line += " (those before the checkpoint included)";
    sink_("info", line);
    return;
  }
  if (!timed_out_.empty() && timed_out_.contains(out.worker_id) && shard_.live(out.worker_id)) {
    timed_out_.erase(out.worker_id);
    joined_.insert(out.worker_id);
    sink_("info", who + " is back after its time-out");
  }
}

void WorkerEvents::CheckTimeouts() {
  for (auto it = joined_.begin(); it != joined_.end();) {
    const std::uint32_t id = *it;
    if (shard_.live(id)) {
      ++it;
      continue;
    }
    it = joined_.erase(it);
    timed_out_.insert(id);
    char timeout[32];
    std::snprintf(timeout, sizeof timeout, "%g s", static_cast<double>(shard_.options().worker_timeout.count()) / 1000);
    sink_("warn", "worker " + std::to_string(id) + " timed out: nothing heard from it for " + timeout +
                      " (--worker-timeout) and no Leave, after " + std::to_string(Commits(id)) +
                      " commits; the staleness bound no longer waits for it");
  }
}

}  // namespace asyncps::ps
