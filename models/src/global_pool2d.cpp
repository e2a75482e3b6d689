#include "asyncps/models/global_pool2d.h"

#include <algorithm>

namespace asyncps::models {

Result<Shape> GlobalPool2D::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  if (input.rank != (one_d_ ? 2 : 3)) {
    return Status::InvalidArgument(name + " (" + type_name() + "): needs " +
                                   (one_d_ ? "a sequence input (None, timesteps, features)" : "an image input") +
                                   ", got " + input.ToString());
  }
  in_ = input;
  out_ = !keepdims_ ? Shape::Vector(input.channels)
         : one_d_   ? Shape::Sequence(1, input.channels)
                    : Shape::Image(1, 1, input.channels);
  name_ = name;
  return out_;
}

void GlobalPool2D::Reserve(std::size_t max_batch) {
  if (kind_ == GlobalPoolKind::kMax) argmax_.resize(max_batch * in_.channels);
}

void GlobalPool2D::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t c = in_.channels, pixels = in_.height * in_.width;
  for (std::size_t n = 0; n < batch; ++n) {
    const float* x = in + n * pixels * c;
    float* y = out + n * c;
    if (kind_ == GlobalPoolKind::kAverage) {
      std::fill(y, y + c, 0.0f);
      for (std::size_t p = 0; p < pixels; ++p)
        for (std::size_t k = 0; k < c; ++k) y[k] += x[p * c + k];
      const float scale = 1.0f / static_cast<float>(pixels);
      for (std::size_t k = 0; k < c; ++k) y[k] *= scale;
    } else {
      std::size_t* at = argmax_.data() + n * c;
      std::copy(x, x + c, y);
      std::fill(at, at + c, 0);
      for (std::size_t p = 1; p < pixels; ++p)
        for (std::size_t k = 0; k < c; ++k)
          if (x[p * c + k] > y[k]) {
            y[k] = x[p * c + k];
            at[k] = p;
          }
    }
  }
}

void GlobalPool2D::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t c = in_.channels, pixels = in_.height * in_.width;
  for (std::size_t n = 0; n < batch; ++n) {
    float* dx = din + n * pixels * c;
    const float* dy = dout + n * c;
    if (kind_ == GlobalPoolKind::kAverage) {
      const float scale = 1.0f / static_cast<float>(pixels);
      for (std::size_t p = 0; p < pixels; ++p)
        for (std::size_t k = 0; k < c; ++k) dx[p * c + k] = dy[k] * scale;
    } else {
      std::fill(dx, dx + pixels * c, 0.0f);
      const std::size_t* at = argmax_.data() + n * c;
      for (std::size_t k = 0; k < c; ++k) dx[at[k] * c + k] = dy[k];
    }
  }
}

}  // namespace asyncps::models
