// MaxPool2D: max over pool windows (stride = pool size, `valid`: a trailing
// partial window is dropped, as in Keras). Keeps argmax indices for Backward.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

class MaxPool2D final : public Layer {
 public:
  // REQUIRES: pool_height, pool_width >= 1.
  MaxPool2D(std::size_t pool_height = 2, std::size_t pool_width = 2);

  const char* type_name() const override { return "MaxPooling2D"; }
  const char* name_prefix() const override { return "max_pooling2d"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // Ties send the gradient to the first maximum in row-major window order.
  void Backward(const float* in, const float* out, const float* dout, float* din,
                std::size_t batch) override;

 private:
  std::size_t ph_, pw_;
  std::vector<std::uint32_t> argmax_;  // per output element: index into the sample's input
};

}  // namespace asyncps::models
