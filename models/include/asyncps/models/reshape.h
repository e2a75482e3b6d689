// Reshape: Keras' Reshape(target_shape) to an image [h, w, c] or a vector [n]
// (a sample's elements keep their row-major NHWC order, so it is a copy).
#pragma once

#include "asyncps/models/layer.h"

namespace asyncps::models {

class Reshape final : public Layer {
 public:
  // A dimension of 0 in `target` is inferred from the input's size (Keras' -1; at most one).
  explicit Reshape(const Shape& target) : target_(target) {}

  const char* type_name() const override { return "Reshape"; }
  const char* name_prefix() const override { return "reshape"; }
  // InvalidArgument when the target's size differs from the input's (or the
  // inferred dimension does not divide it).
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  Shape target_;
};

}  // namespace asyncps::models
