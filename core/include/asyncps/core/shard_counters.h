// ShardCounters: what every shard counts, defined once.
//
// kShardCounters lists each counter with its name: the shard's Stats reply,
// Client::Stats (ShardStats), checkpoints and the metrics are all generated
// from it, so a new counter is one field and one row here.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace asyncps {

struct ShardCounters {
  std::uint64_t updates = 0;        // commits applied
  std::uint64_t pulls = 0;          // pulls served (commit-and-pull included)
  std::uint64_t duplicates = 0;     // resent commits answered without applying
  std::uint64_t errors = 0;         // requests answered with an error
  std::uint64_t staleness_sum = 0;  // sum of tau over applied commits
  std::uint64_t staleness_max = 0;
  // Updates the shard resumed at from its checkpoint (0: started fresh), and
  // updates held by its latest checkpoint: a crash now would lose
  // updates - checkpointed_updates commits (at most one checkpoint interval's).
  std::uint64_t restored_updates = 0;
  std::uint64_t checkpointed_updates = 0;
  // The staleness bound (asyncps-server --max-staleness): the largest clock
  // gap a worker's pull was answered at (its commits minus the slowest active
  // worker's; at most the bound when one is set), pulls held by the bound and
  // the time they were held.
  std::uint64_t max_clock_gap = 0;
  std::uint64_t blocked_pulls = 0;
  std::uint64_t blocked_ms = 0;
};

// Upper bounds of the buckets the shards count commits' staleness tau in
// (1: nothing was applied since the worker's pull); a last bucket holds
// everything above them.
inline constexpr double kStalenessBuckets[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256};

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

inline constexpr std::array<ShardCounterInfo, 11> kShardCounters = {{
    {"updates_applied", &ShardCounters::updates, true, CounterExport::kTotal, "Commits applied to the shard's slice."},
    {"pulls", &ShardCounters::pulls, true, CounterExport::kTotal, "Pulls served, commit-and-pull included."},
    {"duplicates", &ShardCounters::duplicates, true, CounterExport::kTotal,
     "Resent commits answered without applying them again."},
    {"error_replies", &ShardCounters::errors, true, CounterExport::kTotal,
     "Requests answered with an error (a later init excluded)."},
    {"staleness_sum", &ShardCounters::staleness_sum, true, CounterExport::kNotExported, ""},
    {"staleness_max", &ShardCounters::staleness_max, true, CounterExport::kGauge,
     "The largest staleness tau of an applied commit."},
    {"restored_updates", &ShardCounters::restored_updates, false, CounterExport::kGauge,
     "Updates the shard resumed at from its checkpoint (0: started fresh)."},
    {"checkpointed_updates", &ShardCounters::checkpointed_updates, false, CounterExport::kGauge,
     "Updates held by the shard's latest checkpoint."},
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
