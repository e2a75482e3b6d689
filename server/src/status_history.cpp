#include "asyncps/server/status_history.h"

#include <algorithm>
#include <map>

namespace asyncps::ps {

Status CheckStatusHistoryOptions(const StatusHistoryOptions& o) {
  if (o.interval.count() <= 0)
    return Status::InvalidArgument("StatusHistoryOptions::interval is " + std::to_string(o.interval.count()) +
                                   " ms: it must be positive");
  if (o.capacity < 2)
    return Status::InvalidArgument("StatusHistoryOptions::capacity is " + std::to_string(o.capacity) +
                                   ": at least 2 samples are needed to draw a rate");
  if (!o.now_unix_s) return Status::InvalidArgument("StatusHistoryOptions::now_unix_s is empty: give it a clock");
  return Status::OK();
}

StatusHistory::StatusHistory(StatusHistoryOptions options)
    : options_(std::move(options)), interval_(options_.interval) {
  samples_.reserve(options_.capacity);
}

bool StatusHistory::MaybeSample(std::span<const ShardMetrics> shards) {
  for (const ShardMetrics& m : shards)
    if (!m.published) return false;
  const double now = options_.now_unix_s();
  std::lock_guard<std::mutex> lock(mu_);
  if (!samples_.empty()) {
    const double since = now - samples_.back().time_unix_s;
    if (since >= 0 && since < std::chrono::duration<double>(interval_).count()) return false;
  }
  HistorySample sample = Take(shards, now);
  if (samples_.size() == options_.capacity) Halve();
  samples_.push_back(std::move(sample));
  return true;
}

HistorySample StatusHistory::Take(std::span<const ShardMetrics> shards, double now) {
  HistorySample s;
  s.time_unix_s = now;
  if (const ShardMetrics* leader = RunLeader(shards)) {
    s.updates = leader->counters.updates;
    s.staleness_count = leader->staleness.count();
    s.staleness_sum = leader->staleness.sum();
    s.train_loss_sum = leader->reported.train_loss_sum;
    s.train_loss_count = leader->reported.train_loss_count;
    const std::vector<std::uint64_t>& counts = leader->staleness.counts();
    const std::span<const double> bounds = leader->staleness.bounds();
    // The highest bucket that grew since the last sample. A leader with fewer
    // counts than before (another shard leads now, or the server restarted)
    // starts afresh.
    for (std::size_t i = counts.size(); i-- > 0;) {
      const std::uint64_t before = i < staleness_counts_.size() ? staleness_counts_[i] : 0;
      if (counts[i] > before) {
        s.staleness_max = i < bounds.size() ? bounds[i] : static_cast<double>(leader->counters.staleness_max);
        break;
      }
    }
    staleness_counts_ = counts;
  }
  std::map<std::uint32_t, std::uint64_t> commits;
  for (const ShardMetrics& m : shards)
    for (const ShardMetrics::Worker& k : m.workers) {
      const bool kept = std::find(workers_.begin(), workers_.end(), k.id) != workers_.end();
      if (!kept && workers_.size() >= options_.max_workers) continue;
      if (!kept) workers_.push_back(k.id);
      std::uint64_t& most = commits[k.id];
      most = std::max(most, k.commits);
    }
  s.commits.assign(commits.begin(), commits.end());
  return s;
}

void StatusHistory::Halve() {
  std::vector<HistorySample> kept;
  kept.reserve(options_.capacity);
  for (std::size_t i = 1; i < samples_.size(); i += 2) {
    kept.push_back(std::move(samples_[i]));
    kept.back().staleness_max = std::max(kept.back().staleness_max, samples_[i - 1].staleness_max);
  }
  // An odd count leaves the newest alone: it stays, as the newest.
  if (samples_.size() % 2 == 1) kept.push_back(std::move(samples_.back()));
  samples_ = std::move(kept);
  interval_ *= 2;
}

std::vector<HistorySample> StatusHistory::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

std::chrono::milliseconds StatusHistory::interval() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interval_;
}

}  // namespace asyncps::ps
