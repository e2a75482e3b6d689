#include "asyncps/server/metrics_server.h"

#include <chrono>

#include "asyncps/server/shard_server.h"
#include "asyncps/server/status_json.h"
#include "status_page_html.h"

namespace asyncps::ps {

MetricsServer::MetricsServer(std::vector<const ShardServer*> shards, BuildInfo build, StatusHistoryOptions history)
    : shards_(std::move(shards)),
      build_(std::move(build)),
      now_unix_s_(history.now_unix_s),
      started_unix_s_(now_unix_s_()),
      history_(std::move(history)) {}

MetricsServer::~MetricsServer() {
  http_.reset();  // no handler runs from here on
  {
    std::lock_guard<std::mutex> lock(sampler_mu_);
    stopping_ = true;
  }
  sampler_wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port,
                                                            std::vector<const ShardServer*> shards, BuildInfo build,
                                                            tools::HttpEndpointOptions http_options,
                                                            StatusHistoryOptions history) {
  if (Status st = CheckStatusHistoryOptions(history); !st.ok()) return st;
  std::unique_ptr<MetricsServer> m(new MetricsServer(std::move(shards), std::move(build), std::move(history)));
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
  m->sampler_ = std::thread([self = m.get()] { self->SampleUntilStopped(); });
  return m;
}

void MetricsServer::SampleUntilStopped() {
  std::unique_lock<std::mutex> lock(sampler_mu_);
  while (!stopping_) {
    lock.unlock();
    (void)history_.MaybeSample(Snapshot());
    const std::chrono::milliseconds wait = history_.interval() / 4;
    lock.lock();
    sampler_wake_.wait_for(lock, wait, [this] { return stopping_; });
  }
}

std::vector<ShardMetrics> MetricsServer::Snapshot() const {
  std::vector<ShardMetrics> shards;
  shards.reserve(shards_.size());
  for (const ShardServer* s : shards_) shards.push_back(s->metrics());
  return shards;
}

std::string MetricsServer::Render() const { return RenderMetrics(Snapshot(), build_); }

std::string MetricsServer::RenderStatus() const {
  return RenderStatusJson(Snapshot(), build_, now_unix_s_(),
                          {started_unix_s_, history_.samples(), history_.interval()});
}

}  // namespace asyncps::ps
