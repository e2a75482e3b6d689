#include "asyncps/server/segment_table.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>

namespace asyncps::ps {

SegmentTable::SegmentTable(std::size_t max_segments, std::size_t max_per_peer)
    : max_segments_(std::min(max_segments, DescriptorBound())), max_per_peer_(max_per_peer) {}

std::size_t SegmentTable::DescriptorBound() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::size_t{1} << 20;
  return static_cast<std::size_t>(limit.rlim_cur) / 4;
}

Result<std::shared_ptr<SharedSegment>> SegmentTable::Attach(std::string_view name, std::string_view peer) {
  if (auto it = open_.find(name); it != open_.end()) {
    if (it->second.peer != peer)
      return Status::InvalidArgument("shared memory " + std::string(name) + " belongs to another connection");
    return it->second.segment;
  }
  if (open_.size() >= max_segments_) {
    return Status::Unavailable("this shard has " + std::to_string(open_.size()) +
                               " shared-memory segments open, its bound (at most a quarter of the descriptor "
                               "limit, ulimit -n): this connection uses the socket");
  }
  const auto of_peer = static_cast<std::size_t>(
      std::count_if(open_.begin(), open_.end(), [&](const auto& e) { return e.second.peer == peer; }));
  if (of_peer >= max_per_peer_) {
    return Status::Unavailable("this connection has " + std::to_string(of_peer) +
                               " shared-memory segments open already, the most one may");
  }
  Result<SharedSegment> opened = SharedSegment::Open(name);
  if (!opened.ok()) return opened.status();
  auto segment = std::make_shared<SharedSegment>(std::move(opened).value());
  open_[std::string(name)] = {segment, std::string(peer)};
  return segment;
}

void SegmentTable::Sweep() {
  std::erase_if(open_, [](const auto& e) {
    const SharedSegment& s = *e.second.segment;
    if (s.unlinked()) return true;
    if (!s.creator_gone()) return false;
    ::shm_unlink(s.name().c_str());  // its creator crashed: nobody else will free the memory
    return true;
  });
}

void SegmentTable::Drop(std::string_view name) {
  if (auto it = open_.find(name); it != open_.end()) open_.erase(it);
}

}  // namespace asyncps::ps
