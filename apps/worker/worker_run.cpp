#include "worker_run.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <utility>

#include "worker_log.h"
#include "worker_metrics.h"
#include "worker_report.h"

namespace asyncps::worker {

int Run(const WorkerConfig& c) {
  const TrainOptions& train = c.train;
  if (train.summary) return PrintModelSummary(train, "asyncps-worker");
  if (Status paths = train.CheckRunFiles(/*train=*/true, /*test=*/false, c.worker.save_weights, c.report_json);
      !paths.ok()) {
    std::fprintf(stderr, "asyncps-worker: %s\n", paths.message().c_str());
    return 1;
  }

  const std::size_t index = c.worker.worker_index;
  std::unique_ptr<WorkerMetrics> metrics;
  if (!c.metrics_bind.empty()) {
    Result<std::unique_ptr<WorkerMetrics>> started = WorkerMetrics::Start(c.metrics_bind, index);
    if (!started.ok()) {
      std::fprintf(stderr, "asyncps-worker: %s\n", started.status().message().c_str());
      return started.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
    }
    metrics = std::move(started).value();
    LogWorker(index, "info", "metrics on " + metrics->url() + "/metrics");
  }
  const bool machine = c.progress_format == "machine";
  const ProgressFn progress = [&](const Progress& p) {
    if (metrics) metrics->Update(p);
    if (machine) {
      std::printf("@progress worker=%zu epoch=%d epochs=%d batch=%zu batches=%zu samples=%llu sps=%.1f loss=%.5f\n",
                  index, p.epoch, train.epochs, p.batch, p.batches, static_cast<unsigned long long>(p.samples),
                  p.samples_per_second, p.loss);
    } else {
      std::printf("worker %zu: epoch %d/%d batch %zu/%zu, %.0f samples/s, loss %.4f\n", index, p.epoch, train.epochs,
                  p.batch, p.batches, p.samples_per_second, p.loss);
    }
    std::fflush(stdout);
  };
  Result<WorkerReport> report = RunWorker(train, c.worker, progress);
  if (!report.ok()) {
    LogWorker(index, "error", report.status().ToString());
    return 1;
  }
  if (c.progress_format == "human") std::printf("%s\n", Summary(report.value()).c_str());
  if (!c.report_json.empty()) {
    std::ofstream out(c.report_json);
    out << ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "asyncps-worker: cannot write --report-json %s\n", c.report_json.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace asyncps::worker
