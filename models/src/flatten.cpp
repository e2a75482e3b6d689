#include "asyncps/models/flatten.h"

#include <cstring>

namespace asyncps::models {

Result<Shape> Flatten::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  in_ = input;
  out_ = Shape::Vector(input.size());
  name_ = name;
  return out_;
}

void Flatten::Forward(const float* in, float* out, std::size_t batch, bool) {
  if (out != in) std::memcpy(out, in, batch * in_.size() * sizeof(float));
}

void Flatten::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din != nullptr && din != dout) std::memcpy(din, dout, batch * in_.size() * sizeof(float));
}

}  // namespace asyncps::models
