// WorkerReport: what one worker did, as printed and as JSON (the launcher and
// asyncps-report read the JSON to compute the run's training time).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace asyncps::worker {

struct WorkerReport {
  std::size_t worker_index = 0;
  std::size_t num_workers = 1;
  std::string algo;
  std::string compression = "f32";  // the wire compression (CompressionOptions::Describe)
  // Shards whose payloads went through shared memory (ClientOptions::shared_memory).
  std::size_t shared_memory_shards = 0;
  std::size_t rows = 0;       // training rows in this worker's partition
  std::uint64_t samples = 0;  // samples trained (rows x epochs)
  std::uint64_t batches = 0;
  std::uint64_t commits = 0;  // exchanges with the PS, the final one included
  std::uint64_t expected_commits = 0;
  // The updates the PS's centre held from a checkpoint when this worker
  // joined (the servers continued an earlier run: ShardCounters::
  // restored_updates); 0 when the centre was new. Not among this run's commits.
  std::uint64_t restored_updates = 0;
  double load_seconds = 0;      // reading and preparing the data
  double first_batch_unix = 0;  // wall clock when the first batch started
  double end_unix = 0;          // wall clock after the final commit
  double train_seconds = 0;     // end_unix - first_batch_unix
  double samples_per_second = 0;
  double last_epoch_loss = 0;     // mean training loss of the last epoch
  std::uint64_t peak_rss_kb = 0;  // the worker process's peak resident memory
};

nlohmann::json ToJson(const WorkerReport& r);
WorkerReport WorkerReportFromJson(const nlohmann::json& j);
// "worker 1/3: 100000 samples, 1250 commits, 41.2 s, 2427 samples/s, loss 0.31"
std::string Summary(const WorkerReport& r);

}  // namespace asyncps::worker
