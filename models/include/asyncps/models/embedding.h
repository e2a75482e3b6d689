// Embedding: Keras' Embedding(input_dim, output_dim): a sample's `length` token
// ids (floats holding whole numbers in [0, input_dim)) become their rows of the
// embeddings [input_dim, output_dim]: [length] -> [length, output_dim], a
// sequence for the recurrent, Conv1D and 1D pooling layers. The ids get no
// gradient; the embeddings' gradient is the sum of dL/dout over each id's uses.
#pragma once

#include <cstddef>

#include "asyncps/models/layer.h"

namespace asyncps::models {

struct EmbeddingOptions {
  std::size_t input_dim = 0;   // the vocabulary: ids in [0, input_dim)
  std::size_t output_dim = 0;  // each id's vector
  // Keras' default, "uniform": RandomUniform(-0.05, 0.05).
  Initializer embeddings_initializer = {.kind = Initializer::Kind::kRandomUniform, .a = -0.05f, .b = 0.05f};
};

class Embedding final : public Layer {
 public:
  explicit Embedding(const EmbeddingOptions& options) : opt_(options) {}

  const char* type_name() const override { return "Embedding"; }
  const char* name_prefix() const override { return "embedding"; }
  // InvalidArgument unless the input is a vector of ids [length] and both
  // dimensions are >= 1 (and the table within the limits).
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Bind(float* params, float* grads) override;
  void Initialize(Rng& rng) override;
  std::size_t num_params() const override { return opt_.input_dim * opt_.output_dim; }
  // InvalidArgument naming the first sample, position and value that is not a
  // whole number in [0, input_dim).
  Status CheckInput(const float* samples, std::size_t count) const override;
  // REQUIRES: CheckInput accepted `in`.
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  EmbeddingOptions opt_;
  std::size_t offset_ = 0;
  float* table_ = nullptr;
  float* grad_ = nullptr;
};

}  // namespace asyncps::models
