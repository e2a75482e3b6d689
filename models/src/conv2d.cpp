#include "asyncps/models/conv2d.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "conv2d_direct.h"
#include "gemm.h"
#include "im2col.h"
#include "winograd.h"
#include "asyncps/models/limits.h"

namespace asyncps::models {

namespace {
// Column workspace budget (floats): a few samples of conv2's columns fit in L2.
constexpr std::size_t kColsBudget = std::size_t{1} << 18;
// Winograd workspace budget (floats) for V or M of one block.
constexpr std::size_t kWinogradBudget = std::size_t{1} << 18;

internal::ConvGeometry Geometry(const Shape& in, const Shape& out, const Conv2DOptions& o, std::size_t pad_top,
                                std::size_t pad_left) {
  return {in.height,      in.width, in.channels, out.height,      out.width,     o.kernel_height,
          o.kernel_width, pad_top,  pad_left,    o.stride_height, o.stride_width};
}

// out[r, :] = bias for each of `rows` rows.
void FillBias(float* out, const float* bias, std::size_t rows, std::size_t cout) {
  for (std::size_t r = 0; r < rows; ++r) std::memcpy(out + r * cout, bias, cout * sizeof(float));
}

// db = column sums of d[rows, cout].
void ColumnSums(const float* d, std::size_t rows, std::size_t cout, float* db) {
  std::fill(db, db + cout, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = d + r * cout;
    for (std::size_t c = 0; c < cout; ++c) db[c] += row[c];
  }
}
internal::WinogradGeometry ForwardTiles(const Shape& in, const Shape& out, std::size_t pad_top, std::size_t pad_left) {
  return {in.height, in.width, in.channels, out.height, out.width, out.channels, pad_top, pad_left};
}

// The input gradient is a full correlation of dY with the flipped kernel.
internal::WinogradGeometry BackwardTiles(const Shape& in, const Shape& out, std::size_t pad_top, std::size_t pad_left) {
  return {out.height, out.width, out.channels, in.height, in.width, in.channels, 2 - pad_top, 2 - pad_left};
}
}  // namespace

Conv2D::Conv2D(const Conv2DOptions& options) : opt_(options) {}

Result<Shape> Conv2D::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (opt_.one_d && (input.rank != 2 || opt_.kernel_height != 1 || opt_.stride_height != 1)) {
    return Status::InvalidArgument(name + " (Conv1D): needs a sequence input (None, timesteps, features), got " +
                                   input.ToString());
  }
  if (!opt_.one_d && input.rank != 3) {
    return Status::InvalidArgument(name + " (Conv2D): needs an image input (h, w, c), got " + input.ToString() +
                                   "; remove the Flatten before it");
  }
  if (opt_.filters == 0 || opt_.kernel_height == 0 || opt_.kernel_width == 0) {
    return Status::InvalidArgument(name + " (" + type_name() + "): filters and kernel size must be >= 1");
  }
  if (opt_.stride_height == 0 || opt_.stride_width == 0) {
    return Status::InvalidArgument(name + " (" + type_name() + "): strides must be >= 1");
  }
  for (std::size_t v : {opt_.kernel_height, opt_.kernel_width, opt_.stride_height, opt_.stride_width})
    if (v > kMaxBufferElements)
      return Status::InvalidArgument(name + " (" + type_name() + "): kernel size and strides must be at most " +
                                     std::to_string(kMaxBufferElements) + ", not " + std::to_string(v));
  const WindowExtent rows = SlidingWindow(input.height, opt_.kernel_height, opt_.stride_height, opt_.padding);
  const WindowExtent cols = SlidingWindow(input.width, opt_.kernel_width, opt_.stride_width, opt_.padding);
  if (rows.out == 0 || cols.out == 0) {
    return Status::InvalidArgument(name + " (" + type_name() + "): input " + input.ToString() +
                                   " is smaller than the " + std::to_string(opt_.kernel_height) + "x" +
                                   std::to_string(opt_.kernel_width) + " kernel; use 'same' padding or a larger input");
  }
  const std::string what = name + " (" + type_name() + "): ";
  // Every size is checked before it is used: a kernel_size of [2^32, 2^32]
  // once wrapped to a 0-element kernel (and training wrote past the buffers).
  if (!BoundedProduct({rows.out, cols.out, opt_.filters}, kMaxBufferElements)) {
    return Status::InvalidArgument(what + "output (None, " + std::to_string(rows.out) + ", " +
                                   std::to_string(cols.out) + ", " + std::to_string(opt_.filters) +
                                   ") has more than the maximum of " + std::to_string(kMaxBufferElements) +
                                   " elements per sample; reduce filters or add strides");
  }
  const Shape out =
      opt_.one_d ? Shape::Sequence(cols.out, opt_.filters) : Shape::Image(rows.out, cols.out, opt_.filters);
  const bool stride1 = opt_.stride_height == 1 && opt_.stride_width == 1;
  const bool k3 =
      stride1 && opt_.kernel_height == 3 && opt_.kernel_width == 3 && input.channels <= 1024 && opt_.filters <= 1024;
  const bool winograd = k3 && (opt_.algorithm == ConvAlgorithm::kWinograd ||
                               (opt_.algorithm == ConvAlgorithm::kAuto && input.channels >= 8 && opt_.filters >= 8));
  // Auto: direct only where its loops are vectorised (filters a multiple of 8);
  // other filter counts run faster as im2col + SGEMM (LeNet's 6 filters: ~3x).
  const bool direct = stride1 && !winograd &&
                      (opt_.algorithm == ConvAlgorithm::kDirect ||
                       (opt_.algorithm == ConvAlgorithm::kAuto && input.channels <= 4 && opt_.filters % 8 == 0));
  Result<std::size_t> kernel =
      opt_.one_d
          ? layout.TryAdd(name + "/kernel", {opt_.kernel_width, input.channels, opt_.filters})
          : layout.TryAdd(name + "/kernel", {opt_.kernel_height, opt_.kernel_width, input.channels, opt_.filters});
  if (!kernel.ok())
    return Status::InvalidArgument(what + kernel.status().message() + "; reduce kernel_size or filters");
  // One sample's workspace (Reserve sizes a few samples' worth, at least one).
  std::optional<std::size_t> workspace = 0;
  if (winograd) {
    const std::size_t tiles = std::max(ForwardTiles(input, out, rows.pad_before, cols.pad_before).tiles(),
                                       BackwardTiles(input, out, rows.pad_before, cols.pad_before).tiles());
    workspace =
        BoundedProduct({internal::kWinogradPlanes, tiles, std::max(input.channels, opt_.filters)}, kMaxBufferElements);
  } else if (!direct) {
    workspace =
        BoundedProduct({rows.out, cols.out, opt_.kernel_height, opt_.kernel_width, input.channels}, kMaxBufferElements);
  }
  if (!workspace) {
    return Status::InvalidArgument(what + "its workspace for one sample (output " + out.ToString() + " x kernel " +
                                   std::to_string(opt_.kernel_height) + "x" + std::to_string(opt_.kernel_width) + "x" +
                                   std::to_string(input.channels) + ") has more than the maximum of " +
                                   std::to_string(kMaxBufferElements) + " elements; reduce kernel_size or add strides");
  }
  std::size_t bias = 0;
  if (opt_.use_bias) {
    Result<std::size_t> b = layout.TryAdd(name + "/bias", {opt_.filters});
    if (!b.ok()) return Status::InvalidArgument(what + b.status().message());
    bias = b.value();
  } else {
    zeros_ = AlignedBuffer(opt_.filters);
    std::fill(zeros_.data(), zeros_.data() + opt_.filters, 0.0f);
    unused_db_ = AlignedBuffer(opt_.filters);
  }
  pad_top_ = rows.pad_before;
  pad_left_ = cols.pad_before;
  in_ = input;
  out_ = out;
  name_ = name;
  winograd_ = winograd;
  direct_ = direct;
  kernel_offset_ = kernel.value();
  bias_offset_ = bias;
  return out;
}

