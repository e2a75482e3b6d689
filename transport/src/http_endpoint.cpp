#include "asyncps/transport/http_endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>
#include <tuple>

#include <httplib.h>

#include "asyncps/transport/endpoint.h"

namespace asyncps::tools {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kHealthz = "/healthz";
constexpr std::size_t kMaxTokenFileBytes = 4096;
constexpr std::size_t kMinHeadBytes = 64;               // "GET /metrics HTTP/1.1" and a Host header fit
constexpr std::size_t kReadChunk = 4096;                // bytes read from a connection at a time
constexpr std::chrono::milliseconds kAcceptPause{100};  // after EMFILE: let connections close first

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

// Equal, in a time that does not depend on where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

// RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool IsBearerToken(std::string_view t) {
  std::size_t i = 0;
  const auto token_char = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
  };
  while (i < t.size() && token_char(t[i])) ++i;
  if (i == 0) return false;
  while (i < t.size() && t[i] == '=') ++i;
  return i == t.size();
}

std::string CannedReply(int status, std::string_view reason, std::string_view body, std::string_view extra = {}) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  r += "Connection: close\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra;
  r += "\r\n";
  r += body;
  return r;
}

std::string Seconds(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(d.count()) / 1000);
  return text;
}

// The head without its Range header lines: a reply is never split into ranges,
// so that a request of a few KB cannot ask for one body thousands of times
// over (multipart/byteranges), and cpp-httplib's range regex never sees it.
std::string WithoutRanges(std::string_view head) {
  std::string out;
  out.reserve(head.size());
  std::size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    std::size_t end = head.find('\n', pos);
    end = end == std::string_view::npos ? head.size() : end + 1;
    const std::string_view line = head.substr(pos, end - pos);
    const bool range = !first && line.size() >= 6 && EqualsIgnoreCase(line.substr(0, 6), "range:");
    if (!range) out += line;
    first = false;
    pos = end;
  }
  return out;
}

// One request head, read by cpp-httplib as if from a socket; the reply it
// writes is collected in `out`.
class MemoryStream final : public httplib::Stream {
 public:
  MemoryStream(std::string_view in, std::string& out) : in_(in), out_(out) {}
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const std::size_t n = std::min(size, in_.size() - pos_);
    if (n > 0) std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  // No socket: cpp-httplib only compares it with FD_SETSIZE.
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string& out_;
};

Status CheckOptions(const HttpEndpointOptions& o) {
  const auto bad = [](const std::string& what) { return Status::InvalidArgument("HTTP endpoint options: " + what); };
  if (o.max_connections == 0 || o.max_connections_per_peer == 0) return bad("connection bounds must be >= 1");
  if (o.max_head_bytes < kMinHeadBytes) return bad("max_head_bytes must be >= " + std::to_string(kMinHeadBytes));
  if (o.request_timeout.count() <= 0 || o.write_timeout.count() <= 0 || o.linger_timeout.count() < 0)
    return bad("request and write timeouts must be > 0, the linger timeout >= 0");
  if (o.listen_backlog < 1) return bad("listen_backlog must be >= 1");
  if (!o.bearer_token.empty() && !IsBearerToken(o.bearer_token))
    return bad("the bearer token may hold only letters, digits, -._~+/ and trailing =");
  return Status::OK();
}

// The address of `fd`'s peer, without the port; IPv4-mapped IPv6 as IPv4.
std::string PeerAddress(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&a)->sin_addr, text, sizeof text);
  } else if (a.ss_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      ::inet_ntop(AF_INET, v6.s6_addr + 12, text, sizeof text);
    } else {
      ::inet_ntop(AF_INET6, &v6, text, sizeof text);
    }
  }
  return text;
}

