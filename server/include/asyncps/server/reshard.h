// Reshard: the checkpoints of a stopped run's N shards rewritten for M shards,
// so that a run continues on another number of shards (asyncps-reshard).
//
// A shard's slice is a contiguous range of the flat parameter vector
// (ParameterLayout::Partition), so the model is the N slices end to end; the M
// new checkpoints cut it at Partition(M)'s boundaries and keep it bit for bit.
// What is not a slice (the algorithm, the layout, the counters, each worker's
// commits and deduplication state) is the same on every shard of a run
// stopped cleanly (every commit reaches every shard); the new shards take
// shard 0's counters (its pulls, duplicates and errors are shard 0's own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "asyncps/server/checkpoint.h"

namespace asyncps::ps {

// The largest shard count a reshard writes (asyncps-server's --shards bound).
inline constexpr std::uint32_t kMaxReshardShards = 1024;

// `shards` (any order) rewritten as `num_shards` checkpoints, by index.
// InvalidArgument, naming the shard and what differs, unless the N checkpoints
// are shards 0..N-1 of one run (each once, N their num_shards) that stopped at
// the same commit: the same algorithm, layout, update count and worker records,
// each center the size of its range; also unless 1 <= num_shards <=
// min(kMaxReshardShards, the model's parameter count).
Result<std::vector<CheckpointData>> Reshard(const std::vector<CheckpointData>& shards, std::uint32_t num_shards);

// What ReshardDir did.
struct ReshardSummary {
  std::uint32_t from_shards = 0, to_shards = 0;
  std::uint64_t updates = 0;         // the run's update count, kept
  std::size_t parameters = 0;        // the model's
  std::vector<std::string> written;  // the new files, by shard index
};

// Reads every shard-<i>-of-<n>.ckpt in `from_dir` (one n, every i), reshards them
// and writes shard-<j>-of-<num_shards>.ckpt into `to_dir` (created if missing),
// each atomically (WriteCheckpoint; a failed write removes the ones before it).
// Refuses, before writing anything, a
// `from_dir` without checkpoints or with those of several shard counts or a
// missing shard, a `to_dir` that is `from_dir` or already holds checkpoints, and
// what Reshard refuses; a file that cannot be read names the file.
Result<ReshardSummary> ReshardDir(const std::string& from_dir, const std::string& to_dir, std::uint32_t num_shards);

}  // namespace asyncps::ps
