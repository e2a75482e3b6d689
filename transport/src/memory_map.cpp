#include "asyncps/transport/memory_map.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace asyncps {
MemoryMap::~MemoryMap() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

MemoryMap::MemoryMap(MemoryMap&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MemoryMap& MemoryMap::operator=(MemoryMap&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Result<MemoryMap> MemoryMap::Map(std::size_t bytes, int flags, int fd) {
  if (bytes == 0) return Status::InvalidArgument("cannot map 0 bytes");
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED)
    return Status::Unavailable("cannot map " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  return MemoryMap(p, bytes);
}

Result<MemoryMap> MemoryMap::Anonymous(std::size_t bytes) { return Map(bytes, MAP_PRIVATE | MAP_ANONYMOUS, -1); }

Result<MemoryMap> MemoryMap::Shared(int fd, std::size_t bytes) { return Map(bytes, MAP_SHARED, fd); }

}  // namespace asyncps
