#include "asyncps/server/reply_buffers.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "asyncps/core/bfloat16.h"
#include "asyncps/transport/memory_map.h"
#include "asyncps/core/payload.h"
#include "asyncps/core/tsan.h"

namespace asyncps::ps {
namespace {

constexpr std::size_t kMaxFree = 2;
constexpr std::size_t kPageBytes = 4096;
// A buffer's version before Staged names it: never the slice's.
constexpr std::uint64_t kNoVersion = ~std::uint64_t{0};

}  // namespace

// What buffers are counted against and freed into.
struct ReplyBuffers::Pool {
  std::atomic<std::size_t> bytes_held{0};
  // Freed buffers kept for reuse: a fresh multi-megabyte map per version
  // would page-fault its way in. Buffers are maps of their own (not malloc's),
  // so the memory of those not kept goes back to the system at once.
  std::mutex mu;
  std::vector<MemoryMap> free;

  // nullopt: the system has no memory to map.
  std::optional<MemoryMap> Take(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto it = free.begin(); it != free.end(); ++it) {
        if (it->size() == bytes) {
          MemoryMap b = std::move(*it);
          free.erase(it);
          return b;
        }
      }
    }
    Result<MemoryMap> fresh = MemoryMap::Anonymous(bytes);
    if (!fresh.ok()) return std::nullopt;
    return std::move(fresh).value();
  }
};

struct ReplyBuffers::Buffer {
  std::shared_ptr<Pool> pool;
  MemoryMap pages;  // page-aligned: aligned for every encoding
  std::size_t values = 0;
  std::uint64_t version = kNoVersion;
  std::size_t encoded = 0;  // values encoded so far (a reply stopped early leaves the rest)

  ~Buffer() {
    pool->bytes_held.fetch_sub(pages.size(), std::memory_order_release);
    std::lock_guard<std::mutex> lock(pool->mu);
    if (pool->free.size() < kMaxFree) pool->free.push_back(std::move(pages));
  }
};

// What one reply in flight holds, shared by its chunks: its buffer and one of
// its peer's count.
struct ReplyBuffers::Lease {
  std::shared_ptr<Buffer> buffer;
  std::shared_ptr<PeerQueue> peer;
  ~Lease() { peer->replies.fetch_sub(1, std::memory_order_acq_rel); }
};

ReplyBuffers::ReplyBuffers(Limits limits) : limits_(limits), pool_(std::make_shared<Pool>()) {}

std::size_t ReplyBuffers::bytes_held() const { return pool_->bytes_held.load(std::memory_order_acquire); }

bool ReplyBuffers::Chunks(std::span<const float> data, Encoding encoding, std::uint64_t version,
                          const zmq::message_t& peer, std::size_t chunk_values, const TakeChunk& take) {
  std::shared_ptr<PeerQueue> queue = Peer(peer);
  if (queue->replies.load(std::memory_order_acquire) >= limits_.max_peer_replies) {
    ++dropped_;
    return false;
  }
  std::shared_ptr<Buffer> buffer = BufferFor(data, encoding, version);
  if (buffer == nullptr) {
    ++dropped_;
    return false;
  }
  queue->replies.fetch_add(1, std::memory_order_acq_rel);
  // Built in place: a temporary Lease would copy (it has a destructor) and give
  // the peer's count back twice.
  std::shared_ptr<Lease> lease(new Lease{buffer, std::move(queue)});
  const std::size_t per_value = BytesPerValue(encoding);
  for (std::size_t index = 0, offset = 0; offset < data.size(); ++index, offset += chunk_values) {
    const std::size_t end = std::min(data.size(), offset + chunk_values);
    if (buffer->encoded < end) {
      EncodeSlice(data.subspan(buffer->encoded, end - buffer->encoded), encoding,
                  buffer->pages.bytes().subspan(buffer->encoded * per_value, (end - buffer->encoded) * per_value));
      buffer->encoded = end;
    }
    auto* hold = new std::shared_ptr<Lease>(lease);
    ASYNCPS_TSAN_RELEASE(hold);  // handed to ZeroMQ's I/O thread with the message
    zmq::message_t chunk(buffer->pages.bytes().data() + offset * per_value, (end - offset) * per_value, &Release, hold);
    if (!take(std::move(chunk), index, offset)) break;
  }
  return true;
}

std::shared_ptr<ReplyBuffers::Buffer> ReplyBuffers::BufferFor(std::span<const float> data, Encoding encoding,
                                                              std::uint64_t version) {
  const std::shared_ptr<Buffer>& latest = latest_[encoding == Encoding::kBfloat16 ? 1 : 0];
  if (latest != nullptr && latest->version == version && latest->values == data.size()) return latest;
  std::shared_ptr<Buffer> buffer = NewLatest(data.size(), encoding);
  if (buffer != nullptr) buffer->version = version;
  return buffer;
}

std::shared_ptr<ReplyBuffers::Buffer> ReplyBuffers::NewLatest(std::size_t values, Encoding encoding) {
  std::shared_ptr<Buffer>& latest = latest_[encoding == Encoding::kBfloat16 ? 1 : 0];
  latest.reset();  // frees it now unless replies in flight still hold it
  const std::size_t bytes = values * BytesPerValue(encoding);
  const std::size_t held = (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  if (bytes == 0 || bytes_held() + held > limits_.max_bytes) return nullptr;
  std::optional<MemoryMap> pages = pool_->Take(held);
  if (!pages) return nullptr;
  auto buffer = std::make_shared<Buffer>();
  buffer->pool = pool_;
  buffer->pages = std::move(*pages);
  pool_->bytes_held.fetch_add(held, std::memory_order_acq_rel);
  buffer->values = values;
  latest = buffer;
  return buffer;
}

std::span<std::byte> ReplyBuffers::Stage(std::size_t values, Encoding encoding) {
  const std::shared_ptr<Buffer> buffer = NewLatest(values, encoding);
  staged_ = buffer;
  if (buffer == nullptr) return {};
  return buffer->pages.bytes().first(values * BytesPerValue(encoding));
}

void ReplyBuffers::Staged(std::uint64_t version) {
  const std::shared_ptr<Buffer> buffer = staged_.lock();
  staged_.reset();
  if (buffer == nullptr || buffer->version != kNoVersion) return;
  buffer->version = version;
  buffer->encoded = buffer->values;
}

std::shared_ptr<ReplyBuffers::PeerQueue> ReplyBuffers::Peer(const zmq::message_t& identity) {
  if (peers_.size() >= peers_sweep_at_) {
    // Forget peers with nothing queued (ROUTER identities change with every
    // reconnect), so the map stays as small as the peers with replies queued.
    std::erase_if(peers_, [](const auto& p) { return p.second->replies.load(std::memory_order_acquire) == 0; });
    peers_sweep_at_ = std::max<std::size_t>(1024, 2 * peers_.size());
  }
  std::shared_ptr<PeerQueue>& q = peers_[std::string(static_cast<const char*>(identity.data()), identity.size())];
  if (q == nullptr) q = std::make_shared<PeerQueue>();
  return q;
}

void ReplyBuffers::Release(void* /*data*/, void* hint) {
  ASYNCPS_TSAN_ACQUIRE(hint);
  delete static_cast<std::shared_ptr<Lease>*>(hint);
}

}  // namespace asyncps::ps
