#include "asyncps/server/status_json.h"

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
          {"blocked_s", k.blocked_s}};
}

// The run's figures. Every commit reaches every shard and each shard counts
// it, so adding the shards' figures would count a commit once per shard: they
// are the figures of the shard that has applied the most commits.
json RunJson(std::span<const ShardMetrics> shards) {
  const ShardMetrics* most = nullptr;
  for (const ShardMetrics& m : shards)
    if (most == nullptr || m.counters.updates > most->counters.updates) most = &m;
  if (most == nullptr) return {{"updates", 0}, {"restored_updates", 0}, {"staleness", nullptr}};
  return {{"updates", most->counters.updates},
          {"restored_updates", most->counters.restored_updates},
          {"staleness", BucketsJson(FromHistogram(most->staleness))}};
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

std::string RenderStatusJson(std::span<const ShardMetrics> shards, const BuildInfo& build, double now_unix_s) {
  json doc = {{"version", build.version}, {"commit", build.commit},  {"time_unix_s", now_unix_s},
              {"run", RunJson(shards)},   {"shards", json::array()}, {"workers", json::array()}};
  for (const ShardMetrics& m : shards) {
    doc["shards"].push_back(ShardJson(m, now_unix_s));
    for (const ShardMetrics::Worker& k : m.workers) doc["workers"].push_back(WorkerJson(m, k, now_unix_s));
  }
  return doc.dump();
}

}  // namespace asyncps::ps
