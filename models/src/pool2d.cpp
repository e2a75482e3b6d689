#include "asyncps/models/pool2d.h"

#include <algorithm>

#include "asyncps/models/limits.h"

namespace asyncps::models {

Result<Shape> Pool2D::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  const std::string what = name + " (" + type_name() + "): ";
  if (opt_.one_d && (input.rank != 2 || opt_.pool_height != 1 || opt_.stride_height > 1))
    return Status::InvalidArgument(what + "needs a sequence input (None, timesteps, features), got " +
                                   input.ToString());
  if (!opt_.one_d && input.rank != 3)
    return Status::InvalidArgument(what + "needs an image input, got " + input.ToString());
  if (opt_.stride_height == 0) opt_.stride_height = opt_.pool_height;
  if (opt_.stride_width == 0) opt_.stride_width = opt_.pool_width;
  if (opt_.pool_height == 0 || opt_.pool_width == 0) return Status::InvalidArgument(what + "pool size must be >= 1");
  // (WindowAt computes window edges as signed longs.)
  for (std::size_t v : {opt_.pool_height, opt_.pool_width, opt_.stride_height, opt_.stride_width})
    if (v > kMaxBufferElements)
      return Status::InvalidArgument(what + "pool size and strides must be at most " +
                                     std::to_string(kMaxBufferElements) + ", not " + std::to_string(v));
  const WindowExtent rows = SlidingWindow(input.height, opt_.pool_height, opt_.stride_height, opt_.padding);
  const WindowExtent cols = SlidingWindow(input.width, opt_.pool_width, opt_.stride_width, opt_.padding);
  if (rows.out == 0 || cols.out == 0) {
    return Status::InvalidArgument(what + "pool " + std::to_string(opt_.pool_height) + "x" +
                                   std::to_string(opt_.pool_width) + " does not fit input " + input.ToString() +
                                   "; use 'same' padding or a smaller pool");
  }
  pad_top_ = rows.pad_before;
  pad_left_ = cols.pad_before;
  in_ = input;
  out_ = opt_.one_d ? Shape::Sequence(cols.out, input.channels) : Shape::Image(rows.out, cols.out, input.channels);
  name_ = name;
  return out_;
}

Pool2D::Window Pool2D::WindowAt(std::size_t oh, std::size_t ow) const {
  const long top = static_cast<long>(oh * opt_.stride_height) - static_cast<long>(pad_top_);
  const long left = static_cast<long>(ow * opt_.stride_width) - static_cast<long>(pad_left_);
  const auto clip = [](long v, std::size_t hi) {
    return static_cast<std::size_t>(std::clamp<long>(v, 0, static_cast<long>(hi)));
  };
  return {clip(top, in_.height), clip(top + static_cast<long>(opt_.pool_height), in_.height), clip(left, in_.width),
          clip(left + static_cast<long>(opt_.pool_width), in_.width)};
}

}  // namespace asyncps::models
