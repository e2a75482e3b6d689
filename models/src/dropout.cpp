#include "asyncps/models/dropout.h"

#include <cstring>

namespace asyncps::models {

Dropout::Dropout(float rate, std::uint64_t seed) : rate_(rate), rng_(seed) {}

Result<Shape> Dropout::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  if (!(rate_ >= 0.0f && rate_ < 1.0f)) {
    return Status::InvalidArgument(name + " (Dropout): rate must be in [0, 1), got " +
                                   std::to_string(rate_));
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
  const float keep = 1.0f / (1.0f - rate_);
  for (std::size_t i = 0; i < n; ++i) {
    mask_[i] = rng_.Uniform() >= rate_ ? keep : 0.0f;
    out[i] = in[i] * mask_[i];
  }
}

void Dropout::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t n = batch * in_.size();
  if (!last_training_) {
    if (din != dout) std::memcpy(din, dout, n * sizeof(float));
    return;
  }
  for (std::size_t i = 0; i < n; ++i) din[i] = dout[i] * mask_[i];
}

}  // namespace asyncps::models
