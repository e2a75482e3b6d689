// The HTTP endpoint behind every --metrics-bind (transport/http_endpoint.h)
// against the clients an exposed port meets: idle and dripping connections by
// the hundred, oversized heads, a second listener on its port, requests without
// the bearer token. In process, on 127.0.0.1 with OS-chosen ports; every
// connection and wait is bounded.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <httplib.h>

#include "asyncps/transport/http_endpoint.h"
#include "support/server_process.h"
#include "support/time_scale.h"

using namespace asyncps;
using asyncps::testing::TempDir;
using asyncps::testing::TimeScale;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kMetricsBody = "asyncps_up 1\n";

std::vector<tools::HttpRoute> Routes() {
  return {{"/metrics",
           [] {
             return tools::HttpReply{kMetricsBody, "text/plain; version=0.0.4"};
           }},
          {"/page", [] {
             return tools::HttpReply{std::string(10000, 'p'), "text/html"};
           }}};
}

std::unique_ptr<tools::HttpEndpoint> StartEndpoint(tools::HttpEndpointOptions options = {}) {
  auto e = tools::HttpEndpoint::Start("127.0.0.1:0", Routes(), std::move(options));
  INFO(e.status().message());
  REQUIRE(e.ok());
  return std::move(e).value();
}

int PortOf(const tools::HttpEndpoint& e) { return std::stoi(e.url().substr(e.url().rfind(':') + 1)); }

// A blocking TCP connection to 127.0.0.1:port; its reads and writes give up after 5 s.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Everything the server sends until it closes (or 5 s pass).
std::string ReadToClose(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// One request on its own connection; the whole reply.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  (void)SendAll(fd, request);
  std::string reply = ReadToClose(fd);
  ::close(fd);
  return reply;
}

std::string StatusLine(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

std::string Body(const std::string& reply) {
  const auto end = reply.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : reply.substr(end + 4);
}

// How many of `fds` the server has not closed by `until` (each one's pending
// reply, if any, is read and dropped).
std::size_t StillOpen(const std::vector<int>& fds, Clock::time_point until) {
  std::vector<pollfd> open;
  for (int fd : fds) open.push_back({fd, POLLIN, 0});
  while (!open.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) break;
    if (::poll(open.data(), open.size(), static_cast<int>(left)) <= 0) continue;
    std::vector<pollfd> next;
    for (const pollfd& p : open) {
      bool closed = false;
      if (p.revents != 0) {
        char buffer[4096];
        for (;;) {
          const ssize_t n = ::recv(p.fd, buffer, sizeof buffer, MSG_DONTWAIT);
          if (n > 0) continue;
          closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          break;
        }
      }
      if (!closed) next.push_back({p.fd, POLLIN, 0});
    }
    open = std::move(next);
  }
  return open.size();
}

}  // namespace

TEST_CASE("a scrape is answered within a second while 200 idle and 40 dripping connections are open",
          "[http][bounds]") {
  auto endpoint = StartEndpoint();
  const int port = PortOf(*endpoint);
  std::vector<int> attackers;
  for (int i = 0; i < 200; ++i) attackers.push_back(Connect(port));  // connect, say nothing
  for (int i = 0; i < 40; ++i) {  // a request that never ends: a header line, then a byte at a time
    const int fd = Connect(port);
    (void)SendAll(fd, "GET /metrics HTTP/1.1\r\nX-Drip: ");
    attackers.push_back(fd);
  }
  for (int fd : attackers) (void)::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);

  httplib::Client scrape("127.0.0.1", port);
  scrape.set_connection_timeout(5, 0);
  scrape.set_read_timeout(5, 0);
  const auto t0 = Clock::now();
  auto res = scrape.Get("/metrics");
  const auto took = Clock::now() - t0;
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == kMetricsBody);
  CHECK(took < 1s * TimeScale());
  // The attackers' connections are bounded in count: the server keeps at most
  // one peer's bound of them (all come from 127.0.0.1) and has closed the rest,
  // each with a 503, by now.
  CHECK(StillOpen(attackers, Clock::now() + 2s) <= tools::HttpEndpointOptions{}.max_connections_per_peer);
  for (int fd : attackers) ::close(fd);
}

