#include "asyncps/models/relu.h"

#include "asyncps/core/dispatch.h"

namespace asyncps::models {

namespace {
// y = max(x, 0) over n floats (plain loops: vectorised for the CPU at run time).
ASYNCPS_HOT_KERNEL
void ReluForward(const float* __restrict x, float* __restrict y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dx = dy where y > 0, else 0.
ASYNCPS_HOT_KERNEL
void ReluBackward(const float* __restrict y, const float* __restrict dy, float* __restrict dx, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
}  // namespace

Result<Shape> ReLU::Build(const Shape& input, const std::string& name, ParameterLayout&) {
  in_ = out_ = input;
  name_ = name;
  return input;
}

void ReLU::Forward(const float* in, float* out, std::size_t batch, bool) { ReluForward(in, out, batch * in_.size()); }

void ReLU::Backward(const float* /*in*/, const float* out, const float* dout, float* din, std::size_t batch) {
  if (din == nullptr) return;
  ReluBackward(out, dout, din, batch * in_.size());
}

}  // namespace asyncps::models
