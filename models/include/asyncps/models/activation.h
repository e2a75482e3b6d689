// Activation: Keras' element-wise activations other than the plain ReLU of
// activation='relu' (which has its own layer, relu.h). Softmax is not a layer:
// it is fused into the loss (softmax_cross_entropy.h), so a model ends in logits.
//
//   linear x            sigmoid 1 / (1 + e^-x)     tanh
//   elu    x > 0 ? x : alpha (e^x - 1)             selu  1.0507 * elu(x) with alpha 1.6733
//   gelu   x Phi(x) (exact, erf: Keras' approximate=False)
//   swish  x sigmoid(x) (= silu)                   softplus log(1 + e^x)
//   softsign x / (1 + |x|)                         exponential e^x
//   hard_sigmoid        Keras 2: clip(0.2 x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6
//   relu   Keras' ReLU layer: max_value above max_value, x from threshold,
//          negative_slope * (x - threshold) below (leaky_relu: negative_slope = alpha)
#pragma once

#include <limits>

#include "asyncps/models/layer.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

enum class ActivationKind {
  kLinear,
  kSigmoid,
  kTanh,
  kElu,
  kSelu,
  kGelu,
  kSwish,
  kSoftplus,
  kSoftsign,
  kHardSigmoid,        // Keras 2
  kHardSigmoidKeras3,  // Keras 3
  kExponential,
  kRelu,
};

struct ActivationOptions {
  float alpha = 1.0f;                                        // kElu: alpha; kRelu: negative_slope
  float max_value = std::numeric_limits<float>::infinity();  // kRelu
  float threshold = 0.0f;                                    // kRelu
};

class Activation final : public Layer {
 public:
  // `type_name` and `name_prefix` as Keras shows the layer: "Activation" /
  // "activation", or an activation layer's "ReLU" / "re_lu", "LeakyReLU" /
  // "leaky_re_lu", "ELU" / "elu". REQUIRES: both are string literals.
  explicit Activation(ActivationKind kind, const ActivationOptions& options = {}, const char* type_name = "Activation",
                      const char* name_prefix = "activation")
      : kind_(kind), opt_(options), type_name_(type_name), name_prefix_(name_prefix) {}

  const char* type_name() const override { return type_name_; }
  const char* name_prefix() const override { return name_prefix_; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // At a kink (relu's threshold and max_value, hard_sigmoid's ends) the
  // derivative is that of the outer side: at the threshold negative_slope, at
  // max_value 0, at hard_sigmoid's ends 0 (ReLU's 0 at 0, as TensorFlow).
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  ActivationKind kind_;
  ActivationOptions opt_;
  const char* type_name_;
  const char* name_prefix_;
};

}  // namespace asyncps::models