void Conv2D::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  dw_ = grads + kernel_offset_;
  b_ = opt_.use_bias ? params + bias_offset_ : zeros_.data();
  db_ = opt_.use_bias ? grads + bias_offset_ : unused_db_.data();
}

std::size_t Conv2D::num_params() const {
  return opt_.kernel_height * opt_.kernel_width * in_.channels * opt_.filters + (opt_.use_bias ? opt_.filters : 0);
}

void Conv2D::Initialize(Rng& rng) {
  const std::size_t taps = opt_.kernel_height * opt_.kernel_width;
  const std::size_t fan_in = taps * in_.channels, fan_out = taps * opt_.filters;
  models::Initialize(opt_.kernel_initializer, {w_, fan_in * opt_.filters}, fan_in, fan_out, rng, /*stream=*/0);
  if (opt_.use_bias) models::Initialize(opt_.bias_initializer, {b_, opt_.filters}, fan_in, fan_out, rng, /*stream=*/1);
}

void Conv2D::Reserve(std::size_t max_batch) {
  if (winograd_) {
    const auto f = ForwardTiles(in_, out_, pad_top_, pad_left_);
    const auto b = BackwardTiles(in_, out_, pad_top_, pad_left_);
    const std::size_t c = in_.channels, k = opt_.filters, planes = internal::kWinogradPlanes;
    const std::size_t per_sample = planes * std::max(f.tiles(), b.tiles()) * std::max(c, k);
    chunk_ = std::clamp<std::size_t>(kWinogradBudget / per_sample, 1, std::max<std::size_t>(max_batch, 1));
    u_.Reserve(planes * c * k);
    u_flipped_.Reserve(planes * c * k);
    du_.Reserve(planes * c * k);
    v_.Reserve(chunk_ * per_sample);
    m_.Reserve(chunk_ * per_sample);
    return;
  }
  if (direct_) return;  // no workspace
  const std::size_t per_sample = out_.height * out_.width * opt_.kernel_height * opt_.kernel_width * in_.channels;
  chunk_ = std::clamp<std::size_t>(kColsBudget / std::max<std::size_t>(per_sample, 1), 1,
                                   std::max<std::size_t>(max_batch, 1));
  cols_.Reserve(chunk_ * per_sample);
}

