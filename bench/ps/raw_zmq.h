// The baselines: plain ZeroMQ as a naive user would write it, on 127.0.0.1 TCP.
// Each side copies as such a user does: message_t(buffer, size) copies on send,
// and a received message is copied out into the user's own buffer. Server and
// clients each have their own context (own I/O thread), as separate processes would.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "harness.h"

namespace asyncps::bench {

// REQ/REP ping-pong: the request carries `floats` float32 and so does the reply
// (the bytes of one commit-and-pull). One REP server, `workers` REQ clients;
// an op is one round trip.
std::unique_ptr<Session> RawReqRep(std::size_t floats, int workers);

// The REP side of RawReqRep on a bound `socket`: receive `floats` float32, copy
// them out, send a copy back, until `stop` (checked at least every 50 ms once
// ConfigureServerSocket set the socket up: linger 0, a 50 ms receive timeout). Throws on a message of another size.
void ServeReqRep(zmq::socket_t& socket, std::size_t floats, const std::atomic<bool>& stop);
void ConfigureServerSocket(zmq::socket_t& socket);

// The REQ side: one round trip of `floats` float32 each way to `endpoint`, on
// a socket and context of its own, built on the calling thread.
Op RawReqRepClient(const std::string& endpoint, std::size_t floats);

// PUSH/PULL one-way stream of `floats`-float messages from `workers` pushers to
// one puller; an op is one message sent (in steady state the pushers' rate
// equals the puller's: the high-water marks bound the backlog).
std::unique_ptr<Session> RawPushPull(std::size_t floats, int workers);

}  // namespace asyncps::bench
