// Metrics: what a shard shows of itself on the metrics endpoint
// (asyncps-server --metrics-bind), in the Prometheus text exposition format.
//
// The request path never takes a lock for metrics: the shard thread counts
// into its own ShardMetrics and publishes a copy every kPublishInterval (and
// when idle); the HTTP thread renders the latest copies. A scrape therefore
// shows each shard at most kPublishInterval old.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/shard_counters.h"
#include "asyncps/server/histogram.h"
#include "asyncps/server/reported_metrics.h"
#include "asyncps/server/shard.h"
#include "asyncps/server/worker_state.h"

namespace asyncps::ps {

inline constexpr std::chrono::milliseconds kPublishInterval{100};
// Requests are counted per op, plus one slot for ops this build does not know.
inline constexpr std::size_t kNumOps = static_cast<std::size_t>(wire::Op::MAX) + 1;
inline constexpr std::size_t kOpSlots = kNumOps + 1;
inline std::size_t OpSlot(wire::Op op) { return std::min(static_cast<std::size_t>(op), kNumOps); }
// The op label of a slot ("unknown" for the last).
inline const char* OpLabel(std::size_t slot) {
  return slot < kNumOps ? wire::EnumNameOp(static_cast<wire::Op>(slot)) : "unknown";
}

struct ShardMetrics {
  std::uint32_t shard_index = 0;
  ShardCounters counters;
  ErrorCounts errors_by_code{};
  // Requests answered, by op and reply code.
  std::array<std::array<std::uint64_t, kNumErrorCodes>, kOpSlots> requests{};
  // Handling time on the shard thread, by op.
  std::vector<Histogram> latency = std::vector<Histogram>(kOpSlots, Histogram(kLatencyBounds));
  std::uint64_t bytes_received = 0;   // request frames
  std::uint64_t bytes_sent = 0;       // reply frames
  std::uint64_t replies_dropped = 0;  // over the reply memory bounds (reply_buffers.h)
  std::uint64_t segments_open = 0;    // shared-memory segments the shard has open (segment_table.h)
  Histogram staleness{kStalenessBounds};
  struct Worker {
    std::uint32_t id = 0;
    std::uint64_t commits = 0;
    double last_commit_unix_s = 0;  // 0: none since this process started
    double commit_rate = 0;         // commits/s over the straggler window
    bool straggler = false;         // below the fraction of the median (straggler.h)
    double blocked_s = 0;           // its pulls held by the staleness bound
    // As of the publication (worker_state.h).
    WorkerActivity state = WorkerActivity::kTraining;
    // What it reported (Shard::WorkerTotals; NaN: nothing yet).
    std::uint32_t window = 0;
    float train_loss = std::numeric_limits<float>::quiet_NaN();
    float test_accuracy = std::numeric_limits<float>::quiet_NaN();
    bool unfinished = false;
  };
  std::vector<Worker> workers;
  ReportedMetrics reported;
  double checkpoint_last_success_unix_s = 0;  // 0: none yet
  Histogram checkpoint_duration{kCheckpointBounds};
  // False in the copy a shard holds before its thread first published: all
  // zeros, not its state (a restored shard's updates are not 0).
  bool published = false;
  // The shard's settings: its bound endpoint (tcp://HOST:PORT, ipc://PATH),
  // the run's algorithm and parameter count once a worker said hello ("" and
  // 0 before), the staleness bound (-1: off) and the worker timeout.
  std::string endpoint;
  std::string algorithm;
  std::uint64_t parameters = 0;
  std::int64_t max_staleness = -1;
  double worker_timeout_s = 0;
};

// The shard that has applied the most commits (the first of equals); null
// when `shards` is empty. Every commit reaches every shard and each counts
// it, so the run's figures are this shard's, never the shards' sum.
const ShardMetrics* RunLeader(std::span<const ShardMetrics> shards);

struct BuildInfo {
  std::string version;
  std::string commit;
};

// The exposition (text format 0.0.4) of every shard's metrics, plus
// asyncps_build_info. Label values are escaped.
std::string RenderMetrics(std::span<const ShardMetrics> shards, const BuildInfo& build);

}  // namespace asyncps::ps
