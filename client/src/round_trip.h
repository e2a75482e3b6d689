// RoundTrip: one request to every shard at once, with retries, and the replies.
//
// The logic of a request lives here, apart from sockets and the wall clock, so
// that its retry, dedupe and stale-reply rules are unit-tested with a fake
// Transport and a fake Clock (tests/client/round_trip_test.cpp):
//   - shard s gets the request with sequence number seqs[s]; a reply counts
//     only if it verifies and carries that seq (anything else is stale or
//     garbage and is skipped);
//   - a shard that has not answered within request_timeout gets the same
//     request (same seq: a commit is still applied at most once) on a fresh
//     connection, after a back-off that doubles from retry_backoff_initial up
//     to retry_backoff_max; a late reply to an earlier attempt still counts;
//   - this goes on until the deadline (and max_attempts, if set); then the
//     round trip fails with kTimeout naming every shard that did not answer,
//     or kUnauthorised where the shard refused the security handshake;
//   - a Blocked reply (the shard's staleness bound holds this worker) is no
//     answer: the same request goes to that shard again at once, and the
//     request timeout and the deadline start afresh (the shard is alive);
//   - a shard that refuses the request for want of weights while it waits
//     for a worker's copy (Reply.recovering: asyncps-server
//     --recover-from-workers) is listed in recovering(), for the caller to
//     re-initialise it and send it the request again;
//   - a request larger than what a shard said it accepts fails at once,
//     without being sent;
//   - where the connection has a shared-memory segment (core/shared_segment.h),
//     a dense payload is copied into its request region at each send instead
//     of travelling as a frame, and a reply that says so is read from its
//     reply region (checked against the region's size);
//   - a pulled slice may come in chunks (Reply.chunks > 1): each is handed to
//     on_reply as it comes, in order, and the shard has answered when the last
//     is in; a chunk 0 starts a reply afresh, and a chunk that does not follow
//     the one taken before (index, position, the reply's update count) belongs
//     to another reply and is skipped;
//   - while it waits (for replies or during a back-off), policy.interrupt, if
//     set, is called at least every interrupt_interval, first one interval
//     after the request was sent; when it returns true the round trip stops
//     at once: the shards that did not answer get a fresh connection (a late
//     reply never reaches a later request) and it fails with kUnavailable,
//     saying it was interrupted;
//   - it never returns while the transport may still read a caller's payload.
//
// Thread-safety: none; one round trip at a time per Transport.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "asyncps/transport/shared_segment.h"
#include "asyncps/wire/wire.h"

namespace asyncps::internal {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
};

// The wall clock.
class SteadyClock : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }
};

// One reply as it arrived: its header frame and its payload frame (empty when
// the reply had one frame). The bytes belong to the transport.
struct ReceivedReply {
  std::span<const std::byte> header;
  std::span<const std::byte> payload;
};

// How requests reach the shards, one connection each. No method names a
// transport library's types; a transport failure (the library's own error,
// e.g. a terminated context) may be thrown as a std::exception, which the
// round trip turns into kUnavailable.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::size_t num_shards() const = 0;
  virtual const std::string& endpoint(std::size_t shard) const = 0;
  // Queues [header][payload] for `shard`. The payload is not copied: it must
  // stay unchanged until WaitSendsReleased returns. False if it cannot be queued.
  virtual bool Send(std::size_t shard, std::span<const std::uint8_t> header, std::span<const std::byte> payload) = 0;
  // Blocks until one of the shards in `shards` may have a reply, or `timeout`
  // passes (or a signal interrupts: then none); returns those that may.
  virtual std::vector<std::size_t> Poll(std::span<const std::size_t> shards, std::chrono::milliseconds timeout) = 0;
  // Takes one reply from `shard` if one is ready (false if none). Its bytes
  // stay valid until the next TryReceive or Reopen of `shard`.
  virtual bool TryReceive(std::size_t shard, ReceivedReply& reply) = 0;
  // Drops what is queued for `shard` and connects afresh.
  virtual void Reopen(std::size_t shard) = 0;
  // Why the latest security handshake with `shard` failed, or "".
  virtual std::string HandshakeFailure(std::size_t shard) = 0;
  // Blocks until no payload passed to Send is still read by the transport.
  virtual void WaitSendsReleased() = 0;
  // The shared-memory segment of `shard`'s connection, or nullptr when its
  // payloads travel as frames. A reconnect (Reopen) brings a fresh one.
  virtual SharedSegment* segment(std::size_t /*shard*/) { return nullptr; }
  // `shard` did not take the segment (`why`): frames from now on.
  virtual void DropSegment(std::size_t /*shard*/, const std::string& /*why*/) {}
};

// A request's payload for one shard, as it travels.
struct OutPayload {
  // Must stay unchanged until the round trip ends. They may lie in the
  // connection's own request region (a commit computed straight into it, with
  // staged_in its name): the round trip copies them out before a reconnect
  // drops that segment.
  std::span<const std::byte> bytes;
  bool sparse = false;  // positions first: always a frame
  // The name of the segment these bytes were already copied into (the caller
  // did it while checking them); a connection with another one gets a copy.
  std::string staged_in;
};

