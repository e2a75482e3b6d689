// ShardCounters: what every shard counts, defined once.
//
// kShardCounters lists each counter with its name: the shard's Stats reply,
// Client::Stats (ShardStatus), checkpoints and the metrics are all generated
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
};

struct ShardCounterInfo {
  std::string_view name;  // on the wire, in checkpoints and in metrics
  std::uint64_t ShardCounters::*field;
  // Part of the shard's state a checkpoint keeps (the rest describes this
  // process's life and is set on restore).
  bool checkpointed;
};

inline constexpr std::array<ShardCounterInfo, 8> kShardCounters = {{
    {"updates", &ShardCounters::updates, true},
    {"pulls", &ShardCounters::pulls, true},
    {"duplicates", &ShardCounters::duplicates, true},
    {"errors", &ShardCounters::errors, true},
    {"staleness_sum", &ShardCounters::staleness_sum, true},
    {"staleness_max", &ShardCounters::staleness_max, true},
    {"restored_updates", &ShardCounters::restored_updates, false},
    {"checkpointed_updates", &ShardCounters::checkpointed_updates, false},
}};

// The counter called `name`, or nullptr.
inline const ShardCounterInfo* FindShardCounter(std::string_view name) {
  for (const ShardCounterInfo& c : kShardCounters)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace asyncps
