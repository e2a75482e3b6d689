#include "asyncps/transport/endpoint.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <string>

namespace asyncps {
namespace {

constexpr std::size_t kMaxIpcPath = 107;  // sizeof(sockaddr_un::sun_path) - 1 on Linux

Status Bad(std::string_view endpoint, const std::string& why) {
  return Status::InvalidArgument("invalid endpoint '" + std::string(endpoint) + "': " + why +
                                 " (expected tcp://HOST:PORT, ipc://PATH or inproc://NAME)");
}

// ZeroMQ binds TCP to "*", an IP address or a network interface's name; a host
// name such as "localhost" would fail later with "No such device".
Status CheckBindHost(std::string_view endpoint, std::string_view host) {
  if (host == "*") return Status::OK();
  const std::string h(host.starts_with('[') && host.ends_with(']') ? host.substr(1, host.size() - 2) : host);
  in6_addr address{};
  if (inet_pton(AF_INET, h.c_str(), &address) == 1 || inet_pton(AF_INET6, h.c_str(), &address) == 1)
    return Status::OK();
  if (h.size() < IF_NAMESIZE && if_nametoindex(h.c_str()) != 0) return Status::OK();
  return Bad(endpoint, "'" + h +
                           "' is neither an IP address nor a network interface: ZeroMQ binds to an IP address "
                           "(tcp://127.0.0.1:PORT for this host only), '*' (every interface) or an interface name");
}

Status CheckTcp(std::string_view endpoint, std::string_view rest, EndpointUse use) {
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Bad(endpoint, "no HOST:PORT");
  const std::string_view port = rest.substr(colon + 1);
  if (port == "*" || port == "0") {
    if (use == EndpointUse::kBind) return CheckBindHost(endpoint, rest.substr(0, colon));
    return Bad(endpoint, "a client must name the port");
  }
  if (port.empty() || port.size() > 5) return Bad(endpoint, "the port must be a number in 1..65535");
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return Bad(endpoint, "the port must be a number in 1..65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return Bad(endpoint, "port " + std::string(port) + " is outside 1..65535");
  if (use == EndpointUse::kBind) return CheckBindHost(endpoint, rest.substr(0, colon));
  return Status::OK();
}

}  // namespace

Status CheckEndpoint(std::string_view endpoint, EndpointUse use) {
  constexpr std::string_view kTcp = "tcp://", kIpc = "ipc://", kInproc = "inproc://";
  if (endpoint.starts_with(kTcp)) return CheckTcp(endpoint, endpoint.substr(kTcp.size()), use);
  if (endpoint.starts_with(kIpc)) {
    const std::string_view path = endpoint.substr(kIpc.size());
    if (path.empty()) return Bad(endpoint, "no path");
    if (path.size() > kMaxIpcPath)
      return Bad(endpoint,
                 "the path is longer than the " + std::to_string(kMaxIpcPath) + " bytes a Unix socket allows");
    return Status::OK();
  }
  if (endpoint.starts_with(kInproc) && endpoint.size() > kInproc.size()) return Status::OK();
  return Bad(endpoint, "unknown transport");
}

Result<std::string> ShardEndpoint(const std::string& bind, std::size_t i, std::size_t n) {
  if (Status st = CheckEndpoint(bind, EndpointUse::kBind); !st.ok()) return st;
  if (n == 1) return bind;
  if (bind.starts_with("tcp://")) {
    const auto colon = bind.rfind(':');
    const std::string port = bind.substr(colon + 1);
    if (port == "*" || port == "0") return bind;
    const unsigned long p = std::stoul(port) + i;  // CheckEndpoint: 1..65535 digits
    if (p > 65535)
      return Status::InvalidArgument("shard " + std::to_string(i) + " of --bind " + bind + " would need port " +
                                     std::to_string(p) + ": pick a first port at most " + std::to_string(65536 - n));
    return bind.substr(0, colon + 1) + std::to_string(p);
  }
  // A later shard's path is longer than the bind's: check it too.
  std::string endpoint = bind + "-" + std::to_string(i);
  if (Status st = CheckEndpoint(endpoint, EndpointUse::kBind); !st.ok()) return st;
  return endpoint;
}

Result<std::pair<std::string, int>> ParseHostPort(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--metrics-bind '" + host_port + "': " + why +
                                   " (expected HOST:PORT, e.g. 0.0.0.0:9100)");
  };
  if (colon == std::string::npos || colon == 0) return bad("no HOST:PORT");
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = host_port.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return bad("the port must be a number in 0..65535");
  const int p = std::stoi(port);
  if (p > 65535) return bad("port " + port + " is outside 0..65535");
  return std::pair{host, p};
}

}  // namespace asyncps