TEST_CASE("a client dripping its request is answered 408 and closed at the request timeout", "[http][bounds]") {
  auto endpoint = StartEndpoint();
  const int fd = Connect(PortOf(*endpoint));
  const auto t0 = Clock::now();
  REQUIRE(SendAll(fd, "GET /metrics HTTP/1.1\r\nX-Drip: "));
  // A byte every 200 ms (far inside any per-read timeout) until the server
  // answers, for at most 8 s.
  pollfd p{fd, POLLIN, 0};
  while (Clock::now() - t0 < 8s && ::poll(&p, 1, 200) == 0) (void)::send(fd, "a", 1, MSG_NOSIGNAL);
  const auto answered = Clock::now() - t0;
  const std::string reply = ReadToClose(fd);
  ::close(fd);
  CHECK(StatusLine(reply) == "HTTP/1.1 408 Request Timeout");
  const auto timeout = tools::HttpEndpointOptions{}.request_timeout;
  CHECK(answered >= timeout - 100ms);
  CHECK(answered < timeout + 1500ms * TimeScale());
}

TEST_CASE("request heads past the bounds in lines or bytes get 431, those within are answered", "[http][bounds]") {
  auto endpoint = StartEndpoint();
  const int port = PortOf(*endpoint);
  const tools::HttpEndpointOptions bounds;
  const auto request = [](std::size_t lines, std::size_t line_bytes) {
    std::string r = "GET /metrics HTTP/1.1\r\n";
    for (std::size_t i = 0; i < lines; ++i) {
      std::string line = "X-H" + std::to_string(i) + ": ";
      line += std::string(line_bytes > line.size() + 2 ? line_bytes - line.size() - 2 : 1, 'v');
      r += line + "\r\n";
    }
    return r + "\r\n";
  };
  // Lines: exactly the bound is answered, one more is not.
  CHECK(StatusLine(Exchange(port, request(bounds.max_header_lines, 16))) == "HTTP/1.1 200 OK");
  CHECK(StatusLine(Exchange(port, request(bounds.max_header_lines + 1, 16))) ==
        "HTTP/1.1 431 Request Header Fields Too Large");
  // Bytes: 9 lines of 1000 bytes (no line near cpp-httplib's own 8 KiB line limit).
  const std::string big = request(9, 1000);
  REQUIRE(big.size() > bounds.max_head_bytes);
  CHECK(StatusLine(Exchange(port, big)) == "HTTP/1.1 431 Request Header Fields Too Large");
  CHECK(StatusLine(Exchange(port, request(7, 1000))) == "HTTP/1.1 200 OK");
  // A request line longer than the whole bound.
  CHECK(StatusLine(Exchange(port, "GET /" + std::string(bounds.max_head_bytes, 'u'))) == "HTTP/1.1 414 URI Too Long");
}

TEST_CASE("a Range header does not multiply a reply", "[http][bounds]") {
  auto endpoint = StartEndpoint();
  // 1,000 ranges of the whole 10 KB page: 10 MB as multipart/byteranges.
  std::string ranges = "bytes=0-";
  for (int i = 1; i < 1000; ++i) ranges += ",0-";
  const std::string reply = Exchange(PortOf(*endpoint), "GET /page HTTP/1.1\r\nRange: " + ranges + "\r\n\r\n");
  CHECK(StatusLine(reply) == "HTTP/1.1 200 OK");
  CHECK(Body(reply).size() == 10000);
}

TEST_CASE("a second endpoint on a port in use fails, naming the port", "[http]") {
  auto first = StartEndpoint();
  const std::string port = std::to_string(PortOf(*first));
  auto second = tools::HttpEndpoint::Start("127.0.0.1:" + port, Routes());
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::kUnavailable);
  CHECK_THAT(second.status().message(), Catch::Contains("port " + port + " is in use"));
  CHECK_THAT(second.status().message(), Catch::Contains("--metrics-bind 127.0.0.1:" + port));
  // Every request still reaches the first.
  for (int i = 0; i < 20; ++i) CHECK(Body(Exchange(PortOf(*first), "GET /metrics HTTP/1.1\r\n\r\n")) == kMetricsBody);
}

TEST_CASE("with a bearer token every path but /healthz needs it", "[http][token]") {
  tools::HttpEndpointOptions options;
  options.bearer_token = "s3cret-Token_1";
  auto endpoint = StartEndpoint(options);
  const int port = PortOf(*endpoint);
  const auto get = [&](const std::string& path, const std::string& authorization) {
    std::string r = "GET " + path + " HTTP/1.1\r\nHost: x\r\n";
    if (!authorization.empty()) r += "Authorization: " + authorization + "\r\n";
    return Exchange(port, r + "\r\n");
  };
  const std::string unauthorised = "HTTP/1.1 401 Unauthorized";
  for (const char* path : {"/metrics", "/page", "/no-such-path"}) {
    INFO(path);
    CHECK(StatusLine(get(path, "")) == unauthorised);
    CHECK(StatusLine(get(path, "Bearer wrong")) == unauthorised);
    CHECK(StatusLine(get(path, "Bearer s3cret-Token_")) == unauthorised);  // a prefix
    CHECK(StatusLine(get(path, "Basic s3cret-Token_1")) == unauthorised);
  }
  CHECK_THAT(get("/metrics", ""), Catch::Contains("WWW-Authenticate: Bearer"));
  CHECK(Body(get("/metrics", "Bearer s3cret-Token_1")) == kMetricsBody);
  CHECK(Body(get("/metrics", "bearer  s3cret-Token_1")) == kMetricsBody);  // the scheme in any case
  CHECK(StatusLine(get("/no-such-path", "Bearer s3cret-Token_1")) == "HTTP/1.1 404 Not Found");
  // Liveness probes need no token.
  CHECK(Body(get("/healthz", "")) == "ok\n");
}

