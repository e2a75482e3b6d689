// HttpEndpoint: the small HTTP server behind every --metrics-bind (asyncps-server's
// metrics and status page, asyncps-worker's metrics): cpp-httplib (Debian's
// libcpp-httplib) listening on HOST:PORT on its own thread pool, GET routes only,
// with one set of bounds, so that a slow, silent or hostile client costs one
// of kPoolThreads pool threads for at most the timeouts (5 s) and never grows
// memory: requests are answered at once while fewer clients than that stall.
//
// Thread-safety: handlers run on the library's threads, concurrently; they must
// only read state that is safe to read from there.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asyncps/core/status.h"

namespace httplib {
class Server;
}

namespace asyncps::tools {

struct HttpReply {
  std::string body;
  std::string content_type;
  bool no_store = false;  // Cache-Control: no-store (live data)
};

struct HttpRoute {
  std::string path;  // exact match, e.g. "/metrics"
  std::function<HttpReply()> handler;
};

class HttpEndpoint {
 public:
  static constexpr std::size_t kPoolThreads = 32;

  // Listens on `host_port` ("HOST:PORT"; port 0: one the OS picks; "[::1]:9100")
  // and serves `routes` plus GET /healthz ("ok") until destroyed.
  // InvalidArgument for a malformed HOST:PORT, Unavailable when it cannot listen.
  static Result<std::unique_ptr<HttpEndpoint>> Start(const std::string& host_port, std::vector<HttpRoute> routes);
  ~HttpEndpoint();  // stops listening and joins the thread
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // "http://HOST:PORT", with the port bound.
  const std::string& url() const { return url_; }

 private:
  HttpEndpoint();

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string url_;
};

}  // namespace asyncps::tools