// A listening socket on HOST:PORT, exclusively (no SO_REUSEPORT: a second
// listener on a port in use is refused instead of taking half the requests).
Result<int> Listen(const std::string& host, int port, const std::string& host_port, int backlog) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status::Unavailable("cannot listen on --metrics-bind " + host_port + ": no such address (" +
                               ::gai_strerror(rc) + ")");
  }
  int error = 0;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      if (error == 0) error = errno;
      continue;
    }
    // SO_REUSEADDR lets a restarted server bind while old connections linger in
    // TIME_WAIT; on Linux it never lets two sockets listen on one port.
    const int yes = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, backlog) != 0) {
      if (error == 0 || errno == EADDRINUSE) error = errno;  // "in use" wins: it says what to do
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd >= 0) return fd;
  if (error == EADDRINUSE) {
    return Status::Unavailable("cannot listen on --metrics-bind " + host_port + ": port " + service +
                               " is in use (another asyncps-server or asyncps-worker on this host?): choose "
                               "another port, or port 0 for one the OS picks");
  }
  return Status::Unavailable("cannot listen on --metrics-bind " + host_port + ": " + std::strerror(error));
}

int BoundPort(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

// Sends what fits at once, without waiting (a refusal to a connection that
// must not cost the loop any time).
void SendNow(int fd, std::string_view bytes) {
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

Result<std::string> ReadBearerTokenFile(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st))
    return Status::InvalidArgument("cannot read the metrics token file " + path + ": no such file");
  if (!std::filesystem::is_regular_file(st))  // a FIFO or a device could be read forever
    return Status::InvalidArgument("metrics token file " + path + " is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::InvalidArgument("cannot read the metrics token file " + path +
                                   ": check the path and its permissions");
  std::string token(kMaxTokenFileBytes + 1, '\0');
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<std::size_t>(in.gcount()));
  if (token.size() > kMaxTokenFileBytes)
    return Status::InvalidArgument("metrics token file " + path + " is longer than " +
                                   std::to_string(kMaxTokenFileBytes) + " bytes: it should hold one token");
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
    token.pop_back();
  if (token.empty())
    return Status::InvalidArgument("metrics token file " + path +
                                   " is empty: write a token into it, e.g. openssl rand -hex 32 > " + path);
  if (!IsBearerToken(token))
    return Status::InvalidArgument("metrics token file " + path +
                                   " holds characters a bearer token cannot have: use only letters, digits, -._~+/ "
                                   "and trailing = (e.g. openssl rand -hex 32)");
  return token;
}

// ---- HttpResponder --------------------------------------------------------------------------

class HttpResponder::Router final : public httplib::Server {
 public:
  Router(std::vector<HttpRoute> routes, std::string token) : routes_(std::move(routes)), token_(std::move(token)) {
    set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      Route(req, res);
      return HandlerResponse::Handled;  // cpp-httplib's own routing (regexes, files, bodies) never runs
    });
  }

  // cpp-httplib's reply to the complete request head `head` (empty if it wrote none).
  std::string Answer(std::string_view head) {
    std::string out;
    MemoryStream stream(head, out);
    bool closed = false;
    try {
      (void)process_request(stream, /*close_connection=*/true, closed, nullptr);
    } catch (...) {
      out.clear();
    }
    return out;
  }

 private:
  void Route(const httplib::Request& req, httplib::Response& res) const {
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      res.set_content("405 method not allowed: only GET and HEAD\n", "text/plain");
      return;
    }
    if (!token_.empty() && req.path != kHealthz && !Authorised(req)) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer realm=\"asyncps\"");
      res.set_content("401 unauthorised: send Authorization: Bearer <the token of --metrics-token-file>\n",
                      "text/plain");
      return;
    }
    for (const HttpRoute& route : routes_) {
      if (route.path != req.path) continue;
      try {
        HttpReply reply = route.handler();
        res.status = 200;
        if (reply.no_store) res.set_header("Cache-Control", "no-store");
        res.set_content(reply.body, reply.content_type);
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("500 internal error: ") + e.what() + "\n", "text/plain");
      }
      return;
    }
    res.status = 404;
    res.set_content("404 not found\n", "text/plain");
  }

  // "Authorization: Bearer <token>" with our token (the scheme in any case).
  bool Authorised(const httplib::Request& req) const {
    const std::string value = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() < kScheme.size() || !EqualsIgnoreCase(std::string_view(value).substr(0, kScheme.size()), kScheme))
      return false;
    std::string_view got = std::string_view(value).substr(kScheme.size());
    while (!got.empty() && (got.front() == ' ' || got.front() == '\t')) got.remove_prefix(1);
    while (!got.empty() && (got.back() == ' ' || got.back() == '\t')) got.remove_suffix(1);
    return ConstantTimeEquals(got, token_);
  }

  const std::vector<HttpRoute> routes_;
  const std::string token_;
};

