// UpstreamBackup: what a client keeps of its commits so that a shard that
// restarts from a checkpoint loses none of them (ClientOptions::upstream_backup).
//
// Every shard rule is C <- C + s * payload. Per shard, the client keeps the
// sum of s * payload (as the shard decoded it, for lossy commits) over its
// commits that the shard's latest checkpoint does not hold. A shard applies a
// worker's requests in seq order and checkpoints between requests, and each
// reply says the highest seq of this client's that its latest completed
// checkpoint holds (durable_seq): the sum is dropped once that reaches the
// last kept commit's seq. Everything kept came from one incarnation after
// its latest checkpoint that the client has heard of, so a checkpoint holds
// all of it or none. When a reply comes from a new incarnation (the shard
// restarted) whose restored checkpoint holds less (restored_seq below the
// last kept seq), the sum is what the restart lost: the client gives it back
// (Replay) at once, and keeps the replayed sum like a commit until a
// checkpoint holds it.
//
// Not covered (docs/operations.md, "What a failure costs"): a commit whose reply
// was lost and that a resend found already applied (a duplicate) is not kept;
// a shard restored from an older checkpoint than its latest completed one, or
// from none.
//
// Cost, for each shard that checkpoints (its hello reply says so; for the
// others nothing is kept): one slice-sized float buffer and one vector add per
// commit; once the shard restarted, a second buffer (kept for reuse), and a
// third only if it restarts again while a replay is in flight.
//
// Thread-safety: none; owned by one Client (one request at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "asyncps/core/layout.h"
#include "asyncps/core/payload.h"
#include "asyncps/wire/wire.h"

namespace asyncps::internal {

class UpstreamBackup {
 public:
  // ranges: the shards' slices.
  explicit UpstreamBackup(std::vector<ShardRange> ranges);

  // Shard s's hello reply: nothing is kept for a shard that does not
  // checkpoint (its restart restores nothing) nor that predates upstream
  // backup (incarnation 0). A hello again (to a shard that restarted with
  // nothing to restore, re-initialised from a worker's copy) drops what was
  // kept or to be given back for it: the copy holds it, or it is lost.
  void OnHello(std::size_t s, const wire::Reply& r);
  // Any later reply `r` of shard s (of a chunked reply, its first chunk),
  // before Committed: notes the shard's incarnation and what its checkpoint
  // holds.
  void OnReply(std::size_t s, const wire::Reply& r);
  // Shard s applied this client's commit (its reply `r`), whose payload frame
  // was `payload`. A commit not applied now (a resend answered as a
  // duplicate: applied_scale 0) is not kept.
  void Committed(std::size_t s, const wire::Reply& r, const PayloadView& payload);

  // Some shard has commits to be given back.
  bool replay_pending() const;
  // Moves shard s's pending replay (if any) in flight: the dense float32
  // sum's bytes (empty: nothing for shard s) and how many commits it sums.
  // The bytes stay valid until Replayed(s, ...).
  std::span<const std::byte> StartReplay(std::size_t s);
  std::uint64_t replay_commits(std::size_t s) const { return shards_[s].in_flight_commits; }
  // The seq of shard s's replay in flight: `fresh` the first time it is sent,
  // the same seq again when an earlier exchange failed without its answer (the
  // shard may have applied it: the resend must be a duplicate, not a second
  // replay). A replay that a restart of its own then cut short is given back
  // later under a new seq, as any other loss.
  std::uint64_t ReplaySeq(std::size_t s, std::uint64_t fresh);
  // Shard s answered the replay in flight (`r`): its sum is kept like a
  // commit until a checkpoint holds it.
  void Replayed(std::size_t s, const wire::Reply& r);

  // Commits kept for shard s (for tests and logs).
  std::uint64_t kept_commits(std::size_t s) const { return shards_[s].kept_commits; }

 private:
  struct Shard {
    bool on = false;  // the shard checkpoints (OnHello)
    std::uint64_t incarnation = 0;
    std::vector<float> kept;          // sum of the kept commits (allocated at the first)
    std::uint64_t kept_commits = 0;   // commits in `kept`
    std::uint64_t kept_last_seq = 0;  // the seq of the last request kept
    std::vector<float> pending;       // a restart lost these: to give back
    std::uint64_t pending_commits = 0;
    std::vector<float> in_flight;  // the replay sent, until answered
    std::uint64_t in_flight_commits = 0;
    std::uint64_t in_flight_seq = 0;  // 0: not sent yet
  };
  // dst += src (allocating dst as zeros of the slice's size first).
  void Add(std::size_t s, std::vector<float>& dst, std::span<const float> src) const;

  std::vector<ShardRange> ranges_;
  std::vector<Shard> shards_;
};

}  // namespace asyncps::internal
