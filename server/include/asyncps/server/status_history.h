// StatusHistory: the run's recent past for the status page's time series
// (status.json's "history"), kept by the server so that a page loaded late, or
// reloaded, still draws the whole run.
//
// A bounded ring of samples of the shards' published metrics (metrics.h): one
// every `interval` at first; when `capacity` samples are held, every other one
// is dropped and the interval doubles, so the history always spans the whole
// run at a resolution that coarsens as it grows, in bounded memory. A sample
// holds totals (updates, tau sum and count, each worker's commits) and the
// largest tau of its interval; rates and means are the reader's differences
// of two samples over their times, as for status.json's other totals.
//
// Times come from StatusHistoryOptions::now_unix_s (tests inject a fake
// clock). Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "asyncps/core/status.h"
#include "asyncps/server/metrics.h"

namespace asyncps::ps {

struct StatusHistoryOptions {
  // The time between samples at first (it doubles each time the ring is full).
  std::chrono::milliseconds interval{1000};
  // The most samples held, at least 2: 600 is 10 minutes at one a second, and
  // then the whole run at 2, 4, ... s.
  std::size_t capacity = 600;
  // Workers whose commits are kept per sample (the first ids seen); later
  // ones are still in the run's totals, not in the per-worker series.
  std::size_t max_workers = 256;
  // The clock, Unix seconds.
  std::function<double()> now_unix_s = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
};

// InvalidArgument naming the option when `options` cannot be used.
Status CheckStatusHistoryOptions(const StatusHistoryOptions& options);

struct HistorySample {
  double time_unix_s = 0;
  // The run's totals at that time (RunLeader's: each commit once).
  std::uint64_t updates = 0;
  std::uint64_t staleness_count = 0;  // commits whose tau was measured since the server started
  double staleness_sum = 0;
  // The largest tau of a commit applied since the previous sample, as the
  // upper bound of its histogram bucket (above the last bound: the run's
  // largest tau); 0 when none was applied.
  double staleness_max = 0;
  // The training losses commits carried (ReportedMetrics): the mean loss of
  // an interval is the difference of two samples' sums over their counts.
  double train_loss_sum = 0;
  std::uint64_t train_loss_count = 0;
  // (worker id, commits applied), by id; a worker's commits are the most any
  // shard applied.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> commits;
};

class StatusHistory {
 public:
  // REQUIRES: CheckStatusHistoryOptions(options).ok().
  explicit StatusHistory(StatusHistoryOptions options);
  StatusHistory(const StatusHistory&) = delete;
  StatusHistory& operator=(const StatusHistory&) = delete;

  // Takes a sample of `shards` when none was taken yet, when the interval
  // passed since the last one, or when the clock went back; true if it did.
  // Nothing is sampled while a shard has not published yet (its zeros would
  // read as a restored run's updates all arriving in the first interval).
  // Call it more often than the interval (the server: every interval / 4).
  bool MaybeSample(std::span<const ShardMetrics> shards);

  // The samples, oldest first, and the interval between them now.
  std::vector<HistorySample> samples() const;
  std::chrono::milliseconds interval() const;

 private:
  HistorySample Take(std::span<const ShardMetrics> shards, double now);
  // Drops every other sample (the largest tau of a dropped one goes to the
  // next) and doubles the interval.
  void Halve();

  const StatusHistoryOptions options_;
  mutable std::mutex mu_;
  std::vector<HistorySample> samples_;           // guarded by mu_
  std::chrono::milliseconds interval_;           // guarded by mu_
  std::vector<std::uint64_t> staleness_counts_;  // guarded by mu_: the leader's tau buckets at the last sample
  std::vector<std::uint32_t> workers_;           // guarded by mu_: ids kept, at most max_workers
};

}  // namespace asyncps::ps
