// StatusJson: the document GET /status.json serves (docs/status-json.md), the
// data the status page (status_page.html) draws.
//
// Rendered from the shards' published metrics (metrics.h) and the server's
// history of them (status_history.h). Every value is cumulative since the
// process started, or a point-in-time gauge; rates (updates/s, requests/s,
// latency over the last poll) are left to the reader, which divides the
// difference of two documents, or of two history samples, by the difference
// of their times.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "asyncps/server/metrics.h"
#include "asyncps/server/status_history.h"

namespace asyncps::ps {

// What the document says beyond the shards' latest metrics.
struct RunTimeline {
  double started_unix_s = 0;  // when the server started serving; 0: unknown (null)
  // StatusHistory::samples() and interval(); empty: no history.
  std::vector<HistorySample> samples;
  std::chrono::milliseconds interval{0};
};

// The /status.json document for `shards` as of `now_unix_s` (Unix time).
std::string RenderStatusJson(std::span<const ShardMetrics> shards, const BuildInfo& build, double now_unix_s,
                             const RunTimeline& timeline = {});

// Histogram buckets as /status.json carries them: per-bucket counts (not
// cumulative), one more than `bounds` (the last is +Inf).
struct Buckets {
  std::vector<double> bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
  std::uint64_t count = 0;
};

// Every op's request latency of a shard, in one histogram.
Buckets MergedLatency(const ShardMetrics& m);

// The q-quantile (0 < q < 1) by linear interpolation within the bucket it
// falls in, as Prometheus' histogram_quantile does (the first bucket starts at
// 0); 0 when empty; the largest finite bound when it falls in +Inf.
double Quantile(const Buckets& b, double q);

}  // namespace asyncps::ps
