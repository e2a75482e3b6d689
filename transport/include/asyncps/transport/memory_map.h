// MemoryMap: one mmap'ed region, unmapped when the object goes. Internal (not
// installed): the shard's reply buffers (anonymous pages, handed back to the
// system when freed) and the shared-memory data plane (shared_segment.h) map
// through it.
//
// Thread-safety: none needed; the region itself is as safe as its users make it.
#pragma once

#include <cstddef>
#include <span>

#include "asyncps/core/status.h"

namespace asyncps {

class MemoryMap {
 public:
  MemoryMap() = default;
  ~MemoryMap();
  MemoryMap(MemoryMap&& other) noexcept;
  MemoryMap& operator=(MemoryMap&& other) noexcept;
  MemoryMap(const MemoryMap&) = delete;
  MemoryMap& operator=(const MemoryMap&) = delete;

  // `bytes` of zeroed private memory (bytes > 0). Pages are faulted in on first
  // touch: reuse a map rather than making a fresh one per message.
  static Result<MemoryMap> Anonymous(std::size_t bytes);
  // `bytes` of the file open as `fd`, shared and read-write. The fd may be
  // closed afterwards. REQUIRES: the file is at least `bytes` long.
  static Result<MemoryMap> Shared(int fd, std::size_t bytes);

  std::byte* data() const { return static_cast<std::byte*>(data_); }
  std::size_t size() const { return size_; }
  std::span<std::byte> bytes() const { return {data(), size_}; }

 private:
  MemoryMap(void* data, std::size_t size) : data_(data), size_(size) {}
  static Result<MemoryMap> Map(std::size_t bytes, int flags, int fd);
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace asyncps
