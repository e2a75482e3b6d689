// GlobalPool2D: Keras' GlobalAveragePooling2D and GlobalMaxPooling2D: the mean
// or maximum of each channel over the whole image, [h, w, c] -> [c] (or
// [1, 1, c] with keepdims); with one_d, GlobalAveragePooling1D and
// GlobalMaxPooling1D over a sequence, [t, c] -> [c] (or [1, c]). The maximum's
// gradient goes to the first maximal element of each channel.
#pragma once

#include <cstddef>
#include <vector>

#include "asyncps/models/layer.h"

namespace asyncps::models {

enum class GlobalPoolKind { kAverage, kMax };

class GlobalPool2D final : public Layer {
 public:
  GlobalPool2D(GlobalPoolKind kind, bool keepdims, bool one_d = false)
      : kind_(kind), keepdims_(keepdims), one_d_(one_d) {}

  const char* type_name() const override {
    if (one_d_) return kind_ == GlobalPoolKind::kAverage ? "GlobalAveragePooling1D" : "GlobalMaxPooling1D";
    return kind_ == GlobalPoolKind::kAverage ? "GlobalAveragePooling2D" : "GlobalMaxPooling2D";
  }
  const char* name_prefix() const override {
    if (one_d_) return kind_ == GlobalPoolKind::kAverage ? "global_average_pooling1d" : "global_max_pooling1d";
    return kind_ == GlobalPoolKind::kAverage ? "global_average_pooling2d" : "global_max_pooling2d";
  }
  // InvalidArgument unless the input is an image (a sequence with one_d).
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Reserve(std::size_t max_batch) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  GlobalPoolKind kind_;
  bool keepdims_;
  bool one_d_;
  std::vector<std::size_t> argmax_;  // kMax: the pixel of each (sample, channel) maximum
};

}  // namespace asyncps::models