HttpResponder::HttpResponder(std::vector<HttpRoute> routes, HttpEndpointOptions options)
    : options_(std::move(options)) {
  routes.push_back({std::string(kHealthz), [] { return HttpReply{"ok\n", "text/plain"}; }});
  router_ = std::make_unique<Router>(std::move(routes), options_.bearer_token);
  timeout_reply_ = CannedReply(
      408, "Request Timeout", "408 the request head did not arrive within " + Seconds(options_.request_timeout) + "\n");
  busy_reply_ = CannedReply(503, "Service Unavailable", "503 too many connections from this address or in all: retry\n",
                            "Retry-After: 1\r\n");
  head_too_large_reply_ =
      CannedReply(431, "Request Header Fields Too Large",
                  "431 the request head is past the bound: " + std::to_string(options_.max_head_bytes) + " bytes, " +
                      std::to_string(options_.max_header_lines) + " header lines\n");
  line_too_long_reply_ =
      CannedReply(414, "URI Too Long",
                  "414 the request line is longer than " + std::to_string(options_.max_head_bytes) + " bytes\n");
}

HttpResponder::~HttpResponder() = default;
HttpResponder::HttpResponder(HttpResponder&&) noexcept = default;
HttpResponder& HttpResponder::operator=(HttpResponder&&) noexcept = default;

