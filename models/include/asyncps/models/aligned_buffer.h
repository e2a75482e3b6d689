// AlignedBuffer: a fixed-size, 64-byte aligned, zero-initialised float array.
//
// Used for the model's flat parameter and gradient vectors and for layer
// workspaces. Moving keeps the data address, so spans into it stay valid.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace asyncps::models {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t size);

  // Grows to at least `size` elements (contents are not kept); never shrinks.
  // Returns true when it allocated.
  bool Reserve(std::size_t size);

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::span<float> span() { return {data_.get(), size_}; }
  std::span<const float> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace asyncps::models
