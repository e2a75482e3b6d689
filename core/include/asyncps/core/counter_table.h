// kShardCounters: each counter of ShardCounters with its name, defined once:
// the shard's Stats reply, Client::Stats, checkpoints, the metrics and the
// Python package's stats() are all generated from it, so a new counter is one
// field in shard_counters.h and one row here. Not part of the installed API.
#pragma once

#include <array>
#include <string_view>

#include "asyncps/core/shard_counters.h"

namespace asyncps {

// How a counter is exported as a metric (asyncps-server --metrics-bind):
// kTotal as asyncps_<name>_total (only grows), kGauge as asyncps_<name>,
// kNotExported where a richer metric says the same (the staleness histogram).
enum class CounterExport { kTotal, kGauge, kNotExported };

struct ShardCounterInfo {
  std::string_view name;  // on the wire, in checkpoints and in metrics
  std::uint64_t ShardCounters::*field;
  // Part of the shard's state a checkpoint keeps (the rest describes this
  // process's life and is set on restore).
  bool checkpointed;
  CounterExport export_as;
  std::string_view help;
};

inline constexpr std::array<ShardCounterInfo, 13> kShardCounters = {{
    {"updates", &ShardCounters::updates, true, CounterExport::kTotal, "Commits applied to the shard's slice."},
    {"pulls", &ShardCounters::pulls, true, CounterExport::kTotal, "Pulls served, commit-and-pull included."},
    {"duplicates", &ShardCounters::duplicates, true, CounterExport::kTotal,
     "Resent commits answered without applying them again."},
    {"errors", &ShardCounters::errors, true, CounterExport::kTotal,
     "Requests answered with an error (a later init excluded)."},
    {"staleness_sum", &ShardCounters::staleness_sum, true, CounterExport::kNotExported, ""},
    {"staleness_max", &ShardCounters::staleness_max, true, CounterExport::kGauge,
     "The largest staleness tau of an applied commit."},
    {"restored_updates", &ShardCounters::restored_updates, false, CounterExport::kGauge,
     "Updates the shard resumed at from its checkpoint (0: started fresh)."},
    {"checkpointed_updates", &ShardCounters::checkpointed_updates, false, CounterExport::kGauge,
     "Updates held by the shard's latest checkpoint."},
    {"replayed_updates", &ShardCounters::replayed_updates, true, CounterExport::kTotal,
     "Updates that clients gave back after a restart from a checkpoint that missed them (upstream backup)."},
    {"recovered_updates", &ShardCounters::recovered_updates, false, CounterExport::kGauge,
     "The update count of the worker's copy a shard restarted with nothing to restore was re-initialised from "
     "(--recover-from-workers; 0: not recovered)."},
    {"max_clock_gap", &ShardCounters::max_clock_gap, false, CounterExport::kGauge,
     "The largest clock gap (commits ahead of the slowest active worker) a pull was answered at."},
    {"blocked_pulls", &ShardCounters::blocked_pulls, false, CounterExport::kTotal,
     "Pulls the staleness bound held until the slowest workers caught up."},
    {"blocked_ms", &ShardCounters::blocked_ms, false, CounterExport::kNotExported, ""},
}};

// The counter called `name`, or nullptr.
inline const ShardCounterInfo* FindShardCounter(std::string_view name) {
  for (const ShardCounterInfo& c : kShardCounters)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace asyncps