std::optional<std::string> HttpResponder::Feed(HttpRequestHead& head, std::string_view received) const {
  const std::size_t room = options_.max_head_bytes - std::min(options_.max_head_bytes, head.bytes.size());
  head.bytes.append(received.substr(0, room));
  const std::string& b = head.bytes;
  for (std::size_t i = head.scanned; i < b.size(); ++i) {
    if (b[i] != '\n') continue;
    ++head.lines;
    if (i >= 3 && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {  // the blank line: the head is complete
      head.scanned = i + 1;
      return Respond(std::string_view(b).substr(0, i + 1));
    }
    if (head.lines > options_.max_header_lines + 1) {  // the request line and max_header_lines header lines
      head.scanned = i + 1;
      return head_too_large_reply_;
    }
  }
  head.scanned = b.size();
  return PastBound(head);
}

std::optional<std::string> HttpResponder::PastBound(const HttpRequestHead& head) const {
  if (head.bytes.size() < options_.max_head_bytes) return std::nullopt;
  return head.lines == 0 ? line_too_long_reply_ : head_too_large_reply_;
}

std::string HttpResponder::Respond(std::string_view head) const {
  std::string reply = router_->Answer(WithoutRanges(head));
  if (reply.empty()) return CannedReply(400, "Bad Request", "400 bad request\n");
  return reply;
}

// ---- HttpEndpoint's loop ----------------------------------------------------------------------

class HttpEndpoint::Loop {
 public:
  Loop(int listen_fd, int wake_fd, HttpResponder responder, HttpEndpointOptions options)
      : listen_fd_(listen_fd), wake_fd_(wake_fd), responder_(std::move(responder)), options_(std::move(options)) {}
  ~Loop() {
    for (const auto& c : conns_) ::close(c->fd);
    ::close(listen_fd_);
    ::close(wake_fd_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Serves until Stop.
  void Run();
  // From any thread: Run returns soon after.
  void Stop() {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

 private:
  enum class Phase {
    kReading,   // waiting for the request head
    kWriting,   // sending the reply
    kLingering  // reply sent and our side shut down: dropping what the client still sends
  };
  struct Connection {
    int fd = -1;  // -1: closed, to be swept
    std::string peer;
    std::uint64_t order = 0;  // accept order: lower is older
    Phase phase = Phase::kReading;
    Clock::time_point deadline;
    HttpRequestHead head;
    std::string reply;
    std::size_t sent = 0;
    std::size_t lingered = 0;
  };

  void Accept(Clock::time_point now);
  // Room for one more connection from `peer` (evicting one if needed); false: none.
  bool MakeRoom(const std::string& peer);
  void Evict(Connection& c);
  void Read(Connection& c, Clock::time_point now);
  void StartReply(Connection& c, std::string reply, Clock::time_point now);
  void Write(Connection& c, Clock::time_point now);
  void Expire(Connection& c, Clock::time_point now);
  void Close(Connection& c) {
    ::close(c.fd);
    c.fd = -1;
  }
  void Sweep() {
    conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
  }
  int PollTimeoutMs(Clock::time_point now) const;

  const int listen_fd_;
  const int wake_fd_;
  const HttpResponder responder_;
  const HttpEndpointOptions options_;
  std::vector<std::unique_ptr<Connection>> conns_;  // at most options_.max_connections
  std::uint64_t accepted_ = 0;
  Clock::time_point accept_paused_until_{};
};

void HttpEndpoint::Loop::Run() {
  std::vector<pollfd> fds;
  for (;;) {
    Clock::time_point now = Clock::now();
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({now >= accept_paused_until_ ? listen_fd_ : -1, POLLIN, 0});  // poll skips a negative fd
    for (const auto& c : conns_)
      fds.push_back({c->fd, static_cast<short>(c->phase == Phase::kWriting ? POLLOUT : POLLIN), 0});
    const int ready = ::poll(fds.data(), fds.size(), PollTimeoutMs(now));
    if (ready < 0 && errno != EINTR) return;  // only EFAULT/EINVAL/ENOMEM: nothing to serve with
    if (fds[0].revents != 0) return;          // Stop
    now = Clock::now();
    const std::size_t polled = conns_.size();
    for (std::size_t i = 0; i < polled; ++i) {
      Connection& c = *conns_[i];
      const short revents = fds[i + 2].revents;
      if (revents == 0 || c.fd < 0) continue;
      if (c.phase == Phase::kWriting) {
        Write(c, now);
      } else {
        Read(c, now);
      }
    }
    for (const auto& c : conns_)
      if (c->fd >= 0 && now >= c->deadline) Expire(*c, now);
    Sweep();
    if ((fds[1].revents & POLLIN) != 0) Accept(now);
  }
}

int HttpEndpoint::Loop::PollTimeoutMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  if (now < accept_paused_until_) next = accept_paused_until_;
  for (const auto& c : conns_)
    if (!next || c->deadline < *next) next = c->deadline;
  if (!next) return -1;
  if (*next <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
}

void HttpEndpoint::Loop::Accept(Clock::time_point now) {
  // At most one peer's bound at a time: every connection is read at least once
  // before newer ones from its own address could take its slot.
  for (std::size_t n = 0; n < options_.max_connections_per_peer; ++n) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until_ = now + kAcceptPause;  // out of descriptors: let some connections close first
        return;
      }
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      return;  // EAGAIN: none left
    }
    std::string peer = PeerAddress(fd);
    if (!MakeRoom(peer)) {
      SendNow(fd, responder_.BusyReply());
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->peer = std::move(peer);
    c->order = accepted_++;
    c->deadline = now + options_.request_timeout;
    conns_.push_back(std::move(c));
  }
}

bool HttpEndpoint::Loop::MakeRoom(const std::string& peer) {
  std::map<std::string, std::size_t> per_peer;  // (copies: an eviction below frees its connection)
  for (const auto& c : conns_) ++per_peer[c->peer];
  // A connection may be evicted while it has not sent its request (the oldest
  // first) or after its reply; one being answered never is.
  const auto evictable_rank = [](const Connection& c) { return c.phase == Phase::kReading ? 0 : 1; };
  const auto pick = [&](auto&& eligible) -> Connection* {
    Connection* best = nullptr;
    for (const auto& c : conns_) {
      if (c->phase == Phase::kWriting || !eligible(*c)) continue;
      if (best == nullptr) {
        best = c.get();
        continue;
      }
      const auto key = [&](const Connection& x) {
        // most connections from its peer first, then waiting for a request before lingering, then oldest
        return std::tuple(-static_cast<std::int64_t>(per_peer[x.peer]), evictable_rank(x), x.order);
      };
      if (key(*c) < key(*best)) best = c.get();
    }
    return best;
  };
  if (per_peer[peer] >= options_.max_connections_per_peer) {
    Connection* victim = pick([&](const Connection& c) { return c.peer == peer; });
    if (victim == nullptr) return false;
    --per_peer[victim->peer];
    Evict(*victim);
  }
  if (conns_.size() >= options_.max_connections) {
    Connection* victim = pick([](const Connection&) { return true; });
    if (victim == nullptr) return false;
    Evict(*victim);
  }
  return true;
}

void HttpEndpoint::Loop::Evict(Connection& c) {
  if (c.phase == Phase::kReading) SendNow(c.fd, responder_.BusyReply());
  Close(c);
  Sweep();
}

void HttpEndpoint::Loop::Read(Connection& c, Clock::time_point now) {
  char buffer[kReadChunk];
  const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) Close(c);
    return;
  }
  if (n == 0) {  // the client is done: before its request head was complete, or after our reply
    Close(c);
    return;
  }
  if (c.phase == Phase::kLingering) {
    c.lingered += static_cast<std::size_t>(n);
    if (c.lingered >= options_.linger_bytes) Close(c);
    return;
  }
  if (std::optional<std::string> reply = responder_.Feed(c.head, {buffer, static_cast<std::size_t>(n)}))
    StartReply(c, std::move(*reply), now);
}

