#include "asyncps/server/segment_table.h"

#include <algorithm>
#include <iterator>

namespace asyncps::ps {

Result<std::shared_ptr<SharedSegment>> SegmentTable::Attach(std::string_view name) {
  ++uses_;
  if (auto it = open_.find(name); it != open_.end()) {
    it->second.last_use = uses_;
    return it->second.segment;
  }
  Result<SharedSegment> opened = SharedSegment::Open(name);
  if (!opened.ok()) return opened.status();
  if (open_.size() >= max_segments_) CloseLeastRecentlyUsed();
  auto segment = std::make_shared<SharedSegment>(std::move(opened).value());
  open_[std::string(name)] = {segment, uses_};
  return segment;
}

void SegmentTable::Sweep() {
  std::erase_if(open_, [](const auto& e) { return e.second.segment->unlinked(); });
}

void SegmentTable::CloseLeastRecentlyUsed() {
  const auto oldest = std::min_element(
      open_.begin(), open_.end(), [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
  if (oldest != open_.end()) open_.erase(oldest);
}

}  // namespace asyncps::ps
