#include "asyncps/models/conv2d.h"

#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "im2col.h"

namespace asyncps::models {

namespace {
// Column workspace budget (floats): a few samples of conv2's columns fit in L2.
constexpr std::size_t kColsBudget = std::size_t{1} << 18;

internal::ConvGeometry Geometry(const Shape& in, const Shape& out, const Conv2DOptions& o,
                                std::size_t pad_top, std::size_t pad_left) {
  return {in.height, in.width, in.channels, out.height, out.width,
          o.kernel_height, o.kernel_width, pad_top, pad_left};
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
}  // namespace

Conv2D::Conv2D(const Conv2DOptions& options) : opt_(options) {}

Result<Shape> Conv2D::Build(const Shape& input, const std::string& name, ParameterLayout& layout) {
  if (input.rank != 3) {
    return Status::InvalidArgument(name + " (Conv2D): needs an image input (h, w, c), got " +
                                   input.ToString() + "; remove the Flatten before it");
  }
  if (opt_.filters == 0 || opt_.kernel_height == 0 || opt_.kernel_width == 0) {
    return Status::InvalidArgument(name + " (Conv2D): filters and kernel size must be >= 1");
  }
  Shape out = Shape::Image(input.height, input.width, opt_.filters);
  if (opt_.padding == Padding::kValid) {
    if (input.height < opt_.kernel_height || input.width < opt_.kernel_width) {
      return Status::InvalidArgument(name + " (Conv2D): input " + input.ToString() +
                                     " is smaller than the " + std::to_string(opt_.kernel_height) +
                                     "x" + std::to_string(opt_.kernel_width) +
                                     " kernel; use 'same' padding or a larger input");
    }
    out.height = input.height - opt_.kernel_height + 1;
    out.width = input.width - opt_.kernel_width + 1;
    pad_top_ = pad_left_ = 0;
  } else {
    pad_top_ = (opt_.kernel_height - 1) / 2;
    pad_left_ = (opt_.kernel_width - 1) / 2;
  }
  in_ = input;
  out_ = out;
  name_ = name;
  kernel_offset_ = layout.Add(name + "/kernel",
                              {opt_.kernel_height, opt_.kernel_width, input.channels, opt_.filters});
  bias_offset_ = layout.Add(name + "/bias", {opt_.filters});
  return out;
}

void Conv2D::Bind(float* params, float* grads) {
  w_ = params + kernel_offset_;
  b_ = params + bias_offset_;
  dw_ = grads + kernel_offset_;
  db_ = grads + bias_offset_;
}

std::size_t Conv2D::num_params() const {
  return opt_.kernel_height * opt_.kernel_width * in_.channels * opt_.filters + opt_.filters;
}

void Conv2D::Initialize(Rng& rng) {
  const std::size_t taps = opt_.kernel_height * opt_.kernel_width;
  GlorotUniform({w_, taps * in_.channels * opt_.filters}, taps * in_.channels, taps * opt_.filters,
                rng);
  std::fill(b_, b_ + opt_.filters, 0.0f);
}

void Conv2D::Reserve(std::size_t max_batch) {
  const std::size_t per_sample = out_.height * out_.width * opt_.kernel_height *
                                 opt_.kernel_width * in_.channels;
  chunk_ = std::clamp<std::size_t>(kColsBudget / std::max<std::size_t>(per_sample, 1), 1,
                                   std::max<std::size_t>(max_batch, 1));
  cols_.Reserve(chunk_ * per_sample);
}

void Conv2D::Forward(const float* in, float* out, std::size_t batch, bool /*training*/) {
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

void Conv2D::Backward(const float* in, const float* /*out*/, const float* dout, float* din,
                      std::size_t batch) {
  const auto g = Geometry(in_, out_, opt_, pad_top_, pad_left_);
  const std::size_t k = g.k(), p = g.out_pixels(), cout = opt_.filters;
  ColumnSums(dout, batch * p, cout, db_);
  bool first = true;
  for (std::size_t n0 = 0; n0 < batch; n0 += chunk_) {
    const std::size_t cs = std::min(chunk_, batch - n0);
    const float* d = dout + n0 * p * cout;
    internal::Im2Col(g, in + n0 * g.in_size(), cs, cols_.data());
    // dW (+)= cols^T x dout
    internal::Sgemm(true, false, k, cout, cs * p, 1.0f, cols_.data(), k, d, cout,
                    first ? 0.0f : 1.0f, dw_, cout);
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
