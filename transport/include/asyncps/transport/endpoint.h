// Endpoints: the addresses asyncps binds and connects, checked before use.
//
//   tcp://HOST:PORT   PORT 1..65535; for binding also "*" or 0 (the OS picks)
//   ipc://PATH        a Unix socket path, at most 107 bytes (sun_path)
//   inproc://NAME     within one process (tests)
// ZeroMQ itself takes a port like 99999 modulo 65536 and reads other typos as
// host names, so a bad endpoint would listen elsewhere or time out: refuse it
// with a message naming it instead.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "asyncps/core/status.h"

namespace asyncps {

enum class EndpointUse { kBind, kConnect };

// OK, or InvalidArgument naming the endpoint and what is wrong with it.
Status CheckEndpoint(std::string_view endpoint, EndpointUse use);

// The endpoint of shard i when one process serves n shards from one bind
// endpoint (asyncps-server --bind): tcp ports count up from the given one ("*"
// stays ephemeral); ipc paths get "-i". Fails when `bind` or the endpoint made
// from it is not valid (a port past 65535, a path too long for a Unix socket).
Result<std::string> ShardEndpoint(const std::string& bind, std::size_t i, std::size_t n);

// Splits the HOST:PORT of an HTTP listener (--metrics-bind of the server and
// the worker; PORT 0..65535, 0: the OS picks; "[::1]:9100" for IPv6).
// InvalidArgument naming the value otherwise.
Result<std::pair<std::string, int>> ParseHostPort(const std::string& host_port);

}  // namespace asyncps
