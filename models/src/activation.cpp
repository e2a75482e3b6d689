#include "asyncps/models/activation.h"

#include <algorithm>
#include <cmath>

#include "asyncps/models/tensor.h"

namespace asyncps::models {
namespace {

// SELU's constants (Klambauer et al. 2017), as Keras writes them.
constexpr float kSeluAlpha = 1.67326324235437728481f;
constexpr float kSeluScale = 1.05070098735548049342f;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// f(x) for the kinds computed one element at a time.
float Apply(ActivationKind kind, const ActivationOptions& o, float x) {
  switch (kind) {
    case ActivationKind::kElu:
      return x > 0 ? x : o.alpha * std::expm1(x);
    case ActivationKind::kSelu:
      return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x));
    case ActivationKind::kGelu:
      return static_cast<float>(0.5 * x * (1.0 + std::erf(x * kInvSqrt2)));
    case ActivationKind::kSwish:
      return x * Sigmoid(x);
    case ActivationKind::kSoftplus:
      return std::max(x, 0.0f) + std::log1p(std::exp(-std::abs(x)));
    case ActivationKind::kSoftsign:
      return x / (1.0f + std::abs(x));
    case ActivationKind::kHardSigmoid:
      return std::clamp(0.2f * x + 0.5f, 0.0f, 1.0f);
    case ActivationKind::kHardSigmoidKeras3:
      return std::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
    case ActivationKind::kExponential:
      return std::exp(x);
    case ActivationKind::kRelu:
      if (x >= o.max_value) return o.max_value;
      if (x >= o.threshold) return x;
      return o.alpha * (x - o.threshold);
    default:
      return x;
  }
}

// f'(x), given x and y = f(x).
float Derivative(ActivationKind kind, const ActivationOptions& o, float x, float y) {
  switch (kind) {
    case ActivationKind::kElu:
      return x > 0 ? 1.0f : y + o.alpha;
    case ActivationKind::kSelu:
      return x > 0 ? kSeluScale : y + kSeluScale * kSeluAlpha;
    case ActivationKind::kGelu:
      return static_cast<float>(0.5 * (1.0 + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x));
    case ActivationKind::kSwish: {
      const float s = Sigmoid(x);
      return s + x * s * (1.0f - s);
    }
    case ActivationKind::kSoftplus:
      return Sigmoid(x);
    case ActivationKind::kSoftsign: {
      const float d = 1.0f + std::abs(x);
      return 1.0f / (d * d);
    }
    case ActivationKind::kHardSigmoid:
      return x > -2.5f && x < 2.5f ? 0.2f : 0.0f;
    case ActivationKind::kHardSigmoidKeras3:
      return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f;
    case ActivationKind::kExponential:
      return y;
    case ActivationKind::kRelu:
      if (x >= o.max_value) return 0.0f;
      return x > o.threshold ? 1.0f : o.alpha;
    default:
      return 1.0f;
  }
}

}  // namespace

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
    default:
      for (std::size_t i = 0; i < n; ++i) out[i] = Apply(kind_, opt_, in[i]);
      return;
  }
}

void Activation::Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) {
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
    default:
      for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * Derivative(kind_, opt_, in[i], out[i]);
      return;
  }
}

}  // namespace asyncps::models
