#include "asyncps/transport/http_endpoint.h"

#include <httplib.h>

#include "asyncps/transport/endpoint.h"

namespace asyncps::tools {

HttpEndpoint::HttpEndpoint() : http_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& host_port, std::vector<HttpRoute> routes) {
  Result<std::pair<std::string, int>> where = ParseHostPort(host_port);
  if (!where.ok()) return where.status();
  std::unique_ptr<HttpEndpoint> e(new HttpEndpoint());
  httplib::Server& http = *e->http_;
  // A slow or silent client costs one pool thread for at most these. The pool
  // is larger than cpp-httplib's default (8 here), so that a few such clients
  // do not keep a scrape waiting for their timeouts.
  http.new_task_queue = [] { return new httplib::ThreadPool(HttpEndpoint::kPoolThreads); };
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_timeout(5);
  http.set_payload_max_length(64 * 1024);
  routes.push_back({"/healthz", [] { return HttpReply{"ok\n", "text/plain"}; }});
  for (HttpRoute& route : routes)
    http.Get(route.path, [handler = std::move(route.handler)](const httplib::Request&, httplib::Response& res) {
      HttpReply reply = handler();
      if (reply.no_store) res.set_header("Cache-Control", "no-store");
      res.set_content(reply.body, reply.content_type);
    });
  const auto& [host, port] = where.value();
  int bound = port;
  if (port == 0) {
    bound = http.bind_to_any_port(host);
  } else if (!http.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0)
    return Status::Unavailable("cannot listen on --metrics-bind " + host_port + " (in use, or no such address)");
  e->url_ = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  e->thread_ = std::thread([server = e->http_.get()] { server->listen_after_bind(); });
  return e;
}

HttpEndpoint::~HttpEndpoint() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace asyncps::tools
