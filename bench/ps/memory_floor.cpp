#include "memory_floor.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "asyncps/core/apply_commit.h"
#include "asyncps/core/payload.h"

namespace asyncps::bench {
namespace {

// The shard's side: its slice and the segment's two regions, and a thread that
// answers each posted request. Thread-safety: the client writes `request` and
// reads `reply` only as the atomics allow (as a segment's owner does).
class FloorShard {
 public:
  FloorShard(std::size_t floats, std::size_t chunk_values)
      : chunk_(std::max<std::size_t>(1, std::min(chunk_values, floats))),
        center_(floats, 0.5f),
        next_(floats),
        request_(floats),
        reply_(floats),
        thread_([this] { Serve(); }) {}
  ~FloorShard() {
    stop_ = true;
    posted_.fetch_add(1);
    posted_.notify_one();
    thread_.join();
  }

  // One round trip: `delta` in, the new center out into `w`, its chunks taken
  // as the shard releases them.
  void RoundTrip(const std::vector<float>& delta, std::vector<float>& w) {
    if (CopyCheckingFinite(delta, request_.data()) >= 0) throw std::runtime_error("memory floor: non-finite delta");
    released_.store(0);
    posted_.fetch_add(1);
    posted_.notify_one();
    for (std::size_t taken = 0; taken < w.size();) {
      std::size_t ready;
      while ((ready = released_.load()) == taken) released_.wait(taken);
      Decode(DenseView(std::span<const float>(reply_).subspan(taken, ready - taken)),
             std::span<float>(w).subspan(taken, ready - taken));
      taken = ready;
    }
  }

 private:
  void Serve() {
    for (std::uint64_t seen = 0;;) {
      posted_.wait(seen);
      seen = posted_.load();
      if (stop_) return;
      const PayloadView delta = DenseView(request_);
      bool finite = true;  // the client checked it: always
      for (std::size_t begin = 0; begin < center_.size(); begin += chunk_) {
        const std::size_t n = std::min(chunk_, center_.size() - begin);
        PayloadView part = delta;
        part.values = request_.data() + begin;
        part.count = n;
        finite &= AddScaled(std::span<const float>(center_).subspan(begin, n), part, 1.0f,
                            std::span<float>(next_).subspan(begin, n), std::span<float>(reply_).subspan(begin, n))
                      .at < 0;
        released_.store(begin + n);
        released_.notify_one();
      }
      if (finite) center_.swap(next_);
    }
  }

  const std::size_t chunk_;
  std::vector<float> center_, next_, request_, reply_;
  std::atomic<std::uint64_t> posted_{0};  // requests posted (and one more to stop)
  std::atomic<std::size_t> released_{0};  // values of the current reply written
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace

std::unique_ptr<Session> MemoryFloor(std::size_t floats, std::size_t chunk_values) {
  return std::make_unique<Session>(1, [floats, chunk_values](int) -> Op {
    auto shard = std::make_shared<FloorShard>(floats, chunk_values);
    auto delta = std::make_shared<std::vector<float>>(floats, 1e-7f);
    auto w = std::make_shared<std::vector<float>>(floats);
    return [shard, delta, w] { shard->RoundTrip(*delta, *w); };
  });
}

}  // namespace asyncps::bench
