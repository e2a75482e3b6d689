#include "asyncps/models/batch_norm.h"

#include <algorithm>
#include <cmath>

namespace asyncps::models {

Result<Shape> BatchNorm::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (opt_.axis != -1 && opt_.axis != input.rank) {
    return Status::InvalidArgument(name + " (BatchNormalization): axis = " + std::to_string(opt_.axis) +
                                   " is not the last axis of " + input.ToString() +
                                   ": only the channels (last) axis is supported (-1)");
  }
  in_ = out_ = input;
  name_ = name;
  const std::size_t c = input.channels;
  if (opt_.scale) {
    Result<std::size_t> t = layout.TryAdd(name + "/gamma", {c});
    if (!t.ok()) return t.status();
    gamma_offset_ = t.value();
  }
  if (opt_.center) {
    Result<std::size_t> t = layout.TryAdd(name + "/beta", {c});
    if (!t.ok()) return t.status();
    beta_offset_ = t.value();
  }
  Result<std::size_t> mean = layout.TryAdd(name + "/moving_mean", {c});
  if (!mean.ok()) return mean.status();
  mean_offset_ = mean.value();
  Result<std::size_t> var = layout.TryAdd(name + "/moving_variance", {c});
  if (!var.ok()) return var.status();
  var_offset_ = var.value();
  batch_mean_.assign(c, 0.0f);
  batch_inv_std_.assign(c, 0.0f);
  sum_.assign(c, 0.0);
  sum2_.assign(c, 0.0);
  return out_;
}

void BatchNorm::Bind(float* params, float* grads) {
  params_ = params;
  grads_ = grads;
}

void BatchNorm::Initialize(Rng& rng) {
  const std::size_t c = in_.channels;
  if (opt_.scale) models::Initialize(opt_.gamma_initializer, {params_ + gamma_offset_, c}, c, c, rng, /*stream=*/0);
  if (opt_.center) models::Initialize(opt_.beta_initializer, {params_ + beta_offset_, c}, c, c, rng, /*stream=*/1);
  models::Initialize(opt_.moving_mean_initializer, {params_ + mean_offset_, c}, c, c, rng, /*stream=*/2);
  models::Initialize(opt_.moving_variance_initializer, {params_ + var_offset_, c}, c, c, rng, /*stream=*/3);
}

std::size_t BatchNorm::num_params() const { return in_.channels * (2 + (opt_.scale ? 1 : 0) + (opt_.center ? 1 : 0)); }

void BatchNorm::Forward(const float* in, float* out, std::size_t batch, bool training) {
  const std::size_t c = in_.channels;
  const std::size_t rows = batch * in_.height * in_.width;  // values per channel
  float* moving_mean = params_ + mean_offset_;
  float* moving_var = params_ + var_offset_;
  const float* gamma = opt_.scale ? params_ + gamma_offset_ : nullptr;
  const float* beta = opt_.center ? params_ + beta_offset_ : nullptr;
  if (training) {
    std::fill(sum_.begin(), sum_.end(), 0.0);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < c; ++k) sum_[k] += in[r * c + k];
    for (std::size_t k = 0; k < c; ++k) sum_[k] /= static_cast<double>(rows);
    std::fill(sum2_.begin(), sum2_.end(), 0.0);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t k = 0; k < c; ++k) {
        const double d = in[r * c + k] - sum_[k];
        sum2_[k] += d * d;
      }
    const float keep = opt_.momentum;
    for (std::size_t k = 0; k < c; ++k) {
      const double var = sum2_[k] / static_cast<double>(rows);
      batch_mean_[k] = static_cast<float>(sum_[k]);
      batch_inv_std_[k] = static_cast<float>(1.0 / std::sqrt(var + double{opt_.epsilon}));
      moving_mean[k] = moving_mean[k] * keep + batch_mean_[k] * (1.0f - keep);
      moving_var[k] = moving_var[k] * keep + static_cast<float>(var) * (1.0f - keep);
    }
  } else {
    for (std::size_t k = 0; k < c; ++k) {
      batch_mean_[k] = moving_mean[k];
      batch_inv_std_[k] = 1.0f / std::sqrt(moving_var[k] + opt_.epsilon);
    }
  }
  // y = (x - mean) * inv_std * gamma + beta.
  for (std::size_t r = 0; r < rows; ++r) {
    const float* x = in + r * c;
    float* y = out + r * c;
    for (std::size_t k = 0; k < c; ++k) {
      const float g = gamma ? gamma[k] : 1.0f;
      const float b = beta ? beta[k] : 0.0f;
      y[k] = (x[k] - batch_mean_[k]) * (batch_inv_std_[k] * g) + b;
    }
  }
}

void BatchNorm::Backward(const float* in, const float*, const float* dout, float* din, std::size_t batch) {
  const std::size_t c = in_.channels;
  const std::size_t rows = batch * in_.height * in_.width;
  const float* gamma = opt_.scale ? params_ + gamma_offset_ : nullptr;
  // sum_ = sum(dy) (dbeta), sum2_ = sum(dy * xhat) (dgamma), per channel.
  std::fill(sum_.begin(), sum_.end(), 0.0);
  std::fill(sum2_.begin(), sum2_.end(), 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < c; ++k) {
      const double dy = dout[r * c + k];
      sum_[k] += dy;
      sum2_[k] += dy * (in[r * c + k] - batch_mean_[k]) * batch_inv_std_[k];
    }
  for (std::size_t k = 0; k < c; ++k) {
    if (opt_.scale) grads_[gamma_offset_ + k] = static_cast<float>(sum2_[k]);
    if (opt_.center) grads_[beta_offset_ + k] = static_cast<float>(sum_[k]);
    grads_[mean_offset_ + k] = 0.0f;
    grads_[var_offset_ + k] = 0.0f;
  }
  if (din == nullptr) return;
  // dx = gamma * inv_std / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)).
  const double m = static_cast<double>(rows);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t k = 0; k < c; ++k) {
      const double xhat = (in[r * c + k] - batch_mean_[k]) * batch_inv_std_[k];
      const double g = gamma ? gamma[k] : 1.0;
      din[r * c + k] =
          static_cast<float>(g * batch_inv_std_[k] / m * (m * dout[r * c + k] - sum_[k] - xhat * sum2_[k]));
    }
}

}  // namespace asyncps::models
