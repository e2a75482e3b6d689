// ReplyBuffers: the pulled slices a shard's replies carry, shared and bounded.
//
// A pull reply must not reference the live center variable (the next commit
// would change it while ZeroMQ's I/O thread still sends it), so the slice is
// copied - in the encoding asked for - into a buffer that ZeroMQ sends without
// a further copy. Replies of one version of the slice share that one buffer
// (refcounted), so pulls between two commits cost one copy in all.
//
// Memory stays bounded whatever clients do (a client that sends requests and
// never reads the replies leaves them queued in ZeroMQ):
//   - all buffers alive together hold at most Limits::max_bytes;
//   - the replies queued for one peer hold at most Limits::max_peer_replies
//     slices' worth.
// A reply that would exceed either is not sent (Chunks returns false): a
// well-behaved client resends after its request timeout, and the resend is
// deduplicated like any other.
//
// A reply may go in chunks (Chunks): each chunk is encoded just before it is
// handed over, so the I/O thread sends one while the next is encoded. Its
// chunks count as one reply against max_peer_replies until the last is freed.
//
// Thread-safety: Chunks runs on the shard thread; buffers and leases are
// released on ZeroMQ's I/O thread (atomics and a mutex guard what they touch).
// Every message in flight holds what it releases into by shared_ptr, so a
// release after the ReplyBuffers (or the socket) is gone is safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include <zmq.hpp>

#include "asyncps/core/compression.h"

namespace asyncps::ps {

class ReplyBuffers {
 public:
  struct Limits {
    std::size_t max_bytes = std::size_t{512} << 20;
    std::size_t max_peer_replies = 2;
  };
  explicit ReplyBuffers(Limits limits);

  // A reply holding `data` in `encoding`, for the peer with ROUTER identity
  // `peer`, as messages of `chunk_values` values each (the last may hold
  // fewer; data.size(): one message), in order. `version` names the state of
  // `data`: a reply of the version the latest buffer holds shares it. `take`
  // gets each message with its index and the position of its first value as
  // soon as it is encoded, and returns false to stop (the peer is gone).
  // False, having taken nothing, if a limit would be exceeded.
  // REQUIRES: chunk_values > 0.
  using TakeChunk = std::function<bool(zmq::message_t chunk, std::size_t index, std::size_t offset)>;
  bool Chunks(std::span<const float> data, Encoding encoding, std::uint64_t version, const zmq::message_t& peer,
              std::size_t chunk_values, const TakeChunk& take);

  // A buffer for a reply of `values` values in `encoding` of a version of
  // the slice not made yet: the shard writes it while it applies the commit
  // that makes it (Shard::ReplyStage). No reply uses it before Staged names
  // its version (a refused commit never does); the next Stage or Chunks of
  // another version in `encoding` drops it. Empty if a limit would be
  // exceeded (Chunks encodes the reply then).
  std::span<std::byte> Stage(std::size_t values, Encoding encoding);
  // The buffer of the last Stage holds `version` of the slice, whole.
  // REQUIRES: nothing else called since that Stage.
  void Staged(std::uint64_t version);

  // Bytes of all reply buffers alive now.
  std::size_t bytes_held() const;
  // Replies not sent because of a limit.
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Pool;
  struct Buffer;
  struct PeerQueue {
    std::atomic<std::size_t> replies{0};
  };
  struct Lease;

  std::shared_ptr<Buffer> BufferFor(std::span<const float> data, Encoding encoding, std::uint64_t version);
  // A new buffer for `values` values in `encoding`, the latest for it from now
  // on, of no version yet; null at a limit.
  std::shared_ptr<Buffer> NewLatest(std::size_t values, Encoding encoding);
  std::shared_ptr<PeerQueue> Peer(const zmq::message_t& identity);
  static void Release(void* data, void* hint);

  Limits limits_;
  std::shared_ptr<Pool> pool_;
  std::uint64_t dropped_ = 0;
  // The latest buffer per encoding (shard thread only).
  std::shared_ptr<Buffer> latest_[2];
  std::weak_ptr<Buffer> staged_;  // the last Stage's (latest_ holds it)
  // Queued replies per peer (shard thread; counts change on the I/O thread).
  std::unordered_map<std::string, std::shared_ptr<PeerQueue>> peers_;
  std::size_t peers_sweep_at_ = 1024;
};

}  // namespace asyncps::ps
