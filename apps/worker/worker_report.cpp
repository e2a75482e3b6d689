#include "worker_report.h"

#include <cstdio>

namespace asyncps::worker {

nlohmann::json ToJson(const WorkerReport& r) {
  return {{"worker_index", r.worker_index},
          {"num_workers", r.num_workers},
          {"algo", r.algo},
          {"compression", r.compression},
          {"shared_memory_shards", r.shared_memory_shards},
          {"rows", r.rows},
          {"samples", r.samples},
          {"batches", r.batches},
          {"commits", r.commits},
          {"expected_commits", r.expected_commits},
          {"restored_updates", r.restored_updates},
          {"load_seconds", r.load_seconds},
          {"first_batch_unix", r.first_batch_unix},
          {"end_unix", r.end_unix},
          {"train_seconds", r.train_seconds},
          {"samples_per_second", r.samples_per_second},
          {"last_epoch_loss", r.last_epoch_loss},
          {"peak_rss_kb", r.peak_rss_kb}};
}

WorkerReport WorkerReportFromJson(const nlohmann::json& j) {
  WorkerReport r;
  r.worker_index = j.at("worker_index").get<std::size_t>();
  r.num_workers = j.at("num_workers").get<std::size_t>();
  r.algo = j.at("algo").get<std::string>();
  r.compression = j.value("compression", std::string("f32"));
  r.shared_memory_shards = j.value("shared_memory_shards", std::size_t{0});
  r.rows = j.at("rows").get<std::size_t>();
  r.samples = j.at("samples").get<std::uint64_t>();
  r.batches = j.at("batches").get<std::uint64_t>();
  r.commits = j.at("commits").get<std::uint64_t>();
  r.expected_commits = j.at("expected_commits").get<std::uint64_t>();
  r.restored_updates = j.value("restored_updates", std::uint64_t{0});  // absent from older workers' reports
  r.load_seconds = j.at("load_seconds").get<double>();
  r.first_batch_unix = j.at("first_batch_unix").get<double>();
  r.end_unix = j.at("end_unix").get<double>();
  r.train_seconds = j.at("train_seconds").get<double>();
  r.samples_per_second = j.at("samples_per_second").get<double>();
  r.last_epoch_loss = j.at("last_epoch_loss").get<double>();
  r.peak_rss_kb = j.value("peak_rss_kb", std::uint64_t{0});
  return r;
}

std::string Summary(const WorkerReport& r) {
  char line[256];
  // num_workers 0: an elastic worker (asyncps-worker --join), no fixed share.
  const std::string of = r.num_workers > 0 ? "/" + std::to_string(r.num_workers) : std::string(" (elastic)");
  std::snprintf(line, sizeof line,
                "worker %zu%s: %llu samples, %llu commits, %.1f s, %.0f samples/s, loss %.4f, peak RSS %.1f MB",
                r.worker_index, of.c_str(), static_cast<unsigned long long>(r.samples),
                static_cast<unsigned long long>(r.commits), r.train_seconds, r.samples_per_second, r.last_epoch_loss,
                static_cast<double>(r.peak_rss_kb) / 1024.0);
  return line;
}

}  // namespace asyncps::worker
