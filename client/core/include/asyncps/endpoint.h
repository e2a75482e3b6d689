// Endpoints: the addresses asyncps binds and connects, checked before use.
//
//   tcp://HOST:PORT   PORT 1..65535; for binding also "*" or 0 (the OS picks)
//   ipc://PATH        a Unix socket path, at most 107 bytes (sun_path)
//   inproc://NAME     within one process (tests)
// ZeroMQ itself takes a port like 99999 modulo 65536 and reads other typos as
// host names, so a bad endpoint would listen elsewhere or time out: refuse it
// with a message naming it instead.
#pragma once

#include <string_view>

#include "asyncps/status.h"

namespace asyncps {

enum class EndpointUse { kBind, kConnect };

// OK, or InvalidArgument naming the endpoint and what is wrong with it.
Status CheckEndpoint(std::string_view endpoint, EndpointUse use);

}  // namespace asyncps
