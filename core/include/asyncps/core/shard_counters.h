// ShardCounters: what every shard counts (Client::Stats returns them). Their
// names, and how each is checkpointed and exported, are counter_table.h's.
#pragma once

#include <cstdint>

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
  // updates - checkpointed_updates commits (at most one checkpoint interval's)
  // but for those its clients give back after the restart (Replay), counted
  // in replayed_updates.
  std::uint64_t restored_updates = 0;
  std::uint64_t checkpointed_updates = 0;
  std::uint64_t replayed_updates = 0;
  // The update count a shard that restarted with nothing to restore took
  // from the copy of the worker that re-initialised it (asyncps-server
  // --recover-from-workers); 0: not recovered in this process.
  std::uint64_t recovered_updates = 0;
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

}  // namespace asyncps
