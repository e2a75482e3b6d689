// WorkerEvents: the log's lines about workers coming and going, from what one
// shard saw. A worker
//   joined   its Init was answered (taken, or refused AlreadyInitialised):
//            where it connected from, and whether its weights became C;
//   left     its own session's Leave was answered;
//   timed out it joined, did not leave, and is no longer live (nothing heard
//            for worker_timeout: Shard::live); the staleness bound stopped
//            waiting for it;
//   is back  a worker that timed out is live again.
// Every worker talks to every shard, so one shard per process reports them
// (ShardServerOptions::log_workers), one line per event.
//
// Thread-safety: none; driven by its shard's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include "asyncps/server/shard.h"

namespace asyncps::ps {

class WorkerEvents {
 public:
  // Receives each line: level ("info", "warn") and message (asyncps/server/log.h's Log).
  using Sink = std::function<void(const char* level, const std::string& message)>;
  // REQUIRES: `shard` outlives this object.
  WorkerEvents(const Shard& shard, Sink sink);

  // After the shard handled a request with outcome `out`; `peer_address` is
  // where the request came from ("" when the transport does not say).
  void Handled(const Shard::Outcome& out, std::string_view peer_address);
  // Reports the workers that timed out since the last call; call now and then
  // (the server: every time it publishes its metrics).
  void CheckTimeouts();

 private:
  // Worker `id`'s applied commits, as the shard counts them.
  std::uint64_t Commits(std::uint32_t id) const;

  const Shard& shard_;
  Sink sink_;
  std::set<std::uint32_t> joined_;     // joined, and neither left nor timed out since
  std::set<std::uint32_t> timed_out_;  // timed out, and not heard from since
};

}  // namespace asyncps::ps
