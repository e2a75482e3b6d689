#include "asyncps/models/relu.h"

#include "asyncps/models/tensor.h"

namespace asyncps::models {

Result<Shape> ReLU::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  in_ = out_ = input;
  name_ = name;
  return input;
}

void ReLU::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t n = batch * in_.size();
  auto y = Map(out, n);
  xt::noalias(y) = xt::maximum(Map(in, n), 0.0f);
}

void ReLU::Backward(const float* /*in*/, const float* out, const float* dout, float* din,
                    std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t n = batch * in_.size();
  auto dx = Map(din, n);
  xt::noalias(dx) = xt::where(Map(out, n) > 0.0f, Map(dout, n), 0.0f);
}

}  // namespace asyncps::models
