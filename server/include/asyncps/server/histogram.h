// Histogram: counts of observations in fixed buckets, plus their sum, as
// Prometheus histograms expose them.
//
// Thread-safety: none; a shard's histograms are written by its thread and
// copied out for the metrics endpoint (metrics.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "asyncps/core/shard_counters.h"

namespace asyncps::ps {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending (+Inf is implied). Not
  // owned: a static table.
  explicit Histogram(std::span<const double> bounds) : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

  void Observe(double v) {
    const auto at = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
    ++counts_[static_cast<std::size_t>(at)];
    sum_ += v;
    ++count_;
  }

  std::span<const double> bounds() const { return bounds_; }
  // Per bucket, not cumulative; the last is (bounds().back(), +Inf).
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::span<const double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Staleness tau of applied commits: asyncps/core/shard_counters.h's buckets.
inline constexpr std::span<const double> kStalenessBounds = kStalenessBuckets;
// Request handling time on the shard thread, in seconds.
inline constexpr double kLatencyBounds[] = {1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                            5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 1};
// Checkpoint write time, in seconds.
inline constexpr double kCheckpointBounds[] = {1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};

}  // namespace asyncps::ps
