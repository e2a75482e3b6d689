// Dropout: in training, zeroes each element with probability `rate` and scales
// the rest by 1/(1-rate) (inverted dropout, as Keras); identity in evaluation.
#pragma once

#include <cstdint>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

class Dropout final : public Layer {
 public:
  // REQUIRES: 0 <= rate < 1. The mask sequence is reproducible from `seed`.
  explicit Dropout(float rate, std::uint64_t seed = 1);

  const char* type_name() const override { return "Dropout"; }
  const char* name_prefix() const override { return "dropout"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  // Uses the mask of the last training Forward (identity after an evaluation Forward).
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  float rate_;
  Rng rng_;
  bool last_training_ = false;
  std::vector<float> mask_;  // 0 or 1/(1-rate) per element
};

}  // namespace asyncps::models