void Conv2D::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
  if (winograd_) {
    ForwardWinograd(in, out, batch);
  } else if (direct_) {
    ForwardDirect(in, out, batch);
  } else {
    ForwardIm2col(in, out, batch);
  }
}

void Conv2D::Backward(const float* in, const float* /*out*/, const float* dout, float* din, std::size_t batch) {
  ColumnSums(dout, batch * out_.height * out_.width, opt_.filters, db_);
  if (winograd_) {
    BackwardWinograd(in, dout, din, batch);
  } else if (direct_) {
    BackwardDirect(in, dout, din, batch);
  } else {
    BackwardIm2col(in, dout, din, batch);
  }
}

// Direct convolution (conv2d_direct.h): no workspace.
void Conv2D::ForwardDirect(const float* in, float* out, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  internal::DirectConvForward(g, opt_.filters, in, batch, w_, b_, out);
}

void Conv2D::BackwardDirect(const float* in, const float* dout, float* din, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  internal::DirectConvKernelGrad(g, opt_.filters, in, dout, batch, dw_);
  if (din != nullptr) internal::DirectConvInputGrad(g, opt_.filters, dout, batch, w_, din);
}

void Conv2D::ForwardWinograd(const float* in, float* out, std::size_t batch) {
  const auto g = ForwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t c = in_.channels, k = opt_.filters, t = g.tiles();
  internal::WinogradKernel(w_, c, k, u_.data());
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * t;
    internal::WinogradInput(g, in + n0 * in_.size(), cs, v_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(false, false, rows, k, c, 1.0f, v_.data() + e * rows * c, c, u_.data() + e * c * k, k, 0.0f,
                      m_.data() + e * rows * k, k);
    }
    internal::WinogradOutput(g, m_.data(), cs, b_, out + n0 * out_.size());
  }
}

void Conv2D::BackwardWinograd(const float* in, const float* dout, float* din, std::size_t batch) {
  const auto g = ForwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t c = in_.channels, k = opt_.filters, t = g.tiles();
  // Kernel gradient: dU[e] = sum over tiles of V[e]^T (A dY A^T)[e], then G^T dU G.
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * t;
    internal::WinogradInput(g, in + n0 * in_.size(), cs, v_.data());
    internal::WinogradOutputGrad(g, dout + n0 * out_.size(), cs, m_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(true, false, c, k, rows, 1.0f, v_.data() + e * rows * c, c, m_.data() + e * rows * k, k,
                      n0 == 0 ? 0.0f : 1.0f, du_.data() + e * c * k, k);
    }
  }
  internal::WinogradKernelGrad(du_.data(), c, k, dw_);
  if (din == nullptr) return;
  // Input gradient: Winograd convolution of dY with the flipped kernel.
  const auto gb = BackwardTiles(in_, out_, pad_top_, pad_left_);
  const std::size_t tb = gb.tiles();
  internal::WinogradKernelFlipped(w_, c, k, u_flipped_.data());
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const std::size_t rows = cs * tb;
    internal::WinogradInput(gb, dout + n0 * out_.size(), cs, v_.data());
    for (std::size_t e = 0; e < internal::kWinogradPlanes; ++e) {
      internal::Sgemm(false, false, rows, c, k, 1.0f, v_.data() + e * rows * k, k, u_flipped_.data() + e * k * c, c,
                      0.0f, m_.data() + e * rows * c, c);
    }
    internal::WinogradOutput(gb, m_.data(), cs, nullptr, din + n0 * in_.size());
  }
}

void Conv2D::ForwardIm2col(const float* in, float* out, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  const std::size_t k = g.k(), p = g.out_pixels(), cout = opt_.filters;
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    internal::Im2Col(g, in + n0 * g.in_size(), cs, cols_.data());
    float* o = out + n0 * p * cout;
    FillBias(o, b_, cs * p, cout);
    internal::Sgemm(false, false, cs * p, cout, k, 1.0f, cols_.data(), k, w_, cout, 1.0f, o, cout);
  }
}

void Conv2D::BackwardIm2col(const float* in, const float* dout, float* din, std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  const std::size_t k = g.k(), p = g.out_pixels(), cout = opt_.filters;
  bool first = true;
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const float* d = dout + n0 * p * cout;
    internal::Im2Col(g, in + n0 * g.in_size(), cs, cols_.data());
    // dW (+)= cols^T x dout
    internal::Sgemm(true, false, k, cout, cs * p, 1.0f, cols_.data(), k, d, cout, first ? 0.0f : 1.0f, dw_, cout);
    first = false;
    if (din != nullptr) {
      // dcols = dout x W^T, reusing the column workspace, then scattered back.
      internal::Sgemm(false, true, cs * p, k, cout, 1.0f, d, cout, w_, cout, 0.0f, cols_.data(), k);
      float* di = din + n0 * g.in_size();
      std::memset(di, 0, cs * g.in_size() * sizeof(float));
      internal::Col2ImAdd(g, cols_.data(), cs, di);
    }
  }
}

}  // namespace asyncps::models
