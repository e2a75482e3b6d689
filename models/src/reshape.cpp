#include "asyncps/models/reshape.h"

#include <cstring>

namespace asyncps::models {

Result<Shape> Reshape::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  Shape target = target_;
  std::size_t* dims[3] = {&target.height, &target.width, &target.channels};
  for (std::size_t* d : dims) {
    if (*d != 0) continue;  // inferred: what the others leave (Keras' -1)
    *d = 1;
    const std::size_t rest = target.size();
    *d = input.size() % rest == 0 ? input.size() / rest : 0;
  }
  if (target.size() == 0 || target.size() != input.size()) {
    return Status::InvalidArgument(name + " (Reshape): target_shape " + target_.ToString() + " holds " +
                                   std::to_string(target.size()) + " elements, the input " + input.ToString() + " " +
                                   std::to_string(input.size()));
  }
  in_ = input;
  out_ = target;
  name_ = name;
  return out_;
}

void Reshape::Forward(const float* in, float* out, std::size_t batch, bool) {
  std::memcpy(out, in, batch * in_.size() * sizeof(float));
}

void Reshape::Backward(const float*, const float*, const float* dout, float* din, std::size_t batch) {
  if (din != nullptr) std::memcpy(din, dout, batch * in_.size() * sizeof(float));
}

}  // namespace asyncps::models
