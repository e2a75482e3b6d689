#include "asyncps/models/dense.h"

#include <algorithm>

#include "asyncps/models/limits.h"
#include "asyncps/models/tensor.h"
#include <xtensor-blas/xblas.hpp>  // after tensor.h: see there
#include "dense_kernels.h"
#include "gemm.h"

namespace asyncps::models {

Dense::Dense(std::size_t units, const DenseOptions& options) : units_(units), opt_(options) {}

Result<Shape> Dense::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (input.rank != 1) {
    return Status::InvalidArgument(name + " (Dense): needs a vector input, got " + input.ToString() +
                                   "; add a Flatten before it");
  }
  if (units_ == 0) return Status::InvalidArgument(name + " (Dense): units must be >= 1");
  // Every size is checked before it is used: huge units once aborted on bad_alloc.
  Result<std::size_t> kernel = layout.TryAdd(name + "/kernel", {input.channels, units_});
  if (!kernel.ok()) return Status::InvalidArgument(name + " (Dense): " + kernel.status().message() + "; reduce units");
  if (internal::DenseScratchFloats(input.channels, units_) > kMaxBufferElements) {
    return Status::InvalidArgument(name + " (Dense): units = " + std::to_string(units_) + " with " +
                                   std::to_string(input.channels) + " inputs needs a workspace of more than " +
                                   std::to_string(kMaxBufferElements) + " floats; reduce units");
  }
  std::size_t bias = 0;
  if (opt_.use_bias) {
    Result<std::size_t> b = layout.TryAdd(name + "/bias", {units_});
    if (!b.ok()) return Status::InvalidArgument(name + " (Dense): " + b.status().message());
    bias = b.value();
  } else {
    zeros_.assign(units_, 0.0f);
    unused_db_.assign(units_, 0.0f);
  }
  in_ = input;
  out_ = Shape::Vector(units_);
  name_ = name;
  kernel_offset_ = kernel.value();
  bias_offset_ = bias;
  return out_;
}

void Dense::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  dw_ = grads + kernel_offset_;
  b_ = opt_.use_bias ? params + bias_offset_ : zeros_.data();
  db_ = opt_.use_bias ? grads + bias_offset_ : unused_db_.data();
}

std::size_t Dense::num_params() const { return in_.channels * units_ + (opt_.use_bias ? units_ : 0); }

void Dense::Initialize(Rng& rng) {
  models::Initialize(opt_.kernel_initializer, {w_, in_.channels * units_}, in_.channels, units_, rng, /*stream=*/0);
  if (opt_.use_bias) models::Initialize(opt_.bias_initializer, {b_, units_}, in_.channels, units_, rng, /*stream=*/1);
}

// Every batch size may come (a partial last batch), so the scratch is sized whatever max_batch is.
void Dense::Reserve(std::size_t /*max_batch*/) { scratch_.resize(internal::DenseScratchFloats(in_.channels, units_)); }

// x [batch, in], kernel [in, units], bias [units], y [batch, units]. Small
// batches take dense_kernels.h; larger ones xt::blas::gemm on the adaptors (one
// cblas_sgemm, no copies of ours).
void Dense::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  const std::size_t n_in = in_.channels;
  if (batch <= internal::kDenseSmallBatch) {
    internal::DenseForwardSmall(in, w_, b_, batch, n_in, units_, scratch_.data(), out);
    return;
  }
  internal::EnsureBlasThreadsConfigured();
  auto y = Rows(out, batch, units_);
  xt::blas::gemm(Rows(in, batch, n_in), Map<2>(static_cast<const float*>(w_), {n_in, units_}), y);
  xt::noalias(y) += Map(static_cast<const float*>(b_), units_);
}

void Dense::Backward(const float* in, const float* /*out*/, const float* dout, float* din, std::size_t batch) {
  const std::size_t n_in = in_.channels;
  const auto dy = Rows(dout, batch, units_);
  auto db = Map(db_, units_);
  xt::noalias(db) = xt::sum(dy, {0});
  if (batch <= internal::kDenseSmallBatch) {
    internal::DenseKernelGradSmall(in, dout, batch, n_in, units_, dw_);
    if (din != nullptr) internal::DenseInputGradSmall(dout, w_, batch, n_in, units_, scratch_.data(), din);
    return;
  }
  internal::EnsureBlasThreadsConfigured();
  auto dw = Map<2>(dw_, {n_in, units_});
  xt::blas::gemm(Rows(in, batch, n_in), dy, dw, /*transpose_A=*/true);
  if (din != nullptr) {
    auto dx = Rows(din, batch, n_in);
    xt::blas::gemm(dy, Map<2>(static_cast<const float*>(w_), {n_in, units_}), dx, false, /*transpose_B=*/true);
  }
}

}  // namespace asyncps::models
