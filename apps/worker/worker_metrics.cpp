#include "worker_metrics.h"

#include <cstdio>

namespace asyncps::worker {
namespace {

void Family(std::string& out, const std::string& name, const char* type, const char* help, std::size_t index,
            double value) {
  char number[32];
  std::snprintf(number, sizeof number, "%.10g", value);
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + "{worker=\"" +
         std::to_string(index) + "\"} " + number + "\n";
}

}  // namespace

std::string RenderWorkerMetrics(std::size_t index, const Progress& p) {
  std::string out;
  Family(out, "asyncps_trainer_samples_total", "counter", "Samples trained.", index, static_cast<double>(p.samples));
  Family(out, "asyncps_trainer_batches_total", "counter", "Batches trained.", index,
         static_cast<double>(p.total_batches));
  Family(out, "asyncps_trainer_commits_total", "counter", "Commits sent to the shards.", index,
         static_cast<double>(p.commits));
  Family(out, "asyncps_trainer_samples_per_second", "gauge", "Samples per second since training started.", index,
         p.samples_per_second);
  Family(out, "asyncps_trainer_loss", "gauge", "Mean training loss since the previous progress report.", index, p.loss);
  Family(out, "asyncps_trainer_epoch", "gauge", "The epoch in progress, from 1 (0: not started).", index, p.epoch);
  return out;
}

WorkerMetrics::WorkerMetrics(std::size_t index) : index_(index) {}

Result<std::unique_ptr<WorkerMetrics>> WorkerMetrics::Start(const std::string& host_port, std::size_t index,
                                                            tools::HttpEndpointOptions http_options) {
  std::unique_ptr<WorkerMetrics> m(new WorkerMetrics(index));
  const WorkerMetrics* self = m.get();
  const auto metrics = [self] { return tools::HttpReply{self->Render(), "text/plain; version=0.0.4; charset=utf-8"}; };
  Result<std::unique_ptr<tools::HttpEndpoint>> http =
      tools::HttpEndpoint::Start(host_port, {{"/metrics", metrics}}, std::move(http_options));
  if (!http.ok()) return http.status();
  m->http_ = std::move(http).value();
  return m;
}

void WorkerMetrics::Update(const Progress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = p;
}

std::string WorkerMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  return RenderWorkerMetrics(index_, latest_);
}

}  // namespace asyncps::worker
