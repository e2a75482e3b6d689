#include "asyncps/models/dense.h"

#include <algorithm>
#include <cstring>

#include "dense_kernels.h"
#include "gemm.h"

namespace asyncps::models {

Dense::Dense(std::size_t units) : units_(units) {}

Result<Shape> Dense::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (input.rank != 1) {
    return Status::InvalidArgument(name + " (Dense): needs a vector input, got " +
                                   input.ToString() + "; add a Flatten before it");
  }
  if (units_ == 0) return Status::InvalidArgument(name + " (Dense): units must be >= 1");
  in_ = input;
  out_ = Shape::Vector(units_);
  name_ = name;
  kernel_offset_ = layout.Add(name + "/kernel", {input.channels, units_});
  bias_offset_ = layout.Add(name + "/bias", {units_});
  return out_;
}

void Dense::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  b_ = params + bias_offset_;
  dw_ = grads + kernel_offset_;
  db_ = grads + bias_offset_;
}

std::size_t Dense::num_params() const { return in_.channels * units_ + units_; }

void Dense::Initialize(Rng& rng) {
  GlorotUniform({w_, in_.channels * units_}, in_.channels, units_, rng);
  std::fill(b_, b_ + units_, 0.0f);
}

void Dense::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  const std::size_t n_in = in_.channels;
  for (std::size_t r = 0; r < batch; ++r) std::memcpy(out + r * units_, b_, units_ * sizeof(float));
  internal::Sgemm(false, false, batch, units_, n_in, 1.0f, in, n_in, w_, units_, 1.0f, out, units_);
}

void Dense::Backward(const float* in, const float* /*out*/, const float* dout, float* din,
                     std::size_t batch) {
  const std::size_t n_in = in_.channels;
  internal::Sgemm(true, false, n_in, units_, batch, 1.0f, in, n_in, dout, units_, 0.0f, dw_, units_);
  std::fill(db_, db_ + units_, 0.0f);
  for (std::size_t r = 0; r < batch; ++r) {
    for (std::size_t u = 0; u < units_; ++u) db_[u] += dout[r * units_ + u];
  }
  if (din != nullptr) {
    if (batch <= internal::kDenseSmallBatch) {
      internal::DenseInputGradSmall(dout, w_, batch, n_in, units_, din);
    } else {
      internal::Sgemm(false, true, batch, n_in, units_, 1.0f, dout, units_, w_, units_, 0.0f, din, n_in);
    }
  }
}

}  // namespace asyncps::models
