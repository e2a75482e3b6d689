#include "worker_config.h"

#include <cstdlib>

#include <CLI/CLI.hpp>

#include "connect_options.h"

namespace asyncps::worker {
namespace {

// k8s indexed Jobs give each pod JOB_COMPLETION_INDEX: use it when no index was set.
void DefaultIndexFromJob(std::size_t& index, bool index_given) {
  if (index_given) return;
  if (const char* job = std::getenv("JOB_COMPLETION_INDEX")) index = std::strtoul(job, nullptr, 10);
}

}  // namespace

tools::ParsedFlags<WorkerConfig> ParseWorkerFlags(int argc, const char* const* argv) {
  WorkerConfig c;
  CLI::App app{"asyncps-worker: trains the seed CNN asynchronously against an asyncps parameter server"};
  AddTrainFlags(app, c.train);
  AddConnectFlags(app, c.worker.connect, /*with_servers=*/true);
  auto* index_opt = app.add_option("--worker-index", c.worker.worker_index,
                                   "This worker's index (default: $JOB_COMPLETION_INDEX, else 0)")
                        ->envname("ASYNCPS_WORKER_INDEX")
                        ->check(tools::NotNegative());
  auto* num_opt =
      app.add_option("--num-workers", c.worker.num_workers, "Workers in the run (the data is split among them)")
          ->envname("ASYNCPS_NUM_WORKERS")
          ->check(tools::NotNegative())
          ->capture_default_str();
  app.add_option("--join", c.worker.join,
                 "Join a running asyncps-local --elastic at its lease service (tcp://HOST:PORT, which it prints): "
                 "train the ranges of the data it hands out, under the worker index it gives, instead of a fixed "
                 "partition; SIGTERM stops it after its current batch and gives its range back")
      ->envname("ASYNCPS_JOIN");
  app.add_option("--report-json", c.report_json, "Write this worker's report here as JSON")
      ->envname("ASYNCPS_REPORT_JSON");
  app.add_option("--save-weights", c.worker.save_weights,
                 "Write the final local weights here (.npz, or .h5 for Keras' model.load_weights)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  app.add_option("--slowdown", c.worker.slowdown,
                 "Experiment: train F times slower (sleeps F-1 times each batch's training time after it), "
                 "to study stragglers; 1: off")
      ->envname("ASYNCPS_SLOWDOWN")
      ->check(tools::FiniteRange(1.0, 1000.0))
      ->capture_default_str();
  app.add_option("--progress-format", c.progress_format, "human, or machine (key=value lines for asyncps-local)")
      ->check(CLI::IsMember({"human", "machine"}))
      ->capture_default_str();
  app.add_option("--metrics-bind", c.metrics_bind,
                 "Serve GET /metrics (samples, batches, commits, loss; Prometheus text format) on HOST:PORT while "
                 "training (port 0: any); off when empty")
      ->envname("ASYNCPS_WORKER_METRICS_BIND");
  if (std::optional<tools::FlagsExit> exit = tools::ParseQuietly(app, argc, argv)) return *exit;

  Status valid = c.train.Validate();
  if (!c.worker.join.empty()) {
    if (valid.ok() && (index_opt->count() > 0 || num_opt->count() > 0))
      valid = Status::InvalidArgument(
          "--join takes this worker's index from the lease service and the data from its ranges: drop "
          "--worker-index and --num-workers");
    if (valid.ok() && c.worker.join.rfind("tcp://", 0) != 0)
      valid = Status::InvalidArgument("--join " + c.worker.join + ": expected tcp://HOST:PORT");
  } else {
    DefaultIndexFromJob(c.worker.worker_index, index_opt->count() > 0 || std::getenv("ASYNCPS_WORKER_INDEX"));
  }
  if (valid.ok() && (c.worker.num_workers < 1 || c.worker.worker_index >= c.worker.num_workers)) {
    valid = Status::InvalidArgument("--worker-index " + std::to_string(c.worker.worker_index) + " with --num-workers " +
                                    std::to_string(c.worker.num_workers) +
                                    ": need --num-workers >= 1 and --worker-index < --num-workers");
  }
  if (!valid.ok()) return tools::Refuse("asyncps-worker", valid.message());
  return c;
}

}  // namespace asyncps::worker
