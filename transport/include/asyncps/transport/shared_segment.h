// SharedSegment: the same-host data plane's memory, one POSIX shared-memory
// object per client connection to a shard. Internal (not installed): the
// client creates segments, the shard opens them (server/include/asyncps/server/segment_table.h).
//
// A request names its connection's segment; its payload then lies in the
// request region instead of frame 1, and the shard writes the pulled slice
// into the reply region instead of a reply frame. Only the small header frames
// travel over ZeroMQ. Ownership of the regions alternates with the messages:
// the client writes the request region and reads the reply region only while
// no request of that connection is unanswered; the shard touches them only
// while it handles (or holds) that request. A client never reuses a segment for
// a fresh connection: whatever a stale request does to the old one, nobody
// reads it.
//
// Safety: an object is created with O_EXCL and mode 0600 under a random name,
// and Open refuses one not owned by this process's user or open to anyone
// else. What Open checks it reads once (the geometry); payload values are
// verified in the shard as they are used. A process of the same user can still
// change a region while the shard reads it, or shrink the object: the shard
// touches a segment only under GuardSigbus (sigbus_guard.h), so a shrunk or
// unbackable segment costs its client its request, not the server its life.
//
// Liveness: the creating process holds an exclusive flock(2) on the object for
// as long as the segment lives (a forked child shares it). A segment whose
// lock is free is provably its creator's no more, in any pid namespace: only
// such segments (older than a second, past the creation window) are removed
// as orphans, by the next client's Create and by the shard's sweep.
//
// Thread-safety: none; each side uses a segment from one thread at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "asyncps/core/status.h"
#include "asyncps/transport/memory_map.h"

namespace asyncps {

class SharedSegment {
 public:
  // The size of the header a segment starts with; also both regions' alignment.
  static constexpr std::size_t kHeaderBytes = 64;

  SharedSegment() = default;
  ~SharedSegment();
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;

  // Client: creates a segment with room for a request payload of
  // `request_bytes` and a reply payload of `reply_bytes`, named
  // /asyncps-<pid>-<random>. Its name is removed when the object goes in the
  // process that created it (the shard's mapping stays valid until the shard
  // lets go); a forked child's copy leaves it to the parent. Removes segments
  // left behind by processes that no longer run.
  static Result<SharedSegment> Create(std::size_t request_bytes, std::size_t reply_bytes);
  // Shard: opens the segment `name` (as Create names them) after checking that
  // it is a regular file of this process's user, with no permissions for
  // anyone else, and that its header and size describe both regions.
  static Result<SharedSegment> Open(std::string_view name);

  bool valid() const { return map_.size() > 0; }
  const std::string& name() const { return name_; }
  // The whole mapping: what an access must guard (GuardSigbus).
  std::span<const std::byte> mapping() const { return {map_.data(), map_.size()}; }
  std::span<std::byte> request() const { return {map_.data() + kHeaderBytes, request_bytes_}; }
  std::span<std::byte> reply() const { return {map_.data() + reply_offset_, reply_bytes_}; }
  // True once the segment's name was removed: its client closed the connection
  // (or exited cleanly). REQUIRES: opened with Open.
  bool unlinked() const;
  // True when no process holds the creator's lock any more: the client died
  // without removing the name. REQUIRES: opened with Open.
  bool creator_gone() const;

 private:
  void Close();

  MemoryMap map_;
  std::string name_;
  int fd_ = -1;         // Create: holds the creator's lock; Open: for unlinked() and creator_gone()
  bool owner_ = false;  // Create: unlink the name when destroyed, in the creating process
  pid_t creator_ = 0;   // the creating process (a forked child must not unlink)
  std::size_t request_bytes_ = 0;
  std::size_t reply_offset_ = 0, reply_bytes_ = 0;
};

// True when `name` has the form Create gives names (checked before any open).
bool IsSegmentName(std::string_view name);

}  // namespace asyncps
