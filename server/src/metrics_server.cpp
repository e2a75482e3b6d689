#include "asyncps/server/metrics_server.h"

#include <chrono>

#include "asyncps/server/shard_server.h"
#include "asyncps/server/status_json.h"
#include "status_page_html.h"

namespace asyncps::ps {

MetricsServer::MetricsServer(std::vector<const ShardServer*> shards, BuildInfo build)
    : shards_(std::move(shards)), build_(std::move(build)) {}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port,
                                                            std::vector<const ShardServer*> shards, BuildInfo build,
                                                            tools::HttpEndpointOptions http_options) {
  std::unique_ptr<MetricsServer> m(new MetricsServer(std::move(shards), std::move(build)));
  const MetricsServer* self = m.get();
  std::vector<tools::HttpRoute> routes = {
      {"/metrics",
       [self] {
         return tools::HttpReply{self->Render(), "text/plain; version=0.0.4; charset=utf-8"};
       }},
      {"/status.json",
       [self] {
         return tools::HttpReply{self->RenderStatus(), "application/json", true};
       }},
      {"/",
       [] {
         return tools::HttpReply{kStatusPageHtml, "text/html; charset=utf-8"};
       }},
  };
  Result<std::unique_ptr<tools::HttpEndpoint>> http =
      tools::HttpEndpoint::Start(host_port, std::move(routes), std::move(http_options));
  if (!http.ok()) return http.status();
  m->http_ = std::move(http).value();
  return m;
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
