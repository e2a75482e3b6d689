// libFuzzer target: the HTTP endpoint's request handling, what asyncps-server
// and asyncps-worker --metrics-bind do with the bytes of every connection
// (tools::HttpResponder: the head's bounds, cpp-httplib's parsing over memory,
// the routes, the bearer token), without sockets.
//
// An input is one client's bytes: the first byte says how they arrive (0: in
// one read, n: in reads of n bytes), the rest is what the client sends. The
// endpoint must never crash, never keep more of a head than its bound, and
// always either answer with one whole HTTP/1.1 reply (after any 100 Continue),
// which says Connection: close and whose body has its Content-Length, or wait
// for more (then, at the end of the input, the connection would be closed, or
// answered 408 at the request timeout).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "asyncps/transport/http_endpoint.h"

namespace {

using asyncps::tools::HttpEndpointOptions;
using asyncps::tools::HttpReply;
using asyncps::tools::HttpRequestHead;
using asyncps::tools::HttpResponder;

// Small bounds, so that inputs of a few KB reach them.
HttpEndpointOptions FuzzOptions() {
  HttpEndpointOptions o;
  o.max_head_bytes = 1024;
  o.max_header_lines = 16;
  o.bearer_token = "fuzz-token";
  return o;
}

const HttpResponder& Responder() {
  static const HttpResponder* responder = new HttpResponder(
      {
          {"/metrics",
           [] {
             return HttpReply{"asyncps_up 1\n", "text/plain; version=0.0.4; charset=utf-8"};
           }},
          {"/status.json",
           [] {
             return HttpReply{"{\"shards\":[]}", "application/json", true};
           }},
          {"/",
           [] {
             return HttpReply{"<!doctype html><title>asyncps</title>" + std::string(2000, ' '), "text/html"};
           }},
          {"/throws", []() -> HttpReply { throw std::runtime_error("handler failed"); }},
      },
      FuzzOptions());
  return *responder;
}

[[noreturn]] void Fail(const char* what, std::string_view reply) {
  std::fprintf(stderr, "http_request_fuzzer: %s\n--- reply (%zu bytes) ---\n%.*s\n", what, reply.size(),
               static_cast<int>(std::min<std::size_t>(reply.size(), 2048)), reply.data());
  std::abort();
}

std::optional<std::size_t> ContentLength(std::string_view head) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    constexpr std::string_view kName = "Content-Length: ";
    if (head.substr(pos, kName.size()) == kName) {
      std::size_t n = 0;
      for (std::size_t i = pos + kName.size(); i < head.size() && head[i] >= '0' && head[i] <= '9'; ++i)
        n = n * 10 + static_cast<std::size_t>(head[i] - '0');
      return n;
    }
  }
  return std::nullopt;
}

// The request's method as cpp-httplib reads it: the first of the request
// line's space-separated fields that is not empty once spaces and tabs are trimmed.
std::string_view Method(std::string_view head) {
  std::string_view line = head.substr(0, head.find("\r\n"));
  while (!line.empty()) {
    const std::size_t space = line.find(' ');
    std::string_view field = line.substr(0, space);
    while (!field.empty() && (field.front() == ' ' || field.front() == '\t')) field.remove_prefix(1);
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.remove_suffix(1);
    if (!field.empty()) return field;
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  return {};
}

// One whole reply: status line, headers, blank line, body of Content-Length
// bytes (none for HEAD).
void CheckReply(std::string_view reply, bool head_request) {
  // Interim 100 Continue replies (to "Expect: 100-continue") come first.
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  while (reply.substr(0, kContinue.size()) == kContinue) reply.remove_prefix(kContinue.size());
  if (reply.substr(0, 9) != "HTTP/1.1 " || reply.size() < 12) Fail("no HTTP/1.1 status line", reply);
  const int status = (reply[9] - '0') * 100 + (reply[10] - '0') * 10 + (reply[11] - '0');
  if (status < 200 || status > 599) Fail("a final status outside 200..599", reply);
  const std::size_t end = reply.find("\r\n\r\n");
  if (end == std::string_view::npos) Fail("no end of the reply's headers", reply);
  const std::string_view head = reply.substr(0, end + 2);
  if (head.find("\r\nConnection: close\r\n") == std::string_view::npos) Fail("no Connection: close", reply);
  const std::string_view body = reply.substr(end + 4);
  const std::optional<std::size_t> length = ContentLength(head);
  if (!length) Fail("no Content-Length", reply);
  if (body.size() != *length && !(head_request && body.empty())) Fail("a body that is not Content-Length long", reply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const HttpResponder& responder = Responder();
  const std::size_t chunk = data[0] == 0 ? size : data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  HttpRequestHead head;
  std::optional<std::string> reply;
  while (!in.empty() && !reply) {
    const std::size_t n = std::min(chunk, in.size());
    reply = responder.Feed(head, in.substr(0, n));
    in.remove_prefix(n);
    if (head.bytes.size() > FuzzOptions().max_head_bytes) Fail("a head kept past max_head_bytes", head.bytes);
  }
  if (!reply) {
    // Waiting for more: what the endpoint sends at the request timeout.
    CheckReply(responder.TimeoutReply(), false);
    return 0;
  }
  CheckReply(*reply, Method(head.bytes) == "HEAD");
  return 0;
}