void HttpEndpoint::Loop::StartReply(Connection& c, std::string reply, Clock::time_point now) {
  c.head = HttpRequestHead{};  // its memory goes back at once
  c.reply = std::move(reply);
  c.sent = 0;
  c.phase = Phase::kWriting;
  c.deadline = now + options_.write_timeout;
  Write(c, now);
}

void HttpEndpoint::Loop::Write(Connection& c, Clock::time_point now) {
  while (c.sent < c.reply.size()) {
    const ssize_t n = ::send(c.fd, c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Close(c);
      return;
    }
    c.sent += static_cast<std::size_t>(n);
  }
  c.reply = std::string();
  (void)::shutdown(c.fd, SHUT_WR);
  c.phase = Phase::kLingering;
  c.deadline = now + options_.linger_timeout;
}

void HttpEndpoint::Loop::Expire(Connection& c, Clock::time_point now) {
  if (c.phase == Phase::kReading) {
    StartReply(c, responder_.TimeoutReply(), now);  // 408, then the usual close
  } else {
    Close(c);  // a reply not taken within write_timeout, or the linger is over
  }
}

// ---- HttpEndpoint ----------------------------------------------------------------------------

HttpEndpoint::HttpEndpoint() = default;

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& host_port, std::vector<HttpRoute> routes,
                                                          HttpEndpointOptions options) {
  Result<std::pair<std::string, int>> where = ParseHostPort(host_port);
  if (!where.ok()) return where.status();
  if (Status st = CheckOptions(options); !st.ok()) return st;
  const auto& [host, port] = where.value();
  Result<int> listening = Listen(host, port, host_port, options.listen_backlog);
  if (!listening.ok()) return listening.status();
  const int listen_fd = listening.value();
  const int bound = BoundPort(listen_fd);
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    ::close(listen_fd);
    return Status::Unavailable("cannot start the HTTP endpoint on " + host_port + ": eventfd: " + std::strerror(errno));
  }
  std::unique_ptr<HttpEndpoint> e(new HttpEndpoint());
  HttpResponder responder(std::move(routes), options);
  e->loop_ = std::make_unique<Loop>(listen_fd, wake_fd, std::move(responder), std::move(options));
  e->url_ = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  try {
    e->thread_ = std::thread([loop = e->loop_.get()] { loop->Run(); });
  } catch (const std::system_error& err) {
    return Status::Unavailable("cannot start the HTTP endpoint on " + host_port + ": " + err.what());
  }
  return e;
}

HttpEndpoint::~HttpEndpoint() {
  if (loop_) loop_->Stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace asyncps::tools
