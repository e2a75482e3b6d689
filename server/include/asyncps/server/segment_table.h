// SegmentTable: the shared-memory segments (core/shared_segment.h) a shard
// serves requests through, opened by name on first use and kept while their
// clients keep the names.
//
// Bounded: at most max_segments are open; opening one more closes the least
// recently used (a request naming it later opens it again, as long as its
// client has not removed the name). A request being held keeps its segment
// alive through the shared_ptr, whatever the table does.
//
// Thread-safety: none; the shard's thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "asyncps/core/status.h"
#include "asyncps/transport/shared_segment.h"

namespace asyncps::ps {

class SegmentTable {
 public:
  explicit SegmentTable(std::size_t max_segments = 1024) : max_segments_(max_segments) {}

  // The segment called `name`, opened now if it is not open yet (the checks of
  // SharedSegment::Open). Errors say why it cannot be used.
  Result<std::shared_ptr<SharedSegment>> Attach(std::string_view name);

  // Closes the segments whose clients removed their names (closed the
  // connection or exited). Call every now and then.
  void Sweep();

  std::size_t size() const { return open_.size(); }

 private:
  struct Entry {
    std::shared_ptr<SharedSegment> segment;
    std::uint64_t last_use = 0;
  };
  void CloseLeastRecentlyUsed();

  std::size_t max_segments_;
  std::uint64_t uses_ = 0;
  // Looked up by string_view: no allocation per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> open_;
};

}  // namespace asyncps::ps
