// asyncps-worker: trains the seed CNN on its partition of the data and talks to
// the parameter server through the client library.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <CLI/CLI.hpp>

#include "cli_parse.h"
#include "output_path.h"

#include "worker.h"
#include "worker_metrics.h"

namespace {

// k8s indexed Jobs give each pod JOB_COMPLETION_INDEX: use it when no index was set.
void DefaultIndexFromJob(std::size_t& index, bool index_given) {
  if (index_given) return;
  if (const char* job = std::getenv("JOB_COMPLETION_INDEX")) index = std::strtoul(job, nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace asyncps::worker;
  CLI::App app{"asyncps-worker: trains the seed CNN asynchronously against an asyncps parameter server"};
  TrainOptions train;
  WorkerOptions options;
  std::string report_json;
  std::string progress_format = "human";
  AddTrainFlags(app, train);
  AddConnectFlags(app, options.connect, /*with_servers=*/true);
  auto* index_opt = app.add_option("--worker-index", options.worker_index,
                                   "This worker's index (default: $JOB_COMPLETION_INDEX, else 0)")
                        ->envname("ASYNCPS_WORKER_INDEX")
                        ->check(asyncps::tools::NotNegative());
  app.add_option("--num-workers", options.num_workers, "Workers in the run (the data is split among them)")
      ->envname("ASYNCPS_NUM_WORKERS")
      ->check(asyncps::tools::NotNegative())
      ->capture_default_str();
  app.add_option("--report-json", report_json, "Write this worker's report here as JSON")
      ->envname("ASYNCPS_REPORT_JSON");
  app.add_option("--save-weights", options.save_weights,
                 "Write the final local weights here (.npz, or .h5 for Keras' model.load_weights)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  app.add_option("--slowdown", options.slowdown,
                 "Experiment: train F times slower (sleeps F-1 times each batch's training time after it), "
                 "to study stragglers; 1: off")
      ->envname("ASYNCPS_SLOWDOWN")
      ->check(asyncps::tools::FiniteRange(1.0, 1000.0))
      ->capture_default_str();
  app.add_option("--progress-format", progress_format, "human, or machine (key=value lines for asyncps-local)")
      ->check(CLI::IsMember({"human", "machine"}))
      ->capture_default_str();
  std::string metrics_bind;
  app.add_option("--metrics-bind", metrics_bind,
                 "Serve GET /metrics (samples, batches, commits, loss; Prometheus text format) on HOST:PORT while "
                 "training (port 0: any); off when empty")
      ->envname("ASYNCPS_WORKER_METRICS_BIND");
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;
  DefaultIndexFromJob(options.worker_index, index_opt->count() > 0 || std::getenv("ASYNCPS_WORKER_INDEX"));
  asyncps::Status valid = train.Validate();
  if (valid.ok() && (options.num_workers < 1 || options.worker_index >= options.num_workers)) {
    valid = asyncps::Status::InvalidArgument("--worker-index " + std::to_string(options.worker_index) +
                                             " with --num-workers " + std::to_string(options.num_workers) +
                                             ": need --num-workers >= 1 and --worker-index < --num-workers");
  }
  if (!valid.ok()) {
    std::fprintf(stderr, "asyncps-worker: %s\n", valid.message().c_str());
    return 2;
  }
  if (train.summary) return PrintModelSummary(train, "asyncps-worker");
  // Every file this run reads or writes, before any work (a bad path must not
  // throw a finished run away).
  asyncps::Status paths = train.CheckData(/*train=*/true, /*test=*/false);
  if (paths.ok()) paths = CheckOutputPath("--save-weights", options.save_weights);
  if (paths.ok()) paths = CheckOutputPath("--report-json", report_json);
  if (!paths.ok()) {
    std::fprintf(stderr, "asyncps-worker: %s\n", paths.message().c_str());
    return 1;
  }

  const std::size_t index = options.worker_index;
  std::unique_ptr<WorkerMetrics> metrics;
  if (!metrics_bind.empty()) {
    asyncps::Result<std::unique_ptr<WorkerMetrics>> started = WorkerMetrics::Start(metrics_bind, index);
    if (!started.ok()) {
      std::fprintf(stderr, "asyncps-worker: %s\n", started.status().message().c_str());
      return started.status().code() == asyncps::Status::Code::kInvalidArgument ? 2 : 1;
    }
    metrics = std::move(started).value();
    std::fprintf(stderr, "asyncps-worker %zu: metrics on %s/metrics\n", index, metrics->url().c_str());
  }
  const ProgressFn progress = [&](const Progress& p) {
    if (metrics) metrics->Update(p);
    if (progress_format == "machine") {
      std::printf("@progress worker=%zu epoch=%d epochs=%d batch=%zu batches=%zu samples=%llu sps=%.1f loss=%.5f\n",
                  index, p.epoch, train.epochs, p.batch, p.batches, static_cast<unsigned long long>(p.samples),
                  p.samples_per_second, p.loss);
    } else {
      std::printf("worker %zu: epoch %d/%d batch %zu/%zu, %.0f samples/s, loss %.4f\n", index, p.epoch, train.epochs,
                  p.batch, p.batches, p.samples_per_second, p.loss);
    }
    std::fflush(stdout);
  };
  asyncps::Result<WorkerReport> report = RunWorker(train, options, progress);
  if (!report.ok()) {
    std::fprintf(stderr, "asyncps-worker %zu: error: %s\n", index, report.status().ToString().c_str());
    return 1;
  }
  if (progress_format == "human") std::printf("%s\n", Summary(report.value()).c_str());
  if (!report_json.empty()) {
    std::ofstream out(report_json);
    out << ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "asyncps-worker: cannot write --report-json %s\n", report_json.c_str());
      return 1;
    }
  }
  return 0;
}
