// Pool2D: what MaxPool2D and AvgPool2D share: the pool window, its strides and
// padding (Keras' pool_size, strides, padding), the output shape, and for every
// output pixel the input window clipped to the image.
#pragma once

#include <cstddef>

#include "asyncps/models/layer.h"
#include "asyncps/models/padding.h"

namespace asyncps::models {

struct PoolOptions {
  std::size_t pool_height = 2;
  std::size_t pool_width = 2;
  std::size_t stride_height = 0;  // 0: the pool height (Keras' strides=None)
  std::size_t stride_width = 0;   // 0: the pool width
  Padding padding = Padding::kValid;
  // Keras' MaxPooling1D / AveragePooling1D: a sequence (timesteps, features)
  // pooled as a one-row image. REQUIRES: pool_height == 1 and stride_height <= 1.
  bool one_d = false;
};

class Pool2D : public Layer {
 public:
  explicit Pool2D(const PoolOptions& options) : opt_(options) {}
  Result<Shape> Build(const Shape& input, const std::string& name, ParameterLayout& layout) override;

 protected:
  // The input rows [y0, y1) and columns [x0, x1) of output pixel (oh, ow); never empty.
  struct Window {
    std::size_t y0, y1, x0, x1;
  };
  Window WindowAt(std::size_t oh, std::size_t ow) const;

  PoolOptions opt_;  // strides resolved by Build
  std::size_t pad_top_ = 0, pad_left_ = 0;
};

}  // namespace asyncps::models
