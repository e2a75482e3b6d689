#include "worker_metrics.h"

#include <httplib.h>

#include <cstdio>

#include "asyncps/endpoint.h"

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

WorkerMetrics::WorkerMetrics(std::size_t index) : index_(index), http_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<WorkerMetrics>> WorkerMetrics::Start(const std::string& host_port, std::size_t index) {
  Result<std::pair<std::string, int>> where = ParseHostPort(host_port);
  if (!where.ok()) return where.status();
  std::unique_ptr<WorkerMetrics> m(new WorkerMetrics(index));
  httplib::Server& http = *m->http_;
  http.set_read_timeout(5, 0);  // a slow client costs one pool thread for at most these
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(64 * 1024);
  WorkerMetrics* self = m.get();
  http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  const auto& [host, port] = where.value();
  const int bound =
      port == 0 ? http.bind_to_any_port(host.c_str()) : (http.bind_to_port(host.c_str(), port) ? port : -1);
  if (bound < 0)
    return Status::Unavailable("cannot listen on --metrics-bind " + host_port + " (in use, or no such address)");
  m->url_ = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  m->thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  return m;
}

WorkerMetrics::~WorkerMetrics() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
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
