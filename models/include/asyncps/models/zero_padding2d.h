// ZeroPadding2D: Keras' layer adding rows and columns of zeros around an image,
// [h, w, c] -> [top + h + bottom, left + w + right, c].
#pragma once

#include <cstddef>

#include "asyncps/models/layer.h"

namespace asyncps::models {

struct ZeroPaddingOptions {
  std::size_t top = 1, bottom = 1, left = 1, right = 1;  // Keras' default padding=(1, 1)
};

class ZeroPadding2D final : public Layer {
 public:
  explicit ZeroPadding2D(const ZeroPaddingOptions& options) : opt_(options) {}

  const char* type_name() const override { return "ZeroPadding2D"; }
  const char* name_prefix() const override { return "zero_padding2d"; }
  // InvalidArgument unless the input is an image; the output's size is checked by Sequential.
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;
  void Forward(const float* in, float* out, std::size_t batch, bool training) override;
  void Backward(const float* in, const float* out, const float* dout, float* din, std::size_t batch) override;

 private:
  ZeroPaddingOptions opt_;
};

}  // namespace asyncps::models