TEST_CASE("a bearer token file is read without its newline, an empty, missing or odd one is refused, named",
          "[http][token]") {
  TempDir dir;
  std::ofstream(dir / "token") << "abc-123_XYZ==\n";
  auto token = tools::ReadBearerTokenFile(dir / "token");
  REQUIRE(token.ok());
  CHECK(token.value() == "abc-123_XYZ==");
  std::ofstream(dir / "empty") << "\n";
  std::ofstream(dir / "spaces") << "two words\n";
  for (const std::string name : {"empty", "spaces", "missing"}) {
    auto bad = tools::ReadBearerTokenFile(dir / name);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.status().message(), Catch::Contains(dir / name));
  }
  CHECK_FALSE(tools::ReadBearerTokenFile(dir.path()).ok());  // a directory
  tools::HttpEndpointOptions options;
  options.bearer_token = "line\r\nbreak";
  CHECK(tools::HttpEndpoint::Start("127.0.0.1:0", Routes(), options).status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("the responder answers a head however it is split, and keeps no more of it than the bound", "[http]") {
  tools::HttpEndpointOptions options;
  const tools::HttpResponder responder(Routes(), options);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
  tools::HttpRequestHead whole;
  const std::optional<std::string> at_once = responder.Feed(whole, request);
  REQUIRE(at_once);
  CHECK(StatusLine(*at_once) == "HTTP/1.1 200 OK");
  CHECK(Body(*at_once) == kMetricsBody);
  tools::HttpRequestHead split;
  for (std::size_t i = 0; i + 1 < request.size(); ++i) CHECK_FALSE(responder.Feed(split, request.substr(i, 1)));
  const std::optional<std::string> byte_by_byte = responder.Feed(split, request.substr(request.size() - 1));
  REQUIRE(byte_by_byte);
  CHECK(*byte_by_byte == *at_once);

  const auto answer = [&](const std::string& r) {
    tools::HttpRequestHead head;
    return StatusLine(responder.Feed(head, r).value_or("(none)"));
  };
  CHECK(answer("POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") == "HTTP/1.1 405 Method Not Allowed");
  CHECK(answer("GET /nothing HTTP/1.1\r\n\r\n") == "HTTP/1.1 404 Not Found");
  CHECK(answer("\r\n\r\n") == "HTTP/1.1 400 Bad Request");
  CHECK(answer("GET /metrics HTTP/9.9\r\n\r\n") == "HTTP/1.1 400 Bad Request");
  tools::HttpRequestHead head_only;
  const std::optional<std::string> head = responder.Feed(head_only, "HEAD /metrics HTTP/1.1\r\n\r\n");
  REQUIRE(head);
  CHECK(Body(*head).empty());

  // Header lines streamed without end: answered 431 at the bound, never stored past it.
  tools::HttpRequestHead streamed;
  std::optional<std::string> reply = responder.Feed(streamed, "GET /metrics HTTP/1.1\r\n");
  for (int i = 0; i < 100000 && !reply; ++i) {
    reply = responder.Feed(streamed, "X-Pad: " + std::string(100, 'a') + "\r\n");
    REQUIRE(streamed.bytes.size() <= options.max_head_bytes);
  }
  REQUIRE(reply);
  CHECK(StatusLine(*reply) == "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_CASE("a handler that throws is answered 500 and the endpoint goes on", "[http]") {
  auto e = tools::HttpEndpoint::Start(
      "127.0.0.1:0", {{"/boom", []() -> tools::HttpReply { throw std::runtime_error("no metrics yet"); }}});
  REQUIRE(e.ok());
  const int port = PortOf(*e.value());
  const std::string reply = Exchange(port, "GET /boom HTTP/1.1\r\n\r\n");
  CHECK(StatusLine(reply) == "HTTP/1.1 500 Internal Server Error");
  CHECK_THAT(reply, Catch::Contains("no metrics yet"));
  CHECK(Body(Exchange(port, "GET /healthz HTTP/1.1\r\n\r\n")) == "ok\n");
}
