#include "asyncps/server/status_json.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace asyncps::ps {
namespace {

using nlohmann::json;

Buckets FromHistogram(const Histogram& h) {
  return {{h.bounds().begin(), h.bounds().end()}, h.counts(), h.sum(), h.count()};
}

json BucketsJson(const Buckets& b) {
  return {{"bounds", b.bounds}, {"counts", b.counts}, {"sum", b.sum}, {"count", b.count}};
}

// `v` as a JSON number, or null when NaN (not reported).
json NumberOrNull(float v) { return std::isnan(v) ? json(nullptr) : json(v); }

// `unix_s` as a JSON number, or null when 0 (never happened).
json TimeOrNull(double unix_s) { return unix_s > 0 ? json(unix_s) : json(nullptr); }
json AgeOrNull(double unix_s, double now_unix_s) { return unix_s > 0 ? json(now_unix_s - unix_s) : json(nullptr); }

json ShardJson(const ShardMetrics& m, double now_unix_s) {
  std::uint64_t requests = 0, failed = 0;
  for (const auto& by_code : m.requests)
    for (std::size_t code = 0; code < by_code.size(); ++code) {
      requests += by_code[code];
      if (wire::IsFailure(static_cast<wire::ErrorCode>(code))) failed += by_code[code];
    }
  const Buckets latency = MergedLatency(m);
  return {{"shard", m.shard_index},
          {"endpoint", m.endpoint},
          {"updates", m.counters.updates},
          {"pulls", m.counters.pulls},
          {"duplicates", m.counters.duplicates},
          {"errors", m.counters.errors},
          {"requests", requests},
          {"requests_failed", failed},
          {"replies_dropped", m.replies_dropped},
          {"segments_open", m.segments_open},
          {"bytes_received", m.bytes_received},
          {"bytes_sent", m.bytes_sent},
          {"latency_seconds", BucketsJson(latency)},
          {"latency_p50_s", Quantile(latency, 0.5)},
          {"latency_p99_s", Quantile(latency, 0.99)},
          {"staleness", BucketsJson(FromHistogram(m.staleness))},
          {"staleness_max", m.counters.staleness_max},
          {"restored_updates", m.counters.restored_updates},
          {"recovered_updates", m.counters.recovered_updates},
          {"checkpoint_last_success_unix_s", TimeOrNull(m.checkpoint_last_success_unix_s)},
          {"checkpoint_age_s", AgeOrNull(m.checkpoint_last_success_unix_s, now_unix_s)}};
}

json WorkerJson(const ShardMetrics& m, const ShardMetrics::Worker& k, double now_unix_s) {
  return {{"worker", k.id},
          {"shard", m.shard_index},
          {"commits", k.commits},
          {"commit_rate", k.commit_rate},
          {"last_commit_unix_s", TimeOrNull(k.last_commit_unix_s)},
          {"last_commit_age_s", AgeOrNull(k.last_commit_unix_s, now_unix_s)},
          {"straggler", k.straggler},
          {"blocked_s", k.blocked_s},
          {"state", WorkerActivityName(k.state)},
          {"window", k.window > 0 ? json(k.window) : json(nullptr)},
          {"train_loss", NumberOrNull(k.train_loss)},
          {"test_accuracy", NumberOrNull(k.test_accuracy)}};
}

// The run's figures, each commit once (RunLeader).
json RunJson(std::span<const ShardMetrics> shards) {
  const ShardMetrics* most = RunLeader(shards);
  if (most == nullptr)
    return {{"updates", 0},
            {"restored_updates", 0},
            {"recovered_updates", 0},
            {"staleness", nullptr},
            {"test_accuracy", json::array()}};
  json test_accuracy = json::array();
  for (const TestAccuracyPoint& p : most->reported.test_accuracy)
    test_accuracy.push_back({{"updates", p.updates}, {"accuracy", p.accuracy}, {"worker", p.worker_id}});
  return {{"updates", most->counters.updates},
          {"restored_updates", most->counters.restored_updates},
          {"recovered_updates", most->counters.recovered_updates},
          {"staleness", BucketsJson(FromHistogram(most->staleness))},
          {"test_accuracy", test_accuracy}};
}

// The run's settings: the shards agree on all but their endpoints; the
// algorithm and parameter count are null until a worker said hello.
json SettingsJson(std::span<const ShardMetrics> shards, const RunTimeline& timeline, double now_unix_s) {
  json endpoints = json::array();
  std::string algorithm;
  std::uint64_t parameters = 0;
  std::set<std::uint32_t> windows;
  for (const ShardMetrics& m : shards) {
    endpoints.push_back(m.endpoint);
    if (algorithm.empty()) algorithm = m.algorithm;
    parameters = std::max(parameters, m.parameters);
    for (const ShardMetrics::Worker& k : m.workers)
      if (k.window > 0) windows.insert(k.window);
  }
  const ShardMetrics* any = shards.empty() ? nullptr : &shards.front();
  return {{"algorithm", algorithm.empty() ? json(nullptr) : json(algorithm)},
          {"parameters", parameters > 0 ? json(parameters) : json(nullptr)},
          {"windows", windows},
          {"max_staleness", any && any->max_staleness >= 0 ? json(any->max_staleness) : json(nullptr)},
          {"worker_timeout_s", any ? json(any->worker_timeout_s) : json(nullptr)},
          {"endpoints", endpoints},
          {"started_unix_s", TimeOrNull(timeline.started_unix_s)},
          {"uptime_s", AgeOrNull(timeline.started_unix_s, now_unix_s)}};
}

// The history, one array per series (a column a sample), each worker's
// commits 0 in the samples before it first committed.
json HistoryJson(const RunTimeline& timeline) {
  json times = json::array(), updates = json::array(), tau_sum = json::array(), tau_count = json::array(),
       tau_max = json::array(), loss_sum = json::array(), loss_count = json::array();
  std::map<std::uint32_t, std::vector<std::uint64_t>> commits;
  const std::size_t n = timeline.samples.size();
  for (std::size_t i = 0; i < n; ++i) {
    const HistorySample& s = timeline.samples[i];
    times.push_back(s.time_unix_s);
    updates.push_back(s.updates);
    tau_sum.push_back(s.staleness_sum);
    tau_count.push_back(s.staleness_count);
    tau_max.push_back(s.staleness_max);
    loss_sum.push_back(s.train_loss_sum);
    loss_count.push_back(s.train_loss_count);
    for (const auto& [id, c] : s.commits) {
      std::vector<std::uint64_t>& series = commits[id];
      series.resize(n, 0);
      series[i] = c;
    }
  }
  json per_worker = json::object();
  for (const auto& [id, series] : commits) per_worker[std::to_string(id)] = series;
  return {{"interval_s", std::chrono::duration<double>(timeline.interval).count()},
          {"time_unix_s", times},
          {"updates", updates},
          {"staleness_sum", tau_sum},
          {"staleness_count", tau_count},
          {"staleness_max", tau_max},
          {"train_loss_sum", loss_sum},
          {"train_loss_count", loss_count},
          {"commits", per_worker}};
}

}  // namespace