// Where a request's payload goes, for its header (wire::RequestHeader).
struct PayloadRoute {
  std::string_view segment;         // the connection's segment; empty: none
  bool payload_in_segment = false;  // the payload lies in its request region
};

struct RetryPolicy {
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{2000};
  int max_attempts = 0;  // 0: only the deadline bounds the attempts
  // Polled while waiting; true abandons the request (ClientOptions::interrupt).
  std::function<bool()> interrupt;
  std::chrono::milliseconds interrupt_interval{100};
};

class RoundTrip {
 public:
  // Builds shard s's request header with sequence number `seq` into `fbb`.
  using BuildHeader = std::function<void(std::size_t s, std::uint64_t seq, const PayloadRoute& route,
                                         flatbuffers::FlatBufferBuilder& fbb)>;
  // Takes shard s's verified reply (its error code already checked) and its
  // payload (frame 1 or the segment's reply region), valid during the call;
  // a chunked reply once per chunk (Reply.chunk_offset says where it goes).
  using OnReply = std::function<Status(std::size_t s, const wire::Reply& reply, std::span<const std::byte> payload)>;

  // The payload bytes the latest Run sent to shard s (a copy of them once
  // its segment was dropped); empty: none. Valid until the next Run.
  std::span<const std::byte> sent_payload(std::size_t s) const {
    return s < payloads_.size() ? payloads_[s].bytes : std::span<const std::byte>();
  }

  // REQUIRES: `transport` and `clock` outlive the round trip.
  RoundTrip(Transport& transport, Clock& clock, RetryPolicy policy);

  // Sends `op` to every shard (shard s: seqs[s], payloads[s] if any; payloads
  // may be empty for none), or to those listed in `shards` when it is not
  // empty, and hands each reply to on_reply. max_bytes[s] > 0:
  // shard s accepts requests up to that size (empty: no limit known). Returns
  // the first error: a shard's error reply (named by its address), on_reply's,
  // a refusal of the size, or kTimeout / kUnauthorised after `deadline`.
  Status Run(wire::Op op, std::span<const std::uint64_t> seqs, std::span<const OutPayload> payloads,
             std::span<const std::uint64_t> max_bytes, const BuildHeader& build, const OnReply& on_reply,
             std::chrono::milliseconds deadline, std::span<const std::size_t> shards = {});

  // The shards whose reply to the latest Run was a refusal for want of
  // weights from a shard waiting for a worker's copy (Reply.recovering, with
  // NotHello or NotInitialised). Empty unless every other shard answered
  // without an error: Run's error is then one of theirs.
  const std::vector<std::size_t>& recovering() const { return recovering_; }

  // "shard S at ENDPOINT".
  std::string Where(std::size_t s) const;

 private:
  Status SendPending(bool reopen);
  // Before shard s's connection is replaced: a payload that lies in its
  // request region is copied into kept_[s], which it then points to.
  void KeepPayloadFromSegment(std::size_t s);
  Status Send(std::size_t shard);
  // Shard s's reply payload: frame 1, or its segment's reply region.
  Result<std::span<const std::byte>> ReplyPayload(std::size_t s, const wire::Reply& reply,
                                                  std::span<const std::byte> frame);
  // Takes replies until every shard answered or `until` passes (a Blocked
  // reply moves `until` and the deadline on). Fails when the policy's
  // interrupt asks to stop.
  Status TakeReplies(Clock::TimePoint& until);
  // The policy's interrupt, when it is due (then the next check is set).
  bool Interrupted();
  // Where chunk reply.chunk() of shard s's reply, of `frame_bytes`, stands.
  enum class ChunkPlace { kNext, kLast, kStale };
  Result<ChunkPlace> PlaceChunk(std::size_t s, const wire::Reply& reply, std::size_t frame_bytes);
  Status Failure(std::chrono::milliseconds deadline, int attempts);

  Transport& transport_;
  Clock& clock_;
  RetryPolicy policy_;
  flatbuffers::FlatBufferBuilder fbb_{1024};
  std::vector<std::uint64_t> header_scratch_;

  // The request being run.
  wire::Op op_ = wire::Op::Hello;
  std::span<const std::uint64_t> seqs_;
  std::vector<OutPayload> payloads_;
  std::vector<std::vector<std::byte>> kept_;  // KeepPayloadFromSegment's copies
  std::span<const std::uint64_t> max_bytes_;
  const BuildHeader* build_ = nullptr;
  const OnReply* on_reply_ = nullptr;
  std::chrono::milliseconds deadline_{0};
  Clock::TimePoint give_up_{};
  Clock::TimePoint next_interrupt_check_{};
  std::vector<bool> pending_;
  // Per shard: the chunked reply being taken (index 0: none yet).
  struct ChunkCursor {
    std::uint32_t index = 0;  // the chunk expected next
    std::uint32_t chunks = 0;
    std::uint64_t offset = 0;  // its first value
    std::uint64_t updates = 0;
  };
  std::vector<ChunkCursor> cursors_;
  std::size_t remaining_ = 0;
  Status first_error_;
  std::vector<std::size_t> recovering_;
  Status recovering_error_;  // the first of the recovering shards' refusals
};

}  // namespace asyncps::internal
