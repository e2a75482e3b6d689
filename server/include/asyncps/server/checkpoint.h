// Checkpoints: one versioned binary file per shard holding everything a
// restarted shard needs to resume (layout, algorithm, counters, per-worker
// commit counts and dedupe state, the center slice), written atomically.
//
// File format (version 3), little-endian, no padding:
//   magic            8 bytes  "APSCKPT\0"
//   format_version   u32      3 (no other version is read: CHANGELOG.md)
//   shard_index      u32
//   num_shards       u32
//   algorithm        u32      asyncps::Algorithm value (Downpour 0 ... Eamsgd 4, Average 6)
//   num_tensors      u32      then per tensor: u32 name length, name bytes,
//                             u32 rank, rank x u64 dims
//   counters         u32 n, then per counter: u32 name length, name bytes,
//                             u64 value: the checkpointed counters of
//                             kShardCounters (asyncps/core/counter_table.h), then
//                             "errors.<ErrorCode name>" (a reader takes the
//                             names it knows). Version 1: n x u64 by position.
//   num_workers      u32      then per worker: u32 id, u64 commits,
//                             u64 last_seq, u64 session
//   center_floats    u64      then center_floats x f32 (the shard's slice)
//   crc32            u32      zlib CRC-32 of every byte before it
// A file that is short, long, has another magic/version, or fails the CRC is
// refused with kIOError naming the file; it is never read as valid. So is a
// well-formed file holding a state no shard reaches, naming the field and its
// value: a tensor shape over 2^31 - 1 elements (or whose size overflows), a
// shard index not below the count, a checkpointed counter over 2^63 - 1 (but
// staleness_sum), staleness_max over updates, a worker id twice, or workers'
// commits adding up to more than updates.
//
// Writes go to a temporary file in the same directory, are fsync'ed, renamed
// over the checkpoint and the directory is fsync'ed: a reader (or a restart
// after a crash at any point) sees the previous checkpoint or the new one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/core/status.h"
#include "asyncps/server/shard.h"
#include "asyncps/core/counter_table.h"

namespace asyncps::ps {

inline constexpr std::uint32_t kCheckpointFormatVersion = 3;  // CHANGELOG.md lists each change
// The largest count a checkpoint may hold (2^63 - 1): 292 years at 10^9 a second.
inline constexpr std::uint64_t kMaxCheckpointCount = (std::uint64_t{1} << 63) - 1;

// The contents of one checkpoint.
struct CheckpointData {
  std::uint32_t shard_index = 0;
  std::uint32_t num_shards = 1;
  Algorithm algorithm = Algorithm::kAdag;
  ParameterLayout layout;
  ShardCounters counters;
  ErrorCounts errors_by_code{};
  std::vector<Shard::WorkerRecord> workers;
  std::vector<float> center;
};

// DIR/shard-<index>-of-<num_shards>.ckpt
std::string CheckpointPath(const std::string& dir, std::uint32_t shard_index, std::uint32_t num_shards);

// A snapshot of `shard`. REQUIRES: shard.initialised().
CheckpointData SnapshotShard(const Shard& shard);

// Testing hook: called with the bytes written so far; returning false makes the
// write fail there (as a full disk or a crash would).
using CheckpointWriteHook = std::function<bool(std::size_t bytes_written)>;

// Writes `data` to `path` atomically (see above). On failure the previous file
// at `path`, if any, is untouched and no temporary file is left behind.
Status WriteCheckpoint(const std::string& path, const CheckpointData& data, const CheckpointWriteHook& hook = {});

// Reads and verifies the checkpoint at `path`.
Result<CheckpointData> ReadCheckpoint(const std::string& path);

// Restores `shard` from its checkpoint in `dir`, if there is one. Returns true
// when restored, false when `dir` holds no checkpoint for this shard; fails
// (the shard untouched) when the file is corrupt or refused (ReadCheckpoint),
// belongs to another shard index or count (also when `dir` holds this shard
// index's checkpoint of a run with another shard count), its layout is empty or
// over the shard's max_parameters, it lists more workers than max_workers, its
// center does not match its layout, or (when the shard rejects non-finite
// values, the default) its center holds NaN or Inf.
Result<bool> RestoreShardFromDir(const std::string& dir, Shard& shard);

}  // namespace asyncps::ps
