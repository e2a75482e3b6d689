#include "asyncps/models/zero_padding2d.h"

#include <algorithm>
#include <cstring>

#include "asyncps/models/limits.h"

namespace asyncps::models {

Result<Shape> ZeroPadding2D::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  if (input.rank != 3) {
    return Status::InvalidArgument(name + " (ZeroPadding2D): needs an image input, got " + input.ToString());
  }
  // Each of the four is at most kMaxBufferElements (the reader's bound), so the sums cannot wrap.
  in_ = input;
  out_ = Shape::Image(opt_.top + input.height + opt_.bottom, opt_.left + input.width + opt_.right, input.channels);
  name_ = name;
  return out_;
}

void ZeroPadding2D::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t c = in_.channels, row = in_.width * c;
  std::fill(out, out + batch * out_.size(), 0.0f);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t h = 0; h < in_.height; ++h)
      std::memcpy(out + n * out_.size() + ((opt_.top + h) * out_.width + opt_.left) * c, in + n * in_.size() + h * row,
                  row * sizeof(float));
}

void ZeroPadding2D::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t c = in_.channels, row = in_.width * c;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t h = 0; h < in_.height; ++h)
      std::memcpy(din + n * in_.size() + h * row,
                  dout + n * out_.size() + ((opt_.top + h) * out_.width + opt_.left) * c, row * sizeof(float));
}

}  // namespace asyncps::models
