// SendBufferPool: reusable float buffers for zero-copy ZeroMQ sends.
//
// A pull reply must not reference the live center variable (the next commit
// would change it while ZeroMQ's I/O thread is still sending), so the slice is
// copied once into a pooled buffer that ZeroMQ frees back to the pool when it
// is done. This avoids a multi-megabyte allocation (and its page faults) per pull.
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

namespace asyncps::ps {

class SendBufferPool : public std::enable_shared_from_this<SendBufferPool> {
 public:
  static std::shared_ptr<SendBufferPool> Create() { return std::shared_ptr<SendBufferPool>(new SendBufferPool()); }

  // A message holding a copy of `data`, sent without a further copy.
  zmq::message_t MessageWithCopyOf(std::span<const float> data) {
    auto* lease = new Lease{shared_from_this(), Take(data.size())};
    std::memcpy(lease->buffer.data(), data.data(), data.size_bytes());
    return zmq::message_t(lease->buffer.data(), data.size_bytes(), &Release, lease);
  }

 private:
  struct Lease {
    std::shared_ptr<SendBufferPool> pool;
    std::vector<float> buffer;
  };
  SendBufferPool() = default;

  std::vector<float> Take(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->size() == n) {
        std::vector<float> b = std::move(*it);
        free_.erase(it);
        return b;
      }
    }
    return std::vector<float>(n);
  }

  static void Release(void* /*data*/, void* hint) {
    std::unique_ptr<Lease> lease(static_cast<Lease*>(hint));
    std::lock_guard<std::mutex> lock(lease->pool->mu_);
    if (lease->pool->free_.size() < kMaxFree) lease->pool->free_.push_back(std::move(lease->buffer));
  }

  static constexpr std::size_t kMaxFree = 16;
  std::mutex mu_;
  std::vector<std::vector<float>> free_;
};

}  // namespace asyncps::ps
