// HttpEndpoint: the small HTTP server behind every --metrics-bind (asyncps-server's
// metrics and status page, asyncps-worker's metrics). GET and HEAD on exact paths,
// one request per connection, every cost a client can impose bounded
// (HttpEndpointOptions; docs/operations.md, "Bounds"):
//
//   - one thread polls every connection: a client that connects and says
//     nothing, or drips its request, holds no thread, only a connection slot
//     and at most max_head_bytes of memory, for at most request_timeout;
//   - connection slots are bounded per peer address and in total; a new
//     connection past a bound takes the slot of the oldest one still sending
//     its request (that one gets 503), so a scrape that sends its request at
//     once is answered at once whatever the idle and slow clients do;
//   - the request head (request line and headers) is bounded in bytes and lines
//     (431 past either), and is parsed only once complete (cpp-httplib, Debian's
//     libcpp-httplib, without its sockets: HttpResponder);
//   - the listening port is exclusive: a port in use is refused, named.
//
// Routes may require a bearer token (HttpEndpointOptions::bearer_token); /healthz
// stays open for liveness probes.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "asyncps/core/status.h"

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

// The bounds of one endpoint (docs/operations.md, "Bounds", says what a client
// gets past each).
struct HttpEndpointOptions {
  // Connections open at once, all peers together. A new one past it takes the
  // slot of the oldest connection still sending its request (from the peer
  // with the most connections), which is answered 503 and closed; when every
  // connection is being answered, the new one gets 503.
  std::size_t max_connections = 64;
  // Connections open at once from one peer address; past it, the same, within
  // that peer's connections.
  std::size_t max_connections_per_peer = 16;
  // The request line and headers together, in bytes; past it: 431 (414 when
  // the request line alone is longer), and the connection is closed.
  std::size_t max_head_bytes = 8 * 1024;
  // Header lines besides the request line; past it: 431, closed.
  std::size_t max_header_lines = 50;
  // From accepting a connection to the end of its request head; past it: 408,
  // closed. A client that drips its request gets no more than this.
  std::chrono::milliseconds request_timeout{5000};
  // From a reply's first byte to its last; past it the connection is closed.
  std::chrono::milliseconds write_timeout{5000};
  // After a reply, what the client still sends is read and dropped for up to
  // this long and this many bytes before the close (so that the close does not
  // reset a reply the client has not read yet).
  std::chrono::milliseconds linger_timeout{1000};
  std::size_t linger_bytes = 64 * 1024;
  // The kernel's queue of connections not yet accepted (listen(2)).
  int listen_backlog = 128;
  // Non-empty: every path but /healthz needs "Authorization: Bearer <token>";
  // without it, or with another token, the reply is 401.
  std::string bearer_token;
};

// The token in `path` (asyncps-server --metrics-token-file): its content without
// trailing whitespace. InvalidArgument naming the file when it cannot be read,
// is empty, longer than 4096 bytes, or holds characters a bearer token cannot
// have (RFC 6750: letters, digits, -._~+/ and trailing =).
Result<std::string> ReadBearerTokenFile(const std::string& path);

// One request head as it arrives on a connection (HttpResponder::Feed keeps it).
struct HttpRequestHead {
  std::string bytes;        // received so far, never more than max_head_bytes
  std::size_t lines = 0;    // line ends in `bytes`
  std::size_t scanned = 0;  // bytes of `bytes` already looked at
};

// What the endpoint answers, without sockets: bytes received on a connection
// go in, the complete reply to send before closing comes out. HttpEndpoint runs
// one per endpoint on its thread; fuzz/http_request_fuzzer.cpp and the tests
// drive it directly.
//
// Thread-safety: one thread at a time (it runs the routes' handlers).
class HttpResponder {
 public:
  // Serves `routes` plus GET /healthz ("ok"), within `options`' head bounds
  // and with its bearer token.
  HttpResponder(std::vector<HttpRoute> routes, HttpEndpointOptions options);
  ~HttpResponder();
  HttpResponder(HttpResponder&&) noexcept;
  HttpResponder& operator=(HttpResponder&&) noexcept;

  // Appends `received` to `head`. Returns the reply once the head is complete
  // (the routes' answer, 400/401/404/405 included) or past a bound (414, 431);
  // nullopt while it is neither, i.e. the client has more to send. Bytes after
  // the head (a body, a second request) are ignored: one request per connection.
  std::optional<std::string> Feed(HttpRequestHead& head, std::string_view received) const;

  // The reply to a connection whose head is incomplete at request_timeout (408),
  // and to one that is turned away or evicted to make room (503).
  const std::string& TimeoutReply() const { return timeout_reply_; }
  const std::string& BusyReply() const { return busy_reply_; }

 private:
  class Router;  // cpp-httplib's request parsing and reply writing, over memory

  std::string Respond(std::string_view head) const;
  std::optional<std::string> PastBound(const HttpRequestHead& head) const;

  HttpEndpointOptions options_;
  std::unique_ptr<Router> router_;
  std::string timeout_reply_, busy_reply_, head_too_large_reply_, line_too_long_reply_;
};

class HttpEndpoint {
 public:
  // Listens on `host_port` ("HOST:PORT"; port 0: one the OS picks; "[::1]:9100")
  // and serves `routes` plus GET /healthz ("ok") until destroyed, on its own
  // thread. The handlers run on that thread, one at a time, and must be quick.
  // InvalidArgument for a malformed HOST:PORT or options with a zero bound;
  // Unavailable when it cannot listen (a port in use is named as such).
  static Result<std::unique_ptr<HttpEndpoint>> Start(const std::string& host_port, std::vector<HttpRoute> routes,
                                                     HttpEndpointOptions options = {});
  ~HttpEndpoint();  // stops listening, closes every connection, joins the thread
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // "http://HOST:PORT", with the port bound.
  const std::string& url() const { return url_; }

 private:
  class Loop;  // the poll loop: accepts, reads heads, writes replies, enforces the bounds
  HttpEndpoint();

  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::string url_;
};

}  // namespace asyncps::tools
