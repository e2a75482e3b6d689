#include "metrics_server.h"

#include <httplib.h>

#include <chrono>

#include "shard_server.h"
#include "status_json.h"
#include "status_page_html.h"

namespace asyncps::ps {

MetricsServer::MetricsServer(std::vector<const ShardServer*> shards, BuildInfo build)
    : shards_(std::move(shards)), build_(std::move(build)), http_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port,
                                                            std::vector<const ShardServer*> shards, BuildInfo build) {
  Result<std::pair<std::string, int>> where = ParseHostPort(host_port);
  if (!where.ok()) return where.status();
  std::unique_ptr<MetricsServer> m(new MetricsServer(std::move(shards), std::move(build)));
  httplib::Server& http = *m->http_;
  // A slow or silent client costs one pool thread for at most these.
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_timeout(5);
  http.set_payload_max_length(64 * 1024);
  MetricsServer* self = m.get();
  http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    res.set_content(self->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/status.json", [self](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(self->RenderStatus(), "application/json");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kStatusPageHtml, "text/html; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  const auto& [host, port] = where.value();
  int bound = port;
  if (port == 0) {
    bound = http.bind_to_any_port(host.c_str());
  } else if (!http.bind_to_port(host.c_str(), port)) {
    bound = -1;
  }
  if (bound < 0) return Status::Unavailable("cannot listen on --metrics-bind " + host_port + " (in use, or no such address)");
  m->url_ = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  m->thread_ = std::thread([self] { self->http_->listen_after_bind(); });
  return m;
}

MetricsServer::~MetricsServer() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<ShardMetrics> MetricsServer::Snapshot() const {
  std::vector<ShardMetrics> shards;
  shards.reserve(shards_.size());
  for (const ShardServer* s : shards_) shards.push_back(s->metrics());
  return shards;
}

std::string MetricsServer::Render() const { return RenderMetrics(Snapshot(), build_); }

std::string MetricsServer::RenderStatus() const {
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return RenderStatusJson(Snapshot(), build_, now);
}

}  // namespace asyncps::ps
