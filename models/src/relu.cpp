#include "asyncps/models/relu.h"

namespace asyncps::models {

Result<Shape> ReLU::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  in_ = out_ = input;
  name_ = name;
  return input;
}

void ReLU::Forward(const float* in, float* out, std::size_t batch, bool) {
  const std::size_t n = batch * in_.size();
  for (std::size_t i = 0; i < n; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void ReLU::Backward(const float* /*in*/, const float* out, const float* dout, float* din,
                    std::size_t batch) {
  if (din == nullptr) return;
  const std::size_t n = batch * in_.size();
  for (std::size_t i = 0; i < n; ++i) din[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

}  // namespace asyncps::models
