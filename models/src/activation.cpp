#include "asyncps/models/activation.h"

#include <algorithm>

#include "asyncps/models/tensor.h"

namespace asyncps::models {

Result<Shape> Activation::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  in_ = out_ = input;
  name_ = name;
  return input;
}

void Activation::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t n = batch * in_.size();
  auto y = Map(out, n);
  const auto x = Map(in, n);
  switch (kind_) {
    case ActivationKind::kLinear:
      std::copy(in, in + n, out);
      return;
    case ActivationKind::kSigmoid:
      xt::noalias(y) = 1.0f / (1.0f + xt::exp(-x));
      return;
    case ActivationKind::kTanh:
      xt::noalias(y) = xt::tanh(x);
      return;
  }
}

void Activation::Backward(const float*, const float* out, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t n = batch * in_.size();
  auto dx = Map(din, n);
  const auto y = Map(out, n);
  const auto dy = Map(dout, n);
  switch (kind_) {
    case ActivationKind::kLinear:
      std::copy(dout, dout + n, din);
      return;
    case ActivationKind::kSigmoid:
      xt::noalias(dx) = dy * y * (1.0f - y);
      return;
    case ActivationKind::kTanh:
      xt::noalias(dx) = dy * (1.0f - y * y);
      return;
  }
}

}  // namespace asyncps::models
