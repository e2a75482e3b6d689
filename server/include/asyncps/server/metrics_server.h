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
// (--metrics-token-file) every path but /healthz needs the token.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asyncps/transport/endpoint.h"  // ParseHostPort
#include "asyncps/core/status.h"
#include "asyncps/transport/http_endpoint.h"
#include "asyncps/server/metrics.h"

namespace asyncps::ps {

class ShardServer;

class MetricsServer {
 public:
  // Listens on `host_port` ("HOST:PORT"; port 0: one the OS picks) within the
  // bounds and with the token of `http`, and serves until destroyed. Fails as
  // tools::HttpEndpoint::Start does (a port in use is named).
  // REQUIRES: `shards` outlive the server.
  static Result<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                      std::vector<const ShardServer*> shards, BuildInfo build,
                                                      tools::HttpEndpointOptions http = {});
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "http://HOST:PORT", with the port bound.
  const std::string& url() const { return http_->url(); }
  // The exposition /metrics serves.
  std::string Render() const;
  // The document /status.json serves, as of now.
  std::string RenderStatus() const;

 private:
  MetricsServer(std::vector<const ShardServer*> shards, BuildInfo build);
  // Every shard's latest published metrics.
  std::vector<ShardMetrics> Snapshot() const;

  std::vector<const ShardServer*> shards_;
  BuildInfo build_;
  std::unique_ptr<tools::HttpEndpoint> http_;  // last: stopped before what its handlers read
};

}  // namespace asyncps::ps
