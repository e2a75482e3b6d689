#include "asyncps/models/dropout.h"

#include <cstring>

#include "asyncps/models/tensor.h"

namespace asyncps::models {

Dropout::Dropout(float rate, std::uint64_t seed) : rate_(rate), rng_(seed) {}

Result<Shape> Dropout::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  if (!(rate_ >= 0.0f && rate_ < 1.0f)) {
    return Status::InvalidArgument(name + " (Dropout): rate must be in [0, 1), got " + std::to_string(rate_));
  }
  in_ = out_ = input;
  name_ = name;
  return input;
}

void Dropout::Reserve(std::size_t max_batch) {
  if (mask_.size() < max_batch * in_.size()) mask_.resize(max_batch * in_.size());
}

void Dropout::Forward(const float* in, float* out, std::size_t batch, bool training) {
  const std::size_t n = batch * in_.size();
  last_training_ = training && rate_ > 0.0f;
  if (!last_training_) {
    if (out != in) std::memcpy(out, in, n * sizeof(float));
    return;
  }
  // The mask is drawn in order from the seeded generator (reproducible); the
  // product is one vectorised expression.
  const float keep = 1.0f / (1.0f - rate_);
  for (std::size_t i = 0; i < n; ++i) mask_[i] = rng_.Uniform() >= rate_ ? keep : 0.0f;
  auto y = Map(out, n);
  xt::noalias(y) = Map(in, n) * Map(mask_.data(), n);
}

void Dropout::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t n = batch * in_.size();
  if (!last_training_) {
    if (din != dout) std::memcpy(din, dout, n * sizeof(float));
    return;
  }
  auto dx = Map(din, n);
  xt::noalias(dx) = Map(dout, n) * Map(mask_.data(), n);
}

}  // namespace asyncps::models
