// MetricsServer: the HTTP endpoint of asyncps-server --metrics-bind.
//
//   GET /metrics   every shard's metrics (metrics.h), Prometheus text format
//   GET /healthz   200 "ok" while the process serves (never needs the token)
//   GET /          the live status page (status_page.html, built in; no
//                  external assets), which polls:
//   GET /status.json  every shard and worker as JSON (status_json.h,
//                  docs/status-json.md)
//
// HTTP is transport/include/asyncps/transport/http_endpoint.h: bounded headers,
// connections and times, on its own thread, apart from the shard threads, which
// it only reads published copies of; with HttpEndpointOptions::bearer_token
// (--metrics-token-file) every path but /healthz needs the token. A sampler
// thread keeps the run's history for the page's time series (status_history.h)
// from the same published copies.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "asyncps/transport/endpoint.h"  // ParseHostPort
#include "asyncps/core/status.h"
#include "asyncps/transport/http_endpoint.h"
#include "asyncps/server/metrics.h"
#include "asyncps/server/status_history.h"

namespace asyncps::ps {

class ShardServer;

class MetricsServer {
 public:
  // Listens on `host_port` ("HOST:PORT"; port 0: one the OS picks) within the
  // bounds and with the token of `http`, and serves until destroyed, sampling
  // the shards into its history as `history` says. Fails as
  // tools::HttpEndpoint::Start does (a port in use is named), or naming the
  // history option that cannot be used.
  // REQUIRES: `shards` outlive the server.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                      std::vector<const ShardServer*> shards, BuildInfo build,
                                                      tools::HttpEndpointOptions http = {},
                                                      StatusHistoryOptions history = {});
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  // "http://HOST:PORT", with the port bound.
  const std::string& url() const { return http_->url(); }
  // The exposition /metrics serves.
  std::string Render() const;
  // The document /status.json serves, as of now.
  std::string RenderStatus() const;

 private:
  MetricsServer(std::vector<const ShardServer*> shards, BuildInfo build, StatusHistoryOptions history);
  // Every shard's latest published metrics.
  std::vector<ShardMetrics> Snapshot() const;
  // The sampler thread: samples the shards into history_ until stopping_.
  void SampleUntilStopped();

  std::vector<const ShardServer*> shards_;
  BuildInfo build_;
  std::function<double()> now_unix_s_;  // the history's clock, also status.json's
  double started_unix_s_;               // when Start was called
  StatusHistory history_;
  std::mutex sampler_mu_;
  std::condition_variable sampler_wake_;
  bool stopping_ = false;  // guarded by sampler_mu_
  std::thread sampler_;
  std::unique_ptr<tools::HttpEndpoint> http_;  // last: stopped before what its handlers read
};

}  // namespace asyncps::ps
