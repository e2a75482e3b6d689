#include "asyncps/server/metrics.h"
#include "asyncps/core/counter_table.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>

namespace asyncps::ps {
namespace {

// A label value with \, " and newline escaped.
std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string Number(std::uint64_t v) { return std::to_string(v); }

class Writer {
 public:
  void Family(const std::string& name, const char* type, std::string_view help) {
    out_ += "# HELP " + name + " " + std::string(help) + "\n# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }
  void Histogram(const std::string& name, const std::string& labels, const ps::Histogram& h) {
    const std::string sep = labels.empty() ? "" : labels + ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
      cumulative += h.counts()[i];
      Sample(name + "_bucket", sep + "le=\"" + Number(h.bounds()[i]) + "\"", Number(cumulative));
    }
    Sample(name + "_bucket", sep + "le=\"+Inf\"", Number(h.count()));
    Sample(name + "_sum", labels, Number(h.sum()));
    Sample(name + "_count", labels, Number(h.count()));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string ShardLabel(const ShardMetrics& m) { return "shard=\"" + std::to_string(m.shard_index) + "\""; }

// One family, one sample per shard.
void PerShard(Writer& w, std::span<const ShardMetrics> shards, const std::string& name, const char* type,
              std::string_view help, const std::function<std::string(const ShardMetrics&)>& value) {
  w.Family(name, type, help);
  for (const ShardMetrics& m : shards) w.Sample(name, ShardLabel(m), value(m));
}

// One family, one sample per worker of every shard (nullopt: no sample).
void PerWorker(Writer& w, std::span<const ShardMetrics> shards, const std::string& name, const char* type,
               std::string_view help,
               const std::function<std::optional<std::string>(const ShardMetrics::Worker&)>& value) {
  w.Family(name, type, help);
  for (const ShardMetrics& m : shards)
    for (const ShardMetrics::Worker& k : m.workers)
      if (std::optional<std::string> v = value(k))
        w.Sample(name, ShardLabel(m) + ",worker=\"" + std::to_string(k.id) + "\"", *v);
}

}  // namespace

const ShardMetrics* RunLeader(std::span<const ShardMetrics> shards) {
  const ShardMetrics* most = nullptr;
  for (const ShardMetrics& m : shards)
    if (most == nullptr || m.counters.updates > most->counters.updates) most = &m;
  return most;
}

std::string RenderMetrics(std::span<const ShardMetrics> shards, const BuildInfo& build) {
  Writer w;
  w.Family("asyncps_build_info", "gauge", "The asyncps build serving these shards (always 1).");
  w.Sample("asyncps_build_info", "version=\"" + Escape(build.version) + "\",commit=\"" + Escape(build.commit) + "\"",
           "1");
  for (const ShardCounterInfo& c : kShardCounters) {
    if (c.export_as == CounterExport::kNotExported) continue;
    const bool total = c.export_as == CounterExport::kTotal;
    const std::string name = "asyncps_" + std::string(c.name) + (total ? "_total" : "");
    PerShard(w, shards, name, total ? "counter" : "gauge", c.help,
             [&c](const ShardMetrics& m) { return Number(m.counters.*c.field); });
  }
  w.Family("asyncps_requests_total", "counter", "Requests answered, by op and reply code.");
  for (const ShardMetrics& m : shards)
    for (std::size_t op = 0; op < kOpSlots; ++op)
      for (std::size_t code = 0; code < kNumErrorCodes; ++code)
        if (m.requests[op][code] > 0)
          w.Sample("asyncps_requests_total",
                   ShardLabel(m) + ",op=\"" + OpLabel(op) + "\",code=\"" +
                       wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(code)) + "\"",
                   Number(m.requests[op][code]));
  w.Family("asyncps_request_duration_seconds", "histogram", "Time the shard thread spent on a request, by op.");
  for (const ShardMetrics& m : shards)
    for (std::size_t op = 0; op < kOpSlots; ++op)
      if (m.latency[op].count() > 0)
        w.Histogram("asyncps_request_duration_seconds", ShardLabel(m) + ",op=\"" + OpLabel(op) + "\"", m.latency[op]);
  w.Family("asyncps_payload_bytes_total", "counter", "Bytes of requests received and replies sent.");
  for (const ShardMetrics& m : shards) {
    w.Sample("asyncps_payload_bytes_total", ShardLabel(m) + ",direction=\"received\"", Number(m.bytes_received));
    w.Sample("asyncps_payload_bytes_total", ShardLabel(m) + ",direction=\"sent\"", Number(m.bytes_sent));
  }
  PerShard(w, shards, "asyncps_replies_dropped_total", "counter",
           "Replies not sent because clients left too many unread (they resend).",
           [](const ShardMetrics& m) { return Number(m.replies_dropped); });
  PerShard(w, shards, "asyncps_shared_memory_segments_open", "gauge",
           "Shared-memory segments of clients the shard has open (asyncps-server --shared-memory).",
           [](const ShardMetrics& m) { return Number(m.segments_open); });
  w.Family("asyncps_commit_staleness", "histogram", "Staleness tau of applied commits (1: none since the pull).");
  for (const ShardMetrics& m : shards) w.Histogram("asyncps_commit_staleness", ShardLabel(m), m.staleness);
  using Worker = ShardMetrics::Worker;
  PerWorker(w, shards, "asyncps_worker_commits_total", "counter", "Commits applied, by worker.",
            [](const Worker& k) { return Number(k.commits); });
  PerWorker(w, shards, "asyncps_worker_last_commit_timestamp_seconds", "gauge",
            "When the worker's latest commit was applied (Unix time).", [](const Worker& k) {
              return k.last_commit_unix_s > 0 ? std::optional(Number(k.last_commit_unix_s)) : std::nullopt;
            });
  PerWorker(w, shards, "asyncps_worker_commit_rate", "gauge",
            "The worker's commits per second over the straggler window.",
            [](const Worker& k) { return Number(k.commit_rate); });
  PerWorker(w, shards, "asyncps_worker_straggler", "gauge",
            "1 while the worker commits below --straggler-fraction of the median rate, else 0.",
            [](const Worker& k) { return std::string(k.straggler ? "1" : "0"); });
  PerWorker(
      w, shards, "asyncps_worker_train_loss", "gauge",
      "The mean training loss over the batches of the worker's latest commit, as it reported it.",
      [](const Worker& k) { return std::isnan(k.train_loss) ? std::nullopt : std::optional(Number(k.train_loss)); });
  PerWorker(w, shards, "asyncps_worker_test_accuracy", "gauge",
            "The latest test accuracy the worker reported (of the centre it pulled).", [](const Worker& k) {
              return std::isnan(k.test_accuracy) ? std::nullopt : std::optional(Number(k.test_accuracy));
            });
  PerWorker(w, shards, "asyncps_worker_blocked_seconds_total", "counter",
            "Time the worker's pulls were held by the staleness bound (--max-staleness).",
            [](const Worker& k) { return Number(k.blocked_s); });
  w.Family("asyncps_checkpoint_last_success_timestamp_seconds", "gauge",
           "When the shard's latest checkpoint was written (Unix time; 0: none yet).");
  for (const ShardMetrics& m : shards)
    w.Sample("asyncps_checkpoint_last_success_timestamp_seconds", ShardLabel(m),
             Number(m.checkpoint_last_success_unix_s));
  w.Family("asyncps_checkpoint_duration_seconds", "histogram", "Time to write a checkpoint.");
  for (const ShardMetrics& m : shards)
    w.Histogram("asyncps_checkpoint_duration_seconds", ShardLabel(m), m.checkpoint_duration);
  return w.Take();
}

}  // namespace asyncps::ps
