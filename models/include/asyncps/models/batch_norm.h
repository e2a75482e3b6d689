// BatchNormalization: Keras' layer over the last axis (channels_last: the
// channels of an image, the features of a vector).
//
//   training:  y = gamma * (x - mean_B) / sqrt(var_B + epsilon) + beta, with the
//              batch's mean and (biased) variance over every axis but the last;
//              then moving = moving * momentum + batch statistic * (1 - momentum)
//   inference: the same with moving_mean and moving_variance
//
// Tensors, in Keras' get_weights() order: "<name>/gamma" (scale=true),
// "<name>/beta" (center=true), "<name>/moving_mean", "<name>/moving_variance",
// each [channels]. The moving statistics are parameters like the others (in
// params(), so the PS client commits and pulls them), but non-trainable: their
// gradient is always 0, so an optimizer leaves them alone and only Forward in
// training mode changes them.
//
// The moving variance is updated with the biased batch variance, as Keras 3 and
// Keras 2's non-fused path; TensorFlow's fused kernel (Keras 2 on images) uses
// the unbiased one, n / (n - 1) larger for n = batch * height * width values.
#pragma once

#include <cstddef>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

struct BatchNormOptions {
  // Keras' axis: -1, or the last axis counting the batch (3 on images, 1 on
  // vectors); the only one supported. Another is refused by Build.
  int axis = -1;
  float momentum = 0.99f;  // in [0, 1]
  float epsilon = 1e-3f;   // > 0
  bool center = true;      // false: no beta (0)
  bool scale = true;       // false: no gamma (1)
  Initializer beta_initializer = Initializer::Zeros();
  Initializer gamma_initializer = Initializer::Constant(1.0f);
  Initializer moving_mean_initializer = Initializer::Zeros();
  Initializer moving_variance_initializer = Initializer::Constant(1.0f);
};

class BatchNorm final : public Layer {
 public:
  // REQUIRES: 0 <= momentum <= 1, epsilon > 0 (the Keras reader checks them).
  explicit BatchNorm(const BatchNormOptions& options = {}) : opt_(options) {}

  const char* type_name() const override { return "BatchNormalization"; }
  const char* name_prefix() const override { return "batch_normalization"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  std::size_t num_params() const override;
  std::size_t num_non_trainable_params() const override { return 2 * in_.channels; }
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // REQUIRES: the last Forward was in training mode (Sequential's order).
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  BatchNormOptions opt_;
  // Offsets in the flat buffers; gamma and beta are kAbsent when not in the layout.
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);
  std::size_t gamma_offset_ = kAbsent, beta_offset_ = kAbsent, mean_offset_ = 0, var_offset_ = 0;
  float* params_ = nullptr;
  float* grads_ = nullptr;
  // Per channel, from the last training Forward: the batch mean and 1 / sqrt(var + epsilon).
  std::vector<float> batch_mean_, batch_inv_std_;
  std::vector<double> sum_, sum2_;  // per-channel accumulators
};

}  // namespace asyncps::models
