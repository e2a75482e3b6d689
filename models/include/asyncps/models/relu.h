// ReLU: out = max(in, 0); shown as Keras' Activation('relu').
#pragma once

#include "asyncps/models/layer.h"

namespace asyncps::models {

class ReLU final : public Layer {
 public:
  const char* type_name() const override { return "Activation"; }
  const char* name_prefix() const override { return "activation"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // The derivative at 0 is taken as 0 (as PyTorch and TensorFlow do).
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;
};

}  // namespace asyncps::models
