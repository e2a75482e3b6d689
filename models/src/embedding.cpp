#include "asyncps/models/embedding.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "asyncps/models/limits.h"

namespace asyncps::models {

Result<Shape> Embedding::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  const std::string what = name + " (Embedding): ";
  if (input.rank != 1) {
    return Status::InvalidArgument(what + "needs a vector of token ids (None, length), got " + input.ToString());
  }
  if (opt_.input_dim == 0 || opt_.output_dim == 0)
    return Status::InvalidArgument(what + "input_dim and output_dim must be >= 1");
  if (opt_.output_dim > kMaxBufferElements / input.channels) {
    return Status::InvalidArgument(what + std::to_string(input.channels) + " ids of " +
                                   std::to_string(opt_.output_dim) + " floats are more than " +
                                   std::to_string(kMaxBufferElements) + " per sample; reduce output_dim");
  }
  Result<std::size_t> table = layout.TryAdd(name + "/embeddings", {opt_.input_dim, opt_.output_dim});
  if (!table.ok()) return Status::InvalidArgument(what + table.status().message() + "; reduce input_dim or output_dim");
  offset_ = table.value();
  in_ = input;
  out_ = Shape::Sequence(input.channels, opt_.output_dim);
  name_ = name;
  return out_;
}

void Embedding::Bind(float* params, float* grads) {
  table_ = params + offset_;
  grad_ = grads + offset_;
}

void Embedding::Initialize(Rng& rng) {
  models::Initialize(opt_.embeddings_initializer, {table_, opt_.input_dim * opt_.output_dim}, opt_.input_dim,
                     opt_.output_dim, rng);
}

Status Embedding::CheckInput(const float* samples, std::size_t count) const {
  const std::size_t length = in_.channels;
  for (std::size_t i = 0; i < count * length; ++i) {
    const float id = samples[i];
    if (!(id >= 0.0f && id < static_cast<float>(opt_.input_dim) && std::floor(id) == id)) {
      return Status::InvalidArgument(name_ + " (Embedding): sample " + std::to_string(i / length) + ", position " +
                                     std::to_string(i % length) + " holds " + std::to_string(id) +
                                     ", not a token id in [0, " + std::to_string(opt_.input_dim) +
                                     ") (input_dim); give the ids unscaled (--divisor 1, no --standardize)");
    }
  }
  return Status::OK();
}

namespace {

// The row of token id `v`; CheckInput has made it a whole number in [0, rows), and
// anything else still lands in the table.
std::size_t Row(float v, std::size_t rows) {
  return v >= 1.0f ? std::min(static_cast<std::size_t>(std::min(v, 4.0e9f)), rows - 1) : 0;
}

}  // namespace

void Embedding::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  const std::size_t d = opt_.output_dim;
  for (std::size_t i = 0; i < batch * in_.channels; ++i) {
    const std::size_t id = Row(in[i], opt_.input_dim);
    std::memcpy(out + i * d, table_ + id * d, d * sizeof(float));
  }
}

void Embedding::Backward(const float* in, const float* /*out*/, const float* dout, float* din, std::size_t batch) {
  const std::size_t d = opt_.output_dim;
  std::fill(grad_, grad_ + opt_.input_dim * d, 0.0f);
  for (std::size_t i = 0; i < batch * in_.channels; ++i) {
    const std::size_t id = Row(in[i], opt_.input_dim);
    float* g = grad_ + id * d;
    const float* dy = dout + i * d;
    for (std::size_t k = 0; k < d; ++k) g[k] += dy[k];
  }
  if (din != nullptr) std::fill(din, din + batch * in_.channels, 0.0f);  // ids have no gradient
}

}  // namespace asyncps::models
