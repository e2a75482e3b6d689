// WorkerMetrics: what asyncps-worker --metrics-bind HOST:PORT serves while it
// trains, for Prometheus to scrape (deploy/README.md, "Worker metrics").
//
//   GET /metrics   the worker's progress, Prometheus text format:
//     asyncps_trainer_samples_total{worker}        samples trained
//     asyncps_trainer_batches_total{worker}        batches trained
//     asyncps_trainer_commits_total{worker}        commits sent to the shards
//     asyncps_trainer_samples_per_second{worker}   since training started
//     asyncps_trainer_loss{worker}                 mean loss since the previous update
//     asyncps_trainer_epoch{worker}                the epoch in progress (from 1)
//   GET /healthz   200 "ok" (never needs the token)
//
// ("trainer", not "worker": the server's asyncps_worker_* families describe
// workers as the shards see them, labelled by shard.) The values are those of
// the latest Update, which the training loop calls with each progress report
// (about once a second); the worker exits when training ends, so a short run
// may finish between two scrapes.
//
// Thread-safety: Update and the HTTP thread's reads take one mutex. HTTP is
// transport/include/asyncps/transport/http_endpoint.h, as for the server.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "asyncps/core/status.h"
#include "asyncps/transport/http_endpoint.h"
#include "worker.h"

namespace asyncps::worker {

// The exposition for worker `index` at progress `p`.
std::string RenderWorkerMetrics(std::size_t index, const Progress& p);

class WorkerMetrics {
 public:
  // Listens on `host_port` ("HOST:PORT"; port 0: one the OS picks) within the
  // bounds and with the token of `http` until destroyed. Fails as
  // tools::HttpEndpoint::Start does (a port in use is named).
  static Result<std::unique_ptr<WorkerMetrics>> Start(const std::string& host_port, std::size_t index,
                                                      tools::HttpEndpointOptions http = {});
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // "http://HOST:PORT", with the port bound.
  const std::string& url() const { return http_->url(); }
  void Update(const Progress& p);
  std::string Render() const;

 private:
  explicit WorkerMetrics(std::size_t index);

  const std::size_t index_;
  mutable std::mutex mu_;
  Progress latest_;                            // GUARDED_BY(mu_)
  std::unique_ptr<tools::HttpEndpoint> http_;  // last: stopped before what its handler reads
};

}  // namespace asyncps::worker
