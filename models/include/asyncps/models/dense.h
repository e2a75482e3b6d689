// Dense: fully connected layer, out = in x kernel + bias, Keras kernel layout [in, out].
#pragma once

#include <cstddef>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

struct DenseOptions {
  bool use_bias = true;  // false: no bias tensor in the layout
  Initializer kernel_initializer = Initializer::Glorot();
  Initializer bias_initializer = Initializer::Zeros();
};

class Dense final : public Layer {
 public:
  // REQUIRES: units >= 1. The input must be rank 1 (use Flatten after images).
  explicit Dense(std::size_t units, const DenseOptions& options = {});

  const char* type_name() const override { return "Dense"; }
  const char* name_prefix() const override { return "dense"; }
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  std::size_t num_params() const override;
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  std::size_t units_;
  DenseOptions opt_;
  std::vector<float> zeros_, unused_db_;  // the absent bias and its gradient (use_bias false)
  std::vector<float> scratch_;            // the small-batch kernels' (dense_kernels.h), sized by Reserve
  std::size_t kernel_offset_ = 0, bias_offset_ = 0;
  float* w_ = nullptr;
  float* b_ = nullptr;
  float* dw_ = nullptr;
  float* db_ = nullptr;
};

}  // namespace asyncps::models
