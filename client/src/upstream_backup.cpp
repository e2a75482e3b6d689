#include "upstream_backup.h"

#include <algorithm>

#include "asyncps/core/apply_commit.h"

namespace asyncps::internal {

UpstreamBackup::UpstreamBackup(std::vector<ShardRange> ranges) : ranges_(std::move(ranges)), shards_(ranges_.size()) {}

void UpstreamBackup::OnHello(std::size_t s, const wire::Reply& r) {
  shards_[s] = Shard{.on = r.checkpointing() && r.incarnation() != 0, .incarnation = r.incarnation()};
}

void UpstreamBackup::OnReply(std::size_t s, const wire::Reply& r) {
  Shard& k = shards_[s];
  if (!k.on || r.incarnation() == 0) return;
  if (r.incarnation() != k.incarnation && k.kept_commits > 0) {
    // The shard restarted: what its restored checkpoint misses is to be given back.
    if (r.restored_seq() < k.kept_last_seq) {
      Add(s, k.pending, k.kept);
      k.pending_commits += k.kept_commits;
    }
    std::fill(k.kept.begin(), k.kept.end(), 0.0f);
    k.kept_commits = 0;
  }
  k.incarnation = r.incarnation();
  if (k.kept_commits > 0 && r.durable_seq() >= k.kept_last_seq) {
    std::fill(k.kept.begin(), k.kept.end(), 0.0f);  // durable
    k.kept_commits = 0;
  }
}

void UpstreamBackup::Committed(std::size_t s, const wire::Reply& r, const PayloadView& payload) {
  Shard& k = shards_[s];
  if (!k.on || r.incarnation() == 0 || r.applied_scale() == 0) return;
  if (k.kept.empty()) k.kept.assign(ranges_[s].size(), 0.0f);
  ApplyCommit(k.kept, payload, r.applied_scale());
  ++k.kept_commits;
  k.kept_last_seq = r.seq();
}

bool UpstreamBackup::replay_pending() const {
  return std::any_of(shards_.begin(), shards_.end(), [](const Shard& k) { return k.pending_commits > 0; });
}

std::span<const std::byte> UpstreamBackup::StartReplay(std::size_t s) {
  Shard& k = shards_[s];
  if (k.in_flight_commits == 0 && k.pending_commits > 0) {
    k.in_flight.swap(k.pending);
    k.in_flight_commits = k.pending_commits;
    std::fill(k.pending.begin(), k.pending.end(), 0.0f);
    k.pending_commits = 0;
  }
  if (k.in_flight_commits == 0) return {};
  return std::as_bytes(std::span<const float>(k.in_flight));
}

std::uint64_t UpstreamBackup::ReplaySeq(std::size_t s, std::uint64_t fresh) {
  Shard& k = shards_[s];
  if (k.in_flight_commits == 0) return fresh;
  if (k.in_flight_seq == 0) k.in_flight_seq = fresh;
  return k.in_flight_seq;
}

void UpstreamBackup::Replayed(std::size_t s, const wire::Reply& r) {
  Shard& k = shards_[s];
  if (k.in_flight_commits == 0) return;
  Add(s, k.kept, k.in_flight);
  k.kept_commits += k.in_flight_commits;
  k.kept_last_seq = r.seq();
  std::fill(k.in_flight.begin(), k.in_flight.end(), 0.0f);
  k.in_flight_commits = 0;
  k.in_flight_seq = 0;
}

void UpstreamBackup::Add(std::size_t s, std::vector<float>& dst, std::span<const float> src) const {
  if (dst.empty()) dst.assign(ranges_[s].size(), 0.0f);
  for (std::size_t i = 0; i < src.size(); ++i) dst[i] += src[i];
}

}  // namespace asyncps::internal
