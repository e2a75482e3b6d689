// SegmentTable: the shared-memory segments (core/shared_segment.h) a shard
// serves requests through, opened by name on first use and kept while their
// clients keep the names.
//
// A segment belongs to the connection (peer) that attached it first: a request
// from another connection naming it is refused (it could re-apply another
// client's last payload).
//
// Bounded: at most max_segments are open in all, never more than a quarter of
// the process's descriptor limit (each keeps one descriptor), and at most
// max_per_peer per connection; past a bound a new segment is refused, saying
// which bound (the client then uses the socket). Segments leave the table when
// their clients remove the names (closed the connection, exited cleanly), when
// their creators are gone (crashed: the table removes the names too, so the
// memory is freed), and when a client broke one (Drop). A request being held
// keeps its segment alive through the shared_ptr, whatever the table does.
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
#include <vector>

#include "asyncps/core/status.h"
#include "asyncps/transport/shared_segment.h"

namespace asyncps::ps {

class SegmentTable {
 public:
  explicit SegmentTable(std::size_t max_segments = 1024, std::size_t max_per_peer = 4);

  // The segment called `name` for the connection `peer` (its transport
  // identity), opened now if it is not open yet (the checks of
  // SharedSegment::Open). Errors say why it cannot be used.
  Result<std::shared_ptr<SharedSegment>> Attach(std::string_view name, std::string_view peer);

  // Closes the segments whose clients removed their names, and removes those
  // whose creators are gone. Call every now and then.
  void Sweep();
  // Closes `name` (its client broke it, e.g. shrank it).
  void Drop(std::string_view name);

  std::size_t size() const { return open_.size(); }
  std::size_t max_segments() const { return max_segments_; }

  // A quarter of this process's descriptor limit (RLIMIT_NOFILE, soft): the
  // most segments a table keeps open, leaving the rest to sockets and files.
  static std::size_t DescriptorBound();

 private:
  struct Entry {
    std::shared_ptr<SharedSegment> segment;
    std::string peer;
  };

  std::size_t max_segments_;
  std::size_t max_per_peer_;
  // Looked up by string_view: no allocation per request.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  std::unordered_map<std::string, Entry, NameHash, std::equal_to<>> open_;
};

}  // namespace asyncps::ps