Buckets MergedLatency(const ShardMetrics& m) {
  Buckets b{{std::begin(kLatencyBounds), std::end(kLatencyBounds)}, {}, 0, 0};
  b.counts.assign(b.bounds.size() + 1, 0);
  for (const Histogram& h : m.latency) {
    for (std::size_t i = 0; i < b.counts.size() && i < h.counts().size(); ++i) b.counts[i] += h.counts()[i];
    b.sum += h.sum();
    b.count += h.count();
  }
  return b;
}

double Quantile(const Buckets& b, double q) {
  if (b.count == 0 || b.bounds.empty()) return 0;
  const double rank = q * static_cast<double>(b.count);
  double below = 0;
  for (std::size_t i = 0; i < b.bounds.size(); ++i) {
    const double in = static_cast<double>(b.counts[i]);
    if (below + in >= rank && in > 0) {
      const double lo = i == 0 ? 0 : b.bounds[i - 1];
      return lo + (b.bounds[i] - lo) * (rank - below) / in;
    }
    below += in;
  }
  return b.bounds.back();
}

std::string RenderStatusJson(std::span<const ShardMetrics> shards, const BuildInfo& build, double now_unix_s,
                             const RunTimeline& timeline) {
  json doc = {{"version", build.version},  {"commit", build.commit},
              {"time_unix_s", now_unix_s}, {"settings", SettingsJson(shards, timeline, now_unix_s)},
              {"run", RunJson(shards)},    {"history", HistoryJson(timeline)},
              {"shards", json::array()},   {"workers", json::array()}};
  for (const ShardMetrics& m : shards) {
    doc["shards"].push_back(ShardJson(m, now_unix_s));
    for (const ShardMetrics::Worker& k : m.workers) doc["workers"].push_back(WorkerJson(m, k, now_unix_s));
  }
  return doc.dump();
}

}  // namespace asyncps::ps
