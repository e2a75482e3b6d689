#include "asyncps/models/aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace asyncps::models {

void AlignedBuffer::Free::operator()(float* p) const { std::free(p); }

AlignedBuffer::AlignedBuffer(std::size_t size) { Reserve(size); }

bool AlignedBuffer::Reserve(std::size_t size) {
  if (size <= size_ && data_) return false;
  const std::size_t bytes = ((size * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes == 0 ? 64 : bytes);
  data_.reset(static_cast<float*>(p));
  size_ = size;
  return true;
}

}  // namespace asyncps::models
