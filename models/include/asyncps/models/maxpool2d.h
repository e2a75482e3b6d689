// MaxPool2D: max over pool windows (Keras' MaxPooling2D: pool size, strides,
// valid or same padding; padded positions never win). Keeps argmax indices for
// Backward.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "asyncps/models/pool2d.h"

namespace asyncps::models {

class MaxPool2D final : public Pool2D {
 public:
  // REQUIRES: pool sizes >= 1.
  explicit MaxPool2D(const PoolOptions& options);
  MaxPool2D(std::size_t pool_height = 2, std::size_t pool_width = 2)
      : MaxPool2D(PoolOptions{.pool_height = pool_height, .pool_width = pool_width}) {}

  const char* type_name() const override { return opt_.one_d ? "MaxPooling1D" : "MaxPooling2D"; }
  const char* name_prefix() const override { return opt_.one_d ? "max_pooling1d" : "max_pooling2d"; }
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // Ties send the gradient to the first maximum in row-major window order;
  // overlapping windows (strides < pool) add their gradients.
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  std::vector<std::uint32_t> argmax_;  // per output element: index into the sample's input
};

}  // namespace asyncps::models
