// Flatten: (h, w, c) -> (h*w*c) in NHWC order, as Keras does; a no-op on memory.
#pragma once

#include "asyncps/models/layer.h"

namespace asyncps::models {

class Flatten final : public Layer {
 public:
  const char* type_name() const override { return "Flatten"; }
  const char* name_prefix() const override { return "flatten"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;
};

}  // namespace asyncps::models
