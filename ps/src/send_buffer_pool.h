// SendBufferPool: reusable buffers for zero-copy ZeroMQ sends.
//
// A pull reply must not reference the live center variable (the next commit
// would change it while ZeroMQ's I/O thread is still sending), so the slice is
// copied once - in the encoding the worker asked for - into a pooled buffer
// that ZeroMQ frees back to the pool when it is done. This avoids a
// multi-megabyte allocation (and its page faults) per pull.
//
// Thread-safety: Acquire runs on the shard thread, the release on ZeroMQ's I/O
// thread; the free list is guarded by a mutex. The pool is held by shared_ptr
// from every message in flight, so it outlives the socket and the context.
#pragma once

#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <zmq.hpp>

#include "asyncps/compression.h"

namespace asyncps::ps {

class SendBufferPool : public std::enable_shared_from_this<SendBufferPool> {
 public:
  static std::shared_ptr<SendBufferPool> Create() { return std::shared_ptr<SendBufferPool>(new SendBufferPool()); }

  // A message holding `data` in `encoding`, sent without a further copy.
  zmq::message_t MessageWithCopyOf(std::span<const float> data, Encoding encoding) {
    const std::size_t bytes = data.size() * BytesPerValue(encoding);
    auto* lease = new Lease{shared_from_this(), Take((bytes + 3) / 4)};
    if (encoding == Encoding::kBfloat16) {
      EncodeBfloat16(data, reinterpret_cast<std::uint16_t*>(lease->buffer.data()));
    } else {
      std::memcpy(lease->buffer.data(), data.data(), bytes);
    }
    return zmq::message_t(lease->buffer.data(), bytes, &Release, lease);
  }

 private:
  struct Lease {
    std::shared_ptr<SendBufferPool> pool;
    std::vector<std::uint32_t> buffer;  // 4-byte words: aligned for every encoding
  };
  SendBufferPool() = default;

  std::vector<std::uint32_t> Take(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->size() == n) {
        std::vector<std::uint32_t> b = std::move(*it);
        free_.erase(it);
        return b;
      }
    }
    return std::vector<std::uint32_t>(n);
  }

  static void Release(void* /*data*/, void* hint) {
    std::unique_ptr<Lease> lease(static_cast<Lease*>(hint));
    std::lock_guard<std::mutex> lock(lease->pool->mu_);
    if (lease->pool->free_.size() < kMaxFree) lease->pool->free_.push_back(std::move(lease->buffer));
  }

  static constexpr std::size_t kMaxFree = 16;
  std::mutex mu_;
  std::vector<std::vector<std::uint32_t>> free_;
};

}  // namespace asyncps::ps
