// The baselines: plain ZeroMQ as a naive user would write it, on 127.0.0.1 TCP.
// Each side copies as such a user does: message_t(buffer, size) copies on send,
// and a received message is copied out into the user's own buffer. Server and
// clients each have their own context (own I/O thread), as separate processes would.
#pragma once

#include <cstddef>
#include <memory>

#include "harness.h"

namespace asyncps::bench {

// REQ/REP ping-pong: the request carries `floats` float32 and so does the reply
// (the bytes of one commit-and-pull). One REP server, `workers` REQ clients;
// an op is one round trip.
std::unique_ptr<Session> RawReqRep(std::size_t floats, int workers);

// PUSH/PULL one-way stream of `floats`-float messages from `workers` pushers to
// one puller; an op is one message sent (in steady state the pushers' rate
// equals the puller's: the high-water marks bound the backlog).
std::unique_ptr<Session> RawPushPull(std::size_t floats, int workers);

}  // namespace asyncps::bench
