// Activation: Keras' element-wise activations other than ReLU (which has its own
// layer, relu.h): linear, sigmoid, tanh. Softmax is not a layer: it is fused
// into the loss (softmax_cross_entropy.h), so a model ends in logits.
#pragma once

#include <string_view>

#include "asyncps/models/layer.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

enum class ActivationKind { kLinear, kSigmoid, kTanh };

class Activation final : public Layer {
 public:
  explicit Activation(ActivationKind kind) : kind_(kind) {}

  const char* type_name() const override { return "Activation"; }
  const char* name_prefix() const override { return "activation"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // Derivatives from the outputs: sigmoid y(1 - y), tanh 1 - y^2, linear 1.
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  ActivationKind kind_;
};

}  // namespace asyncps::models
