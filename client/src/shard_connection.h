// ShardConnection: the transport to one shard, isolated behind one class.
//
// A DEALER socket (not REQ: a REQ socket is stuck after a lost reply) carries
// multipart requests [header][payload?]; replies come back the same way. The
// payload is sent zero-copy from the caller's buffer; InFlight counts those
// messages until ZeroMQ releases them, so the caller can wait before letting the
// buffer change.
//
// CURVE security, when ClientOptions::curve_server_key is set, is applied here
// (one place on the client side); a monitor on the socket records failed
// handshakes so that a refused key is reported as such, not as a timeout.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "asyncps/client/client.h"
#include "asyncps/transport/shared_segment.h"
#include "asyncps/core/tsan.h"
#include "round_trip.h"

namespace asyncps::internal {

// Zero-copy sends not yet released by ZeroMQ.
class InFlight {
 public:
  void Add() { count_.fetch_add(1, std::memory_order_relaxed); }
  static void Release(void* /*data*/, void* hint) {
    ASYNCPS_TSAN_ACQUIRE(hint);
    static_cast<InFlight*>(hint)->count_.fetch_sub(1, std::memory_order_release);
  }
  // Waits until every send was released. Unbounded on purpose: returning
  // earlier would let the caller change a buffer ZeroMQ still reads. (With
  // linger 0, a closed socket's messages are released at once.)
  void WaitAllReleased() const;

 private:
  std::atomic<int> count_{0};
};

class ShardConnection {
 public:
  // segment_bytes > 0: every connection made gets a shared-memory segment
  // with request and reply regions of that size (shared_segment.h); a segment
  // that cannot be created leaves the payloads to frames.
  ShardConnection(zmq::context_t& context, std::string endpoint, const ClientOptions& options,
                  std::size_t segment_bytes = 0);

  const std::string& endpoint() const { return endpoint_; }
  zmq::socket_t& socket() { return socket_; }
  // This connection's segment, or nullptr.
  SharedSegment* segment() { return segment_.valid() ? &segment_ : nullptr; }
  // From now on (reconnects included) payloads travel as frames: `why`.
  void DropSegment(const std::string& why);
  // Why this connection has no segment though one was asked for, or "".
  const std::string& segment_refusal() const { return segment_refusal_; }

  // Queues [header][payload]; the payload (if any) is sent without copying and
  // must stay unchanged until `in_flight` has released it. False if ZeroMQ
  // refused the message (queue full).
  bool Send(std::span<const std::uint8_t> header, std::span<const std::byte> payload, InFlight& in_flight);

  // Receives one reply if one is ready. Returns false when none is; replies
  // with other than one or two frames are drained and dropped.
  bool TryReceive(zmq::message_t& header, zmq::message_t& payload);

  // After a timeout: closes the socket without lingering and connects a new one,
  // so that stale replies and queued requests are gone.
  void Reopen();

  // Why the latest security handshake with the shard failed (e.g. the shard
  // refused this client's CURVE key), or "" if none failed since the last reply.
  std::string HandshakeFailure();

 private:
  void Open();
  void DrainMonitor();

  zmq::context_t& context_;
  std::string endpoint_;
  const ClientOptions& options_;
  std::string curve_public_key_;  // derived from options_.curve_secret_key
  zmq::socket_t socket_;
  zmq::socket_t monitor_;  // handshake-failure events of socket_
  std::string handshake_failure_;
  std::size_t segment_bytes_ = 0;  // 0: no segments
  SharedSegment segment_;          // a fresh one per connection: a stale request never touches the next's
  std::string segment_refusal_;
};

// The Transport of a Client: one ShardConnection per shard on one context.
//
// Ownership: owns the context and the connections; `in_flight` outlives the
// context, so a release that ZeroMQ runs while the context shuts down never
// touches freed memory. REQUIRES: `options` outlives the transport.
class ZmqTransport : public Transport {
 public:
  // Throws zmq::error_t when an endpoint cannot be connected. segment_bytes:
  // per shard, as ShardConnection takes it (empty: no segments).
  ZmqTransport(const std::vector<std::string>& endpoints, const ClientOptions& options,
               const std::vector<std::size_t>& segment_bytes = {});
  ~ZmqTransport() override;

  std::size_t num_shards() const override { return shards_.size(); }
  const std::string& endpoint(std::size_t s) const override { return shards_[s]->endpoint(); }
  bool Send(std::size_t s, std::span<const std::uint8_t> header, std::span<const std::byte> payload) override;
  std::vector<std::size_t> Poll(std::span<const std::size_t> shards, std::chrono::milliseconds timeout) override;
  bool TryReceive(std::size_t s, ReceivedReply& reply) override;
  void Reopen(std::size_t s) override { shards_[s]->Reopen(); }
  std::string HandshakeFailure(std::size_t s) override { return shards_[s]->HandshakeFailure(); }
  void WaitSendsReleased() override { in_flight_.WaitAllReleased(); }
  SharedSegment* segment(std::size_t s) override { return shards_[s]->segment(); }
  void DropSegment(std::size_t s, const std::string& why) override { shards_[s]->DropSegment(why); }
  const std::string& segment_refusal(std::size_t s) const { return shards_[s]->segment_refusal(); }

 private:
  InFlight in_flight_;  // declared first: destroyed last
  zmq::context_t context_{1};
  std::vector<std::unique_ptr<ShardConnection>> shards_;
  // Per shard, the frames of the reply TryReceive handed out last.
  std::vector<std::pair<zmq::message_t, zmq::message_t>> received_;
};

}  // namespace asyncps::internal
