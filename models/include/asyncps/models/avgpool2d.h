// AvgPool2D: mean over pool windows (Keras' AveragePooling2D: pool size,
// strides, valid or same padding; with same padding a border window averages
// only the input elements it covers, as TensorFlow does).
#pragma once

#include <cstddef>

#include "asyncps/models/pool2d.h"

namespace asyncps::models {

class AvgPool2D final : public Pool2D {
 public:
  // REQUIRES: pool sizes >= 1.
  explicit AvgPool2D(const PoolOptions& options) : Pool2D(options) {}

  const char* type_name() const override { return opt_.one_d ? "AveragePooling1D" : "AveragePooling2D"; }
  const char* name_prefix() const override { return opt_.one_d ? "average_pooling1d" : "average_pooling2d"; }
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;
};

}  // namespace asyncps::models
